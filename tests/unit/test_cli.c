/*
 * test_cli.c - argument parsing: command words, global options anywhere,
 * option values, suggestions, help forms and usage errors.
 */
#include "unit.h"

#include "cli/cli.h"

/* Parse a NULL-terminated word list. */
static int parse(cli_args *a, cs_err *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	const char *w;

	argv[argc++] = "coldseq";
	va_start(ap, err);
	while ((w = va_arg(ap, const char *)) != NULL && argc < 31)
		argv[argc++] = (char *)w;
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, a, err);
}

static void group_command_and_args(void **state)
{
	cli_args a;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(
	    parse(&a, &err, "config", "set", "inbox.daily_cap", "40", NULL), 0);
	assert_int_equal(a.action, CLI_RUN);
	assert_string_equal(a.cmd->group, "config");
	assert_string_equal(a.cmd->name, "set");
	assert_int_equal(a.npos, 2);
	assert_string_equal(a.pos[1], "40");
	cli_args_free(&a);
}

static void globals_anywhere(void **state)
{
	cli_args a;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(parse(&a, &err, "--data-dir", "/d1", "config", "list",
	                       "--json", "-v", "-v", NULL),
	                 0);
	assert_string_equal(a.data_dir, "/d1");
	assert_true(a.json);
	assert_int_equal(a.verbose, 2);
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "config", "--data-dir=/d2", "get",
	                       "log.level", NULL),
	                 0);
	assert_string_equal(a.data_dir, "/d2");
	assert_string_equal(a.pos[0], "log.level");
	cli_args_free(&a);
	/* "--" makes the rest positional, even what looks like an option */
	assert_int_equal(
	    parse(&a, &err, "config", "set", "log.level", "--", "--json", NULL),
	    0);
	assert_false(a.json);
	assert_string_equal(a.pos[1], "--json");
	cli_args_free(&a);
}

static void unknown_command_suggests(void **state)
{
	cli_args a;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(parse(&a, &err, "inti", NULL), CS_EUSAGE);
	assert_non_null(strstr(err.msg, "Did you mean 'init'?"));
	assert_non_null(strstr(err.msg, "--help"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "frobnicate", NULL), CS_EUSAGE);
	assert_null(strstr(err.msg, "Did you mean"));
	assert_non_null(strstr(err.msg, "'coldseq --help'"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "confg", "list", NULL), CS_EUSAGE);
	assert_non_null(strstr(err.msg, "'config'"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "config", "lsit", NULL), CS_EUSAGE);
	assert_non_null(strstr(err.msg, "Did you mean 'list'?"));
	assert_non_null(strstr(err.msg, "coldseq config --help"));
	cli_args_free(&a);
}

static void option_errors(void **state)
{
	cli_args a;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(parse(&a, &err, "config", "list", "--jsno", NULL),
	                 CS_EUSAGE);
	assert_non_null(strstr(err.msg, "Did you mean '--json'?"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "init", "--data-dir", NULL),
	                 CS_EUSAGE);
	assert_non_null(strstr(err.msg, "needs a value"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "init", "--json=yes", NULL),
	                 CS_EUSAGE);
	assert_non_null(strstr(err.msg, "takes no value"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "config", "set", "k", NULL),
	                 CS_EUSAGE);
	assert_non_null(strstr(err.msg, "KEY VALUE"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "init", "extra", NULL), CS_EUSAGE);
	assert_non_null(strstr(err.msg, "unexpected argument 'extra'"));
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "config", NULL), CS_EUSAGE);
	assert_non_null(strstr(err.msg, "needs a command"));
	cli_args_free(&a);
}

static void help_forms(void **state)
{
	cli_args a;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(parse(&a, &err, "--help", NULL), 0);
	assert_int_equal(a.action, CLI_HELP);
	assert_null(a.cmd);
	assert_null(a.group);
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, NULL), 0);
	assert_int_equal(a.action, CLI_HELP);
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "help", "config", NULL), 0);
	assert_int_equal(a.action, CLI_HELP);
	assert_string_equal(a.group->name, "config");
	assert_null(a.cmd);
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "help", "config", "set", NULL), 0);
	assert_string_equal(a.cmd->name, "set");
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "config", "--help", NULL), 0);
	assert_int_equal(a.action, CLI_HELP);
	assert_string_equal(a.group->name, "config");
	cli_args_free(&a);
	/* --help wins over missing arguments */
	assert_int_equal(parse(&a, &err, "config", "set", "-h", NULL), 0);
	assert_int_equal(a.action, CLI_HELP);
	assert_string_equal(a.cmd->name, "set");
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "--version", NULL), 0);
	assert_int_equal(a.action, CLI_VERSION);
	cli_args_free(&a);
	assert_int_equal(parse(&a, &err, "help", "nosuch", NULL), CS_EUSAGE);
	cli_args_free(&a);
}

static void every_command_has_help(void **state)
{
	const cli_cmd *c;
	const cli_group *g;
	int n = 0;

	(void)state;
	for (c = cli_commands(); c->name; c++) {
		cs_buf b = CS_BUF_INIT;
		int nopts = 0;

		assert_non_null(c->summary);
		assert_non_null(c->help);
		assert_non_null(strstr(c->help, "Example"));
		while (c->opts && c->opts[nopts].name)
			nopts++;
		assert_true(nopts < CLI_MAX_OPTS);
		cli_help_command(c, &b);
		assert_non_null(strstr(cs_buf_str(&b), "Usage: coldseq"));
		cs_buf_free(&b);
		n++;
	}
	assert_true(n >= 7);
	for (g = cli_groups(); g->name; g++) {
		bool has = false;

		for (c = cli_commands(); c->name; c++)
			if (c->group && strcmp(c->group, g->name) == 0)
				has = true;
		assert_true(has); /* no empty groups */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(group_command_and_args),
	    cmocka_unit_test(globals_anywhere),
	    cmocka_unit_test(unknown_command_suggests),
	    cmocka_unit_test(option_errors),
	    cmocka_unit_test(help_forms),
	    cmocka_unit_test(every_command_has_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

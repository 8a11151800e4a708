/*
 * run.c - cli_main: parse, set up logging, open what the command needs,
 * run it, and map the outcome to the exit status.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include "sequencer/seq.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_buf(FILE *f, cs_buf *b)
{
	fwrite(cs_buf_str(b), 1, b->len, f);
	cs_buf_free(b);
}

/* Whether a command may change what the service works from. */
static bool changes_data(const cli_cmd *c)
{
	static const char *const readonly[] = {
	    "list",    "show",     "preview", "explain",   "status",
	    "stats",   "test",     "run",     "uncertain", "get",
	    "replies", "classify", NULL};
	int i;

	for (i = 0; readonly[i]; i++)
		if (strcmp(c->name, readonly[i]) == 0)
			return false;
	return true;
}

/* --json on the command line, for a line the parser refused. */
static bool wants_json(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return true;
	return false;
}

int cli_main(int argc, char **argv)
{
	cli_args a;
	cli_ctx ctx;
	cs_err err = CS_ERR_INIT;
	cs_log_level level = CS_LOG_INFO;
	int rc;

	umask(077); /* every file coldseq makes is private */
	/* a peer that closes its socket must give EPIPE, not kill us */
	signal(SIGPIPE, SIG_IGN);
	if (cli_parse(argc, argv, &a, &err) != 0) {
		cli_error("%s", err.msg);
		if (wants_json(argc, argv))
			cli_json_finish(stdout, CLI_EXIT_USAGE);
		cli_args_free(&a);
		return CLI_EXIT_USAGE;
	}
	if (a.action == CLI_VERSION) {
		printf("coldseq %s\n", CS_VERSION);
		cli_args_free(&a);
		return CLI_EXIT_OK;
	}
	if (a.action == CLI_HELP) {
		cs_buf b = CS_BUF_INIT;

		if (a.cmd)
			cli_help_command(a.cmd, &b);
		else if (a.group)
			cli_help_group(a.group, &b);
		else
			cli_help_overview(&b);
		print_buf(stdout, &b);
		cli_args_free(&a);
		return CLI_EXIT_OK;
	}
	if (a.quiet)
		level = CS_LOG_ERROR;
	else if (a.verbose)
		level = CS_LOG_DEBUG;
	if (cs_log_init(level, a.log_file, &err) != 0) {
		cli_error("%s", err.msg);
		if (a.json)
			cli_json_finish(stdout, CLI_EXIT_FAIL);
		cli_args_free(&a);
		return CLI_EXIT_FAIL;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.args = &a;
	ctx.out = stdout;
	if (a.json && !cli_cmd_has_json(a.cmd)) {
		cli_error("'coldseq %s%s%s' has no --json output; run it "
		          "without --json",
		          a.cmd->group ? a.cmd->group : "",
		          a.cmd->group ? " " : "", a.cmd->name);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (cli_ctx_open(&ctx, a.cmd->needs, &err) != 0) {
		cli_error("%s", err.msg);
		rc = CLI_EXIT_FAIL;
		goto out;
	}
	if (ctx.db && !a.quiet && !a.verbose) {
		cs_buf v = CS_BUF_INIT;
		cs_log_level cfg;

		if (db_config_get(ctx.db, "log.level", &v, NULL, NULL) == 0 &&
		    cs_log_level_parse(cs_buf_str(&v), &cfg) == 0)
			cs_log_set_level(cfg);
		cs_buf_free(&v);
	}
	rc = a.cmd->run(&ctx, &a);
	if (rc == CLI_EXIT_OK && ctx.db && changes_data(a.cmd)) {
		/* a running service picks the change up now (no polling) */
		bool running;

		seq_service_nudge(ctx.data_dir, &running, NULL);
	}
out:
	if (a.json)
		cli_json_finish(stdout, rc);
	fflush(stdout);
	cli_ctx_close(&ctx);
	cs_log_close();
	cli_args_free(&a);
	return rc;
}

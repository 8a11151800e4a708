/*
 * parse.c - argv to cli_args: command words, options, suggestions.
 *
 * Rules: global options may stand anywhere; command options only after the
 * command words; "--opt=value" and "--opt value" both work; "--" ends
 * options.  Any unknown word or option is a usage error that names it and
 * suggests the nearest known one (edit distance <= 2) and --help.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum {
	G_DATA_DIR,
	G_KEY_FILE,
	G_LOG_FILE,
	G_JSON,
	G_QUIET,
	G_VERBOSE,
	G_HELP,
	G_VERSION
};

static const cli_opt globals[] = {
    {"data-dir", 0, "DIR", false, "data directory"},
    {"key-file", 0, "FILE", false, "vault key file"},
    {"log-file", 0, "FILE", false, "append log lines to FILE"},
    {"json", 0, NULL, false, "machine-readable output on stdout"},
    {"quiet", 'q', NULL, true, "only errors"},
    {"verbose", 'v', NULL, true, "more detail (debug log lines)"},
    {"help", 'h', NULL, true, "show help"},
    {"version", 0, NULL, true, "show the version"},
    {NULL, 0, NULL, false, NULL},
};

/* Find the option named by arg ("--name", "--name=v", "-x"). */
static const cli_opt *find_opt(const cli_opt *opts, const char *arg,
                               size_t *idx)
{
	size_t i;

	if (opts == NULL)
		return NULL;
	for (i = 0; i < CLI_MAX_OPTS && opts[i].name; i++) {
		if (arg[1] != '-') {
			if (arg[2] == '\0' && opts[i].shortc &&
			    arg[1] == opts[i].shortc) {
				*idx = i;
				return &opts[i];
			}
			continue;
		}
		size_t n = strlen(opts[i].name);

		if (strncmp(arg + 2, opts[i].name, n) == 0 &&
		    (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
			*idx = i;
			return &opts[i];
		}
	}
	return NULL;
}

static const char *nearest_opt(const cli_opt *opts, const char *name, int *best)
{
	const char *hit = NULL;
	size_t i;

	for (i = 0; opts && opts[i].name; i++) {
		int d = cs_edit_distance(name, opts[i].name, 2);

		if (d < *best) {
			*best = d;
			hit = opts[i].name;
		}
	}
	return hit;
}

static void push(const char ***list, int *n, const char *v)
{
	*list = cs_xrealloc(*list, (size_t)(*n + 1) * sizeof **list);
	(*list)[(*n)++] = v;
}

static int set_global(cli_args *a, size_t gi, const char *val)
{
	switch (gi) {
	case G_DATA_DIR: a->data_dir = val; break;
	case G_KEY_FILE: a->key_file = val; break;
	case G_LOG_FILE: a->log_file = val; break;
	case G_JSON: a->json = true; break;
	case G_QUIET: a->quiet++; break;
	case G_VERBOSE: a->verbose++; break;
	case G_HELP: a->action = CLI_HELP; break;
	case G_VERSION: a->action = CLI_VERSION; break;
	default: break;
	}
	return 0;
}

static const cli_group *find_group(const char *w)
{
	const cli_group *g;

	for (g = cli_groups(); g->name; g++)
		if (strcmp(g->name, w) == 0)
			return g;
	return NULL;
}

static const cli_cmd *find_cmd(const char *group, const char *w)
{
	const cli_cmd *c;

	for (c = cli_commands(); c->name; c++) {
		if ((group == NULL) != (c->group == NULL))
			continue;
		if (group && strcmp(group, c->group) != 0)
			continue;
		if (strcmp(c->name, w) == 0)
			return c;
	}
	return NULL;
}

/* An unknown command word: name it, suggest the nearest, point to help. */
static int unknown_word(const char *w, const char *group, cs_err *err)
{
	const cli_group *g;
	const cli_cmd *c;
	const char *hit = NULL;
	char where[80], see[80];
	int best = 3, d;

	if (group == NULL)
		for (g = cli_groups(); g->name; g++)
			if ((d = cs_edit_distance(w, g->name, 2)) < best) {
				best = d;
				hit = g->name;
			}
	for (c = cli_commands(); c->name; c++) {
		if ((group == NULL) != (c->group == NULL))
			continue;
		if (group && strcmp(group, c->group) != 0)
			continue;
		if ((d = cs_edit_distance(w, c->name, 2)) < best) {
			best = d;
			hit = c->name;
		}
	}
	if (group == NULL && cs_edit_distance(w, "help", 2) < best)
		hit = "help";
	if (group) {
		snprintf(where, sizeof where, "a command of 'coldseq %s'",
		         group);
		snprintf(see, sizeof see, "coldseq %s", group);
	} else {
		snprintf(where, sizeof where, "a coldseq command");
		snprintf(see, sizeof see, "coldseq");
	}
	if (hit)
		return cs_err_set(err, CS_EUSAGE,
		                  "'%s' is not %s. Did you mean '%s'?\nSee '%s "
		                  "--help'.",
		                  w, where, hit, see);
	return cs_err_set(err, CS_EUSAGE, "'%s' is not %s.\nSee '%s --help'.",
	                  w, where, see);
}

static int unknown_opt(const char *arg, const cli_cmd *cmd, cs_err *err)
{
	char name[64], hint[80];
	const char *hit = NULL, *g;
	int best = 3;
	size_t n;

	if (arg[1] == '-') {
		n = strcspn(arg + 2, "=");
		if (n >= sizeof name)
			n = sizeof name - 1;
		memcpy(name, arg + 2, n);
		name[n] = '\0';
		hit = nearest_opt(cmd ? cmd->opts : NULL, name, &best);
		g = nearest_opt(globals, name, &best);
		if (g)
			hit = g;
	}
	if (cmd && cmd->group)
		snprintf(hint, sizeof hint, "coldseq %s %s", cmd->group,
		         cmd->name);
	else if (cmd)
		snprintf(hint, sizeof hint, "coldseq %s", cmd->name);
	else
		snprintf(hint, sizeof hint, "coldseq");
	if (hit)
		return cs_err_set(
		    err, CS_EUSAGE,
		    "unknown option '%s'. Did you mean '--%s'?\nSee "
		    "'%s --help'.",
		    arg, hit, hint);
	return cs_err_set(err, CS_EUSAGE,
	                  "unknown option '%s'.\nSee '%s --help'.", arg, hint);
}

static int take_value(int argc, char **argv, int *i, const char *arg,
                      const cli_opt *o, const char **val, cs_err *err)
{
	const char *eq = strchr(arg, '=');

	if (o->metavar == NULL) {
		if (arg[1] == '-' && eq)
			return cs_err_set(err, CS_EUSAGE,
			                  "option '--%s' takes no value.\nSee "
			                  "'coldseq --help'.",
			                  o->name);
		*val = NULL;
		return 0;
	}
	if (arg[1] == '-' && eq) {
		*val = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc)
		return cs_err_set(
		    err, CS_EUSAGE,
		    "option '%s' needs a value (%s).\nSee 'coldseq "
		    "--help'.",
		    arg, o->metavar);
	*val = argv[++*i];
	return 0;
}

int cli_parse(int argc, char **argv, cli_args *a, cs_err *err)
{
	const char *help_topic[2] = {NULL, NULL};
	int nwords = 0, i, rc;
	bool dashdash = false, is_help_cmd = false;

	memset(a, 0, sizeof *a);
	a->action = CLI_RUN;
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const cli_opt *o;
		const char *val = NULL;
		size_t idx = 0;

		if (!dashdash && strcmp(arg, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (!dashdash && arg[0] == '-' && arg[1] != '\0') {
			o = find_opt(globals, arg, &idx);
			if (o) {
				if ((rc = take_value(argc, argv, &i, arg, o,
				                     &val, err)) != 0)
					return rc;
				if (idx == G_DATA_DIR && val && *val == '\0')
					return cs_err_set(
					    err, CS_EUSAGE,
					    "option '--data-dir' needs a "
					    "directory, not an empty "
					    "value.\nSee 'coldseq --help'.");
				set_global(a, idx, val);
				continue;
			}
			o = a->cmd ? find_opt(a->cmd->opts, arg, &idx) : NULL;
			if (o == NULL)
				return unknown_opt(arg, a->cmd, err);
			if ((rc = take_value(argc, argv, &i, arg, o, &val,
			                     err)) != 0)
				return rc;
			if (a->count[idx] && !o->repeat)
				return cs_err_set(
				    err, CS_EUSAGE,
				    "option '--%s' given twice.\nSee "
				    "'coldseq --help'.",
				    o->name);
			a->count[idx]++;
			if (val) {
				int n = a->count[idx] - 1;

				push(&a->vals[idx], &n, val);
			}
			continue;
		}
		/* a word */
		if (is_help_cmd) {
			if (nwords >= 2)
				return cs_err_set(
				    err, CS_EUSAGE,
				    "help takes at most a group and a "
				    "command.\nSee 'coldseq --help'.");
			help_topic[nwords++] = arg;
			continue;
		}
		if (a->cmd) {
			push(&a->pos, &a->npos, arg);
			continue;
		}
		nwords++;
		if (nwords == 1) {
			if (strcmp(arg, "help") == 0) {
				is_help_cmd = true;
				nwords = 0;
				continue;
			}
			a->group = find_group(arg);
			if (a->group)
				continue;
			a->cmd = find_cmd(NULL, arg);
			if (a->cmd == NULL)
				return unknown_word(arg, NULL, err);
		} else {
			a->cmd = find_cmd(a->group->name, arg);
			if (a->cmd == NULL)
				return unknown_word(arg, a->group->name, err);
		}
	}
	if (is_help_cmd) {
		a->action = CLI_HELP;
		if (help_topic[0]) {
			a->group = find_group(help_topic[0]);
			if (a->group == NULL) {
				a->cmd = find_cmd(NULL, help_topic[0]);
				if (a->cmd == NULL)
					return unknown_word(help_topic[0], NULL,
					                    err);
				if (help_topic[1])
					return cs_err_set(
					    err, CS_EUSAGE,
					    "'%s' has no commands.\nSee "
					    "'coldseq --help'.",
					    help_topic[0]);
			} else if (help_topic[1]) {
				a->cmd =
				    find_cmd(a->group->name, help_topic[1]);
				if (a->cmd == NULL)
					return unknown_word(
					    help_topic[1], a->group->name, err);
			}
		}
		return 0;
	}
	if (a->action != CLI_RUN)
		return 0;
	if (a->cmd == NULL) {
		if (a->group)
			return cs_err_set(err, CS_EUSAGE,
			                  "'coldseq %s' needs a command.\nSee "
			                  "'coldseq %s --help'.",
			                  a->group->name, a->group->name);
		a->action = CLI_HELP; /* bare `coldseq` */
		return 0;
	}
	if (a->npos < a->cmd->min_args ||
	    (a->cmd->max_args >= 0 && a->npos > a->cmd->max_args)) {
		char name[80];

		snprintf(name, sizeof name, "%s%s%s",
		         a->cmd->group ? a->cmd->group : "",
		         a->cmd->group ? " " : "", a->cmd->name);
		if (a->npos < a->cmd->min_args)
			return cs_err_set(
			    err, CS_EUSAGE,
			    "'coldseq %s' needs %s.\nUsage: coldseq %s "
			    "%s\nSee 'coldseq %s --help'.",
			    name, a->cmd->args_usage, name, a->cmd->args_usage,
			    name);
		return cs_err_set(
		    err, CS_EUSAGE,
		    "'coldseq %s' got an unexpected argument '%s'.\n"
		    "Usage: coldseq %s %s\nSee 'coldseq %s --help'.",
		    name, a->pos[a->cmd->max_args], name,
		    a->cmd->args_usage ? a->cmd->args_usage : "", name);
	}
	return 0;
}

void cli_args_free(cli_args *a)
{
	int i;

	free(a->pos);
	for (i = 0; i < CLI_MAX_OPTS; i++)
		free(a->vals[i]);
	memset(a, 0, sizeof *a);
}

static int opt_index(const cli_args *a, const char *name)
{
	int i;

	for (i = 0; a->cmd && a->cmd->opts && a->cmd->opts[i].name; i++)
		if (strcmp(a->cmd->opts[i].name, name) == 0)
			return i;
	cs_fatal("command has no option --%s", name);
}

const char *cli_opt_value(const cli_args *a, const char *name)
{
	int i = opt_index(a, name);

	return a->count[i] ? a->vals[i][a->count[i] - 1] : NULL;
}

bool cli_opt_flag(const cli_args *a, const char *name)
{
	return a->count[opt_index(a, name)] > 0;
}

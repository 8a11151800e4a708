/*
 * help.c - help text for the overview, a group and a command, built from
 * the command table so it cannot drift from what the parser accepts.
 */
#include "cli.h"
#include "cli_int.h"

#include <string.h>

/* The marker every command with a --json shape has in its help text: the
 * shape is documented where the parser's user reads it, and a command
 * added without one refuses --json instead of printing text. */
#define JSON_MARK "--json prints"

bool cli_cmd_has_json(const cli_cmd *c)
{
	return c->help && strstr(c->help, JSON_MARK) != NULL;
}

static void opt_line(cs_buf *out, const cli_opt *o)
{
	char left[64];

	if (o->shortc)
		snprintf(left, sizeof left, "-%c, --%s%s%s", o->shortc, o->name,
		         o->metavar ? " " : "", o->metavar ? o->metavar : "");
	else
		snprintf(left, sizeof left, "    --%s%s%s", o->name,
		         o->metavar ? " " : "", o->metavar ? o->metavar : "");
	cs_buf_printf(out, "  %-26s %s\n", left, o->help);
}

static void global_opts(cs_buf *out)
{
	static const cli_opt g[] = {
	    {"data-dir", 0, "DIR", false,
	     "data directory (else $COLDSEQ_HOME, $XDG_DATA_HOME/coldseq, "
	     "~/.local/share/coldseq)"},
	    {"key-file", 0, "FILE", false,
	     "vault key file (else $COLDSEQ_KEY_FILE, else the one set at "
	     "init)"},
	    {"json", 0, NULL, false,
	     "exactly one JSON document on stdout (the command's help says "
	     "its shape); on failure {\"error\", \"exit\"} and exit 1 or 2"},
	    {"log-file", 0, "FILE", false, "append log lines to FILE"},
	    {"quiet", 'q', NULL, false, "log errors only"},
	    {"verbose", 'v', NULL, false, "log debug detail"},
	    {"help", 'h', NULL, false, "show help"},
	    {"version", 0, NULL, false, "show the version"},
	    {NULL, 0, NULL, false, NULL},
	};
	const cli_opt *o;

	cs_buf_puts(out, "\nGlobal options (anywhere on the line):\n");
	for (o = g; o->name; o++)
		opt_line(out, o);
}

void cli_help_overview(cs_buf *out)
{
	const cli_group *g;
	const cli_cmd *c;

	cs_buf_puts(
	    out, "coldseq " CS_VERSION " - self-hosted cold-email sequencer\n"
	         "\n"
	         "Usage: coldseq [global options] ACTION [options] [args]\n"
	         "       coldseq [global options] GROUP COMMAND [options] "
	         "[args]\n"
	         "\nActions:\n");
	for (c = cli_commands(); c->name; c++)
		if (c->group == NULL)
			cs_buf_printf(out, "  %-14s %s\n", c->name, c->summary);
	cs_buf_printf(out, "  %-14s %s\n", "help",
	              "show help for a group or "
	              "command");
	cs_buf_puts(out, "\nGroups:\n");
	for (g = cli_groups(); g->name; g++)
		cs_buf_printf(out, "  %-14s %s\n", g->name, g->summary);
	global_opts(out);
	cs_buf_puts(out,
	            "\nRun 'coldseq help GROUP' or 'coldseq GROUP COMMAND "
	            "--help' for details.\n"
	            "Exit status: 0 success, 1 the operation failed, 2 usage "
	            "error.\n"
	            "With --json, stdout holds exactly one JSON document: the "
	            "result, or on failure\n{\"error\": \"...\", \"exit\": "
	            "1|2} (the error is also on stderr).\n");
}

void cli_help_group(const cli_group *g, cs_buf *out)
{
	const cli_cmd *c;

	cs_buf_printf(out,
	              "coldseq %s - %s\n\nUsage: coldseq %s COMMAND "
	              "[options] [args]\n\nCommands:\n",
	              g->name, g->summary, g->name);
	for (c = cli_commands(); c->name; c++)
		if (c->group && strcmp(c->group, g->name) == 0)
			cs_buf_printf(out, "  %-10s %-18s %s\n", c->name,
			              c->args_usage ? c->args_usage : "",
			              c->summary);
	cs_buf_printf(out, "\nRun 'coldseq %s COMMAND --help' for details.\n",
	              g->name);
}

void cli_help_command(const cli_cmd *c, cs_buf *out)
{
	const cli_opt *o;

	cs_buf_printf(out, "Usage: coldseq %s%s%s%s%s%s\n\n%s\n",
	              c->group ? c->group : "", c->group ? " " : "", c->name,
	              c->opts ? " [options]" : "", c->args_usage ? " " : "",
	              c->args_usage ? c->args_usage : "", c->summary);
	if (c->help)
		cs_buf_printf(out, "\n%s\n", c->help);
	if (!cli_cmd_has_json(c))
		cs_buf_puts(out, "\nNo --json output: with --json it prints "
		                 "{\"error\", \"exit\"} and exits 2.\n");
	if (c->opts) {
		cs_buf_puts(out, "\nOptions:\n");
		for (o = c->opts; o->name; o++)
			opt_line(out, o);
	}
	global_opts(out);
}

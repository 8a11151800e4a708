/*
 * cli.h - command-line parsing, the command table and the shared context
 * of coldseq's commands.
 *
 * Shape: `coldseq [global options] GROUP COMMAND [options] [args]` for the
 * object groups, `coldseq ACTION [options] [args]` for single-word actions.
 * Global options are accepted before or after the command words.
 *
 * Exit status: 0 success, 1 the operation failed, 2 usage error.
 */
#ifndef COLDSEQ_CLI_H
#define COLDSEQ_CLI_H

#include <stdio.h>

#include "core/core.h"
#include "db/db.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

#define CLI_MAX_OPTS 32

typedef struct cli_opt {
	const char *name;    /* long name without "--" */
	char shortc;         /* 0 when none */
	const char *metavar; /* NULL for a flag, else the value's name */
	bool repeat;         /* may be given more than once */
	const char *help;
} cli_opt;

typedef struct cli_ctx cli_ctx;
typedef struct cli_args cli_args;

enum {
	CLI_NEEDS_NOTHING = 0, /* offline: no data dir */
	CLI_NEEDS_DB = 1,      /* opens the database (run `init` first) */
	CLI_NEEDS_VAULT = 3,   /* the database and the vault key */
};

typedef struct cli_cmd {
	const char *group; /* NULL: a single-word action */
	const char *name;
	const char *args_usage; /* e.g. "KEY VALUE" */
	const char *summary;    /* one line, for listings */
	const char *help; /* more text: behaviour, --json shape, example */
	int min_args, max_args; /* positional; max -1 = any */
	int needs;
	const cli_opt *opts; /* terminated by a NULL name; may be NULL */
	int (*run)(cli_ctx *ctx, const cli_args *a);
} cli_cmd;

typedef struct cli_group {
	const char *name;
	const char *summary;
} cli_group;

/* What the parser found.  Strings point into argv (not copied). */
typedef enum cli_action {
	CLI_RUN,
	CLI_HELP, /* help for cmd, or for group, or the overview */
	CLI_VERSION,
} cli_action;

struct cli_args {
	cli_action action;
	const cli_cmd *cmd;     /* set for CLI_RUN, and for command help */
	const cli_group *group; /* set for group help */
	const char **pos;       /* positional arguments */
	int npos;
	/* per entry of cmd->opts: how often given and the values */
	int count[CLI_MAX_OPTS];
	const char **vals[CLI_MAX_OPTS];
	/* global options */
	const char *data_dir, *key_file, *log_file;
	bool json;
	int verbose, quiet;
};

/* The command and group tables (commands.c), NULL-name terminated. */
const cli_cmd *cli_commands(void);
const cli_group *cli_groups(void);

/* Parse argv (argv[0] is the program name).  On a usage error returns
 * CS_EUSAGE with a message that suggests the near miss and --help.
 * Free with cli_args_free in all cases. */
int cli_parse(int argc, char **argv, cli_args *out, cs_err *err);
void cli_args_free(cli_args *a);

/* Option value helpers for a parsed command. */
const char *cli_opt_value(const cli_args *a, const char *name);
bool cli_opt_flag(const cli_args *a, const char *name);

/* Help text (help.c) into out. */
void cli_help_overview(cs_buf *out);
void cli_help_group(const cli_group *g, cs_buf *out);
void cli_help_command(const cli_cmd *c, cs_buf *out);

/* ---- the context a command runs in (ctx.c) ---------------------------- */

struct cli_ctx {
	const cli_args *args;
	char *data_dir;  /* resolved */
	char *db_path;   /* data_dir/coldseq.db */
	char *key_path;  /* resolved when the vault is loaded */
	db *db;          /* open when cmd->needs & CLI_NEEDS_DB */
	cs_vault *vault; /* loaded when cmd->needs == CLI_NEEDS_VAULT */
	FILE *out;       /* stdout */
};

/* Resolve the data directory: --data-dir, $COLDSEQ_HOME,
 * $XDG_DATA_HOME/coldseq, ~/.local/share/coldseq.  Caller frees. */
char *cli_default_data_dir(const char *flag, cs_err *err);
/* The vault key path: --key-file, $COLDSEQ_KEY_FILE, the path recorded at
 * init, DATA_DIR/vault.key.  Caller frees. */
char *cli_key_path(cli_ctx *ctx, bool *recorded);
/* Open what cmd needs; fills err with an actionable sentence. */
int cli_ctx_open(cli_ctx *ctx, int needs, cs_err *err);
void cli_ctx_close(cli_ctx *ctx);
/* Close ctx's database and vault, keeping its paths (before a fork: a
 * SQLite connection must not cross one). */
void cli_ctx_drop(cli_ctx *ctx);
/* Open ctx's database and vault again (after cli_ctx_open with
 * CLI_NEEDS_VAULT) for a caller that now holds the data directory's lock:
 * the key is read under it, so no rekey can replace it meanwhile. */
int cli_ctx_reopen_locked(cli_ctx *ctx, cs_err *err);

/* Vault helpers (vault_check.c): check or write the key check value. */
int cli_vault_check(db *d, cs_vault *v, const char *key_path, cs_err *err);
int cli_vault_write_check(db *d, cs_vault *v, cs_err *err);
/* Load the key at key_path and check it; finishes or cleans up after an
 * interrupted `vault rekey` (KEY.new beside KEY) when no service or rekey
 * holds the data directory's lock (d's directory), else leaves the files
 * and uses whichever key opens d. */
int cli_vault_load_checked(db *d, const char *key_path, cs_vault **out,
                           cs_err *err);
/* The same, for a caller that holds the data directory's lock
 * exclusively (seq_lock_take): it finishes or cleans up at once. */
int cli_vault_load_locked(db *d, const char *key_path, cs_vault **out,
                          cs_err *err);

/* Print a JSON document (a cJSON *, passed as void * to keep cJSON out of
 * this header) on stdout, redacted, and free it. */
void cli_print_json(cli_ctx *ctx, void *cjson);

/* Run argv; returns the exit status.  main() is only this. */
int cli_main(int argc, char **argv);

#endif

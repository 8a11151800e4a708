/*
 * cli_int.h - declarations shared by the files of cli/ only.
 */
#ifndef COLDSEQ_CLI_INT_H
#define COLDSEQ_CLI_INT_H

#include "cli.h"

/* Per-file command tables, NULL-name terminated. */
extern const cli_cmd cli_cmds_init[];
extern const cli_cmd cli_cmds_config[];
extern const cli_cmd cli_cmds_vault[];
extern const cli_cmd cli_cmds_inbox[];
extern const cli_cmd cli_cmds_inbox_import[];
extern const cli_cmd cli_cmds_inbox_test[];
extern const cli_cmd cli_cmds_connect[];
extern const cli_cmd cli_cmds_watch[];
extern const cli_cmd cli_cmds_send[];
extern const cli_cmd cli_cmds_classify[];
extern const cli_cmd cli_cmds_contacts[];
extern const cli_cmd cli_cmds_contacts_import[];
extern const cli_cmd cli_cmds_template[];
extern const cli_cmd cli_cmds_campaign[];
extern const cli_cmd cli_cmds_run[];
extern const cli_cmd cli_cmds_status[];
extern const cli_cmd cli_cmds_warmup[];

/* Inbox settings shared by inbox add/set/import (inbox_fields.c). field is
 * the option name without "--" (also the CSV column name). */
int cli_inbox_field(db_inbox *in, const char *field, const char *value,
                    cs_err *err);
/* The provider's servers (google, microsoft) where none are set. */
void cli_inbox_preset(db_inbox *in);
/* Defaults (TLS mode from the port, UTC, ...) and required fields. */
int cli_inbox_finish(db_inbox *in, cs_err *err);
bool cli_valid_email(const char *addr);
/* One line from stdin (caller wipes and frees); NULL with err if empty. */
char *cli_read_secret_stdin(cs_err *err);
void cli_uuid_v4(char out[37]);

/* Print "coldseq: msg" on stderr (redacted, one line per line of msg). */
void cli_error(const char *fmt, ...) CS_PRINTF(1, 2);

#endif

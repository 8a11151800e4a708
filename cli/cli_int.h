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

/* Print "coldseq: msg" on stderr (redacted, one line per line of msg). */
void cli_error(const char *fmt, ...) CS_PRINTF(1, 2);

#endif

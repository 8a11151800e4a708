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
extern const cli_cmd cli_cmds_campaign_explain[];
extern const cli_cmd cli_cmds_run[];
extern const cli_cmd cli_cmds_status[];
extern const cli_cmd cli_cmds_doctor[];
extern const cli_cmd cli_cmds_tenant[];
extern const cli_cmd cli_cmds_stats[];
extern const cli_cmd cli_cmds_warmup[];
extern const cli_cmd cli_cmds_domain[];
extern const cli_cmd cli_cmds_dns[];
extern const cli_cmd cli_cmds_dns_spf[];

/* Inbox settings shared by inbox add/set/import (inbox_fields.c). field is
 * the option name without "--" (also the CSV column name). */
int cli_inbox_field(db_inbox *in, const char *field, const char *value,
                    cs_err *err);
/* The provider's servers (google, microsoft) where none are set. */
void cli_inbox_preset(db_inbox *in);
/* Defaults (TLS mode from the port, UTC, ...) and required fields. */
int cli_inbox_finish(db_inbox *in, cs_err *err);
/* The warning for a Microsoft inbox on password authentication (issue
 * 21), or NULL: shown by inbox add/set/show and status. */
const char *cli_basic_auth_warning(const db_inbox *in);
bool cli_valid_email(const char *addr);
/* An inbox name or tenant key: 1-64 letters, digits or . _ - @ +, not
 * starting with '-'. */
bool cli_valid_key(const char *s);
/* One line from stdin (caller wipes and frees); NULL with err if empty. */
char *cli_read_secret_stdin(cs_err *err);
void cli_uuid_v4(char out[37]);

/* OAuth2 token health of an inbox (token_health.c): when it was last
 * refreshed, how old the refresh token is, and a warning when it has not
 * been used for long enough that the provider may let it expire
 * (Microsoft: 90 days without use; Google: 6 months, and 7 days for an
 * app in "Testing").  Never a token. */
typedef struct cli_token_health {
	bool oauth;
	int64_t refreshed_at, expires_at, used_at, issued_at, connected_at;
	long refresh_age_days, idle_days;
	char warning[200];
} cli_token_health;

void cli_token_health_get(cli_ctx *ctx, const db_inbox *in,
                          cli_token_health *h);
/* A cJSON object (as void *, like cli_print_json). */
void *cli_token_health_json(const cli_token_health *h);
/* Add key: the string v (made valid UTF-8: bytes that are not become
 * U+FFFD), or null when v is NULL, to a cJSON object. */
void cli_json_str(void *obj, const char *key, const char *v);
/* Add key: ISO 8601 of t, or null when t <= 0, to a cJSON object. */
void cli_json_time(void *obj, const char *key, int64_t t);

/* The pauses and slow-downs in force of domain (NULL: every domain;
 * cmd_domain.c): each a JSON object added to json_arr (a cJSON array),
 * or, when json_arr is NULL, two lines of text on ctx->out, each starting
 * with indent: the domain, mode, provider, until, inbox, code and the
 * provider's words, then the remedy; title (may be NULL) printed first
 * when there is one. */
int cli_domain_pauses_show(cli_ctx *ctx, const char *domain, void *json_arr,
                           const char *title, const char *indent, cs_err *err);
/* Provider limits (cmd_status.c, cmd_tenant.c): an inbox's limits in
 * force with their counts (seq_limits_get) as a cJSON array (void *) of
 * {name, window_s, scope, used, max, frees_at}, or as text ("messages_24h
 * 3/500 (24-hour), ...; frees ..." in zone tz) into b; a tenant's shared
 * external counter now. */
void *cli_limits_json(const void *limits);
void cli_limits_text(const void *limits, const char *tz, int64_t now,
                     cs_buf *b);
int cli_tenant_counter(cli_ctx *ctx, const db_tenant *t, int64_t now,
                       long long *used, long long *max, int64_t *frees_at,
                       cs_err *err);

/* Text tables (table.c).  The width a terminal gives UTF-8 text s:
 * East Asian wide characters 2 columns, combining marks 0. */
size_t cli_text_width(const char *s);
/* Print s (NULL: nothing) and pad it with spaces to width display
 * columns, as printf's "%-*s" would if it counted columns, not bytes;
 * wider text is printed whole. */
void cli_cell(FILE *out, const char *s, int width);

/* Print "coldseq: msg" on stderr (redacted, one line per line of msg). */
void cli_error(const char *fmt, ...) CS_PRINTF(1, 2);
/* s as text for a terminal: control bytes and bytes that are no valid
 * UTF-8 shown as \xNN, C1 controls as \u00NN, at most 300 bytes (then
 * "..."); b is cleared first and holds the result. */
const char *cli_text(cs_buf *b, const char *s);
/* campaign start's warnings (campaign_doctor.c): on stderr, and into
 * warns (a cJSON array, may be NULL) as {inbox, doctor, failing,
 * checked_at, message}, for the inboxes of c whose doctor verdict fails
 * or that were never checked. */
void cli_campaign_doctor_warnings(cli_ctx *ctx, const db_campaign *c,
                                  void *warns);

/* --json's rule: stdout carries exactly one JSON document, also on
 * failure.  At the end of a --json run: when the command failed (status
 * non-zero) without printing a document, print {"error": the sentences it
 * gave cli_error, "exit": status} on out. */
void cli_json_finish(FILE *out, int status);
/* Whether c has a --json shape: its help says what "--json prints".  A
 * command without one refuses --json (a usage error). */
bool cli_cmd_has_json(const cli_cmd *c);

/* ---- contacts import's rejects file (contacts_rejects.c) -------------- */

/* The rows contacts import did not store, with line and reason, as CSV:
 * written to tmp, renamed to path by cli_rejects_keep, removed by
 * cli_rejects_free when not kept. */
typedef struct cli_rejects {
	char *path, *tmp; /* owned */
	char **header;    /* the header row as read (owned) */
	size_t nheader;
	FILE *f; /* NULL until the first row is rejected */
} cli_rejects;

/* path: --rejects, or NULL for the default beside input (FILE.rejects.csv;
 * stdin.rejects.csv or NAME.rejects.csv in the current directory for
 * standard input, a pipe or a device).  Opens nothing yet. */
void cli_rejects_init(cli_rejects *r, const char *path, const char *input);
/* Keep a copy of the header row, the rejects file's own header. */
void cli_rejects_header(cli_rejects *r, const cs_csv_row *row);
/* Append row (orig[i], when set, instead of its trimmed field i), its
 * line and reason; the file is created on the first call. */
int cli_rejects_add(cli_rejects *r, const cs_csv_row *row, char *const *orig,
                    const char *reason, cs_err *err);
/* CS_EIO when what was written did not reach the file. */
int cli_rejects_flush(cli_rejects *r, cs_err *err);
/* Close the file and rename it into place (a failure is printed). */
void cli_rejects_keep(cli_rejects *r);
void cli_rejects_free(cli_rejects *r);

/* ---- contacts import's checks (contacts_check.c) ----------------------- */

/* The built-in contact fields, in column-mapping order. */
enum {
	CLI_F_EMAIL,
	CLI_F_FIRST,
	CLI_F_LAST,
	CLI_F_COMPANY,
	CLI_F_TITLE,
	CLI_F_WEBSITE,
	CLI_F_TZ,
	CLI_F_NBUILTIN
};
extern const char *const cli_contact_fields[CLI_F_NBUILTIN];

/* One pass over s: false (and *bad, the offset of the first bad byte)
 * unless valid UTF-8; *len gets its length, *brk whether it holds CR or
 * LF. */
bool cli_scan_text(const char *s, size_t *len, bool *brk, size_t *bad);
/* Every field of row r checked as the message builder would (field[i]:
 * the column's built-in index, -1 custom, -2 ignored; names[i] its header
 * text): 0, or non-zero with "PATH:LINE: column N: reason" in reason. */
int cli_contact_row_check(const char *path, const cs_csv_row *r,
                          const int *field, char *const *names,
                          const char *email, const char *first,
                          const char *last, char *reason, size_t cap);

#endif

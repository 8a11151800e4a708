/*
 * core.h - coldseq's base layer: allocation, strings, errors, logging,
 * secrets, clock and the credential vault.
 *
 * Everything above (db/, templates/, smtp/, imap/, sequencer/, cli/) builds
 * on these types.  Nothing here touches the network or the database.
 *
 * Ownership: a function that returns a pointer to new memory says so
 * ("caller frees"); everything else borrows.  Allocation failure never
 * returns: the cs_x* wrappers abort with a message in one place.
 */
#ifndef COLDSEQ_CORE_H
#define COLDSEQ_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CS_VERSION "0.1.0"

#if defined(__GNUC__)
#define CS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CS_NORETURN     __attribute__((noreturn))
#else
#define CS_PRINTF(f, a)
#define CS_NORETURN
#endif

/* ---- allocation (xmalloc.c) ------------------------------------------ */

/* Each aborts through cs_fatal() when memory runs out; none returns NULL. */
void *cs_xmalloc(size_t n);
void *cs_xcalloc(size_t nmemb, size_t size);
void *cs_xrealloc(void *p, size_t n);
char *cs_xstrdup(const char *s);
char *cs_xstrndup(const char *s, size_t n);
/* printf into new memory; caller frees. */
char *cs_xasprintf(const char *fmt, ...) CS_PRINTF(1, 2);

/* For broken local invariants and start-up environment only, never for
 * anything a user's file or a remote server did (STYLE.md practice 4). */
CS_NORETURN void cs_fatal(const char *fmt, ...) CS_PRINTF(1, 2);

/* The test build is the AddressSanitizer build every test runs. */
#if defined(__SANITIZE_ADDRESS__)
#define CS_TEST_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CS_TEST_BUILD 1
#endif
#endif

/* A check of coldseq's own state tables (a transition, a counter that
 * must balance): false is a bug in coldseq, never something a user or a
 * server did.  The test build stops there (assert); the release build
 * only evaluates it, so the caller logs the bug and refuses the step (a
 * checked error) instead of stopping a service over it. */
#ifdef CS_TEST_BUILD
#include <assert.h>
#define CS_BUG_CHECK(cond) assert(cond)
#else
#define CS_BUG_CHECK(cond) ((void)(cond))
#endif

/* ---- growable buffer (buf.c) ----------------------------------------- */

/*
 * cs_buf holds len bytes at data, followed by a NUL that is not counted, so
 * data is always a valid C string when the content has no NUL of its own.
 * Realloc rule: when an append needs more than cap, cap becomes the larger
 * of twice the old cap and what is needed (at least 64).  data may move on
 * any append; never keep a pointer into it across one.
 * A zeroed cs_buf (CS_BUF_INIT) is an empty buffer with no memory.
 */
typedef struct cs_buf {
	char *data;
	size_t len;
	size_t cap;
} cs_buf;

#define CS_BUF_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void cs_buf_reserve(cs_buf *b, size_t extra);
void cs_buf_append(cs_buf *b, const void *p, size_t n);
void cs_buf_puts(cs_buf *b, const char *s);
void cs_buf_putc(cs_buf *b, char c);
void cs_buf_printf(cs_buf *b, const char *fmt, ...) CS_PRINTF(2, 3);
void cs_buf_vprintf(cs_buf *b, const char *fmt, va_list ap) CS_PRINTF(2, 0);
/* Keep the memory, drop the content. */
void cs_buf_clear(cs_buf *b);
/* Cut to n bytes (n <= len). */
void cs_buf_truncate(cs_buf *b, size_t n);
/* Always returns a NUL-terminated string ("" for an empty buffer). */
const char *cs_buf_str(const cs_buf *b);
/* Hand the memory to the caller (caller frees) and reset b. */
char *cs_buf_detach(cs_buf *b, size_t *len);
/* Zero the content (for secrets), then release it. */
void cs_buf_wipe(cs_buf *b);
void cs_buf_free(cs_buf *b);

/* ---- errors (err.c) -------------------------------------------------- */

/* Error codes; functions return 0 on success or the negative code. */
enum {
	CS_OK = 0,
	CS_EINVAL = -1, /* bad input: a user's file, argument or value */
	CS_EIO = -2,    /* local file system or OS call failed */
	CS_ENOTFOUND = -3,
	CS_EEXIST = -4,
	CS_ECRYPTO = -5,  /* authentication of a secret failed, wrong key */
	CS_EDB = -6,      /* the database refused or failed */
	CS_EVERSION = -7, /* data written by a newer coldseq */
	CS_EUSAGE = -8,   /* command-line usage error (exit status 2) */
	CS_ENET = -9,
	CS_ETEMP = -10,     /* temporary: try again later */
	CS_ECONFLICT = -11, /* a state changed under us (checked transition) */
	CS_EAUTH = -12,     /* authorization refused for good (an OAuth2
	                       grant revoked or expired): only the user can
	                       renew it */
	CS_EREFUSED = -13,  /* the server refused the credentials at login
	                       (a wrong password, an access token it does
	                       not accept); not a network failure */
};

/*
 * A caller-provided error: a code and one human sentence that says what
 * failed and why, naming the file, line and field where there is one.
 * Functions that fail fill it; a NULL cs_err * is allowed and ignored.
 * The message passes through secret redaction when it is set.
 */
typedef struct cs_err {
	int code;
	char msg[512];
} cs_err;

#define CS_ERR_INIT                                                            \
	{                                                                      \
		0,                                                             \
		{                                                              \
			0                                                      \
		}                                                              \
	}

/* Set err (if not NULL) and return code, for "return cs_err_set(...)". */
int cs_err_set(cs_err *err, int code, const char *fmt, ...) CS_PRINTF(3, 4);
/* Put "prefix: " in front of the existing message; returns err->code. */
int cs_err_prefix(cs_err *err, const char *fmt, ...) CS_PRINTF(2, 3);
void cs_err_clear(cs_err *err);
/* Short name of a code ("invalid input", ...). */
const char *cs_err_name(int code);

/* ---- secrets and redaction (secret.c) -------------------------------- */

/*
 * A secret (password, token, key) lives in a cs_secret.  While it exists its
 * value is registered process-wide: every log line, error message and JSON
 * document that coldseq writes passes through cs_redact(), which replaces any
 * registered value with "[redacted]".  So a secret formatted by mistake still
 * never reaches output.  Values shorter than CS_SECRET_MIN_REDACT bytes are
 * not registered (they would mask ordinary text) but are still wiped.
 * Thread safe.
 */
#define CS_SECRET_MIN_REDACT 4

typedef struct cs_secret cs_secret;

/* Copy n bytes into a new secret; caller frees with cs_secret_free. */
cs_secret *cs_secret_new(const void *p, size_t n);
const char *cs_secret_value(const cs_secret *s); /* NUL-terminated */
size_t cs_secret_len(const cs_secret *s);
/* Register an extra derived form (e.g. a base64 AUTH string) of the secret. */
void cs_secret_add_form(cs_secret *s, const char *form, size_t n);
/* Unregister, wipe and free; NULL is allowed. */
void cs_secret_free(cs_secret *s);

/* Replace every registered secret in s (len n) into out. */
void cs_redact(const char *s, size_t n, cs_buf *out);
/* In place on a NUL-terminated string that may only shrink. */
void cs_redact_inplace(char *s);
/* Wipe memory the compiler may not optimise away. */
void cs_memwipe(void *p, size_t n);

/* ---- logging (log.c) ------------------------------------------------- */

typedef enum cs_log_level {
	CS_LOG_ERROR = 0,
	CS_LOG_WARN = 1,
	CS_LOG_INFO = 2,
	CS_LOG_DEBUG = 3,
} cs_log_level;

/*
 * Configure once at start-up, before threads.  file may be NULL (stderr).
 * When writing to stderr and JOURNAL_STREAM is set (journald), lines carry
 * "<N>" syslog priority prefixes and no timestamp; otherwise each line
 * starts with an ISO-8601 UTC timestamp and the level.
 * Returns 0, or CS_EIO with err set when the file cannot be opened.
 */
int cs_log_init(cs_log_level level, const char *file, cs_err *err);
void cs_log_set_level(cs_log_level level);
cs_log_level cs_log_get_level(void);
/* Parse "error|warn|info|debug"; returns 0 or CS_EINVAL. */
int cs_log_level_parse(const char *s, cs_log_level *out);
void cs_log_close(void);
/* Each call writes one line, redacted, with embedded newlines escaped. */
void cs_log(cs_log_level level, const char *fmt, ...) CS_PRINTF(2, 3);
/* Append s[0..n) with control bytes made visible: \xNN (and \n, \r;
 * a tab becomes a space), or, with keep_lines, newlines and tabs kept
 * as they are (a message meant for a terminal).  The one way text from
 * outside reaches a log line or a terminal. */
void cs_escape_ctl(const char *s, size_t n, bool keep_lines, cs_buf *out);
#define cs_log_error(...) cs_log(CS_LOG_ERROR, __VA_ARGS__)
#define cs_log_warn(...)  cs_log(CS_LOG_WARN, __VA_ARGS__)
#define cs_log_info(...)  cs_log(CS_LOG_INFO, __VA_ARGS__)
#define cs_log_debug(...) cs_log(CS_LOG_DEBUG, __VA_ARGS__)

/* ---- clock (clock.c) ------------------------------------------------- */

/*
 * The one source of "now" for scheduling.  Times are milliseconds since the
 * Unix epoch, UTC.  A real clock reads CLOCK_REALTIME.  A simulated clock
 * starts at a chosen instant and runs `speed` times faster than real time
 * (speed 0 = frozen: it moves only by cs_clock_advance).  Thread safe.
 */
typedef struct cs_clock cs_clock;

cs_clock *cs_clock_new_real(void);
cs_clock *cs_clock_new_sim(int64_t start_ms, double speed);
void cs_clock_free(cs_clock *c);
int64_t cs_clock_now(cs_clock *c);
bool cs_clock_is_sim(const cs_clock *c);
/* Simulated clocks only: jump forward by delta_ms (>= 0); else CS_EINVAL. */
int cs_clock_advance(cs_clock *c, int64_t delta_ms);
/* Simulated clocks only: jump to t if it is later than now. */
int cs_clock_advance_to(cs_clock *c, int64_t t_ms);
/* Monotonic milliseconds for timeouts (never simulated). */
int64_t cs_mono_ms(void);
/* Format t as "2026-11-26T06:30:00.123Z" into out (>= 25 bytes). */
void cs_time_iso8601(int64_t t_ms, char *out, size_t outlen);
/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day
 * 1-31; negative before 1970).  Pure arithmetic, no time zone. */
int64_t cs_days_from_civil(int64_t y, int m, int d);
/* Parse an ISO 8601 instant: "YYYY-MM-DDTHH:MM[:SS[.fff]](Z|+HH:MM|-HH:MM)"
 * or a date "YYYY-MM-DD" (midnight UTC). Returns 0 or CS_EINVAL. */
int cs_time_parse_iso8601(const char *s, int64_t *out_ms, cs_err *err);

/* ---- time zones (tz.c) ---------------------------------------------- */

/* Civil (wall-clock) time in a zone. */
typedef struct cs_civil {
	int year, month, day; /* month 1-12 */
	int hour, minute, second;
	int wday;       /* 0 = Sunday */
	int offset_min; /* UTC offset in effect, DST included */
} cs_civil;

/* True when tz is an IANA zone name ICU knows ("Europe/Berlin", "UTC"). */
bool cs_tz_valid(const char *tz);
/* Civil time of instant t_ms in zone tz. */
int cs_tz_civil(const char *tz, int64_t t_ms, cs_civil *out, cs_err *err);
/* "YYYY-MM-DD" of instant t_ms in zone tz (the inbox's local day). */
int cs_tz_day(const char *tz, int64_t t_ms, char out[11], cs_err *err);
/* The instant of a wall-clock time in tz (month 1-12).  A time that does
 * not exist (a spring-forward gap) moves forward past the gap; one that
 * occurs twice (fall back) is the first.  Out-of-range days roll over. */
int cs_tz_make(const char *tz, int year, int month, int day, int hour,
               int minute, int64_t *out_ms, cs_err *err);
/* t plus `days` calendar days in tz, keeping the wall-clock time (so
 * across a DST change it is 23 or 25 hours per day). */
int cs_tz_add_days(const char *tz, int64_t t_ms, int days, int64_t *out_ms,
                   cs_err *err);

/* ---- vault (vault.c) ------------------------------------------------- */

/*
 * Secrets at rest: AES-256-GCM under a 32-byte key file (mode 0600).
 * A sealed blob is: "CSV1" | 12-byte random nonce | ciphertext | 16-byte tag.
 * The associated data binds the blob to its place: table, column and a
 * stable key of the row (a name or UUID, never a rowid), so a blob copied to
 * another row or column fails to open.
 */
#define CS_VAULT_KEY_LEN  32
#define CS_VAULT_OVERHEAD (4 + 12 + 16)

typedef struct cs_vault cs_vault;

/* Create a new key file at path (O_EXCL, 0600) from RAND_bytes.
 * CS_EEXIST if it exists. */
int cs_vault_create_key(const char *path, cs_err *err);
/* Load the key file: it must be exactly 32 bytes and not readable by group
 * or others.  Caller frees with cs_vault_free. */
int cs_vault_load(const char *path, cs_vault **out, cs_err *err);
void cs_vault_free(cs_vault *v);
/* Encrypt; out receives the blob (appended). */
int cs_vault_seal(cs_vault *v, const char *table, const char *column,
                  const char *rowkey, const void *plain, size_t n, cs_buf *out,
                  cs_err *err);
/* Decrypt and authenticate; *out is a new secret (caller frees).
 * CS_ECRYPTO when the blob was changed, moved or sealed under another key. */
int cs_vault_open(cs_vault *v, const char *table, const char *column,
                  const char *rowkey, const void *blob, size_t n,
                  cs_secret **out, cs_err *err);

/* ---- CSV (csv.c) ------------------------------------------------------ */

/* One record of a CSV file: line is where it starts (1-based).  error is
 * NULL, or (with CS_CSV_REPORT_BAD) why the record starting on line was
 * skipped: then n is 0. */
typedef struct cs_csv_row {
	size_t line;
	size_t n;
	char **fields; /* NUL-terminated copies, valid during the callback */
	const char *error; /* a sentence without the file and line */
} cs_csv_row;

/* cs_csv_read flags */
#define CS_CSV_REPORT_BAD 1u /* malformed records reach fn (error set) */
#define CS_CSV_STDIN      2u /* path "-" is standard input */

/* Call fn for every record of path (the header row too).  fn returning
 * non-zero stops the read with that value.  Errors name the file and line.
 * A malformed record (stray quote, quoted field never closed, a field over
 * 64 KiB, over 512 fields, a line or open record over 1 MiB) costs its
 * first line, or the whole record when it is well-formed but too big;
 * reading resumes at the next line.  Without CS_CSV_REPORT_BAD it stops the
 * read instead.  Memory is bounded whatever the input. */
int cs_csv_read(const char *path, char delim, unsigned flags,
                int (*fn)(const cs_csv_row *r, void *arg), void *arg,
                cs_err *err);
/* cs_csv_read without flags. */
int cs_csv_foreach(const char *path, char delim,
                   int (*fn)(const cs_csv_row *r, void *arg), void *arg,
                   cs_err *err);

/* ---- email addresses (addr.c) ---------------------------------------- */

/* Whether addr, exactly as given (no trimming, case kept), is an address
 * coldseq can send from or to: ASCII, a dot-atom local part of at most 64
 * octets, a host name with a dot of at most 253 (labels 1-63 letters,
 * digits and inner hyphens, the last not all digits), 254 in all.  0, or
 * CS_EINVAL and the reason. */
int cs_email_check(const char *addr, cs_err *err);
/* An address as coldseq stores it: trimmed, the domain lower-cased and,
 * when internationalised, converted to ASCII (libidn2), then checked by
 * the rules of cs_email_check.  Appends it to out; CS_EINVAL with the
 * reason otherwise (out unchanged).  The local part must be ASCII (no
 * SMTPUTF8). */
int cs_email_normalize(const char *in, cs_buf *out, cs_err *err);
/* The same for a bare domain ("example.com", "bücher.de"). */
int cs_domain_normalize(const char *in, cs_buf *out, cs_err *err);

/* ---- tag lists (taglist.c) --------------------------------------------
 *
 * "tag=value; tag=value" as DKIM signatures and key records (RFC 6376
 * 3.2) and DMARC records (RFC 7489 6.4) write them.  Whitespace around
 * names, '=' and values is skipped; whitespace inside a value is kept
 * (callers drop it where the RFC says, e.g. in p= and b=).  An empty
 * item (";;", a trailing ';') is skipped. */
typedef struct cs_tag {
	const char *name, *value; /* not NUL-terminated */
	size_t name_len, value_len;
} cs_tag;

/* The next tag of the list *p..end: 1 with *t filled and *p moved past
 * it, 0 at the end, -1 on an item without '=' or with an empty or
 * non-alphanumeric name (*p then points at it). */
int cs_tag_next(const char **p, const char *end, cs_tag *t);
/* Whether the tag's name is name (case-sensitive, as RFC 6376 says). */
bool cs_tag_is(const cs_tag *t, const char *name);

/* ---- enum names (names.c) -------------------------------------------- */

/* The number of entries of a names table (an array, not a pointer). */
#define CS_NNAMES(t) ((int)(sizeof(t) / sizeof((t)[0])))
/* names[v]; names[0] when v is out of range (n > 0). */
const char *cs_enum_name(const char *const *names, int n, int v);
/* The index of s (exact) among names[0..n) into *v; false when none or
 * s is NULL (*v untouched). */
bool cs_enum_parse(const char *const *names, int n, const char *s, int *v);

/* ---- the provider table (provider.c) ---------------------------------
 *
 * Every fact coldseq knows about a mailbox provider, in one table:
 * server presets, the provider's own daily cap, whether it keeps a Sent
 * copy itself, its folder names, OAuth2 endpoints and scope, the MX hosts
 * and well-known address domains that say a recipient is hosted there.
 * The names ("generic", "google", "microsoft") are the database's and the
 * CLI's words; code compares the enum.
 */

typedef enum cs_provider_id {
	CS_PROVIDER_GENERIC = 0, /* any SMTP/IMAP host; "other" as an ESP */
	CS_PROVIDER_GOOGLE,
	CS_PROVIDER_MICROSOFT,
	CS_PROVIDER_COUNT
} cs_provider_id;

/* The OAuth2 endpoints are also config defaults (db_config.c), which must
 * be constant expressions: they are spelled once, here. */
#define CS_PROVIDER_MS_DEVICE_URL                                              \
	"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode"
#define CS_PROVIDER_MS_TOKEN_URL                                               \
	"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
#define CS_PROVIDER_GOOGLE_AUTH_URL                                            \
	"https://accounts.google.com/o/oauth2/v2/auth"
#define CS_PROVIDER_GOOGLE_TOKEN_URL "https://oauth2.googleapis.com/token"

typedef enum cs_folder_role { CS_FOLDER_SENT, CS_FOLDER_JUNK } cs_folder_role;

typedef struct cs_provider {
	cs_provider_id id;
	const char *name;  /* "generic", "google", "microsoft" */
	const char *label; /* for people: "Microsoft 365", "Google" */
	/* servers `inbox add/connect` fill in when none are given (NULL:
	 * none, the user must) */
	const char *smtp_host, *smtp_tls, *imap_host, *imap_tls;
	int smtp_port, imap_port;
	/* the provider's sending limits (NULL-ended by id CS_LIM_COUNT;
	 * NULL: none); addresses at consumer_domains take each row's
	 * consumer figure (Gmail vs Workspace) */
	const struct cs_limit *limits;
	const char *const *consumer_domains;
	bool keeps_sent_copy; /* saves what SMTP sent into Sent itself */
	/* folder names that mean Sent/Junk when a server has no SPECIAL-USE
	 * attributes (NULL-ended) */
	const char *const *sent_folders, *const *junk_folders;
	/* OAuth2 (NULL for generic); {tenant} is replaced by the tenant */
	bool oauth;
	const char *oauth_token_url, *oauth_device_url, *oauth_auth_url;
	const char *oauth_scope;
	bool oauth_scope_on_refresh; /* a refresh grant repeats the scope */
	bool oauth_secret; /* the client has a secret (a sealed setting) */
	/* a refresh token unused this many days expires; warn this many */
	int refresh_idle_days, refresh_warn_days;
	/* a recipient's domain is hosted here when its best MX ends with one
	 * of mx_suffixes, or it is one of mx_domains (NULL-ended) */
	const char *const *mx_suffixes, *const *mx_domains;
} cs_provider;

/* ---- provider limits (provider.c) ------------------------------------
 *
 * A limit is a kind (what it counts, over which rolling window, for one
 * mailbox or a whole tenant) and, per provider, a maximum with its trial
 * and consumer figures.  The names are the CLI's and the database's words
 * (`inbox set --limit NAME=N`, inboxes.limits).  Windows roll: a send at
 * 09:10 frees its unit at 09:10 the next day.
 */
typedef enum cs_limit_id {
	CS_LIM_MESSAGES_24H = 0,
	CS_LIM_RECIPIENTS_24H,
	CS_LIM_EXTERNAL_24H,
	CS_LIM_UNIQUE_EXTERNAL_24H,
	CS_LIM_MESSAGES_1M,
	CS_LIM_TENANT_EXTERNAL_24H,
	CS_LIM_RECIPIENTS_PER_MESSAGE,
	CS_LIM_COUNT
} cs_limit_id;

typedef enum cs_limit_what {
	CS_COUNT_MESSAGES,        /* distinct messages */
	CS_COUNT_RECIPIENTS,      /* recipients, each message's summed */
	CS_COUNT_EXTERNAL,        /* recipients outside the sender's domain */
	CS_COUNT_UNIQUE_EXTERNAL, /* distinct such recipients */
	CS_COUNT_PER_MESSAGE      /* recipients of one message (no window) */
} cs_limit_what;

typedef enum cs_limit_scope {
	CS_SCOPE_MAILBOX, /* the inbox's own sends */
	CS_SCOPE_TENANT   /* every inbox of its --tenant (the inbox alone
	                     when it has none) */
} cs_limit_scope;

typedef struct cs_limit_kind {
	cs_limit_id id;
	const char *name; /* "messages_24h", ... */
	cs_limit_what what;
	int64_t window_ms; /* 0: per message */
	cs_limit_scope scope;
	const char *label; /* for people: "24-hour", "per-minute" */
} cs_limit_kind;

/* A provider's figure for one kind: max for an ordinary account, trial
 * for a trial account (0: as max), consumer for an address at the
 * provider's consumer domains (0: as max; -1: no such limit there).
 * CS_LIM_FROM_TENANT: computed from the tenant (cs_limit_tenant_external). */
typedef struct cs_limit {
	cs_limit_id id;
	long long max, trial, consumer;
} cs_limit;

#define CS_LIM_FROM_TENANT (-2LL)

/* The kind with id, or NULL out of range. */
const cs_limit_kind *cs_limit_kind_get(cs_limit_id id);
/* The kind named name (exact), or NULL. */
const cs_limit_kind *cs_limit_kind_find(const char *name);
/* "messages_24h, recipients_24h, ..." (static). */
const char *cs_limit_names(void);
/* The provider table's limits for an address email of provider id, a
 * trial account or not, into out[CS_LIM_COUNT] (0: none).  A tenant
 * limit comes back as CS_LIM_FROM_TENANT. */
void cs_limits_preset(cs_provider_id id, const char *email, bool trial,
                      long long out[CS_LIM_COUNT]);
/* Apply the overrides "name=N name=N" (inboxes.limits; N 0: off) to out.
 * CS_EINVAL naming the bad word (and the names) when one is not
 * name=N. */
int cs_limits_override(const char *overrides, long long out[CS_LIM_COUNT],
                       cs_err *err);
/* Set (n >= 0) or drop (n < 0: back to the preset) name's override in
 * the overrides string *s (a malloc'd string or NULL, rewritten in kind
 * order).  CS_EINVAL listing the names when name is unknown. */
int cs_limits_edit(char **s, const char *name, long long n, cs_err *err);
/* The override of id in overrides: *n, true when there is one. */
bool cs_limits_get(const char *overrides, cs_limit_id id, long long *n);
/* A Microsoft 365 tenant's external-recipient limit per 24 hours: the
 * external_limit when set (> 0), else floor(500 * licences^0.7 + 9500)
 * (licences 0: 1). */
long long cs_limit_tenant_external(long long licences,
                                   long long external_limit);

/* The row of id; an id out of range gives the generic row. */
const cs_provider *cs_provider_get(cs_provider_id id);
/* The row named name (exact, lower case), or NULL for an unknown name. */
const cs_provider *cs_provider_find(const char *name);
/* The id named name; CS_PROVIDER_GENERIC for NULL or an unknown name. */
cs_provider_id cs_provider_id_of(const char *name);
/* The provider's messages_24h limit for the address email (0: none). */
int cs_provider_hard_cap(cs_provider_id id, const char *email);
/* The provider whose MX host names end like host; GENERIC for none. */
cs_provider_id cs_provider_by_mx_host(const char *host);
/* Whether domain is a well-known address domain of a provider (gmail.com,
 * outlook.com, ...); *id is set when it is. */
bool cs_provider_by_domain(const char *domain, cs_provider_id *id);
/* Whether name is a known name of a Sent or Junk folder (any case). */
bool cs_provider_folder_is(cs_folder_role role, const char *name);
/* Whether domain is a free mail domain (gmail.com, yahoo.com, ...). */
bool cs_provider_is_freemail(const char *domain);

/* ---- small helpers (util.c) ------------------------------------------ */

/* Cryptographically random bytes (OpenSSL); aborts if none are to be had.
 * (vault.c, beside the vault's other OpenSSL use.) */
void cs_random_bytes(void *p, size_t n);

/* The one UTF-8 decoder: the length (1-4) of the valid sequence at s, of
 * the n bytes there, and its code point in *cp (may be NULL); 0 when s
 * starts no valid sequence: a stray continuation byte, an overlong form
 * (C0, C1, E0 80-9F, F0 80-8F), a surrogate (U+D800-DFFF), a code point
 * past U+10FFFF (F4 90 and up, F5-FF), a sequence cut short by the end of
 * the n bytes or by a byte that is no continuation, or n == 0. */
size_t cs_utf8_seq(const char *s, size_t n, uint32_t *cp);
/* Append at most max bytes of s as valid UTF-8: invalid sequences become
 * U+FFFD, control characters spaces.  For text from mail that will be
 * stored or printed as JSON. */
void cs_utf8_clean(const char *s, size_t max, cs_buf *out);
/* Append the n bytes at s as valid UTF-8: each byte that starts no valid
 * sequence becomes U+FFFD, everything else (controls too) is kept. */
void cs_utf8_repair(const char *s, size_t n, cs_buf *out);
/* Whether the n bytes at s are valid UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF); when not, *bad gets the offset of the first
 * byte of the first invalid sequence.  Plain ASCII goes eight bytes at a
 * time.  The one checker: contacts import and template import use it. */
bool cs_utf8_valid(const char *s, size_t n, size_t *bad);
/* Levenshtein distance with transpositions, capped at max+1. */
int cs_edit_distance(const char *a, const char *b, int max);
/* Whether host names this machine's loopback (127.0.0.0/8, ::1,
 * localhost). */
bool cs_is_loopback_host(const char *h);
/* mkdir -p; the last component gets `mode`, parents 0755. Existing is ok. */
int cs_mkdir_p(const char *path, int mode, cs_err *err);
/* Trim ASCII white space at both ends, in place; returns s. */
char *cs_trim(char *s);
/* Read a whole file (capped at max bytes) into out. */
int cs_read_file(const char *path, size_t max, cs_buf *out, cs_err *err);

#endif

/*
 * seq.h - the sequencer: turning stored inboxes, contacts and campaigns
 * into messages sent, and recording what happened.
 *
 * The interface the CLI, the tests and the benchmarks use: inboxes'
 * connection settings and logins, OAuth2 tokens, the watcher, campaign
 * files, time rules, composing a step, the scheduler, the outbox and its
 * dispatcher, the service and its lock, preview and warmup.  What only
 * the sequencer's own files share (the scheduler's state, the
 * inbound-event policy table, the watcher's and warmup's split for the
 * service's workers) is in seq_int.h.  It includes the lower modules
 * whose types its declarations use (core, db, smtp, imap); a caller
 * includes what else it uses itself.
 */
#ifndef COLDSEQ_SEQ_H
#define COLDSEQ_SEQ_H

#include "core/core.h"
#include "db/db.h"
#include "imap/imap.h"
#include "smtp/smtp.h"

/* SMTP connection settings and credentials of an inbox.  The secret is
 * decrypted from the vault (caller frees *secret with cs_secret_free). */
int seq_inbox_smtp(db *d, cs_vault *v, const db_inbox *in, smtp_server *srv,
                   smtp_auth *auth, cs_secret **secret, cs_err *err);

/* IMAP settings and credentials of an inbox (*secret: caller frees). */
int seq_inbox_imap(db *d, cs_vault *v, const db_inbox *in, imap_server *srv,
                   imap_auth *auth, cs_secret **secret, cs_err *err);

/* ---- OAuth2 access tokens (seq_token.c) -------------------------------- */

#define SEQ_OAUTH_TENANT "common" /* Microsoft tenant when none is given */

/* A provider's OAuth2 settings (config oauth.PROVIDER.*), with {tenant}
 * replaced in Microsoft's URLs; client points into the struct. */
typedef struct seq_oauth_cfg {
	net_oauth_client client;
	cs_buf token_url, device_url, auth_url, client_id;
	cs_secret *client_secret; /* Google's, opened from the vault */
	const char *scope;
} seq_oauth_cfg;

int seq_oauth_cfg_load(db *d, cs_vault *v, cs_provider_id provider,
                       const char *tenant, int timeout_ms, seq_oauth_cfg *out,
                       cs_err *err);
void seq_oauth_cfg_free(seq_oauth_cfg *c);

/* A valid access token for an auth=oauth2 inbox (*out: caller frees):
 * the stored one while it lives, else refreshed first (force: refresh
 * now, after the server refused the current one).  Real time; may block
 * up to 10 s in the token endpoint, never when force is false and
 * seq_token_check said usable a moment ago (the service refreshes on a
 * worker with the three steps below).  CS_EAUTH when the inbox is pending
 * or auth_failed, or the provider refused the refresh token now (the
 * inbox is then marked auth_failed with the reconnect command); other
 * codes for trouble that may pass.  An inbox without a token row (a
 * bearer token given with `inbox add --auth oauth2`) gets its secret. */
int seq_token_get(db *d, cs_vault *v, const db_inbox *in, bool force,
                  cs_secret **out, cs_err *err);
/* The refresh of seq_token_get in three steps, for a caller with an event
 * loop: plan and apply on the thread that owns the database, run (the
 * refresh grant only: no database) on any thread.  Real time. */
typedef struct seq_token_refresh seq_token_refresh;

/* What a service needs to know of an inbox's stored access token. */
typedef struct seq_token_info {
	/* seq_token_get(force=false) hands it out now without the network
	 * (also true when it answers at once without a token: not oauth2,
	 * pending, auth_failed, a fixed bearer token) */
	bool usable;
	/* refresh it from here (ahead of seq_token_get's own margin);
	 * INT64_MAX when it cannot be refreshed (cases above) */
	int64_t refresh_at;
} seq_token_info;

/* Read the token row of in (CS_ENOTFOUND: the inbox is gone). */
int seq_token_check(db *d, const db_inbox *in, int64_t now, seq_token_info *out,
                    cs_err *err);
/* Step 1: read the row (its generation), load the provider's settings and
 * open the refresh token, into *out (caller frees with
 * seq_token_refresh_free).  *out stays NULL, with 0, when nothing is to be
 * refreshed: force is false and refresh_at is still ahead, or the inbox
 * has no token row.  CS_EAUTH when pending or auth_failed; CS_EINVAL for a
 * forced refresh of a bearer token; other codes for settings or vault. */
int seq_token_refresh_plan(db *d, cs_vault *v, const db_inbox *in, bool force,
                           seq_token_refresh **out, cs_err *err);
/* Step 2: the refresh grant (at most 10 s); touches r and the network
 * only. */
void seq_token_refresh_run(seq_token_refresh *r);
/* Step 3: 0 when the new tokens are stored; 0 with *raced when another
 * process stored newer tokens meanwhile (nothing written: plan again);
 * CS_EAUTH when the provider refused the refresh token (the inbox is now
 * auth_failed, logged); other codes: a failure that may pass (err says
 * which, the stored token is unchanged). */
int seq_token_refresh_apply(seq_token_refresh *r, bool *raced, cs_err *err);
void seq_token_refresh_free(seq_token_refresh *r);

/* Whether the inbox may authenticate (auth_state ok). */
bool seq_inbox_authorized(const db_inbox *in);
/* Whether res is an SMTP server refusing an oauth2 inbox's token. */
bool seq_token_refused(const db_inbox *in, const smtp_result *res);
/* The command that reconnects in (tenant: Microsoft's, may be NULL). */
void seq_token_reconnect_cmd(const db_inbox *in, const char *tenant,
                             cs_buf *out);

/* One login for seq_auth_refresh_once: read the inbox's credentials as
 * stored now (again when `again`: a refreshed token was just stored) and
 * log in.  0: logged in.  Otherwise err says why, and *refused is set when
 * the server refused the credentials at authentication (SMTP AUTH 5xx,
 * IMAP login refused), not for network, TLS or timeout failures. */
typedef int (*seq_auth_attempt)(void *arg, bool again, bool *refused,
                                cs_err *err);

/* Log in, with the one rule every path that authenticates follows (CLI
 * send-test, inbox test, inbox sync; the service's oauth_retry and
 * watcher do the same on their loop): when a server refuses an OAuth2
 * inbox's access token, refresh it once (seq_token_get force) and try
 * once more.
 *   - the provider refuses the refresh (invalid_grant): the inbox is
 *     auth_failed with the reconnect command (seq_token.c), CS_EAUTH and
 *     err names that command;
 *   - the fresh token is refused too: not a lost authorization but the
 *     mailbox's or the app's settings (SMTP AUTH or IMAP disabled for the
 *     mailbox, a missing scope): err says so with the remedy
 *     (seq_token_refused_fresh), the attempt's code, auth_state
 *     untouched.
 * proto ("SMTP", "IMAP") names the server in messages.  *refreshed (may
 * be NULL) spans one command's logins: set when a refresh was forced; a
 * refusal after one is not refreshed again.  Password inboxes: one
 * attempt, as it is. */
int seq_auth_refresh_once(db *d, cs_vault *v, const db_inbox *in,
                          const char *proto, seq_auth_attempt attempt,
                          void *arg, bool *refreshed, cs_err *err);
/* The message for a freshly refreshed access token that a proto server
 * still refuses (said: its answer), with the remedy for the provider. */
void seq_token_refused_fresh(const db_inbox *in, const char *proto,
                             const char *said, cs_buf *out);

/* SMTP and IMAP logins of an inbox through seq_auth_refresh_once, from
 * srv, auth and *secret as seq_inbox_smtp (seq_inbox_imap) filled them:
 * after a refresh they are filled again.  On success *out is the session;
 * the caller frees it and *secret, in any case.  SMTP: res is the last
 * server answer (res->verdict says what failed). */
int seq_smtp_login(db *d, cs_vault *v, const db_inbox *in, smtp_server *srv,
                   smtp_auth *auth, cs_secret **secret, smtp_session **out,
                   smtp_result *res, bool *refreshed, cs_err *err);
int seq_imap_login(db *d, cs_vault *v, const db_inbox *in, imap_server *srv,
                   imap_auth *auth, cs_secret **secret, imap_session **out,
                   bool *refreshed, cs_err *err);

/* Whether a copy of what the inbox sends belongs in its Sent folder:
 * sent_copy always/never, or auto = not for Google and Microsoft 365, which
 * keep their own copy. */
bool seq_wants_sent_copy(const db_inbox *in);

/* APPEND raw (the exact bytes sent) with \Seen to the inbox's Sent folder
 * (SPECIAL-USE, else by name).  *folder gets the folder used (caller
 * frees). */
int seq_sent_copy(db *d, cs_vault *v, const db_inbox *in, const char *raw,
                  size_t len, char **folder, cs_err *err);

/* The network half of seq_sent_copy (no database: for workers). */
int seq_sent_copy_to(const imap_server *srv, const imap_auth *auth,
                     const char *inbox_name, const char *raw, size_t len,
                     char **folder, cs_err *err);
/* Whether the inbox's Sent folder holds message_id (network only). */
int seq_sent_find(const imap_server *srv, const imap_auth *auth,
                  const char *message_id, bool *found, cs_err *err);

/* The unsubscribe token of (contact, campaign): URL-safe base64 of an
 * HMAC-SHA256 under the vault's unsubscribe key, 22 characters.  The key
 * is made (and sealed in meta) on first use.  out must hold 23 bytes. */
int seq_unsub_token(db *d, cs_vault *v, const char *contact,
                    const char *campaign, char out[23], cs_err *err);

/* What seq_send_now did. */
typedef struct seq_sent {
	char *message_id; /* caller frees */
	smtp_result smtp;
	char local_day[11];
} seq_sent;

/*
 * Send one message from inbox `in` now: build the message (Date from
 * clock in the inbox's zone), record it as 'sending' with its Message-ID
 * before DATA if the daily cap allows (counted and recorded in one
 * transaction), log in (a refused OAuth2 token refreshed once), send, and
 * store the outcome.  Returns 0
 * when the server accepted it; CS_ETEMP/CS_EINVAL/... with err set when it
 * was not sent (out->smtp says what the server said, when it said it).
 * The raw message is left in raw (for a Sent copy).
 */
int seq_send_now(db *d, cs_vault *v, cs_clock *clock, const db_inbox *in,
                 const smtp_msg_spec *spec, db_purpose purpose, cs_buf *raw,
                 seq_sent *out, cs_err *err);

/* ---- the watcher (seq_watch.c) ---------------------------------------- */

typedef struct seq_sync_stats {
	int folders;    /* folders read */
	int fetched;    /* messages fetched and classified */
	int new_events; /* events recorded (not seen before) */
	int suppressed; /* addresses newly suppressed */
} seq_sync_stats;

/* One inbox's IMAP session and what the watcher knows of it.  The
 * db_inbox must outlive the watcher. */
typedef struct seq_watcher {
	db *d;
	cs_vault *v; /* to renew an OAuth2 access token */
	cs_clock *clock;
	const db_inbox *in;
	imap_server srv; /* prepared by seq_watcher_new */
	imap_auth auth;
	imap_session *s;
	cs_secret *secret;
	char *junk, *sent; /* folder names found; Sent: headers only */
	bool selected;     /* INBOX is the selected folder (for IDLE) */
	bool forced;       /* a refresh was forced since the last connect */
	uint32_t inbox_uidvalidity, inbox_last; /* INBOX read up to here */
	struct seq_mx *mx; /* the service's (never blocks); NULL: a private
	                      resolver per question (blocking) */
} seq_watcher;

/* The watcher of in; new touches the database (the loop thread), connect
 * only the network (a worker).  The service's plan/fetch/apply split is
 * in seq_int.h. */
int seq_watcher_new(db *d, cs_vault *v, cs_clock *clock, const db_inbox *in,
                    seq_watcher **out, cs_err *err);
int seq_watcher_connect(seq_watcher *w, cs_err *err);
/* Before a (re)connect, on the loop thread: an OAuth2 inbox's access
 * token renewed when it nears expiry, or refreshed once anyway after a
 * failed attempt (after_failure) since the last good connect.  No-op
 * for password inboxes.  CS_EAUTH: the inbox lost its authorization. */
int seq_watcher_reauth(seq_watcher *w, bool after_failure, cs_err *err);
void seq_watcher_close(seq_watcher *w);
/* Every new message of INBOX and Junk: plan, fetch, apply until done. */
int seq_watcher_sync(seq_watcher *w, seq_sync_stats *st, cs_err *err);
bool seq_watcher_can_idle(seq_watcher *w);
/* IDLE on INBOX in two halves, for waiting on many watchers with one
 * poll(2):
 * start IDLE and get the fd to watch (-1 when data is already buffered
 * or mail arrived since the last pass: call idle_done at once, then
 * sync), then end it. */
int seq_watcher_idle_start(seq_watcher *w, int *fd, cs_err *err);
int seq_watcher_idle_done(seq_watcher *w, cs_err *err);

/* ---- campaign files (seq_campaign.c) ----------------------------------- */

/* Parse and check a campaign file (YAML) against the database: inboxes,
 * tags, lists and templates must exist.  Every problem is appended to
 * errors as "FILE:LINE: what\n"; err gets the first.  On success *out is
 * ready for db_campaign_add (caller frees with db_campaign_free). */
int seq_campaign_parse(db *d, const char *file, const char *src, size_t len,
                       db_campaign *out, cs_buf *errors, cs_err *err);
/* What `campaign edit` may change in campaign old (stored, with steps),
 * given new (parsed) and how far old got (db_campaign_progress).  A
 * draft may change everything but its name.  A started campaign may
 * change its window, time zone and caps, and steps no contact reached:
 * steps 1..reached stay exactly as they are; step reached+1 keeps its
 * delay (contacts already wait for it) and stays while contacts wait;
 * steps may be added only while nobody completed the sequence.  Each
 * refusal is appended to why as "what: why\n"; returns their count.
 * *keep: how many leading steps the stored campaign keeps as they are
 * (for db_campaign_replace). */
int seq_campaign_edit_check(const db_campaign *old, const db_campaign *new,
                            const db_campaign_progress_t *pr, int *keep,
                            cs_buf *why);
/* "3 business days", "1 day", "4 hours", "30 minutes" into an amount and
 * a unit (minutes|hours|days|business_days, static).  CS_EINVAL if not. */
int seq_delay_parse(const char *s, int *amount, const char **unit);

/* ---- time rules (seq_time.c) -------------------------------------------- */

/* The due time of a step sent at `from` after amount unit, in zone tz:
 * days keep the wall-clock time across DST; business days skip Saturday
 * and Sunday. */
int seq_delay_apply(const char *tz, int64_t from, int amount, const char *unit,
                    int64_t *out, cs_err *err);
/* The first instant >= t inside the campaign's window in zone tz, and the
 * end of that window (*close). */
int seq_window_next(const db_campaign *c, const char *tz, int64_t t,
                    int64_t *open, int64_t *close, cs_err *err);
/* Whether a domain is a free mail provider (gmail.com, outlook.com, ...):
 * stop_company_on_reply never applies there. */
bool seq_is_freemail(const char *domain);

/* ---- the recipient's provider (seq_mx.c) -------------------------------- */

/* The provider table's ids (core/provider.c) under the names esp_match
 * uses: a cast converts; "other" is generic's word here. */
typedef enum seq_esp {
	SEQ_ESP_OTHER = CS_PROVIDER_GENERIC,
	SEQ_ESP_GOOGLE = CS_PROVIDER_GOOGLE,
	SEQ_ESP_MICROSOFT = CS_PROVIDER_MICROSOFT
} seq_esp;

/* A resolver (net/net.h) set up from the config: dns.servers ("" the
 * system's) and dns.timeout (the longest one question waits on one
 * server).  loop NULL: a private loop (CLI paths, net_dns_query_sync).
 * CS_EINVAL naming the bad item of dns.servers. */
struct uv_loop_s;
int seq_dns_open(db *d, struct uv_loop_s *loop, net_dns **out, cs_err *err);

/* Domain -> provider: a static map file (config dns.mx_map: lines
 * "domain google|microsoft|other"), well-known domains, then the domain's
 * MX records through a resolver (seq_mx.c says more). */
typedef struct seq_mx seq_mx;

/* A map only (map_file NULL or "": none); no DNS until seq_mx_set_dns. */
int seq_mx_new(const char *map_file, seq_mx **out, cs_err *err);
/* Replace the map (on an error the old one stays). */
int seq_mx_load_map(seq_mx *m, const char *map_file, cs_err *err);
/* The resolver to ask (not owned; NULL: no DNS, unknown domains are
 * "other").  async false: dns is a private-loop resolver and lookups
 * block (bounded by its timeout).  async true: dns runs on the caller's
 * loop; seq_mx_esp never blocks, and wake(wake_arg) runs on that loop
 * when a pending lookup's answer is in.  dns must be freed (its pending
 * lookups cancelled) before m. */
void seq_mx_set_dns(seq_mx *m, net_dns *dns, bool async,
                    void (*wake)(void *arg), void *wake_arg);
void seq_mx_free(seq_mx *m);
#define SEQ_MX_PENDING 1
/* 0 and *out; or SEQ_MX_PENDING (async only): the lookup is under way,
 * ask again after the wake.  A lookup that failed is "other". */
int seq_mx_esp(seq_mx *m, const char *domain, seq_esp *out);
/* seq_mx_esp for a caller that cannot wait: pending is "other" (the
 * lookup goes on, so a later question finds the answer). */
seq_esp seq_mx_provider(seq_mx *m, const char *domain);
const char *seq_esp_name(seq_esp e);

/* ---- composing a step (seq_compose.c) ----------------------------------- */

/* The {{sender.NAME}} fields seq_compose fills, NULL-ended: first_name,
 * last_name, name, email, signature.  `template import` refuses any other
 * name. */
extern const char *const seq_sender_fields[];

/* What a step needs to become a message. */
typedef struct seq_compose_in {
	const db_inbox *inbox;
	const db_contact *contact;
	const char *template_source, *template_name;
	const char *campaign;       /* for the unsubscribe token */
	int step;                   /* 1-based */
	const char *contact_tz;     /* zone for {{day_of_week}} */
	int64_t now;                /* Date header, {{day_of_week}} */
	const char *thread_subject; /* follow-up without its own subject */
	const char *message_id, *in_reply_to, *references;
} seq_compose_in;

/* Render the template for the contact and (raw != NULL) build the whole
 * message into raw.  *subject gets the subject (caller frees).  A field
 * with no value and no fallback fails with CS_EINVAL "missing field X
 * (TEMPLATE:LINE:COL)". */
int seq_compose(db *d, cs_vault *v, const seq_compose_in *ci, cs_buf *raw,
                char **subject, cs_err *err);

/* ---- the scheduler (seq_sched.c) and the outbox (seq_outbox.c) --------- */

/* The one function for the outbox row's and the warmup plan row's states
 * (db_ostate, db_pstate: db/) that every state change of a row goes through
 * (seq_outbox_fsm.c: the transition tables, who performs each move).  A move
 * the table does not have fails an assert() in the test (ASan) build and is
 * refused with CS_EINVAL, nothing written, in the release build; a row that is
 * not in `from` any more is CS_ECONFLICT.  Each move is logged at debug with
 * the row id. */
bool seq_outbox_allowed(db_ostate from, db_ostate to);
/* Row id from -> to, with reason (NULL: none) and due_at (when >= 0). */
int seq_outbox_move(db *d, long long id, db_ostate from, db_ostate to,
                    const char *reason, int64_t due_at, int64_t now,
                    cs_err *err);

bool seq_warmup_plan_allowed(db_pstate from, db_pstate to);
/* Plan row id from -> to; message_id and local_day when not NULL, due_at
 * when >= 0. */
int seq_warmup_plan_move(db *d, long long id, db_pstate from, db_pstate to,
                         const char *message_id, int64_t due_at,
                         const char *local_day, int64_t now, cs_err *err);

/* One message handed to a transport: an outbox row that is 'sending'. */
typedef struct seq_job {
	long long outbox_id, inbox_id;
	db_purpose purpose;
	char *inbox, *from; /* inbox name, its address */
	/* names (owned): the campaign ("warmup" for warmup), the recipient,
	 * the variant (new|reply for warmup) */
	char *campaign, *contact, *variant;
	int step;         /* 1-based; 0 but for campaign steps */
	char *message_id; /* owned */
	cs_buf raw;       /* the message as sent */
	int64_t at;       /* service clock */
	char *zone;       /* the contact's zone used (campaign steps) */
} seq_job;

void seq_job_free(seq_job *j);

/* Due messages of one inbox, begun (each row 'sending', recorded before
 * DATA) and handed to a transport at once: one SMTP session for all. */
#define SEQ_BATCH_MAX 10
typedef struct seq_dispatch seq_dispatch;
typedef struct seq_batch {
	seq_dispatch *dp; /* the dispatcher it goes back to */
	long long inbox_id;
	seq_job jobs[SEQ_BATCH_MAX];
	smtp_result res[SEQ_BATCH_MAX]; /* filled by the transport */
	size_t n;
	void *priv; /* the transport's, from open to seq_dispatch_done */
} seq_batch;

/* Where due messages go.  Either one message at a time: send runs the
 * SMTP transaction (or records it) and fills res, synchronously (tests,
 * preview, the bench); or in batches per inbox (open not NULL: the
 * service): open prepares a batch for inbox in (credentials; b->priv),
 * non-zero when that inbox cannot send now (nothing of it is begun
 * then); submit hands the batch over and must end, at once or later on
 * the thread that owns the database, with seq_dispatch_done(b); discard
 * undoes an open whose batch stayed empty.  batch_max: jobs per batch
 * (0: 1; at most SEQ_BATCH_MAX); max_batches: batches in flight at once
 * (0: 1). */
typedef struct seq_transport {
	int (*send)(void *arg, const seq_job *job, smtp_result *res);
	void *arg;
	int (*open)(void *arg, const db_inbox *in, seq_batch *b);
	void (*submit)(void *arg, seq_batch *b);
	void (*discard)(void *arg, seq_batch *b);
	size_t batch_max;
	int max_batches;
} seq_transport;

typedef struct seq_sched seq_sched;

/* A scheduler over d on clock (the service clock).  v unseals the
 * unsubscribe key.  Reads inboxes, campaigns and settings; call
 * seq_sched_reload after the CLI changed them. */
/* The service: recipients' MX through dns, on the service's loop, never
 * blocking (a contact whose provider is not known yet waits, and
 * wake(arg) runs when its answer is in).  Replaces the private resolver
 * the scheduler opens by itself; dns must outlive s's use of it. */
void seq_sched_use_dns(seq_sched *s, net_dns *dns, void (*wake)(void *arg),
                       void *arg);
int seq_sched_open(db *d, cs_vault *v, cs_clock *clock, seq_sched **out,
                   cs_err *err);
void seq_sched_close(seq_sched *s);
int seq_sched_reload(seq_sched *s, cs_err *err);

/* One scheduling pass at the clock's now: due follow-ups first, then new
 * contacts, each within the inboxes' caps and pacing and the contacts'
 * windows; each message chosen becomes a queued outbox row.  *queued gets
 * how many; *next_wake when the next pass has work (INT64_MAX: nothing
 * scheduled). */
int seq_sched_pass(seq_sched *s, int *queued, int64_t *next_wake, cs_err *err);

/* Outbox transitions (seq_outbox.c).  begin: queued -> sending, with the
 * messages and send_attempts rows (counted toward the caps) committed
 * before the message is handed over; *ready false when the row must wait
 * (caps filled by something else meanwhile, its inbox or campaign
 * paused): it stays queued, due later, or when the contact's data cannot
 * make the message: the row fails, the contact's step is held (return 0
 * both).  On an error the row is moved later too.  finish: record the
 * transport's result (sent, deferred, rejected, ...). */
int seq_outbox_begin(seq_sched *s, long long outbox_id, seq_job *job,
                     bool *ready, cs_err *err);
int seq_outbox_finish(seq_sched *s, const seq_job *job, const smtp_result *res,
                      cs_err *err);
/* A row found 'sending' at start-up: checked says whether the inbox's
 * Sent folder could be searched, found whether the Message-ID is there
 * (-> sent); else -> held, with why. */
int seq_outbox_uncertain(seq_sched *s, long long outbox_id, bool checked,
                         bool found, const char *why, cs_err *err);
/* The user's decision on a held row: sent (it did go out), resend (once
 * more, under the same Message-ID: if the first attempt did arrive, the
 * recipient sees one message), drop (never: the contact's sequence
 * stops).  Each recorded in the contact's history. */
typedef enum seq_resolve {
	SEQ_RESOLVE_SENT,
	SEQ_RESOLVE_RESEND,
	SEQ_RESOLVE_DROP
} seq_resolve;
int seq_outbox_resolve(seq_sched *s, long long outbox_id, seq_resolve how,
                       cs_err *err);
/* `outbox drop|retry ID`: on a queued or held row (held: may have been
 * sent, or failed as unsendable with its contact's step held).  drop:
 * never sent, the contact's sequence stops.  retry: due now (a held
 * message keeps its Message-ID); an unsendable step is composed afresh
 * by the scheduler.  Recorded in the contact's history; CS_ECONFLICT for
 * a row in another state. */
typedef enum seq_outbox_action {
	SEQ_OUTBOX_DROP,
	SEQ_OUTBOX_RETRY
} seq_outbox_action;
int seq_outbox_act(seq_sched *s, long long outbox_id, seq_outbox_action how,
                   cs_err *err);
/* Every queued row due now through transport t (synchronously), by
 * the dispatcher (seq_dispatch_run) without warmup. */
int seq_outbox_dispatch(seq_sched *s, const seq_transport *t, int *sent,
                        cs_err *err);

/* ---- the dispatcher (seq_dispatch.c) ------------------------------------ */

/* The one path from "due" to "recorded" for every purpose: it queues
 * warmup sends whose plan row is due (w not NULL), walks the due outbox
 * rows, groups them per inbox into batches under the caps, pacing and
 * the inboxes busy with a batch, begins each row by its purpose and hands
 * the batch to t; seq_dispatch_done records the results by purpose.  The
 * service, seq_outbox_dispatch, seq_sched_run_sim, preview and the bench
 * all send through it.  t and its arg must outlive the dispatcher. */
typedef struct seq_warmup seq_warmup; /* seq_warmup.c */
int seq_dispatch_open(seq_sched *s, seq_warmup *w, const seq_transport *t,
                      seq_dispatch **out);
/* Only once no batch is in flight. */
void seq_dispatch_close(seq_dispatch *dp);
/* One walk over at most limit due rows.  *sent (may be NULL): messages
 * recorded as sent during the call (a synchronous transport's). */
int seq_dispatch_run(seq_dispatch *dp, int limit, int *sent, cs_err *err);
/* The transport is done with b (b->res filled): each result recorded by
 * its purpose, b freed, its inbox free for the next batch. */
void seq_dispatch_done(seq_batch *b);
/* Batches in flight. */
int seq_dispatch_inflight(const seq_dispatch *dp);
/* Whether message_id is in the Sent folder of inbox in (*found); non-zero
 * with err when the folder could not be searched. */
typedef int (*seq_sent_lookup)(void *arg, const db_inbox *in,
                               const char *message_id, bool *found,
                               cs_err *err);
/* The one crash resolution, at start-up before anything is sent: every
 * row left 'sending' is looked for with lookup and settled by its
 * purpose: found -> sent; not found -> held (campaign), lost (warmup:
 * never sent again), failed (test); Sent not searchable -> held
 * (campaign), left as it is (warmup: looked for again at the next
 * start), failed (test).  Each is logged. */
int seq_dispatch_resolve(seq_dispatch *dp, seq_sent_lookup lookup, void *arg,
                         cs_err *err);

/* An inbox's day as the scheduler counts it (seq_sched.c). */
typedef struct seq_inbox_day {
	char day[11];       /* YYYY-MM-DD in the inbox's zone */
	int64_t start, end; /* [start, end) of that day */
	long long campaign; /* campaign + test messages so far that day */
	long long total;    /* messages of every purpose so far that day */
	int cap;            /* campaign cap that day (ramp applied) */
	int hard; /* the messages_24h limit in force (rolling; 0: none) */
} seq_inbox_day;

/* The messages_24h limit in force for an inbox (its override, else the
 * provider's: Gmail 500, Google Workspace 2000, 500 on trial), else 0
 * (none).  A rolling 24 hours, not the local day (seq_limits_get). */
int seq_inbox_hard_cap(const db_inbox *in);

/* ---- provider limits (seq_limits.c) ------------------------------------ */

/* The provider limits in force for inbox in, into out[CS_LIM_COUNT]
 * (0: off): the provider table's (consumer address, trial), the inbox's
 * overrides, and a tenant-wide limit from its tenant (licences or
 * external limit; an inbox without a tenant counts as its own tenant of
 * one licence). */
int seq_limits_of(db *d, const db_inbox *in, long long out[CS_LIM_COUNT],
                  cs_err *err);

/* One limit of an inbox, counted now. */
typedef struct seq_limit_now {
	cs_limit_id id;
	long long used, max;
	int64_t frees_at; /* when one unit frees (0: nothing counted) */
} seq_limit_now;

typedef struct seq_limits {
	seq_limit_now v[CS_LIM_COUNT];
	size_t n; /* the limits in force, in cs_limit_id order */
} seq_limits;

/* Every limit in force for in with its count at now (what status and
 * `inbox show` print; queued outbox rows not counted). */
int seq_limits_get(db *d, const db_inbox *in, int64_t now, seq_limits *out,
                   cs_err *err);
/* "at the provider's 24-hour limit (messages_24h 500/500)" into b. */
void seq_limit_text(cs_limit_id id, long long used, long long max, cs_buf *b);
/* The day containing now for inbox in, with its counts and caps: the
 * numbers the scheduler holds a send against. */
int seq_inbox_day_get(db *d, const db_inbox *in, int64_t now,
                      seq_inbox_day *out, cs_err *err);

/* Run passes and dispatches (seq_dispatch_run, without warmup) on a
 * simulated clock, jumping to each next wake, until the clock passes
 * until (or nothing is scheduled). */
int seq_sched_run_sim(seq_sched *s, const seq_transport *t, int64_t until,
                      cs_err *err);

/* The inbox cannot send until cause ("it is reconnected", "it is
 * resumed"): its queued first steps go back to the campaigns, which give
 * the contacts to other inboxes (db_outbox_release_new; threads in
 * progress stay and wait).  (seq_token.c) */
int seq_sched_release_new(seq_sched *s, long long inbox_id, const char *cause,
                          cs_err *err);
/* An inbox lost its authorization (seq_token_get said CS_EAUTH): it sends
 * nothing more, and seq_sched_release_new until it is reconnected. */
int seq_sched_auth_lost(seq_sched *s, long long inbox_id, cs_err *err);

/* Hold (gated) or release an inbox's follow-ups: the service holds them
 * until the inbox's watcher has read the replies that came in while it
 * was away.  inbox_id 0: every inbox, and those added later. */
void seq_sched_gate(seq_sched *s, long long inbox_id, bool gated);

/* What holds one contact's next step now, as text lines; service_pid is
 * the running service's (seq_service_probe; 0: none runs, -1: one runs
 * but its pid is not known yet), whose recorded view of the inboxes (watchers,
 * credentials) counts. */
int seq_sched_explain(seq_sched *s, const char *campaign, const char *email,
                      long service_pid, cs_buf *out, cs_err *err);
/* What the service running as service_pid (0: none) recorded of inbox
 * inbox_id (seq_service_health.c); *rt zeroed when nothing is current. */
int seq_inbox_runtime(db *d, long long inbox_id, long service_pid,
                      db_inbox_runtime *rt, cs_err *err);
/* Append the cause that holds in's follow-ups, its watcher ("waiting for
 * the sales3 watcher: connection refused since 2026-12-07 17:31 UTC");
 * false (nothing appended) when none. */
bool seq_runtime_watch_text(const db_inbox *in, const db_inbox_runtime *rt,
                            cs_buf *out);
/* Append why in cannot send at all (its settings or credentials cannot
 * be used), with since when; false when none. */
bool seq_runtime_send_text(const db_inbox *in, const db_inbox_runtime *rt,
                           cs_buf *out);

/* Mark a contact stopped in every campaign (a reply, bounce, unsubscribe,
 * complaint); for a reply, also the colleagues at the same company in
 * campaigns with stop_company_on_reply (never at a free mail domain). */
int seq_contact_stop(db *d, const char *email, db_contact_status status,
                     int64_t now, cs_err *err);

/* ---- what events do (seq_events.c) ----------------------------------------
 */

/* An auto-reply from email: stop it in campaigns with stop_on_auto_reply;
 * with a return date ("YYYY-MM-DD"), the next steps wait until the day
 * after. */
int seq_auto_reply(db *d, const char *email, const char *return_date,
                   int64_t now, cs_err *err);
/* A soft bounce of message_id: the step again after a backoff (at most
 * three times, then the contact stops); not retried for a policy
 * reason. */
int seq_soft_bounce(db *d, const char *message_id, const char *email,
                    const char *reason, int64_t now, cs_err *err);
/* An inbox's hard-bounce rate: the one figure status shows and bounce
 * protection acts on (db_inbox_bounce_counts: its campaign messages of
 * the last 28 days the server took or may have taken, and how many of
 * them bounced hard). */
#define SEQ_BOUNCE_WARN                                                        \
	0.02                    /* status: "warning" above (providers          \
	                         * start throttling around 2%) */
#define SEQ_BOUNCE_MIN_SENDS 20 /* protection: not on fewer sends */
typedef struct seq_bounce_figure {
	long long sends, hard;
	double rate;             /* hard / sends; -1 when no sends */
	long long pause_percent; /* config inbox.bounce_pause_percent */
	bool warn;               /* rate over SEQ_BOUNCE_WARN */
	bool over; /* protection pauses the inbox: at least MIN_SENDS and
	            * hard over pause_percent of sends */
} seq_bounce_figure;
int seq_bounce_get(db *d, long long inbox_id, int64_t now,
                   seq_bounce_figure *out, cs_err *err);
/* Pause the inbox when its figure is over (seq_bounce_figure.over). */
int seq_bounce_protect(db *d, const db_inbox *in, int64_t now, bool *paused,
                       cs_err *err);

/* What a domain pause asks of the user (seq_domain_pause.c), for status,
 * inbox show and the log: "check the SPF, DKIM and DMARC records of D
 * ..., then 'coldseq domain resume D'" for a pause, "slowing down toward
 * <provider> (...)" for a slow-down; appended to out. */
void seq_domain_pause_text(const db_domain_pause *p, cs_buf *out);

/* ---- the service (seq_service.c) ----------------------------------------- */

typedef struct seq_lock seq_lock; /* seq_status.c */

typedef struct seq_service_opts {
	const char *data_dir;
	cs_clock *clock; /* the service clock (real, or simulated) */
	bool fast;       /* simulated: jump to the next wake when idle */
	double speed;    /* simulated xN: real waits divided by N */
	int64_t until;   /* stop when the clock passes it (0: never) */
	int workers;     /* SMTP sessions at once */
	bool watch;      /* run the IMAP watchers */
	/* The data dir's lock (seq_lock_take, SEQ_LOCK_SERVICE) when the
	 * caller took it before opening d and v (so that no rekey changes
	 * the vault under it); the caller releases it after the run.  NULL:
	 * the service takes it and releases it. */
	seq_lock *lock;
	/* Called once when the service holds its lock, has resolved what a
	 * crash left and listens on its control socket, before the first
	 * pass (`run --detach` tells its parent); NULL: nothing. */
	void (*ready)(void *arg);
	void *ready_arg;
} seq_service_opts;

/* Run until SIGTERM/SIGINT (or until): one instance per data dir (the
 * lock below), a control socket DATA/control.sock (0600) that nudges a
 * reload.  Logs "coldseq stopped" before it lets the lock go.  Returns 0
 * after a clean stop; CS_EEXIST when another service (or a vault rekey)
 * holds the lock. */
int seq_service_run(db *d, cs_vault *v, const seq_service_opts *o, cs_err *err);
/* Tell a running service that the data changed; *running false when no
 * service listens. */
int seq_service_nudge(const char *data_dir, bool *running, cs_err *err);

/* ---- the doctor's stored verdicts (seq_service_doctor.c) --------------- */

/* The running service checks every inbox (`coldseq doctor --all`, a child
 * process) every doctor.refresh (config, real time; default a day) and
 * stores each verdict (db_doctor_verdict_set).  A verdict older than this
 * is stale: status shows it so ("fail?", "stale": true). */
#define SEQ_DOCTOR_STALE_MS (48LL * 3600 * 1000)

/* Whether v (a found verdict) is stale at now (real ms). */
bool seq_doctor_stale(const db_doctor_verdict *v, int64_t now);

/* Whether in is one of the inboxes a campaign's selectors (db_campaign's
 * inboxes: names, tag:T or all, space separated) name; the scheduler's
 * own rule (seq_sched_state.c). */
bool seq_inbox_selected(const db_inbox *in, const char *selectors);

/* ---- the data directory's lock (seq_status.c) -------------------------- */

/*
 * One service per data directory: the running service holds an exclusive
 * flock(2) on DATA_DIR/coldseq.pid for as long as it runs, and has written
 * its pid there (decimal and a newline).  `vault rekey` holds the same
 * lock for its duration and writes "PID vault-rekey\n", so that no service
 * starts with a key the rekey is about to replace.  The file is never
 * removed (a service that stopped leaves it, unlocked): a starter that
 * opened it waits on the same inode as the next one.  After flock succeeds
 * the taker checks that the path still names the inode it locked (someone
 * may have removed or replaced it) and starts over when it does not.
 * The file may outlive its holder; the lock never does.  A probe holds a
 * shared lock on it for an instant, so an exclusive taker retries for a
 * moment before concluding that another holder runs.
 */
#define SEQ_PID_FILE "coldseq.pid"

typedef struct seq_service_state {
	bool running; /* a service holds the lock */
	bool rekey;   /* a vault rekey holds it (running is false) */
	long pid;     /* the holder's; 0 when not held or not written yet */
} seq_service_state;

/* Whether a service runs on data_dir: the pid file exists and a
 * non-blocking shared flock on it fails with EWOULDBLOCK; the holder's
 * pid and kind from the file.  The probe holds its shared lock only for
 * that instant.  CS_EIO with err when the file exists but cannot be
 * opened or probed. */
int seq_service_probe(const char *data_dir, seq_service_state *out,
                      cs_err *err);

typedef enum seq_lock_kind {
	SEQ_LOCK_SERVICE, /* exclusive, "PID\n": `coldseq run` */
	SEQ_LOCK_REKEY,   /* exclusive, "PID vault-rekey\n": `vault rekey` */
	SEQ_LOCK_SHARED,  /* shared, for a moment, nothing written: neither
	                     of the above runs while it is held */
} seq_lock_kind;

/* Take data_dir's lock (creating the file, 0600, if need be).  Exclusive
 * kinds retry for 500 ms; the shared kind does not wait.  CS_EEXIST with
 * err naming the holder ("coldseq is already running for DIR (pid N)",
 * "a vault rekey is in progress on DIR (pid N)") and *holder filled (when
 * not NULL) if someone else holds it; CS_EIO with err when the file cannot
 * be opened or written.  *out is released with seq_lock_release.  The lock
 * is not inherited across exec; a fork shares it until both close it. */
int seq_lock_take(const char *data_dir, seq_lock_kind kind, seq_lock **out,
                  seq_service_state *holder, cs_err *err);
/* Let the lock go (an exclusive holder empties the file first); NULL is
 * a no-op. */
void seq_lock_release(seq_lock *l);

/* ---- preview (seq_preview.c) -------------------------------------------- */

typedef struct seq_preview_row {
	int64_t at;
	const char *zone; /* the contact's zone used */
	const char *inbox, *contact, *variant;
	int step;
	/* not NULL: the contact's step is held, and why (inbox and variant
	 * NULL; at: when it was due) */
	const char *held;
} seq_preview_row;

/* The schedule campaign would follow from start to until if nothing
 * were answered: the scheduler run on a copy of the database, on a
 * simulated clock, with a recording transport.  fn is called per message
 * of the campaign, in order, then per contact of the campaign held at the
 * end (a field the template cannot fill, data the message cannot carry):
 * one contact never fails the whole preview. */
int seq_preview(db *d, cs_vault *v, const char *campaign, int64_t start,
                int64_t until, int (*fn)(const seq_preview_row *r, void *arg),
                void *arg, cs_err *err);

/* ---- warmup (seq_warmup.c, seq_warmup_text.c) --------------------------- */

/*
 * Warmup among the user's own inboxes.  The sending side plans each
 * enabled inbox's local day (a quota from its ramp, sends at jittered
 * times in 08:00-18:00 of its zone, partners among the other enabled
 * inboxes); the receiving side (called by the watcher) reads, rescues
 * from Junk, answers at the reply rate and archives.  Everything that
 * touches the database runs on the loop thread; seq_warmup_imap is the
 * network half of the receiving side, for a worker.
 */
typedef struct seq_warmup seq_warmup;

int seq_warmup_open(db *d, cs_clock *clock, seq_warmup **out, cs_err *err);
void seq_warmup_close(seq_warmup *w);
/* Read the settings again (after the CLI changed them). */
int seq_warmup_reload(seq_warmup *w, cs_err *err);
/* Plan the days that have begun, check health (once an hour: pauses or
 * resumes campaign sending; *changed then says the scheduler must
 * reload).  *next_wake: the earliest planned send, IMAP action or next
 * day to plan (INT64_MAX: none). */
int seq_warmup_pass(seq_warmup *w, int64_t *next_wake, bool *changed,
                    cs_err *err);
/* The quota of ramp day `day` (1-based): start + step * (day - 1), at
 * most max. */
int seq_warmup_quota(int start, int step, int max, long long day);
/* The ramp day of local day "YYYY-MM-DD" for w: 1 before the first
 * send, else calendar days since first_day + 1. */
long long seq_warmup_ramp_day(const db_warmup *w, const char *day);
/* A warmup row found 'sending' at start-up (a crash cut it off; never
 * sent again): checked says whether the sender's Sent folder could be
 * searched, found whether its Message-ID is there.  Found -> sent; not
 * found -> lost (row and plan row 'failed', messages row 'deferred': it
 * counts neither toward the caps nor as sent); not checked -> left as it
 * is.  A receiving inbox that records it later makes it sent
 * (seq_warmup_pass). */
int seq_warmup_uncertain(seq_warmup *w, const db_outbox *o, bool checked,
                         bool found, cs_err *err);
/* Content (seq_warmup_text.c).  compose: a subject and a body picked by
 * seed, never on topic avoid (the inbox's previous topic, -1: none);
 * returns the topic used.  from_name signs the body when not NULL. */
int seq_warmup_compose(uint64_t seed, int avoid_topic, const char *from_name,
                       cs_buf *subject, cs_buf *body);
void seq_warmup_reply_text(uint64_t seed, const char *from_name, cs_buf *body);
size_t seq_warmup_subject_count(void);
size_t seq_warmup_body_count(void);

#endif

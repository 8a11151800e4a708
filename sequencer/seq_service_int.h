/*
 * seq_service_int.h - the service's state, shared by seq_service.c (the
 * life cycle, control socket, signals, start-up), seq_service_loop.c (the
 * one pass, its timer, the busy set, the stop predicate),
 * seq_service_send.c (SMTP and warmup jobs on the worker pool),
 * seq_service_watch.c (the IMAP watchers), seq_service_token.c (OAuth2
 * refreshes on workers) and seq_service_doctor.c (the daily doctor check).
 * Everything here runs on the loop thread unless a comment says
 * "worker".  Code on the loop that reads an oauth2 inbox's credentials
 * asks svc_token_usable (or svc_token_hold) first, so that seq_token_get
 * never refreshes on the loop.
 */
#ifndef COLDSEQ_SEQ_SERVICE_INT_H
#define COLDSEQ_SEQ_SERVICE_INT_H

#include <stdatomic.h>
#include <uv.h>

#include "seq_int.h"

#define SEND_BATCH    10
#define IDLE_REFRESH  600000LL /* re-sync an idling inbox (real ms) */
#define POLL_INTERVAL 60000LL  /* servers without IDLE (real ms) */

/* A watcher's states (seq_service_watch.c; the diagram is there).  Every
 * change goes through watcher_enter, which checks it against
 * svc_watcher_allowed and logs it at debug. */
typedef enum wstate {
	W_DOWN,    /* not connected; next_try says when (or token_wait) */
	W_BUSY,    /* a job runs on a worker */
	W_IDLING,  /* IDLE sent, fd polled by the loop (not once stopping) */
	W_WAITING, /* connected, no IDLE running: next sync at next_try */
	W_NSTATES
} wstate;

typedef struct svc svc;

/* One watched inbox.  Loop thread only, except r->w, which the worker of
 * r's one job in flight (W_BUSY) uses while it runs. */
typedef struct wrt {
	svc *sv;
	db_inbox in; /* owned copy: the scheduler's may be reloaded */
	seq_watcher *w;
	wstate state;
	bool idle_owed; /* an IDLE runs on the server: DONE before any
	                   other command (the next job, or the stop) */
	uv_poll_t poll;
	bool poll_open;
	int64_t next_try;  /* monotonic ms */
	int64_t last_sync; /* monotonic ms */
	int fails;
	bool gone;       /* dropped: freed when its job returns */
	bool token_wait; /* W_DOWN until its OAuth2 refresh ends */
} wrt;

typedef struct svc_tokens svc_tokens; /* seq_service_token.c */
typedef struct svc_send svc_send;     /* seq_service_send.c */
typedef struct svc_doctor svc_doctor; /* seq_service_doctor.c */

/* What changed, for svc_wake: the one pass runs only what is dirty (or
 * due: the timer's pass runs SVC_TIME). */
enum {
	SVC_RELOAD = 1u << 0, /* settings or data changed: reload first */
	SVC_PLAN = 1u << 1,   /* the warmup planner's and the scheduler's
	                         passes (what to queue, and the next wake) */
	SVC_DUE = 1u << 2,    /* hand due outbox rows, warmup sends and
	                         warmup IMAP actions to workers */
	SVC_TIME = SVC_PLAN | SVC_DUE, /* the clock reached the wake */
	SVC_ALL = SVC_RELOAD | SVC_TIME
};

/* The kinds of job an inbox can have in flight: the one busy set. */
typedef enum svc_kind {
	SVC_SEND,        /* an SMTP batch (campaign or warmup sends) */
	SVC_WARMUP_IMAP, /* warmup's IMAP actions (read, rescue, archive) */
	SVC_WATCH,       /* a watcher's connect, sync or IDLE exchange */
	SVC_TOKEN,       /* an OAuth2 refresh */
	SVC_NKINDS
} svc_kind;
#define SVC_KIND(k)   (1u << (k))
#define SVC_ANY_KIND  ((1u << SVC_NKINDS) - 1)
#define SVC_NOT_SENDS (SVC_ANY_KIND & ~SVC_KIND(SVC_SEND))

typedef struct svc_busy_ent {
	long long inbox_id;
	svc_kind kind;
} svc_busy_ent;

struct svc {
	uv_loop_t loop;
	net_dns *dns; /* on loop: recipients' MX (esp_match, the watchers) */
	uv_timer_t timer, wtimer;
	uv_idle_t again; /* the pass, at the next loop turn after the I/O */
	uv_signal_t sig[3];
	uv_pipe_t ctl;
	bool ctl_open;
	db *d;
	cs_vault *v;
	const seq_service_opts *o;
	seq_sched *s;
	seq_warmup *wu; /* warmup planner (seq_warmup.c) */
	svc_send *snd;  /* the dispatcher and the SMTP transport */
	unsigned dirty; /* SVC_* for the next pass */
	int64_t wake;   /* the planners' next wake, from the last SVC_PLAN */
	long npass, nplan, ndue; /* passes run, with SVC_PLAN, with SVC_DUE */
	svc_busy_ent *busy;      /* jobs in flight (seq_service_loop.c) */
	size_t nbusy;
	wrt **w;
	size_t nw;
	svc_tokens *tok;  /* OAuth2 refreshes on workers */
	svc_doctor *doc;  /* the daily doctor check (NULL: none) */
	bool stopping;    /* read through svc_stopping */
	atomic_bool halt; /* stopping: what send workers see */
	int exit_rc;
	cs_err err;
	const char *crash_at;
	int crash_n;
};

/* tests only: COLDSEQ_CRASH_AT=point[:n] kills the process at point (the
 * n-th time it is reached).  Points: queued (outbox rows queued),
 * sending / warmup_sending (a batch of campaign rows / warmup sends
 * marked 'sending', not yet handed to the worker), after_dot /
 * warmup_after_dot (the server took DATA of a campaign / warmup message,
 * its result not yet recorded, no copy in Sent yet). */
void svc_crash_point(svc *sv, const char *point);

/* ---- the loop (seq_service_loop.c) ------------------------------------- */

/* Say what changed (SVC_*): one pass at the next turn of the loop runs it,
 * whatever the number of calls before it, then re-arms the one timer at
 * the earliest next wake.  Any job's end calls it (0 at least: with a
 * fast clock, or stopping, an end may be what the loop waits for). */
void svc_wake(svc *sv, unsigned what);
/* The one stop predicate: true once a stop was asked (signal, --until,
 * a fatal error).  Nothing new starts; the jobs in flight are drained. */
bool svc_stopping(const svc *sv);
/* Take no new work, and let send workers hand over no further message
 * (stopping and halt). */
void svc_stop(svc *sv);
/* Log err, remember it as the exit status and stop the loop. */
void svc_fatal_stop(svc *sv, const cs_err *err);
/* Set up and close the loop's pass handles (the timer and the idle). */
void svc_loop_init(svc *sv);
/* Log the pass counters (debug), at the stop. */
void svc_loop_report(const svc *sv);

/* The busy set: one entry per job in flight, by inbox and kind.  on
 * when a job is handed to a worker, off when its end is applied on the
 * loop (each on has exactly one off). */
void svc_busy_on(svc *sv, long long inbox_id, svc_kind kind);
void svc_busy_off(svc *sv, long long inbox_id, svc_kind kind);
/* Whether inbox_id has a job of this kind in flight. */
bool svc_busy(const svc *sv, long long inbox_id, svc_kind kind);
/* How many jobs of the kinds in mask (SVC_KIND(k) | ...) are in flight. */
int svc_jobs(const svc *sv, unsigned mask);

/* Hand due outbox rows (every purpose) to workers through the
 * dispatcher, and warmup's IMAP actions (seq_service_send.c). */
void svc_dispatch(svc *sv);
/* The dispatcher with the service's SMTP transport (after the scheduler
 * and the warmup planner are open); closed after the loop. */
int svc_send_open(svc *sv, cs_err *err);
void svc_send_close(svc *sv);
/* Start-up, before the loop: rows left 'sending' by a crash looked for in
 * their inbox's Sent folder and settled (seq_dispatch_resolve). */
int svc_send_resolve(svc *sv, cs_err *err);

/* ---- the watchers (seq_service_watch.c) -------------------------------- */

/* Whether a watcher may go from one state to the other (the table in
 * seq_service_watch.c). */
bool svc_watcher_allowed(wstate from, wstate to);
const char *svc_wstate_name(wstate s);
/* Every change of r->state: checked (a refused one is a bug: logged,
 * and CS_BUG_CHECK), logged at debug with the inbox and from -> to. */
void svc_watcher_enter(wrt *r, wstate to);
/* Reload settings; watchers for new inboxes, none for removed ones. */
void svc_reload_all(svc *sv);
void svc_sync_watchers(svc *sv);
void svc_watch_start(wrt *r);
/* A watcher for an inbox that has none (add_watcher; logged on failure). */
void svc_watch_add(svc *sv, const db_inbox *in);
/* Arm the watchers' one timer for the earliest reconnect, poll or IDLE
 * refresh (none due: no timer). */
void svc_arm_watchers(svc *sv);
/* At a stop, the jobs drained: stop polling (the signal), or end every
 * IDLE still running and drop every watcher (the end of run). */
void svc_watch_pause_all(svc *sv);
void svc_watch_close_all(svc *sv);

/* ---- what keeps an inbox from watching or sending (seq_service_health.c)
 */

/* in's watcher is now `state` (starting: no sync finished yet; ok: synced,
 * its follow-ups may go; down: error says why): recorded for status and
 * campaign explain, and logged, only when it changed. */
void svc_note_watch(svc *sv, const db_inbox *in, db_watch_state state,
                    const char *error);
/* in's settings or credentials could not be used to send (why), or could
 * (why NULL or why->code 0): recorded and logged only when it changed, so
 * a failure retried on every pass is logged once. */
void svc_note_send(svc *sv, const db_inbox *in, const cs_err *why);

/* ---- OAuth2 access tokens (seq_service_token.c) ------------------------ */

/* Once the loop and the control socket are up, before the watchers: the
 * token timer, and refreshes for every token due (real time). */
void svc_token_start(svc *sv);
/* The inboxes and their token rows read again (after a reload). */
void svc_token_sync(svc *sv);
/* Whether in's credentials can be read now without the network (not
 * oauth2, or its stored token usable: seq_token_check).  When not, a
 * refresh is started on a worker (or runs already); its end wakes the
 * service (SVC_DUE) and restarts the watchers that wait for it. */
bool svc_token_usable(svc *sv, const db_inbox *in);
/* Called with the forced refresh's outcome, on the loop: 0 when a new
 * token is stored and usable; CS_EAUTH when the provider refused the
 * refresh token (the inbox is auth_failed); else a failure that may pass
 * (also when the service stops first).  err may be NULL. */
typedef void (*svc_token_cb)(svc *sv, void *arg, int rc, const cs_err *err);
/* A refresh now, whatever the token's age (the server refused it), on a
 * worker; cb(arg) when it ends.  One refresh in flight per inbox: a call
 * while one runs waits for that one.  arg must stay valid until cb. */
void svc_token_force(svc *sv, long long inbox_id, svc_token_cb cb, void *arg);
/* Before a watcher's (re)connect: true when it must wait for a refresh
 * (r is then W_DOWN with token_wait, restarted when the refresh ends):
 * its token is not usable, or it failed since its last good connect (a
 * forced refresh, once per failure streak, as seq_watcher_reauth). */
bool svc_token_hold(wrt *r);
/* After the loop is closed. */
void svc_token_free(svc *sv);

/* ---- the daily doctor check (seq_service_doctor.c) --------------------- */

/* Once the loop is up: the timer of the doctor child (none on a
 * simulated clock or with doctor.refresh 0). */
void svc_doctor_start(svc *sv);
/* At the stop (svc_stop): a running child is killed, every handle of the
 * check closed (its state freed by the last close callback).  Again: a
 * no-op. */
void svc_doctor_stop(svc *sv);

#endif

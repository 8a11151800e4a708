/*
 * seq_service_int.h - the service's state, shared by seq_service.c (the
 * loop, lock, control socket, signals, start-up), seq_service_send.c
 * (SMTP and warmup jobs on the worker pool) and seq_service_watch.c (the
 * IMAP watchers).  Everything here runs on the loop thread unless a
 * comment says "worker".
 */
#ifndef COLDSEQ_SEQ_SERVICE_INT_H
#define COLDSEQ_SEQ_SERVICE_INT_H

#include <stdatomic.h>
#include <uv.h>

#include "seq_int.h"

#define SEND_BATCH    10
#define IDLE_REFRESH  600000LL /* re-sync an idling inbox (real ms) */
#define POLL_INTERVAL 60000LL  /* servers without IDLE (real ms) */

typedef enum wstate {
	W_DOWN,    /* not connected; next_try says when */
	W_BUSY,    /* a job runs on a worker */
	W_IDLING,  /* IDLE sent, fd polled by the loop */
	W_WAITING, /* connected, no IDLE: next sync at next_try */
} wstate;

typedef struct svc svc;

typedef struct wrt {
	svc *sv;
	db_inbox in; /* owned copy: the scheduler's may be reloaded */
	seq_watcher *w;
	wstate state;
	uv_poll_t poll;
	bool poll_open;
	int64_t next_try;  /* monotonic ms */
	int64_t last_sync; /* monotonic ms */
	int fails;
	bool gone; /* removed by a reload: close when the job returns */
} wrt;

struct svc {
	uv_loop_t loop;
	uv_timer_t timer, wtimer;
	uv_signal_t sig[3];
	uv_pipe_t ctl;
	bool ctl_open;
	db *d;
	cs_vault *v;
	const seq_service_opts *o;
	seq_sched *s;
	seq_warmup *wu;   /* warmup planner (seq_warmup.c) */
	int inflight;     /* send jobs (campaign and warmup) */
	int wjobs;        /* watcher jobs and warmup IMAP jobs */
	long long *abusy; /* inboxes with a warmup IMAP job */
	size_t nabusy;
	long long *busy; /* inboxes with a send job */
	size_t nbusy;
	wrt **w;
	size_t nw;
	bool stopping, reload;
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
bool svc_is_busy(svc *sv, long long id);
void svc_set_busy(svc *sv, long long id, bool busy);
/* Log err, remember it as the exit status and stop the loop. */
void svc_fatal_stop(svc *sv, const cs_err *err);
/* A scheduling pass, the dispatch of what is due, the timer re-armed. */
void svc_tick(svc *sv);
/* Hand due outbox rows and warmup sends to workers (seq_service_send.c). */
void svc_dispatch(svc *sv);
/* Reload settings; watchers for new inboxes, none for removed ones
 * (seq_service_watch.c). */
void svc_reload_all(svc *sv);
void svc_sync_watchers(svc *sv);
void svc_watch_start(wrt *r);
/* Arm the watchers' one timer for the earliest reconnect, poll or IDLE
 * refresh (none due: no timer). */
void svc_arm_watchers(svc *sv);

#endif

/*
 * seq_service_health.c - what keeps an inbox from watching or sending, as
 * the service sees it, recorded for the CLI and logged, both on change
 * only.
 *
 * The CLI runs in another process: status and campaign explain read
 * these facts from the inbox_runtime table (db_runtime.c), which the
 * service writes here.  The stored row is also the service's "last
 * logged" memory: a fact that did not change is neither written nor
 * logged again, so an inbox whose watcher cannot connect, or whose
 * password cannot be read, logs its error once (and again when the error
 * changes or the inbox recovers), not on every retry or pass.  Times are
 * real time: these are facts about servers and secrets, not schedule.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_service_int.h"

#include <string.h>
#include <unistd.h>

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The row as this service wrote it (zeroed when another wrote it). */
void svc_note_watch(svc *sv, const db_inbox *in, db_watch_state state,
                    const char *error)
{
	db_inbox_runtime rt;
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL), since = now;

	if (seq_inbox_runtime(sv->d, in->id, (long)getpid(), &rt, &err) != 0) {
		cs_log_error("inbox %s: %s", in->name, err.msg);
		return;
	}
	if (rt.watch_state == state && same(rt.watch_error, error)) {
		db_runtime_free(&rt);
		return; /* unchanged: already recorded and logged */
	}
	if (rt.watch_state == state)
		since = rt.watch_since; /* down still, for another reason */
	if (state == DB_WATCH_DOWN)
		cs_log_warn("inbox %s: watcher: %s (its follow-ups wait; "
		            "retrying, logged again when this changes)",
		            in->name, error ? error : "?");
	else if (state == DB_WATCH_OK && rt.watch_state == DB_WATCH_DOWN)
		cs_log_info("inbox %s: watcher connected and synced again",
		            in->name);
	if (db_runtime_set_watch(sv->d, in->id, (long)getpid(), state, error,
	                         since, now, &err) != 0)
		cs_log_error("inbox %s: %s", in->name, err.msg);
	db_runtime_free(&rt);
}

void svc_note_send(svc *sv, const db_inbox *in, const cs_err *why)
{
	db_inbox_runtime rt;
	cs_err err = CS_ERR_INIT;
	const char *msg = why && why->code ? why->msg : NULL;
	int64_t now = cs_clock_now(NULL);

	if (seq_inbox_runtime(sv->d, in->id, (long)getpid(), &rt, &err) != 0) {
		cs_log_error("inbox %s: %s", in->name, err.msg);
		return;
	}
	if (same(rt.send_error, msg)) {
		db_runtime_free(&rt);
		return;
	}
	if (msg)
		cs_log_error("inbox %s: cannot send: %s (nothing goes from it "
		             "until this is fixed; logged again when it "
		             "changes)",
		             in->name, msg);
	else
		cs_log_info("inbox %s: its settings and credentials can be "
		            "used again",
		            in->name);
	if (db_runtime_set_send(sv->d, in->id, (long)getpid(), msg,
	                        msg && rt.send_error ? rt.send_since : now, now,
	                        &err) != 0)
		cs_log_error("inbox %s: %s", in->name, err.msg);
	db_runtime_free(&rt);
}

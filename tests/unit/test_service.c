/*
 * test_service.c - the service loop's own machinery, without a mail
 * server: the watcher transition table (every (from, to) pair: the
 * allowed ones pass, every other one is refused), svc_watcher_enter, the
 * one busy set, and the coalescing of svc_wake (many calls, one pass).
 */
#include "unit.h"

#include "sequencer/seq_service_int.h"

/* The watcher diagram (seq_service_watch.c), written out again. */
static const struct {
	wstate from, to;
} ALLOWED[] = {
    {W_DOWN, W_DOWN},    /* svc_token_hold, watch_down while down */
    {W_DOWN, W_BUSY},    /* watch_job: connect */
    {W_BUSY, W_DOWN},    /* watch_down: a job failed; a dropped one */
    {W_BUSY, W_WAITING}, /* a sync ended; IDLE found mail waiting */
    {W_BUSY, W_IDLING},  /* IDLE started, fd parked */
    {W_WAITING, W_BUSY}, /* the next sync */
    {W_IDLING, W_BUSY},  /* readable, IDLE refresh */
};

static bool listed(wstate from, wstate to)
{
	size_t i;

	for (i = 0; i < sizeof ALLOWED / sizeof ALLOWED[0]; i++)
		if (ALLOWED[i].from == from && ALLOWED[i].to == to)
			return true;
	return false;
}

static void watcher_transitions(void **state)
{
	int from, to, n = 0;

	(void)state;
	for (from = 0; from < W_NSTATES; from++)
		for (to = 0; to < W_NSTATES; to++) {
			bool want = listed((wstate)from, (wstate)to);

			if (svc_watcher_allowed((wstate)from, (wstate)to) !=
			    want)
				fail_msg("watcher %s -> %s: %s, want %s",
				         svc_wstate_name((wstate)from),
				         svc_wstate_name((wstate)to),
				         want ? "refused" : "allowed",
				         want ? "allowed" : "refused");
			n += want;
		}
	assert_int_equal(n, (int)(sizeof ALLOWED / sizeof ALLOWED[0]));
	/* out of range: refused, named "?" */
	assert_false(svc_watcher_allowed(W_NSTATES, W_DOWN));
	assert_false(svc_watcher_allowed(W_DOWN, W_NSTATES));
	assert_string_equal(svc_wstate_name(W_NSTATES), "?");
	assert_string_equal(svc_wstate_name(W_IDLING), "idling");
}

/* Every allowed transition through svc_watcher_enter lands in its state,
 * the IDLE debt untouched. */
static void watcher_enter_walks_the_diagram(void **state)
{
	static const wstate walk[] = {W_DOWN,   W_BUSY, W_WAITING, W_BUSY,
	                              W_IDLING, W_BUSY, W_DOWN,    W_BUSY};
	wrt r;
	size_t i;

	(void)state;
	memset(&r, 0, sizeof r);
	r.in.name = (char *)"unit";
	r.state = W_DOWN;
	r.idle_owed = true;
	for (i = 0; i < sizeof walk / sizeof walk[0]; i++) {
		svc_watcher_enter(&r, walk[i]);
		assert_int_equal(r.state, walk[i]);
	}
	assert_true(r.idle_owed);
}

static void busy_set(void **state)
{
	svc sv;

	(void)state;
	memset(&sv, 0, sizeof sv);
	assert_int_equal(svc_jobs(&sv, SVC_ANY_KIND), 0);
	svc_busy_on(&sv, 7, SVC_SEND);
	svc_busy_on(&sv, 7, SVC_WARMUP_IMAP);
	svc_busy_on(&sv, 8, SVC_TOKEN);
	svc_busy_on(&sv, 9, SVC_WATCH);
	svc_busy_on(&sv, 9, SVC_WATCH); /* a dropped watcher's job, and the
	                                   new watcher's for the same id */
	assert_true(svc_busy(&sv, 7, SVC_SEND));
	assert_true(svc_busy(&sv, 7, SVC_WARMUP_IMAP));
	assert_false(svc_busy(&sv, 7, SVC_TOKEN));
	assert_false(svc_busy(&sv, 8, SVC_SEND));
	assert_int_equal(svc_jobs(&sv, SVC_KIND(SVC_SEND)), 1);
	assert_int_equal(svc_jobs(&sv, SVC_NOT_SENDS), 4);
	assert_int_equal(svc_jobs(&sv, SVC_ANY_KIND), 5);
	svc_busy_off(&sv, 7, SVC_SEND);
	assert_false(svc_busy(&sv, 7, SVC_SEND));
	assert_true(svc_busy(&sv, 7, SVC_WARMUP_IMAP));
	svc_busy_off(&sv, 9, SVC_WATCH);
	assert_true(svc_busy(&sv, 9, SVC_WATCH));
	svc_busy_off(&sv, 9, SVC_WATCH);
	assert_false(svc_busy(&sv, 9, SVC_WATCH));
	svc_busy_off(&sv, 7, SVC_WARMUP_IMAP);
	svc_busy_off(&sv, 8, SVC_TOKEN);
	assert_int_equal(svc_jobs(&sv, SVC_ANY_KIND), 0);
	free(sv.busy);
}

/* Many wakes before the loop turns: one pass, with every flag.  The
 * service is stopping, so the pass only counts itself and, nothing in
 * flight, ends the loop (no planner is needed). */
static void wakes_coalesce_into_one_pass(void **state)
{
	seq_service_opts o;
	svc sv;
	int n;

	(void)state;
	memset(&o, 0, sizeof o);
	memset(&sv, 0, sizeof sv);
	sv.o = &o;
	assert_int_equal(uv_loop_init(&sv.loop), 0);
	svc_loop_init(&sv);
	svc_stop(&sv);
	assert_true(svc_stopping(&sv));
	svc_wake(&sv, SVC_DUE);
	svc_wake(&sv, SVC_PLAN);
	svc_wake(&sv, 0);
	svc_wake(&sv, SVC_RELOAD);
	assert_int_equal(sv.dirty, SVC_ALL);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	assert_int_equal(sv.npass, 1);
	assert_int_equal(sv.dirty, 0);
	/* with a job in flight the stopping pass does not end the loop:
	 * it returns when nothing is active any more */
	svc_busy_on(&sv, 1, SVC_SEND);
	svc_wake(&sv, 0);
	svc_wake(&sv, SVC_DUE);
	n = uv_run(&sv.loop, UV_RUN_NOWAIT);
	assert_int_equal(sv.npass, 2);
	(void)n;
	svc_busy_off(&sv, 1, SVC_SEND);
	uv_close((uv_handle_t *)&sv.timer, NULL);
	uv_close((uv_handle_t *)&sv.again, NULL);
	uv_run(&sv.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&sv.loop), 0);
	free(sv.busy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(watcher_transitions),
	    cmocka_unit_test(watcher_enter_walks_the_diagram),
	    cmocka_unit_test(busy_set),
	    cmocka_unit_test(wakes_coalesce_into_one_pass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

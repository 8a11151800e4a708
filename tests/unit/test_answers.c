/*
 * test_answers.c - what a provider's answer at submission does to the
 * inbox that sent and to the message (issue 21), through the scheduler
 * and the production dispatcher (seq_sched_run_sim) with a scripted
 * transport: inbox "a" meets the answer once, inbox "b" always sends.
 * For each action: paused until the quota frees (and not before), paused
 * with no end, auth_failed or not, no new session during a backoff; and
 * inbox b keeps sending meanwhile.
 */
#include "sched_fx.h"

#include <sqlite3.h>

#include "smtp/smtp.h"

typedef struct script {
	fx *f;
	/* the answer inbox a gets at its nth attempt */
	int nth;
	smtp_phase phase;
	int code;
	const char *text;
	/* what happened */
	int attempts_a;
	int64_t refused_at;
	char refused_msgid[128], refused_contact[64];
	int64_t a_at[64], b_at[64];
	char a_contact[64][64], b_contact[64][64];
	int na, nb;
} script;

/* As smtp_session.c fills a result: enhanced status, policy, detail. */
static void answer(smtp_result *res, smtp_phase phase, int code,
                   const char *text)
{
	memset(res, 0, sizeof *res);
	res->phase = phase;
	res->code = code;
	snprintf(res->text, sizeof res->text, "%s", text);
	smtp_parse_enhanced(res->text, res->enhanced);
	smtp_policy(phase, code, res->enhanced, res->text, &res->verdict);
	snprintf(res->detail, sizeof res->detail,
	         "%s: 127.0.0.1:2525 answered %d %s", smtp_phase_name(phase),
	         code, text);
}

static int s_send(void *arg, const seq_job *job, smtp_result *res)
{
	script *sc = arg;

	if (strcmp(job->inbox, "a") == 0 && ++sc->attempts_a == sc->nth) {
		answer(res, sc->phase, sc->code, sc->text);
		sc->refused_at = job->at;
		snprintf(sc->refused_msgid, sizeof sc->refused_msgid, "%s",
		         job->message_id);
		snprintf(sc->refused_contact, sizeof sc->refused_contact, "%s",
		         job->contact);
		return 0;
	}
	if (strcmp(job->inbox, "a") == 0) {
		assert_true(sc->na < 64);
		snprintf(sc->a_contact[sc->na], 64, "%s", job->contact);
		sc->a_at[sc->na++] = job->at;
	} else {
		assert_true(sc->nb < 64);
		snprintf(sc->b_contact[sc->nb], 64, "%s", job->contact);
		sc->b_at[sc->nb++] = job->at;
	}
	memset(res, 0, sizeof *res);
	res->code = 250;
	res->verdict.outcome = SMTP_SENT;
	return 0;
}

static const char *const contacts[] = {
    "c01@x.test", "c02@x.test", "c03@x.test", "c04@x.test", "c05@x.test",
    "c06@x.test", "c07@x.test", "c08@x.test", "c09@x.test", "c10@x.test",
    "c11@x.test", "c12@x.test", "c13@x.test", "c14@x.test", "c15@x.test",
    "c16@x.test", "c17@x.test", "c18@x.test", "c19@x.test", "c20@x.test",
    NULL};

#define T0 "2026-12-01T08:00:00Z"

/* Two inboxes, twenty contacts, a one-step campaign over both; run the
 * scheduler for 6 hours with sc's answer (cap: each inbox's daily cap,
 * which sets the pace). */
static void play(fx *f, script *sc, int cap)
{
	cs_clock *clock;
	seq_sched *s = NULL;
	seq_transport t = {.send = s_send, .arg = sc};
	cs_err err = CS_ERR_INIT;
	int64_t t0 = at(T0);

	add_inbox(f, "a", cap, "UTC", NULL);
	add_inbox(f, "b", cap, "UTC", NULL);
	add_contacts(f, "l", contacts);
	add_template(f, "intro", "Subject: Hello {{first_name}}\n\nHi.\n");
	create_campaign(f,
	                "name: q1\nlist: l\ninboxes: [a, b]\n"
	                "timezone: UTC\nwindow: {days: [mon, tue, wed, thu, "
	                "fri, sat, sun], from: \"00:00\", to: \"24:00\"}\n"
	                "new_contacts_per_day: 100\nsteps:\n  - template: "
	                "intro\n",
	                true, t0, NULL);
	sc->f = f;
	clock = cs_clock_new_sim(t0, 0);
	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	if (seq_sched_run_sim(s, &t, t0 + 6 * 3600000LL, &err) != 0)
		fail_msg("run: %s", err.msg);
	seq_sched_close(s);
	cs_clock_free(clock);
	assert_true(sc->refused_at > 0);
}

typedef struct irow {
	char status[16], auth_state[16];
	int64_t paused_until; /* 0: NULL */
	char reason[600], auth_reason[600];
} irow;

static sqlite3 *open_db(fx *f)
{
	sqlite3 *h;
	char *p = cs_xasprintf("%s/coldseq.db", f->dir);

	assert_int_equal(sqlite3_open(p, &h), SQLITE_OK);
	free(p);
	return h;
}

static void inbox_a(fx *f, irow *r)
{
	sqlite3 *h = open_db(f);
	sqlite3_stmt *st;

	memset(r, 0, sizeof *r);
	assert_int_equal(
	    sqlite3_prepare_v2(h,
	                       "SELECT status, auth_state, paused_until, "
	                       "coalesce(paused_reason, ''), "
	                       "coalesce(auth_reason, '') FROM inboxes WHERE "
	                       "name = 'a'",
	                       -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	snprintf(r->status, sizeof r->status, "%s",
	         (const char *)sqlite3_column_text(st, 0));
	snprintf(r->auth_state, sizeof r->auth_state, "%s",
	         (const char *)sqlite3_column_text(st, 1));
	r->paused_until = sqlite3_column_int64(st, 2);
	snprintf(r->reason, sizeof r->reason, "%s",
	         (const char *)sqlite3_column_text(st, 3));
	snprintf(r->auth_reason, sizeof r->auth_reason, "%s",
	         (const char *)sqlite3_column_text(st, 4));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

/* The refused message's outbox row: state and due (found false: gone). */
static bool outbox_of(fx *f, const char *msgid, char state[16], int64_t *due)
{
	sqlite3 *h = open_db(f);
	sqlite3_stmt *st;
	bool found;

	assert_int_equal(sqlite3_prepare_v2(h,
	                                    "SELECT state, due_at FROM outbox "
	                                    "WHERE message_id = ?1",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_text(st, 1, msgid, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	if (found) {
		snprintf(state, 16, "%s",
		         (const char *)sqlite3_column_text(st, 0));
		*due = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return found;
}

/* a sent nothing after the answer, b went on sending after it. */
static void a_stopped_b_went_on(const script *sc)
{
	int i, after = 0;

	for (i = 0; i < sc->na; i++)
		if (sc->a_at[i] > sc->refused_at)
			fail_msg("inbox a sent at +%lld s after the answer",
			         (long long)(sc->a_at[i] - sc->refused_at) /
			             1000);
	for (i = 0; i < sc->nb; i++)
		after += sc->b_at[i] > sc->refused_at;
	assert_true(after >= 5);
}

static void quota_pauses_until_the_window_frees(void **state)
{
	fx *f = *state;
	script sc = {.nth = 3,
	             .phase = SMTP_PH_MAIL,
	             .code = 550,
	             .text = "5.4.5 Daily user sending limit exceeded. For "
	                     "more information on Gmail sending limits go to "
	                     "https://support.google.com/a/answer/166852 - "
	                     "gsmtp"};
	irow r;
	char st[16];
	int64_t due = 0;

	play(f, &sc, 50);
	assert_int_equal(sc.na, 2); /* two went before the limit */
	inbox_a(f, &r);
	assert_string_equal(r.status, "paused");
	assert_string_equal(r.auth_state, "ok");
	/* the rolling window frees 24 h after a's first message */
	assert_int_equal(r.paused_until, sc.a_at[0] + 86400000LL);
	assert_non_null(strstr(r.reason, "550 5.4.5 Daily user sending limit "
	                                 "exceeded"));
	assert_non_null(strstr(r.reason, "(Google): the provider's 24-hour "
	                                 "sending limit"));
	/* the message waits for the window: never retried before */
	assert_true(outbox_of(f, sc.refused_msgid, st, &due));
	assert_string_equal(st, "queued");
	assert_true(due >= r.paused_until);
	a_stopped_b_went_on(&sc);
}

static void restricted_pauses_with_no_end(void **state)
{
	fx *f = *state;
	script sc = {.nth = 2,
	             .phase = SMTP_PH_MAIL,
	             .code = 550,
	             .text = "5.1.8 Access denied, bad outbound sender. "
	                     "AS(42004) [DB8EUR05FT000.eop-eur05.prod."
	                     "protection.outlook.com]"};
	irow r;
	char st[16];
	int64_t due = 0;
	int i;
	bool by_b = false;

	play(f, &sc, 50);
	inbox_a(f, &r);
	assert_string_equal(r.status, "paused");
	assert_int_equal(r.paused_until, 0); /* until the user resumes */
	assert_string_equal(r.auth_state, "ok");
	assert_non_null(strstr(r.reason, "550 5.1.8 Access denied"));
	assert_non_null(strstr(r.reason, "Restricted entities"));
	a_stopped_b_went_on(&sc);
	/* nobody knows when it ends: the refused first step went back to
	 * the pool, and b sent it */
	assert_false(outbox_of(f, sc.refused_msgid, st, &due));
	for (i = 0; i < sc.nb; i++)
		by_b |= strcmp(sc.b_contact[i], sc.refused_contact) == 0;
	assert_true(by_b);
}

static void bad_credentials_is_auth_failed(void **state)
{
	fx *f = *state;
	script sc = {.nth = 2,
	             .phase = SMTP_PH_AUTH,
	             .code = 535,
	             .text = "5.7.8 Username and Password not accepted. For "
	                     "more information, go to https://support.google."
	                     "com/mail/?p=BadCredentials - gsmtp"};
	irow r;
	int i;
	bool by_b = false;

	play(f, &sc, 50);
	inbox_a(f, &r);
	assert_string_equal(r.auth_state, "auth_failed");
	assert_string_equal(r.status, "active"); /* not a pause */
	assert_non_null(strstr(r.auth_reason, "535 5.7.8 Username and "
	                                      "Password not accepted"));
	assert_non_null(strstr(r.auth_reason, "app password"));
	a_stopped_b_went_on(&sc);
	/* the refused first step went back to the pool: b sent it */
	for (i = 0; i < sc.nb; i++)
		by_b |= strcmp(sc.b_contact[i], sc.refused_contact) == 0;
	assert_true(by_b);
}

static void smtp_auth_disabled_is_a_pause_not_auth_failed(void **state)
{
	fx *f = *state;
	script sc = {.nth = 2,
	             .phase = SMTP_PH_AUTH,
	             .code = 535,
	             .text = "5.7.139 Authentication unsuccessful, "
	                     "SmtpClientAuthentication is disabled for the "
	                     "Mailbox. Visit https://aka.ms/smtp_auth_disabled "
	                     "for more information."};
	irow r;

	play(f, &sc, 50);
	inbox_a(f, &r);
	assert_string_equal(r.auth_state, "ok");
	assert_string_equal(r.status, "paused");
	assert_int_equal(r.paused_until, 0);
	assert_non_null(strstr(r.reason, "535 5.7.139"));
	assert_non_null(
	    strstr(r.reason, "Set-CASMailbox -SmtpClientAuthenticationDisabled "
	                     "$false"));
	a_stopped_b_went_on(&sc);
}

static void backoff_opens_no_session_for_a_while(void **state)
{
	fx *f = *state;
	script sc = {.nth = 2,
	             .phase = SMTP_PH_AUTH,
	             .code = 454,
	             .text = "4.7.0 Too many login attempts, please try again "
	                     "later. d2-20020a17090a000000b0000sm1 - gsmtp"};
	irow r;
	char st[16];
	int64_t due = 0;
	int i, after = 0;
	bool retried = false;

	play(f, &sc, 400); /* a send every few minutes */
	inbox_a(f, &r);
	assert_string_equal(r.status, "active"); /* not a pause */
	assert_string_equal(r.auth_state, "ok");
	/* a's next session no sooner than the rule's 15 minutes */
	for (i = 0; i < sc.na; i++)
		if (sc.a_at[i] > sc.refused_at) {
			assert_true(sc.a_at[i] >= sc.refused_at + 900000);
			after++;
			retried |=
			    strcmp(sc.a_contact[i], sc.refused_contact) == 0;
		}
	assert_true(after > 0); /* then it sends again */
	assert_true(retried);   /* the message too, same Message-ID */
	assert_true(outbox_of(f, sc.refused_msgid, st, &due));
	assert_string_equal(st, "sent");
	for (i = 0, after = 0; i < sc.nb; i++)
		after += sc.b_at[i] > sc.refused_at &&
		         sc.b_at[i] < sc.refused_at + 900000;
	assert_true(after >= 1); /* b went on meanwhile (its own pace) */
	for (i = 0, after = 0; i < sc.nb; i++)
		after += sc.b_at[i] > sc.refused_at;
	assert_true(after >= 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(quota_pauses_until_the_window_frees,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(restricted_pauses_with_no_end,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_credentials_is_auth_failed,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        smtp_auth_disabled_is_a_pause_not_auth_failed, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        backoff_opens_no_session_for_a_while, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_event_policy.c - the inbound-event policy table (seq_policy.c):
 * every classifier kind in every context has a row, the rows are
 * consistent, and the decisions that matter give the expected actions.
 * The watch integration tests prove the effects on a real mailbox.
 */
#include "unit.h"

#include <stdbool.h>
#include <string.h>

#include "sequencer/seq_int.h"

static const cls_kind kinds[] = {
    CLS_OTHER,      CLS_BOUNCE,      CLS_DELAY, CLS_COMPLAINT,
    CLS_AUTO_REPLY, CLS_UNSUBSCRIBE, CLS_REPLY,
};

static const seq_event_policy *row(cls_kind k, seq_event_ctx cx, int hard,
                                   bool token)
{
	const seq_event_policy *p = seq_event_policy_find(k, cx, hard, token);

	assert_non_null(p);
	return p;
}

/* No hole: each kind x context x hardness x token finds a row, and the
 * row is consistent (a suppression is also a stop, a stop says to what
 * status, a suppression why). */
static void every_kind_has_a_row(void **state)
{
	size_t k;
	int cx, hard, token;

	(void)state;
	for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
		for (cx = 0; cx < SEQ_CTX_COUNT; cx++)
			for (hard = -1; hard <= 1; hard++)
				for (token = 0; token <= 1; token++) {
					const seq_event_policy *p =
					    row(kinds[k], (seq_event_ctx)cx,
					        hard, token != 0);
					unsigned all = p->always | p->once;

					assert_non_null(p->name);
					assert_true(p->record < DB_EV_COUNT);
					if (all & SEQ_ACT_SUPPRESS) {
						assert_true(all & SEQ_ACT_STOP);
						assert_non_null(p->reason);
					}
					if (all & SEQ_ACT_STOP)
						assert_int_not_equal(
						    p->stop_status,
						    DB_CONTACT_ACTIVE);
				}
}

/* The stored names are the database's: one per kind, each parses back. */
static void kind_names_round_trip(void **state)
{
	int i, j;
	db_event_kind k;

	(void)state;
	for (i = 0; i < DB_EV_COUNT; i++) {
		assert_true(db_event_kind_parse(
		    db_event_kind_name((db_event_kind)i), &k));
		assert_int_equal(k, i);
		for (j = 0; j < i; j++)
			assert_string_not_equal(
			    db_event_kind_name((db_event_kind)i),
			    db_event_kind_name((db_event_kind)j));
	}
	assert_string_equal(db_event_kind_name(DB_EV_AUTO_REPLY), "auto_reply");
	assert_false(db_event_kind_parse("bogus", &k));
	/* the classifier's names for the kinds it knows are the same */
	for (i = 0; i < (int)(sizeof kinds / sizeof kinds[0]); i++)
		assert_true(db_event_kind_parse(cls_kind_name(kinds[i]), &k));
}

static void bounces(void **state)
{
	const seq_event_policy *p;

	(void)state;
	/* hard: stop and suppress every time, pause check once */
	p = row(CLS_BOUNCE, SEQ_CTX_MATCHED, 1, false);
	assert_string_equal(p->name, "hard-bounce");
	assert_int_equal(p->record, DB_EV_BOUNCE);
	assert_int_equal(p->always, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS);
	assert_int_equal(p->once, SEQ_ACT_PAUSE_INBOX);
	assert_int_equal(p->stop_status, DB_CONTACT_BOUNCED);
	assert_true(p->reason_detail);
	/* also when we cannot tell which message it was */
	assert_string_equal(row(CLS_BOUNCE, SEQ_CTX_UNMATCHED, 1, false)->name,
	                    "hard-bounce");
	/* soft: the step again, once, no stop */
	p = row(CLS_BOUNCE, SEQ_CTX_MATCHED, 0, false);
	assert_int_equal(p->always, 0);
	assert_int_equal(p->once, SEQ_ACT_RETRY_SOFT);
	/* no recipient named: nothing to act on */
	p = row(CLS_BOUNCE, SEQ_CTX_MATCHED, -1, false);
	assert_int_equal(p->always | p->once, 0);
	/* a delay is never a stop, even "hard" */
	p = row(CLS_DELAY, SEQ_CTX_MATCHED, 1, false);
	assert_int_equal(p->record, DB_EV_DELAY);
	assert_int_equal(p->always | p->once, 0);
	/* a complaint stops and suppresses, recipient or not */
	p = row(CLS_COMPLAINT, SEQ_CTX_UNMATCHED, -1, false);
	assert_int_equal(p->always, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS);
	assert_int_equal(p->stop_status, DB_CONTACT_COMPLAINED);
	assert_string_equal(p->reason, "complaint");
}

static void replies_unsubscribes_auto_replies(void **state)
{
	const seq_event_policy *p;

	(void)state;
	/* a reply stops without suppressing */
	p = row(CLS_REPLY, SEQ_CTX_MATCHED, -1, false);
	assert_int_equal(p->record, DB_EV_REPLY);
	assert_int_equal(p->always, SEQ_ACT_STOP);
	assert_int_equal(p->once, 0);
	assert_int_equal(p->stop_status, DB_CONTACT_REPLIED);
	/* an unplaced message that answers ours is a reply too */
	assert_int_equal(row(CLS_OTHER, SEQ_CTX_MATCHED, -1, false)->record,
	                 DB_EV_REPLY);
	/* answering nothing of ours: kept as other, no effect */
	p = row(CLS_REPLY, SEQ_CTX_UNMATCHED, -1, false);
	assert_int_equal(p->record, DB_EV_OTHER);
	assert_int_equal(p->always | p->once, 0);
	/* unsubscribes stop and suppress matched or not; the reason says
	 * how it came */
	p = row(CLS_UNSUBSCRIBE, SEQ_CTX_UNMATCHED, -1, true);
	assert_int_equal(p->always, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS);
	assert_string_equal(p->reason, "unsubscribe (List-Unsubscribe)");
	assert_string_equal(
	    row(CLS_UNSUBSCRIBE, SEQ_CTX_MATCHED, -1, false)->reason,
	    "unsubscribe (asked by reply)");
	/* an auto-reply acts once (stop or wait), never suppresses */
	p = row(CLS_AUTO_REPLY, SEQ_CTX_MATCHED, -1, false);
	assert_int_equal(p->record, DB_EV_AUTO_REPLY);
	assert_int_equal(p->always, 0);
	assert_int_equal(p->once, SEQ_ACT_AUTO_REPLY);
}

/* What a message is about comes before what it says. */
static void own_and_warmup_come_first(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		const seq_event_policy *own =
		    row(kinds[k], SEQ_CTX_OWN, 1, true);
		const seq_event_policy *w =
		    row(kinds[k], SEQ_CTX_WARMUP, 1, true);

		assert_int_equal(own->record, DB_EV_OTHER);
		assert_int_equal(own->always | own->once, 0);
		assert_int_equal(w->record, DB_EV_WARMUP);
		assert_int_equal(w->always, 0);
		assert_int_equal(w->once, SEQ_ACT_SETTLE_WARMUP);
	}
}

static const seq_event_policy *answer(cls_kind k, seq_event_ctx cx, int hard,
                                      const char *status, cs_provider_id prov)
{
	const seq_event_policy *p =
	    seq_event_policy_answer(k, cx, hard, false, status, prov);

	assert_non_null(p);
	return p;
}

/* A receiving provider's refusal of the sending domain (#21): the domain
 * pauses (authentication) or slows (rate) toward that provider, the step
 * is retried, the address is never stopped or suppressed. */
static void provider_refusals(void **state)
{
	static const struct {
		const char *status;
		cs_provider_id prov;
		const char *name;
		int mode;
	} yes[] = {
	    {"5.7.26", CS_PROVIDER_GOOGLE, "gmail-unauthenticated",
	     DB_DPAUSE_PAUSE},
	    {"4.7.32", CS_PROVIDER_GOOGLE, "gmail-not-aligned",
	     DB_DPAUSE_PAUSE},
	    {"4.7.28", CS_PROVIDER_GOOGLE, "gmail-rate-limited",
	     DB_DPAUSE_SLOW},
	    {"5.7.515", CS_PROVIDER_MICROSOFT, "microsoft-unauthenticated",
	     DB_DPAUSE_PAUSE},
	    {"4.7.500", CS_PROVIDER_MICROSOFT, "microsoft-throttled",
	     DB_DPAUSE_SLOW},
	    {"4.7.650", CS_PROVIDER_MICROSOFT, "microsoft-throttled",
	     DB_DPAUSE_SLOW},
	    {"4.7.699", CS_PROVIDER_MICROSOFT, "microsoft-throttled",
	     DB_DPAUSE_SLOW},
	};
	/* a code from another provider than the one that uses it, or just
	 * outside a range: an ordinary bounce */
	static const struct {
		const char *status;
		cs_provider_id prov;
	} no[] = {
	    {"5.7.26", CS_PROVIDER_MICROSOFT},
	    {"5.7.26", CS_PROVIDER_GENERIC},
	    {"5.7.515", CS_PROVIDER_GOOGLE},
	    {"4.7.28", CS_PROVIDER_MICROSOFT},
	    {"4.7.499", CS_PROVIDER_MICROSOFT},
	    {"4.7.700", CS_PROVIDER_MICROSOFT},
	    {"4.7.5", CS_PROVIDER_MICROSOFT},
	    {"5.7.260", CS_PROVIDER_GOOGLE},
	    {"5.1.1", CS_PROVIDER_GOOGLE},
	    {"", CS_PROVIDER_GOOGLE},
	    {NULL, CS_PROVIDER_GOOGLE},
	};
	size_t i;
	int hard;

	(void)state;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		for (hard = -1; hard <= 1; hard++) {
			const seq_event_policy *b =
			    answer(CLS_BOUNCE, SEQ_CTX_MATCHED, hard,
			           yes[i].status, yes[i].prov);
			const seq_event_policy *d =
			    answer(CLS_DELAY, SEQ_CTX_MATCHED, hard,
			           yes[i].status, yes[i].prov);

			assert_string_equal(b->name, yes[i].name);
			assert_int_equal(b->record, DB_EV_BOUNCE);
			assert_int_equal(b->always, 0);
			assert_int_equal(b->once,
			                 SEQ_ACT_DOMAIN | SEQ_ACT_RETRY_SOFT);
			assert_int_equal(b->domain_mode, yes[i].mode);
			assert_int_equal(b->stop_status, DB_CONTACT_ACTIVE);
			/* a delay report: the pause only, the server still
			 * tries */
			assert_int_equal(d->record, DB_EV_DELAY);
			assert_int_equal(d->always, 0);
			assert_int_equal(d->once, SEQ_ACT_DOMAIN);
			assert_int_equal(d->domain_mode, yes[i].mode);
			assert_true(seq_event_policy_code(yes[i].status));
			/* about nothing we sent: no pause (a forged report
			 * must not stop a domain) */
			assert_false(answer(CLS_BOUNCE, SEQ_CTX_UNMATCHED, hard,
			                    yes[i].status, yes[i].prov)
			                 ->once &
			             SEQ_ACT_DOMAIN);
		}
	for (i = 0; i < sizeof no / sizeof no[0]; i++) {
		const seq_event_policy *b = answer(CLS_BOUNCE, SEQ_CTX_MATCHED,
		                                   0, no[i].status, no[i].prov);

		assert_string_equal(b->name, "soft-bounce");
		assert_false((b->always | b->once) & SEQ_ACT_DOMAIN);
		assert_string_equal(answer(CLS_BOUNCE, SEQ_CTX_MATCHED, 1,
		                           no[i].status, no[i].prov)
		                        ->name,
		                    "hard-bounce");
	}
	assert_false(seq_event_policy_code("5.1.1"));
	assert_false(seq_event_policy_code("4.7.700"));
	assert_false(seq_event_policy_code(""));
	assert_false(seq_event_policy_code(NULL));
	/* the rows without a code are what they were: find() never gives a
	 * provider's row */
	assert_string_equal(row(CLS_BOUNCE, SEQ_CTX_MATCHED, 0, false)->name,
	                    "soft-bounce");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_kind_has_a_row),
	    cmocka_unit_test(kind_names_round_trip),
	    cmocka_unit_test(bounces),
	    cmocka_unit_test(replies_unsubscribes_auto_replies),
	    cmocka_unit_test(own_and_warmup_come_first),
	    cmocka_unit_test(provider_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

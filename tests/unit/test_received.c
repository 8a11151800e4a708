/*
 * test_received.c - copies of our own mail that other connected inboxes
 * received: db_received_add / _summary / _selectors (db/db_received.c)
 * and the doctor's lines from them (doctor/dr_seen.c): per receiving
 * provider pass rates, the 90% / 5-copy rule, Junk placement, DMARC
 * derived from aligned SPF or DKIM, and the List-Unsubscribe evidence.
 */
#include "unit.h"

#include <sqlite3.h>

#include "db/db.h"
#include "doctor/doctor.h"

#define DAY (86400000LL)
#define NOW (100 * DAY)

typedef struct fx {
	char *dir, path[512];
	db *d;
	sqlite3 *h;
} fx;

static void sql(fx *f, const char *s)
{
	char *msg = NULL;

	if (sqlite3_exec(f->h, s, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", s, msg);
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	cs_err err = CS_ERR_INIT;

	f->dir = unit_tmpdir();
	snprintf(f->path, sizeof f->path, "%s/c.db", f->dir);
	assert_int_equal(db_open(f->path, DB_OPEN_CREATE, &f->d, &err), 0);
	assert_int_equal(sqlite3_open(f->path, &f->h), SQLITE_OK);
	sqlite3_busy_timeout(f->h, 5000);
	/* 1 sends from good.test; 2 (google), 3 (generic, rcv.test) and 4
	 * (microsoft) receive */
	sql(f, "INSERT INTO inboxes(id, uuid, name, email, provider, "
	       "created_at) VALUES (1, 'u1', 's', 'a@good.test', 'generic', 0),"
	       "(2, 'u2', 'g', 'b@gmail.test', 'google', 0),"
	       "(3, 'u3', 'r', 'c@rcv.test', 'generic', 0),"
	       "(4, 'u4', 'm', 'd@ms.test', 'microsoft', 0)");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	sqlite3_close(f->h);
	db_close(f->d);
	unit_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static void add_msg(fx *f, const char *id, const char *purpose)
{
	char q[512];

	snprintf(q, sizeof q,
	         "INSERT INTO messages(message_id, inbox_id, inbox_email, "
	         "recipient, purpose, created_at, local_day, outcome, "
	         "updated_at) VALUES ('%s', 1, 'a@good.test', 'x@y.test', "
	         "'%s', 0, '1970-01-01', 'sent', 0)",
	         id, purpose);
	sql(f, q);
}

/* One copy: message n of purpose, received by inbox rcv. */
static void copy(fx *f, long long rcv, int n, const char *purpose,
                 const char *folder, const char *spf, const char *dkim,
                 const char *dmarc, const char *mailfrom, const char *d,
                 const char *h, int lu)
{
	char id[64];
	db_received r;
	cs_err err = CS_ERR_INIT;
	bool known = false;

	snprintf(id, sizeof id, "<m%d.%lld@good.test>", n, rcv);
	add_msg(f, id, purpose);
	memset(&r, 0, sizeof r);
	r.receiver_inbox_id = rcv;
	r.message_id = id;
	r.folder = folder;
	r.received_at = NOW - DAY;
	r.spf = spf;
	r.dkim = dkim;
	r.dmarc = dmarc;
	r.mailfrom_domain = mailfrom;
	r.dkim_domain = d;
	r.dkim_selector = d ? "sel" : NULL;
	r.dkim_headers = h;
	r.list_unsub = lu;
	assert_int_equal(db_received_add(f->d, &r, &known, &err), 0);
	assert_true(known);
}

static const dr_check *line(const dr_list *l, const char *check,
                            const char *defect)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].check, check) == 0 &&
		    strcmp(l->v[i].defect, defect) == 0)
			return &l->v[i];
	return NULL;
}

static void add_once_and_unknown(void **state)
{
	fx *f = *state;
	db_received r;
	cs_err err = CS_ERR_INIT;
	bool known = true;
	db_received_sum *v = NULL;
	size_t n = 0;

	memset(&r, 0, sizeof r);
	r.receiver_inbox_id = 2;
	r.message_id = "<nobody@else.test>";
	r.folder = "inbox";
	r.received_at = NOW;
	assert_int_equal(db_received_add(f->d, &r, &known, &err), 0);
	assert_false(known);

	/* the first sighting's folder stands */
	copy(f, 2, 1, "warmup", "junk", "pass", "pass", "pass", "good.test",
	     "good.test", "from", 0);
	r.message_id = "<m1.2@good.test>";
	r.folder = "inbox";
	r.dkim = "fail";
	assert_int_equal(db_received_add(f->d, &r, &known, &err), 0);
	assert_true(known);
	assert_int_equal(db_received_summary(f->d, 1, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].provider, "google");
	assert_int_equal(v[0].total, 1);
	assert_int_equal(v[0].junk, 1);
	assert_int_equal(v[0].inbox, 0);
	assert_int_equal(v[0].dkim_pass, 1);
	free(v);
	/* nothing for the receiver as a sender, nothing before since */
	assert_int_equal(db_received_summary(f->d, 2, 0, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
	assert_int_equal(db_received_summary(f->d, 1, NOW, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void dmarc_derived(void **state)
{
	fx *f = *state;
	db_received_sum *v = NULL;
	size_t n = 0;
	cs_err err = CS_ERR_INIT;

	/* no dmarc= written: SPF pass aligned (a subdomain of the From
	 * domain) counts, DKIM pass of another domain does not, a written
	 * dmarc=fail stands over an aligned pass */
	copy(f, 3, 1, "warmup", "inbox", "pass", "fail", "", "bounce.good.test",
	     "good.test", "from", 0);
	copy(f, 3, 2, "warmup", "inbox", "fail", "pass", "", "good.test",
	     "esp.test", "from", 0);
	copy(f, 3, 3, "warmup", "inbox", "pass", "pass", "fail", "good.test",
	     "good.test", "from", 0);
	copy(f, 3, 4, "warmup", "inbox", "softfail", "pass", "", "x.test",
	     "Good.Test", "from", 0);
	copy(f, 3, 5, "warmup", "inbox", "pass", "none", "", "notgood.test",
	     NULL, NULL, 0);
	copy(f, 3, 6, "warmup", "inbox", "", "", "", NULL, NULL, NULL, 0);
	assert_int_equal(db_received_summary(f->d, 1, 0, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].provider, "rcv.test");
	assert_int_equal(v[0].total, 6);
	assert_int_equal(v[0].with_dmarc, 5);
	assert_int_equal(v[0].dmarc_pass, 2); /* copies 1 and 4 */
	assert_int_equal(v[0].with_spf, 5);
	assert_int_equal(v[0].spf_pass, 3);
	assert_int_equal(v[0].with_dkim, 5);
	assert_int_equal(v[0].dkim_pass, 3);
	free(v);
}

static void doctor_lines(void **state)
{
	fx *f = *state;
	dr_list l = {NULL, 0};
	cs_err err = CS_ERR_INIT;
	const dr_check *c;
	db_dkim_seen *sel = NULL;
	size_t nsel = 0;
	int i;

	/* nothing seen */
	assert_int_equal(dr_seen_checks(f->d, 1, NOW, &l, &err), 0);
	assert_int_equal(l.n, 1);
	c = line(&l, "receivers", "");
	assert_non_null(c);
	assert_int_equal(c->status, DR_PASS);
	assert_string_equal(c->found, "no copies seen in 7 days");
	dr_list_free(&l);

	/* google: 14 copies, DKIM 13/14 (93%): passes; Junk 2 of 14 */
	for (i = 0; i < 14; i++)
		copy(f, 2, i, "warmup", i < 2 ? "junk" : "inbox", "pass",
		     i == 0 ? "fail" : "pass", "pass", "good.test", "good.test",
		     "from", 0);
	/* microsoft: 5 copies, DKIM 4/5 (80%) fails, DMARC 4/5 fails, 2
	 * in Junk (40%) */
	for (i = 0; i < 5; i++)
		copy(f, 4, 100 + i, "warmup", i < 2 ? "junk" : "inbox", "pass",
		     i == 0 ? "fail" : "pass", i == 0 ? "fail" : "pass",
		     "good.test", "good.test", "from", 0);
	/* rcv.test: 4 copies all failing: under 5, no verdict */
	for (i = 0; i < 4; i++)
		copy(f, 3, 200 + i, "warmup", "inbox", "fail", "fail", "fail",
		     "good.test", "good.test", "from", 0);
	/* an old copy (8 days) does not count */
	copy(f, 3, 300, "warmup", "junk", "fail", "fail", "fail", "good.test",
	     "good.test", "from", 0);
	sql(f, "UPDATE received_copies SET received_at = 0 WHERE message_id "
	       "= '<m300.3@good.test>'");

	assert_int_equal(dr_seen_checks(f->d, 1, NOW, &l, &err), 0);
	c = line(&l, "receivers", "");
	assert_non_null(c);
	assert_string_equal(c->subject, "google");
	assert_string_equal(c->found, "google: 14 copies, SPF 100%, DKIM 93%, "
	                              "DMARC 100%, Inbox 12 / Junk 2");
	c = line(&l, "receivers", "dkim_failing");
	assert_non_null(c);
	assert_string_equal(c->subject, "microsoft");
	assert_int_equal(c->status, DR_FAIL);
	assert_string_equal(c->found, "microsoft: 5 copies, SPF 100%, DKIM "
	                              "80%, DMARC 80%, Inbox 3 / Junk 2");
	assert_non_null(strstr(c->fix, "sel._domainkey.good.test"));
	c = line(&l, "receivers", "dmarc_failing");
	assert_non_null(c);
	assert_string_equal(c->subject, "microsoft");
	c = line(&l, "receivers", "junk_placement");
	assert_non_null(c);
	assert_string_equal(c->subject, "microsoft");
	assert_int_equal(c->status, DR_WARN);
	/* rcv.test (4 copies, 0%): no fail, but a pass line */
	for (i = 0; i < (int)l.n; i++)
		if (strcmp(l.v[i].subject, "rcv.test") == 0) {
			assert_string_equal(l.v[i].defect, "");
			assert_string_equal(
			    l.v[i].found,
			    "rcv.test: 4 copies, SPF 0%, DKIM 0%, "
			    "DMARC 0%, Inbox 4 / Junk 0");
		}
	/* warmup only: no headers line */
	assert_null(line(&l, "headers", ""));
	assert_null(line(&l, "headers", "list_unsub_missing"));
	dr_list_free(&l);

	assert_int_equal(db_received_selectors(f->d, 1, 0, &sel, &nsel, &err),
	                 0);
	assert_int_equal(nsel, 1);
	assert_string_equal(sel[0].selector, "sel");
	assert_string_equal(sel[0].domain, "good.test");
	assert_string_equal(sel[0].headers, "from");
	db_dkim_seen_free(sel, nsel);
}

static void doctor_headers(void **state)
{
	fx *f = *state;
	dr_list l = {NULL, 0};
	cs_err err = CS_ERR_INIT;
	const dr_check *c;
	const char *both = "from:to:list-unsubscribe:list-unsubscribe-post";

	/* all good: List-Unsubscribe on each, no URL configured */
	copy(f, 2, 1, "campaign", "inbox", "pass", "pass", "pass", "good.test",
	     "good.test", "from:list-unsubscribe", DB_LU_HEADER);
	assert_int_equal(dr_seen_checks(f->d, 1, NOW, &l, &err), 0);
	c = line(&l, "headers", "");
	assert_non_null(c);
	assert_int_equal(c->status, DR_PASS);
	dr_list_free(&l);

	/* a URL configured: -Post is now required */
	sql(f, "INSERT INTO settings(key, value, updated_at) VALUES "
	       "('unsubscribe.url_template', 'https://u.test/{token}', 0)");
	assert_int_equal(dr_seen_checks(f->d, 1, NOW, &l, &err), 0);
	c = line(&l, "headers", "list_unsub_post_missing");
	assert_non_null(c);
	assert_int_equal(c->status, DR_FAIL);
	assert_null(line(&l, "headers", ""));
	dr_list_free(&l);

	/* one copy without List-Unsubscribe, one with -Post unsigned */
	copy(f, 2, 2, "campaign", "inbox", "pass", "pass", "pass", "good.test",
	     "good.test", both, 0);
	copy(f, 2, 3, "campaign", "inbox", "pass", "pass", "pass", "good.test",
	     "good.test", "from:list-unsubscribe", DB_LU_HEADER | DB_LU_POST);
	copy(f, 2, 4, "campaign", "inbox", "pass", "pass", "pass", "good.test",
	     "good.test", both, DB_LU_HEADER | DB_LU_POST);
	assert_int_equal(dr_seen_checks(f->d, 1, NOW, &l, &err), 0);
	c = line(&l, "headers", "list_unsub_missing");
	assert_non_null(c);
	assert_string_equal(c->found, "1 of 4 campaign copies arrived without "
	                              "List-Unsubscribe");
	c = line(&l, "headers", "unsub_not_signed");
	assert_non_null(c);
	assert_int_equal(c->status, DR_WARN);
	assert_non_null(strstr(c->found, "1 of 2 campaign copies"));
	dr_list_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(add_once_and_unknown, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(dmarc_derived, setup, teardown),
	    cmocka_unit_test_setup_teardown(doctor_lines, setup, teardown),
	    cmocka_unit_test_setup_teardown(doctor_headers, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

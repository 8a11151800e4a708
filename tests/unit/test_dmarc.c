/*
 * test_dmarc.c - DMARC records (RFC 7489 6.3, 6.4), discovery (6.6.3)
 * over an in-memory answer table, the organizational domain (Public
 * Suffix List through libpsl) and identifier alignment (doctor/
 * dr_dmarc.c).
 */
#include "unit.h"

#include <strings.h>

#include "doctor/doctor_int.h"

static void parse_table(void **state)
{
	static const struct {
		const char *rec;
		bool valid;
		const char *p, *sp;
		char adkim, aspf;
		int pct;
		const char *rua, *error;
	} rows[] = {
	    {"v=DMARC1; p=reject; rua=mailto:d@example.com", true, "reject",
	     "reject", 'r', 'r', 100, "mailto:d@example.com", ""},
	    {"v=DMARC1; p=none; sp=quarantine; adkim=s; aspf=s; pct=50; "
	     "ruf=mailto:f@x.test",
	     true, "none", "quarantine", 's', 's', 50, NULL, ""},
	    {"v=DMARC1;p=quarantine", true, "quarantine", "quarantine", 'r',
	     'r', 100, NULL, ""},
	    {"  v = DMARC1 ;  p = REJECT ; ", true, "reject", "reject", 'r',
	     'r', 100, NULL, ""},
	    {"v=DMARC1; p=reject; pct=150", true, "reject", "reject", 'r', 'r',
	     100, NULL, ""},
	    {"v=DMARC1; p=reject; pct=abc", true, "reject", "reject", 'r', 'r',
	     100, NULL, ""},
	    {"v=DMARC1; p=reject; pct=0", true, "reject", "reject", 'r', 'r', 0,
	     NULL, ""},
	    {"v=DMARC1; p=reject; adkim=x; aspf=relaxed", true, "reject",
	     "reject", 'r', 'r', 100, NULL, ""},
	    {"v=DMARC1; p=none; rua=bogus", true, "none", "none", 'r', 'r', 100,
	     "bogus", ""},
	    /* 6.6.3: no valid p= (or a bad sp=) with a valid rua: p=none */
	    {"v=DMARC1; p=bogus; rua=mailto:a@b.test", true, "none", "none",
	     'r', 'r', 100, "mailto:a@b.test", ""},
	    {"v=DMARC1; rua=mailto:a@b.test!10m", true, "none", "none", 'r',
	     'r', 100, "mailto:a@b.test!10m", ""},
	    {"v=DMARC1; p=reject; sp=bogus; rua=bad, mailto:a@b.test", true,
	     "none", "none", 'r', 'r', 100, "bad, mailto:a@b.test", ""},
	    /* ... and without one, nothing applies */
	    {"v=DMARC1; p=bogus", false, NULL, NULL, 0, 0, 0, NULL,
	     "p= is not"},
	    {"v=DMARC1", false, NULL, NULL, 0, 0, 0, NULL, "no p="},
	    {"v=DMARC1; p=reject; sp=bogus", false, NULL, NULL, 0, 0, 0, NULL,
	     "sp= is not"},
	    {"v=DMARC1; p=bogus; rua=bogus", false, NULL, NULL, 0, 0, 0, NULL,
	     "p= is not"},
	    {"v=DMARC1; p=bogus; rua=mailto:nobody", false, NULL, NULL, 0, 0, 0,
	     NULL, "p= is not"},
	    /* v=DMARC1, exactly, first */
	    {"p=reject; v=DMARC1", false, NULL, NULL, 0, 0, 0, NULL,
	     "first tag"},
	    {"v=dmarc1; p=reject", false, NULL, NULL, 0, 0, 0, NULL,
	     "first tag"},
	    {"v=DMARC1x; p=reject", false, NULL, NULL, 0, 0, 0, NULL,
	     "first tag"},
	    {"", false, NULL, NULL, 0, 0, 0, NULL, "first tag"},
	    /* a syntax error later is dropped, what came before stands */
	    {"v=DMARC1; p=reject; junk", true, "reject", "reject", 'r', 'r',
	     100, NULL, ""},
	};
	dr_dmarc d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		bool ok;

		dr_dmarc_parse(rows[i].rec, strlen(rows[i].rec), &d);
		ok = d.valid == rows[i].valid &&
		     strstr(d.error, rows[i].error) != NULL &&
		     d.record != NULL && strcmp(d.record, rows[i].rec) == 0;
		if (ok && rows[i].valid)
			ok = strcmp(d.p, rows[i].p) == 0 &&
			     strcmp(d.sp, rows[i].sp) == 0 &&
			     d.adkim == rows[i].adkim &&
			     d.aspf == rows[i].aspf && d.pct == rows[i].pct &&
			     (rows[i].rua ? d.rua && !strcmp(d.rua, rows[i].rua)
			                  : d.rua == NULL);
		if (!ok)
			fail_msg("row %zu \"%s\": valid %d p %s sp %s adkim %c "
			         "aspf %c pct %d rua %s error \"%s\"",
			         i, rows[i].rec, d.valid, d.p, d.sp,
			         d.adkim ? d.adkim : '-', d.aspf ? d.aspf : '-',
			         d.pct, d.rua ? d.rua : "-", d.error);
		dr_dmarc_free(&d);
	}
}

static void org_domain(void **state)
{
	static const char *const rows[][2] = {
	    {"mail.example.com", "example.com"},
	    {"example.com", "example.com"},
	    {"a.b.example.co.uk", "example.co.uk"},
	    {"example.test", "example.test"}, /* not on the list: "*" rule */
	    {"sub.example.test", "example.test"},
	    {"MAIL.Example.COM.", "example.com"},
	    {"x.y.z.example.org", "example.org"},
	    {"com", "com"},
	    {"co.uk", "co.uk"},
	};
	char out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		dr_org_domain(rows[i][0], out, sizeof out);
		if (strcmp(out, rows[i][1]) != 0)
			fail_msg("%s: got %s, want %s", rows[i][0], out,
			         rows[i][1]);
	}
}

static void alignment(void **state)
{
	(void)state;
	assert_true(dr_aligned("example.com", "example.com", 's'));
	assert_true(dr_aligned("Example.COM", "example.com", 's'));
	assert_false(dr_aligned("mail.example.com", "example.com", 's'));
	assert_true(dr_aligned("mail.example.com", "example.com", 'r'));
	assert_true(dr_aligned("a.example.com", "b.example.com", 'r'));
	assert_false(dr_aligned("example.com", "example.net", 'r'));
	assert_false(dr_aligned("a.example.co.uk", "b.other.co.uk", 'r'));
	assert_true(dr_aligned("a.example.co.uk", "example.co.uk", 'r'));
	assert_false(dr_aligned("", "example.com", 'r'));
	assert_false(dr_aligned(NULL, "example.com", 'r'));
}

/* ---- discovery over a table of TXT answers ---- */

static const char *const txt[][2] = {
    {"_dmarc.a.test", "v=DMARC1; p=reject; rua=mailto:r@a.test"},
    {"_dmarc.c.test", "hello"},
    {"_dmarc.c.test", "v=DMARC1; p=quarantine"},
    {"_dmarc.two.test", "v=DMARC1; p=reject"},
    {"_dmarc.two.test", "v=DMARC1; p=none"},
    {"_dmarc.own.b.test", "v=DMARC1; p=none"},
    {"_dmarc.b.test", "v=DMARC1; p=reject"},
    {"_dmarc.bad.test", "v=DMARC1; p=bogus"},
};

static int asked;

static net_dns_answer *fake_query(void *arg, const char *name, int type)
{
	net_dns_answer *a = calloc(1, sizeof *a);
	size_t i;

	(void)arg;
	asked++;
	assert_int_equal(type, NET_DNS_TXT);
	a->name = strdup(name);
	a->type = type;
	if (strstr(name, "err.test") != NULL) {
		a->status = NET_DNS_ERROR;
		strcpy(a->error, "timeout");
		return a;
	}
	for (i = 0; i < sizeof txt / sizeof txt[0]; i++) {
		if (strcasecmp(txt[i][0], name) != 0)
			continue;
		a->rr = realloc(a->rr, (a->n + 1) * sizeof *a->rr);
		memset(&a->rr[a->n], 0, sizeof a->rr[0]);
		a->rr[a->n].type = type;
		a->rr[a->n].text = strdup(txt[i][1]);
		a->rr[a->n].len = strlen(txt[i][1]);
		a->n++;
	}
	a->status = a->n ? NET_DNS_OK : NET_DNS_NXDOMAIN;
	return a;
}

static void fake_release(void *arg, net_dns_answer *a)
{
	size_t i;

	(void)arg;
	for (i = 0; i < a->n; i++)
		free(a->rr[i].text);
	free(a->rr);
	free(a->name);
	free(a);
}

static void discovery(void **state)
{
	dr_dns_src src = {fake_query, fake_release, NULL};
	cs_err err = CS_ERR_INIT;
	dr_dmarc d;

	(void)state;
	asked = 0;
	assert_int_equal(dr_dmarc_find_src(&src, "a.test", &d, &err), 1);
	assert_true(d.valid);
	assert_string_equal(d.p, "reject");
	assert_string_equal(d.found_at, "_dmarc.a.test");
	assert_int_equal(asked, 1);
	dr_dmarc_free(&d);

	/* a subdomain without its own record: the organizational domain */
	asked = 0;
	assert_int_equal(dr_dmarc_find_src(&src, "Mail.A.test", &d, &err), 1);
	assert_string_equal(d.found_at, "_dmarc.a.test");
	assert_int_equal(asked, 2);
	dr_dmarc_free(&d);

	/* its own record wins; no further walk up */
	assert_int_equal(dr_dmarc_find_src(&src, "own.b.test", &d, &err), 1);
	assert_string_equal(d.found_at, "_dmarc.own.b.test");
	assert_string_equal(d.p, "none");
	dr_dmarc_free(&d);
	asked = 0;
	assert_int_equal(dr_dmarc_find_src(&src, "x.y.own.b.test", &d, &err),
	                 1);
	assert_string_equal(d.found_at, "_dmarc.b.test");
	assert_int_equal(asked, 2);
	dr_dmarc_free(&d);

	/* other TXT records at _dmarc are ignored */
	assert_int_equal(dr_dmarc_find_src(&src, "c.test", &d, &err), 1);
	assert_string_equal(d.p, "quarantine");
	dr_dmarc_free(&d);

	/* two DMARC records: none, and discovery stops there */
	asked = 0;
	assert_int_equal(dr_dmarc_find_src(&src, "two.test", &d, &err), 0);
	assert_non_null(strstr(d.error, "2 DMARC records"));
	assert_int_equal(asked, 1);
	dr_dmarc_free(&d);
	asked = 0;
	assert_int_equal(dr_dmarc_find_src(&src, "sub.two.test", &d, &err), 0);
	assert_int_equal(asked, 2);
	dr_dmarc_free(&d);

	/* a record that is there but unusable is found, invalid */
	assert_int_equal(dr_dmarc_find_src(&src, "bad.test", &d, &err), 1);
	assert_false(d.valid);
	dr_dmarc_free(&d);

	/* nothing anywhere */
	assert_int_equal(dr_dmarc_find_src(&src, "none.test", &d, &err), 0);
	dr_dmarc_free(&d);

	/* a DNS error is not "none" */
	assert_int_equal(dr_dmarc_find_src(&src, "err.test", &d, &err), -1);
	assert_non_null(strstr(err.msg, "timeout"));
	dr_dmarc_free(&d);
	assert_int_equal(dr_dmarc_find_src(&src, "x.err.test", &d, &err), -1);
	dr_dmarc_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parse_table),
	    cmocka_unit_test(org_domain),
	    cmocka_unit_test(alignment),
	    cmocka_unit_test(discovery),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

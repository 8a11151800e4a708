/*
 * test_spf_eval.c - check_host() (doctor/dr_spf.c) over a table of DNS
 * answers held in memory: the rows of research22 section 4 and the
 * limits of RFC 7208 4.6.4.  The same table runs against a real DNS
 * server in tests/dns/test_spf.py; this one also counts the questions.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <strings.h>
#include <sys/socket.h>

#include "doctor/doctor_int.h"

/* "name TYPE data": TYPE A, AAAA, MX ("pref name"), TXT, PTR; a name
 * listed only with type NONE exists with no data.  Names absent:
 * NXDOMAIN; names under err.test or equal to tmp.test: a DNS error. */
static const char *const zone[] = {
    "none.test A 192.0.2.200",
    "two.test TXT v=spf1 -all",
    "two.test TXT v=spf1 +all",
    "notspf.test TXT v=spf10 +all",
    "notspf.test TXT google-site-verification=x",
    "ip4.test TXT v=spf1 ip4:192.0.2.0/24 -all",
    "soft.test TXT v=spf1 ip4:192.0.2.0/24 ~all",
    "neut.test TXT v=spf1 ip4:192.0.2.0/24 ?all",
    "nomatch.test TXT v=spf1 ip4:192.0.2.0/24",
    "split.test TXT v=spf1 ip4:192.0.2.1 -all",
    "case.test TXT V=SPF1 IP4:192.0.2.1 -ALL",
    "a.test TXT v=spf1 a -all",
    "a.test A 192.0.2.10",
    "acidr.test TXT v=spf1 a/24 -all",
    "acidr.test A 192.0.2.10",
    "mx.test TXT v=spf1 mx -all",
    "mx.test MX 10 mx1.mx.test",
    "mx1.mx.test A 192.0.2.10",
    "mx11.test TXT v=spf1 mx -all",
    "mx11.test MX 1 m1.mx11.test",
    "mx11.test MX 2 m2.mx11.test",
    "mx11.test MX 3 m3.mx11.test",
    "mx11.test MX 4 m4.mx11.test",
    "mx11.test MX 5 m5.mx11.test",
    "mx11.test MX 6 m6.mx11.test",
    "mx11.test MX 7 m7.mx11.test",
    "mx11.test MX 8 m8.mx11.test",
    "mx11.test MX 9 m9.mx11.test",
    "mx11.test MX 10 m10.mx11.test",
    "mx11.test MX 11 m11.mx11.test",
    "m1.mx11.test A 192.0.2.1",
    "inc.test TXT v=spf1 include:p.test -all",
    "p.test TXT v=spf1 ip4:192.0.2.5 -all",
    "incnone.test TXT v=spf1 include:empty.test -all",
    "empty.test TXT hello",
    "incperm.test TXT v=spf1 include:two.test -all",
    "inctemp.test TXT v=spf1 include:tmp.test -all",
    "redir.test TXT v=spf1 redirect=p.test",
    "redirnone.test TXT v=spf1 redirect=empty.test",
    "redirall.test TXT v=spf1 -all redirect=p.test",
    "loop.test TXT v=spf1 include:loop.test -all",
    "ten.test TXT v=spf1 a:h1.ten.test a:h2.ten.test a:h3.ten.test "
    "a:h4.ten.test a:h5.ten.test a:h6.ten.test a:h7.ten.test a:h8.ten.test "
    "a:h9.ten.test a:h10.ten.test ip4:192.0.2.1 -all",
    "eleven.test TXT v=spf1 a:h1.ten.test a:h2.ten.test a:h3.ten.test "
    "a:h4.ten.test a:h5.ten.test a:h6.ten.test a:h7.ten.test a:h8.ten.test "
    "a:h9.ten.test a:h10.ten.test a:h11.ten.test ip4:192.0.2.1 -all",
    "h1.ten.test A 198.51.100.1",
    "h2.ten.test A 198.51.100.2",
    "h3.ten.test A 198.51.100.3",
    "h4.ten.test A 198.51.100.4",
    "h5.ten.test A 198.51.100.5",
    "h6.ten.test A 198.51.100.6",
    "h7.ten.test A 198.51.100.7",
    "h8.ten.test A 198.51.100.8",
    "h9.ten.test A 198.51.100.9",
    "h10.ten.test A 198.51.100.10",
    "h11.ten.test A 198.51.100.11",
    "nested.test TXT v=spf1 include:i1.nested.test -all",
    "i1.nested.test TXT v=spf1 include:i2.nested.test -all",
    "i2.nested.test TXT v=spf1 include:i3.nested.test -all",
    "i3.nested.test TXT v=spf1 include:i4.nested.test -all",
    "i4.nested.test TXT v=spf1 include:i5.nested.test -all",
    "i5.nested.test TXT v=spf1 include:i6.nested.test -all",
    "i6.nested.test TXT v=spf1 include:i7.nested.test -all",
    "i7.nested.test TXT v=spf1 include:i8.nested.test -all",
    "i8.nested.test TXT v=spf1 include:i9.nested.test -all",
    "i9.nested.test TXT v=spf1 include:i10.nested.test -all",
    "i10.nested.test TXT v=spf1 include:i11.nested.test -all",
    "i11.nested.test TXT v=spf1 ip4:192.0.2.1 -all",
    "ipfirst.test TXT v=spf1 ip4:192.0.2.1 include:i1.nested.test "
    "include:l2.test include:l3.test include:l4.test include:l5.test "
    "include:l6.test include:l7.test include:l8.test include:l9.test "
    "include:l10.test include:l11.test -all",
    "void.test TXT v=spf1 a:nx1.test a:nx2.test a:nx3.test -all",
    "void2.test TXT v=spf1 a:nx1.test a:nx2.test -all",
    "voidmix.test TXT v=spf1 a:nx1.test mx:none.test exists:nx3.test -all",
    "exists.test TXT v=spf1 exists:%{i}.ok.test -all",
    "192.0.2.3.ok.test A 127.0.0.2",
    "macro-ir.test TXT v=spf1 exists:%{ir}.%{v}._spf.%{d} -all",
    "3.2.0.192.in-addr._spf.macro-ir.test A 127.0.0.2",
    "macro-l.test TXT v=spf1 exists:%{l1r-}.u.test -all",
    "strong.u.test A 127.0.0.2",
    "badmacro.test TXT v=spf1 exists:%{q}.x.test -all",
    "badmech.test TXT v=spf1 foo:bar -all",
    "unkmod.test TXT v=spf1 foo=bar ip4:192.0.2.1 -all",
    "badcidr.test TXT v=spf1 ip4:192.0.2.1/33 -all",
    "badlate.test TXT v=spf1 ip4:192.0.2.1 ip4:192.0.2.1/33 -all",
    "ip6.test TXT v=spf1 ip6:2001:db8::/32 -all",
    "mapped.test TXT v=spf1 ip4:192.0.2.1 -all",
    "a6.test TXT v=spf1 a//64 -all",
    "a6.test AAAA 2001:db8::1",
    "a6.test A 192.0.2.1",
    "ptr.test TXT v=spf1 ptr -all",
    "10.2.0.192.in-addr.arpa PTR h.ptr.test",
    "h.ptr.test A 192.0.2.10",
    "ptrnofc.test TXT v=spf1 ptr -all",
    "11.2.0.192.in-addr.arpa PTR h.ptrnofc.test",
    "h.ptrnofc.test A 192.0.2.99",
    "dupredir.test TXT v=spf1 redirect=a.test redirect=b.test",
    "plusall.test TXT v=spf1 +all",
    "mxtemp.test TXT v=spf1 mx:tmp.test -all",
    "atemp.test TXT v=spf1 a:x.err.test -all",
    "ptrtemp.test TXT v=spf1 ptr:ptr.test -all",
    "redirchain.test TXT v=spf1 ip4:198.51.100.9 redirect=neut.test",
    "nxdomain-redir.test TXT v=spf1 redirect=nx.test",
    "exp.test TXT v=spf1 -all exp=why.%{d}",
};

typedef struct fake {
	int asked;
} fake;

static void add_rr(net_dns_answer *a, int type, const char *data)
{
	net_dns_rr *rr;

	a->rr = realloc(a->rr, (a->n + 1) * sizeof *a->rr);
	rr = &a->rr[a->n++];
	memset(rr, 0, sizeof *rr);
	rr->type = type;
	rr->ttl = 300;
	if (type == NET_DNS_A || type == NET_DNS_AAAA) {
		rr->family = type == NET_DNS_A ? AF_INET : AF_INET6;
		assert_int_equal(inet_pton(rr->family, data, rr->addr), 1);
	} else if (type == NET_DNS_MX) {
		rr->pref = atoi(data);
		data = strchr(data, ' ') + 1;
	}
	rr->text = strdup(data);
	rr->len = strlen(data);
}

static int type_of(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int type;
	} t[] = {{"A", NET_DNS_A},     {"AAAA", NET_DNS_AAAA},
	         {"MX", NET_DNS_MX},   {"TXT", NET_DNS_TXT},
	         {"PTR", NET_DNS_PTR}, {"NONE", 0}};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strlen(t[i].name) == n && strncmp(s, t[i].name, n) == 0)
			return t[i].type;
	fail_msg("bad type in the zone table");
	return -1;
}

static net_dns_answer *fake_query(void *arg, const char *name, int type)
{
	fake *f = arg;
	net_dns_answer *a = calloc(1, sizeof *a);
	size_t nl = strlen(name), i;
	bool exists = false;

	f->asked++;
	a->name = strdup(name);
	a->type = type;
	a->refs = 1;
	if (strcmp(name, "tmp.test") == 0 ||
	    (nl > 9 && strcmp(name + nl - 9, ".err.test") == 0)) {
		a->status = NET_DNS_ERROR;
		strcpy(a->error, "server failure");
		return a;
	}
	for (i = 0; i < sizeof zone / sizeof zone[0]; i++) {
		const char *sp = strchr(zone[i], ' '), *sp2;

		if ((size_t)(sp - zone[i]) != nl ||
		    strncasecmp(zone[i], name, nl) != 0)
			continue;
		exists = true;
		sp2 = strchr(sp + 1, ' ');
		if (type_of(sp + 1, (size_t)(sp2 - sp - 1)) == type)
			add_rr(a, type, sp2 + 1);
	}
	a->status = a->n > 0 ? NET_DNS_OK
	            : exists ? NET_DNS_NODATA
	                     : NET_DNS_NXDOMAIN;
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

static const struct row {
	const char *domain, *ip, *sender;
	dr_spf_result want;
	const char *reason; /* a part of the reason, or NULL */
} rows[] = {
    {"none.test", "192.0.2.1", NULL, DR_SPF_NONE, "no v=spf1"},
    {"nx.test", "192.0.2.1", NULL, DR_SPF_NONE, NULL},
    {"two.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "2 v=spf1 records"},
    {"notspf.test", "192.0.2.1", NULL, DR_SPF_NONE, NULL},
    {"ip4.test", "192.0.2.7", NULL, DR_SPF_PASS, "ip4:192.0.2.0/24"},
    {"ip4.test", "198.51.100.1", NULL, DR_SPF_FAIL, "-all"},
    {"soft.test", "198.51.100.1", NULL, DR_SPF_SOFTFAIL, NULL},
    {"neut.test", "198.51.100.1", NULL, DR_SPF_NEUTRAL, NULL},
    {"nomatch.test", "198.51.100.1", NULL, DR_SPF_NEUTRAL, "no term"},
    {"split.test", "192.0.2.1", NULL, DR_SPF_PASS, NULL},
    {"case.test", "192.0.2.1", NULL, DR_SPF_PASS, NULL},
    {"a.test", "192.0.2.10", NULL, DR_SPF_PASS, NULL},
    {"a.test", "192.0.2.11", NULL, DR_SPF_FAIL, NULL},
    {"acidr.test", "192.0.2.99", NULL, DR_SPF_PASS, NULL},
    {"mx.test", "192.0.2.10", NULL, DR_SPF_PASS, NULL},
    {"mx11.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "11 MX names"},
    {"inc.test", "192.0.2.5", NULL, DR_SPF_PASS, "include:p.test"},
    {"inc.test", "198.51.100.1", NULL, DR_SPF_FAIL, NULL},
    {"incnone.test", "192.0.2.5", NULL, DR_SPF_PERMERROR,
     "empty.test has no SPF record"},
    {"incperm.test", "192.0.2.5", NULL, DR_SPF_PERMERROR, "two.test"},
    {"inctemp.test", "192.0.2.5", NULL, DR_SPF_TEMPERROR, "tmp.test"},
    {"redir.test", "192.0.2.5", NULL, DR_SPF_PASS, NULL},
    {"redirnone.test", "192.0.2.5", NULL, DR_SPF_PERMERROR,
     "redirect=empty.test"},
    {"redirall.test", "192.0.2.5", NULL, DR_SPF_FAIL, NULL},
    {"loop.test", "192.0.2.1", NULL, DR_SPF_PERMERROR,
     "11th DNS-querying term include:loop.test"},
    {"ten.test", "192.0.2.1", NULL, DR_SPF_PASS, NULL},
    {"eleven.test", "192.0.2.1", NULL, DR_SPF_PERMERROR,
     "11th DNS-querying term a:h11.ten.test"},
    {"nested.test", "192.0.2.1", NULL, DR_SPF_PERMERROR,
     "11th DNS-querying term include:i11.nested.test"},
    {"ipfirst.test", "192.0.2.1", NULL, DR_SPF_PASS, NULL},
    {"void.test", "192.0.2.1", NULL, DR_SPF_PERMERROR,
     "3rd void lookup, a:nx3.test"},
    {"void2.test", "192.0.2.1", NULL, DR_SPF_FAIL, NULL},
    {"voidmix.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "void lookup"},
    {"exists.test", "192.0.2.3", NULL, DR_SPF_PASS, NULL},
    {"exists.test", "192.0.2.4", NULL, DR_SPF_FAIL, NULL},
    {"macro-ir.test", "192.0.2.3", NULL, DR_SPF_PASS, NULL},
    {"macro-l.test", "192.0.2.3", "strong-bad@macro-l.test", DR_SPF_PASS, NULL},
    {"macro-l.test", "192.0.2.3", "weak-bad@macro-l.test", DR_SPF_FAIL, NULL},
    {"badmacro.test", "192.0.2.3", NULL, DR_SPF_PERMERROR, "macro"},
    {"badmech.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "unknown mechanism"},
    {"unkmod.test", "192.0.2.1", NULL, DR_SPF_PASS, NULL},
    {"badcidr.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "syntax"},
    {"badlate.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "syntax"},
    {"ip6.test", "2001:db8::1", NULL, DR_SPF_PASS, NULL},
    {"ip6.test", "2001:db9::1", NULL, DR_SPF_FAIL, NULL},
    {"ip6.test", "192.0.2.1", NULL, DR_SPF_FAIL, NULL},
    {"mapped.test", "::ffff:192.0.2.1", NULL, DR_SPF_PASS, NULL},
    {"a6.test", "2001:db8::10", NULL, DR_SPF_PASS, NULL},
    {"a6.test", "2001:db8:0:1::10", NULL, DR_SPF_FAIL, NULL},
    {"ptr.test", "192.0.2.10", NULL, DR_SPF_PASS, "ptr"},
    {"ptrnofc.test", "192.0.2.11", NULL, DR_SPF_FAIL, NULL},
    {"tmp.test", "192.0.2.1", NULL, DR_SPF_TEMPERROR, "server failure"},
    {"mxtemp.test", "192.0.2.1", NULL, DR_SPF_TEMPERROR, NULL},
    {"atemp.test", "192.0.2.1", NULL, DR_SPF_TEMPERROR, NULL},
    {"dupredir.test", "192.0.2.1", NULL, DR_SPF_PERMERROR, "twice"},
    {"plusall.test", "203.0.113.9", NULL, DR_SPF_PASS, NULL},
    {"redirchain.test", "198.51.100.1", NULL, DR_SPF_NEUTRAL, NULL},
    {"nxdomain-redir.test", "192.0.2.1", NULL, DR_SPF_PERMERROR,
     "no SPF record"},
    {"exp.test", "192.0.2.1", NULL, DR_SPF_FAIL, NULL},
    {"com", "192.0.2.1", NULL, DR_SPF_NONE, "not a domain"},
};

static void table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		fake f = {0};
		dr_dns_src src = {fake_query, fake_release, &f};
		dr_spf_out o;
		cs_err err = CS_ERR_INIT;

		assert_int_equal(
		    dr_spf_check_src(&src, rows[i].ip, rows[i].domain,
		                     rows[i].sender, NULL, &o, &err),
		    0);
		if (o.result != rows[i].want ||
		    (rows[i].reason &&
		     strstr(o.reason, rows[i].reason) == NULL))
			fail_msg("row %zu %s %s: %s (%s), want %s", i,
			         rows[i].domain, rows[i].ip,
			         dr_spf_result_name(o.result), o.reason,
			         dr_spf_result_name(rows[i].want));
		dr_spf_out_free(&o);
	}
}

static void counters(void **state)
{
	fake f = {0};
	dr_dns_src src = {fake_query, fake_release, &f};
	dr_spf_out o;

	(void)state;
	/* exactly 10 counted terms, then a match */
	assert_int_equal(dr_spf_check_src(&src, "192.0.2.1", "ten.test", NULL,
	                                  NULL, &o, NULL),
	                 0);
	assert_int_equal(o.result, DR_SPF_PASS);
	assert_int_equal(o.lookups, 10);
	assert_int_equal(o.voids, 0);
	assert_int_equal(o.all_qualifier, '-');
	assert_non_null(o.record);
	assert_non_null(strstr(o.record, "a:h10.ten.test"));
	dr_spf_out_free(&o);

	/* the domains visited, first first, through include and redirect */
	assert_int_equal(dr_spf_check_src(&src, "198.51.100.1", "inc.test",
	                                  NULL, NULL, &o, NULL),
	                 0);
	assert_int_equal(o.ndomains, 2);
	assert_string_equal(o.domains[0], "inc.test");
	assert_string_equal(o.domains[1], "p.test");
	assert_int_equal(o.lookups, 1);
	dr_spf_out_free(&o);

	/* all_qualifier follows redirect= */
	assert_int_equal(dr_spf_check_src(&src, "198.51.100.1",
	                                  "redirchain.test", NULL, NULL, &o,
	                                  NULL),
	                 0);
	assert_int_equal(o.all_qualifier, '?');
	assert_int_equal(o.ndomains, 2);
	assert_string_equal(o.domains[1], "neut.test");
	assert_string_equal(o.record,
	                    "v=spf1 ip4:198.51.100.9 redirect=neut.test");
	dr_spf_out_free(&o);

	/* but not include: */
	assert_int_equal(dr_spf_check_src(&src, "192.0.2.1", "nomatch.test",
	                                  NULL, NULL, &o, NULL),
	                 0);
	assert_int_equal(o.all_qualifier, 0);
	dr_spf_out_free(&o);
	assert_int_equal(dr_spf_check_src(&src, "192.0.2.1", "plusall.test",
	                                  NULL, NULL, &o, NULL),
	                 0);
	assert_int_equal(o.all_qualifier, '+');
	dr_spf_out_free(&o);

	/* 2 voids are allowed and counted */
	assert_int_equal(dr_spf_check_src(&src, "192.0.2.1", "void2.test", NULL,
	                                  NULL, &o, NULL),
	                 0);
	assert_int_equal(o.voids, 2);
	assert_int_equal(o.lookups, 2);
	dr_spf_out_free(&o);

	/* the mx limit: 11 names are refused before any address lookup */
	f.asked = 0;
	assert_int_equal(dr_spf_check_src(&src, "192.0.2.1", "mx11.test", NULL,
	                                  NULL, &o, NULL),
	                 0);
	assert_int_equal(o.result, DR_SPF_PERMERROR);
	assert_int_equal(f.asked, 2); /* TXT, MX */
	dr_spf_out_free(&o);

	/* not an address: CS_EINVAL, out untouched */
	memset(&o, 0x5a, sizeof o);
	assert_int_equal(
	    dr_spf_check_src(&src, "192.0.2", "a.test", NULL, NULL, &o, NULL),
	    CS_EINVAL);
	assert_int_equal(o.lookups, 0x5a5a5a5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),
	    cmocka_unit_test(counters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

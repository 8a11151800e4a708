/*
 * test_spf_parse.c - the SPF record syntax checked before evaluation
 * (RFC 7208 4.6, 12), cidr lengths, and macro expansion with the
 * examples of RFC 7208 7.4 (doctor/dr_spf.c).  No DNS: the evaluator
 * itself is test_spf_eval.c, and against a real server tests/dns/.
 */
#include "unit.h"

#include "doctor/doctor_int.h"

static void syntax_table(void **state)
{
	static const struct {
		const char *rec;
		bool ok;
		const char *why; /* a word the reason must hold, or NULL */
	} rows[] = {
	    {"v=spf1", true, NULL},
	    {"v=spf1 -all", true, NULL},
	    {"V=SPF1 IP4:192.0.2.1 -ALL", true, NULL},
	    {"v=spf1  ip4:192.0.2.0/24   ~all ", true, NULL},
	    {"v=spf1 a mx ptr -all", true, NULL},
	    {"v=spf1 a/24 mx/24//64 a//64 -all", true, NULL},
	    {"v=spf1 a:mail.example.com/24 -all", true, NULL},
	    {"v=spf1 mx:example.com//0 -all", true, NULL},
	    {"v=spf1 include:_spf.google.com ~all", true, NULL},
	    {"v=spf1 exists:%{i}.%{v}._spf.%{d2} -all", true, NULL},
	    {"v=spf1 exists:%{l1r-}.u.test -all", true, NULL},
	    {"v=spf1 ip6:2001:db8::/32 ip6:::1 -all", true, NULL},
	    {"v=spf1 ip4:0.0.0.0/0 -all", true, NULL},
	    {"v=spf1 redirect=_spf.example.com", true, NULL},
	    {"v=spf1 foo=bar ip4:192.0.2.1 -all", true, NULL},
	    {"v=spf1 x-thing=%{d}%% -all", true, NULL},
	    {"v=spf1 exp=explain.%{d} -all", true, NULL},
	    {"v=spf1 include:example.com.", true, NULL},
	    {"v=spf1 a:%{d}", true, NULL},
	    {"v=spf1 a:foo.example-1", true, NULL},
	    /* errors */
	    {"v=spf1 foo:bar -all", false, "unknown mechanism"},
	    {"v=spf1 -all foo:bar", false, "unknown mechanism"},
	    {"v=spf1 ip4:192.0.2.1/33 -all", false, "out of range"},
	    {"v=spf1 ip4:192.0.2.1/024 -all", false, "leading zero"},
	    {"v=spf1 ip6:2001:db8::/129 -all", false, "out of range"},
	    {"v=spf1 a/33", false, "out of range"},
	    {"v=spf1 a//129", false, "out of range"},
	    {"v=spf1 ip4:192.0.2.300 -all", false, "IPv4"},
	    {"v=spf1 ip4:2001:db8::1", false, "IPv4"},
	    {"v=spf1 ip6:192.0.2.1", false, "IPv6"},
	    {"v=spf1 ip4", false, "address"},
	    {"v=spf1 include", false, "domain"},
	    {"v=spf1 include:", false, "empty"},
	    {"v=spf1 exists:", false, "empty"},
	    {"v=spf1 include:com", false, "top-level"},
	    {"v=spf1 a:example.123", false, "top-level"},
	    {"v=spf1 all:x", false, "all"},
	    {"v=spf1 -all/24", false, "all"},
	    {"v=spf1 redirect=a.test redirect=b.test", false, "twice"},
	    {"v=spf1 exp=a.test exp=b.test -all", false, "twice"},
	    {"v=spf1 exists:%{q}.x.test -all", false, "macro letter"},
	    {"v=spf1 exists:%{i0}.x.test -all", false, "zero"},
	    {"v=spf1 exists:%{i.x.test -all", false, "macro"},
	    {"v=spf1 exists:%x.test -all", false, "not a macro"},
	    {"v=spf1 exists:x.test%", false, "not a macro"},
	    {"v=spf1 exists:%{c}.x.test", false, "exp"},
	    {"v=spf1 a:%{t}.x.test", false, "exp"},
	    {"v=spf1 +-all", false, "unknown mechanism"},
	    {"v=spf1 ip4:192.0.2.1\t-all", false, "control"},
	    {"v=spf10 -all", false, "v=spf1"},
	    {"v=spf1 foo=%q", false, "not a macro"},
	};
	char why[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int rc;

		why[0] = '\0';
		rc = dr_spf_syntax(rows[i].rec, why, sizeof why);
		if ((rc == 0) != rows[i].ok ||
		    (rows[i].why && strstr(why, rows[i].why) == NULL))
			fail_msg("row %zu \"%s\": rc %d, why \"%s\"", i,
			         rows[i].rec, rc, why);
	}
}

/* RFC 7208 7.4: sender strong-bad@email.example.com, IPv4 192.0.2.3,
 * IPv6 2001:db8::cb01, domain email.example.com. */
static void rfc_examples(void **state)
{
	static const struct {
		const char *spec, *ip, *want;
	} rows[] = {
	    {"%{s}", "192.0.2.3", "strong-bad@email.example.com"},
	    {"%{o}", "192.0.2.3", "email.example.com"},
	    {"%{d}", "192.0.2.3", "email.example.com"},
	    {"%{d4}", "192.0.2.3", "email.example.com"},
	    {"%{d3}", "192.0.2.3", "email.example.com"},
	    {"%{d2}", "192.0.2.3", "example.com"},
	    {"%{d1}", "192.0.2.3", "com"},
	    {"%{dr}", "192.0.2.3", "com.example.email"},
	    {"%{d2r}", "192.0.2.3", "example.email"},
	    {"%{l}", "192.0.2.3", "strong-bad"},
	    {"%{l-}", "192.0.2.3", "strong.bad"},
	    {"%{lr}", "192.0.2.3", "strong-bad"},
	    {"%{lr-}", "192.0.2.3", "bad.strong"},
	    {"%{l1r-}", "192.0.2.3", "strong"},
	    {"%{ir}.%{v}._spf.%{d2}", "192.0.2.3",
	     "3.2.0.192.in-addr._spf.example.com"},
	    {"%{lr-}.lp._spf.%{d2}", "192.0.2.3",
	     "bad.strong.lp._spf.example.com"},
	    {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "192.0.2.3",
	     "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
	    {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "192.0.2.3",
	     "3.2.0.192.in-addr.strong.lp._spf.example.com"},
	    {"%{d2}.trusted-domains.example.net", "192.0.2.3",
	     "example.com.trusted-domains.example.net"},
	    {"%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01",
	     "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
	     "ip6._spf.example.com"},
	    /* more of section 7 */
	    {"%{i}", "2001:db8::cb01",
	     "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1"},
	    {"%{i}", "::ffff:192.0.2.3", "192.0.2.3"}, /* mapped: IPv4 */
	    {"%{v}", "::ffff:192.0.2.3", "in-addr"},
	    {"%{h}", "192.0.2.3", "mx.example.org"},
	    {"%{d9}", "192.0.2.3", "email.example.com"},
	    {"%{l+-}", "192.0.2.3", "strong.bad"},
	    {"%{l=-}", "192.0.2.3", "strong.bad"},
	    {"%%%_%-", "192.0.2.3", "% %20"},
	    {"%{S}", "192.0.2.3", "strong-bad%40email.example.com"},
	    {"%{L}", "192.0.2.3", "strong-bad"},
	    {"x%{p}", "192.0.2.3", "xunknown"}, /* no DNS: unknown */
	};
	cs_buf out = CS_BUF_INIT;
	char why[160];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		why[0] = '\0';
		if (dr_spf_expand(rows[i].spec, strlen(rows[i].spec),
		                  rows[i].ip, "strong-bad@email.example.com",
		                  "email.example.com", "mx.example.org", false,
		                  &out, why, sizeof why) != 0 ||
		    strcmp(cs_buf_str(&out), rows[i].want) != 0)
			fail_msg("row %zu %s: got \"%s\" (%s), want \"%s\"", i,
			         rows[i].spec, cs_buf_str(&out), why,
			         rows[i].want);
	}
	cs_buf_free(&out);
}

static void macro_special(void **state)
{
	cs_buf out = CS_BUF_INIT;
	char why[160], spec[400];
	const char *s;

	(void)state;
	/* an empty local-part is postmaster; no sender: postmaster@domain */
	assert_int_equal(dr_spf_expand("%{l}@%{o}", 9, "192.0.2.1", "@x.test",
	                               "d.test", NULL, false, &out, why,
	                               sizeof why),
	                 0);
	assert_string_equal(cs_buf_str(&out), "postmaster@x.test");
	assert_int_equal(dr_spf_expand("%{s}|%{h}", 9, "192.0.2.1", NULL,
	                               "d.test", NULL, false, &out, why,
	                               sizeof why),
	                 0);
	assert_string_equal(cs_buf_str(&out), "postmaster@d.test|d.test");
	/* URL escape of an upper-case macro: reserved characters */
	assert_int_equal(dr_spf_expand("%{L}", 4, "192.0.2.1", "a+b/c~d@x.test",
	                               "d.test", NULL, false, &out, why,
	                               sizeof why),
	                 0);
	assert_string_equal(cs_buf_str(&out), "a%2Bb%2Fc~d");
	/* over 253 octets: labels dropped from the left until it fits */
	snprintf(
	    spec, sizeof spec, "%s.%s.%s.%s.%%{d}",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
	    "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
	    "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd");
	assert_int_equal(dr_spf_expand(spec, strlen(spec), "192.0.2.1", NULL,
	                               "example.test", NULL, false, &out, why,
	                               sizeof why),
	                 0);
	s = cs_buf_str(&out);
	assert_true(strlen(s) <= 253);
	assert_true(strncmp(s, "bbbb", 4) == 0);
	assert_true(strstr(s, ".example.test") != NULL);
	/* exp text: c, r, t allowed, no truncation */
	assert_int_equal(dr_spf_expand("%{c} %{r}", 9, "2001:db8::1", NULL,
	                               "d.test", NULL, true, &out, why,
	                               sizeof why),
	                 0);
	assert_string_equal(cs_buf_str(&out), "2001:db8::1 unknown");
	assert_int_equal(dr_spf_expand("%{c}", 4, "192.0.2.1", NULL, "d.test",
	                               NULL, false, &out, why, sizeof why),
	                 -1);
	assert_non_null(strstr(why, "exp"));
	assert_int_equal(dr_spf_expand("%{d}", 4, "not-an-ip", NULL, "d.test",
	                               NULL, false, &out, why, sizeof why),
	                 -1);
	cs_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(syntax_table),
	    cmocka_unit_test(rfc_examples),
	    cmocka_unit_test(macro_special),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

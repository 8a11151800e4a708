/*
 * test_authres.c - Authentication-Results, ARC-Authentication-Results and
 * DKIM-Signature reading (classify/authres.c), and the receiving side's
 * verdicts of a whole message (cls_received_parse) with the shapes real
 * servers write: Gmail's (from the corpus' gsuite and googlegroups
 * samples), Microsoft 365's (no authserv-id, stray words, compauth),
 * opendkim's, policyd-spf's (Received-SPF) and Yahoo's.
 */
#include "unit.h"

#include "classify/cls.h"

static const cls_ar_result *find(const cls_authres *a, const char *method)
{
	size_t i;

	for (i = 0; i < a->nresults; i++)
		if (strcmp(a->results[i].method, method) == 0)
			return &a->results[i];
	return NULL;
}

static void parse(const char *v, bool arc, cls_authres *a)
{
	cls_authres_parse(v, strlen(v), arc, a);
}

/* ---- Authentication-Results values -------------------------------------- */

static void test_gmail(void **state)
{
	cls_authres a;
	const cls_ar_result *r;

	(void)state;
	parse(" mx.google.com;\r\n       dkim=pass header.i=@googlemail.com "
	      "header.s=20210112 header.b=PqBP51+l;\r\n"
	      "       spf=none (google.com: mail-sor-f69.google.com does not "
	      "designate permitted sender hosts) "
	      "smtp.helo=mail-sor-f69.google.com;"
	      "\r\n       dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) "
	      "header.from=googlemail.com",
	      false, &a);
	assert_string_equal(a.authserv_id, "mx.google.com");
	assert_int_equal(a.nresults, 3);
	r = find(&a, "dkim");
	assert_non_null(r);
	assert_string_equal(r->result, "pass");
	assert_string_equal(cls_ar_get(r, "header.i"), "@googlemail.com");
	assert_string_equal(cls_ar_get(r, "header.s"), "20210112");
	assert_string_equal(cls_ar_get(r, "header.b"), "PqBP51+l");
	r = find(&a, "spf");
	assert_string_equal(r->result, "none");
	assert_string_equal(cls_ar_get(r, "smtp.helo"),
	                    "mail-sor-f69.google.com");
	assert_null(cls_ar_get(r, "smtp.mailfrom"));
	r = find(&a, "dmarc");
	assert_string_equal(r->result, "pass");
	assert_string_equal(cls_ar_get(r, "header.from"), "googlemail.com");
	cls_authres_free(&a);
}

static void test_microsoft(void **state)
{
	cls_authres a;
	const cls_ar_result *r;

	(void)state;
	/* no authserv-id, "outlook.com" stray words, action= and compauth */
	parse("spf=pass (sender IP is 104.47.126.237)\r\n"
	      " smtp.helo=APC01-PU1-obe.outbound.protection.outlook.com; "
	      "outlook.com;\r\n dkim=none (message not signed) "
	      "header.d=none;outlook.com; dmarc=pass\r\n action=none "
	      "header.from=outlook.com;compauth=pass reason=100",
	      false, &a);
	assert_string_equal(a.authserv_id, "");
	assert_int_equal(a.nresults, 4);
	assert_string_equal(find(&a, "spf")->result, "pass");
	assert_string_equal(cls_ar_get(find(&a, "spf"), "smtp.helo"),
	                    "APC01-PU1-obe.outbound.protection.outlook.com");
	r = find(&a, "dkim");
	assert_string_equal(r->result, "none");
	assert_string_equal(cls_ar_get(r, "header.d"), "none");
	r = find(&a, "dmarc");
	assert_string_equal(r->result, "pass");
	assert_string_equal(cls_ar_get(r, "action"), "none");
	assert_string_equal(cls_ar_get(r, "header.from"), "outlook.com");
	r = find(&a, "compauth");
	assert_string_equal(r->result, "pass");
	assert_string_equal(r->reason, "100");
	cls_authres_free(&a);
}

static void test_opendkim_and_quoting(void **state)
{
	cls_authres a;
	const cls_ar_result *r;

	(void)state;
	/* opendkim: a quoted reason, nested comments, a version, a method
	 * version, CFWS around '=' */
	parse("mail.example.org 1; dkim/1 = fail reason=\"signature "
	      "verification failed; \\\"bad\\\"\" (1024-bit key; (nested "
	      "(deeper)) unprotected) header.d=Example.NET "
	      "header.i=@example.net header.b=NekoNyaan; spf = softfail "
	      "smtp.mailfrom = \"user@Example.net\"",
	      false, &a);
	assert_string_equal(a.authserv_id, "mail.example.org");
	assert_int_equal(a.nresults, 2);
	r = find(&a, "dkim");
	assert_string_equal(r->result, "fail");
	assert_string_equal(r->reason,
	                    "signature verification failed; \"bad\"");
	assert_string_equal(cls_ar_get(r, "header.d"), "Example.NET");
	assert_string_equal(cls_ar_get(r, "header.b"), "NekoNyaan");
	r = find(&a, "spf");
	assert_string_equal(r->result, "softfail");
	assert_string_equal(cls_ar_get(r, "smtp.mailfrom"), "user@Example.net");
	cls_authres_free(&a);

	/* "none": no results; a quoted authserv-id */
	parse("\"mx (x) .example\"; none", false, &a);
	assert_string_equal(a.authserv_id, "mx (x) .example");
	assert_int_equal(a.nresults, 0);
	cls_authres_free(&a);

	/* Yahoo: junk after the id, without a ';' */
	parse("mta2022.biz.mail.sg2.yahoo.com  from=amazonses.com; "
	      "domainkeys=neutral (no sig);  from=amazonses.com; dkim=neutral "
	      "(no sig)",
	      false, &a);
	assert_string_equal(a.authserv_id, "mta2022.biz.mail.sg2.yahoo.com");
	assert_string_equal(find(&a, "dkim")->result, "neutral");
	assert_string_equal(find(&a, "domainkeys")->result, "neutral");
	assert_string_equal(find(&a, "from")->result, "amazonses.com");
	cls_authres_free(&a);

	/* a method with no name is no result (found by fuzzing) */
	parse("x.test; /1=pass; spf=pass", false, &a);
	assert_int_equal(a.nresults, 1);
	assert_string_equal(a.results[0].method, "spf");
	cls_authres_free(&a);

	/* an unclosed comment and an unclosed string end quietly */
	parse("x.test; spf=pass (oops; dkim=pass", false, &a);
	assert_int_equal(a.nresults, 1);
	cls_authres_free(&a);
	parse("x.test; spf=pass smtp.mailfrom=\"a;b", false, &a);
	assert_int_equal(a.nresults, 1);
	assert_string_equal(cls_ar_get(&a.results[0], "smtp.mailfrom"), "a;b");
	cls_authres_free(&a);
}

static void test_arc(void **state)
{
	cls_authres a;

	(void)state;
	parse("i=2; gmr-mx.google.com;\r\n       dkim=pass "
	      "header.i=@example.com header.s=20161025 header.b=RJNz7oaY;\r\n"
	      "       spf=pass (google.com: domain of dummy@example.com "
	      "designates 209.85.220.41 as permitted sender) "
	      "smtp.mailfrom=dummy@example.com;",
	      true, &a);
	assert_int_equal(a.instance, 2);
	assert_string_equal(a.authserv_id, "gmr-mx.google.com");
	assert_int_equal(a.nresults, 2);
	assert_string_equal(cls_ar_get(find(&a, "spf"), "smtp.mailfrom"),
	                    "dummy@example.com");
	cls_authres_free(&a);
}

static void test_caps(void **state)
{
	cls_authres a;
	char buf[8192];
	size_t i, n = 0;

	(void)state;
	n += (size_t)snprintf(buf + n, sizeof buf - n, "x.test");
	for (i = 0; i < 60; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "; spf=pass");
	parse(buf, false, &a);
	assert_int_equal(a.nresults, CLS_AR_MAX_RESULTS);
	cls_authres_free(&a);
	n = (size_t)snprintf(buf, sizeof buf, "x.test; dkim=pass");
	for (i = 0; i < 40; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, " a.b%zu=c", i);
	memset(buf + n, 'z', 600);
	buf[n + 600] = '\0';
	memcpy(buf + n, " header.d=", 10);
	parse(buf, false, &a);
	assert_int_equal(a.nresults, 1);
	assert_int_equal(a.results[0].nprops, CLS_AR_MAX_PROPS);
	cls_authres_free(&a);
	/* a long value is cut */
	n = (size_t)snprintf(buf, sizeof buf, "x.test; dkim=pass header.d=");
	memset(buf + n, 'z', 600);
	buf[n + 600] = '\0';
	parse(buf, false, &a);
	assert_int_equal(strlen(cls_ar_get(&a.results[0], "header.d")),
	                 CLS_AR_MAX_VALUE);
	cls_authres_free(&a);
}

/* ---- DKIM-Signature ------------------------------------------------------ */

static void test_dkim_sig(void **state)
{
	cls_dkim_sig s;
	const char *v =
	    "v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	    "        d=GoogleMail.com; s=20210112;\r\n"
	    "        h=In-Reply-To:references:subject:from\r\n"
	    "         :to:List-Unsubscribe:list-unsubscribe-post;\r\n"
	    "        bh=o7cpmqx+tgCx5m+g8oZRWsGCIo8X32S8zBkahP2egx0=;"
	    "\r\n        b=PqBP51+lcin2uB1z GXsK534";

	(void)state;
	cls_dkim_sig_parse(v, strlen(v), &s);
	assert_string_equal(s.d, "googlemail.com");
	assert_string_equal(s.s, "20210112");
	assert_string_equal(s.h, "in-reply-to:references:subject:from:to:list-"
	                         "unsubscribe:list-unsubscribe-post");
	assert_true(cls_dkim_signs(s.h, "List-Unsubscribe"));
	assert_true(cls_dkim_signs(s.h, "list-unsubscribe-post"));
	assert_false(cls_dkim_signs(s.h, "list"));
	assert_false(cls_dkim_signs(s.h, "cc"));
	assert_false(cls_dkim_signs(NULL, "from"));
	cls_dkim_sig_free(&s);

	/* NUL bytes are dropped like white space; a value of nothing else
	 * is an empty, terminated string (found by fuzzing) */
	cls_dkim_sig_parse("d=\0\0; s=a", 9, &s);
	assert_string_equal(s.d, "");
	assert_string_equal(s.s, "a");
	cls_dkim_sig_free(&s);
	cls_dkim_sig_parse("d=\0x; s=a", 9, &s);
	assert_string_equal(s.d, "x");
	assert_string_equal(s.s, "a");
	cls_dkim_sig_free(&s);

	/* a broken item is skipped; the first of a duplicate tag stands */
	v = "v=1; =x; d=a.test; junk; s=sel; d=b.test";
	cls_dkim_sig_parse(v, strlen(v), &s);
	assert_string_equal(s.d, "a.test");
	assert_string_equal(s.s, "sel");
	assert_null(s.h);
	cls_dkim_sig_free(&s);
}

/* ---- whole messages ------------------------------------------------------ */

static void received(const char *msg, cls_received *r)
{
	cls_received_parse(msg, strlen(msg), r);
}

static void test_received_gmail(void **state)
{
	cls_received r;
	/* the layout Gmail delivers: its ARC set and Received on top, its
	 * AR below the MX hop's Received, then the sender's signature */
	const char *msg =
	    "Delivered-To: b@gmail.com\r\n"
	    "Received: by 2002:ab2:1785:0 with SMTP id x5csp577194lqe;\r\n"
	    "        Thu, 26 Feb 2023 18:30:56 -0800 (PST)\r\n"
	    "ARC-Authentication-Results: i=1; mx.google.com;\r\n"
	    "       dkim=pass header.i=@good.test header.s=sel1;\r\n"
	    "       spf=pass smtp.mailfrom=a@good.test;\r\n"
	    "       dmarc=pass (p=NONE) header.from=good.test\r\n"
	    "Return-Path: <a@good.test>\r\n"
	    "Received: from mx.good.test (mx.good.test. [192.0.2.1])\r\n"
	    "        by mx.google.com with ESMTPS id q4\r\n"
	    "Received-SPF: pass (google.com: domain of a@good.test) "
	    "client-ip=192.0.2.1;\r\n"
	    "Authentication-Results: mx.google.com;\r\n"
	    "       dkim=pass header.i=@good.test header.s=sel1 "
	    "header.b=abc;\r\n"
	    "       spf=pass (google.com: domain of a@good.test designates "
	    "192.0.2.1 as permitted sender) smtp.mailfrom=a@Good.test;\r\n"
	    "       dmarc=pass (p=NONE sp=NONE dis=NONE) "
	    "header.from=good.test\r\n"
	    "DKIM-Signature: v=1; a=rsa-sha256; d=esp.example; s=x; "
	    "h=from:to; b=zz\r\n"
	    "DKIM-Signature: v=1; a=rsa-sha256; d=good.test; s=sel1;\r\n"
	    "  h=from:to:subject:list-unsubscribe:list-unsubscribe-post; "
	    "b=yy\r\n"
	    "Authentication-Results: mx.google.com; dkim=fail "
	    "header.d=good.test\r\n"
	    "From: \"A\" <a@good.test>\r\n"
	    "To: b@gmail.com\r\n"
	    "List-Unsubscribe: <mailto:u@good.test>\r\n"
	    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
	    "\r\n"
	    "body\r\nAuthentication-Results: x; dkim=fail\r\n";

	(void)state;
	received(msg, &r);
	assert_string_equal(r.authserv_id, "mx.google.com");
	assert_string_equal(r.spf, "pass");
	assert_string_equal(r.dkim, "pass");
	assert_string_equal(r.dmarc, "pass");
	assert_string_equal(r.mailfrom_domain, "good.test");
	/* ours: the signature of the From domain, not the first */
	assert_string_equal(r.dkim_domain, "good.test");
	assert_string_equal(r.dkim_selector, "sel1");
	assert_string_equal(
	    r.dkim_headers,
	    "from:to:subject:list-unsubscribe:list-unsubscribe-post");
	assert_true(r.list_unsub);
	assert_true(r.list_unsub_post);
	cls_received_free(&r);
}

static void test_received_trust(void **state)
{
	cls_received r;

	(void)state;
	/* opendkim's fail on top; a forged pass under the signature and a
	 * pass of another authserv-id above it are not believed */
	received("Received: from mx by mail.receiver.test\n"
	         "Authentication-Results: mail.receiver.test; dkim=fail "
	         "reason=\"signature verification failed\" (2048-bit key; "
	         "unprotected) header.d=badkey.test header.i=@badkey.test "
	         "header.a=rsa-sha256 header.s=mail header.b=AbCd\n"
	         "Authentication-Results: relay.elsewhere.test; dkim=pass "
	         "header.d=badkey.test; dmarc=pass\n"
	         "Received-SPF: Pass (mailfrom) identity=mailfrom; "
	         "client-ip=127.0.0.1; helo=x; envelope-from=a@badkey.test; "
	         "receiver=b\n"
	         "DKIM-Signature: v=1; d=badkey.test; s=mail; h=from:to\n"
	         "Authentication-Results: mail.receiver.test; dkim=pass "
	         "header.d=badkey.test; spf=pass smtp.mailfrom=x@forged.test; "
	         "dmarc=pass\n"
	         "From: a@badkey.test\n"
	         "\n",
	         &r);
	assert_string_equal(r.authserv_id, "mail.receiver.test");
	assert_string_equal(r.dkim, "fail");
	assert_string_equal(r.dmarc, ""); /* relay's pass not trusted */
	/* SPF: no trusted AR wrote one: policyd-spf's Received-SPF */
	assert_string_equal(r.spf, "pass");
	assert_string_equal(r.mailfrom_domain, "badkey.test");
	assert_false(r.list_unsub);
	assert_false(r.list_unsub_post);
	cls_received_free(&r);

	/* nothing from the receiver: nothing trusted (an ARC set alone is
	 * not, nor a result below the signature) */
	received("ARC-Authentication-Results: i=1; mx.microsoft.com 1; "
	         "spf=pass; dkim=pass\n"
	         "DKIM-Signature: v=1; d=a.test; s=s1; h=from\n"
	         "Authentication-Results: dkim=none (message not signed) "
	         "header.d=none;dmarc=none action=none header.from=a.test;\n"
	         "From: x@a.test\n\n",
	         &r);
	assert_null(r.authserv_id);
	assert_string_equal(r.spf, "");
	assert_string_equal(r.dkim, "");
	assert_string_equal(r.dmarc, "");
	assert_string_equal(r.dkim_selector, "s1");
	cls_received_free(&r);
}

static void test_received_microsoft(void **state)
{
	cls_received r;

	(void)state;
	/* Exchange Online: no authserv-id; its ARC-AR (same id "") fills
	 * what the AR leaves out */
	received("Received: from BN8 (2603:10b6::1) by SA1 with HTTPS\r\n"
	         "ARC-Authentication-Results: i=1; ; spf=pass "
	         "smtp.mailfrom=good.test; dmarc=pass action=none "
	         "header.from=good.test\r\n"
	         "Authentication-Results: spf=pass (sender IP is 192.0.2.9) "
	         "smtp.mailfrom=good.test; dkim=pass (signature was verified) "
	         "header.d=good.test;compauth=pass reason=100\r\n"
	         "Received-SPF: Pass (protection.outlook.com: domain of "
	         "good.test designates 192.0.2.9 as permitted sender)\r\n"
	         "DKIM-Signature: v=1; a=rsa-sha256; d=good.test; "
	         "s=selector1; h=From:Date:Subject\r\n"
	         "From: A <a@good.test>\r\n\r\nbody\r\n",
	         &r);
	assert_string_equal(r.authserv_id, "");
	assert_string_equal(r.spf, "pass");
	assert_string_equal(r.mailfrom_domain, "good.test");
	assert_string_equal(r.dkim, "pass");
	assert_string_equal(r.dmarc, "pass"); /* from the ARC-AR */
	assert_string_equal(r.dkim_headers, "from:date:subject");
	cls_received_free(&r);
}

static void test_received_unsigned(void **state)
{
	cls_received r;

	(void)state;
	/* no signature: the receiver's "dkim=none" is the verdict */
	received("Authentication-Results: mx.test; dkim=none; spf=softfail "
	         "smtp.mailfrom=<>\n"
	         "From: a@x.test\nList-Unsubscribe: <mailto:x@x.test>\n\n",
	         &r);
	assert_string_equal(r.dkim, "none");
	assert_string_equal(r.spf, "softfail");
	assert_null(r.mailfrom_domain);
	assert_null(r.dkim_domain);
	assert_true(r.list_unsub);
	assert_false(r.list_unsub_post);
	cls_received_free(&r);
	/* two results for our domain (RSA and Ed25519): a pass counts */
	received("Authentication-Results: mx.test; dkim=fail header.d=x.test "
	         "header.s=ed; dkim=pass header.d=x.test header.s=rsa\n"
	         "DKIM-Signature: d=x.test; s=ed; h=from\n"
	         "From: a@x.test\n\n",
	         &r);
	assert_string_equal(r.dkim, "fail"); /* header.s names ours */
	cls_received_free(&r);
	received("Authentication-Results: mx.test; dkim=fail header.d=x.test; "
	         "dkim=pass header.i=@x.test\n"
	         "DKIM-Signature: d=x.test; s=ed; h=from\n"
	         "From: a@x.test\n\n",
	         &r);
	assert_string_equal(r.dkim, "pass");
	cls_received_free(&r);
	cls_received_parse(NULL, 0, &r);
	assert_null(r.authserv_id);
	cls_received_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gmail),
	    cmocka_unit_test(test_microsoft),
	    cmocka_unit_test(test_opendkim_and_quoting),
	    cmocka_unit_test(test_arc),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_dkim_sig),
	    cmocka_unit_test(test_received_gmail),
	    cmocka_unit_test(test_received_trust),
	    cmocka_unit_test(test_received_microsoft),
	    cmocka_unit_test(test_received_unsigned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

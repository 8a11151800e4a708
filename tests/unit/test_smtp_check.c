/*
 * test_smtp_check.c - the header-data validator (smtp_check_*): header
 * text, display names and addresses at their limits, and the builder
 * refusing exactly what contacts import refuses.
 */
#include "unit.h"

#include <ctype.h>

#include "smtp/smtp.h"
#include "smtp_fx.h"

/* ---- the header-data validator (issue 18): one function, import and
 * builder ---------------------------------------------------------------- */

static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

typedef struct text_case {
	const char *value; /* NULL: built by the test */
	bool ok;
	const char *why; /* a substring of the refusal */
} text_case;

static const text_case text_cases[] = {
    {"Ann", true, NULL},
    {"Zoë O'Neil", true, NULL},
    {"a\tb", true, NULL},          /* TAB is allowed */
    {"\xc2\x85 next", true, NULL}, /* C1 controls are not ours to refuse */
    {"", true, NULL},
    {"Hi\r\nBcc: x@y", false, "line break"},
    {"Hi\nX: 1", false, "line break"},
    {"Hi\r", false, "line break"},
    {"B\x01ob", false, "U+0001 at byte 2"},
    {"Bob\x7f", false, "U+007F at byte 4"},
    {"\x1b[31mred", false, "U+001B at byte 1"},
    /* the eight-byte path: a control byte deep in a long ASCII run */
    {"abcdefghijklmnopq\x02rstuvwxyz", false, "U+0002 at byte 18"},
    {"abcdefgh\tijklmnop\tqrstuvwx", true, NULL},
    {"abcdefghijklmnop\x7f", false, "U+007F at byte 17"},
};

static void header_text_table(void **state)
{
	cs_err err = CS_ERR_INIT;
	size_t i;
	unsigned c;
	char *s;

	(void)state;
	for (i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++) {
		int rc = smtp_check_header_text("f", text_cases[i].value,
		                                SMTP_HEADER_MAX, &err);

		if (text_cases[i].ok != (rc == 0))
			fail_msg("case %zu: %s", i, err.msg);
		if (!text_cases[i].ok &&
		    strstr(err.msg, text_cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
			         text_cases[i].why);
	}
	/* every control character but TAB, at the start, in a word and in
	 * the tail */
	for (c = 0; c < 0x80; c++) {
		char v[24];
		size_t at;

		for (at = 0; at < 20; at += 9) {
			memset(v, 'x', 20);
			v[20] = '\0';
			v[at] = (char)c;
			if (c == 0)
				continue;
			assert_int_equal(
			    smtp_check_header_text("f", v, 900, &err) == 0,
			    c == '\t' || (c >= 0x20 && c != 0x7f));
		}
	}
	/* every length and position (the eight-byte words, the overlapping
	 * and the padded tail) */
	for (c = 1; c <= 17; c++) {
		char v[20];
		size_t at;

		for (at = 0; at < c; at++) {
			memset(v, 'x', c);
			v[c] = '\0';
			assert_int_equal(
			    smtp_check_header_text("f", v, 900, &err), 0);
			v[at] = '\x1f';
			assert_int_equal(
			    smtp_check_header_text("f", v, 900, &err),
			    CS_EINVAL);
			v[at] = '\n';
			assert_int_equal(smtp_check_body_text("f", v, &err), 0);
			v[at] = '\x7f';
			assert_int_equal(smtp_check_body_text("f", v, &err),
			                 CS_EINVAL);
		}
	}
	/* printable ASCII and TAB within the limit: always accepted */
	{
		char all[0x60];

		for (c = 0x20; c < 0x7f; c++)
			all[c - 0x20] = (char)c;
		all[0x5f] = '\0';
		all[7] = '\t';
		assert_int_equal(smtp_check_header_text("f", all, 95, &err), 0);
		assert_int_equal(smtp_check_body_text("f", all, &err), 0);
	}
	/* a body text (a multi-line note) may hold line breaks, not the rest */
	assert_int_equal(smtp_check_body_text("Notes", "a\r\nb\tc", &err), 0);
	assert_int_equal(smtp_check_body_text("Notes", "a\x1b[0m", &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, "Notes contains a control character "
	                                "(U+001B at byte 2)"));
	/* the length limit, exactly */
	s = rep('a', SMTP_HEADER_MAX);
	assert_int_equal(
	    smtp_check_header_text("Subject", s, SMTP_HEADER_MAX, &err), 0);
	free(s);
	s = rep('a', SMTP_HEADER_MAX + 1);
	assert_int_equal(
	    smtp_check_header_text("Subject", s, SMTP_HEADER_MAX, &err),
	    CS_EINVAL);
	assert_non_null(strstr(err.msg, "Subject is 901 octets long"));
	free(s);
	assert_true(SMTP_HEADER_MAX + strlen("Subject: Re: ") < SMTP_LINE_MAX);
	assert_int_equal(smtp_check_header_text("f", NULL, 0, &err), 0);
}

static void display_name_limit(void **state)
{
	cs_err err = CS_ERR_INIT;
	char *a = rep('a', 450), *b = rep('b', 449), *c = rep('c', 450);
	char *d = rep('d', SMTP_HEADER_MAX);

	(void)state;
	assert_int_equal(smtp_check_display_name("To", a, b, &err), 0);
	assert_int_equal(smtp_check_display_name("To", a, c, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "901 octets"));
	assert_int_equal(smtp_check_display_name("To", d, NULL, &err), 0);
	assert_int_equal(smtp_check_display_name("To", "", d, &err), 0);
	assert_int_equal(smtp_check_display_name("To", NULL, NULL, &err), 0);
	assert_int_equal(smtp_check_display_name("To", "A\x01", "B", &err),
	                 CS_EINVAL);
	assert_int_equal(smtp_check_display_name("To", "A", "B\nBcc: x", &err),
	                 CS_EINVAL);
	free(a);
	free(b);
	free(c);
	free(d);
}

typedef struct addr_case {
	size_t local, domain; /* lengths, when addr is NULL */
	const char *addr;
	bool ok;
	const char *why;
} addr_case;

static const addr_case addr_cases[] = {
    {64, 0, NULL, true, NULL},
    {65, 0, NULL, false, "over 64"},
    {1, 252, NULL, true, NULL},        /* 254 in all */
    {2, 252, NULL, false, "over 254"}, /* 255 in all */
    {0, 0, "a@xn--bcher-kva.de", true, NULL},
    {0, 0, "o'neil+tag@example.com", true, NULL},
    {0, 0, "a@localhost", true, NULL},
    {0, 0, "a@bücher.de", false, "not ASCII"},
    {0, 0, "zoë@example.com", false, "not ASCII"},
    {0, 0, "a b@example.com", false, "' '"},
    {0, 0, "a<b@example.com", false, "'<'"},
    {0, 0, "\"a\"@example.com", false, "'\"'"},
    {0, 0, "a\t@example.com", false, "not allowed"},
    {0, 0, ".a@example.com", false, "misplaced dot"},
    {0, 0, "a.@example.com", false, "misplaced dot"},
    {0, 0, "a..b@example.com", false, "misplaced dot"},
    {0, 0, "a@-x.example.com", false, "label"},
    {0, 0, "a@x..com", false, "label"},
    {0, 0, "a@x_y.com", false, "'_'"},
    {0, 0, "a@[127.0.0.1]", false, "'['"},
    {0, 0, "a@", false, "not an address"},
    {0, 0, "@example.com", false, "not an address"},
    {0, 0, "example.com", false, "not an address"},
    {0, 0, "", false, "missing"},
};

/* addr_cases[i] as a string (caller frees). */
static char *addr_of(const addr_case *c)
{
	char *s, *p;
	size_t left;

	if (c->addr)
		return strdup(c->addr);
	if (c->domain == 0) {
		s = rep('l', c->local + strlen("@example.com"));
		memcpy(s + c->local, "@example.com", strlen("@example.com"));
		return s;
	}
	/* labels of 63 joined by dots, the last one shorter, ending .com */
	s = rep('l', c->local + 1 + c->domain);
	s[c->local] = '@';
	p = s + c->local + 1;
	for (left = c->domain - 4; left > 0;) {
		size_t n = left > 63 ? 63 : left;

		if (left - n == 1) /* no label of 0 */
			n--;
		memset(p, 'd', n);
		p += n;
		left -= n;
		if (left) {
			*p++ = '.';
			left--;
		}
	}
	memcpy(p, ".com", 4);
	return s;
}

static void address_table(void **state)
{
	cs_err err = CS_ERR_INIT;
	size_t i;
	char lab[80];

	(void)state;
	for (i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
		char *a = addr_of(&addr_cases[i]);
		int rc = smtp_check_address("To", a, &err);

		if (addr_cases[i].ok != (rc == 0))
			fail_msg("case %zu (%s): %s", i, a, err.msg);
		if (!addr_cases[i].ok &&
		    strstr(err.msg, addr_cases[i].why) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg,
			         addr_cases[i].why);
		free(a);
	}
	/* a label of 63 is fine, 64 is not */
	memset(lab, 'x', 64);
	memcpy(lab + 63, ".com", 5);
	{
		char a[100];

		snprintf(a, sizeof a, "a@%s", lab);
		assert_int_equal(smtp_check_address("To", a, &err), 0);
		memset(lab, 'x', 64);
		memcpy(lab + 64, ".com", 5);
		snprintf(a, sizeof a, "a@%s", lab);
		assert_int_equal(smtp_check_address("To", a, &err), CS_EINVAL);
		assert_non_null(strstr(err.msg, "over 63"));
	}
	assert_int_equal(smtp_check_address("To", NULL, &err), CS_EINVAL);
}

/* The builder refuses exactly what import refuses: for every case above,
 * building with the value in a header fails iff the validator (which
 * contacts import calls per field) refuses it, with the same reason. */
static void builder_refuses_what_import_refuses(void **state)
{
	cs_err err = CS_ERR_INIT, berr = CS_ERR_INIT;
	cs_buf b = CS_BUF_INIT;
	char *mid = NULL, *big = rep('s', SMTP_HEADER_MAX + 1);
	size_t i;

	(void)state;
	for (i = 0; i <= sizeof text_cases / sizeof text_cases[0]; i++) {
		const char *v = i < sizeof text_cases / sizeof text_cases[0]
		                    ? text_cases[i].value
		                    : big;
		smtp_msg_spec m = base_spec();
		int want =
		    smtp_check_header_text("Subject", v, SMTP_HEADER_MAX, &err);
		int got;

		m.subject = v;
		got = smtp_build_message(&m, &b, &mid, &berr);
		assert_int_equal(got != 0, want != 0);
		if (want)
			assert_string_equal(berr.msg, err.msg);
		free(mid);
		mid = NULL;
		cs_buf_clear(&b);
		/* the To name, as import checks first_name + last_name */
		m = base_spec();
		m.to_name = v;
		want = smtp_check_display_name("x", v, NULL, &err);
		got = smtp_build_message(&m, &b, &mid, &berr);
		assert_int_equal(got != 0, want != 0);
		free(mid);
		mid = NULL;
		cs_buf_clear(&b);
	}
	for (i = 0; i < sizeof addr_cases / sizeof addr_cases[0]; i++) {
		char *a = addr_of(&addr_cases[i]);
		smtp_msg_spec m = base_spec();
		int want = smtp_check_address("To", a, &err), got;

		m.to_addr = a;
		got = smtp_build_message(&m, &b, &mid, &berr);
		if ((got != 0) != (want != 0))
			fail_msg("case %zu (%s): builder %d, check %d", i, a,
			         got, want);
		if (want)
			assert_string_equal(berr.msg, err.msg);
		free(mid);
		mid = NULL;
		cs_buf_clear(&b);
		free(a);
	}
	free(big);
	cs_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(header_text_table),
	    cmocka_unit_test(display_name_limit),
	    cmocka_unit_test(address_table),
	    cmocka_unit_test(builder_refuses_what_import_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

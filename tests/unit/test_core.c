/*
 * test_core.c - buffer, error, redaction, the UTF-8 decoder, the address
 * validator, edit distance, ISO 8601, clock, the CSV reader's recovery from
 * malformed records.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

static void buf_grows_and_keeps_nul(void **state)
{
	cs_buf b = CS_BUF_INIT;
	size_t i;

	(void)state;
	assert_string_equal(cs_buf_str(&b), "");
	for (i = 0; i < 1000; i++)
		cs_buf_putc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 1000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.data[1000], '\0');
	assert_int_equal(b.data[26], 'a');
	cs_buf_truncate(&b, 3);
	assert_string_equal(b.data, "abc");
	cs_buf_clear(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(cs_buf_str(&b), "");
	cs_buf_free(&b);
	assert_null(b.data);
}

static void buf_printf_long_and_binary(void **state)
{
	cs_buf b = CS_BUF_INIT;
	char big[5000];
	size_t n;
	char *p;

	(void)state;
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cs_buf_printf(&b, "[%s]%d", big, 42);
	assert_int_equal(b.len, 4999 + 4);
	assert_memory_equal(b.data + b.len - 3, "]42", 3);
	cs_buf_clear(&b);
	cs_buf_append(&b, "a\0b", 3); /* embedded NUL keeps explicit length */
	assert_int_equal(b.len, 3);
	p = cs_buf_detach(&b, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "a\0b", 3);
	assert_null(b.data);
	free(p);
	/* never written, or emptied: still a string */
	p = cs_buf_detach(&b, &n);
	assert_int_equal(n, 0);
	assert_string_equal(p, "");
	free(p);
	cs_buf_puts(&b, "abc");
	cs_buf_truncate(&b, 0);
	p = cs_buf_detach(&b, NULL);
	assert_string_equal(p, "");
	free(p);
}

static void err_sets_code_and_prefix(void **state)
{
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(cs_err_set(&err, CS_EINVAL, "line %d: bad %s", 7, "x"),
	                 CS_EINVAL);
	assert_int_equal(err.code, CS_EINVAL);
	assert_string_equal(err.msg, "line 7: bad x");
	cs_err_prefix(&err, "contacts.csv");
	assert_string_equal(err.msg, "contacts.csv: line 7: bad x");
	/* NULL error is allowed and still returns the code */
	assert_int_equal(cs_err_set(NULL, CS_EIO, "ignored"), CS_EIO);
	/* a very long message is cut, never overruns */
	char big[2000];
	memset(big, 'y', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cs_err_set(&err, CS_EIO, "%s", big);
	assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
	cs_err_clear(&err);
	assert_int_equal(err.code, 0);
	assert_string_equal(cs_err_name(CS_ECRYPTO), "decryption failed");
}

static void redaction_hides_registered_secrets(void **state)
{
	cs_secret *s = cs_secret_new("hunter2pass", 11);
	cs_buf out = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	const char *line = "login user1 hunter2pass ok; again hunter2pass";

	(void)state;
	cs_redact(line, strlen(line), &out);
	assert_null(strstr(cs_buf_str(&out), "hunter2pass"));
	assert_string_equal(cs_buf_str(&out),
	                    "login user1 [redacted] ok; again [redacted]");
	cs_err_set(&err, CS_EINVAL, "server said: password %s wrong",
	           cs_secret_value(s));
	assert_null(strstr(err.msg, "hunter2"));
	/* a derived form (e.g. base64 for AUTH PLAIN) is hidden too */
	cs_secret_add_form(s, "aHVudGVyMnBhc3M=", 16);
	cs_buf_clear(&out);
	cs_redact("AUTH PLAIN aHVudGVyMnBhc3M=", 27, &out);
	assert_string_equal(cs_buf_str(&out), "AUTH PLAIN [redacted]");
	cs_secret_free(s);
	/* freed secrets are no longer masked */
	cs_buf_clear(&out);
	cs_redact(line, strlen(line), &out);
	assert_string_equal(cs_buf_str(&out), line);
	cs_buf_free(&out);
}

static void redaction_cut_secret_in_err(void **state)
{
	/* A secret that straddles the error message limit must not leak
	 * its first half. */
	char pad[600], val[64];
	cs_secret *s;
	cs_err err;

	(void)state;
	memset(pad, 'p', sizeof pad);
	pad[505] = '\0';
	snprintf(val, sizeof val, "SECRETVALUE1234567890");
	s = cs_secret_new(val, strlen(val));
	cs_err_set(&err, CS_EINVAL, "%s%s", pad, val);
	assert_null(strstr(err.msg, "SECRET"));
	cs_secret_free(s);
}

/* The one UTF-8 decoder and its checker and cleaners, at the edges. */
static void utf8_edge_cases(void **state)
{
	static const struct {
		const char *s;
		size_t n;    /* bytes given to the decoder */
		size_t len;  /* cs_utf8_seq: 0 = invalid */
		uint32_t cp; /* when valid */
		const char *why;
	} t[] = {
	    {"A", 1, 1, 0x41, "ASCII"},
	    {"\x7f", 1, 1, 0x7f, "DEL is ASCII"},
	    {"\xc2\x80", 2, 2, 0x80, "smallest two-byte"},
	    {"\xdf\xbf", 2, 2, 0x7ff, "largest two-byte"},
	    {"\xe0\xa0\x80", 3, 3, 0x800, "smallest three-byte"},
	    {"\xed\x9f\xbf", 3, 3, 0xd7ff, "below the surrogates"},
	    {"\xee\x80\x80", 3, 3, 0xe000, "above the surrogates"},
	    {"\xef\xbf\xbf", 3, 3, 0xffff, "largest three-byte"},
	    {"\xf0\x90\x80\x80", 4, 4, 0x10000, "smallest four-byte"},
	    {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff, "U+10FFFF"},
	    {"\xc0\x80", 2, 0, 0, "overlong NUL (C0)"},
	    {"\xc1\xbf", 2, 0, 0, "overlong (C1)"},
	    {"\xe0\x80\x80", 3, 0, 0, "overlong three-byte"},
	    {"\xe0\x9f\xbf", 3, 0, 0, "overlong three-byte, top"},
	    {"\xf0\x80\x80\x80", 4, 0, 0, "overlong four-byte"},
	    {"\xf0\x8f\xbf\xbf", 4, 0, 0, "overlong four-byte, top"},
	    {"\xed\xa0\x80", 3, 0, 0, "surrogate U+D800"},
	    {"\xed\xbf\xbf", 3, 0, 0, "surrogate U+DFFF"},
	    {"\xf4\x90\x80\x80", 4, 0, 0, "U+110000"},
	    {"\xf5\x80\x80\x80", 4, 0, 0, "lead F5"},
	    {"\xff", 1, 0, 0, "lead FF"},
	    {"\x80", 1, 0, 0, "stray continuation"},
	    {"\xc3", 1, 0, 0, "two-byte cut by the end"},
	    {"\xe2\x82", 2, 0, 0, "three-byte cut by the end"},
	    {"\xf0\x9f\x98", 3, 0, 0, "four-byte cut by the end"},
	    {"\xe2\x82\xac", 2, 0, 0, "valid bytes past n do not count"},
	    {"\xc3(", 2, 0, 0, "cut by a non-continuation"},
	    {"\xe2(\xac", 3, 0, 0, "cut in the middle"},
	    {"", 0, 0, 0, "nothing"},
	};
	cs_buf b = CS_BUF_INIT;
	size_t i, bad;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		uint32_t cp = 0xdeadbeef;
		size_t len = cs_utf8_seq(t[i].s, t[i].n, &cp);

		if (len != t[i].len || (len && cp != t[i].cp))
			fail_msg("%s: length %zu code point %x, want %zu %x",
			         t[i].why, len, (unsigned)cp, t[i].len,
			         (unsigned)t[i].cp);
		/* the checker agrees, and points at the bad sequence */
		bad = 99;
		if (t[i].n &&
		    cs_utf8_valid(t[i].s, t[i].n, &bad) != (t[i].len == t[i].n))
			fail_msg("%s: cs_utf8_valid disagrees", t[i].why);
		if (t[i].n && t[i].len != t[i].n && bad != 0)
			fail_msg("%s: bad at %zu, want 0", t[i].why, bad);
	}
	/* past the eight-byte ASCII fast path, the offset still counts */
	assert_false(cs_utf8_valid("abcdefghij\xed\xa0\x80", 13, &bad));
	assert_int_equal(bad, 10);
	assert_true(cs_utf8_valid("abcdefgh\xc3\xa9", 10, &bad));
	/* repair: each bad byte one U+FFFD, controls kept */
	cs_utf8_repair("a\xc0\x80\tb\xe2\x82\xac\xed\xa0\x80", 11, &b);
	assert_string_equal(cs_buf_str(&b),
	                    "a\xef\xbf\xbd\xef\xbf\xbd\tb\xe2\x82\xac"
	                    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* clean: the same, controls become spaces, at most max bytes */
	cs_buf_clear(&b);
	cs_utf8_clean("a\tb\xff\xe2\x82\xac", 7, &b);
	assert_string_equal(cs_buf_str(&b), "a b\xef\xbf\xbd\xe2\x82\xac");
	cs_buf_clear(&b);
	cs_utf8_clean("a\tb\xff\xe2\x82\xac", 6, &b); /* the euro cut */
	assert_string_equal(cs_buf_str(&b),
	                    "a b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	cs_buf_free(&b);
}

/* Days from civil dates: the epoch, leap days, centuries, before 1970. */
static void days_from_civil_cases(void **state)
{
	(void)state;
	assert_int_equal(cs_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(cs_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(cs_days_from_civil(2000, 2, 29), 11016);
	assert_int_equal(cs_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(cs_days_from_civil(2024, 2, 29), 19782);
	assert_int_equal(cs_days_from_civil(1900, 3, 1), -25508);
	assert_int_equal(cs_days_from_civil(1600, 1, 1), -135140);
}

/* The one address validator: what it takes as given, what it stores. */
static void email_check_and_normalize(void **state)
{
	static const struct {
		const char *in;
		int check;        /* cs_email_check: 0 or CS_EINVAL */
		const char *norm; /* cs_email_normalize, NULL = refused */
		const char *msg;  /* a part of the reason, when refused */
	} t[] = {
	    {"ann@example.com", 0, "ann@example.com", NULL},
	    {"Ann.O'Neil+x@Example.COM", 0, "Ann.O'Neil+x@example.com", NULL},
	    {"a!#$%&*/=?^_`{|}~-@x.example", 0, "a!#$%&*/=?^_`{|}~-@x.example",
	     NULL},
	    {"  bob@x.example ", CS_EINVAL, "bob@x.example", "' '"},
	    {"a@b@x.example", CS_EINVAL, NULL, "'@'"},
	    {"ann@bücher.de", CS_EINVAL, "ann@xn--bcher-kva.de", "not ASCII"},
	    {"ann@xn--bcher-kva.de", 0, "ann@xn--bcher-kva.de", NULL},
	    {"", CS_EINVAL, NULL, "empty"},
	    {"ann", CS_EINVAL, NULL, "not an address"},
	    {"@x.example", CS_EINVAL, NULL, "not an address"},
	    {"ann@", CS_EINVAL, NULL, "empty"},
	    {"ann@localhost", CS_EINVAL, NULL, "needs a dot"},
	    {"ann@host.123", CS_EINVAL, NULL, "numeric label"},
	    {"ann@10.0.0.1", CS_EINVAL, NULL, "numeric label"},
	    {".ann@x.example", CS_EINVAL, NULL, "misplaced dot"},
	    {"ann.@x.example", CS_EINVAL, NULL, "misplaced dot"},
	    {"a..nn@x.example", CS_EINVAL, NULL, "misplaced dot"},
	    {"a nn@x.example", CS_EINVAL, NULL, "' '"},
	    {"a\"nn@x.example", CS_EINVAL, NULL, "'\"'"},
	    {"ä@x.example", CS_EINVAL, NULL, "non-ASCII"},
	    {"ann@-x.example", CS_EINVAL, NULL, "hyphen-edged"},
	    {"ann@x-.example", CS_EINVAL, NULL, "hyphen-edged"},
	    {"ann@x..example", CS_EINVAL, NULL, "empty, too long"},
	    {"ann@x.example.", CS_EINVAL, NULL, "empty, too long"},
	    {"ann@x_y.example", CS_EINVAL, NULL, "not allowed in a host"},
	    {"ann@[127.0.0.1]", CS_EINVAL, NULL, "not allowed in a host"},
	};
	cs_buf b = CS_BUF_INIT, lab = CS_BUF_INIT;
	char local[80], *big;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		cs_err e1 = CS_ERR_INIT, e2 = CS_ERR_INIT;
		int c = cs_email_check(t[i].in, &e1);
		int n;

		cs_buf_clear(&b);
		cs_buf_puts(&b, "kept");
		n = cs_email_normalize(t[i].in, &b, &e2);
		if (c != t[i].check)
			fail_msg("check \"%s\": %d (%s), want %d", t[i].in, c,
			         e1.msg, t[i].check);
		if (t[i].norm &&
		    (n != 0 || strcmp(cs_buf_str(&b) + 4, t[i].norm) != 0))
			fail_msg("normalize \"%s\": %d \"%s\" (%s)", t[i].in, n,
			         cs_buf_str(&b), e2.msg);
		if (t[i].norm == NULL &&
		    (n != CS_EINVAL || strcmp(cs_buf_str(&b), "kept") != 0))
			fail_msg("normalize \"%s\" should refuse, out "
			         "unchanged: %d \"%s\"",
			         t[i].in, n, cs_buf_str(&b));
		if (t[i].msg && c && strstr(e1.msg, t[i].msg) == NULL &&
		    strstr(e2.msg, t[i].msg) == NULL)
			fail_msg("\"%s\": reason \"%s\" / \"%s\" lacks \"%s\"",
			         t[i].in, e1.msg, e2.msg, t[i].msg);
	}
	/* the length limits: 64 before the @, 63 a label, 254 in all */
	memset(local, 'l', 64);
	strcpy(local + 64, "@x.example");
	assert_int_equal(cs_email_check(local, NULL), 0);
	memset(local, 'l', 65);
	strcpy(local + 65, "@x.example");
	assert_int_equal(cs_email_check(local, NULL), CS_EINVAL);
	cs_buf_puts(&lab, "a@");
	for (i = 0; i < 4; i++)
		cs_buf_printf(&lab, "%.*s.", 60, local); /* 4 x 61 */
	cs_buf_puts(&lab, "example");                    /* 2 + 244 + 7 = 253 */
	assert_int_equal(cs_email_check(cs_buf_str(&lab), NULL), 0);
	cs_buf_puts(&lab, "x"); /* 254 */
	assert_int_equal(cs_email_check(cs_buf_str(&lab), NULL), 0);
	cs_buf_puts(&lab, "x"); /* 255 */
	assert_int_equal(cs_email_check(cs_buf_str(&lab), NULL), CS_EINVAL);
	cs_buf_clear(&b);
	assert_int_equal(cs_email_normalize(cs_buf_str(&lab), &b, NULL),
	                 CS_EINVAL);
	big = cs_xasprintf("a@%.*s.example", 64, local); /* a 64-octet label */
	assert_int_equal(cs_email_check(big, NULL), CS_EINVAL);
	free(big);
	/* a bare domain: trimmed, lower-cased, IDN to ASCII */
	cs_buf_clear(&b);
	assert_int_equal(cs_domain_normalize(" Bücher.DE ", &b, NULL), 0);
	assert_string_equal(cs_buf_str(&b), "xn--bcher-kva.de");
	cs_buf_free(&b);
	cs_buf_free(&lab);
}

static void edit_distance_cases(void **state)
{
	(void)state;
	assert_int_equal(cs_edit_distance("init", "init", 2), 0);
	assert_int_equal(cs_edit_distance("inti", "init", 2), 1); /* swap */
	assert_int_equal(cs_edit_distance("confg", "config", 2), 1);
	assert_int_equal(cs_edit_distance("frobnicate", "init", 2), 3);
	assert_int_equal(cs_edit_distance("", "ab", 5), 2);
}

static void iso8601_round_trip_and_errors(void **state)
{
	int64_t t;
	char out[40];
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(
	    cs_time_parse_iso8601("2026-01-05T09:00:00Z", &t, &err), 0);
	assert_int_equal(t, 1767603600000LL);
	cs_time_iso8601(t, out, sizeof out);
	assert_string_equal(out, "2026-01-05T09:00:00.000Z");
	assert_int_equal(
	    cs_time_parse_iso8601("2026-01-05T10:30:00.250+01:30", &t, &err),
	    0);
	assert_int_equal(t, 1767603600250LL);
	assert_int_equal(cs_time_parse_iso8601("2024-02-29", &t, &err), 0);
	assert_int_equal(t, 1709164800000LL);
	assert_int_equal(cs_time_parse_iso8601("2023-02-29", &t, &err),
	                 CS_EINVAL);
	/* a time without a zone is refused, never guessed */
	assert_int_equal(cs_time_parse_iso8601("2026-01-05T09:00", &t, &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, "2026-01-05T09:00"));
	assert_int_equal(cs_time_parse_iso8601("2026-13-01", &t, &err),
	                 CS_EINVAL);
	assert_int_equal(cs_time_parse_iso8601("", &t, &err), CS_EINVAL);
	cs_time_iso8601(-1, out, sizeof out);
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void real_clock_tracks_realtime(void **state)
{
	cs_clock *c = cs_clock_new_real();
	int64_t now = (int64_t)time(NULL) * 1000, t = cs_clock_now(c);

	(void)state;
	assert_false(cs_clock_is_sim(c));
	assert_true(t >= now - 2000 && t <= now + 2000);
	assert_int_equal(cs_clock_advance(c, 1000), CS_EINVAL);
	cs_clock_free(c);
}

static void sim_clock_frozen_and_advanced(void **state)
{
	int64_t start = 1767603600000LL;
	cs_clock *c = cs_clock_new_sim(start, 0);

	(void)state;
	assert_true(cs_clock_is_sim(c));
	assert_int_equal(cs_clock_now(c), start);
	unit_sleep_ms(20);
	assert_int_equal(cs_clock_now(c), start); /* speed 0: frozen */
	assert_int_equal(cs_clock_advance(c, 3 * 86400000LL), 0);
	assert_int_equal(cs_clock_now(c), start + 3 * 86400000LL);
	assert_int_equal(cs_clock_advance(c, -1), CS_EINVAL);
	cs_clock_advance_to(c, start); /* never backwards */
	assert_int_equal(cs_clock_now(c), start + 3 * 86400000LL);
	cs_clock_advance_to(c, start + 4 * 86400000LL);
	assert_int_equal(cs_clock_now(c), start + 4 * 86400000LL);
	cs_clock_free(c);
}

static void sim_clock_runs_faster(void **state)
{
	int64_t start = 1767603600000LL, t;
	cs_clock *c = cs_clock_new_sim(start, 1000.0);

	(void)state;
	unit_sleep_ms(50); /* 50 ms real = about 50 s simulated */
	t = cs_clock_now(c) - start;
	assert_true(t >= 40000);
	assert_true(t < 3600000); /* generous: a loaded machine */
	cs_clock_free(c);
}

/* ---- CSV reader ------------------------------------------------------- */

/* Each row as "LINE:f1|f2;" or "LINE!why;"; a field over 16 bytes as
 * "<N bytes>". */
static int csv_collect(const cs_csv_row *r, void *arg)
{
	cs_buf *out = arg;
	size_t i;

	if (r->error) {
		cs_buf_printf(out, "%zu!%s;", r->line, r->error);
		return 0;
	}
	cs_buf_printf(out, "%zu:", r->line);
	for (i = 0; i < r->n; i++) {
		size_t n = strlen(r->fields[i]);

		if (i)
			cs_buf_putc(out, '|');
		if (n > 16)
			cs_buf_printf(out, "<%zu bytes>", n);
		else
			cs_buf_puts(out, r->fields[i]);
	}
	cs_buf_putc(out, ';');
	return 0;
}

static char *csv_file(const char *text, size_t n)
{
	const char *dir = getenv("TMPDIR");
	char *path = cs_xasprintf("%s/coldseq-unit-csv.XXXXXX",
	                          dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static char *repeat(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *s = cs_xmalloc(h + n + t + 1);

	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

static void csv_recovers_at_the_next_line(void **state)
{
	char *field64k = repeat("h\n", 'x', 65536, "\nb\n");
	char *field64k1 = repeat("h\n", 'x', 65537, "\nb\n");
	char *longline =
	    repeat("h\n", 'y', ((size_t)1 << 20) + ((size_t)1 << 17), "\nb\n");
	char *openbig = repeat("h\n\"a\n", 'z',
	                       ((size_t)1 << 20) + ((size_t)1 << 17), "\nb\n");
	const struct {
		const char *in, *want;
	} cases[] = {
	    /* a bad quote mid-file costs its line */
	    {"h\na\n\"R\"x\nb\n", "1:h;2:a;3!text after a closing quote;4:b;"},
	    /* a quote inside an unquoted field is text */
	    {"h\nO\"B\nb\n", "1:h;2:O\"B;3:b;"},
	    /* left open at the end of the file: its first line only */
	    {"h\n\"open\nb\nc\n",
	     "1:h;2!a quoted field opened on this line is not closed by the "
	     "end of the file;3:b;4:c;"},
	    /* a stray quote closed later: the swallowed lines read again */
	    {"h\n\"s\nb\n\"c\"x\nd\n",
	     "1:h;2!text after a closing quote (a quoted field opened on this "
	     "line runs to line 4);3:b;4!text after a closing quote;5:d;"},
	    /* CRLF, and a valid quoted field holding a newline */
	    {"h,i\r\na,b\r\n", "1:h|i;2:a|b;"},
	    {"h,i\r\n\"x\r\ny\",z\r\nq,r\r\n", "1:h|i;2:x\r\ny|z;4:q|r;"},
	    /* BOM, no newline at the end */
	    {"\xef\xbb\xbfh\na", "1:h;2:a;"},
	    {"h\n\"a\"\"b\"", "1:h;2:a\"b;"},
	    /* 64 KiB is the limit */
	    {field64k, "1:h;2:<65536 bytes>;3:b;"},
	    {field64k1, "1:h;2!field 1 is longer than 65536 bytes;3:b;"},
	    {longline, "1:h;2!the line is longer than 1 MiB;3:b;"},
	    {openbig,
	     "1:h;2!a quoted field opened on this line is not closed within "
	     "1 MiB;3!the line is longer than 1 MiB;4:b;"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = csv_file(cases[i].in, strlen(cases[i].in));
		cs_buf out = CS_BUF_INIT;
		cs_err err = CS_ERR_INIT;

		assert_int_equal(cs_csv_read(path, ',', CS_CSV_REPORT_BAD,
		                             csv_collect, &out, &err),
		                 0);
		if (strcmp(cs_buf_str(&out), cases[i].want) != 0)
			fail_msg("case %zu: got %s", i, cs_buf_str(&out));
		cs_buf_free(&out);
		unlink(path);
		free(path);
	}
	free(field64k);
	free(field64k1);
	free(longline);
	free(openbig);
}

static void csv_without_report_stops_at_the_bad_line(void **state)
{
	const char in[] = "h\na\n\"R\"x\nb\n";
	char *path = csv_file(in, sizeof in - 1);
	cs_buf out = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(cs_csv_foreach(path, ',', csv_collect, &out, &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, ":3: text after a closing quote"));
	assert_string_equal(cs_buf_str(&out), "1:h;2:a;");
	cs_buf_free(&out);
	unlink(path);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(buf_grows_and_keeps_nul),
	    cmocka_unit_test(buf_printf_long_and_binary),
	    cmocka_unit_test(err_sets_code_and_prefix),
	    cmocka_unit_test(redaction_hides_registered_secrets),
	    cmocka_unit_test(redaction_cut_secret_in_err),
	    cmocka_unit_test(utf8_edge_cases),
	    cmocka_unit_test(days_from_civil_cases),
	    cmocka_unit_test(email_check_and_normalize),
	    cmocka_unit_test(edit_distance_cases),
	    cmocka_unit_test(iso8601_round_trip_and_errors),
	    cmocka_unit_test(real_clock_tracks_realtime),
	    cmocka_unit_test(sim_clock_frozen_and_advanced),
	    cmocka_unit_test(sim_clock_runs_faster),
	    cmocka_unit_test(csv_recovers_at_the_next_line),
	    cmocka_unit_test(csv_without_report_stops_at_the_bad_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

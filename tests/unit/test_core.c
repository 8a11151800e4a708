/*
 * test_core.c - buffer, error, redaction, edit distance, ISO 8601, clock,
 * the CSV reader's recovery from malformed records.
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

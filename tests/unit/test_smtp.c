/*
 * test_smtp.c - message building: encoding, threading, unsubscribe
 * headers and refusal of header injection (the reply policy is
 * test_smtp_policy.c's).
 */
#include "unit.h"

#include <ctype.h>

#include "smtp/smtp.h"
#include "smtp_fx.h"

static void encoded_words(void **state)
{
	cs_buf b = CS_BUF_INIT;
	char long_name[400];
	size_t i;
	const char *p, *w;

	(void)state;
	smtp_encode_words("Plain ASCII", &b);
	assert_string_equal(cs_buf_str(&b), "Plain ASCII");
	cs_buf_clear(&b);
	smtp_encode_words("Jürgen Müller", &b);
	assert_string_equal(cs_buf_str(&b),
	                    "=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=");
	cs_buf_clear(&b);
	/* long text: several words, none over 75 characters, UTF-8 sequences
	 * never split across words */
	long_name[0] = '\0';
	for (i = 0; i < 40; i++)
		strcat(long_name, "ä€");
	smtp_encode_words(long_name, &b);
	for (p = cs_buf_str(&b); (w = strstr(p, "=?UTF-8?Q?")) != NULL;) {
		const char *end = strstr(w + 10, "?=");

		assert_non_null(end);
		assert_true(end + 2 - w <= 75);
		/* each word holds whole characters: ä is =C3=A4, € =E2=82=AC */
		assert_true(strncmp(w + 10, "=C3", 3) == 0 ||
		            strncmp(w + 10, "=E2", 3) == 0);
		p = end + 2;
	}
	cs_buf_free(&b);
}

static void build_headers(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b = CS_BUF_INIT;
	char *mid = NULL;
	const char *s;

	(void)state;
	m.in_reply_to = "<first@example.com>";
	m.references = "<first@example.com>";
	m.list_unsubscribe_mailto =
	    "mailto:sales@example.com?subject=unsubscribe%20abc";
	m.list_unsubscribe_url = "https://u.example.com/x/abc";
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	s = cs_buf_str(&b);
	/* Message-ID made here, on the sender's domain, lower-cased */
	assert_non_null(mid);
	assert_int_equal(mid[0], '<');
	assert_non_null(strstr(mid, "@example.com>"));
	assert_non_null(strstr(s, "Message-ID: "));
	assert_non_null(strstr(s, mid));
	assert_non_null(strstr(s, "Date: Mon, 5 Jan 2026 10:00:00 +0100\r\n"));
	assert_non_null(strstr(
	    s,
	    "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <sales@Example.COM>"));
	assert_non_null(strstr(s, "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n"));
	assert_non_null(strstr(s, "In-Reply-To: <first@example.com>\r\n"));
	assert_non_null(strstr(s, "References: <first@example.com>\r\n"));
	assert_non_null(strstr(s, "List-Unsubscribe: "
	                          "<https://u.example.com/x/abc>,"));
	assert_non_null(strstr(s, "List-Unsubscribe-Post: "
	                          "List-Unsubscribe=One-Click\r\n"));
	assert_non_null(strstr(s, "MIME-Version: 1.0\r\n"));
	assert_non_null(strstr(s, "charset=\"utf-8\""));
	assert_non_null(strstr(s, "\r\n\r\nHello Ann,\r\nsecond line\r\n"));
	/* no bare LF anywhere */
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\n')
			assert_int_equal(b.data[i - 1], '\r');
	free(mid);
	cs_buf_free(&b);
}

/* Non-ASCII text goes as written, 8bit: no escaped punctuation. */
static void build_non_ascii_body_is_8bit(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b = CS_BUF_INIT;
	char *mid = NULL;
	const char *s;

	(void)state;
	m.text = "Grüße, Jürgen! How are you doing?\n"
	         "Stop: https://u.example.com/x/F00?a=1&b=_~\n";
	m.html = "<p>Grüße</p>";
	m.message_id = "<fixed@example.com>";
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	s = cs_buf_str(&b);
	assert_string_equal(mid, "<fixed@example.com>");
	assert_non_null(strstr(s, "multipart/alternative"));
	assert_null(strstr(s, "quoted-printable"));
	assert_non_null(strstr(s, "Content-Transfer-Encoding: 8bit"));
	assert_non_null(strstr(s,
	                       "\r\n\r\nGrüße, Jürgen! How are you doing?\r\n"
	                       "Stop: https://u.example.com/x/F00?a=1&b=_~"
	                       "\r\n"));
	assert_non_null(strstr(s, "<p>Grüße</p>"));
	assert_true(smtp_has_8bit(b.data, b.len));
	free(mid);
	cs_buf_free(&b);
}

/* Decode quoted-printable (RFC 2045 6.7) strictly: every line at most 76
 * characters, "=" only before two upper-case hex digits or a line end,
 * no white space before a hard line break. */
static void qp_decode_strict(const char *q, cs_buf *out)
{
	const char *line = q;

	while (*line) {
		const char *end = strstr(line, "\r\n");
		size_t n = end ? (size_t)(end - line) : strlen(line), i;
		bool soft = n > 0 && line[n - 1] == '=';

		if (n > 76)
			fail_msg("QP line of %zu characters: %.*s", n, (int)n,
			         line);
		if (!soft && n > 0 &&
		    (line[n - 1] == ' ' || line[n - 1] == '\t'))
			fail_msg("trailing white space: %.*s", (int)n, line);
		for (i = 0; i < n - (soft ? 1 : 0); i++) {
			unsigned char c = (unsigned char)line[i];

			if (c == '=') {
				unsigned int v;

				assert_true(i + 2 < n + (soft ? 0 : 1));
				assert_true(
				    isxdigit((unsigned char)line[i + 1]) &&
				    isxdigit((unsigned char)line[i + 2]));
				assert_false(
				    islower((unsigned char)line[i + 1]) ||
				    islower((unsigned char)line[i + 2]));
				sscanf(line + i + 1, "%2X", &v);
				cs_buf_putc(out, (char)v);
				i += 2;
			} else {
				assert_true((c >= 33 && c <= 126) || c == ' ' ||
				            c == '\t');
				cs_buf_putc(out, (char)c);
			}
		}
		if (!end)
			break;
		if (!soft)
			cs_buf_puts(out, "\r\n");
		line = end + 2;
	}
}

/* Would this byte have to be escaped by RFC 2045 6.7 (ignoring the
 * end-of-line rule for white space)? */
static bool qp_required(unsigned char c)
{
	return c == '=' || c >= 127 || (c < 32 && c != ' ' && c != '\t');
}

typedef struct qp_case {
	const char *in;
	const char *out; /* exact encoding, or NULL: properties only */
} qp_case;

#define URL60 "https://u.example.com/unsubscribe/F00dCafe/abcdef0123456789"
#define URL100                                                                 \
	"https://u.example.com/unsubscribe/F00dCafe/abcdef0123456789abcdef"    \
	"0123456789abcdef0123456789abcdef0123"

static const qp_case qp_cases[] = {
    /* punctuation is not escaped; only "=" and non-ASCII are */
    {"How are you doing? See you Tuesday!\n",
     "How are you doing? See you Tuesday!\r\n"},
    {"Zoé, 1+1=2 @home [x] {y} ~_^`|\\\"#$\n",
     "Zo=C3=A9, 1+1=3D2 @home [x] {y} ~_^`|\\\"#$\r\n"},
    {"From here on\n", "From here on\r\n"},
    /* a space or tab before a line break or at the end is escaped */
    {"trailing \nand tab\t\nend ", "trailing=20\r\nand tab=09\r\nend=20"},
    {"two  \n", "two =20\r\n"},
    /* bare LF and CRLF become CRLF; a lone CR is data */
    {"a\r\nb\nc\rd", "a\r\nb\r\nc=0Dd"},
    {"", ""},
    {"\n\n", "\r\n\r\n"},
    /* a line of exactly 76 characters needs no soft break */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaa\n",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaa\r\n"},
    /* a URL that fits on a line moves to the next line whole */
    {"Not interested? Tell us here and we stop writing: " URL60 " Thanks\n",
     "Not interested? Tell us here and we stop writing: =\r\n" URL60
     " Thanks\r\n"},
    /* "=" in a query is escaped, and the URL still moves whole */
    {"Not interested? Tell us here and we stop writing: "
     "https://u.example.com/u?c=F00&t=abc_def~1! Thanks\n",
     "Not interested? Tell us here and we stop writing: =\r\n"
     "https://u.example.com/u?c=3DF00&t=3Dabc_def~1! Thanks\r\n"},
    {"Zoé, ceci est une phrase assez longue pour déborder " URL60 "\n", NULL},
    /* a word longer than any line is split as a last resort */
    {"see " URL100 " now\n", NULL},
    {URL100 URL100 "\n", NULL},
    /* long text with escapes: never split inside =XX */
    {"ééééééééééééééééééééééééééééééééééééééééééééééééééééééé\n", NULL},
    {"word word word word word word word word word word word word word "
     "word word word word word word word word word word word word word\n",
     NULL},
    {"                                                                    "
     "                          x\n",
     NULL},
};

static void qp_writer_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof qp_cases / sizeof qp_cases[0]; i++) {
		const qp_case *c = &qp_cases[i];
		cs_buf q = CS_BUF_INIT, d = CS_BUF_INIT, want = CS_BUF_INIT;
		const char *p;
		size_t j;

		smtp_qp_encode(c->in, strlen(c->in), &q);
		if (c->out && strcmp(cs_buf_str(&q), c->out) != 0)
			fail_msg("case %zu: got\n%s\nwant\n%s", i,
			         cs_buf_str(&q), c->out);
		/* decodes to the input (line ends as CRLF) */
		qp_decode_strict(cs_buf_str(&q), &d);
		for (p = c->in; *p; p++)
			if (*p == '\n' && (p == c->in || p[-1] != '\r'))
				cs_buf_puts(&want, "\r\n");
			else
				cs_buf_putc(&want, *p);
		if (strcmp(cs_buf_str(&d), cs_buf_str(&want)) != 0)
			fail_msg("case %zu: decodes to\n%s\nnot\n%s", i,
			         cs_buf_str(&d), cs_buf_str(&want));
		/* only required escapes: =XX stands for "=", a byte outside
		 * printable ASCII or white space that ends a line */
		for (j = 0; j < q.len; j++) {
			unsigned int v;

			if (q.data[j] != '=' || q.data[j + 1] == '\r')
				continue;
			sscanf(q.data + j + 1, "%2X", &v);
			if (!qp_required((unsigned char)v) &&
			    !((v == ' ' || v == '\t') &&
			      (q.data[j + 3] == '\r' || q.data[j + 3] == '\0')))
				fail_msg(
				    "case %zu: needless escape =%02X in\n%s", i,
				    v, cs_buf_str(&q));
		}
		/* a URL that fits on a line is never split */
		if (strstr(c->in, URL60) && !strstr(cs_buf_str(&q), URL60))
			fail_msg("case %zu: URL split:\n%s", i, cs_buf_str(&q));
		cs_buf_free(&q);
		cs_buf_free(&d);
		cs_buf_free(&want);
	}
}

/* The multipart boundary of a built message, into b[80]. */
static void boundary_in(const char *msg, char b[80])
{
	const char *p = strstr(msg, "boundary=\"");
	size_t n;

	assert_non_null(p);
	p += 10;
	n = strcspn(p, "\"");
	assert_true(n >= 1 && n <= 70);
	memcpy(b, p, n);
	b[n] = '\0';
}

static void boundary_random_and_valid(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b1 = CS_BUF_INIT, b2 = CS_BUF_INIT;
	char *mid = NULL, bd1[80], bd2[80], delim[90];
	const char *p;

	(void)state;
	m.html = "<p>Hello</p>";
	m.message_id = "<same@example.com>";
	assert_int_equal(smtp_build_message(&m, &b1, &mid, NULL), 0);
	free(mid);
	assert_int_equal(smtp_build_message(&m, &b2, &mid, NULL), 0);
	free(mid);
	boundary_in(cs_buf_str(&b1), bd1);
	boundary_in(cs_buf_str(&b2), bd2);
	/* libetpan's unseeded random(): "_6b8b4567_" on every install the
	 * first time; then other values of the same sequence.  One boundary
	 * parameter, ours, and none of libetpan's "%llx_%lx_%x" form. */
	assert_null(strstr(cs_buf_str(&b1), "6b8b4567"));
	assert_null(strstr(cs_buf_str(&b2), "6b8b4567"));
	p = strstr(cs_buf_str(&b1), "boundary=");
	assert_non_null(p);
	assert_null(strstr(p + 1, "boundary="));
	assert_null(strchr(bd1, '_'));
	assert_string_not_equal(bd1, bd2);
	/* RFC 2046 5.1.1 bchars, not ending in a space */
	for (p = bd1; *p; p++)
		assert_true(isalnum((unsigned char)*p) ||
		            strchr("'()+_,-./:=? ", *p) != NULL);
	assert_true(bd1[strlen(bd1) - 1] != ' ');
	assert_true(strlen(bd1) >= 32); /* 128 random bits */
	/* used as the delimiter of both parts and the close */
	snprintf(delim, sizeof delim, "\r\n--%s\r\n", bd1);
	p = strstr(cs_buf_str(&b1), delim);
	assert_non_null(p);
	assert_non_null(strstr(p + 1, delim));
	snprintf(delim, sizeof delim, "\r\n--%s--\r\n", bd1);
	assert_non_null(strstr(cs_buf_str(&b1), delim));
	cs_buf_free(&b1);
	cs_buf_free(&b2);
}

/* The body of the part whose header block holds "Content-Type: type"
 * (up to the next delimiter), decoded, into out. */
static void part_text(const char *msg, const char *type, const char *bd,
                      cs_buf *out)
{
	char delim[90];
	const char *p = strstr(msg, type), *body, *end;
	cs_buf enc = CS_BUF_INIT;

	assert_non_null(p);
	body = strstr(p, "\r\n\r\n");
	assert_non_null(body);
	body += 4;
	snprintf(delim, sizeof delim, "\r\n--%s", bd);
	end = strstr(body, delim);
	assert_non_null(end);
	cs_buf_append(&enc, body, (size_t)(end - body));
	qp_decode_strict(cs_buf_str(&enc), out);
	cs_buf_free(&enc);
}

static void downgrade_to_qp(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b = CS_BUF_INIT, d = CS_BUF_INIT, t = CS_BUF_INIT;
	char *mid = NULL, bd[80];
	const char *s;
	size_t i;

	(void)state;
	m.text = "Zoé, how are you doing? Tuesday!\n"
	         "Not interested? " URL60 "\n";
	m.html = "<p>Zoé</p>";
	m.message_id = "<fixed@example.com>";
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	smtp_downgrade_8bit(b.data, b.len, &d);
	s = cs_buf_str(&d);
	assert_false(smtp_has_8bit(d.data, d.len));
	assert_null(strstr(s, "8bit"));
	/* headers and boundaries byte for byte */
	assert_memory_equal(
	    b.data, d.data,
	    (size_t)(strstr(cs_buf_str(&b), "\r\n\r\n") - cs_buf_str(&b)));
	assert_non_null(strstr(s, "Message-ID: <fixed@example.com>\r\n"));
	boundary_in(s, bd);
	part_text(s, "Content-Type: text/plain", bd, &t);
	assert_string_equal(cs_buf_str(&t),
	                    "Zoé, how are you doing? Tuesday!\r\n"
	                    "Not interested? " URL60 "\r\n");
	assert_non_null(strstr(s, "Zo=C3=A9, how are you doing? Tuesday!\r\n"));
	assert_non_null(strstr(s, URL60));
	cs_buf_clear(&t);
	part_text(s, "Content-Type: text/html", bd, &t);
	assert_string_equal(cs_buf_str(&t), "<p>Zoé</p>");
	/* twice "quoted-printable", once per part */
	assert_non_null(
	    strstr(strstr(s, "quoted-printable") + 1, "quoted-printable"));
	/* no line over 76 in the parts */
	for (i = 0; i < d.len;) {
		const char *nl = strstr(d.data + i, "\r\n");
		size_t n = nl ? (size_t)(nl - (d.data + i)) : d.len - i;

		assert_true(n <= 998);
		i += n + 2;
	}
	/* a single-part 8bit message */
	cs_buf_clear(&b);
	cs_buf_clear(&d);
	free(mid);
	m.html = NULL;
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	smtp_downgrade_8bit(b.data, b.len, &d);
	s = cs_buf_str(&d);
	assert_false(smtp_has_8bit(d.data, d.len));
	assert_non_null(
	    strstr(s, "Content-Transfer-Encoding: quoted-printable\r\n"));
	assert_non_null(strstr(s, "\r\n\r\nZo=C3=A9, how are you doing? "
	                          "Tuesday!\r\nNot interested? " URL60 "\r\n"));
	/* an ASCII message is left as it is */
	cs_buf_clear(&b);
	cs_buf_clear(&d);
	free(mid);
	m = base_spec();
	m.html = "<p>Hi</p>";
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	smtp_downgrade_8bit(b.data, b.len, &d);
	assert_int_equal(b.len, d.len);
	assert_memory_equal(b.data, d.data, b.len);
	free(mid);
	cs_buf_free(&b);
	cs_buf_free(&d);
	cs_buf_free(&t);
}

/* A line over 998 octets cannot go 7bit or 8bit: it is QP, written by us. */
static void build_long_line_is_qp(void **state)
{
	smtp_msg_spec m = base_spec();
	cs_buf b = CS_BUF_INIT, t = CS_BUF_INIT;
	char *mid = NULL, *text = malloc(1300);
	const char *s;
	size_t i;

	(void)state;
	for (i = 0; i < 1200; i++)
		text[i] = i % 10 == 9 ? ' ' : "abc?!_F"[i % 7];
	strcpy(text + 1200, "\n");
	m.text = text;
	assert_int_equal(smtp_build_message(&m, &b, &mid, NULL), 0);
	s = cs_buf_str(&b);
	assert_non_null(
	    strstr(s, "Content-Transfer-Encoding: quoted-printable\r\n"));
	qp_decode_strict(strstr(s, "\r\n\r\n") + 4, &t);
	assert_int_equal(t.len, 1202);
	assert_memory_equal(t.data, text, 1200);
	assert_null(strstr(s, "=3F"));
	assert_null(strstr(s, "=21"));
	assert_null(strstr(s, "=46"));
	free(text);
	free(mid);
	cs_buf_free(&b);
	cs_buf_free(&t);
}

static void header_injection_refused(void **state)
{
	static const char *const bad[] = {"Hi\r\nBcc: victim@example.org",
	                                  "Hi\nX-Evil: 1", "Hi\rthere"};
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	char *mid = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		smtp_msg_spec m = base_spec();

		m.subject = bad[i];
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		assert_non_null(strstr(err.msg, "Subject"));
		assert_int_equal(b.len, 0);
		assert_null(mid);
		m = base_spec();
		m.from_name = bad[i];
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		assert_non_null(strstr(err.msg, "display name"));
		m = base_spec();
		m.to_name = bad[i];
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
	}
	{
		smtp_msg_spec m = base_spec();
		smtp_header h = {"X-Custom", "a\r\nb"};

		m.extra = &h;
		m.nextra = 1;
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		assert_non_null(strstr(err.msg, "X-Custom"));
		m.to_addr = "ann@example.org>\r\nBcc: x@y";
		m.nextra = 0;
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
		m = base_spec();
		m.references = "not-an-id";
		assert_int_equal(smtp_build_message(&m, &b, &mid, &err),
		                 CS_EINVAL);
	}
	assert_int_equal(b.len, 0);
	cs_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(encoded_words),
	    cmocka_unit_test(build_headers),
	    cmocka_unit_test(build_non_ascii_body_is_8bit),
	    cmocka_unit_test(qp_writer_table),
	    cmocka_unit_test(boundary_random_and_valid),
	    cmocka_unit_test(downgrade_to_qp),
	    cmocka_unit_test(build_long_line_is_qp),
	    cmocka_unit_test(header_injection_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * evidence.c - what a report says about a refusal besides its words: the
 * RFC 3463 enhanced status codes in a text, the SMTP reply codes
 * (RFC 5321 4.2), and the SMTP command a refusal answered.
 *
 * reason.c weighs these against the words: an "unknown user" at RCPT TO
 * or with a bad-mailbox status condemns the address, the same words after
 * DATA do not.  Everything here reads a flattened (lower-case, white space
 * squeezed) or raw text and allocates nothing.
 */
#include "cls_int.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Can c start a status or a reply code ('2' to '5')?  Most bytes of a
 * text are rejected by this one test. */
static inline bool class_digit(char c)
{
	return (unsigned char)(c - '2') <= 3u;
}

static inline bool digit(char c)
{
	return (unsigned char)(c - '0') <= 9u;
}

static inline bool alnum(char c)
{
	return digit(c) || (unsigned char)((c | 0x20) - 'a') <= 25u;
}

/* The first position from i below lim (<= n) whose byte can start a
 * status or a reply code ('2' to '5'), or lim.  With SSE2, sixteen bytes
 * at a time: most text holds few such digits. */
static inline size_t next_class_digit(const char *s, size_t n, size_t i,
                                      size_t lim)
{
#ifdef __SSE2__
	for (; i < lim && n - i >= 16; i += 16) {
		__m128i v = _mm_sub_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)(s + i)),
		    _mm_set1_epi8('2'));
		/* unsigned v - '2' <= 3 */
		unsigned m = (unsigned)_mm_movemask_epi8(
		    _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(3)), v));

		if (m) {
			i += (size_t)__builtin_ctz(m);
			return i < lim ? i : lim;
		}
	}
#else
	(void)n;
#endif
	for (; i < lim; i++)
		if (class_digit(s[i]))
			return i;
	return lim;
}

/* Is there an RFC 3463 status ("5.1.1", "4.7.26") starting at s[i], not
 * inside a longer dotted number?  It goes into out (size 8). */
static bool status_here(const char *s, size_t n, size_t i, char out[8])
{
	size_t j = i + 2, k;

	if (i + 5 > n || (s[i] != '2' && s[i] != '4' && s[i] != '5') ||
	    s[i + 1] != '.' || (i > 0 && (alnum(s[i - 1]) || s[i - 1] == '.')))
		return false;
	for (k = j; k < n && k - j < 3 && digit(s[k]); k++)
		;
	if (k == j || k >= n || s[k] != '.')
		return false;
	j = ++k;
	for (; k < n && k - j < 3 && digit(s[k]); k++)
		;
	if (k == j || k - i > 7 ||
	    (k < n &&
	     (alnum(s[k]) || (s[k] == '.' && k + 1 < n && digit(s[k + 1])))))
		return false;
	memcpy(out, s + i, k - i);
	out[k - i] = '\0';
	return true;
}

bool cls_status_find(const char *s, size_t n, char out[8])
{
	size_t i, lim = n >= 5 ? n - 4 : 0;

	for (i = next_class_digit(s, n, 0, lim); i < lim;
	     i = next_class_digit(s, n, i + 1, lim))
		if (status_here(s, n, i, out))
			return true;
	return false;
}

/* Is there an SMTP reply code at s[i] ("550 ", "550-", "550,", "550:"),
 * not inside a longer number or a dotted address? */
static inline bool reply_code_at(const char *s, size_t n, size_t i)
{
	return i + 3 < n && (s[i] == '4' || s[i] == '5') && digit(s[i + 1]) &&
	       digit(s[i + 2]) &&
	       (s[i + 3] == ' ' || s[i + 3] == '-' || s[i + 3] == ',' ||
	        s[i + 3] == ':') &&
	       (i == 0 || (!alnum(s[i - 1]) && s[i - 1] != '.'));
}

/* An SMTP reply code's class ('4', '5') in s, or 0. */
char cls_reply_class(const char *s, size_t n)
{
	size_t i, lim = n >= 4 ? n - 3 : 0;

	for (i = next_class_digit(s, n, 0, lim); i < lim;
	     i = next_class_digit(s, n, i + 1, lim))
		if (reply_code_at(s, n, i))
			return s[i];
	return 0;
}

/* The status of the server's own reply in s[0..n): the one right after a
 * reply code ("550 5.1.1", "550-5.7.1", "550-'5.7.1", "550 #5.1.0"), else
 * the first one.  A relaying system often puts its own summary first
 * ("5.1.0 - Unknown address error 550-'5.7.1 ... Access denied'"); the
 * status the refusing server gave is the one that says why.  One pass. */
bool cls_reply_status(const char *s, size_t n, char out[8])
{
	char first[8] = "";
	size_t i, lim = n >= 5 ? n - 4 : 0;

	for (i = next_class_digit(s, n, 0, lim); i < lim;
	     i = next_class_digit(s, n, i + 1, lim)) {
		if (reply_code_at(s, n, i)) {
			size_t j = i + 4;

			while (j < n && j < i + 7 &&
			       (s[j] == ' ' || s[j] == '\'' || s[j] == '#'))
				j++;
			if (status_here(s, n < j + 8 ? n : j + 8, j, out))
				return true;
		}
		if (first[0] == '\0')
			(void)status_here(s, n, i, first);
	}
	memcpy(out, first, sizeof first);
	return first[0] != '\0';
}

/* Does the status say the destination address is bad (X.1.0 other
 * address status, X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax,
 * X.1.6 moved, X.1.10 null MX, and the X.1.n above 10 that some servers
 * use for "recipient not found")?  Not X.1.4 (ambiguous), X.1.5 (valid),
 * X.1.7/X.1.8 (the sender's) or X.1.9. */
bool cls_status_address(const char *st)
{
	int d;

	if (st[0] == '\0' || strncmp(st + 1, ".1.", 3) != 0)
		return false;
	d = atoi(st + 4);
	return d <= 3 || d == 6 || d >= 10;
}

/* "X.0.0" and "": the status says nothing beyond its class. */
bool cls_status_vague(const char *st)
{
	return st[0] == '\0' || strcmp(st + 1, ".0.0") == 0;
}

/* A status with both its subject and detail non-zero ("5.7.1", not
 * "5.1.0" or "5.0.0"). */
bool cls_status_specific(const char *st)
{
	const char *d = strchr(st + 2, '.');

	return st[0] && st[2] != '0' && d && atoi(d + 1) != 0;
}

/* The SMTP command a refusal answered (RFC 5321 3.3), as reports name it:
 * Postfix "(in reply to RCPT TO command)", Exim "after RCPT TO:",
 * Sendmail's ">>> RCPT To:" transcript, qmail's "does not like
 * recipient", "after end of data".  The earliest mention in the text is
 * taken, except that a DATA refused for want of any accepted recipient
 * ("503 Need RCPT", "no valid recipients") says the recipients were
 * refused at RCPT, whatever the transcript shows first (pipelining). */
const char *const cls_ph_mail[] = {
    "mail from command",
    "after mail from",
    ">>> mail from",
    NULL,
};
const char *const cls_ph_rcpt[] = {
    "rcpt to", "rcpt command", ">>> rcpt", "after rcpt", "[rcpt_to]", NULL,
};
/* A reporting MTA's summary that a recipient was refused, without naming
 * the command: qmail-remote "does not like recipient", Sun Messaging
 * Server "Remote SMTP server has rejected address". */
const char *const cls_ph_rcpt_said[] = {
    "does not like recipient",
    "server has rejected address",
    NULL,
};
const char *const cls_ph_no_rcpt[] = {
    "need rcpt",
    "no valid recipients",
    "no recipients specified",
    NULL,
};
const char *const cls_ph_data[] = {
    "end of data",
    "after data",
    ">>> data",
    "data command",
    "failed after i sent the message", /* cite: qmail-remote "Failed after I
                                          sent the message." */
    NULL,
};

/* Before any recipient: the greeting (RFC 5321 3.1: "554 No SMTP service
 * here"), HELO/EHLO (4.1.1.1) or STARTTLS (RFC 3207): Postfix "in reply
 * to initial greeting" / "in reply to HELO command", Exim "SMTP error
 * from remote mail server after initial connection" / "after EHLO". */
const char *const cls_ph_conn[] = {
    "initial greeting",
    "in reply to helo",
    "in reply to ehlo",
    "in reply to starttls",
    "after initial connection",
    "after helo",
    /* cite: Exim "SMTP error from remote mail server after EHLO" */
    "after ehlo",
    "after starttls",
    NULL,
};

int cls_phase_of(const char *no_rcpt, const char *rcpt, const char *said,
                 const char *mail, const char *data, const char *conn)
{
	const char *best = NULL;
	int ph = CLS_PHASE_NONE;

	if (no_rcpt)
		return CLS_PHASE_RCPT;
	if (rcpt) {
		best = rcpt;
		ph = CLS_PHASE_RCPT;
	}
	if (said && (best == NULL || said < best)) {
		best = said;
		ph = CLS_PHASE_RCPT_SAID;
	}
	if (mail && (best == NULL || mail < best)) {
		best = mail;
		ph = CLS_PHASE_MAIL;
	}
	if (data && (best == NULL || data < best)) {
		best = data;
		ph = CLS_PHASE_DATA;
	}
	if (conn && (best == NULL || conn < best))
		ph = CLS_PHASE_CONN;
	return ph;
}

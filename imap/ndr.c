/*
 * ndr.c - delivery reports that are not RFC 3464 DSNs.
 *
 * Many servers (qmail, older Exim and Sendmail, Exchange and Office 365 in
 * some paths, Yahoo, webmail providers, gateways) report a failure as free
 * text.  imap_ndr_detect() decides it is one from three kinds of evidence:
 * who sent it (null sender, MAILER-DAEMON, postmaster, "Mail Delivery
 * System"), the subject ("Undelivered Mail Returned to Sender", "failure
 * notice", ...) and the wording of the text ("could not be delivered",
 * "permanent error", ...), or at once from an X-Failed-Recipients header.
 * A notice that says it will keep trying is a delay, not a bounce.
 *
 * Recipients come from X-Failed-Recipients, else from the addresses the
 * report's own text names (before any copy of the original message),
 * leaving out the addresses of the notice's sender and addressee, else
 * from To of the returned original headers.  Each recipient's diagnostic
 * is the text around its first mention; reason.c decides the rest.
 */
#define _GNU_SOURCE /* strcasestr */
#include "imap_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const daemon_from[] = {
    "mailer-daemon",
    "mailer_daemon",
    "postmaster",
    "mail delivery",
    "mail administrator",
    "maildelivery",
    "mail-delivery",
    "mdaemon",
    "mail system",
    "mailer@",
    "mail.delivery",
    "delivery subsystem",
    "bounce",
    "nobody@",
    "<>",
    NULL,
};

static const char *const fail_subject[] = {
    "undeliver",
    "undelivered",
    "delivery status notification (failure)",
    "delivery failure",
    "delivery failed",
    "failure notice",
    "returned mail",
    "mail system error",
    "delivery has failed",
    "non-delivery",
    "nondelivery",
    "non delivery",
    "not delivered",
    "could not send message",
    "delivery problem",
    "delivery notification",
    "returned to sender",
    "permanent error",
    "unable to deliver",
    "delivery error",
    "failed delivery",
    "message delivery failure",
    "mail delivery failed",
    "rejected",
    "nicht zustellbar",
    "unzustellbar",
    "non remis",
    "no se puede entregar",
    "devuelto",
    "onbestelbaar",
    "não entregue",
    "mancato recapito",
    "bounce",
    "delivery status notification",
    "delivery report",
    "mail failure",
    "returned message",
    "error sending",
    "delivery final failure",
    NULL,
};

static const char *const delay_subject[] = {
    "delayed",
    "delay",
    "warning: could not send",
    "still trying",
    "not yet delivered",
    "temporary failure",
    "verzögert",
    NULL,
};

static const char *const fail_body[] = {
    "could not be delivered",
    "couldn't be delivered",
    "was not delivered",
    "wasn't delivered",
    "could not deliver",
    "couldn't deliver",
    "unable to deliver",
    "undeliverable",
    "delivery has failed",
    "delivery failed",
    "delivery to the following recipient",
    "permanent error",
    "fatal error",
    "failed permanently",
    "message was rejected",
    "not be delivered",
    "returned to sender",
    "failed to deliver",
    "delivery of your message",
    "able to deliver",
    "mail delivery failed",
    "address not found",
    "user unknown",
    "no such user",
    "message not delivered",
    "the following addresses had",
    "following recipient",
    "could not reach",
    "did not reach",
    "delivery to the following",
    "rejected your message",
    "not delivered to",
    "nicht zugestellt",
    "konnte nicht",
    "unzustellbar",
    "non remis",
    "n'a pas pu être remis",
    "no se pudo entregar",
    "no pudo ser entregado",
    "não foi possível entregar",
    "impossibile recapitare",
    "kon niet worden afgeleverd",
    "message could not",
    "failed recipient",
    "recipient address rejected",
    "returning message to sender",
    "delivery status notification",
    "error occurred",
    "was undeliverable",
    "there was an error",
    "delivery problem",
    NULL,
};

static const char *const delay_body[] = {
    "this is a warning only",
    "will be retried",
    "will continue trying",
    "will continue to try",
    "will retry",
    "will keep trying",
    "has been delayed",
    "delivery delayed",
    "delivery has been delayed",
    "not yet been delivered",
    "no need to resend",
    "do not need to resend",
    "still trying",
    "temporarily deferred",
    "delivery attempts will continue",
    "message is delayed",
    "warning: message",
    NULL,
};

static const char *const permanent_body[] = {
    "permanent",
    "giving up",
    "gave up",
    "has been returned",
    "deleted from queue",
    "could not be delivered to one or more",
    NULL,
};

/* Local parts that name a mail system, never a failed recipient. */
static const char *const system_local[] = {
    "mailer-daemon", "postmaster", "mailer_daemon",
    "mail-daemon",   "mdaemon",    NULL,
};

static imap_phr daemon_phr = IMAP_PHR_ANY(daemon_from);
static imap_phr fail_subject_phr = IMAP_PHR_ANY(fail_subject);
static imap_phr delay_subject_phr = IMAP_PHR_ANY(delay_subject);
static imap_phr fail_body_phr = IMAP_PHR_ANY(fail_body);
static imap_phr delay_body_phr = IMAP_PHR_ANY(delay_body);
static imap_phr permanent_body_phr = IMAP_PHR_ANY(permanent_body);

static bool list_hit(const char *t, size_t n, imap_phr *list)
{
	return n && imap_phr_find(list, t, n, NULL) >= 0;
}

bool imap_ndr_from_daemon(const imap_msg *m)
{
	cs_buf f = CS_BUF_INIT;
	const char *s;
	size_t n;
	bool hit = false;

	if ((s = imap_msg_hdr(m, "From", &n)) != NULL) {
		imap_flatten(s, n, &f);
		hit = list_hit(f.data, f.len, &daemon_phr);
	}
	if (!hit && (s = imap_msg_hdr(m, "Return-Path", &n)) != NULL) {
		/* null sender: only mail systems send with <> */
		hit = strcmp(s, "<>") == 0 || strcmp(s, "< >") == 0 || n == 0 ||
		      strcasestr(s, "mailer-daemon") != NULL;
	}
	cs_buf_free(&f);
	return hit;
}

/* Addresses that are the notice's own (sender, addressee). */
typedef struct own_addrs {
	cs_buf list; /* "\n"-separated, lower case, with a leading "\n" */
} own_addrs;

/* Every address in a header value. */
static void own_add_value(own_addrs *o, const char *p, size_t left)
{
	cs_buf a = CS_BUF_INIT;

	while (left > 0 && imap_addr_clean(p, left, &a)) {
		const char *at = memchr(p, '@', left), *comma;
		size_t skip;

		cs_buf_putc(&o->list, '\n');
		imap_flatten(a.data, a.len, &o->list);
		cs_buf_putc(&o->list, '\n');
		skip = (size_t)(at - p) + 1;
		p += skip;
		left -= skip;
		comma = memchr(p, ',', left);
		if (comma == NULL)
			break;
		left -= (size_t)(comma + 1 - p);
		p = comma + 1;
	}
	cs_buf_free(&a);
}

/* Every field called name of the top header block. */
static void own_add(own_addrs *o, const imap_msg *m, const char *name)
{
	const char *v;
	size_t k, n;

	for (k = 0; (v = imap_msg_hdr_nth(m, name, k, &n)) != NULL; k++)
		own_add_value(o, v, n);
}

static bool own_has(const own_addrs *o, const char *addr)
{
	cs_buf k = CS_BUF_INIT;
	bool hit;

	cs_buf_putc(&k, '\n');
	imap_flatten(addr, strlen(addr), &k);
	cs_buf_putc(&k, '\n');
	hit = o->list.len && imap_find(o->list.data, o->list.len, k.data);
	cs_buf_free(&k);
	return hit;
}

static bool is_addr_char(char ch)
{
	return isalnum((unsigned char)ch) || strchr("._%+-=!#$&'*/?^`{|}~", ch);
}

static bool system_address(const char *a)
{
	int i;

	for (i = 0; system_local[i]; i++)
		if (strncasecmp(a, system_local[i], strlen(system_local[i])) ==
		    0)
			return true;
	return false;
}

/* The lines around t[at] (from its line to the next empty line, at most
 * 600 bytes) as the recipient's diagnostic. */
static void diag_around(const char *t, size_t n, size_t at, cs_buf *out)
{
	size_t s = at, e = at;
	const char *blank;

	while (s > 0 && t[s - 1] != '\n')
		s--;
	blank = memmem(t + at, n - at, "\n\r\n", 3);
	e = blank ? (size_t)(blank - t) : n;
	if (e - s > 600)
		e = s + 600;
	cs_buf_clear(out);
	cs_buf_append(out, t + s, e - s);
}

/* Scan t[0..n) for addresses; add those not our own.  Returns how many. */
static size_t rcpts_from_text(const char *t, size_t n, const own_addrs *own,
                              imap_class *c)
{
	cs_buf a = CS_BUF_INIT, diag = CS_BUF_INIT;
	size_t i, added = 0;

	for (i = 1; i + 1 < n; i++) {
		size_t s, e;
		const char *at;

		if (t[i] != '@' || !is_addr_char(t[i - 1]) ||
		    !isalnum((unsigned char)t[i + 1]))
			continue;
		s = i;
		while (s > 0 && is_addr_char(t[s - 1]))
			s--;
		e = i + 1;
		while (e < n && (isalnum((unsigned char)t[e]) || t[e] == '.' ||
		                 t[e] == '-'))
			e++;
		while (e > i + 1 && t[e - 1] == '.')
			e--;
		i = e;
		while (s < i && (t[s] == '.' || t[s] == '\''))
			s++;
		cs_buf_clear(&a);
		cs_buf_append(&a, t + s, e - s);
		/* a domain part needs a dot, and the address must not be the
		 * notice's sender or addressee or a mail system's */
		at = memchr(a.data, '@', a.len);
		if (at == NULL ||
		    memchr(at, '.', a.len - (size_t)(at - a.data)) == NULL ||
		    own_has(own, a.data) ||
		    strncasecmp(a.data, "mailer-daemon", 13) == 0)
			continue;
		/* a Message-ID looks like an address: skip "<...>" preceded by
		 * "id" words */
		if (s >= 1 && t[s - 1] == '<' && s >= 13 &&
		    strncasecmp(t + s - 13, "message-id: <", 13) == 0)
			continue;
		diag_around(t, n, s, &diag);
		if (imap_rcpt_add(c, a.data, diag.data))
			added++;
	}
	cs_buf_free(&a);
	cs_buf_free(&diag);
	return added;
}

static void rcpts_from_header(const imap_msg *m, const char *name,
                              imap_class *c)
{
	cs_buf a = CS_BUF_INIT;
	const char *p, *end;
	size_t n;

	p = imap_msg_hdr(m, name, &n);
	if (p == NULL)
		goto out;
	end = p + n;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;

		if (imap_addr_clean(p, (size_t)(e - p), &a))
			(void)imap_rcpt_add(c, a.data, NULL);
		p = e + 1;
	}
out:
	cs_buf_free(&a);
}

/* To: of the returned original, from m->orig or the quoted copy in text. */
static void rcpts_from_orig(const imap_msg *m, imap_class *c)
{
	cs_buf v = CS_BUF_INIT, a = CS_BUF_INIT;
	bool got = false;

	if (m->orig.len)
		got = imap_hdr_get(m->orig.data, m->orig.len, "To", &v);
	if (!got && m->orig_text_at < m->text.len) {
		const char *t = m->text.data + m->orig_text_at;
		const char *to = strcasestr(t, "\nTo:");

		if (to)
			got = imap_hdr_get(to + 1, strlen(to + 1), "To", &v);
	}
	if (got && imap_addr_clean(v.data, v.len, &a) &&
	    !system_address(a.data))
		(void)imap_rcpt_add(c, a.data, NULL);
	cs_buf_free(&v);
	cs_buf_free(&a);
}

bool imap_ndr_detect(const imap_msg *m, imap_class *c)
{
	cs_buf v = CS_BUF_INIT, subj = CS_BUF_INIT;
	own_addrs own;
	bool daemon, xfailed, sfail, sdelay, bfail, bdelay, perm, delay;
	size_t i, n, textlen = m->orig_text_at;
	const char *body = cs_buf_str(&m->flat), *s;
	size_t blen = m->flat.len;
	imap_rctx ctx;

	memset(&own, 0, sizeof own);
	s = imap_msg_hdr(m, "X-Failed-Recipients", &n);
	xfailed = s && memchr(s, '@', n);
	if ((s = imap_msg_hdr(m, "Subject", &n)) != NULL)
		imap_flatten(s, n, &subj);
	if (textlen > IMAP_WORDS_SCAN)
		textlen = IMAP_WORDS_SCAN;
	daemon = imap_ndr_from_daemon(m);
	sfail = list_hit(subj.data, subj.len, &fail_subject_phr);
	sdelay = list_hit(subj.data, subj.len, &delay_subject_phr);
	bfail = list_hit(body, blen, &fail_body_phr);
	bdelay = list_hit(body, blen, &delay_body_phr);
	if (!xfailed && !(daemon && (sfail || sdelay || bfail || bdelay)) &&
	    !(sfail && bfail) && !(sdelay && bdelay)) {
		cs_buf_free(&subj);
		return false;
	}
	perm = list_hit(body, blen, &permanent_body_phr) && !sdelay;
	delay = (sdelay || bdelay) && !perm && !xfailed && !(sfail && !sdelay);

	own_add(&own, m, "From");
	own_add(&own, m, "To");
	own_add(&own, m, "Delivered-To");
	own_add(&own, m, "Reply-To");
	if (m->orig.len && imap_hdr_get(m->orig.data, m->orig.len, "From", &v))
		own_add_value(&own, v.data, v.len);

	if (xfailed)
		rcpts_from_header(m, "X-Failed-Recipients", c);
	if (c->nrcpts == 0)
		rcpts_from_text(cs_buf_str(&m->text), textlen, &own, c);
	if (c->nrcpts == 0)
		rcpts_from_orig(m, c);
	/* a recipient without words of its own gets the text around its
	 * first mention; reasons are decided with the whole text as context */
	imap_rctx_init(&ctx, body,
	               blen < IMAP_REASON_CTX ? blen : IMAP_REASON_CTX);
	for (i = 0; i < c->nrcpts; i++) {
		imap_rcpt *r = &c->rcpts[i];
		const char *t = cs_buf_str(&m->text), *hit;

		if (r->diag == NULL &&
		    (hit = memmem(t, textlen, r->addr, strlen(r->addr))) !=
		        NULL) {
			diag_around(t, textlen, (size_t)(hit - t), &v);
			r->diag = cs_xstrdup(cs_buf_str(&v));
		}
		imap_reason_decide(r, &ctx, delay);
	}
	c->kind = delay ? IMAP_DELAY : IMAP_BOUNCE;
	cs_buf_free(&own.list);
	cs_buf_free(&v);
	cs_buf_free(&subj);
	return true;
}

/*
 * ndr.c - delivery reports that are not RFC 3464 DSNs.
 *
 * Many servers (qmail, older Exim and Sendmail, Exchange and Office 365 in
 * some paths, Yahoo, webmail providers, gateways) report a failure as free
 * text.  cls_ndr_detect() decides it is one from three kinds of evidence:
 * who sent it (null sender, MAILER-DAEMON, postmaster, "Mail Delivery
 * System"), the subject ("Undelivered Mail Returned to Sender", "failure
 * notice", ...) and the wording of the text ("could not be delivered",
 * "permanent error", ...), or at once from an X-Failed-Recipients header.
 * A notice that says it will keep trying is a delay, not a bounce.
 *
 * Recipients come from X-Failed-Recipients, else from the addresses the
 * report's own text names (before any copy of the original message),
 * leaving out the addresses of the notice's sender and addressee and
 * those given as a sender, a help contact or a Message-ID, else from To
 * of the returned original headers, else (a message sent to oneself)
 * from the notice's addressee named in the text.  Each recipient's
 * diagnostic is the text's lines about it (cls_text_about: its blocks,
 * each ending where another recipient's begins); reason.c decides the
 * rest.
 */
#define _GNU_SOURCE /* strcasestr */
#include "cls_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Local parts that name a mail system, never a failed recipient. */
static const char *const system_local[] = {
    "mailer-daemon", "postmaster", "mailer_daemon",
    "mail-daemon",   "mdaemon",    NULL,
};

static bool list_hit(const char *t, size_t n, cls_phr *list)
{
	return n && cls_phr_find(list, t, n, NULL) >= 0;
}

/* Is the local part of the address in a[0..n) a mail system's role
 * address, whatever separators it is spelled with ("postmaster",
 * "post_master", "Mailer-Daemon", "mailer.daemon": RFC 2142 POSTMASTER,
 * RFC 5321 4.5.1)? */
static bool role_local_part(const char *a, size_t n)
{
	static const char *const roles[] = {"postmaster", "mailerdaemon",
	                                    "maildaemon", NULL};
	char lp[32];
	const char *at = memchr(a, '@', n), *s;
	size_t k = 0;
	int i;

	if (at == NULL)
		return false;
	s = at;
	while (s > a && s[-1] != '<' && s[-1] != ' ' && s[-1] != '"')
		s--;
	for (; s < at && k + 1 < sizeof lp; s++)
		if (*s != '-' && *s != '_' && *s != '.')
			lp[k++] = (char)tolower((unsigned char)*s);
	lp[k] = '\0';
	for (i = 0; roles[i]; i++)
		if (strcmp(lp, roles[i]) == 0)
			return true;
	return false;
}

bool cls_ndr_from_daemon(const cls_msg *m)
{
	cs_buf f = CS_BUF_INIT;
	const char *s;
	size_t n;
	bool hit = false;

	if ((s = cls_msg_hdr(m, "From", &n)) != NULL) {
		cls_flatten(s, n, &f);
		hit = list_hit(f.data, f.len, &cls_ndr_daemon_phr) ||
		      role_local_part(f.data, f.len);
	}
	if (!hit && (s = cls_msg_hdr(m, "Return-Path", &n)) != NULL) {
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

	while (left > 0 && cls_addr_clean(p, left, &a)) {
		const char *at = memchr(p, '@', left), *comma;
		size_t skip;

		cs_buf_putc(&o->list, '\n');
		cls_flatten(a.data, a.len, &o->list);
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
static void own_add(own_addrs *o, const cls_msg *m, const char *name)
{
	const char *v;
	size_t k, n;

	for (k = 0; (v = cls_msg_hdr_nth(m, name, k, &n)) != NULL; k++)
		own_add_value(o, v, n);
}

static bool own_has(const own_addrs *o, const char *addr)
{
	cs_buf k = CS_BUF_INIT;
	bool hit;

	cs_buf_putc(&k, '\n');
	cls_flatten(addr, strlen(addr), &k);
	cs_buf_putc(&k, '\n');
	hit = o->list.len && cls_find(o->list.data, o->list.len, k.data);
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

/* A mailing list's own address (the list's bounce, request or owner
 * address: Mailman "-bounces", "-request", "-owner", Majordomo/ezmlm
 * "owner-", VERP "-bounces+..."): the list's machinery, never the
 * recipient that failed. */
static bool list_address(const char *a)
{
	static const char *const tails[] = {
	    "-bounces", "-request", "-owner", "-admin", NULL,
	};
	const char *at = strchr(a, '@'), *plus;
	size_t n, k;
	int i;

	if (at == NULL)
		return false;
	if (strncasecmp(a, "owner-", 6) == 0)
		return true;
	plus = memchr(a, '+', (size_t)(at - a));
	n = (size_t)((plus ? plus : at) - a);
	for (i = 0; tails[i]; i++) {
		k = strlen(tails[i]);
		if (n > k && strncasecmp(a + n - k, tails[i], k) == 0)
			return true;
	}
	return false;
}

/* Does the line that holds t[s] start with a header field that never
 * names the failed recipient (a quoted header block of the returned
 * message or of a list: List-*, Reply-To, Return-Path, Sender, ...)? */
static bool quoted_header_line(const char *t, size_t s)
{
	static const char *const names[] = {
	    "list-",       "reply-to:",     "return-path:", "errors-to:",
	    "sender:",     "delivered-to:", "x-",           "received:",
	    "message-id:", "references:",   "in-reply-to:", "cc:",
	    "resent-",     "precedence:",   NULL,
	};
	size_t b = s;
	int i;

	while (b > 0 && t[b - 1] != '\n')
		b--;
	while (b < s && (t[b] == ' ' || t[b] == '\t' || t[b] == '>'))
		b++;
	for (i = 0; names[i]; i++)
		if (strncasecmp(t + b, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* Case-insensitive (ASCII) search of needle[0..nn) in hay[0..n).  An
 * address is looked for by its '@' (rare in text, and the same in either
 * case) with memchr. */
static const char *ci_find(const char *hay, size_t n, const char *needle,
                           size_t nn)
{
	const char *at = nn ? memchr(needle, '@', nn) : NULL;
	size_t i;
	int first;

	if (nn == 0 || nn > n)
		return NULL;
	if (at) {
		size_t k = (size_t)(at - needle);
		const char *p = hay + k, *end = hay + n - (nn - k - 1);

		while (p < end &&
		       (p = memchr(p, '@', (size_t)(end - p))) != NULL) {
			if (strncasecmp(p - k, needle, nn) == 0)
				return p - k;
			p++;
		}
		return NULL;
	}
	first = tolower((unsigned char)needle[0]);
	for (i = 0; i + nn <= n; i++)
		if (tolower((unsigned char)hay[i]) == first &&
		    strncasecmp(hay + i, needle, nn) == 0)
			return hay + i;
	return NULL;
}

/* Does the line l[0..n) name a recipient of c other than addr? */
static bool names_other(const char *l, size_t n, const char *addr,
                        const cls_class *c)
{
	size_t i;

	if (cls_memchr(l, '@', n) == NULL)
		return false;
	for (i = 0; c && i < c->nrcpts; i++)
		if (strcasecmp(c->rcpts[i].addr, addr) != 0 &&
		    ci_find(l, n, c->rcpts[i].addr, strlen(c->rcpts[i].addr)))
			return true;
	return false;
}

/* Is l[0..n) a transcript's result line for something else: unindented,
 * starting with an SMTP reply code, not naming addr ("550 example.org
 * (smtp)... 550 Host unknown" after "554 <addr>... Remote protocol
 * error")? */
static bool result_line_other(const char *l, size_t n, const char *addr)
{
	return n > 4 && (l[0] == '4' || l[0] == '5') &&
	       isdigit((unsigned char)l[1]) && isdigit((unsigned char)l[2]) &&
	       (l[3] == ' ' || l[3] == '-') &&
	       ci_find(l, n, addr, strlen(addr)) == NULL;
}

/* One block about addr: from the line of hit to an empty line or a line
 * naming another recipient, at most 600 bytes; appended to out.  Returns
 * where the block ends. */
static const char *block_about(const char *t, const char *end, const char *hit,
                               const char *addr, const cls_class *c,
                               cs_buf *out)
{
	const char *s = hit, *e;
	int back;

	while (s > t && s[-1] != '\n')
		s--;
	/* a transcript's result line ("554 <addr>... Remote protocol
	 * error") follows the exchange that caused it (">>> MAIL From:",
	 * "<<< 501 ... no access"): take those lines too */
	for (back = 0; back < 4 && s > t; back++) {
		const char *ps = s - 1, *q;

		while (ps > t && ps[-1] != '\n')
			ps--;
		for (q = ps; q < s && (*q == ' ' || *q == '\t'); q++)
			;
		if ((size_t)(s - q) < 4 ||
		    (strncmp(q, ">>> ", 4) != 0 &&
		     strncmp(q, "<<< ", 4) != 0) ||
		    names_other(ps, (size_t)(s - ps), addr, c))
			break;
		s = ps;
	}
	e = cls_memchr(hit, '\n', (size_t)(end - hit));
	e = e ? e + 1 : end;
	while (e < end && e - s < 600) {
		const char *nl = cls_memchr(e, '\n', (size_t)(end - e));
		const char *le = nl ? nl + 1 : end, *q = e;

		while (q < le && isspace((unsigned char)*q))
			q++;
		if (q == le || names_other(e, (size_t)(le - e), addr, c) ||
		    result_line_other(e, (size_t)(le - e), addr))
			break;
		e = le;
	}
	if (e - s > 600)
		e = s + 600;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (out->len)
		cs_buf_append(out, "\r\n", 2);
	cs_buf_append(out, s, (size_t)(e - s));
	return e;
}

bool cls_text_about(const char *t, size_t n, const char *addr,
                    const cls_class *c, cs_buf *out)
{
	const char *end = t + n, *p = t, *hit;
	size_t alen = strlen(addr);
	int blocks = 0;

	cs_buf_clear(out);
	/* a report often names the recipient in a summary and again in
	 * its technical details: the first three blocks */
	while (blocks < 3 && p < end &&
	       (hit = ci_find(p, (size_t)(end - p), addr, alen)) != NULL) {
		p = block_about(t, end, hit, addr, c, out);
		if (p <= hit)
			p = hit + alen;
		blocks++;
	}
	cs_buf_append(out, "", 0);
	return blocks > 0;
}

/* Is the address at t[s] given as something other than a recipient: a
 * sender ("From:", "MAIL FROM:<", "envelope-from", "Sender:"), an address
 * to contact for help ("please contact <postmaster@...>"), or a
 * Message-ID ("Message-ID:<...>", "with SMTP id <...>")? */
static bool not_rcpt_position(const char *t, size_t s)
{
	static const char *const words[] = {
	    "from", "sender", "contact", "message-id", " id", NULL,
	};
	size_t p = s;
	int i;

	while (p > 0 &&
	       (t[p - 1] == ' ' || t[p - 1] == '\t' || t[p - 1] == '<' ||
	        t[p - 1] == ':' || t[p - 1] == '=' || t[p - 1] == '"'))
		p--;
	for (i = 0; words[i]; i++) {
		size_t k = strlen(words[i]);

		if (p >= k && strncasecmp(t + p - k, words[i], k) == 0)
			return true;
	}
	return false;
}

/* Scan t[0..n) for addresses; add those not in own and not given as a
 * sender.  Returns how many. */
static size_t rcpts_from_text(const char *t, size_t n, const own_addrs *own,
                              cls_class *c)
{
	cs_buf a = CS_BUF_INIT;
	own_addrs aside; /* given as a sender or a help contact somewhere */
	size_t i, added = 0;
	int pass;

	memset(&aside, 0, sizeof aside);
	/* pass 0 finds the addresses the text gives as something else (a
	 * help contact named in two languages is one in both); pass 1 adds
	 * the others */
	for (pass = 0; pass < 2; pass++)
		for (i = 1; i + 1 < n; i++) {
			size_t s, e;
			const char *at;
			bool aside_here;

			if (t[i] != '@' || !is_addr_char(t[i - 1]) ||
			    !isalnum((unsigned char)t[i + 1]))
				continue;
			s = i;
			while (s > 0 && is_addr_char(t[s - 1]))
				s--;
			e = i + 1;
			while (e < n && (isalnum((unsigned char)t[e]) ||
			                 t[e] == '.' || t[e] == '-'))
				e++;
			while (e > i + 1 && t[e - 1] == '.')
				e--;
			i = e;
			while (s < i && (t[s] == '.' || t[s] == '\''))
				s++;
			/* Exchange/X.400 "smtp=" address type */
			if (i - s > 5 && strncasecmp(t + s, "smtp=", 5) == 0)
				s += 5;
			cs_buf_clear(&a);
			cs_buf_append(&a, t + s, e - s);
			aside_here = not_rcpt_position(t, s);
			if (pass == 0) {
				if (aside_here) {
					cs_buf_putc(&aside.list, '\n');
					cls_flatten(a.data, a.len, &aside.list);
					cs_buf_putc(&aside.list, '\n');
				}
				continue;
			}
			/* a domain part needs a dot, and the address must not
			 * be the notice's sender or addressee or a mail
			 * system's or a list's, nor one given as a sender or a
			 * contact, nor one in a quoted header field, nor a
			 * sender named like "smtp.mailfrom=me@example.com" */
			at = memchr(a.data, '@', a.len);
			if (at == NULL ||
			    ci_find(a.data, (size_t)(at - a.data),
			            "from=", 5) ||
			    memchr(at, '.', a.len - (size_t)(at - a.data)) ==
			        NULL ||
			    own_has(own, a.data) || own_has(&aside, a.data) ||
			    strncasecmp(a.data, "mailer-daemon", 13) == 0 ||
			    list_address(a.data) || quoted_header_line(t, s))
				continue;
			if (cls_rcpt_add(c, a.data, NULL))
				added++;
		}
	cs_buf_free(&a);
	cs_buf_free(&aside.list);
	return added;
}

static void rcpts_from_header(const cls_msg *m, const char *name, cls_class *c)
{
	cs_buf a = CS_BUF_INIT;
	const char *p, *end;
	size_t n;

	p = cls_msg_hdr(m, name, &n);
	if (p == NULL)
		goto out;
	end = p + n;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;

		if (cls_addr_clean(p, (size_t)(e - p), &a))
			(void)cls_rcpt_add(c, a.data, NULL);
		p = e + 1;
	}
out:
	cs_buf_free(&a);
}

/* To: of the returned original, from m->orig or the quoted copy in text. */
static void rcpts_from_orig(const cls_msg *m, cls_class *c)
{
	cs_buf v = CS_BUF_INIT, a = CS_BUF_INIT;
	bool got = false;

	if (m->orig.len)
		got = cls_hdr_get(m->orig.data, m->orig.len, "To", &v);
	if (!got && m->orig_text_at < m->text.len) {
		const char *t = m->text.data + m->orig_text_at;
		const char *to =
		    cls_find_line(t, m->text.len - m->orig_text_at, "To:");

		if (to)
			got = cls_hdr_get(to + 1, strlen(to + 1), "To", &v);
	}
	if (got && cls_addr_clean(v.data, v.len, &a) && !system_address(a.data))
		(void)cls_rcpt_add(c, a.data, NULL);
	cs_buf_free(&v);
	cs_buf_free(&a);
}

bool cls_ndr_challenge(const cls_msg *m)
{
	cs_buf subj = CS_BUF_INIT;
	const char *s;
	size_t n;
	bool hit;

	if ((s = cls_msg_hdr(m, "X-Failed-Recipients", &n)) != NULL &&
	    memchr(s, '@', n))
		return false;
	hit =
	    list_hit(cs_buf_str(&m->flat), m->flat.len, &cls_ndr_challenge_phr);
	if (!hit && (s = cls_msg_hdr(m, "Subject", &n)) != NULL) {
		cls_flatten(s, n, &subj);
		hit = list_hit(subj.data, subj.len, &cls_ndr_challenge_phr);
	}
	cs_buf_free(&subj);
	return hit;
}

bool cls_ndr_detect(const cls_msg *m, cls_class *c)
{
	cs_buf v = CS_BUF_INIT, subj = CS_BUF_INIT;
	own_addrs own, senders;
	bool daemon, xfailed, sfail, sdelay, bfail, bdelay, bperm, perm;
	bool returned, machine;
	const char *found[4];
	size_t i, n, textlen = m->orig_text_at;
	const char *body = cs_buf_str(&m->flat), *s;
	const char *text = cs_buf_str(&m->text);
	size_t blen = m->flat.len;
	cls_rctx ctx;
	cls_rwhy why;

	memset(&own, 0, sizeof own);
	memset(&senders, 0, sizeof senders);
	memset(&why, 0, sizeof why);
	s = cls_msg_hdr(m, "X-Failed-Recipients", &n);
	xfailed = s && memchr(s, '@', n);
	if ((s = cls_msg_hdr(m, "Subject", &n)) != NULL)
		cls_flatten(s, n, &subj);
	if (textlen > CLS_WORDS_SCAN)
		textlen = CLS_WORDS_SCAN;
	daemon = cls_ndr_from_daemon(m);
	/* our message returned or quoted, and a machine's notice */
	returned = m->orig.len > 0 || m->orig_text_at < m->text.len;
	s = cls_msg_hdr(m, "Auto-Submitted", NULL);
	machine = s && strncasecmp(s, "no", 2) != 0;
	(void)cls_phr_scan(&cls_ndr_subject_phr, subj.data, subj.len, found, 3);
	sfail = found[0] != NULL;
	sdelay = found[1] != NULL;
	/* a virus gateway's words are failure words from a mail system or
	 * with our message returned */
	if (found[2] && (daemon || returned))
		sfail = true;
	(void)cls_phr_scan(&cls_ndr_body_phr, body, blen, found, 3);
	bfail = found[0] != NULL;
	bdelay = found[1] != NULL;
	bperm = found[2] != NULL;
	if (!bfail && (daemon || returned) &&
	    cls_phr_find(&cls_ndr_virus_phr, body, blen, NULL) >= 0)
		bfail = true;
	/* by structure: a mail system's notice with failure words, or one
	 * a machine sent (Auto-Submitted) that returns our message with
	 * them (a provider's localised notice) */
	/* or a mail system's notice that returns our message and names a
	 * reason a delivery fails for (its words, read as reason.c reads
	 * them: "... unknown host", "mailbox full") */
	if (!xfailed && !(daemon && (sfail || sdelay || bfail || bdelay)) &&
	    !(sfail && bfail) && !(sdelay && bdelay) &&
	    !(machine && returned && (sfail || bfail)) &&
	    !(daemon && returned && cls_reason_failure(body, blen))) {
		cs_buf_free(&subj);
		return false;
	}
	perm = bperm && !sdelay;
	why.delayed =
	    (sdelay || bdelay) && !perm && !xfailed && !(sfail && !sdelay);

	own_add(&senders, m, "From");
	own_add(&senders, m, "Reply-To");
	if (m->orig.len && cls_hdr_get(m->orig.data, m->orig.len, "From", &v))
		own_add_value(&senders, v.data, v.len);
	cs_buf_append(&own.list, senders.list.data, senders.list.len);
	own_add(&own, m, "To");
	own_add(&own, m, "Delivered-To");

	if (xfailed)
		rcpts_from_header(m, "X-Failed-Recipients", c);
	if (c->nrcpts == 0)
		rcpts_from_text(text, textlen, &own, c);
	if (c->nrcpts == 0)
		rcpts_from_orig(m, c);
	/* a message sent to oneself: the report names only its addressee */
	if (c->nrcpts == 0)
		rcpts_from_text(text, textlen, &senders, c);
	/* each recipient's words are the report's lines about it; reasons
	 * are decided with the whole text as context */
	cls_rctx_init(&ctx, body,
	              blen < CLS_REASON_CTX ? blen : CLS_REASON_CTX);
	ctx.single = c->nrcpts == 1;
	for (i = 0; i < c->nrcpts; i++) {
		cls_rcpt *r = &c->rcpts[i];

		if (r->diag == NULL &&
		    cls_text_about(text, textlen, r->addr, c, &v))
			r->diag = cs_xstrdup(v.data);
		cls_reason_decide(r, &ctx, &why);
	}
	c->kind = why.delayed ? CLS_DELAY : CLS_BOUNCE;
	cs_buf_free(&own.list);
	cs_buf_free(&senders.list);
	cs_buf_free(&v);
	cs_buf_free(&subj);
	return true;
}

/*
 * dsn.c - RFC 3464 delivery status notifications.
 *
 * Reads the message/delivery-status part(s) that mime_walk.c collected:
 * a per-message block, then one block of fields per recipient
 * (Final-Recipient, Original-Recipient, Action, Status, Diagnostic-Code),
 * blocks separated by empty lines.  Real servers bend the format: blocks
 * that run together, a missing Action, the status only inside the
 * Diagnostic-Code, so a new Final-Recipient always starts a new recipient
 * and a missing Action is taken from the status class.  Only recipients
 * whose Action is failed or delayed are reported; delivered, relayed and
 * expanded ones are success notices.  reason.c decides each recipient's
 * reason and hard/soft.
 */
#include "imap_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct dsn_rcpt {
	cs_buf final, orig, action, status, diag;
} dsn_rcpt;

static void rcpt_reset(dsn_rcpt *r)
{
	cs_buf_clear(&r->final);
	cs_buf_clear(&r->orig);
	cs_buf_clear(&r->action);
	cs_buf_clear(&r->status);
	cs_buf_clear(&r->diag);
}

static void rcpt_free(dsn_rcpt *r)
{
	cs_buf_free(&r->final);
	cs_buf_free(&r->orig);
	cs_buf_free(&r->action);
	cs_buf_free(&r->status);
	cs_buf_free(&r->diag);
}

bool imap_addr_clean(const char *v, size_t n, cs_buf *out)
{
	const char *semi, *lt, *at, *s, *e;

	cs_buf_clear(out);
	/* "rfc822; user@host" - drop the address type */
	semi = memchr(v, ';', n);
	if (semi) {
		n -= (size_t)(semi + 1 - v);
		v = semi + 1;
	}
	lt = memchr(v, '<', n);
	if (lt) {
		const char *gt = memchr(lt, '>', n - (size_t)(lt - v));

		if (gt && gt > lt + 1) {
			n = (size_t)(gt - lt - 1);
			v = lt + 1;
		}
	}
	at = memchr(v, '@', n);
	if (at == NULL)
		return false;
	/* the address is the run of non-space around the '@' */
	s = at;
	while (s > v && !isspace((unsigned char)s[-1]) && s[-1] != '"' &&
	       s[-1] != '(' && s[-1] != ':' && s[-1] != '<' && s[-1] != '\'')
		s--;
	e = at;
	while (e < v + n && !isspace((unsigned char)*e) && *e != '"' &&
	       *e != ')' && *e != '>' && *e != ',' && *e != ';' && *e != '\'')
		e++;
	while (e > at + 1 && (e[-1] == '.' || e[-1] == ':'))
		e--;
	if (s == at || e <= at + 1 || (size_t)(e - s) > 254)
		return false;
	cs_buf_append(out, s, (size_t)(e - s));
	return true;
}

imap_rcpt *imap_rcpt_add(imap_class *c, const char *addr, const char *diag)
{
	imap_rcpt *r;
	size_t i;

	for (i = 0; i < c->nrcpts; i++)
		if (strcasecmp(c->rcpts[i].addr, addr) == 0) {
			if (diag && *diag && c->rcpts[i].diag == NULL)
				c->rcpts[i].diag = cs_xstrdup(diag);
			return NULL;
		}
	if (c->nrcpts >= IMAP_MAX_RCPTS)
		return NULL;
	c->rcpts = cs_xrealloc(c->rcpts, (c->nrcpts + 1) * sizeof *c->rcpts);
	r = &c->rcpts[c->nrcpts++];
	memset(r, 0, sizeof *r);
	r->addr = cs_xstrdup(addr);
	r->diag = diag && *diag ? cs_xstrdup(diag) : NULL;
	r->reason = "undefined";
	return r;
}

/* Finish one recipient block: returns 1 failed, 2 delayed, 3 delivered
 * (or relayed, expanded), 0 not a recipient. */
static int flush(const dsn_rcpt *d, imap_class *c, imap_rctx *ctx)
{
	cs_buf addr = CS_BUF_INIT;
	imap_rcpt *r;
	const char *act = cs_buf_str(&d->action);
	char st[8] = "";
	bool failed, delayed;
	int res = 0;

	if (!imap_addr_clean(cs_buf_str(&d->final), d->final.len, &addr) &&
	    !imap_addr_clean(cs_buf_str(&d->orig), d->orig.len, &addr))
		goto out;
	if (!imap_status_find(cs_buf_str(&d->status), d->status.len, st))
		(void)imap_status_find(cs_buf_str(&d->diag), d->diag.len, st);
	if (d->action.len) {
		failed = strncasecmp(act, "fail", 4) == 0;
		delayed = strncasecmp(act, "delay", 5) == 0;
	} else {
		failed = st[0] == '5';
		delayed = st[0] == '4';
	}
	if (!failed && !delayed) {
		res = 3;
		goto out;
	}
	r = imap_rcpt_add(c, cs_buf_str(&addr), cs_buf_str(&d->diag));
	if (r == NULL)
		goto out;
	memcpy(r->status, st, sizeof r->status);
	imap_reason_decide(r, ctx, delayed);
	res = failed ? 1 : 2;
out:
	cs_buf_free(&addr);
	return res;
}

static bool field_is(const char *n, size_t nl, const char *want)
{
	return nl == strlen(want) && strncasecmp(n, want, nl) == 0;
}

size_t imap_dsn_parse(const imap_msg *m, imap_class *c, size_t *nsuccess)
{
	const char *p = cs_buf_str(&m->dsn), *end = p + m->dsn.len;
	dsn_rcpt d;
	cs_buf v = CS_BUF_INIT;
	imap_rctx ctx;
	size_t before = c->nrcpts;
	int nfail = 0, ndelay = 0, nok = 0, res;

	memset(&d, 0, sizeof d);
	/* context for reason decisions: the report's text, flattened */
	imap_rctx_init(&ctx, cs_buf_str(&m->flat), m->ctx_len);
	while (p < end) {
		imap_hdr_iter it;
		const char *n;
		size_t nl;

		imap_hdr_begin(&it, p, (size_t)(end - p));
		while (imap_hdr_next(&it, &n, &nl, &v)) {
			if ((field_is(n, nl, "Final-Recipient") &&
			     d.final.len) ||
			    (field_is(n, nl, "Original-Recipient") &&
			     d.orig.len)) {
				{
					res = flush(&d, c, &ctx);
					nfail += res == 1;
					ndelay += res == 2;
					nok += res == 3;
					rcpt_reset(&d);
				}
			}
			if (field_is(n, nl, "Final-Recipient"))
				cs_buf_append(&d.final, v.data, v.len);
			else if (field_is(n, nl, "Original-Recipient"))
				cs_buf_append(&d.orig, v.data, v.len);
			else if (field_is(n, nl, "Action"))
				cs_buf_append(&d.action, v.data, v.len);
			else if (field_is(n, nl, "Status"))
				cs_buf_append(&d.status, v.data, v.len);
			else if (field_is(n, nl, "Diagnostic-Code") ||
			         (field_is(n, nl, "X-Diagnostic") &&
			          d.diag.len == 0)) {
				if (d.diag.len)
					cs_buf_putc(&d.diag, ' ');
				cs_buf_append(&d.diag, v.data, v.len);
			}
		}
		/* end of a block */
		if (d.final.len || d.orig.len) {
			res = flush(&d, c, &ctx);
			nfail += res == 1;
			ndelay += res == 2;
			nok += res == 3;
		}
		rcpt_reset(&d);
		/* skip the empty line(s) */
		p = it.p;
		while (p < end && (*p == '\r' || *p == '\n'))
			p++;
	}
	*nsuccess = (size_t)nok;
	if (nfail)
		c->kind = IMAP_BOUNCE;
	else if (ndelay)
		c->kind = IMAP_DELAY;
	rcpt_free(&d);
	cs_buf_free(&v);
	return c->nrcpts - before;
}

/*
 * dsn.c - RFC 3464 delivery status notifications.
 *
 * Reads the message/delivery-status part(s) that mime_walk.c collected:
 * a per-message block, then one block of fields per recipient
 * (Final-Recipient, Original-Recipient, Action, Status, Diagnostic-Code),
 * blocks separated by empty lines.  Real servers bend the format: blocks
 * that run together, a missing Action, the status only inside the
 * Diagnostic-Code, so a new Final-Recipient always starts a new recipient
 * and a missing Action is taken from the status class ("expired", no RFC
 * 3464 action, is a failure).  Only recipients whose Action is failed or
 * delayed are reported; delivered, relayed and expanded ones are success
 * notices.  reason.c decides each recipient's reason and hard/soft once
 * every recipient is known, with the report text's lines about it (its
 * diagnostic when the block has none, else its SMTP phase and the
 * reporting MTA's own verdict) and PowerMTA's X-PowerMTA-BounceCategory.
 */
#include "cls_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct dsn_rcpt {
	cs_buf final, orig, action, status, diag, category;
	cs_buf mta; /* Remote-MTA */
} dsn_rcpt;

static void rcpt_reset(dsn_rcpt *r)
{
	cs_buf_clear(&r->final);
	cs_buf_clear(&r->orig);
	cs_buf_clear(&r->action);
	cs_buf_clear(&r->status);
	cs_buf_clear(&r->diag);
	cs_buf_clear(&r->category);
	cs_buf_clear(&r->mta);
}

static void rcpt_free(dsn_rcpt *r)
{
	cs_buf_free(&r->final);
	cs_buf_free(&r->orig);
	cs_buf_free(&r->action);
	cs_buf_free(&r->status);
	cs_buf_free(&r->diag);
	cs_buf_free(&r->category);
	cs_buf_free(&r->mta);
}

/* PowerMTA's per-recipient X-PowerMTA-BounceCategory (its documented
 * categories) as a reason; NULL for "other" and anything unknown. */
static const char *category_reason(const char *v)
{
	static const struct {
		const char *cat, *reason;
	} map[] = {
	    {"bad-mailbox", "userunknown"},
	    {"bad-domain", "hostunknown"},
	    {"inactive-mailbox", "suspend"},
	    {"quota-issues", "mailboxfull"},
	    {"message-expired", "expired"},
	    {"no-answer-from-host", "networkerror"},
	    {"bad-connection", "networkerror"},
	    {"routing-errors", "systemerror"},
	    {"bad-configuration", "systemerror"},
	    {"protocol-errors", "systemerror"},
	    {"policy-related", "policyviolation"},
	    {"spam-related", "spamdetected"},
	    {"virus-related", "virusdetected"},
	    {"content-related", "contenterror"},
	    {"relaying-issues", "norelaying"},
	    {"invalid-sender", "rejected"},
	    {NULL, NULL},
	};
	int i;

	for (i = 0; map[i].cat; i++)
		if (strcasecmp(v, map[i].cat) == 0)
			return map[i].reason;
	return NULL;
}

bool cls_addr_clean(const char *v, size_t n, cs_buf *out)
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
	/* Exchange/X.400 "smtp=" address type */
	if (at - s > 5 && strncasecmp(s, "smtp=", 5) == 0)
		s += 5;
	if (s == at || e <= at + 1 || (size_t)(e - s) > 254)
		return false;
	cs_buf_append(out, s, (size_t)(e - s));
	return true;
}

cls_rcpt *cls_rcpt_add(cls_class *c, const char *addr, const char *diag)
{
	cls_rcpt *r;
	size_t i;

	if (addr == NULL || addr[0] == '\0')
		return NULL; /* never an empty recipient */
	for (i = 0; i < c->nrcpts; i++)
		if (strcasecmp(c->rcpts[i].addr, addr) == 0) {
			if (diag && *diag && c->rcpts[i].diag == NULL)
				c->rcpts[i].diag = cs_xstrdup(diag);
			return NULL;
		}
	if (c->nrcpts >= CLS_MAX_RCPTS)
		return NULL;
	c->rcpts = cs_xrealloc(c->rcpts, (c->nrcpts + 1) * sizeof *c->rcpts);
	r = &c->rcpts[c->nrcpts++];
	memset(r, 0, sizeof *r);
	r->addr = cs_xstrdup(addr);
	r->diag = diag && *diag ? cs_xstrdup(diag) : NULL;
	r->reason = "undefined";
	return r;
}

/* What the parse learnt of each recipient it added, for the reason
 * decisions made once every recipient is known. */
typedef struct dsn_added {
	cls_rwhy *why; /* one per recipient added, in order */
	size_t n, cap;
	size_t blocks; /* recipient blocks that added one (or two) */
} dsn_added;

/* "dns; mx.google.com" -> "mx.google.com" (the name after the type),
 * trimmed and capped; NULL when empty. */
static char *mta_name(const char *v)
{
	const char *semi = strchr(v, ';'), *e;
	size_t n;

	v = semi ? semi + 1 : v;
	while (*v == ' ' || *v == '\t')
		v++;
	for (e = v; *e && *e != ' ' && *e != '\t' && *e != ';'; e++)
		;
	n = (size_t)(e - v);
	if (n == 0)
		return NULL;
	return cs_xstrndup(v, n > 255 ? 255 : n);
}

/* Add one failed or delayed recipient of a block (mta: the host that
 * refused it, or NULL). */
static void add_one(cls_class *c, dsn_added *added, const char *addr,
                    const char *diag, const char st[8], const cls_rwhy *why,
                    const char *mta)
{
	cls_rcpt *r = cls_rcpt_add(c, addr, diag);

	if (r == NULL)
		return;
	memcpy(r->status, st, sizeof r->status);
	r->mta = mta && *mta ? mta_name(mta) : NULL;
	if (added->n == added->cap) {
		added->cap = added->cap ? 2 * added->cap : 8;
		added->why =
		    cs_xrealloc(added->why, added->cap * sizeof *added->why);
	}
	added->why[added->n++] = *why;
}

/* Finish one recipient block: returns 1 failed, 2 delayed, 3 delivered
 * (or relayed, expanded), 0 not a recipient.
 *
 * The recipient is the Original-Recipient when the block names one that
 * differs from the Final-Recipient (RFC 3464 2.3.1: the address as the
 * sender gave it, before aliases, forwarding or a list expanded it: the
 * one we sent to); the Final-Recipient is then reported too, after it
 * (the address the failure was about, which some matchers know). */
static int flush(const dsn_rcpt *d, cls_class *c, dsn_added *added,
                 const char *reporting)
{
	cs_buf addr = CS_BUF_INIT, orig = CS_BUF_INIT;
	cls_rwhy why;
	const char *act = cs_buf_str(&d->action), *diag = cs_buf_str(&d->diag);
	const char *mta;
	char st[8] = "";
	bool failed, expired = false, has_final, has_orig;
	size_t nbefore;
	int res = 0;

	memset(&why, 0, sizeof why);
	has_final = cls_addr_clean(cs_buf_str(&d->final), d->final.len, &addr);
	has_orig = cls_addr_clean(cs_buf_str(&d->orig), d->orig.len, &orig);
	if (!has_final && !has_orig)
		goto out;
	(void)cls_status_find(cs_buf_str(&d->status), d->status.len, st);
	if (d->action.len) {
		/* "expired" is no RFC 3464 action, but some MTAs write it
		 * for a message given up after its retries: a failure */
		expired = strncasecmp(act, "expire", 6) == 0;
		failed = strncasecmp(act, "fail", 4) == 0 || expired;
		why.delayed = strncasecmp(act, "delay", 5) == 0;
	} else {
		if (st[0] == '\0')
			(void)cls_status_find(diag, d->diag.len, st);
		failed = st[0] == '5';
		why.delayed = st[0] == '4';
	}
	if (!failed && !why.delayed) {
		res = 3;
		goto out;
	}
	/* a Diagnostic-Code is the remote server's reply unless its type
	 * is an MTA's own (X-Postfix, X-Notes, X-Unix, ...) */
	why.remote = d->diag.len && strncasecmp(diag, "x-", 2) != 0;
	why.reason = d->category.len ? category_reason(d->category.data) : NULL;
	if (why.reason == NULL && expired)
		why.reason = "expired";
	nbefore = added->n;
	mta = d->mta.len ? cs_buf_str(&d->mta) : reporting;
	if (has_orig)
		add_one(c, added, cs_buf_str(&orig), diag, st, &why, mta);
	if (has_final && (!has_orig || strcasecmp(addr.data, orig.data) != 0))
		add_one(c, added, cs_buf_str(&addr), diag, st, &why, mta);
	added->blocks += added->n > nbefore;
	res = failed ? 1 : 2;
out:
	cs_buf_free(&addr);
	cs_buf_free(&orig);
	return res;
}

static bool field_is(const char *n, size_t nl, const char *want)
{
	return nl == strlen(want) && strncasecmp(n, want, nl) == 0;
}

size_t cls_dsn_parse(const cls_msg *m, cls_class *c, size_t *nsuccess)
{
	const char *p = cs_buf_str(&m->dsn), *end = p + m->dsn.len;
	dsn_rcpt d;
	cs_buf v = CS_BUF_INIT, reporting = CS_BUF_INIT; /* Reporting-MTA */
	cls_rctx ctx;
	size_t before = c->nrcpts, i;
	int nfail = 0, ndelay = 0, nok = 0, res;
	dsn_added added;

	memset(&d, 0, sizeof d);
	memset(&added, 0, sizeof added);
	/* context for reason decisions: the report's text, flattened */
	cls_rctx_init(&ctx, cs_buf_str(&m->flat), m->ctx_len);
	while (p < end) {
		cls_hdr_iter it;
		const char *n;
		size_t nl;

		cls_hdr_begin(&it, p, (size_t)(end - p));
		while (cls_hdr_next(&it, &n, &nl, &v)) {
			if ((field_is(n, nl, "Final-Recipient") &&
			     d.final.len) ||
			    (field_is(n, nl, "Original-Recipient") &&
			     d.orig.len)) {
				{
					res = flush(&d, c, &added,
					            cs_buf_str(&reporting));
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
			else if (field_is(n, nl, "Remote-MTA"))
				cs_buf_append(&d.mta, v.data, v.len);
			else if (field_is(n, nl, "Reporting-MTA") &&
			         reporting.len == 0)
				cs_buf_append(&reporting, v.data, v.len);
			else if (field_is(n, nl, "X-PowerMTA-BounceCategory"))
				cs_buf_append(&d.category, v.data, v.len);
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
			res = flush(&d, c, &added, cs_buf_str(&reporting));
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
	/* reasons, now that every recipient is known: one without a
	 * Diagnostic-Code gets the report text's lines about it */
	ctx.single = added.blocks == 1;
	for (i = 0; i < added.n && before + i < c->nrcpts; i++) {
		cls_rcpt *r = &c->rcpts[before + i];
		cls_rwhy *why = &added.why[i];

		if (cls_text_about(cs_buf_str(&m->text), m->orig_text_at,
		                   r->addr, c, &v)) {
			if (r->diag == NULL)
				r->diag = cs_xstrdup(v.data);
			else
				why->about = v.data;
		}
		cls_reason_decide(r, &ctx, why);
		why->about = NULL;
	}
	free(added.why);
	*nsuccess = (size_t)nok;
	if (nfail)
		c->kind = CLS_BOUNCE;
	else if (ndelay)
		c->kind = CLS_DELAY;
	rcpt_free(&d);
	cs_buf_free(&v);
	cs_buf_free(&reporting);
	return c->nrcpts - before;
}

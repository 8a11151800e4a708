/*
 * classify.c - cls_classify(): one raw message in, one verdict out.
 *
 * Order of precedence (cls.h): a DSN, an ARF complaint, an Amazon SES
 * notification, an NDR bounce or delay, an auto-reply, an unsubscribe
 * request, a reply, other.  A report always outranks the auto-reply
 * markers it carries (Postfix puts
 * Auto-Submitted: auto-replied on its bounces); an out-of-office subject
 * outranks a free-text NDR guess, which is the weaker evidence.  A DSN
 * whose recipients were all delivered or relayed, and a read receipt
 * (MDN), are `other`: never a stop, never a reply.
 *
 * Also fills the header fields the watcher matches on (Message-ID,
 * In-Reply-To, References, From, To, Subject, Date) and, for reports, the
 * Message-ID of the returned original.
 */
#define _GNU_SOURCE /* strcasestr */
#include "cls_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>

const char *cls_kind_name(cls_kind k)
{
	switch (k) {
	case CLS_BOUNCE: return "bounce";
	case CLS_DELAY: return "delay";
	case CLS_COMPLAINT: return "complaint";
	case CLS_AUTO_REPLY: return "auto_reply";
	case CLS_UNSUBSCRIBE: return "unsubscribe";
	case CLS_REPLY: return "reply";
	case CLS_OTHER: break;
	}
	return "other";
}

/* A top-level field's value, NULL when absent or empty. */
static const char *top_val(const cls_msg *m, const char *name)
{
	size_t n;
	const char *v = cls_msg_hdr(m, name, &n);

	return v && n ? v : NULL;
}

static char *top_dup(const cls_msg *m, const char *name)
{
	const char *v = top_val(m, name);

	return v ? cs_xstrdup(v) : NULL;
}

static char *hdr_dup(const char *blk, size_t len, const char *name)
{
	cs_buf v = CS_BUF_INIT;
	char *s = NULL;

	if (cls_hdr_get(blk, len, name, &v) && v.len)
		s = cs_buf_detach(&v, NULL);
	cs_buf_free(&v);
	return s;
}

static void add_mailbox(cs_buf *out, const struct mailimf_mailbox *mb)
{
	if (mb == NULL || mb->mb_addr_spec == NULL)
		return;
	if (out->len)
		cs_buf_puts(out, ", ");
	cs_buf_puts(out, mb->mb_addr_spec);
}

/* The addr-specs of an address list without an RFC 5322 parser: elements
 * split at commas (and a group's ";") outside quotes, comments and angle
 * brackets, a group's name dropped, each element's address in angle
 * brackets or the element itself.  False (out emptied) when an element
 * gives no plain address: the caller asks libetpan. */
static bool quick_addr_list(const char *v, bool first_only, cs_buf *out)
{
	cs_buf a = CS_BUF_INIT;
	const char *p = v, *start = v;
	bool quote = false, angle = false, ok = true;
	int depth = 0;

	for (;; p++) {
		char ch = *p;

		if (ch == '\0' && (quote || depth || angle)) {
			ok = false; /* unbalanced: libetpan decides */
			break;
		}
		if ((quote || depth) && ch == '\\' && p[1]) {
			p++;
			continue;
		}
		if (quote) {
			quote = ch != '"';
			continue;
		}
		if (depth) {
			depth += ch == '(' ? 1 : ch == ')' ? -1 : 0;
			continue;
		}
		if (ch == '"')
			quote = true;
		else if (ch == '(')
			depth = 1;
		else if (ch == '<')
			angle = true;
		else if (ch == '>')
			angle = false;
		else if (ch == ':' && !angle)
			start = p + 1; /* a group's name */
		else if ((ch == ',' || ch == ';' || ch == '\0') && !angle) {
			const char *s = start;

			while (s < p && (*s == ' ' || *s == '\t'))
				s++;
			if (s < p) {
				if (!cls_addr_clean(s, (size_t)(p - s), &a)) {
					ok = false;
					break;
				}
				if (out->len)
					cs_buf_puts(out, ", ");
				cs_buf_append(out, a.data, a.len);
				if (first_only)
					break;
			}
			start = p + 1;
			if (ch == '\0')
				break;
		}
	}
	cs_buf_free(&a);
	if (!ok)
		cs_buf_clear(out);
	return ok;
}

/* The addr-specs of an address list; the first only when first_only. */
static char *addr_specs(const char *v, bool first_only)
{
	struct mailimf_address_list *al = NULL;
	cs_buf out = CS_BUF_INIT;
	size_t idx = 0;
	clistiter *it, *jt;

	if (v == NULL)
		return NULL;
	/* the common case, one plain address with or without a display
	 * name, needs no RFC 5322 parser */
	if (strpbrk(v, "\",;:()\\[") == NULL) {
		const char *at = strchr(v, '@');

		if (at && strchr(at + 1, '@') == NULL &&
		    cls_addr_clean(v, strlen(v), &out))
			return cs_buf_detach(&out, NULL);
		cs_buf_free(&out);
	}
	if (strchr(v, '\\') == NULL && strchr(v, '[') == NULL &&
	    quick_addr_list(v, first_only, &out) && out.len)
		return cs_buf_detach(&out, NULL);
	cs_buf_free(&out);
	if (mailimf_address_list_parse(v, strlen(v), &idx, &al) ==
	        MAILIMF_NO_ERROR &&
	    al) {
		for (it = clist_begin(al->ad_list); it; it = clist_next(it)) {
			struct mailimf_address *a = clist_content(it);

			if (a->ad_type == MAILIMF_ADDRESS_MAILBOX)
				add_mailbox(&out, a->ad_data.ad_mailbox);
			else if (a->ad_data.ad_group &&
			         a->ad_data.ad_group->grp_mb_list)
				for (jt = clist_begin(
				         a->ad_data.ad_group->grp_mb_list
				             ->mb_list);
				     jt; jt = clist_next(jt))
					add_mailbox(&out, clist_content(jt));
			if (first_only && out.len)
				break;
		}
		mailimf_address_list_free(al);
	}
	if (out.len == 0 && cls_addr_clean(v, strlen(v), &out) == false)
		cs_buf_free(&out);
	return out.len ? cs_buf_detach(&out, NULL) : NULL;
}

static char *decode_subject(const char *v)
{
	cs_buf s = CS_BUF_INIT;

	if (v == NULL)
		return NULL;
	if (strstr(v, "=?") == NULL)
		return cs_xstrdup(v);
	cls_decode_words(v, &s);
	return cs_buf_detach(&s, NULL);
}

static void fill_fields(const cls_msg *m, cls_class *c)
{
	c->message_id = top_dup(m, "Message-ID");
	c->in_reply_to = top_dup(m, "In-Reply-To");
	c->references = top_dup(m, "References");
	c->date = top_dup(m, "Date");
	c->from = addr_specs(top_val(m, "From"), true);
	c->to = addr_specs(top_val(m, "To"), false);
	c->subject = decode_subject(top_val(m, "Subject"));
}

/* Message-ID of the returned original (headers part or quoted copy). */
static char *orig_message_id(const cls_msg *m)
{
	char *id = NULL;

	if (m->orig.len)
		id = hdr_dup(m->orig.data, m->orig.len, "Message-ID");
	if (id == NULL && m->orig_text_at < m->text.len) {
		const char *t = m->text.data + m->orig_text_at;
		const char *p = cls_find_line(t, m->text.len - m->orig_text_at,
		                              "Message-ID:");

		if (p)
			id = hdr_dup(p + 1, strlen(p + 1), "Message-ID");
	}
	return id;
}

/* ARF: the complaining recipient from the report, else the original's To. */
static void complaint_rcpts(const cls_msg *m, cls_class *c)
{
	static const char *const fields[] = {"Original-Rcpt-To",
	                                     "Removal-Recipient", NULL};
	cs_buf v = CS_BUF_INIT, a = CS_BUF_INIT;
	cls_rcpt *r;
	int i;

	for (i = 0; fields[i] && c->nrcpts == 0; i++) {
		cls_hdr_iter it;
		const char *nm;
		size_t nl;

		cls_hdr_begin(&it, cs_buf_str(&m->arf), m->arf.len);
		while (cls_hdr_next(&it, &nm, &nl, &v))
			if (nl == strlen(fields[i]) &&
			    strncasecmp(nm, fields[i], nl) == 0 &&
			    cls_addr_clean(v.data, v.len, &a) &&
			    (r = cls_rcpt_add(c, a.data, NULL)) != NULL)
				r->reason = "feedback";
	}
	if (c->nrcpts == 0 && m->orig.len &&
	    cls_hdr_get(m->orig.data, m->orig.len, "To", &v) &&
	    cls_addr_clean(v.data, v.len, &a) &&
	    (r = cls_rcpt_add(c, a.data, NULL)) != NULL)
		r->reason = "feedback";
	cs_buf_free(&v);
	cs_buf_free(&a);
}

/* A read receipt that reports a failure instead of a display: a
 * disposition modifier "error", "failed" or "mailbox-terminated" (RFC
 * 2298 3.2.6.3), a Failure: or Error: field (RFC 8098 3.2.7, 3.2.8), or a
 * mail system's failure words in its text (a quota rejection some
 * servers send as an MDN).  "deleted" alone is not one: a person may
 * delete a message unread.  The recipient is the Original-Recipient,
 * else the Final-Recipient (RFC 8098 3.2.3, 3.2.4), else the sender of
 * the receipt.  Fills c and returns true when it is a failure. */
static bool mdn_failure(const cls_msg *m, cls_class *c)
{
	static const char *const mods[] = {"error", "failed",
	                                   "mailbox-terminated", NULL};
	cs_buf v = CS_BUF_INIT, orig = CS_BUF_INIT, final = CS_BUF_INIT;
	cs_buf diag = CS_BUF_INIT, low = CS_BUF_INIT;
	const char *found[1], *nm, *addr = NULL;
	cls_hdr_iter it;
	size_t nl;
	bool failed = false;
	cls_rcpt *r;

	cls_hdr_begin(&it, cs_buf_str(&m->mdn), m->mdn.len);
	while (cls_hdr_next(&it, &nm, &nl, &v)) {
		if (nl == 11 && strncasecmp(nm, "Disposition", nl) == 0) {
			cs_buf_clear(&low);
			cls_flatten(v.data, v.len, &low);
			failed |=
			    cls_find_any(low.data, low.len, mods, NULL) >= 0;
		} else if ((nl == 7 && strncasecmp(nm, "Failure", nl) == 0) ||
		           (nl == 5 && strncasecmp(nm, "Error", nl) == 0)) {
			failed = true;
			if (diag.len == 0)
				cs_buf_append(&diag, v.data, v.len);
		} else if (nl == 18 &&
		           strncasecmp(nm, "Original-Recipient", nl) == 0) {
			(void)cls_addr_clean(v.data, v.len, &orig);
		} else if (nl == 15 &&
		           strncasecmp(nm, "Final-Recipient", nl) == 0) {
			(void)cls_addr_clean(v.data, v.len, &final);
		}
	}
	if (!failed && m->flat.len &&
	    cls_phr_scan(&cls_ndr_body_phr, m->flat.data, m->flat.len, found,
	                 1) > 0)
		failed = true;
	addr = orig.len ? orig.data : final.len ? final.data : c->from;
	if (failed && addr &&
	    (r = cls_rcpt_add(c, addr, diag.len ? diag.data : NULL)) != NULL) {
		cls_rctx ctx;
		cls_rwhy why;

		memset(&why, 0, sizeof why);
		cls_rctx_init(&ctx, cs_buf_str(&m->flat),
		              m->ctx_len ? m->ctx_len : m->flat.len);
		ctx.single = true;
		cls_reason_decide(r, &ctx, &why);
		c->kind = CLS_BOUNCE;
	}
	cs_buf_free(&v);
	cs_buf_free(&orig);
	cs_buf_free(&final);
	cs_buf_free(&diag);
	cs_buf_free(&low);
	return c->kind == CLS_BOUNCE;
}

static bool reply_subject(const char *s)
{
	static const char *const pre[] = {
	    "re:",  "re :", "aw:",  "sv:",  "antw:", "rif:",
	    "res:", "vs:",  "odp:", "ynt:", NULL};
	int i;

	if (s == NULL)
		return false;
	while (isspace((unsigned char)*s))
		s++;
	for (i = 0; pre[i]; i++)
		if (strncasecmp(s, pre[i], strlen(pre[i])) == 0)
			return true;
	return false;
}

static const char *const ooo_words[] = {
    "automatic reply",      "out of office",
    "abwesenheitsnotiz",    "automatische antwort",
    "réponse automatique",  "respuesta automática",
    "automatisch antwoord", "resposta automática",
    "risposta automatica",  NULL,
};
static cls_phr ooo_phr = CLS_PHR_ANY(ooo_words);

static bool ooo_subject_only(const cls_class *c)
{
	cs_buf s = CS_BUF_INIT;
	bool hit;

	if (c->subject == NULL)
		return false;
	cls_flatten(c->subject, strlen(c->subject), &s);
	hit = cls_phr_find(&ooo_phr, cs_buf_str(&s), s.len, NULL) >= 0;
	cs_buf_free(&s);
	return hit;
}

static void drop_rcpts(cls_class *c)
{
	while (c->nrcpts > 0) {
		c->nrcpts--;
		free(c->rcpts[c->nrcpts].addr);
		free(c->rcpts[c->nrcpts].diag);
		free(c->rcpts[c->nrcpts].mta);
	}
}

static void decide(const cls_msg *m, cls_class *c)
{
	const char *flat = cs_buf_str(&m->flat), *as;
	size_t fresh;
	bool dsn_success = false;

	/* 1-2: RFC 3464 */
	if (m->dsn.len) {
		size_t nok = 0;

		(void)cls_dsn_parse(m, c, &nok);
		if (c->kind != CLS_OTHER)
			goto report;
		/* a DSN whose recipients were all delivered */
		dsn_success = nok > 0;
		drop_rcpts(c);
	}
	/* 3: RFC 5965 */
	if (m->report == CLS_REPORT_ARF || m->arf.len) {
		c->kind = CLS_COMPLAINT;
		complaint_rcpts(m, c);
		goto report;
	}
	if (m->report == CLS_REPORT_MDN && !dsn_success) {
		if (mdn_failure(m, c))
			goto report;
		drop_rcpts(c);
		return;
	}
	if (dsn_success)
		return;
	/* Amazon SES notifications (JSON) */
	if (!m->multipart && cls_ses_detect(m, c)) {
		if (c->kind == CLS_OTHER)
			return;
		goto report;
	}
	/* a challenge/response request is an auto-reply, never a delay */
	if (cls_ndr_challenge(m)) {
		c->kind = CLS_AUTO_REPLY;
		return;
	}
	/* free-text NDRs; an out-of-office subject outranks that guess */
	if (!ooo_subject_only(c) && cls_ndr_detect(m, c))
		goto report;
	drop_rcpts(c);
	c->kind = CLS_OTHER;

	/* 4-6: what a person (or their responder) wrote */
	fresh = cls_fresh_len(flat, m->flat.len);
	if (cls_autoreply_detect(m, c, flat, fresh)) {
		c->kind = CLS_AUTO_REPLY;
		return;
	}
	if ((as = cls_msg_hdr(m, "Auto-Submitted", NULL)) != NULL &&
	    strncasecmp(as, "no", 2) != 0)
		return; /* machine-made notice: never a person's answer */
	if (cls_unsub_detect(c, flat, fresh, &c->token)) {
		c->kind = CLS_UNSUBSCRIBE;
		return;
	}
	if (c->in_reply_to || c->references || reply_subject(c->subject))
		c->kind = CLS_REPLY;
	return;
report:
	if (c->orig_message_id == NULL)
		c->orig_message_id = orig_message_id(m);
}

int cls_classify(const char *raw, size_t len, cls_class *out, cs_err *err)
{
	cls_msg m;

	memset(out, 0, sizeof *out);
	if (raw == NULL && len > 0)
		return cs_err_set(err, CS_EINVAL, "no message to classify");
	memset(&m, 0, sizeof m);
	cls_msg_parse(raw ? raw : "", len, &m);
	fill_fields(&m, out);
	decide(&m, out);
	cls_msg_free(&m);
	return 0;
}

void cls_class_free(cls_class *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->message_id);
	free(c->in_reply_to);
	free(c->references);
	free(c->from);
	free(c->to);
	free(c->subject);
	free(c->date);
	free(c->orig_message_id);
	free(c->token);
	for (i = 0; i < c->nrcpts; i++) {
		free(c->rcpts[i].addr);
		free(c->rcpts[i].diag);
		free(c->rcpts[i].mta);
	}
	free(c->rcpts);
	memset(c, 0, sizeof *c);
}

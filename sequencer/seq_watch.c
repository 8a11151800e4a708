/*
 * seq_watch.c - the watcher: read new mail of an inbox (INBOX and Junk,
 * never Drafts), classify it, and record events, suppressions and
 * contact stops.  What an event does is seq_policy.c's table; this file
 * finds what of ours a message is about and runs the row's actions.
 * Sent is read too, its header fields only, for what the mailbox sent
 * outside coldseq (seq_watch_sent.c, hooked into plan, fetch and apply).
 *
 * Never miss, never twice:
 *  - per folder, UIDVALIDITY and the last UID read are stored in the same
 *    transaction as the events of that batch, so a crash repeats at most
 *    the last batch, and repeating is harmless because
 *  - every event is keyed by (inbox, Message-ID or a hash of Date, From
 *    and Subject, recipient): a message seen again (moved from Junk to
 *    INBOX, read again after a UIDVALIDITY change) adds nothing.
 *  - the first pass of an inbox reads back to the day before the inbox
 *    was added or first sent, whichever is earlier.
 * Nothing is changed on the server: folders are EXAMINEd and messages
 * fetched with BODY.PEEK, at most FETCH_CAP bytes each.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#define FETCH_CAP   262144u /* 256 KiB */
#define FETCH_BATCH 25
#define DAY_MS      86400000LL

/* Message-ID, else "h:" + SHA-256 of Date, From and Subject. */
static char *event_key(const cls_class *c)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	cs_buf b = CS_BUF_INIT, k = CS_BUF_INIT;

	if (c->message_id && *c->message_id)
		return cs_xstrdup(c->message_id);
	cs_buf_printf(&b, "%s\n%s\n%s", c->date ? c->date : "",
	              c->from ? c->from : "", c->subject ? c->subject : "");
	EVP_Digest(b.data, b.len, md, &n, EVP_sha256(), NULL);
	cs_buf_puts(&k, "h:");
	for (i = 0; i < 16 && i < n; i++)
		cs_buf_printf(&k, "%02x", md[i]);
	cs_buf_free(&b);
	return cs_buf_detach(&k, NULL);
}

/* Subject without reply prefixes ("Re:", "AW:", "SV:", "RE :", "Fwd:"
 * is not one) and surrounding space, for the fallback match. */
static const char *strip_re(const char *s)
{
	static const char *const pre[] = {"re", "aw", "sv",  "antw",
	                                  "vs", "r",  "rif", NULL};
	bool again = true;

	while (s && again) {
		size_t i;

		again = false;
		while (*s == ' ' || *s == '\t')
			s++;
		for (i = 0; pre[i]; i++) {
			size_t n = strlen(pre[i]);
			const char *p = s + n;

			if (strncasecmp(s, pre[i], n) != 0)
				continue;
			while (*p == ' ')
				p++;
			if (*p == ':') {
				s = p + 1;
				again = true;
				break;
			}
		}
	}
	return s ? s : "";
}

/* The first message of ours that ids ("<a> <b> ...") names. */
static int match_ids(db *d, long long inbox_id, const char *ids,
                     db_sent_ref *ref, bool *found, cs_err *err)
{
	const char *p = ids;

	*found = false;
	while (p && *p) {
		const char *open = strchr(p, '<'), *close;
		char *id;
		int rc;

		if (open == NULL || (close = strchr(open, '>')) == NULL)
			break;
		id = cs_xstrndup(open, (size_t)(close - open + 1));
		rc = db_message_by_id(d, inbox_id, id, ref, found, err);
		free(id);
		if (rc || *found)
			return rc;
		p = close + 1;
	}
	return 0;
}

typedef struct ctx {
	db *d;
	cs_clock *clock;
	const db_inbox *in;
	const char *folder, *role; /* role: inbox|junk */
	uint32_t uidvalidity, uid; /* of the message being recorded */
	seq_sync_stats *st;
	bool added; /* the last add_event was new (effects apply once) */
	/* the provider that refused the recipient being recorded, when its
	 * status is a provider's code (seq_refusal_provider) */
	cs_provider_id prov;
	seq_mx *mx; /* the watcher's (may be NULL) */
} ctx;

static int add_event(ctx *x, db_event *e)
{
	cs_err err = CS_ERR_INIT;
	bool added = false;
	int rc = db_event_add(x->d, e, &added, &err);

	x->added = added;
	if (rc)
		return rc;
	if (added)
		x->st->new_events++;
	return 0;
}

static int stop_contact(ctx *x, const char *addr, db_contact_status status,
                        bool suppress, const char *reason)
{
	int64_t now = cs_clock_now(x->clock);
	cs_err err = CS_ERR_INIT;
	bool added = false;
	int rc;

	if (addr == NULL || *addr == '\0')
		return 0;
	if (suppress) {
		if ((rc = db_suppress_add(x->d, "address", addr, reason,
		                          x->in->name, now, &added, &err)) != 0)
			return rc;
		if (added)
			x->st->suppressed++;
	}
	return seq_contact_stop(x->d, addr, status, now, &err);
}

/* The message of ours that c answers, for an event about addr that stops
 * or delays a contact: the one its In-Reply-To or References name, else
 * the last one this inbox sent to addr (a List-Unsubscribe mailto, a
 * "please remove me" or an out-of-office without In-Reply-To), so the
 * event counts against the campaign step that caused it. */
static int related(ctx *x, const cls_class *c, const char *addr,
                   db_sent_ref *ref, bool *found, cs_err *err)
{
	int rc = match_ids(x->d, x->in->id, c->in_reply_to, ref, found, err);

	if (rc == 0 && !*found)
		rc = match_ids(x->d, x->in->id, c->references, ref, found, err);
	if (rc == 0 && !*found && addr && *addr)
		rc = db_message_last_to(x->d, x->in->id, addr, ref, found, err);
	return rc;
}

/* Run the actions of policy row p for the event e just stored (r: the
 * recipient of a report it is about, or NULL).  "once" actions only when
 * the event is new. */
static int act(ctx *x, const seq_event_policy *p, const cls_class *c,
               const db_event *e, const cls_rcpt *r, cs_err *err)
{
	unsigned a = p->always | (x->added ? p->once : 0);
	const char *why = p->reason, *soft;
	char detail[128];
	int rc = 0;

	if (p->reason_detail) {
		snprintf(detail, sizeof detail, "%s %s %s", p->reason,
		         r && r->status[0] ? r->status : "",
		         r && r->reason ? r->reason : "");
		why = detail;
	}
	if (a & SEQ_ACT_STOP)
		rc = stop_contact(x, e->contact, p->stop_status,
		                  (a & SEQ_ACT_SUPPRESS) != 0, why);
	if (rc == 0 && (a & SEQ_ACT_PAUSE_INBOX))
		rc = seq_bounce_protect(x->d, x->in, cs_clock_now(x->clock),
		                        NULL, err);
	if (rc == 0 && (a & SEQ_ACT_DOMAIN))
		rc = seq_domain_pause_event(x->d, x->in, p, r, x->prov,
		                            cs_clock_now(x->clock), err);
	/* a refusal of the domain is no verdict on the person: retried
	 * whatever the reason word (its status stands in for it) */
	soft = r == NULL ? NULL : (a & SEQ_ACT_DOMAIN) ? r->status : r->reason;
	if (rc == 0 && (a & SEQ_ACT_RETRY_SOFT) && e->related_message_id)
		rc = seq_soft_bounce(x->d, e->related_message_id, e->contact,
		                     soft, cs_clock_now(x->clock), err);
	if (rc == 0 && (a & SEQ_ACT_AUTO_REPLY))
		rc = seq_auto_reply(x->d, e->contact, e->return_date,
		                    cs_clock_now(x->clock), err);
	if (rc == 0 && (a & SEQ_ACT_SETTLE_WARMUP))
		rc = seq_warmup_received(x->d, x->clock, x->in, x->role,
		                         x->folder, x->uidvalidity, x->uid, c,
		                         err);
	return rc;
}

/* The policy row for c in context cx (hard: the recipient's, -1 when
 * none), the event stored as its kind, then its actions. */
static int apply(ctx *x, const cls_class *c, seq_event_ctx cx, int hard,
                 const cls_rcpt *r, db_event *e, cs_err *err)
{
	const seq_event_policy *p = seq_event_policy_answer(
	    c->kind, cx, hard, c->token != NULL, r ? r->status : NULL,
	    r ? x->prov : CS_PROVIDER_GENERIC);
	int rc;

	if (p == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "no event policy for a %s message",
		                  cls_kind_name(c->kind));
	e->kind = p->record;
	if ((rc = add_event(x, e)) != 0)
		return rc;
	return act(x, p, c, e, r, err);
}

/* A bounce, delay or complaint: one event per recipient it reports (or
 * one for the reported message when it names none), each counted against
 * the message it is about: the reported one, else the last one this
 * inbox sent to the recipient. */
static int record_report(ctx *x, const cls_class *c, db_event *e, cs_err *err)
{
	db_sent_ref ref;
	bool found = false;
	size_t i;
	int rc = 0;

	memset(&ref, 0, sizeof ref);
	if (c->orig_message_id &&
	    (rc = db_message_by_id(x->d, x->in->id, c->orig_message_id, &ref,
	                           &found, err)) != 0)
		goto out;
	if (c->nrcpts == 0) {
		/* a complaint may not name the recipient: the one of the
		 * reported message */
		e->recipient = found ? ref.recipient : NULL;
		e->contact = e->recipient;
		e->related_message_id = found ? ref.message_id : NULL;
		rc = apply(x, c, found ? SEQ_CTX_MATCHED : SEQ_CTX_UNMATCHED,
		           -1, NULL, e, err);
		goto out;
	}
	for (i = 0; i < c->nrcpts && rc == 0; i++) {
		const cls_rcpt *r = &c->rcpts[i];
		db_sent_ref r2;
		bool f2 = false;

		memset(&r2, 0, sizeof r2);
		if (!found)
			rc = db_message_last_to(x->d, x->in->id, r->addr, &r2,
			                        &f2, err);
		e->recipient = r->addr;
		e->contact = r->addr;
		e->status = r->status[0] ? r->status : NULL;
		e->reason = r->reason;
		e->hard = c->kind == CLS_BOUNCE ? r->hard : 0;
		e->related_message_id = found ? ref.message_id
		                        : f2  ? r2.message_id
		                              : NULL;
		x->prov = CS_PROVIDER_GENERIC;
		if (rc == 0 && e->related_message_id &&
		    seq_event_policy_code(r->status))
			rc =
			    seq_refusal_provider(x->d, x->mx, r, &x->prov, err);
		if (rc == 0)
			rc = apply(x, c,
			           e->related_message_id ? SEQ_CTX_MATCHED
			                                 : SEQ_CTX_UNMATCHED,
			           e->hard, r, e, err);
		db_sent_ref_free(&r2);
	}
out:
	db_sent_ref_free(&ref);
	return rc;
}

/* One classified message into events and their effects: what of ours it
 * is about decides the context, seq_policy.c what follows.  rv: what its
 * receiving server wrote (NULL: not read), kept when another of our
 * inboxes sent it. */
static int record(ctx *x, const cls_class *c, const cls_received *rv)
{
	db_event e;
	db_sent_ref ref;
	bool found = false;
	char *key = event_key(c);
	cs_buf clean[4] = {CS_BUF_INIT, CS_BUF_INIT, CS_BUF_INIT, CS_BUF_INIT};
	cs_err err = CS_ERR_INIT;
	size_t i;
	int rc = 0;

	memset(&e, 0, sizeof e);
	memset(&ref, 0, sizeof ref);
	e.inbox_id = x->in->id;
	e.msg_key = key;
	e.folder = x->folder;
	/* what a sender wrote is stored as clean UTF-8, capped */
	if (c->from)
		cs_utf8_clean(c->from, 320, &clean[0]);
	if (c->subject)
		cs_utf8_clean(c->subject, 500, &clean[1]);
	if (c->message_id)
		cs_utf8_clean(c->message_id, 500, &clean[2]);
	if (c->in_reply_to)
		cs_utf8_clean(c->in_reply_to, 500, &clean[3]);
	e.from_addr = c->from ? cs_buf_str(&clean[0]) : NULL;
	e.subject = c->subject ? cs_buf_str(&clean[1]) : NULL;
	e.message_id = c->message_id ? cs_buf_str(&clean[2]) : NULL;
	e.in_reply_to = c->in_reply_to ? cs_buf_str(&clean[3]) : NULL;
	e.hard = -1;
	e.received_at = cs_clock_now(x->clock);

	/* our own mail (a copy to ourselves, a message we sent) */
	if (c->message_id &&
	    (rc = db_message_by_id(x->d, x->in->id, c->message_id, &ref, &found,
	                           &err)) != 0)
		goto out;
	if (found || (c->from && strcasecmp(c->from, x->in->email) == 0)) {
		rc = apply(x, c, SEQ_CTX_OWN, -1, NULL, &e, &err);
		goto out;
	}
	/* warmup: the message, or what it answers, is a warmup message */
	if (c->message_id && (rc = db_message_by_id(x->d, 0, c->message_id,
	                                            &ref, &found, &err)) != 0)
		goto out;
	/* another of our inboxes sent it (warmup, campaign, test): a copy
	 * as a receiver saw it, for the doctor; changes nothing below */
	if (found && rv)
		seq_received_record(x->d, x->in, x->role, c, rv, e.received_at);
	if (!found &&
	    (rc = match_ids(x->d, 0, c->in_reply_to, &ref, &found, &err)) ==
	        0 &&
	    !found)
		rc = match_ids(x->d, 0, c->references, &ref, &found, &err);
	if (rc)
		goto out;
	if (found && ref.purpose == DB_PURPOSE_WARMUP) {
		e.related_message_id = ref.message_id;
		rc = apply(x, c, SEQ_CTX_WARMUP, -1, NULL, &e, &err);
		goto out;
	}
	db_sent_ref_free(&ref);
	found = false;

	switch (c->kind) {
	case CLS_BOUNCE:
	case CLS_DELAY:
	case CLS_COMPLAINT: rc = record_report(x, c, &e, &err); break;
	case CLS_UNSUBSCRIBE:
	case CLS_AUTO_REPLY:
		/* counted against the message it answers, or the last one
		 * this inbox sent to the sender */
		e.contact = c->from;
		if (c->kind == CLS_AUTO_REPLY)
			e.return_date =
			    c->return_date[0] ? c->return_date : NULL;
		if ((rc = related(x, c, c->from, &ref, &found, &err)) != 0)
			break;
		e.related_message_id = found ? ref.message_id : NULL;
		rc = apply(x, c, found ? SEQ_CTX_MATCHED : SEQ_CTX_UNMATCHED,
		           -1, NULL, &e, &err);
		break;
	case CLS_REPLY:
	case CLS_OTHER:
		/* a reply only when it answers one of our messages */
		if ((rc = match_ids(x->d, x->in->id, c->in_reply_to, &ref,
		                    &found, &err)) == 0 &&
		    !found)
			rc = match_ids(x->d, x->in->id, c->references, &ref,
			               &found, &err);
		if (rc == 0 && !found && c->kind == CLS_REPLY && c->from &&
		    c->subject)
			rc = db_message_by_subject(x->d, x->in->id, c->from,
			                           strip_re(c->subject), &ref,
			                           &found, &err);
		if (rc)
			break;
		if (found) {
			e.related_message_id = ref.message_id;
			e.contact = c->from;
		}
		rc = apply(x, c, found ? SEQ_CTX_MATCHED : SEQ_CTX_UNMATCHED,
		           -1, NULL, &e, &err);
		break;
	}
out:
	db_sent_ref_free(&ref);
	for (i = 0; i < 4; i++)
		cs_buf_free(&clean[i]);
	free(key);
	return rc;
}

/* The day before the inbox was added or first sent, whichever is earlier:
 * how far back a first sync reads. */
static int64_t first_sync_since(db *d, const db_inbox *in)
{
	int64_t first = in->created_at, sent;
	bool found = false;

	if (db_message_first_at(d, in->id, &sent, &found, NULL) == 0 && found &&
	    sent < first)
		first = sent;
	return first - DAY_MS;
}

void seq_watch_plan_free(seq_watch_plan *p)
{
	size_t i;

	for (i = 0; i < p->nf; i++)
		free(p->f[i].name);
	seq_sent_mark_free(&p->sent);
	memset(p, 0, sizeof *p);
}

void seq_watch_batch_free(seq_watch_batch *b)
{
	size_t i, k;

	for (i = 0; i < b->nf; i++) {
		for (k = 0; k < b->f[i].n; k++) {
			cls_class_free(&b->f[i].cls[k]);
			if (b->f[i].rcv)
				cls_received_free(&b->f[i].rcv[k]);
		}
		free(b->f[i].cls);
		free(b->f[i].rcv);
		free(b->f[i].uids);
	}
	seq_sent_got_free(&b->sent);
	memset(b, 0, sizeof *b);
}

static int plan_folder(seq_watcher *w, seq_watch_plan *p, const char *role,
                       const char *name, cs_err *err)
{
	struct seq_watch_mark *m = &p->f[p->nf];
	db_folder f;
	bool found;
	int rc;

	if ((rc = db_folder_get(w->d, w->in->id, role, &f, &found, err)) != 0)
		return rc;
	memset(m, 0, sizeof *m);
	m->role = role;
	m->name = cs_xstrdup(name);
	/* a new or renamed folder starts over; events dedupe */
	if (found && strcmp(f.name, name) == 0) {
		m->uidvalidity = f.uidvalidity;
		m->last_uid = f.last_uid;
		m->highestmodseq = f.highestmodseq;
	}
	db_folder_free(&f);
	p->nf++;
	return 0;
}

int seq_watcher_plan(seq_watcher *w, seq_watch_plan *p, cs_err *err)
{
	int rc;

	memset(p, 0, sizeof *p);
	p->since = first_sync_since(w->d, w->in);
	rc = plan_folder(w, p, "inbox", "INBOX", err);
	if (rc == 0 && w->junk)
		rc = plan_folder(w, p, "junk", w->junk, err);
	if (rc == 0)
		rc = seq_watch_sent_plan(w, &p->sent, err);
	if (rc)
		seq_watch_plan_free(p);
	return rc;
}

/* One folder: network only.  At most `room` messages are fetched; the
 * mark moves only as far as what was fetched (more says there is more). */
static int fetch_folder(seq_watcher *w, const struct seq_watch_mark *m,
                        int64_t since, size_t room, struct seq_watch_got *g,
                        cs_err *err)
{
	imap_folder_info info;
	uint32_t *uids = NULL, last = m->last_uid, floor = 0;
	size_t n = 0, i;
	int rc;

	g->role = m->role;
	g->name = m->name;
	g->touched = false;
	/* nothing new: UIDVALIDITY and UIDNEXT as left (no SELECT at all) */
	if (m->last_uid > 0) {
		if ((rc = imap_status(w->s, m->name, &info, err)) != 0)
			return rc;
		/* with CONDSTORE, an unchanged HIGHESTMODSEQ says the same */
		if (info.uidvalidity == m->uidvalidity &&
		    (info.uidnext == m->last_uid + 1 ||
		     (info.highestmodseq &&
		      info.highestmodseq == m->highestmodseq)))
			return 0;
	}
	if ((rc = imap_examine(w->s, m->name, &info, err)) != 0)
		return rc;
	w->selected = strcmp(m->name, "INBOX") == 0;
	if (m->uidvalidity != info.uidvalidity) {
		if (m->uidvalidity != 0)
			cs_log_warn(
			    "inbox %s: %s changed UIDVALIDITY (%u -> %u): "
			    "reading it again",
			    w->in->name, m->name, m->uidvalidity,
			    info.uidvalidity);
		last = 0;
	}
	if ((rc = imap_search_new(w->s, last, last == 0 ? since : 0, &uids, &n,
	                          err)) != 0)
		return rc;
	/* After a first pass, everything below UIDNEXT has been decided on
	 * (read, or older than the window), so later passes ask only for
	 * UIDs above it and cost the same however big the folder is.  Only
	 * the last batch may move the mark that far. */
	if (last == 0 && info.uidnext > 1)
		floor = info.uidnext - 1;
	if (n > room) {
		n = room;
		g->more = true;
	}
	g->touched = true;
	g->uidvalidity = info.uidvalidity;
	for (i = 0; i < n; i += FETCH_BATCH) {
		size_t m2 = n - i < FETCH_BATCH ? n - i : FETCH_BATCH, nf = 0,
		       k;
		imap_fetched *fetched = NULL;

		if ((rc = imap_fetch_heads(w->s, uids + i, m2, FETCH_CAP,
		                           &fetched, &nf, err)) != 0)
			break;
		g->cls = cs_xrealloc(g->cls, (g->n + nf + 1) * sizeof *g->cls);
		g->rcv = cs_xrealloc(g->rcv, (g->n + nf + 1) * sizeof *g->rcv);
		g->uids =
		    cs_xrealloc(g->uids, (g->n + nf + 1) * sizeof *g->uids);
		for (k = 0; k < nf; k++) {
			memset(&g->cls[g->n], 0, sizeof g->cls[g->n]);
			g->uids[g->n] = fetched[k].uid;
			cls_classify(fetched[k].raw.data, fetched[k].raw.len,
			             &g->cls[g->n], NULL);
			/* the header the fetch brought anyway: the
			 * receiving server's Authentication-Results, our
			 * DKIM-Signature, List-Unsubscribe(-Post) */
			cls_received_parse(fetched[k].raw.data,
			                   fetched[k].raw.len, &g->rcv[g->n]);
			g->n++;
		}
		imap_fetched_free(fetched, nf);
		last = uids[i + m2 - 1];
	}
	if (rc == 0 && !g->more && floor > last)
		last = floor;
	g->last_uid = last;
	/* HIGHESTMODSEQ stands for "read up to here" only once everything
	 * is in: an interrupted or partial pass must not look done */
	g->highestmodseq = g->more || rc ? 0 : info.highestmodseq;
	free(uids);
	return rc;
}

int seq_watcher_fetch(seq_watcher *w, const seq_watch_plan *p, size_t room,
                      seq_watch_batch *b, cs_err *err)
{
	size_t i;
	int rc = 0;

	memset(b, 0, sizeof *b);
	for (i = 0; i < p->nf && rc == 0; i++) {
		rc = fetch_folder(w, &p->f[i], p->since, room, &b->f[i], err);
		b->nf = i + 1;
		if (b->f[i].n < room)
			room -= b->f[i].n;
		else
			room = 0;
		if (b->f[i].more)
			b->more = true;
	}
	if (rc == 0) {
		rc = seq_watch_sent_fetch(w, &p->sent, room, &b->sent, err);
		if (b->sent.more)
			b->more = true;
	}
	return rc;
}

int seq_watcher_apply(seq_watcher *w, const seq_watch_batch *b,
                      seq_sync_stats *st, cs_err *err)
{
	size_t i, k;
	int rc;

	if ((rc = db_begin(w->d, err)) != 0)
		return rc;
	for (i = 0; i < b->nf && rc == 0; i++) {
		const struct seq_watch_got *g = &b->f[i];
		ctx x = {w->d,    w->clock,
		         w->in,   g->name,
		         g->role, g->uidvalidity,
		         0,       st,
		         false,   CS_PROVIDER_GENERIC,
		         w->mx};

		st->folders++;
		if (!g->touched)
			continue;
		for (k = 0; k < g->n && rc == 0; k++) {
			x.uid = g->uids ? g->uids[k] : 0;
			rc = record(&x, &g->cls[k], g->rcv ? &g->rcv[k] : NULL);
			st->fetched++;
		}
		if (rc == 0)
			rc = db_folder_set(w->d, w->in->id, g->role, g->name,
			                   g->uidvalidity, g->last_uid,
			                   g->highestmodseq,
			                   cs_clock_now(w->clock), err);
		if (rc == 0 && strcmp(g->role, "inbox") == 0) {
			w->inbox_uidvalidity = g->uidvalidity;
			w->inbox_last = g->last_uid;
		}
	}
	if (rc == 0)
		rc = seq_watch_sent_apply(w, &b->sent, err);
	if (rc == 0)
		rc = db_commit(w->d, err);
	if (rc) {
		db_rollback(w->d);
		if (!err->code)
			cs_err_set(err, CS_EDB, "cannot record events");
	}
	return rc;
}

int seq_watcher_new(db *d, cs_vault *v, cs_clock *clock, const db_inbox *in,
                    seq_watcher **out, cs_err *err)
{
	seq_watcher *w = cs_xcalloc(1, sizeof *w);
	db_folder f;
	bool found = false;
	int rc;

	*out = NULL;
	w->d = d;
	w->v = v;
	w->clock = clock;
	w->in = in;
	if ((rc = seq_inbox_imap(d, v, in, &w->srv, &w->auth, &w->secret,
	                         err)) != 0) {
		seq_watcher_close(w);
		return rc;
	}
	if (db_folder_get(d, in->id, "inbox", &f, &found, NULL) == 0 && found) {
		w->inbox_uidvalidity = f.uidvalidity;
		w->inbox_last = f.last_uid;
		db_folder_free(&f);
	}
	*out = w;
	return 0;
}

int seq_watcher_connect(seq_watcher *w, cs_err *err)
{
	imap_folders f;
	int rc;

	memset(&f, 0, sizeof f);
	imap_close(w->s);
	w->s = NULL;
	w->selected = false;
	if ((rc = imap_open(&w->srv, &w->auth, &w->s, err)) ||
	    (rc = imap_find_folders(w->s, &f, err)))
		return rc;
	free(w->junk);
	free(w->sent);
	w->junk = f.junk ? cs_xstrdup(f.junk) : NULL;
	w->sent = f.sent ? cs_xstrdup(f.sent) : NULL;
	imap_folders_free(&f);
	w->forced = false; /* the token worked */
	return 0;
}

int seq_watcher_reauth(seq_watcher *w, bool after_failure, cs_err *err)
{
	cs_secret *fresh = NULL;
	bool force = after_failure && !w->forced;
	int rc;

	if (w->in->auth != DB_AUTH_OAUTH2 || w->srv.tls == IMAP_TLS_NONE)
		return 0;
	if (force) /* once per failure streak, even when it fails */
		w->forced = true;
	if ((rc = seq_token_get(w->d, w->v, w->in, force, &fresh, err)) != 0)
		return rc;
	cs_secret_free(w->secret);
	w->secret = fresh;
	w->auth.secret = fresh;
	return 0;
}

void seq_watcher_close(seq_watcher *w)
{
	if (w == NULL)
		return;
	imap_close(w->s);
	cs_secret_free(w->secret);
	free(w->junk);
	free(w->sent);
	free(w);
}

int seq_watcher_sync(seq_watcher *w, seq_sync_stats *st, cs_err *err)
{
	int rc;

	memset(st, 0, sizeof *st);
	for (;;) {
		seq_watch_plan p;
		seq_watch_batch b;

		if ((rc = seq_watcher_plan(w, &p, err)) != 0)
			return rc;
		rc = seq_watcher_fetch(w, &p, SEQ_WATCH_ROOM, &b, err);
		/* what was fetched before a failure is still recorded */
		if (rc == 0 || b.nf) {
			cs_err e2 = CS_ERR_INIT;
			int rc2 = seq_watcher_apply(w, &b, st, &e2);

			if (rc == 0 && rc2) {
				rc = rc2;
				*err = e2;
			}
		}
		seq_watch_plan_free(&p);
		if (rc || !b.more) {
			seq_watch_batch_free(&b);
			return rc;
		}
		seq_watch_batch_free(&b);
	}
}

bool seq_watcher_can_idle(seq_watcher *w)
{
	return imap_has_idle(w->s);
}

/* Select INBOX for IDLE.  Mail that arrived after the last pass read the
 * folder is already counted in this EXAMINE, so IDLE would never report
 * it: *pending says so, and the caller syncs instead of waiting. */
static int select_inbox(seq_watcher *w, bool *pending, cs_err *err)
{
	imap_folder_info info;
	int rc;

	*pending = false;
	if (w->selected)
		return 0;
	if ((rc = imap_examine(w->s, "INBOX", &info, err)) != 0)
		return rc;
	w->selected = true;
	*pending = w->inbox_uidvalidity != info.uidvalidity ||
	           info.uidnext > w->inbox_last + 1;
	return 0;
}

int seq_watcher_idle_start(seq_watcher *w, int *fd, cs_err *err)
{
	bool pending;
	int rc = select_inbox(w, &pending, err);

	if (rc == 0)
		rc = imap_idle_start(w->s, fd, err);
	if (rc == 0 && pending)
		*fd = -1; /* end IDLE at once and read what is there */
	return rc;
}

int seq_watcher_idle_done(seq_watcher *w, cs_err *err)
{
	return imap_idle_done(w->s, err);
}

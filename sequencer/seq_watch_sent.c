/*
 * seq_watch_sent.c - the watcher's pass over Sent: what the mailbox sent
 * outside coldseq (the person using it from a mail client) counts against
 * the provider's limits too (issue 21).
 *
 * Per pass, after INBOX and Junk, read only the header fields of the
 * copies that arrived in Sent since the last pass: UID, INTERNALDATE and
 * BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE TO CC BCC)].  A copy whose
 * Message-ID is one coldseq sent (any inbox, any purpose) is skipped; any
 * other becomes one sent_external row per To/Cc/Bcc address ('' when it
 * names none), timed by its INTERNALDATE.
 *
 * Never miss, never twice, never the whole history:
 *  - the cursor is Sent's row in inbox_folders (UIDVALIDITY, last UID),
 *    written in the watcher's transaction with the rows of the pass;
 *  - rows are keyed by (inbox, Message-ID or a hash of the header fields,
 *    recipient), so a copy read again (a UIDVALIDITY change, a renamed
 *    folder, a crash before the commit) adds nothing;
 *  - without a cursor (the first pass, a new UIDVALIDITY, another folder)
 *    only copies of the last 25 hours are read (UID SEARCH SINCE, then
 *    their INTERNALDATE), the rest is passed over.
 * Nothing is changed on the server (EXAMINE, BODY.PEEK), and a pass with
 * nothing new costs one STATUS.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define SENT_BATCH   50
#define SENT_HDR_CAP 65536u           /* bytes of header fields a copy */
#define SENT_WINDOW  (25 * 3600000LL) /* a first pass reads back so far */
#define DAY_MS       86400000LL

static const char *const sent_fields[] = {"MESSAGE-ID", "DATE", "TO",
                                          "CC",         "BCC",  NULL};

void seq_sent_mark_free(struct seq_sent_mark *m)
{
	free(m->name);
	memset(m, 0, sizeof *m);
}

static void msg_free(struct seq_sent_msg *m)
{
	size_t i;

	for (i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	free(m->msg_key);
	free(m->message_id);
}

void seq_sent_got_free(struct seq_sent_got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		msg_free(&g->m[i]);
	free(g->m);
	free(g->name);
	memset(g, 0, sizeof *g);
}

int seq_watch_sent_plan(seq_watcher *w, struct seq_sent_mark *m, cs_err *err)
{
	db_folder f;
	bool found = false;
	int rc;

	memset(m, 0, sizeof *m);
	m->now = cs_clock_now(w->clock);
	m->since = m->now - SENT_WINDOW;
	if ((rc = db_folder_get(w->d, w->in->id, "sent", &f, &found, err)) != 0)
		return rc;
	if (found) {
		m->name = f.name; /* taken over */
		m->uidvalidity = f.uidvalidity;
		m->last_uid = f.last_uid;
	}
	return 0;
}

/* "h:" + SHA-256 of the header fields (CRs dropped): the key of a copy
 * without a Message-ID, the same however often it is read. */
static char *hash_key(const cs_buf *raw)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	cs_buf k = CS_BUF_INIT;
	size_t a = 0, b;

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (b = 0; b <= raw->len; b++)
		if (b == raw->len || raw->data[b] == '\r') {
			if (b > a)
				EVP_DigestUpdate(c, raw->data + a, b - a);
			a = b + 1;
		}
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	cs_buf_puts(&k, "h:");
	for (i = 0; i < 16 && i < n; i++)
		cs_buf_printf(&k, "%02x", md[i]);
	return cs_buf_detach(&k, NULL);
}

/* A copy's header fields into m (classify/copy.c reads them): what
 * cannot be parsed is left out, and a copy naming no recipient still
 * counts. */
static void parse_copy(const imap_header *h, int64_t fallback,
                       struct seq_sent_msg *m)
{
	cls_copy c;

	memset(m, 0, sizeof *m);
	m->sent_at = h->internal_ms ? h->internal_ms : fallback;
	cls_copy_parse(h->raw.data, h->raw.len, &c);
	m->message_id = c.message_id;
	m->rcpts = c.rcpts;
	m->nrcpts = c.nrcpts;
	m->msg_key =
	    m->message_id ? cs_xstrdup(m->message_id) : hash_key(&h->raw);
}

int seq_watch_sent_fetch(seq_watcher *w, const struct seq_sent_mark *m,
                         size_t room, struct seq_sent_got *g, cs_err *err)
{
	imap_folder_info info;
	uint32_t *uids = NULL, last, floor = 0;
	size_t n = 0, i, k;
	bool cursor;
	int rc;

	memset(g, 0, sizeof *g);
	if (w->sent == NULL || room == 0)
		return 0; /* no Sent folder; or Sent on the next round */
	/* the cursor holds for the folder it was taken in only */
	cursor = m->name && strcmp(m->name, w->sent) == 0 && m->uidvalidity;
	last = cursor ? m->last_uid : 0;
	if (cursor) { /* nothing new: one STATUS */
		if ((rc = imap_status(w->s, w->sent, &info, err)) != 0)
			return rc;
		if (info.uidvalidity == m->uidvalidity &&
		    info.uidnext == m->last_uid + 1)
			return 0;
	}
	if ((rc = imap_examine(w->s, w->sent, &info, err)) != 0)
		return rc;
	w->selected = false; /* IDLE selects INBOX again */
	if (cursor && info.uidvalidity != m->uidvalidity) {
		cs_log_warn("inbox %s: %s changed UIDVALIDITY (%u -> %u): "
		            "reading its last 25 hours again",
		            w->in->name, w->sent, m->uidvalidity,
		            info.uidvalidity);
		cursor = false;
		last = 0;
	}
	/* SINCE is a date (in the server's zone): a day early, the copies'
	 * INTERNALDATE decides */
	if ((rc = imap_search_new(w->s, last, cursor ? 0 : m->since - DAY_MS,
	                          &uids, &n, err)) != 0)
		return rc;
	/* without a cursor, what lies below UIDNEXT is decided on (read, or
	 * older than the window): the mark may move that far, once
	 * everything asked for is read */
	if (!cursor && info.uidnext > 1)
		floor = info.uidnext - 1;
	if (n > room) {
		n = room;
		g->more = true;
	}
	for (i = 0; i < n; i += SENT_BATCH) {
		size_t m2 = n - i < SENT_BATCH ? n - i : SENT_BATCH, nh = 0;
		imap_header *h = NULL;

		if ((rc = imap_fetch_header_fields(w->s, uids + i, m2,
		                                   sent_fields, SENT_HDR_CAP,
		                                   &h, &nh, err)) != 0)
			break;
		g->m = cs_xrealloc(g->m, (g->n + nh + 1) * sizeof *g->m);
		for (k = 0; k < nh; k++) {
			if (!cursor && h[k].internal_ms < m->since)
				continue; /* older than the window */
			parse_copy(&h[k], m->now, &g->m[g->n++]);
		}
		imap_headers_free(h, nh);
		last = uids[i + m2 - 1];
	}
	free(uids);
	if (rc) { /* nothing of this pass is recorded: it is read again */
		seq_sent_got_free(g);
		return rc;
	}
	if (!g->more && floor > last)
		last = floor;
	g->name = cs_xstrdup(w->sent);
	g->uidvalidity = info.uidvalidity;
	g->last_uid = last;
	return 0;
}

/* Whether addr's domain differs from the inbox address's. */
static bool external(const char *addr, const char *own)
{
	const char *a = strrchr(addr, '@'), *b = strrchr(own, '@');

	return a == NULL || b == NULL || strcasecmp(a + 1, b + 1) != 0;
}

int seq_watch_sent_apply(seq_watcher *w, const struct seq_sent_got *g,
                         cs_err *err)
{
	size_t i, k, added = 0;
	int rc = 0;

	if (g->name == NULL)
		return 0;
	for (i = 0; i < g->n && rc == 0; i++) {
		const struct seq_sent_msg *m = &g->m[i];
		char day[11];
		bool ours = false;

		if (m->message_id &&
		    (rc = db_sentsync_is_ours(w->d, m->message_id, &ours,
		                              err)) != 0)
			break;
		if (ours)
			continue;
		if ((rc = cs_tz_day(w->in->timezone, m->sent_at, day, err)) !=
		    0)
			break;
		added++;
		if (m->nrcpts == 0)
			rc = db_sent_external_add(w->d, w->in->id, m->msg_key,
			                          "", false, m->sent_at, day,
			                          err);
		for (k = 0; k < m->nrcpts && rc == 0; k++)
			rc = db_sent_external_add(
			    w->d, w->in->id, m->msg_key, m->rcpts[k],
			    external(m->rcpts[k], w->in->email), m->sent_at,
			    day, err);
	}
	if (rc == 0)
		rc = db_folder_set(w->d, w->in->id, "sent", g->name,
		                   g->uidvalidity, g->last_uid, 0,
		                   cs_clock_now(w->clock), err);
	if (rc == 0 && added)
		cs_log_debug("inbox %s: %zu message(s) in %s sent outside "
		             "coldseq",
		             w->in->name, added, g->name);
	return rc;
}

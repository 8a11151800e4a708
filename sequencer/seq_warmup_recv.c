/*
 * seq_warmup_recv.c - warmup's receiving side.
 *
 * seq_warmup_received (loop thread, inside the watcher's transaction) is
 * called once per warmup message an inbox sees: it plans a 'read' action
 * now (moving the message out of Junk first: a rescue; \Seen; \Flagged on
 * a quarter of them) and, at the inbox's reply rate, a threaded reply
 * 10-120 minutes later on the service clock (threads end at four
 * messages).  seq_warmup_imap does the IMAP work on a worker, one session
 * per inbox and batch; seq_warmup_op_done records each result on the loop
 * thread: a read done plans the 'archive' action 1-4 hours later (to the
 * Archive special-use folder, else \All where the server has it, else
 * "coldseq-warmup", created on demand); a failure is retried three times,
 * a message no longer there is done.
 *
 * Gmail (X-GM-EXT-1) has labels, not folders: there the share that
 * others get \Flagged gets the \Important label, and archiving removes
 * the \Inbox label, so the message stays in All Mail as a human's
 * archived mail does.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOUR_MS        3600000LL
#define FLAG_SHARE     25 /* percent of read messages also flagged */
#define MAX_THREAD     4  /* messages in a warmup thread */
#define RETRY_MS       (10 * 60000LL)
#define ACTION_TRIES   3
#define ARCHIVE_FOLDER "coldseq-warmup"

static int64_t rnd_below(int64_t n)
{
	uint64_t v;

	if (n <= 0)
		return 0;
	cs_random_bytes(&v, sizeof v);
	return (int64_t)(v % (uint64_t)n);
}

static const db_warmup *find(const db_warmup *l, size_t n, long long id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (l[i].inbox_id == id)
			return &l[i];
	return NULL;
}

/* ---- the receiving side -------------------------------------------------- */

static size_t count_ids(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		if (*s == '<')
			n++;
	return n;
}

int seq_warmup_received(db *d, cs_clock *clock, const db_inbox *in,
                        const char *role, const char *folder,
                        uint32_t uidvalidity, uint32_t uid, const cls_class *c,
                        cs_err *err)
{
	int64_t now = cs_clock_now(clock);
	db_warmup *l = NULL;
	const db_warmup *x;
	db_warmup_action a;
	size_t n = 0;
	int rc;

	if (c->message_id == NULL || c->from == NULL)
		return 0;
	memset(&a, 0, sizeof a);
	a.inbox_id = in->id;
	a.message_id = c->message_id;
	a.action = DB_WACT_READ;
	a.folder = folder;
	a.uidvalidity = uidvalidity;
	a.uid = uid;
	a.flag = rnd_below(100) < FLAG_SHARE;
	a.due_at = now;
	if ((rc = db_warmup_action_add(d, &a, now, err)) != 0)
		return rc;
	if (strcmp(role, "junk") == 0)
		cs_log_info("warmup: inbox %s: %s from %s is in %s: rescue",
		            in->name, c->message_id, c->from, folder);
	if ((rc = db_warmup_list(d, &l, &n, err)) != 0)
		return rc;
	x = find(l, n, in->id);
	/* a thread of up to MAX_THREAD messages: this one is number
	 * count_ids(references) + 1 */
	if (x && x->enabled && count_ids(c->references) + 1 < MAX_THREAD &&
	    rnd_below(100) < x->reply_rate) {
		db_warmup_item it;
		cs_buf refs = CS_BUF_INIT;
		char day[11];

		memset(&it, 0, sizeof it);
		it.inbox_id = in->id;
		it.kind = DB_WARMUP_REPLY;
		it.to_addr = c->from;
		it.subject = c->subject ? c->subject : "";
		it.in_reply_to = c->message_id;
		if (c->references && *c->references)
			cs_buf_printf(&refs, "%s ", c->references);
		cs_buf_puts(&refs, c->message_id);
		it.refs = cs_buf_str(&refs);
		it.due_at = now + 10 * 60000LL + rnd_below(110 * 60000LL);
		if ((rc = cs_tz_day(in->timezone, it.due_at, day, err)) == 0) {
			memcpy(it.local_day, day, sizeof it.local_day);
			rc = db_warmup_plan_add(d, &it, now, NULL, err);
		}
		cs_buf_free(&refs);
	}
	db_warmup_list_free(l, n);
	return rc;
}

void seq_warmup_op_free(seq_warmup_op *op)
{
	free(op->message_id);
	free(op->folder);
	memset(op, 0, sizeof *op);
}

int seq_warmup_op_done(db *d, cs_clock *clock, const seq_warmup_op *op,
                       cs_err *err)
{
	int64_t now = cs_clock_now(clock);
	bool read = op->action == DB_WACT_READ;
	int rc;

	if (op->rc != 0 && !op->missing) {
		bool last = op->attempts + 1 >= ACTION_TRIES;

		cs_log_warn("warmup: %s of %s: %s%s",
		            db_warmup_act_name(op->action), op->message_id,
		            op->err,
		            last ? " (giving up)" : " (retried later)");
		return db_warmup_action_set(
		    d, op->id, last ? DB_WACT_FAILED : DB_WACT_PLANNED,
		    now + RETRY_MS, false, now, err);
	}
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	rc = db_warmup_action_set(d, op->id, DB_WACT_DONE, -1, op->rescued, now,
	                          err);
	if (rc == 0 && read && !op->missing) {
		db_warmup_action a;

		memset(&a, 0, sizeof a);
		a.message_id = op->message_id;
		a.action = DB_WACT_ARCHIVE;
		a.folder = "INBOX";
		a.due_at = now + HOUR_MS + rnd_below(3 * HOUR_MS);
		a.inbox_id = op->inbox_id;
		rc = db_warmup_action_add(d, &a, now, err);
	}
	if (rc == 0)
		return db_commit(d, err);
	db_rollback(d);
	return rc;
}

/* ---- the network half (a worker) ----------------------------------------- */

static int op_read(imap_session *s, seq_warmup_op *op, cs_err *err)
{
	imap_folder_info info;
	uint32_t uid = 0;
	bool found = false, junk = strcmp(op->folder, "INBOX") != 0;
	int rc;

	if ((rc = imap_select(s, op->folder, &info, err)) != 0)
		return rc;
	/* the UID the watcher fetched it under, while the folder keeps its
	 * UIDVALIDITY (a retry looks again: it may have moved meanwhile);
	 * else by Message-ID */
	if (op->uid && op->attempts == 0 &&
	    info.uidvalidity == op->uidvalidity) {
		uid = op->uid;
		found = true;
	} else if ((rc = imap_uid_by_message_id(s, op->message_id, &uid, &found,
	                                        err)) != 0)
		return rc;
	if (!found && junk) {
		/* moved already (by a run that died before recording it, or
		 * by the user): read it where it is now */
		junk = false;
		if ((rc = imap_select(s, "INBOX", NULL, err)) != 0 ||
		    (rc = imap_uid_by_message_id(s, op->message_id, &uid,
		                                 &found, err)) != 0)
			return rc;
	}
	if (!found) {
		op->missing = true;
		return cs_err_set(err, CS_ENOTFOUND, "not found");
	}
	if (imap_has_gmail_labels(s)) {
		if ((rc = imap_uid_flag(s, uid, true, false, err)) != 0 ||
		    (op->flag && (rc = imap_uid_gmail_label(
		                      s, uid, "\\Important", true, err)) != 0))
			return rc;
	} else if ((rc = imap_uid_flag(s, uid, true, op->flag, err)) != 0)
		return rc;
	if (junk) {
		if ((rc = imap_uid_move(s, uid, "INBOX", err)) != 0)
			return rc;
		op->rescued = true;
	}
	return 0;
}

/* Out of INBOX into archive, or (archive NULL: Gmail) off the \Inbox label */
static int op_archive(imap_session *s, seq_warmup_op *op, const char *archive,
                      cs_err *err)
{
	uint32_t uid = 0;
	bool found = false;
	int rc;

	if ((rc = imap_select(s, "INBOX", NULL, err)) != 0 ||
	    (rc = imap_uid_by_message_id(s, op->message_id, &uid, &found,
	                                 err)) != 0)
		return rc;
	if (!found) {
		op->missing = true; /* the user moved or deleted it */
		return cs_err_set(err, CS_ENOTFOUND, "not in INBOX");
	}
	if (archive == NULL) /* Gmail */
		return imap_uid_gmail_label(s, uid, "\\Inbox", false, err);
	return imap_uid_move(s, uid, archive, err);
}

int seq_warmup_imap(const imap_server *srv, const imap_auth *auth,
                    seq_warmup_op *ops, size_t n, cs_err *err)
{
	imap_session *s = NULL;
	imap_folders f;
	char *archive = NULL;
	size_t i;
	int rc;

	memset(&f, 0, sizeof f);
	if ((rc = imap_open(srv, auth, &s, err)) != 0)
		goto fail_all;
	for (i = 0; i < n && archive == NULL && !imap_has_gmail_labels(s);
	     i++) {
		if (ops[i].action != DB_WACT_ARCHIVE)
			continue;
		if ((rc = imap_find_folders(s, &f, err)) != 0)
			goto fail_all;
		if (f.archive)
			archive = cs_xstrdup(f.archive);
		else if (f.all)
			archive = cs_xstrdup(f.all);
		else {
			cs_err e2 = CS_ERR_INIT;

			/* it may exist from an earlier run: CREATE fails */
			imap_create(s, ARCHIVE_FOLDER, &e2);
			archive = cs_xstrdup(ARCHIVE_FOLDER);
		}
	}
	for (i = 0; i < n; i++) {
		cs_err e = CS_ERR_INIT;

		ops[i].rc = ops[i].action == DB_WACT_READ
		                ? op_read(s, &ops[i], &e)
		                : op_archive(s, &ops[i], archive, &e);
		if (ops[i].rc)
			snprintf(ops[i].err, sizeof ops[i].err, "%s", e.msg);
		if (ops[i].rc == CS_ENET && !ops[i].missing) {
			/* the connection is gone: the rest wait */
			size_t k;

			for (k = i + 1; k < n; k++) {
				ops[k].rc = CS_ENET;
				snprintf(ops[k].err, sizeof ops[k].err, "%s",
				         e.msg);
			}
			break;
		}
	}
	imap_folders_free(&f);
	free(archive);
	imap_close(s);
	return 0;
fail_all:
	for (i = 0; i < n; i++) {
		ops[i].rc = rc;
		snprintf(ops[i].err, sizeof ops[i].err, "%s", err->msg);
	}
	imap_folders_free(&f);
	free(archive);
	imap_close(s);
	return rc;
}

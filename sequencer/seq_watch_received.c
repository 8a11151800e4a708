/*
 * seq_watch_received.c - copies of our own mail that one of our inboxes
 * received from another (warmup, or a campaign message to a contact who
 * is one of our inboxes, or a test send): where it landed and what the
 * receiving server wrote about it, for the doctor's "what receivers saw"
 * (doctor/dr_seen.c).
 *
 * The watcher (seq_watch.c) reads every new message of INBOX and Junk
 * with its header: on the worker, cls_received_parse takes from that
 * header the receiving side's Authentication-Results (the trust rule is
 * in classify/cls.h), our DKIM-Signature and the List-Unsubscribe
 * fields; on the loop thread, record() finds the Message-ID among the
 * messages another inbox sent and calls this.  This is evidence only: a
 * failure here is logged and the watcher goes on as before.
 */
#include "seq_int.h"

void seq_received_record(db *d, const db_inbox *in, const char *role,
                         const cls_class *c, const cls_received *rv,
                         int64_t now)
{
	db_received r = {0};
	cs_err err = CS_ERR_INIT;
	bool known = false;

	if (c->message_id == NULL || rv == NULL)
		return;
	r.receiver_inbox_id = in->id;
	r.message_id = c->message_id;
	r.folder = role;
	r.received_at = now;
	r.spf = rv->spf;
	r.dkim = rv->dkim;
	r.dmarc = rv->dmarc;
	r.dkim_domain = rv->dkim_domain;
	r.dkim_selector = rv->dkim_selector;
	r.dkim_headers = rv->dkim_headers;
	r.mailfrom_domain = rv->mailfrom_domain;
	r.list_unsub = (rv->list_unsub ? DB_LU_HEADER : 0) |
	               (rv->list_unsub_post ? DB_LU_POST : 0);
	if (db_received_add(d, &r, &known, &err) != 0)
		cs_log_warn("inbox %s: cannot record what the receiving server "
		            "wrote about %s: %s",
		            in->name, c->message_id, err.msg);
}

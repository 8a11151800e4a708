/*
 * modify.c - the only IMAP code that changes a mailbox: select a folder
 * read-write, set flags, move a message (RFC 6851 UID MOVE, else UID COPY
 * + \Deleted + UID EXPUNGE (UIDPLUS) or EXPUNGE), create a folder, add or
 * remove a Gmail label (X-GM-LABELS).  Used by warmup on the receiving side
 * only (it finds a message's UID with fetch.c's imap_uid_by_message_id);
 * the watcher never changes anything (fetch.c).
 *
 * Each call is one exchange (two or three for the MOVE fallback) and
 * fails with CS_ENET and the server's words; nothing is retried here.
 */
#define _POSIX_C_SOURCE 200809L
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "imap_session_int.h"

int imap_select(imap_session *s, const char *folder, imap_folder_info *out,
                cs_err *err)
{
	struct mailimap_selection_info *si;
	int r = mailimap_select(s->imap, folder);

	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "SELECT", err);
	si = s->imap->imap_selection_info;
	if (out) {
		memset(out, 0, sizeof *out);
		if (si) {
			out->uidvalidity = si->sel_uidvalidity;
			out->uidnext = si->sel_uidnext;
			out->exists = si->sel_exists;
		}
	}
	return 0;
}

static int store_flags(imap_session *s, uint32_t uid, bool seen, bool flagged,
                       bool deleted, cs_err *err)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_store_att_flags *att;
	struct mailimap_set *set = mailimap_set_new_single(uid);
	int r;

	if (seen)
		mailimap_flag_list_add(fl, mailimap_flag_new_seen());
	if (flagged)
		mailimap_flag_list_add(fl, mailimap_flag_new_flagged());
	if (deleted)
		mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
	att = mailimap_store_att_flags_new_add_flags_silent(fl);
	r = mailimap_uid_store(s->imap, set, att);
	mailimap_store_att_flags_free(att);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID STORE", err);
	return 0;
}

int imap_uid_flag(imap_session *s, uint32_t uid, bool seen, bool flagged,
                  cs_err *err)
{
	if (!seen && !flagged)
		return 0;
	return store_flags(s, uid, seen, flagged, false, err);
}

int imap_uid_move(imap_session *s, uint32_t uid, const char *dest, cs_err *err)
{
	struct mailimap_set *set = mailimap_set_new_single(uid);
	int r, rc;

	if (mailimap_has_extension(s->imap, "MOVE")) {
		r = mailimap_uid_move(s->imap, set, dest);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR)
			return imap_session_fail(s, r, "UID MOVE", err);
		return 0;
	}
	r = mailimap_uid_copy(s->imap, set, dest);
	if (r != MAILIMAP_NO_ERROR) {
		mailimap_set_free(set);
		return imap_session_fail(s, r, "UID COPY", err);
	}
	if ((rc = store_flags(s, uid, false, false, true, err)) != 0) {
		mailimap_set_free(set);
		return rc;
	}
	/* UIDPLUS expunges only this message; plain EXPUNGE also removes
	 * what someone else marked \Deleted in the folder, as a client
	 * would */
	if (mailimap_has_extension(s->imap, "UIDPLUS"))
		r = mailimap_uid_expunge(s->imap, set);
	else
		r = mailimap_expunge(s->imap);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "EXPUNGE", err);
	return 0;
}

int imap_create(imap_session *s, const char *folder, cs_err *err)
{
	int r = mailimap_create(s->imap, folder);

	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "CREATE", err);
	return 0;
}

bool imap_has_gmail_labels(imap_session *s)
{
	return mailimap_has_xgmlabels(s->imap) != 0;
}

int imap_uid_gmail_label(imap_session *s, uint32_t uid, const char *label,
                         bool add, cs_err *err)
{
	struct mailimap_msg_att_xgmlabels *l =
	    mailimap_msg_att_xgmlabels_new_empty();
	struct mailimap_set *set = mailimap_set_new_single(uid);
	int r;

	if (l == NULL || set == NULL)
		cs_fatal("out of memory");
	/* the list owns the copy; libetpan sends it as an atom or, for
	 * \Inbox and the like, a quoted string */
	if (mailimap_msg_att_xgmlabels_add(l, cs_xstrdup(label)) != 0)
		cs_fatal("out of memory");
	r = mailimap_uid_store_xgmlabels(s->imap, set, add ? 1 : -1, 1, l);
	mailimap_msg_att_xgmlabels_free(l);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID STORE X-GM-LABELS", err);
	return 0;
}

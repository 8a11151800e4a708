/*
 * fetch.c - reading a folder without changing it: EXAMINE (read-only
 * select), UID SEARCH for new mail, size-capped BODY.PEEK fetches, IDLE.
 *
 * Nothing here sets a flag or moves a message: EXAMINE makes the folder
 * read-only for the session, and every fetch uses BODY.PEEK, so a human's
 * unread mail stays unread.
 */
#define _POSIX_C_SOURCE 200809L
#include "imap.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "imap_session_int.h"

int imap_examine(imap_session *s, const char *folder, imap_folder_info *out,
                 cs_err *err)
{
	struct mailimap_selection_info *si;
	int r;

	memset(out, 0, sizeof *out);
	r = mailimap_examine(s->imap, folder);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "EXAMINE", err);
	si = s->imap->imap_selection_info;
	if (si) {
		out->uidvalidity = si->sel_uidvalidity;
		out->uidnext = si->sel_uidnext;
		out->exists = si->sel_exists;
	}
	return 0;
}

int imap_status(imap_session *s, const char *folder, imap_folder_info *out,
                cs_err *err)
{
	struct mailimap_status_att_list *atts =
	    mailimap_status_att_list_new_empty();
	struct mailimap_mailbox_data_status *st = NULL;
	clistiter *it;
	int r;

	memset(out, 0, sizeof *out);
	mailimap_status_att_list_add(atts, MAILIMAP_STATUS_ATT_UIDNEXT);
	mailimap_status_att_list_add(atts, MAILIMAP_STATUS_ATT_UIDVALIDITY);
	mailimap_status_att_list_add(atts, MAILIMAP_STATUS_ATT_MESSAGES);
	r = mailimap_status(s->imap, folder, atts, &st);
	mailimap_status_att_list_free(atts);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "STATUS", err);
	for (it = clist_begin(st->st_info_list); it; it = clist_next(it)) {
		struct mailimap_status_info *i = clist_content(it);

		if (i->st_att == MAILIMAP_STATUS_ATT_UIDNEXT)
			out->uidnext = i->st_value;
		else if (i->st_att == MAILIMAP_STATUS_ATT_UIDVALIDITY)
			out->uidvalidity = i->st_value;
		else if (i->st_att == MAILIMAP_STATUS_ATT_MESSAGES)
			out->exists = i->st_value;
	}
	mailimap_mailbox_data_status_free(st);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int imap_search_new(imap_session *s, uint32_t after_uid, int64_t since_ms,
                    uint32_t **uids, size_t *n, cs_err *err)
{
	struct mailimap_search_key *key;
	clist *result = NULL;
	clistiter *it;
	size_t count = 0;
	int r;

	*uids = NULL;
	*n = 0;
	key = mailimap_search_key_new_multiple_empty();
	mailimap_search_key_multiple_add(
	    key, mailimap_search_key_new_uid(
	             mailimap_set_new_interval(after_uid + 1, 0)));
	if (since_ms > 0) {
		time_t t = (time_t)(since_ms / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		mailimap_search_key_multiple_add(
		    key, mailimap_search_key_new_since(mailimap_date_new(
		             tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900)));
	}
	r = mailimap_uid_search(s->imap, NULL, key, &result);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID SEARCH", err);
	for (it = clist_begin(result); it; it = clist_next(it)) {
		uint32_t u = *(uint32_t *)clist_content(it);

		/* "n:*" also matches the highest UID when it is below n */
		if (u <= after_uid)
			continue;
		*uids = cs_xrealloc(*uids, (count + 1) * sizeof **uids);
		(*uids)[count++] = u;
	}
	mailimap_search_result_free(result);
	if (count > 1)
		qsort(*uids, count, sizeof **uids, cmp_u32);
	*n = count;
	return 0;
}

int imap_fetch_heads(imap_session *s, const uint32_t *uids, size_t n,
                     size_t cap, imap_fetched **out, size_t *nout, cs_err *err)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	struct mailimap_fetch_type *ft;
	clist *result = NULL;
	clistiter *it;
	size_t i, count = 0;
	int r;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < n; i++)
		mailimap_set_add_single(set, uids[i]);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section_partial(
	            mailimap_section_new(NULL), 0, (uint32_t)cap));
	r = mailimap_uid_fetch(s->imap, set, ft, &result);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID FETCH", err);
	*out = cs_xcalloc(clist_count(result) + 1, sizeof **out);
	for (it = clist_begin(result); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		imap_fetched f = {0, CS_BUF_INIT};
		bool have_body = false;
		clistiter *a;

		for (a = clist_begin(ma->att_list); a; a = clist_next(a)) {
			struct mailimap_msg_att_item *item = clist_content(a);

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			if (item->att_data.att_static->att_type ==
			    MAILIMAP_MSG_ATT_UID) {
				f.uid =
				    item->att_data.att_static->att_data.att_uid;
			} else if (item->att_data.att_static->att_type ==
			           MAILIMAP_MSG_ATT_BODY_SECTION) {
				struct mailimap_msg_att_body_section *bs =
				    item->att_data.att_static->att_data
				        .att_body_section;

				if (bs->sec_body_part)
					cs_buf_append(&f.raw, bs->sec_body_part,
					              bs->sec_length < cap
					                  ? bs->sec_length
					                  : cap);
				have_body = true;
			}
		}
		if (f.uid && have_body)
			(*out)[count++] = f;
		else
			cs_buf_free(&f.raw);
	}
	mailimap_fetch_list_free(result);
	*nout = count;
	return 0;
}

void imap_fetched_free(imap_fetched *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cs_buf_free(&f[i].raw);
	free(f);
}

bool imap_has_idle(imap_session *s)
{
	return mailimap_has_idle(s->imap) != 0;
}

int imap_idle_start(imap_session *s, int *fd, cs_err *err)
{
	int r = mailimap_idle(s->imap);

	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "IDLE", err);
	/* bytes already buffered above the socket do not wake poll(2) */
	if (s->imap->imap_stream->read_buffer_len > 0 ||
	    net_pending(s->imap->imap_stream))
		*fd = -1;
	else
		*fd = mailimap_idle_get_fd(s->imap);
	return 0;
}

int imap_idle_done(imap_session *s, cs_err *err)
{
	int r = mailimap_idle_done(s->imap);

	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "IDLE DONE", err);
	return 0;
}

int imap_idle_wait(imap_session *s, int timeout_ms, cs_err *err)
{
	struct pollfd p;
	int r, got = 0;

	r = mailimap_idle(s->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "IDLE", err);
	/* bytes already buffered above the socket do not wake poll(2) */
	if (s->imap->imap_stream->read_buffer_len > 0 ||
	    net_pending(s->imap->imap_stream)) {
		got = 1;
	} else {
		p.fd = mailimap_idle_get_fd(s->imap);
		p.events = POLLIN;
		p.revents = 0;
		do {
			r = poll(&p, 1, timeout_ms);
		} while (r < 0 && errno == EINTR);
		got = r > 0;
	}
	r = mailimap_idle_done(s->imap);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "IDLE DONE", err);
	return got;
}

/*
 * fetch.c - reading a folder without changing it: EXAMINE (read-only
 * select), STATUS, UID SEARCH for new mail and for a Message-ID (the one
 * search by Message-ID, also used by warmup after a read-write SELECT),
 * size-capped BODY.PEEK fetches, IDLE.
 *
 * Nothing here sets a flag or moves a message: EXAMINE makes the folder
 * read-only for the session, and every fetch uses BODY.PEEK, so a human's
 * unread mail stays unread.
 */
#define _POSIX_C_SOURCE 200809L
#include "imap.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "imap_session_int.h"

int imap_examine(imap_session *s, const char *folder, imap_folder_info *out,
                 cs_err *err)
{
	struct mailimap_selection_info *si;
	int r;

	memset(out, 0, sizeof *out);
	if (mailimap_has_condstore(s->imap))
		r = mailimap_examine_condstore(s->imap, folder,
		                               &out->highestmodseq);
	else
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
	if (mailimap_has_condstore(s->imap))
		mailimap_status_att_list_add(atts,
		                             MAILIMAP_STATUS_ATT_HIGHESTMODSEQ);
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
		else if (i->st_ext_data &&
		         i->st_ext_data->ext_extension ==
		             &mailimap_extension_condstore &&
		         i->st_ext_data->ext_type ==
		             MAILIMAP_CONDSTORE_TYPE_STATUS_INFO)
			out->highestmodseq =
			    ((struct mailimap_condstore_status_info *)
			         i->st_ext_data->ext_data)
			        ->cs_highestmodseq_value;
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

int imap_uid_by_message_id(imap_session *s, const char *message_id,
                           uint32_t *uid, bool *found, cs_err *err)
{
	struct mailimap_search_key *key;
	clist *result = NULL;
	clistiter *it;
	int r;

	*found = false;
	*uid = 0;
	key = mailimap_search_key_new_header(cs_xstrdup("Message-ID"),
	                                     cs_xstrdup(message_id));
	r = mailimap_uid_search(s->imap, NULL, key, &result);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID SEARCH HEADER", err);
	/* the newest copy, should there be several */
	for (it = clist_begin(result); it; it = clist_next(it)) {
		uint32_t u = *(uint32_t *)clist_content(it);

		if (u > *uid)
			*uid = u;
		*found = true;
	}
	mailimap_search_result_free(result);
	return 0;
}

int imap_find_message_id(imap_session *s, const char *folder,
                         const char *message_id, bool *found, cs_err *err)
{
	imap_folder_info info;
	uint32_t uid;
	int rc;

	*found = false;
	if ((rc = imap_examine(s, folder, &info, err)) != 0)
		return rc;
	return imap_uid_by_message_id(s, message_id, &uid, found, err);
}

/* ---- messages larger than the cap: only the parts that matter --------- */

#define PART_CAP  65536u /* bytes of one wanted part */
#define MAX_DEPTH 12
#define MAX_PARTS 64

typedef struct walk {
	imap_session *s;
	uint32_t uid;
	uint32_t path[MAX_DEPTH];
	int parts; /* parts visited, capped */
	cs_buf *out;
	size_t cap; /* total bytes */
	cs_err *err;
} walk;

/* The section path[0..depth) with the given kind ('M' MIME header, 'H'
 * embedded message header, 'B' body). */
static struct mailimap_section *section_at(const uint32_t *path, int depth,
                                           char kind)
{
	clist *ids = clist_new();
	int i;

	for (i = 0; i < depth; i++) {
		uint32_t *v = cs_xmalloc(sizeof *v);

		*v = path[i];
		clist_append(ids, v);
	}
	if (kind == 'M')
		return mailimap_section_new_part_mime(
		    mailimap_section_part_new(ids));
	if (kind == 'H')
		return mailimap_section_new_part_header(
		    mailimap_section_part_new(ids));
	return mailimap_section_new_part(mailimap_section_part_new(ids));
}

/* FETCH one section of w->uid with BODY.PEEK, at most cap bytes of it,
 * appended to w->out (within the total cap). */
static int fetch_section(walk *w, struct mailimap_section *sec, uint32_t cap)
{
	struct mailimap_set *set = mailimap_set_new_single(w->uid);
	struct mailimap_fetch_type *ft =
	    mailimap_fetch_type_new_fetch_att_list_empty();
	clist *result = NULL;
	clistiter *it, *a;
	int r;

	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section_partial(sec, 0, cap));
	r = mailimap_uid_fetch(w->s->imap, set, ft, &result);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(w->s, r, "UID FETCH (part)", w->err);
	for (it = clist_begin(result); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);

		for (a = clist_begin(ma->att_list); a; a = clist_next(a)) {
			struct mailimap_msg_att_item *item = clist_content(a);
			struct mailimap_msg_att_body_section *bs;
			size_t n, room;

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC ||
			    item->att_data.att_static->att_type !=
			        MAILIMAP_MSG_ATT_BODY_SECTION)
				continue;
			bs = item->att_data.att_static->att_data
			         .att_body_section;
			room = w->out->len < w->cap ? w->cap - w->out->len : 0;
			n = bs->sec_length < room ? bs->sec_length : room;
			if (bs->sec_body_part && n)
				cs_buf_append(w->out, bs->sec_body_part, n);
		}
	}
	mailimap_fetch_list_free(result);
	return 0;
}

static const char *boundary_of(struct mailimap_body_type_mpart *mp)
{
	clistiter *it;

	if (mp->bd_ext_mpart == NULL || mp->bd_ext_mpart->bd_parameter == NULL)
		return NULL;
	for (it = clist_begin(mp->bd_ext_mpart->bd_parameter->pa_list); it;
	     it = clist_next(it)) {
		struct mailimap_single_body_fld_param *p = clist_content(it);

		if (strcasecmp(p->pa_name, "boundary") == 0)
			return p->pa_value;
	}
	return NULL;
}

/* Body of a leaf part at path[0..depth): text parts, reports and the
 * header of a returned message; never an attachment. */
static int leaf(walk *w, struct mailimap_body_type_1part *p, int depth)
{
	switch (p->bd_type) {
	case MAILIMAP_BODY_TYPE_1PART_TEXT:
		return fetch_section(w, section_at(w->path, depth, 'B'),
		                     PART_CAP);
	case MAILIMAP_BODY_TYPE_1PART_MSG: /* message/rfc822: its header */
		return fetch_section(w, section_at(w->path, depth, 'H'),
		                     PART_CAP);
	case MAILIMAP_BODY_TYPE_1PART_BASIC:
		if (p->bd_data.bd_type_basic &&
		    p->bd_data.bd_type_basic->bd_media_basic->med_type ==
		        MAILIMAP_MEDIA_BASIC_MESSAGE)
			return fetch_section(w, section_at(w->path, depth, 'B'),
			                     PART_CAP);
		return 0;
	default: return 0;
	}
}

/* Rebuild the MIME skeleton of a multipart at path[0..depth) with its
 * own boundary, each child's MIME header, and the wanted bodies. */
static int multipart(walk *w, struct mailimap_body_type_mpart *mp, int depth)
{
	const char *boundary = boundary_of(mp);
	clistiter *it;
	uint32_t i = 1;
	int rc = 0;

	if (boundary == NULL || depth >= MAX_DEPTH)
		return 0;
	for (it = clist_begin(mp->bd_list); it && rc == 0;
	     it = clist_next(it)) {
		struct mailimap_body *child = clist_content(it);

		if (++w->parts > MAX_PARTS || w->out->len >= w->cap)
			break;
		w->path[depth] = i++;
		cs_buf_printf(w->out, "\r\n--%s\r\n", boundary);
		rc = fetch_section(w, section_at(w->path, depth + 1, 'M'),
		                   16384);
		if (rc)
			break;
		if (child->bd_type == MAILIMAP_BODY_MPART)
			rc = multipart(w, child->bd_data.bd_body_mpart,
			               depth + 1);
		else
			rc = leaf(w, child->bd_data.bd_body_1part, depth + 1);
	}
	if (rc == 0)
		cs_buf_printf(w->out, "\r\n--%s--\r\n", boundary);
	return rc;
}

/* A large message as its header plus only the parts classification needs
 * (after its BODYSTRUCTURE), so a 50 MB attachment is never transferred. */
static int fetch_structured(imap_session *s, uint32_t uid,
                            struct mailimap_body *body, size_t cap, cs_buf *out,
                            cs_err *err)
{
	walk w;
	int rc;

	memset(&w, 0, sizeof w);
	w.s = s;
	w.uid = uid;
	w.out = out;
	w.cap = cap;
	w.err = err;
	if ((rc = fetch_section(&w, mailimap_section_new_header(), 65536)) != 0)
		return rc;
	if (body->bd_type == MAILIMAP_BODY_MPART)
		return multipart(&w, body->bd_data.bd_body_mpart, 0);
	/* a single part: the start of its text, unless it is an attachment */
	if (body->bd_data.bd_body_1part->bd_type ==
	    MAILIMAP_BODY_TYPE_1PART_BASIC)
		return 0;
	return fetch_section(&w, mailimap_section_new_text(), PART_CAP);
}

/* UID, RFC822.SIZE and BODYSTRUCTURE of every uid. */
typedef struct sized {
	uint32_t uid, size;
	struct mailimap_body *body; /* borrowed from the fetch result */
} sized;

int imap_fetch_heads(imap_session *s, const uint32_t *uids, size_t n,
                     size_t cap, imap_fetched **out, size_t *nout, cs_err *err)
{
	struct mailimap_set *set = mailimap_set_new_empty(), *small;
	struct mailimap_fetch_type *ft;
	clist *sizes = NULL, *result = NULL;
	clistiter *it;
	size_t i, count = 0, nsmall = 0, k = 0;
	sized *info;
	int r, rc = 0;

	*out = NULL;
	*nout = 0;
	for (i = 0; i < n; i++)
		mailimap_set_add_single(set, uids[i]);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_rfc822_size());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_bodystructure());
	r = mailimap_uid_fetch(s->imap, set, ft, &sizes);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID FETCH", err);
	info = cs_xcalloc(clist_count(sizes) + 1, sizeof *info);
	for (it = clist_begin(sizes); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		clistiter *a;

		for (a = clist_begin(ma->att_list); a; a = clist_next(a)) {
			struct mailimap_msg_att_item *item = clist_content(a);
			struct mailimap_msg_att_static *st;

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			st = item->att_data.att_static;
			if (st->att_type == MAILIMAP_MSG_ATT_UID)
				info[k].uid = st->att_data.att_uid;
			else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
				info[k].size = st->att_data.att_rfc822_size;
			else if (st->att_type == MAILIMAP_MSG_ATT_BODYSTRUCTURE)
				info[k].body = st->att_data.att_bodystructure;
		}
		if (info[k].uid)
			k++;
	}
	*out = cs_xcalloc(k + 1, sizeof **out);
	/* small messages: whole, in one FETCH */
	small = mailimap_set_new_empty();
	for (i = 0; i < k; i++)
		if (info[i].size <= cap || info[i].body == NULL) {
			mailimap_set_add_single(small, info[i].uid);
			nsmall++;
		}
	if (nsmall) {
		ft = mailimap_fetch_type_new_fetch_att_list_empty();
		mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_uid());
		mailimap_fetch_type_new_fetch_att_list_add(
		    ft, mailimap_fetch_att_new_body_peek_section_partial(
		            mailimap_section_new(NULL), 0, (uint32_t)cap));
		r = mailimap_uid_fetch(s->imap, small, ft, &result);
		mailimap_fetch_type_free(ft);
		if (r != MAILIMAP_NO_ERROR)
			rc = imap_session_fail(s, r, "UID FETCH", err);
	}
	mailimap_set_free(small);
	for (it = result ? clist_begin(result) : NULL; it && rc == 0;
	     it = clist_next(it)) {
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
	if (result)
		mailimap_fetch_list_free(result);
	/* large messages: header and the parts that matter */
	for (i = 0; i < k && rc == 0; i++) {
		imap_fetched f = {info[i].uid, CS_BUF_INIT};

		if (info[i].size <= cap || info[i].body == NULL)
			continue;
		rc = fetch_structured(s, info[i].uid, info[i].body, cap, &f.raw,
		                      err);
		if (rc == 0)
			(*out)[count++] = f;
		else
			cs_buf_free(&f.raw);
	}
	mailimap_fetch_list_free(sizes);
	free(info);
	if (rc) {
		imap_fetched_free(*out, count);
		*out = NULL;
		return rc;
	}
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

/* ---- header fields only (the Sent sync) ------------------------------- */

/* An INTERNALDATE ("17-Jul-1996 02:44:25 -0700") as ms since the epoch. */
static int64_t internal_ms(const struct mailimap_date_time *t)
{
	int z = t->dt_zone < 0 ? -t->dt_zone : t->dt_zone;
	int64_t off = (int64_t)(z / 100) * 3600 + (int64_t)(z % 100) * 60;
	int64_t s;

	if (t->dt_month < 1 || t->dt_month > 12)
		return 0;
	s = cs_days_from_civil(t->dt_year, t->dt_month, t->dt_day) * 86400 +
	    (int64_t)t->dt_hour * 3600 + (int64_t)t->dt_min * 60 + t->dt_sec;
	s -= t->dt_zone < 0 ? -off : off;
	return s * 1000;
}

int imap_fetch_header_fields(imap_session *s, const uint32_t *uids, size_t n,
                             const char *const *fields, size_t cap,
                             imap_header **out, size_t *nout, cs_err *err)
{
	struct mailimap_set *set;
	struct mailimap_fetch_type *ft;
	clist *names = clist_new(), *result = NULL;
	clistiter *it;
	size_t i, count = 0;
	int r;

	*out = NULL;
	*nout = 0;
	if (n == 0) {
		clist_free(names);
		return 0;
	}
	set = mailimap_set_new_empty();
	for (i = 0; i < n; i++)
		mailimap_set_add_single(set, uids[i]);
	for (i = 0; fields[i]; i++)
		clist_append(names, cs_xstrdup(fields[i]));
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_internaldate());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section(
	            mailimap_section_new_header_fields(
	                mailimap_header_list_new(names))));
	r = mailimap_uid_fetch(s->imap, set, ft, &result);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "UID FETCH (header fields)",
		                         err);
	*out = cs_xcalloc(clist_count(result) + 1, sizeof **out);
	for (it = clist_begin(result); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		imap_header h;
		clistiter *a;

		memset(&h, 0, sizeof h);
		for (a = clist_begin(ma->att_list); a; a = clist_next(a)) {
			struct mailimap_msg_att_item *item = clist_content(a);
			struct mailimap_msg_att_static *st;

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			st = item->att_data.att_static;
			if (st->att_type == MAILIMAP_MSG_ATT_UID)
				h.uid = st->att_data.att_uid;
			else if (st->att_type ==
			             MAILIMAP_MSG_ATT_INTERNALDATE &&
			         st->att_data.att_internal_date)
				h.internal_ms =
				    internal_ms(st->att_data.att_internal_date);
			else if (st->att_type ==
			             MAILIMAP_MSG_ATT_BODY_SECTION &&
			         st->att_data.att_body_section->sec_body_part)
				cs_buf_append(
				    &h.raw,
				    st->att_data.att_body_section
				        ->sec_body_part,
				    st->att_data.att_body_section->sec_length <
				            cap
				        ? st->att_data.att_body_section
				              ->sec_length
				        : cap);
		}
		if (h.uid)
			(*out)[count++] = h;
		else
			cs_buf_free(&h.raw);
	}
	mailimap_fetch_list_free(result);
	*nout = count;
	return 0;
}

void imap_headers_free(imap_header *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cs_buf_free(&h[i].raw);
	free(h);
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

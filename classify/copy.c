/*
 * copy.c - the addresses a message was sent to, read from its header: the
 * watcher's pass over Sent counts what a mailbox sent outside coldseq
 * against the provider's limits (issue 21), and needs each copy's
 * Message-ID and every To, Cc and Bcc addr-spec (groups included).
 * RFC 5322 through libetpan's header parser, like the rest of the module.
 */
#define _POSIX_C_SOURCE 200809L
#include "cls_int.h"

#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#define ADDR_MAX 320 /* bytes kept of one address */
#define MID_MAX  500 /* bytes kept of a Message-ID */

static void add_rcpt(cls_copy *c, const char *addr)
{
	cs_buf b = CS_BUF_INIT;

	if (addr == NULL || c->nrcpts >= CLS_MAX_RCPTS)
		return;
	while (*addr == ' ' || *addr == '\t')
		addr++;
	if (*addr == '\0')
		return;
	cs_utf8_clean(addr, ADDR_MAX, &b);
	c->rcpts = cs_xrealloc(c->rcpts, (c->nrcpts + 1) * sizeof *c->rcpts);
	c->rcpts[c->nrcpts++] = cs_buf_detach(&b, NULL);
}

static void add_list(cls_copy *c, const struct mailimf_address_list *al)
{
	clistiter *it, *jt;

	if (al == NULL)
		return;
	for (it = clist_begin(al->ad_list); it; it = clist_next(it)) {
		const struct mailimf_address *a = clist_content(it);

		if (a->ad_type == MAILIMF_ADDRESS_MAILBOX) {
			if (a->ad_data.ad_mailbox)
				add_rcpt(c,
				         a->ad_data.ad_mailbox->mb_addr_spec);
			continue;
		}
		if (a->ad_data.ad_group == NULL ||
		    a->ad_data.ad_group->grp_mb_list == NULL)
			continue;
		for (jt =
		         clist_begin(a->ad_data.ad_group->grp_mb_list->mb_list);
		     jt; jt = clist_next(jt)) {
			const struct mailimf_mailbox *mb = clist_content(jt);

			add_rcpt(c, mb->mb_addr_spec);
		}
	}
}

void cls_copy_parse(const char *raw, size_t len, cls_copy *out)
{
	struct mailimf_fields *f = NULL;
	size_t idx = 0;
	clistiter *it;

	memset(out, 0, sizeof *out);
	if (raw == NULL || len == 0)
		return;
	if (len > CLS_MAX_SCAN)
		len = CLS_MAX_SCAN;
	if (mailimf_fields_parse(raw, len, &idx, &f) != MAILIMF_NO_ERROR ||
	    f == NULL)
		return;
	for (it = clist_begin(f->fld_list); it; it = clist_next(it)) {
		const struct mailimf_field *fl = clist_content(it);

		switch (fl->fld_type) {
		case MAILIMF_FIELD_MESSAGE_ID:
			if (out->message_id == NULL &&
			    fl->fld_data.fld_message_id->mid_value) {
				cs_buf b = CS_BUF_INIT, id = CS_BUF_INIT;

				cs_buf_printf(
				    &b, "<%s>",
				    fl->fld_data.fld_message_id->mid_value);
				cs_utf8_clean(cs_buf_str(&b), MID_MAX, &id);
				cs_buf_free(&b);
				out->message_id = cs_buf_detach(&id, NULL);
			}
			break;
		case MAILIMF_FIELD_TO:
			add_list(out, fl->fld_data.fld_to->to_addr_list);
			break;
		case MAILIMF_FIELD_CC:
			add_list(out, fl->fld_data.fld_cc->cc_addr_list);
			break;
		case MAILIMF_FIELD_BCC:
			add_list(out, fl->fld_data.fld_bcc->bcc_addr_list);
			break;
		default: break;
		}
	}
	mailimf_fields_free(f);
}

void cls_copy_free(cls_copy *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nrcpts; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	free(c->message_id);
	memset(c, 0, sizeof *c);
}

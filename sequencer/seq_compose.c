/*
 * seq_compose.c - one campaign step for one contact: the template rendered
 * with the contact's and the sender's fields and the unsubscribe URL, then
 * the message built (threading headers, List-Unsubscribe).
 *
 * `template preview` and the scheduler both come here, so a preview is
 * what would be sent (Message-ID and Date aside).
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "templates/tmpl.h"

typedef struct fields {
	tmpl_field *v;
	size_t n;
	cJSON *custom;
} fields;

/* The names seq_compose gives the sender fields below (keep in step). */
const char *const seq_sender_fields[] = {"first_name", "last_name", "name",
                                         "email",      "signature", NULL};

static void add_field(fields *f, const char *name, const char *value)
{
	f->v = cs_xrealloc(f->v, (f->n + 1) * sizeof *f->v);
	f->v[f->n].name = name;
	f->v[f->n].value = value;
	f->n++;
}

static void contact_fields(const db_contact *c, fields *f)
{
	const cJSON *it;

	add_field(f, "email", c->email);
	add_field(f, "first_name", c->first_name);
	add_field(f, "last_name", c->last_name);
	add_field(f, "company", c->company);
	add_field(f, "title", c->title);
	add_field(f, "website", c->website);
	add_field(f, "timezone", c->timezone);
	f->custom = c->custom ? cJSON_Parse(c->custom) : NULL;
	cJSON_ArrayForEach(it, f->custom)
	{
		if (cJSON_IsString(it))
			add_field(f, it->string, it->valuestring);
	}
}

/* The unsubscribe URL (https from unsubscribe.url_template, else the
 * mailto) and the mailto for List-Unsubscribe. */
static int unsub_urls(db *d, cs_vault *v, const char *contact,
                      const char *campaign, const char *from_addr, cs_buf *url,
                      cs_buf *mailto, cs_err *err)
{
	cs_buf utmpl = CS_BUF_INIT;
	char token[23];
	bool set = false;
	int rc;

	if ((rc = seq_unsub_token(d, v, contact, campaign, token, err)) != 0 ||
	    (rc = db_config_get(d, "unsubscribe.url_template", &utmpl, &set,
	                        err)) != 0)
		goto out;
	cs_buf_printf(mailto, "mailto:%s?subject=unsubscribe%%20%s", from_addr,
	              token);
	if (set && utmpl.len && strstr(utmpl.data, "{token}")) {
		const char *p = strstr(utmpl.data, "{token}");

		cs_buf_append(url, utmpl.data, (size_t)(p - utmpl.data));
		cs_buf_puts(url, token);
		cs_buf_puts(url, p + 7);
	}
out:
	cs_buf_free(&utmpl);
	return rc;
}

int seq_compose(db *d, cs_vault *v, const seq_compose_in *ci, cs_buf *raw,
                char **subject, cs_err *err)
{
	const db_inbox *in = ci->inbox;
	const db_contact *c = ci->contact;
	fields cf = {NULL, 0, NULL}, sf = {NULL, 0, NULL};
	cs_buf url = CS_BUF_INIT, mailto = CS_BUF_INIT, subj = CS_BUF_INIT,
	       to_name = CS_BUF_INIT;
	char *first = NULL, *last = NULL, *msgid = NULL;
	tmpl *tp = NULL;
	tmpl_out out = TMPL_OUT_INIT;
	tmpl_vars tv;
	smtp_msg_spec m;
	cs_civil civ;
	int rc;

	*subject = NULL;
	if ((rc = tmpl_parse(ci->template_name, ci->template_source,
	                     strlen(ci->template_source), &tp, err)) != 0)
		goto out;
	if ((rc = unsub_urls(d, v, c->email, ci->campaign, in->email, &url,
	                     &mailto, err)) != 0)
		goto out;
	if (in->display_name) {
		const char *sp = strchr(in->display_name, ' ');

		first = sp ? cs_xstrndup(in->display_name,
		                         (size_t)(sp - in->display_name))
		           : cs_xstrdup(in->display_name);
		last = sp ? cs_xstrdup(sp + 1) : NULL;
	}
	contact_fields(c, &cf);
	add_field(&sf, "first_name", first);
	add_field(&sf, "last_name", last);
	add_field(&sf, "name", in->display_name);
	add_field(&sf, "email", in->email);
	/* no signature is an empty one, not a missing field */
	add_field(&sf, "signature", in->signature ? in->signature : "");
	memset(&tv, 0, sizeof tv);
	tv.fields = cf.v;
	tv.nfields = cf.n;
	tv.sender = sf.v;
	tv.nsender = sf.n;
	tv.unsubscribe_url = url.len ? url.data : mailto.data;
	tv.timezone = ci->contact_tz;
	tv.now_ms = ci->now;
	tv.seed = c->email;
	tv.step = ci->step;
	if ((rc = tmpl_render(tp, &tv, &out, err)) != 0)
		goto out;
	if (tmpl_has_subject(tp))
		cs_buf_append(&subj, out.subject.data, out.subject.len);
	else {
		/* a follow-up in the thread: "Re: " the thread's subject */
		const char *ts = ci->thread_subject ? ci->thread_subject : "";

		cs_buf_printf(&subj, "Re: %s", ts);
	}
	*subject = cs_xstrdup(cs_buf_str(&subj));
	if (raw == NULL)
		goto out;
	if (c->first_name)
		cs_buf_puts(&to_name, c->first_name);
	if (c->last_name) {
		if (to_name.len)
			cs_buf_putc(&to_name, ' ');
		cs_buf_puts(&to_name, c->last_name);
	}
	memset(&m, 0, sizeof m);
	m.from_name = in->display_name;
	m.from_addr = in->email;
	m.to_name = to_name.len ? to_name.data : NULL;
	m.to_addr = c->email;
	m.subject = *subject;
	m.text = cs_buf_str(&out.text);
	m.html = tmpl_has_html(tp) ? cs_buf_str(&out.html) : NULL;
	m.date_ms = ci->now;
	if (cs_tz_civil(in->timezone ? in->timezone : "UTC", ci->now, &civ,
	                NULL) == 0)
		m.tz_offset_min = civ.offset_min;
	m.message_id = ci->message_id;
	m.in_reply_to = ci->in_reply_to;
	m.references = ci->references;
	m.list_unsubscribe_mailto = mailto.data;
	m.list_unsubscribe_url = url.len ? url.data : NULL;
	rc = smtp_build_message(&m, raw, &msgid, err);
	free(msgid);
out:
	if (rc) {
		free(*subject);
		*subject = NULL;
	}
	tmpl_free(tp);
	tmpl_out_free(&out);
	cJSON_Delete(cf.custom);
	free(cf.v);
	free(sf.v);
	free(first);
	free(last);
	cs_buf_free(&url);
	cs_buf_free(&mailto);
	cs_buf_free(&subj);
	cs_buf_free(&to_name);
	return rc;
}

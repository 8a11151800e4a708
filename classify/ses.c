/*
 * ses.c - Amazon SES bounce and complaint notifications sent as mail.
 *
 * SES reports bounces and complaints as JSON, and a mailbox subscribed to
 * its SNS topic receives them as plain-text mail whose body is the SNS
 * envelope ({"Type": "Notification", "Message": "<the SES JSON as a
 * string>", ...}); some setups forward the SES JSON itself.  No RFC 3464
 * part, no NDR wording: cls_ses_detect() reads the JSON.
 *
 *   notificationType (or eventType) "Bounce": bounce.bouncedRecipients[]
 *     with emailAddress, status, diagnosticCode (the remote's reply, as a
 *     DSN's Diagnostic-Code) and bounce.bounceSubType, a category of
 *     SES's own (NoEmail, MailboxFull, ...);
 *   "Complaint": complaint.complainedRecipients[].emailAddress;
 *   "Delivery": a success notice, `other`.
 *
 * Each bounced recipient's reason is decided in reason.c like a DSN
 * recipient's.  The Message-ID of the original is mail.commonHeaders.
 * messageId.
 */
#include "cls_int.h"

#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

static const char *str_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* SES's bounceSubType as a reason, where it names one. */
static const char *subtype_reason(const char *st)
{
	static const struct {
		const char *sub, *reason;
	} map[] = {
	    {"NoEmail", "userunknown"},
	    {"MailboxFull", "mailboxfull"},
	    {"MessageTooLarge", "mesgtoobig"},
	    {"ContentRejected", "contenterror"},
	    {"AttachmentRejected", "contenterror"},
	    {NULL, NULL},
	};
	int i;

	for (i = 0; st && map[i].sub; i++)
		if (strcmp(st, map[i].sub) == 0)
			return map[i].reason;
	return NULL;
}

static void add_bounced(const cJSON *bounce, cls_class *c)
{
	const cJSON *list =
	    cJSON_GetObjectItemCaseSensitive(bounce, "bouncedRecipients");
	const cJSON *it;
	cs_buf a = CS_BUF_INIT;
	cls_rwhy why;
	const char *type = str_of(bounce, "bounceType");

	memset(&why, 0, sizeof why);
	why.reason = subtype_reason(str_of(bounce, "bounceSubType"));
	cJSON_ArrayForEach(it, list)
	{
		const char *addr = str_of(it, "emailAddress");
		const char *st = str_of(it, "status");
		const char *diag = str_of(it, "diagnosticCode");
		cls_rcpt *r;

		if (addr == NULL || !cls_addr_clean(addr, strlen(addr), &a))
			continue;
		r = cls_rcpt_add(c, a.data, diag);
		if (r == NULL)
			continue;
		if (st)
			(void)cls_status_find(st, strlen(st), r->status);
		/* a Transient bounce is temporary whatever its status */
		if (type && strcmp(type, "Transient") == 0 &&
		    r->status[0] == '5')
			r->status[0] = '4';
		why.remote = diag && strncasecmp(diag, "x-", 2) != 0;
		cls_reason_decide(r, NULL, &why);
	}
	cs_buf_free(&a);
}

static void add_complained(const cJSON *complaint, cls_class *c)
{
	const cJSON *list =
	    cJSON_GetObjectItemCaseSensitive(complaint, "complainedRecipients");
	const cJSON *it;
	cs_buf a = CS_BUF_INIT;

	cJSON_ArrayForEach(it, list)
	{
		const char *addr = str_of(it, "emailAddress");
		cls_rcpt *r;

		if (addr && cls_addr_clean(addr, strlen(addr), &a) &&
		    (r = cls_rcpt_add(c, a.data, NULL)) != NULL)
			r->reason = "feedback";
	}
	cs_buf_free(&a);
}

/* The SES object in a parsed body: the body itself, or the JSON string
 * in the SNS envelope's "Message" (parsed into *inner, which the caller
 * frees). */
static const cJSON *ses_object(const cJSON *top, cJSON **inner)
{
	const char *msg;

	*inner = NULL;
	if (str_of(top, "notificationType") || str_of(top, "eventType"))
		return top;
	msg = str_of(top, "Message");
	if (msg == NULL)
		return NULL;
	*inner = cJSON_Parse(msg);
	if (*inner &&
	    (str_of(*inner, "notificationType") || str_of(*inner, "eventType")))
		return *inner;
	return NULL;
}

bool cls_ses_detect(const cls_msg *m, cls_class *c)
{
	const char *t = cs_buf_str(&m->text), *type;
	size_t n = m->text.len, i = 0;
	cJSON *top, *inner = NULL;
	const cJSON *ses, *mail, *hdrs;
	bool hit = false;

	while (i < n &&
	       (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n'))
		i++;
	/* cheap tests first: a JSON object that names a notification */
	if (i >= n || t[i] != '{' ||
	    (cls_find(t + i, n - i, "notificationType") == NULL &&
	     cls_find(t + i, n - i, "eventType") == NULL))
		return false;
	top = cJSON_ParseWithLength(t + i, n - i);
	if (top == NULL)
		return false;
	ses = ses_object(top, &inner);
	type = ses ? str_of(ses, "notificationType") : NULL;
	if (ses && type == NULL)
		type = str_of(ses, "eventType");
	if (type && strcmp(type, "Bounce") == 0) {
		add_bounced(cJSON_GetObjectItemCaseSensitive(ses, "bounce"), c);
		c->kind = CLS_BOUNCE;
		hit = true;
	} else if (type && strcmp(type, "Complaint") == 0) {
		add_complained(
		    cJSON_GetObjectItemCaseSensitive(ses, "complaint"), c);
		c->kind = CLS_COMPLAINT;
		hit = true;
	} else if (type && strcmp(type, "Delivery") == 0) {
		c->kind = CLS_OTHER; /* delivered: never a stop */
		hit = true;
	}
	if (hit && c->kind != CLS_OTHER) {
		const char *id;

		mail = cJSON_GetObjectItemCaseSensitive(ses, "mail");
		hdrs = cJSON_GetObjectItemCaseSensitive(mail, "commonHeaders");
		id = str_of(hdrs, "messageId");
		if (id && c->orig_message_id == NULL)
			c->orig_message_id = cs_xstrdup(id);
	}
	cJSON_Delete(inner);
	cJSON_Delete(top);
	return hit;
}

/*
 * provider.c - the one table of mailbox providers (generic, Google,
 * Microsoft) and the questions asked of it.
 *
 * Everything coldseq assumes about a provider is a column here: server
 * presets, the sending limits the provider enforces (rolling windows, as
 * it counts them), whether it keeps its own
 * Sent copy, Sent/Junk folder names for servers without SPECIAL-USE,
 * OAuth2 endpoints and scope, the MX host names and address domains that
 * say where a recipient's mail is hosted.  It sits in core/ so that imap/
 * (folder names), db/ (config defaults), sequencer/ and cli/ all read the
 * same rows.  Pure data and lookups: no I/O, no allocation.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- limits ------------------------------------------------------------
 *
 * The kinds, in cs_limit_id order.  Published figures (2026):
 *  - Google Workspace: 2,000 messages per rolling 24 hours (500 on a
 *    trial account), 10,000 recipients, 3,000 external recipients, 2,000
 *    unique external recipients (500 on trial); 100 recipients per
 *    message over SMTP.
 *  - Gmail (consumer addresses): 500 messages and 500 recipients per
 *    rolling 24 hours; 100 recipients per message.
 *  - Microsoft 365 / Exchange Online: 30 messages a minute per mailbox
 *    over SMTP submission, 10,000 recipients per mailbox per 24 hours, and
 *    a tenant-wide external recipient limit (cs_limit_tenant_external).
 * coldseq sends one recipient per message (db_message.recipient is one
 * address), so recipients_per_message is a fact to check
 * (db_limits_check refuses a message naming more), never a pace. */
static const cs_limit_kind kinds[CS_LIM_COUNT] = {
    {CS_LIM_MESSAGES_24H, "messages_24h", CS_COUNT_MESSAGES, 86400000,
     CS_SCOPE_MAILBOX, "24-hour"},
    {CS_LIM_RECIPIENTS_24H, "recipients_24h", CS_COUNT_RECIPIENTS, 86400000,
     CS_SCOPE_MAILBOX, "24-hour"},
    {CS_LIM_EXTERNAL_24H, "external_24h", CS_COUNT_EXTERNAL, 86400000,
     CS_SCOPE_MAILBOX, "24-hour"},
    {CS_LIM_UNIQUE_EXTERNAL_24H, "unique_external_24h",
     CS_COUNT_UNIQUE_EXTERNAL, 86400000, CS_SCOPE_MAILBOX, "24-hour"},
    {CS_LIM_MESSAGES_1M, "messages_1m", CS_COUNT_MESSAGES, 60000,
     CS_SCOPE_MAILBOX, "per-minute"},
    {CS_LIM_TENANT_EXTERNAL_24H, "tenant_external_24h", CS_COUNT_EXTERNAL,
     86400000, CS_SCOPE_TENANT, "tenant 24-hour"},
    {CS_LIM_RECIPIENTS_PER_MESSAGE, "recipients_per_message",
     CS_COUNT_PER_MESSAGE, 0, CS_SCOPE_MAILBOX, "per-message"},
};

static const cs_limit google_limits[] = {
    /* id, max, trial, consumer (0: as max, -1: none) */
    {CS_LIM_MESSAGES_24H, 2000, 500, 500},
    {CS_LIM_RECIPIENTS_24H, 10000, 0, 500},
    {CS_LIM_EXTERNAL_24H, 3000, 0, -1},
    {CS_LIM_UNIQUE_EXTERNAL_24H, 2000, 500, -1},
    {CS_LIM_RECIPIENTS_PER_MESSAGE, 100, 0, 0},
    {CS_LIM_COUNT, 0, 0, 0},
};

static const cs_limit ms_limits[] = {
    {CS_LIM_MESSAGES_1M, 30, 0, 0},
    {CS_LIM_RECIPIENTS_24H, 10000, 0, 0},
    {CS_LIM_TENANT_EXTERNAL_24H, CS_LIM_FROM_TENANT, 0, 0},
    {CS_LIM_COUNT, 0, 0, 0},
};

/* Gmail addresses count as consumer accounts, Workspace addresses not. */
static const char *const google_consumer[] = {"gmail.com", "googlemail.com",
                                              NULL};

/* Generic names: what Dovecot, Courier, Cyrus, Apple and localized
 * servers call the folders when they do not flag them. */
static const char *const generic_sent[] = {
    "Sent",     "Sent Messages", "INBOX.Sent", "INBOX/Sent",
    "Gesendet", "Envoyés",       NULL};
static const char *const generic_junk[] = {
    "Junk", "Spam", "INBOX.Junk", "INBOX.Spam", "Bulk Mail", NULL};
static const char *const google_sent[] = {"[Gmail]/Sent Mail", NULL};
static const char *const google_junk[] = {"[Gmail]/Spam", NULL};
/* Exchange / Outlook, also in German and Spanish */
static const char *const ms_sent[] = {"Sent Items", "Gesendete Elemente",
                                      "Elementos enviados", NULL};
static const char *const ms_junk[] = {"Junk Email", "Junk E-mail",
                                      "Junk-E-Mail", NULL};

static const char *const google_mx[] = {"google.com", "googlemail.com", NULL};
static const char *const ms_mx[] = {"outlook.com", "protection.outlook.com",
                                    NULL};
static const char *const google_domains[] = {"gmail.com", "googlemail.com",
                                             NULL};
static const char *const ms_domains[] = {
    "outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", NULL};

static const cs_provider table[CS_PROVIDER_COUNT] = {
    [CS_PROVIDER_GENERIC] =
        {
            .id = CS_PROVIDER_GENERIC,
            .name = "generic",
            .label = "generic",
            /* a generic server does not file what SMTP sent: coldseq
             * APPENDs the copy itself */
            .keeps_sent_copy = false,
            .sent_folders = generic_sent,
            .junk_folders = generic_junk,
        },
    [CS_PROVIDER_GOOGLE] =
        {
            .id = CS_PROVIDER_GOOGLE,
            .name = "google",
            .label = "Google",
            .smtp_host = "smtp.gmail.com",
            .smtp_port = 587,
            .smtp_tls = "starttls",
            .imap_host = "imap.gmail.com",
            .imap_port = 993,
            .imap_tls = "tls",
            .limits = google_limits,
            .consumer_domains = google_consumer,
            .keeps_sent_copy = true,
            .sent_folders = google_sent,
            .junk_folders = google_junk,
            .oauth = true,
            .oauth_token_url = CS_PROVIDER_GOOGLE_TOKEN_URL,
            .oauth_auth_url = CS_PROVIDER_GOOGLE_AUTH_URL,
            .oauth_scope = "https://mail.google.com/",
            .oauth_scope_on_refresh = false,
            .oauth_secret = true, /* a Desktop app client */
            .refresh_idle_days = 180,
            .refresh_warn_days = 150,
            .mx_suffixes = google_mx,
            .mx_domains = google_domains,
        },
    [CS_PROVIDER_MICROSOFT] =
        {
            .id = CS_PROVIDER_MICROSOFT,
            .name = "microsoft",
            .label = "Microsoft",
            .smtp_host = "smtp.office365.com",
            .smtp_port = 587,
            .smtp_tls = "starttls",
            .imap_host = "outlook.office365.com",
            .imap_port = 993,
            .imap_tls = "tls",
            .limits = ms_limits,
            .keeps_sent_copy = true,
            .sent_folders = ms_sent,
            .junk_folders = ms_junk,
            .oauth = true,
            .oauth_token_url = CS_PROVIDER_MS_TOKEN_URL,
            .oauth_device_url = CS_PROVIDER_MS_DEVICE_URL,
            .oauth_scope = "https://outlook.office.com/SMTP.Send "
                           "https://outlook.office.com/IMAP.AccessAsUser.All "
                           "offline_access",
            .oauth_scope_on_refresh = true,
            .oauth_secret = false, /* a public client (device code) */
            .refresh_idle_days = 90,
            .refresh_warn_days = 75,
            .mx_suffixes = ms_mx,
            .mx_domains = ms_domains,
        },
};

/* Free mail: a domain shared by unrelated people, so "the same company"
 * means nothing there (stop_company_on_reply).  Wider than the providers'
 * mx_domains: any consumer mailbox service counts. */
static const char *const freemail[] = {
    "gmail.com",     "googlemail.com", "outlook.com",    "hotmail.com",
    "hotmail.co.uk", "hotmail.fr",     "hotmail.de",     "live.com",
    "msn.com",       "yahoo.com",      "yahoo.co.uk",    "yahoo.fr",
    "yahoo.de",      "ymail.com",      "aol.com",        "icloud.com",
    "me.com",        "mac.com",        "proton.me",      "protonmail.com",
    "gmx.de",        "gmx.net",        "gmx.com",        "web.de",
    "t-online.de",   "mail.com",       "yandex.ru",      "yandex.com",
    "mail.ru",       "zoho.com",       "fastmail.com",   "orange.fr",
    "free.fr",       "laposte.net",    "libero.it",      "qq.com",
    "163.com",       "naver.com",      "rediffmail.com", NULL};

static bool in_list(const char *s, const char *const *list)
{
	for (; s && list && *list; list++)
		if (strcasecmp(s, *list) == 0)
			return true;
	return false;
}

const cs_provider *cs_provider_get(cs_provider_id id)
{
	if ((int)id < 0 || id >= CS_PROVIDER_COUNT)
		id = CS_PROVIDER_GENERIC;
	return &table[id];
}

const cs_provider *cs_provider_find(const char *name)
{
	int i;

	for (i = 0; name && i < CS_PROVIDER_COUNT; i++)
		if (strcmp(name, table[i].name) == 0)
			return &table[i];
	return NULL;
}

cs_provider_id cs_provider_id_of(const char *name)
{
	const cs_provider *p = cs_provider_find(name);

	return p ? p->id : CS_PROVIDER_GENERIC;
}

int cs_provider_hard_cap(cs_provider_id id, const char *email)
{
	long long v[CS_LIM_COUNT];

	cs_limits_preset(id, email, false, v);
	return (int)v[CS_LIM_MESSAGES_24H];
}

const cs_limit_kind *cs_limit_kind_get(cs_limit_id id)
{
	if ((int)id < 0 || id >= CS_LIM_COUNT)
		return NULL;
	return &kinds[id];
}

const cs_limit_kind *cs_limit_kind_find(const char *name)
{
	int i;

	for (i = 0; name && i < CS_LIM_COUNT; i++)
		if (strcmp(name, kinds[i].name) == 0)
			return &kinds[i];
	return NULL;
}

const char *cs_limit_names(void)
{
	return "messages_24h, recipients_24h, external_24h, "
	       "unique_external_24h, messages_1m, tenant_external_24h, "
	       "recipients_per_message";
}

void cs_limits_preset(cs_provider_id id, const char *email, bool trial,
                      long long out[CS_LIM_COUNT])
{
	const cs_provider *p = cs_provider_get(id);
	const char *at = email ? strrchr(email, '@') : NULL;
	bool consumer = at && in_list(at + 1, p->consumer_domains);
	const cs_limit *l;
	int i;

	for (i = 0; i < CS_LIM_COUNT; i++)
		out[i] = 0;
	for (l = p->limits; l && l->id != CS_LIM_COUNT; l++) {
		long long v = l->max;

		if (consumer && l->consumer)
			v = l->consumer < 0 ? 0 : l->consumer;
		else if (!consumer && trial && l->trial)
			v = l->trial;
		out[l->id] = v;
	}
}

/* One "name=N" word of an overrides string (n bytes at w). */
static int parse_word(const char *w, size_t n, cs_limit_id *id, long long *v,
                      cs_err *err)
{
	const char *eq = memchr(w, '=', n);
	char name[40], num[24], *end;
	size_t k;
	int i;

	if (eq == NULL || (size_t)(eq - w) >= sizeof name ||
	    n - (size_t)(eq - w) - 1 >= sizeof num ||
	    n - (size_t)(eq - w) - 1 == 0)
		goto bad;
	k = (size_t)(eq - w);
	memcpy(name, w, k);
	name[k] = '\0';
	memcpy(num, eq + 1, n - k - 1);
	num[n - k - 1] = '\0';
	for (i = 0; i < CS_LIM_COUNT; i++)
		if (strcmp(name, kinds[i].name) == 0)
			break;
	if (i == CS_LIM_COUNT)
		return cs_err_set(err, CS_EINVAL,
		                  "\"%s\" is not a provider limit (the limits: "
		                  "%s)",
		                  name, cs_limit_names());
	*v = strtoll(num, &end, 10);
	if (*end || *v < 0 || *v > 100000000)
		goto bad;
	*id = (cs_limit_id)i;
	return 0;
bad:
	return cs_err_set(err, CS_EINVAL,
	                  "\"%.*s\" is not NAME=N (N a number, 0: off)",
	                  (int)(n > 64 ? 64 : n), w);
}

int cs_limits_override(const char *overrides, long long out[CS_LIM_COUNT],
                       cs_err *err)
{
	const char *p = overrides ? overrides : "";
	cs_limit_id id = CS_LIM_COUNT;
	long long v = 0;
	int rc;

	while (*p) {
		size_t n = strcspn(p, " ");

		if (n) {
			if ((rc = parse_word(p, n, &id, &v, err)) != 0)
				return rc;
			out[id] = v;
		}
		p += n;
		while (*p == ' ')
			p++;
	}
	return 0;
}

bool cs_limits_get(const char *overrides, cs_limit_id id, long long *n)
{
	long long v[CS_LIM_COUNT];
	int i;

	for (i = 0; i < CS_LIM_COUNT; i++)
		v[i] = -1;
	if (cs_limits_override(overrides, v, NULL) != 0 || (int)id < 0 ||
	    id >= CS_LIM_COUNT || v[id] < 0)
		return false;
	*n = v[id];
	return true;
}

int cs_limits_edit(char **s, const char *name, long long n, cs_err *err)
{
	const cs_limit_kind *k = cs_limit_kind_find(name);
	long long v[CS_LIM_COUNT];
	char out[CS_LIM_COUNT * 48], *w = out;
	int i, rc;

	if (k == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "\"%s\" is not a provider limit (the limits: "
		                  "%s)",
		                  name ? name : "", cs_limit_names());
	if (n > 100000000)
		return cs_err_set(err, CS_EINVAL,
		                  "%s: %lld is more than 100000000", name, n);
	for (i = 0; i < CS_LIM_COUNT; i++)
		v[i] = -1;
	if ((rc = cs_limits_override(*s, v, err)) != 0)
		return rc;
	v[k->id] = n < 0 ? -1 : n;
	out[0] = '\0';
	for (i = 0; i < CS_LIM_COUNT; i++)
		if (v[i] >= 0)
			w += snprintf(w, sizeof out - (size_t)(w - out),
			              "%s%s=%lld", w == out ? "" : " ",
			              kinds[i].name, v[i]);
	free(*s);
	*s = out[0] ? cs_xstrdup(out) : NULL;
	return 0;
}

long long cs_limit_tenant_external(long long licences, long long external_limit)
{
	if (external_limit > 0)
		return external_limit;
	if (licences < 1)
		licences = 1;
	return (long long)floor(500.0 * pow((double)licences, 0.7) + 9500.0);
}

/* host ends with "." suffix, or is suffix (any case). */
static bool ends_with(const char *host, const char *suffix)
{
	size_t a = strlen(host), b = strlen(suffix);

	return a >= b && strcasecmp(host + a - b, suffix) == 0 &&
	       (a == b || host[a - b - 1] == '.');
}

cs_provider_id cs_provider_by_mx_host(const char *host)
{
	const char *const *s;
	int i;

	for (i = 0; host && i < CS_PROVIDER_COUNT; i++)
		for (s = table[i].mx_suffixes; s && *s; s++)
			if (ends_with(host, *s))
				return table[i].id;
	return CS_PROVIDER_GENERIC;
}

bool cs_provider_by_domain(const char *domain, cs_provider_id *id)
{
	int i;

	for (i = 0; i < CS_PROVIDER_COUNT; i++)
		if (in_list(domain, table[i].mx_domains)) {
			*id = table[i].id;
			return true;
		}
	return false;
}

bool cs_provider_folder_is(cs_folder_role role, const char *name)
{
	int i;

	for (i = 0; i < CS_PROVIDER_COUNT; i++)
		if (in_list(name, role == CS_FOLDER_SENT
		                      ? table[i].sent_folders
		                      : table[i].junk_folders))
			return true;
	return false;
}

bool cs_provider_is_freemail(const char *domain)
{
	return in_list(domain, freemail);
}

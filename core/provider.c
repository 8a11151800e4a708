/*
 * provider.c - the one table of mailbox providers (generic, Google,
 * Microsoft) and the questions asked of it.
 *
 * Everything coldseq assumes about a provider is a column here: server
 * presets, the daily cap the provider enforces, whether it keeps its own
 * Sent copy, Sent/Junk folder names for servers without SPECIAL-USE,
 * OAuth2 endpoints and scope, the MX host names and address domains that
 * say where a recipient's mail is hosted.  It sits in core/ so that imap/
 * (folder names), db/ (config defaults), sequencer/ and cli/ all read the
 * same rows.  Pure data and lookups: no I/O, no allocation.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <string.h>
#include <strings.h>

/* Gmail addresses are capped at 500 a day, Workspace addresses at 2000. */
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
            .hard_cap = 2000, /* Workspace */
            .consumer_cap = 500,
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
            .hard_cap = 10000, /* Exchange Online recipient rate limit */
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
	const cs_provider *p = cs_provider_get(id);
	const char *at = email ? strrchr(email, '@') : NULL;

	if (at && in_list(at + 1, p->consumer_domains))
		return p->consumer_cap;
	return p->hard_cap;
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

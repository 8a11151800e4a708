/*
 * db_config.c - typed user settings (`coldseq config`).
 *
 * Only keys listed in defs[] exist.  Values are validated and stored in a
 * canonical text form (durations as seconds, booleans as true/false), so
 * readers never re-parse user spelling.  Later issues add their keys here.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const db_config_def defs[] = {
    {"log.level", DB_CFG_ENUM, "info", "error|warn|info|debug", 0, 0,
     "least severe level of log lines (-v and -q override it per command)"},
    {"general.timezone", DB_CFG_TIMEZONE, "UTC", NULL, 0, 0,
     "IANA time zone for campaigns and inboxes that name none"},
    {"inbox.daily_cap", DB_CFG_INT, "30", NULL, 1, 10000,
     "daily send cap given to newly added inboxes"},
    {"inbox.min_interval", DB_CFG_DURATION, "120", NULL, 0, 86400,
     "least time between two campaign sends from one inbox"},
    {"inbox.bounce_pause_percent", DB_CFG_INT, "3", NULL, 1, 100,
     "pause an inbox whose hard bounces pass this share of its campaign "
     "sends in 28 days (at least 20 sends)"},
    {"warmup.health_threshold", DB_CFG_INT, "80", NULL, 0, 100,
     "pause an inbox's campaigns while under this share of its warmup "
     "mail reaches the INBOX rather than Junk (7 days, 10+ seen)"},
    {"dns.mx_map", DB_CFG_STRING, "", NULL, 0, 0,
     "file of \"domain google|microsoft|other\" lines for esp_match "
     "(consulted before DNS)"},
    {"dns.servers", DB_CFG_STRING, "", NULL, 0, 0,
     "DNS servers coldseq asks, \"host[:port],...\" (IPv4, or [IPv6]:port); "
     "empty: the system's (/etc/resolv.conf)"},
    {"dns.timeout", DB_CFG_DURATION, "3", NULL, 1, 60,
     "longest wait for one DNS answer from a server (then the question "
     "fails)"},
    {"smtp.connect_timeout", DB_CFG_DURATION, "60", NULL, 1, 600,
     "time to connect and finish TLS with an SMTP server"},
    {"smtp.command_timeout", DB_CFG_DURATION, "300", NULL, 1, 3600,
     "time to wait for each SMTP reply (RFC 5321: 5 minutes)"},
    {"smtp.data_timeout", DB_CFG_DURATION, "600", NULL, 1, 3600,
     "time to wait for the reply after a message's data (RFC 5321: 10 "
     "minutes)"},
    {"unsubscribe.url_template", DB_CFG_URL, "", NULL, 0, 0,
     "one-click unsubscribe URL with {token}, e.g. "
     "https://example.com/u/{token} (empty: mailto only)"},
    {"doctor.blocklists", DB_CFG_STRING, "", NULL, 0, 0,
     "file of DNS block lists for 'coldseq doctor', lines \"ZONE ip|domain "
     "TEST-ENTRY [CODE=MEANING ...]\" (empty: the built-in lists)"},
    {"doctor.dkim_selectors", DB_CFG_STRING, "default,mail,dkim,s1,s2,k1", NULL,
     0, 0,
     "DKIM selectors 'coldseq doctor' tries for a generic inbox's domain "
     "when no received copy showed one (comma-separated)"},
    {"doctor.refresh", DB_CFG_DURATION, "86400", NULL, 0, 30LL * 86400,
     "how often the running service checks every inbox with 'coldseq "
     "doctor' for 'status' and campaign start (0: never)"},
    /* OAuth2 (`inbox connect`).  Endpoints are settings so that tests
     * can point them at a local provider; plain http is refused unless
     * the host is on loopback (net_oauth_check_url).  The defaults are
     * the provider table's (core/provider.c). */
    {"oauth.microsoft.client_id", DB_CFG_STRING, "", NULL, 0, 0,
     "application (client) id of your app registration in Microsoft Entra"},
    {"oauth.microsoft.device_code_url", DB_CFG_URL, CS_PROVIDER_MS_DEVICE_URL,
     NULL, 0, 0,
     "Microsoft device authorization endpoint ({tenant}: --tenant, "
     "default common)"},
    {"oauth.microsoft.token_url", DB_CFG_URL, CS_PROVIDER_MS_TOKEN_URL, NULL, 0,
     0, "Microsoft token endpoint ({tenant}: the inbox's tenant)"},
    {"oauth.google.client_id", DB_CFG_STRING, "", NULL, 0, 0,
     "client id of your Google Cloud OAuth client (type Desktop app)"},
    {"oauth.google.client_secret", DB_CFG_SECRET, "", NULL, 0, 0,
     "client secret of that Google client (stored sealed in the vault, "
     "never shown)"},
    {"oauth.google.auth_url", DB_CFG_URL, CS_PROVIDER_GOOGLE_AUTH_URL, NULL, 0,
     0, "Google authorization endpoint"},
    {"oauth.google.token_url", DB_CFG_URL, CS_PROVIDER_GOOGLE_TOKEN_URL, NULL,
     0, 0, "Google token endpoint"},
    {NULL, DB_CFG_STRING, NULL, NULL, 0, 0, NULL},
};

const db_config_def *db_config_defs(void)
{
	return defs;
}

const db_config_def *db_config_find(const char *key)
{
	const db_config_def *d;

	for (d = defs; d->key; d++)
		if (strcmp(d->key, key) == 0)
			return d;
	return NULL;
}

static bool parse_ll(const char *s, long long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]) && s[0] != '-')
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

static bool parse_duration(const char *s, long long *out)
{
	char num[32];
	size_t n = strlen(s);
	long long mult = 1, v;

	if (n == 0 || n >= sizeof num)
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's':
		mult = 1;
		num[--n] = '\0';
		break;
	case 'm':
		mult = 60;
		num[--n] = '\0';
		break;
	case 'h':
		mult = 3600;
		num[--n] = '\0';
		break;
	case 'd':
		mult = 86400;
		num[--n] = '\0';
		break;
	default: break;
	}
	if (!parse_ll(num, &v) || v < 0 || v > 100LL * 365 * 86400 / mult)
		return false;
	*out = v * mult;
	return true;
}

/* An IANA name: letters, digits, '_', '-', '+', '/' parts, no "." parts,
 * present as a TZif file in the system zone database. */
static bool valid_timezone(const char *s)
{
	char path[512];
	struct stat st;
	const char *p;

	if (s[0] == '\0' || s[0] == '/' || strlen(s) > 200)
		return false;
	for (p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-+/", *p))
			return false;
	if (strstr(s, "//"))
		return false;
	snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", s);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "http://HOST[:PORT][/...]" with HOST on loopback. */
static bool http_loopback(const char *url)
{
	const char *h = url + 7, *end;
	char host[256];
	size_t n;

	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = h + strcspn(h, ":/?#");
	}
	if (end == NULL || (n = (size_t)(end - h)) == 0 || n >= sizeof host ||
	    memchr(h, '@', n))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	return cs_is_loopback_host(host);
}

static bool choice_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (*p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return true;
		if (!bar)
			break;
		p = bar + 1;
	}
	return false;
}

/* One item of dns.servers: IPv4[:port], [IPv6][:port] or a bare IPv6
 * (net/dns.c checks the same when the resolver starts). */
static bool dns_server_ok(const char *s, size_t n)
{
	char host[64];
	unsigned char b[16];
	const char *port, *close, *colon, *q, *end = s + n;
	long v = 0;

	if (n == 0 || n >= sizeof host)
		return false;
	if (s[0] == '[') {
		close = memchr(s, ']', n);
		if (close == NULL)
			return false;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, b) != 1)
			return false;
		if (close + 1 == end)
			return true;
		if (close[1] != ':')
			return false;
		port = close + 2;
	} else {
		memcpy(host, s, n);
		host[n] = '\0';
		colon = strchr(host, ':');
		if (colon && strchr(colon + 1, ':'))
			return inet_pton(AF_INET6, host, b) == 1;
		if (colon)
			host[colon - host] = '\0';
		if (inet_pton(AF_INET, host, b) != 1)
			return false;
		if (colon == NULL)
			return true;
		port = s + (colon - host) + 1;
	}
	if (port >= end || end - port > 5)
		return false;
	for (q = port; q < end; q++) {
		if (*q < '0' || *q > '9')
			return false;
		v = v * 10 + (*q - '0');
	}
	return v >= 1 && v <= 65535;
}

static int check_dns_servers(const db_config_def *def, const char *value,
                             cs_err *err)
{
	const char *p = value;

	if (*value == '\0')
		return 0; /* the system's resolvers */
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (!dns_server_ok(p, n))
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: \"%.*s\" is not an IP "
			    "address with an optional port 1-65535 "
			    "(e.g. 127.0.0.1:5353, [::1]:53)",
			    def->key, (int)(n > 80 ? 80 : n), p);
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* doctor.dkim_selectors: comma-separated DKIM selectors, each one or
 * more DNS labels (RFC 6376 3.1: letters, digits, '-', '_', dots
 * between labels, a label at most 63 octets), at most 32 of them. */
static int check_selectors(const db_config_def *def, const char *value,
                           cs_err *err)
{
	const char *p = value;
	int count = 0;

	if (*value == '\0')
		return 0; /* probe no selector */
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p), i,
		       label = 0;
		bool ok = n > 0 && n <= 253 && p[0] != '.' && p[n - 1] != '.';

		for (i = 0; ok && i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			if (c == '.') {
				ok = label > 0;
				label = 0;
			} else {
				ok = (isalnum(c) || c == '-' || c == '_') &&
				     ++label <= 63;
			}
		}
		if (!ok || ++count > 32)
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: \"%.*s%s\" is not a DKIM selector "
			    "(letters, digits, '-', '_' and dots; at most 32 "
			    "selectors, comma-separated)",
			    def->key, (int)(n > 80 ? 80 : n), p,
			    n > 80 ? "..." : "");
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int db_config_parse(const db_config_def *def, const char *value, cs_buf *out,
                    cs_err *err)
{
	long long v;
	const char *p;

	for (p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: the value contains a control "
			    "character",
			    def->key);
	switch (def->type) {
	case DB_CFG_STRING:
		if (strcmp(def->key, "dns.servers") == 0 &&
		    (v = check_dns_servers(def, value, err)) != 0)
			return (int)v;
		if (strcmp(def->key, "doctor.dkim_selectors") == 0 &&
		    (v = check_selectors(def, value, err)) != 0)
			return (int)v;
		cs_buf_puts(out, value);
		return 0;
	case DB_CFG_SECRET:
		/* checked like a string; stored sealed by the caller */
		if (strlen(value) > 4096)
			return cs_err_set(err, CS_EINVAL,
			                  "config %s: the value is too long",
			                  def->key);
		cs_buf_puts(out, value);
		return 0;
	case DB_CFG_INT:
		if (!parse_ll(value, &v))
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: \"%s\" is not a whole number", def->key,
			    value);
		if (v < def->min || v > def->max)
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: %lld is out of range (%lld to "
			    "%lld)",
			    def->key, v, def->min, def->max);
		cs_buf_printf(out, "%lld", v);
		return 0;
	case DB_CFG_DURATION:
		if (!parse_duration(value, &v))
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: \"%s\" is not a duration (e.g. "
			    "90, 90s, 15m, 2h, 1d)",
			    def->key, value);
		if (v < def->min || v > def->max)
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: %lld seconds is out of range "
			    "(%lld to %lld seconds)",
			    def->key, v, def->min, def->max);
		cs_buf_printf(out, "%lld", v);
		return 0;
	case DB_CFG_BOOL:
		if (!strcmp(value, "true") || !strcmp(value, "yes") ||
		    !strcmp(value, "on") || !strcmp(value, "1")) {
			cs_buf_puts(out, "true");
			return 0;
		}
		if (!strcmp(value, "false") || !strcmp(value, "no") ||
		    !strcmp(value, "off") || !strcmp(value, "0")) {
			cs_buf_puts(out, "false");
			return 0;
		}
		return cs_err_set(err, CS_EINVAL,
		                  "config %s: \"%s\" is not true or false",
		                  def->key, value);
	case DB_CFG_ENUM:
		if (!choice_ok(def->choices, value))
			return cs_err_set(err, CS_EINVAL,
			                  "config %s: \"%s\" is not one of %s",
			                  def->key, value, def->choices);
		cs_buf_puts(out, value);
		return 0;
	case DB_CFG_TIMEZONE:
		if (!valid_timezone(value))
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: \"%s\" is not an IANA time zone "
			    "(e.g. Europe/Berlin, America/New_York, UTC)",
			    def->key, value);
		cs_buf_puts(out, value);
		return 0;
	case DB_CFG_URL:
		if (*value == '\0')
			return 0; /* empty: not used */
		if (strcmp(def->key, "unsubscribe.url_template") == 0 &&
		    strstr(value, "{token}") == NULL)
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: the URL must contain {token}",
			    def->key);
		if ((strncmp(value, "https://", 8) != 0 &&
		     strncmp(value, "http://", 7) != 0) ||
		    strchr(value, ' ') || strlen(value) > 2000)
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: \"%s\" is not an http(s) URL", def->key,
			    value);
		/* tokens travel to these: TLS unless it stays on this host */
		if (strncmp(def->key, "oauth.", 6) == 0 &&
		    strncmp(value, "http://", 7) == 0 && !http_loopback(value))
			return cs_err_set(
			    err, CS_EINVAL,
			    "config %s: plain http is refused for an OAuth "
			    "endpoint unless its host is on loopback; use "
			    "https://",
			    def->key);
		cs_buf_puts(out, value);
		return 0;
	}
	return cs_err_set(err, CS_EINVAL, "config %s: unknown type", def->key);
}

static int unknown_key(const char *key, cs_err *err)
{
	return cs_err_set(err, CS_EUSAGE, "unknown config key \"%s\"", key);
}

int db_config_get(db *d, const char *key, cs_buf *out, bool *is_set,
                  cs_err *err)
{
	const db_config_def *def = db_config_find(key);
	sqlite3_stmt *st;
	int rc, s;

	if (def == NULL)
		return unknown_key(key, err);
	if (is_set)
		*is_set = false;
	if (def->type == DB_CFG_SECRET) {
		cs_buf blob = CS_BUF_INIT;
		bool found = false;

		rc = db_config_get_sealed(d, key, &blob, &found, err);
		cs_buf_free(&blob);
		if (rc == 0 && found)
			cs_buf_puts(out, "(sealed)");
		if (is_set)
			*is_set = found;
		return rc;
	}
	if ((rc = db_prepare(d, "SELECT value FROM settings WHERE key = ?1",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		cs_buf_puts(out, (const char *)sqlite3_column_text(st, 0));
		if (is_set)
			*is_set = true;
	} else if (s == SQLITE_DONE) {
		cs_buf_puts(out, def->def);
	} else {
		rc = db_fail(d, err, "cannot read settings");
	}
	sqlite3_finalize(st);
	return rc;
}

int db_config_get_int(db *d, const char *key, long long *out, cs_err *err)
{
	cs_buf b = CS_BUF_INIT;
	int rc = db_config_get(d, key, &b, NULL, err);

	if (rc == 0 && !parse_ll(cs_buf_str(&b), out))
		rc =
		    cs_err_set(err, CS_EDB,
		               "config %s: stored value \"%s\" is not a number",
		               key, cs_buf_str(&b));
	cs_buf_free(&b);
	return rc;
}

int db_config_set(db *d, const char *key, const char *value, cs_err *err)
{
	const db_config_def *def = db_config_find(key);
	cs_buf canon = CS_BUF_INIT;
	sqlite3_stmt *st = NULL;
	int rc;

	if (def == NULL)
		return unknown_key(key, err);
	if (def->type == DB_CFG_SECRET)
		return cs_err_set(err, CS_EINVAL,
		                  "config %s is a secret: it is stored sealed "
		                  "(db_config_set_sealed), never in clear",
		                  key);
	if ((rc = db_config_parse(def, value, &canon, err)) != 0)
		goto out;
	if ((rc = db_prepare(d,
	                     "INSERT INTO settings(key, value, updated_at) "
	                     "VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE "
	                     "SET value = ?2, updated_at = ?3",
	                     &st, err)) != 0)
		goto out;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, cs_buf_str(&canon), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, cs_clock_now(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot write settings");
out:
	sqlite3_finalize(st);
	cs_buf_free(&canon);
	return rc;
}

int db_config_unset(db *d, const char *key, cs_err *err)
{
	const db_config_def *def = db_config_find(key);
	cs_buf mkey = CS_BUF_INIT;
	sqlite3_stmt *st;
	int rc;

	if (def == NULL)
		return unknown_key(key, err);
	if (def->type == DB_CFG_SECRET) {
		cs_buf_printf(&mkey, "%s%s", DB_CFG_SEALED_PREFIX, key);
		rc = db_prepare(d, "DELETE FROM meta WHERE key = ?1", &st, err);
	} else {
		rc = db_prepare(d, "DELETE FROM settings WHERE key = ?1", &st,
		                err);
	}
	if (rc) {
		cs_buf_free(&mkey);
		return rc;
	}
	sqlite3_bind_text(st, 1, mkey.len ? mkey.data : key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(d, err, "cannot write settings");
	sqlite3_finalize(st);
	cs_buf_free(&mkey);
	return rc;
}

static int sealed_key(const char *key, cs_buf *mkey, cs_err *err)
{
	const db_config_def *def = db_config_find(key);

	if (def == NULL)
		return unknown_key(key, err);
	if (def->type != DB_CFG_SECRET)
		return cs_err_set(err, CS_EINVAL, "config %s is not a secret",
		                  key);
	cs_buf_printf(mkey, "%s%s", DB_CFG_SEALED_PREFIX, key);
	return 0;
}

int db_config_set_sealed(db *d, const char *key, const void *blob, size_t n,
                         cs_err *err)
{
	cs_buf mkey = CS_BUF_INIT;
	int rc = sealed_key(key, &mkey, err);

	if (rc == 0)
		rc = db_meta_set(d, mkey.data, blob, n, err);
	cs_buf_free(&mkey);
	return rc;
}

int db_config_get_sealed(db *d, const char *key, cs_buf *blob, bool *found,
                         cs_err *err)
{
	cs_buf mkey = CS_BUF_INIT;
	int rc = sealed_key(key, &mkey, err);

	*found = false;
	if (rc == 0)
		rc = db_meta_get(d, mkey.data, blob, found, err);
	cs_buf_free(&mkey);
	return rc;
}

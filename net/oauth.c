/*
 * oauth.c - OAuth2 clients for mailbox access: the device-code grant, the
 * authorization-code grant with PKCE and a loopback redirect, and the
 * refresh grant (see net.h for the contract and the error classes).
 *
 * HTTP goes through libcurl (GnuTLS flavour: the OpenSSL one conflicts
 * with libetpan-dev), one easy handle per exchange, no redirects, a hard
 * timeout.  Bodies that carry a secret (requests with a refresh token,
 * code, verifier or client secret; responses with tokens) are built in
 * buffers reserved up front, so they never move, and wiped after use.
 * The answer is capped at MAX_BODY bytes; provider text that reaches an
 * error message is scrubbed (net_scrub) and capped.
 */
#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#define MAX_BODY       (64u << 10)
#define FORM_RESERVE   8192u
#define DEVICE_GRANT   "urn:ietf:params:oauth:grant-type:device_code"
#define LISTEN_READ_MS 5000
#define MAX_REQUEST    8192u

/* ---- libcurl ------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	/* not thread safe itself: once, before any handle */
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int net_oauth_check_url(const char *what, const char *url, cs_err *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = 0;

	if (u == NULL)
		cs_fatal("curl_url: out of memory");
	if (url == NULL || *url == '\0' ||
	    curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		rc = cs_err_set(err, CS_EINVAL, "%s: \"%s\" is not a URL", what,
		                url ? url : "");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		rc = cs_err_set(err, CS_EINVAL,
		                "%s: a URL with user information is refused",
		                what);
		goto out;
	}
	if (strcasecmp(scheme, "https") == 0)
		goto out;
	if (strcasecmp(scheme, "http") == 0) {
		/* CURLU gives an IPv6 literal with its brackets */
		size_t n = strlen(host);
		char *bare = host[0] == '[' && n > 2 && host[n - 1] == ']'
		                 ? cs_xstrndup(host + 1, n - 2)
		                 : cs_xstrdup(host);
		bool lo = cs_is_loopback_host(bare);

		free(bare);
		if (lo)
			goto out;
		rc = cs_err_set(err, CS_EINVAL,
		                "%s: plain http to %s is refused (tokens would "
		                "travel in clear); use https:// (http:// only "
		                "for a server on this machine)",
		                what, host);
		goto out;
	}
	rc = cs_err_set(err, CS_EINVAL, "%s: \"%s\" is not an https URL", what,
	                url);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

/* RFC 3986 unreserved characters pass; everything else is %XX. */
static void pct_encode(cs_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			cs_buf_putc(b, (char)c);
		} else {
			cs_buf_putc(b, '%');
			cs_buf_putc(b, hex[c >> 4]);
			cs_buf_putc(b, hex[c & 15]);
		}
	}
}

static void form_add(cs_buf *b, const char *key, const char *value)
{
	if (b->len)
		cs_buf_putc(b, '&');
	cs_buf_puts(b, key);
	cs_buf_putc(b, '=');
	pct_encode(b, value);
}

static void form_client(cs_buf *b, const net_oauth_client *c)
{
	form_add(b, "client_id", c->client_id);
	if (c->client_secret)
		form_add(b, "client_secret", cs_secret_value(c->client_secret));
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	cs_buf *b = arg;
	size_t n = size * nmemb;

	if (b->len + n > MAX_BODY)
		return 0; /* too big: the transfer fails */
	cs_buf_append(b, p, n);
	return n;
}

/* POST form to url; *status and body (reserved by the caller) get the
 * answer.  Only a failure to talk HTTP at all is an error here. */
static int http_post(const char *url, const cs_buf *form, int timeout_ms,
                     long *status, cs_buf *body, cs_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL;
	const char *ca = getenv("SSL_CERT_FILE");
	CURL *h;
	CURLcode r;
	int rc = 0;

	*status = 0;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return cs_err_set(err, CS_ENET, "libcurl cannot start: %s",
		                  curl_easy_strerror(curl_init_rc));
	if ((h = curl_easy_init()) == NULL)
		cs_fatal("curl_easy_init failed");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "coldseq/" CS_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	/* not COPYPOSTFIELDS: no copy of a secret that we cannot wipe */
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form->data ? form->data : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)form->len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (ca && *ca) /* the same trust override as the mail connections */
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	r = curl_easy_perform(h);
	if (r == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	} else {
		cs_buf t = CS_BUF_INIT;
		const char *what = errbuf[0] ? errbuf : curl_easy_strerror(r);

		net_scrub(what, strlen(what), 200, &t);
		rc = cs_err_set(
		    err, r == CURLE_OPERATION_TIMEDOUT ? CS_ETEMP : CS_ENET,
		    "%s: %s%s", url, cs_buf_str(&t),
		    r == CURLE_WRITE_ERROR ? " (answer too long)" : "");
		cs_buf_free(&t);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc;
}

/* ---- token answers ------------------------------------------------------ */

void net_oauth_tokens_free(net_oauth_tokens *t)
{
	if (t == NULL)
		return;
	cs_secret_free(t->access);
	cs_secret_free(t->refresh);
	free(t->scope);
	memset(t, 0, sizeof *t);
}

/* Zero every string value of a parsed answer before it is freed. */
static void wipe_json(cJSON *j)
{
	cJSON *c;

	for (c = j ? j->child : NULL; c; c = c->next)
		if (cJSON_IsString(c) && c->valuestring)
			cs_memwipe(c->valuestring, strlen(c->valuestring));
}

static const char *json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

/* A number, or a number in a string (some providers send "3599"). */
static int64_t json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e9)
		return (int64_t)v->valuedouble;
	if (cJSON_IsString(v) && v->valuestring) {
		char *end;
		long long n = strtoll(v->valuestring, &end, 10);

		if (end != v->valuestring && *end == '\0' && n > 0 && n < 1e9)
			return n;
	}
	return 0;
}

static bool is_one(const char *e, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(e, *list) == 0)
			return true;
	return false;
}

int net_oauth_parse_token(long status, const char *body, size_t n,
                          net_oauth_tokens *out, char oauth_error[64],
                          cs_err *err)
{
	static const char *const final[] = {"invalid_grant", "access_denied",
	                                    "expired_token",
	                                    "authorization_declined", NULL};
	static const char *const later[] = {
	    "authorization_pending", "slow_down", "temporarily_unavailable",
	    "server_error", NULL};
	cJSON *j = body && n ? cJSON_ParseWithLength(body, n) : NULL;
	const char *access, *e, *type;
	cs_buf t = CS_BUF_INIT;
	int rc;

	memset(out, 0, sizeof *out);
	oauth_error[0] = '\0';
	if (cJSON_IsObject(j) && (e = json_str(j, "error")) != NULL) {
		const char *desc = json_str(j, "error_description");
		size_t i, k = 0;

		/* keep the code to its RFC 6749 alphabet, and short */
		for (i = 0; e[i] && k < 63; i++)
			if ((unsigned char)e[i] > 0x20 &&
			    (unsigned char)e[i] < 0x7f && e[i] != '"' &&
			    e[i] != '\\')
				oauth_error[k++] = e[i];
		oauth_error[k] = '\0';
		if (desc)
			net_scrub(desc, strlen(desc), 200, &t);
		rc = is_one(oauth_error, final)   ? CS_EAUTH
		     : is_one(oauth_error, later) ? CS_ETEMP
		                                  : CS_EINVAL;
		cs_err_set(err, rc, "the token endpoint answered %s%s%s%s",
		           oauth_error, t.len ? " (" : "", cs_buf_str(&t),
		           t.len ? ")" : "");
		goto out;
	}
	if (status != 200 || !cJSON_IsObject(j)) {
		rc = status >= 500 || status == 429 ? CS_ETEMP : CS_EINVAL;
		cs_err_set(err, rc,
		           "the token endpoint answered HTTP %ld without a "
		           "token%s",
		           status, cJSON_IsObject(j) ? "" : " (not JSON)");
		goto out;
	}
	access = json_str(j, "access_token");
	type = json_str(j, "token_type");
	if (access == NULL || *access == '\0') {
		rc = cs_err_set(err, CS_EINVAL,
		                "the token endpoint's answer has no "
		                "access_token");
		goto out;
	}
	if (type && strcasecmp(type, "bearer") != 0) {
		net_scrub(type, strlen(type), 40, &t);
		rc =
		    cs_err_set(err, CS_EINVAL,
		               "the token endpoint gave a %s token, not Bearer",
		               cs_buf_str(&t));
		goto out;
	}
	out->access = cs_secret_new(access, strlen(access));
	if ((e = json_str(j, "refresh_token")) != NULL && *e)
		out->refresh = cs_secret_new(e, strlen(e));
	out->expires_in = json_int(j, "expires_in");
	if ((e = json_str(j, "scope")) != NULL) {
		cs_buf sc = CS_BUF_INIT;

		net_scrub(e, strlen(e), 500, &sc);
		out->scope = cs_buf_detach(&sc, NULL);
	}
	rc = 0;
out:
	wipe_json(j);
	cJSON_Delete(j);
	cs_buf_free(&t);
	return rc;
}

/* POST form to the token endpoint and read the tokens. */
static int token_call(const net_oauth_client *c, cs_buf *form,
                      net_oauth_tokens *out, char oauth_error[64], cs_err *err)
{
	cs_buf body = CS_BUF_INIT;
	long status = 0;
	int rc;

	memset(out, 0, sizeof *out);
	oauth_error[0] = '\0';
	if ((rc = net_oauth_check_url("token endpoint", c->token_url, err)) !=
	    0)
		return rc;
	cs_buf_reserve(&body, MAX_BODY + 1);
	rc = http_post(c->token_url, form, c->timeout_ms, &status, &body, err);
	if (rc == 0)
		rc = net_oauth_parse_token(status, body.data, body.len, out,
		                           oauth_error, err);
	cs_buf_wipe(&body);
	return rc;
}

static void form_new(cs_buf *b, const char *grant)
{
	cs_buf_reserve(b, FORM_RESERVE);
	form_add(b, "grant_type", grant);
}

int net_oauth_refresh(const net_oauth_client *c, const cs_secret *refresh,
                      const char *scope, net_oauth_tokens *out, cs_err *err)
{
	cs_buf form = CS_BUF_INIT;
	char oerr[64];
	int rc;

	form_new(&form, "refresh_token");
	form_add(&form, "refresh_token", cs_secret_value(refresh));
	if (scope)
		form_add(&form, "scope", scope);
	form_client(&form, c);
	rc = token_call(c, &form, out, oerr, err);
	cs_buf_wipe(&form);
	return rc;
}

int net_oauth_exchange(const net_oauth_client *c, const cs_secret *code,
                       const cs_secret *verifier, const char *redirect_uri,
                       net_oauth_tokens *out, cs_err *err)
{
	cs_buf form = CS_BUF_INIT;
	char oerr[64];
	int rc;

	form_new(&form, "authorization_code");
	form_add(&form, "code", cs_secret_value(code));
	form_add(&form, "code_verifier", cs_secret_value(verifier));
	form_add(&form, "redirect_uri", redirect_uri);
	form_client(&form, c);
	rc = token_call(c, &form, out, oerr, err);
	cs_buf_wipe(&form);
	return rc;
}

/* ---- device code --------------------------------------------------------- */

void net_oauth_device_free(net_oauth_device *d)
{
	if (d == NULL)
		return;
	cs_secret_free(d->device_code);
	free(d->user_code);
	free(d->verification_uri);
	free(d->message);
	memset(d, 0, sizeof *d);
}

static char *scrubbed(const char *s, size_t cap)
{
	cs_buf b = CS_BUF_INIT;

	net_scrub(s, strlen(s), cap, &b);
	return cs_buf_detach(&b, NULL);
}

int net_oauth_device_start(const net_oauth_client *c, const char *device_url,
                           const char *scope, net_oauth_device *out,
                           cs_err *err)
{
	cs_buf form = CS_BUF_INIT, body = CS_BUF_INIT;
	const char *code, *user, *uri, *msg;
	cJSON *j = NULL;
	long status = 0;
	int rc;

	memset(out, 0, sizeof *out);
	if ((rc = net_oauth_check_url("device code endpoint", device_url,
	                              err)) != 0)
		return rc;
	form_add(&form, "client_id", c->client_id);
	form_add(&form, "scope", scope);
	cs_buf_reserve(&body, MAX_BODY + 1);
	if ((rc = http_post(device_url, &form, c->timeout_ms, &status, &body,
	                    err)) != 0)
		goto out;
	j = body.len ? cJSON_ParseWithLength(body.data, body.len) : NULL;
	if (status != 200 || !cJSON_IsObject(j)) {
		const char *e = cJSON_IsObject(j) ? json_str(j, "error") : NULL;
		const char *ed =
		    cJSON_IsObject(j) ? json_str(j, "error_description") : NULL;
		cs_buf t = CS_BUF_INIT;

		if (e)
			net_scrub(e, strlen(e), 60, &t);
		if (ed) {
			cs_buf_puts(&t, t.len ? ": " : "");
			net_scrub(ed, strlen(ed), 200, &t);
		}
		rc =
		    cs_err_set(err, status >= 500 ? CS_ETEMP : CS_EINVAL,
		               "the device code endpoint answered HTTP %ld%s%s",
		               status, t.len ? ": " : "", cs_buf_str(&t));
		cs_buf_free(&t);
		goto out;
	}
	code = json_str(j, "device_code");
	user = json_str(j, "user_code");
	/* RFC 8628 says verification_uri; older Microsoft endpoints say
	 * verification_url */
	uri = json_str(j, "verification_uri");
	if (uri == NULL)
		uri = json_str(j, "verification_url");
	if (code == NULL || !*code || user == NULL || !*user || uri == NULL ||
	    !*uri) {
		rc = cs_err_set(err, CS_EINVAL,
		                "the device code endpoint's answer lacks "
		                "device_code, user_code or verification_uri");
		goto out;
	}
	out->device_code = cs_secret_new(code, strlen(code));
	out->user_code = scrubbed(user, 64);
	out->verification_uri = scrubbed(uri, 500);
	if ((msg = json_str(j, "message")) != NULL)
		out->message = scrubbed(msg, 500);
	out->interval_s = (int)json_int(j, "interval");
	if (out->interval_s <= 0)
		out->interval_s = 5; /* RFC 8628 3.2 */
	if (out->interval_s > 60)
		out->interval_s = 60;
	out->expires_in_s = (int)json_int(j, "expires_in");
	if (out->expires_in_s <= 0)
		out->expires_in_s = 900;
out:
	wipe_json(j);
	cJSON_Delete(j);
	cs_buf_wipe(&body);
	cs_buf_free(&form);
	if (rc)
		net_oauth_device_free(out);
	return rc;
}

static void sleep_s(int s)
{
	struct timespec ts = {s, 0};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int net_oauth_device_wait(const net_oauth_client *c, const net_oauth_device *d,
                          net_oauth_tokens *out, cs_err *err)
{
	int64_t deadline = cs_mono_ms() + (int64_t)d->expires_in_s * 1000;
	int interval = d->interval_s, net_fails = 0;

	for (;;) {
		cs_buf form = CS_BUF_INIT;
		char oerr[64];
		int rc;

		sleep_s(interval);
		form_new(&form, DEVICE_GRANT);
		form_add(&form, "device_code", cs_secret_value(d->device_code));
		form_add(&form, "client_id", c->client_id);
		if (c->client_secret)
			form_add(&form, "client_secret",
			         cs_secret_value(c->client_secret));
		rc = token_call(c, &form, out, oerr, err);
		cs_buf_wipe(&form);
		if (rc == 0)
			return 0;
		if (strcmp(oerr, "slow_down") == 0)
			interval += 5; /* RFC 8628 3.5 */
		if (strcmp(oerr, "expired_token") == 0 ||
		    cs_mono_ms() >= deadline)
			return cs_err_set(err, CS_EAUTH,
			                  "the code %s expired before it was "
			                  "entered: run the command again",
			                  d->user_code);
		if (strcmp(oerr, "authorization_declined") == 0 ||
		    strcmp(oerr, "access_denied") == 0)
			return cs_err_set(err, CS_EAUTH,
			                  "the sign-in was declined (%s)",
			                  oerr);
		if (strcmp(oerr, "authorization_pending") == 0 ||
		    strcmp(oerr, "slow_down") == 0)
			continue;
		/* a network hiccup while the user types: a few are fine */
		if ((rc == CS_ENET || rc == CS_ETEMP) && ++net_fails < 4)
			continue;
		return rc;
	}
}

/* ---- PKCE and the redirect ---------------------------------------------- */

/* base64url without padding of n bytes into out (>= 4n/3 + 1). */
static void b64url(const unsigned char *p, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
	                        "stuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v =
		    (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;

		out[o++] = a[v >> 18 & 63];
		out[o++] = a[v >> 12 & 63];
		out[o++] = a[v >> 6 & 63];
	}
	out[o] = '\0';
}

void net_oauth_pkce_new(net_oauth_pkce *p)
{
	unsigned char r[32], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char v[48];

	memset(p, 0, sizeof *p);
	cs_random_bytes(r, sizeof r);
	b64url(r, sizeof r, v); /* 43 characters (RFC 7636 4.1) */
	p->verifier = cs_secret_new(v, strlen(v));
	if (EVP_Digest(v, strlen(v), md, &mdlen, EVP_sha256(), NULL) != 1)
		cs_fatal("SHA-256 failed");
	b64url(md, mdlen, p->challenge);
	cs_random_bytes(r, 16);
	b64url(r, 16, p->state);
	cs_memwipe(v, sizeof v);
	cs_memwipe(r, sizeof r);
}

void net_oauth_pkce_free(net_oauth_pkce *p)
{
	if (p == NULL)
		return;
	cs_secret_free(p->verifier);
	memset(p, 0, sizeof *p);
}

int net_oauth_auth_url(const char *auth_url, const char *client_id,
                       const char *redirect_uri, const char *scope,
                       const char *login_hint, const net_oauth_pkce *p,
                       cs_buf *out, cs_err *err)
{
	cs_buf q = CS_BUF_INIT;
	int rc;

	if ((rc = net_oauth_check_url("authorization endpoint", auth_url,
	                              err)) != 0)
		return rc;
	form_add(&q, "response_type", "code");
	form_add(&q, "client_id", client_id);
	form_add(&q, "redirect_uri", redirect_uri);
	form_add(&q, "scope", scope);
	form_add(&q, "code_challenge", p->challenge);
	form_add(&q, "code_challenge_method", "S256");
	form_add(&q, "state", p->state);
	/* a refresh token, and a new one even when consent was given
	 * before (Google omits it otherwise) */
	form_add(&q, "access_type", "offline");
	form_add(&q, "prompt", "consent");
	if (login_hint && *login_hint)
		form_add(&q, "login_hint", login_hint);
	cs_buf_printf(out, "%s%c%s", auth_url,
	              strchr(auth_url, '?') ? '&' : '?', cs_buf_str(&q));
	cs_buf_free(&q);
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Percent-decode s[0..n) ('+' is a space) into out. */
static void pct_decode(const char *s, size_t n, cs_buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int h, l;

		if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
			cs_buf_putc(out, (char)(h << 4 | l));
			i += 2;
		} else {
			cs_buf_putc(out, s[i] == '+' ? ' ' : s[i]);
		}
	}
}

/* The decoded value of key in query q (up to '#' or end) into out;
 * false when absent. */
static bool query_get(const char *q, const char *key, cs_buf *out)
{
	size_t kl = strlen(key);
	const char *p = q;

	while (*p && *p != '#') {
		size_t len = strcspn(p, "&#");

		if (len > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
			pct_decode(p + kl + 1, len - kl - 1, out);
			return true;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return false;
}

/* Whether url's query carries state (compared in constant time). */
static bool state_matches(const char *url, const char *state)
{
	const char *q = strchr(url, '?');
	cs_buf got = CS_BUF_INIT;
	bool ok = q && query_get(q + 1, "state", &got) &&
	          got.len == strlen(state) &&
	          CRYPTO_memcmp(got.data, state, got.len) == 0;

	cs_buf_free(&got);
	return ok;
}

int net_oauth_parse_redirect(const char *url, const char *state,
                             cs_secret **code, cs_err *err)
{
	const char *q = url ? strchr(url, '?') : NULL;
	cs_buf v = CS_BUF_INIT;
	int rc;

	*code = NULL;
	if (q == NULL)
		return cs_err_set(
		    err, CS_EINVAL,
		    "that is not the address the browser was sent "
		    "to (it has no ?code=...&state=...)");
	q++;
	if (!state_matches(url, state)) {
		rc = cs_err_set(err, CS_EINVAL,
		                "the address does not carry this sign-in's "
		                "state: it belongs to another attempt (or was "
		                "forged); nothing was accepted");
		goto out;
	}
	if (query_get(q, "error", &v)) {
		cs_buf t = CS_BUF_INIT, d = CS_BUF_INIT, ds = CS_BUF_INIT;

		net_scrub(cs_buf_str(&v), v.len, 60, &t);
		if (query_get(q, "error_description", &d))
			net_scrub(cs_buf_str(&d), d.len, 200, &ds);
		rc = cs_err_set(err, CS_EAUTH,
		                "the provider answered %s%s%s%s: no access was "
		                "given",
		                cs_buf_str(&t), ds.len ? " (" : "",
		                cs_buf_str(&ds), ds.len ? ")" : "");
		cs_buf_free(&t);
		cs_buf_free(&d);
		cs_buf_free(&ds);
		goto out;
	}
	if (!query_get(q, "code", &v) || v.len == 0 ||
	    memchr(v.data, '\0', v.len)) {
		rc = cs_err_set(err, CS_EINVAL,
		                "the address has no authorization code");
		goto out;
	}
	*code = cs_secret_new(v.data, v.len);
	rc = 0;
out:
	cs_buf_wipe(&v);
	return rc;
}

/* ---- the loopback listener ------------------------------------------------
 */

int net_oauth_listen(net_oauth_listener *l, cs_err *err)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd;

	memset(l, 0, sizeof *l);
	l->fd = -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cs_err_set(err, CS_EIO, "socket: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never 0.0.0.0 */
	sa.sin_port = 0;                             /* the system picks */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
	    listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		int e = errno;

		close(fd);
		return cs_err_set(err, CS_EIO,
		                  "cannot listen on 127.0.0.1 for the "
		                  "redirect: %s",
		                  strerror(e));
	}
	l->fd = fd;
	l->port = ntohs(sa.sin_port);
	snprintf(l->redirect_uri, sizeof l->redirect_uri,
	         "http://127.0.0.1:%d/", l->port);
	return 0;
}

void net_oauth_listener_close(net_oauth_listener *l)
{
	if (l && l->fd >= 0)
		close(l->fd);
	if (l)
		l->fd = -1;
}

static void reply(int fd, int code, const char *title, const char *text)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf,
	                 "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
	                 "charset=utf-8\r\nCache-Control: no-store\r\n"
	                 "Connection: close\r\n\r\n<!doctype html><title>"
	                 "coldseq</title><h1>%s</h1><p>%s</p>\n",
	                 code, code == 200 ? "OK" : "Bad Request", title, text);
	ssize_t w;
	size_t off = 0;

	while (n > 0 && off < (size_t)n) {
		w = write(fd, buf + off, (size_t)n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

/* The request line of one connection (at most MAX_REQUEST bytes, within
 * LISTEN_READ_MS), into line. */
static bool read_request_line(int fd, cs_buf *line)
{
	int64_t end = cs_mono_ms() + LISTEN_READ_MS;
	char buf[1024];

	while (line->len < MAX_REQUEST &&
	       !memchr(line->data ? line->data : "", '\n', line->len)) {
		struct pollfd p = {fd, POLLIN, 0};
		int left = (int)(end - cs_mono_ms());
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return false;
		n = read(fd, buf, sizeof buf);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return false;
		cs_buf_append(line, buf, (size_t)n);
	}
	return memchr(line->data ? line->data : "", '\n', line->len) != NULL;
}

int net_oauth_listener_take(net_oauth_listener *l, const char *state,
                            cs_secret **code, bool *done, cs_err *err)
{
	cs_buf req = CS_BUF_INIT;
	char *sp, *target;
	int fd, rc = 0;

	*code = NULL;
	*done = false;
	fd = accept(l->fd, NULL, NULL);
	if (fd < 0)
		return 0; /* nothing waiting after all */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	cs_buf_reserve(&req, MAX_REQUEST + 1024);
	if (!read_request_line(fd, &req) || strncmp(req.data, "GET ", 4) != 0) {
		reply(fd, 400, "Not understood",
		      "coldseq waits for the "
		      "sign-in redirect here.");
		goto out;
	}
	target = req.data + 4;
	if ((sp = strchr(target, ' ')) != NULL)
		*sp = '\0';
	if (target[0] != '/' ||
	    (!strstr(target, "code=") && !strstr(target, "error="))) {
		reply(fd, 404, "Not here",
		      "coldseq waits for the sign-in "
		      "redirect here.");
		goto out;
	}
	if (!state_matches(target, state)) {
		/* not our sign-in (an old tab, or forged): say so and keep
		 * waiting for ours */
		reply(fd, 400, "Not this sign-in",
		      "This address belongs to another sign-in attempt.");
		goto out;
	}
	rc = net_oauth_parse_redirect(target, state, code, err);
	*done = true;
	if (rc == 0)
		reply(fd, 200, "Connected",
		      "coldseq received the authorization. You can close "
		      "this tab and return to the terminal.");
	else
		reply(fd, 400, "Not connected",
		      "The sign-in did not give access. See the terminal.");
out:
	close(fd);
	cs_buf_wipe(&req);
	return rc;
}

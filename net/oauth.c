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
#include "net_int.h"

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
void net_oauth_pct_encode(cs_buf *b, const char *s)
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

void net_oauth_form_add(cs_buf *b, const char *key, const char *value)
{
	if (b->len)
		cs_buf_putc(b, '&');
	cs_buf_puts(b, key);
	cs_buf_putc(b, '=');
	net_oauth_pct_encode(b, value);
}

static void form_client(cs_buf *b, const net_oauth_client *c)
{
	net_oauth_form_add(b, "client_id", c->client_id);
	if (c->client_secret)
		net_oauth_form_add(b, "client_secret",
		                   cs_secret_value(c->client_secret));
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
	net_oauth_form_add(b, "grant_type", grant);
}

int net_oauth_refresh(const net_oauth_client *c, const cs_secret *refresh,
                      const char *scope, net_oauth_tokens *out, cs_err *err)
{
	cs_buf form = CS_BUF_INIT;
	char oerr[64];
	int rc;

	form_new(&form, "refresh_token");
	net_oauth_form_add(&form, "refresh_token", cs_secret_value(refresh));
	if (scope)
		net_oauth_form_add(&form, "scope", scope);
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
	net_oauth_form_add(&form, "code", cs_secret_value(code));
	net_oauth_form_add(&form, "code_verifier", cs_secret_value(verifier));
	net_oauth_form_add(&form, "redirect_uri", redirect_uri);
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
	net_oauth_form_add(&form, "client_id", c->client_id);
	net_oauth_form_add(&form, "scope", scope);
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
		net_oauth_form_add(&form, "device_code",
		                   cs_secret_value(d->device_code));
		net_oauth_form_add(&form, "client_id", c->client_id);
		if (c->client_secret)
			net_oauth_form_add(&form, "client_secret",
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

/*
 * oauth_redirect.c - the authorization-code flow's browser side: PKCE
 * (S256) verifier and challenge, the authorization URL with state, the
 * redirect parsed and its state checked, and the loopback listener on
 * 127.0.0.1 that receives it.  The token calls are in oauth.c.
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
	net_oauth_form_add(&q, "response_type", "code");
	net_oauth_form_add(&q, "client_id", client_id);
	net_oauth_form_add(&q, "redirect_uri", redirect_uri);
	net_oauth_form_add(&q, "scope", scope);
	net_oauth_form_add(&q, "code_challenge", p->challenge);
	net_oauth_form_add(&q, "code_challenge_method", "S256");
	net_oauth_form_add(&q, "state", p->state);
	/* a refresh token, and a new one even when consent was given
	 * before (Google omits it otherwise) */
	net_oauth_form_add(&q, "access_type", "offline");
	net_oauth_form_add(&q, "prompt", "consent");
	if (login_hint && *login_hint)
		net_oauth_form_add(&q, "login_hint", login_hint);
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

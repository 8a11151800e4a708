/*
 * tls.c - a libetpan mailstream_low driver over a socket, optionally
 * through OpenSSL, with a timeout on every read and write.
 *
 * Verification: SSL_VERIFY_PEER against the per-inbox CA file or the
 * system store, minimum TLS 1.2, and X509_VERIFY_PARAM host (or IP) check,
 * all before the first protocol byte after the handshake, so AUTH never
 * goes to an unverified peer.
 *
 * The socket is non-blocking; reads and writes wait with poll(2) for at
 * most the stream's timeout.  A timed-out operation returns -1 and sets
 * the stream's `timed_out` flag (net_timed_out).
 */
#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

typedef struct conn {
	int fd;
	SSL *ssl; /* NULL: plaintext */
	int timeout_ms;
	bool timed_out;
} conn;

/* Wait for fd to become readable (want_write false) or writable. */
static int wait_fd(conn *c, bool want_write)
{
	struct pollfd p = {c->fd, want_write ? POLLOUT : POLLIN, 0};
	int rc;

	do {
		rc = poll(&p, 1, c->timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		c->timed_out = true;
		return -1;
	}
	return rc < 0 ? -1 : 0;
}

/* One read or write through TLS or the bare socket, waiting with poll
 * while the socket is not ready.  Returns bytes moved, 0 at end of stream
 * (reads), -1 on error or timeout. */
static ssize_t io(conn *c, void *buf, size_t n, bool writing)
{
	int len = n > INT32_MAX ? INT32_MAX : (int)n;

	for (;;) {
		if (c->ssl) {
			int r = writing ? SSL_write(c->ssl, buf, len)
			                : SSL_read(c->ssl, buf, len);
			int e;

			if (r > 0)
				return r;
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN && !writing)
				return 0;
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE) {
				if (wait_fd(c, e == SSL_ERROR_WANT_WRITE) != 0)
					return -1;
				continue;
			}
			ERR_clear_error();
			return -1;
		} else {
			ssize_t r = writing ? write(c->fd, buf, (size_t)len)
			                    : read(c->fd, buf, (size_t)len);

			if (r >= 0)
				return r;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
			if (wait_fd(c, writing) != 0)
				return -1;
		}
	}
}

static ssize_t drv_read(mailstream_low *s, void *buf, size_t n)
{
	return io(s->data, buf, n, false);
}

static ssize_t drv_write(mailstream_low *s, const void *buf, size_t n)
{
	return io(s->data, (void *)buf, n, true);
}

static int drv_close(mailstream_low *s)
{
	conn *c = s->data;

	if (c->ssl) {
		SSL_shutdown(c->ssl); /* best effort, non-blocking */
		ERR_clear_error();
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	return 0;
}

static int drv_get_fd(mailstream_low *s)
{
	return ((conn *)s->data)->fd;
}

static void drv_free(mailstream_low *s)
{
	conn *c = s->data;

	if (c->ssl)
		SSL_free(c->ssl);
	free(c);
	free(s); /* the driver owns the mailstream_low itself */
}

static void drv_cancel(mailstream_low *s)
{
	(void)s;
}

static struct mailstream_cancel *drv_get_cancel(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static carray *drv_get_chain(mailstream_low *s)
{
	conn *c = s->data;
	STACK_OF(X509) * chain;
	carray *out;
	int i;

	if (c->ssl == NULL)
		return NULL;
	chain = SSL_get_peer_cert_chain(c->ssl);
	if (chain == NULL)
		return NULL;
	out = carray_new(4);
	for (i = 0; i < sk_X509_num(chain); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(chain, i), &der);

		if (len > 0) {
			MMAPString *m =
			    mmap_string_new_len((char *)der, (size_t)len);

			carray_add(out, m, NULL);
		}
		OPENSSL_free(der);
	}
	return out;
}

static int drv_idle_noop(mailstream_low *s)
{
	(void)s;
	return -1;
}

static mailstream_low_driver driver = {
    drv_read,      drv_write,     drv_close,      drv_get_fd,
    drv_free,      drv_cancel,    drv_get_cancel, drv_get_chain,
    drv_idle_noop, drv_idle_noop, drv_idle_noop,
};

mailstream_low *net_plain_low(int fd, int timeout_ms)
{
	conn *c = cs_xcalloc(1, sizeof *c);
	mailstream_low *low;

	c->fd = fd;
	c->timeout_ms = timeout_ms;
	low = mailstream_low_new(c, &driver);
	if (low == NULL)
		cs_fatal("mailstream_low_new failed");
	return low;
}

static bool is_ip_literal(const char *host)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, host, buf) == 1 ||
	       inet_pton(AF_INET6, host, buf) == 1;
}

/* One context per handshake: the CA choice is per inbox. */
static SSL_CTX *make_ctx(const net_tls_opts *o, cs_err *err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		cs_fatal("SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (o->ca_file && *o->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1) {
			ERR_clear_error();
			SSL_CTX_free(ctx);
			cs_err_set(err, CS_ECRYPTO,
			           "cannot load CA certificates from %s",
			           o->ca_file);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		cs_err_set(err, CS_ECRYPTO,
		           "cannot load the system's trusted certificates");
		return NULL;
	}
	return ctx;
}

static void fill_info(SSL *ssl, net_tls_info *info, bool verified)
{
	X509 *peer;

	memset(info, 0, sizeof *info);
	snprintf(info->version, sizeof info->version, "%s",
	         SSL_get_version(ssl));
	snprintf(info->cipher, sizeof info->cipher, "%s",
	         SSL_get_cipher_name(ssl));
	peer = SSL_get1_peer_certificate(ssl);
	if (peer) {
		X509_NAME_oneline(X509_get_subject_name(peer), info->subject,
		                  sizeof info->subject);
		X509_NAME_oneline(X509_get_issuer_name(peer), info->issuer,
		                  sizeof info->issuer);
		X509_free(peer);
	}
	info->verified = verified;
}

/* The first bytes the peer sent during a handshake, kept by a callback
 * on the socket BIO: the records OpenSSL refuses are gone from the
 * socket, and they tell a plain-text greeting from a TLS answer. */
typedef struct first_bytes {
	unsigned char b[48];
	size_t n;
} first_bytes;

static long capture_cb(BIO *bio, int oper, const char *argp, size_t len,
                       int argi, long argl, int ret, size_t *processed)
{
	first_bytes *f = (first_bytes *)BIO_get_callback_arg(bio);

	(void)len;
	(void)argi;
	(void)argl;
	if (f && oper == (BIO_CB_READ | BIO_CB_RETURN) && ret > 0 &&
	    processed && argp) {
		size_t k = *processed, room = sizeof f->b - f->n;

		if (k > room)
			k = room;
		memcpy(f->b + f->n, argp, k);
		f->n += k;
	}
	return ret;
}

static void capture(SSL *ssl, first_bytes *f)
{
	BIO *rb = SSL_get_rbio(ssl);

	BIO_set_callback_arg(rb, (char *)f);
	BIO_set_callback_ex(rb, f ? capture_cb : NULL);
}

/* A TLS record header: handshake (22) or alert (21), version 3.x. */
static bool looks_tls(const first_bytes *f)
{
	return f->n >= 2 && (f->b[0] == 22 || f->b[0] == 21) && f->b[1] == 3;
}

/* Printable text such as "* OK" or "220 ": a protocol greeting. */
static bool looks_text(const first_bytes *f)
{
	size_t i;

	if (f->n < 3)
		return false;
	for (i = 0; i < f->n && f->b[i] != '\n'; i++)
		if ((f->b[i] < 0x20 || f->b[i] >= 0x7f) && f->b[i] != '\r' &&
		    f->b[i] != '\t')
			return false;
	return true;
}

static void hint(const net_tls_opts *o, const char *mode, char *buf, size_t cap)
{
	if (o->mode_option)
		snprintf(buf, cap, "; use %s %s", o->mode_option, mode);
	else
		snprintf(buf, cap, "; set its TLS mode to %s", mode);
}

int net_tls_low(int fd, const char *host, const net_tls_opts *o, int timeout_ms,
                mailstream_low **out, net_tls_info *info, cs_err *err)
{
	first_bytes seen = {{0}, 0};
	SSL_CTX *ctx;
	SSL *ssl;
	conn tmp = {fd, NULL, timeout_ms, false};
	X509_VERIFY_PARAM *param;
	int rc;

	*out = NULL;
	if ((ctx = make_ctx(o, err)) == NULL)
		return CS_ECRYPTO;
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* ssl keeps its own reference */
	if (ssl == NULL)
		cs_fatal("SSL_new failed");
	tmp.ssl = ssl;
	SSL_set_fd(ssl, fd);
	capture(ssl, &seen);
	if (!is_ip_literal(host))
		SSL_set_tlsext_host_name(ssl, host);
	if (!o->insecure) {
		param = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(
		    param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (is_ip_literal(host))
			X509_VERIFY_PARAM_set1_ip_asc(param, host);
		else
			X509_VERIFY_PARAM_set1_host(param, host, 0);
	} else {
		cs_log_warn("TLS to %s: certificate NOT verified (insecure-tls "
		            "is set for this inbox)",
		            host);
	}
	for (;;) {
		int e;

		rc = SSL_connect(ssl);
		if (rc == 1)
			break;
		e = SSL_get_error(ssl, rc);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    wait_fd(&tmp, e == SSL_ERROR_WANT_WRITE) == 0)
			continue;
		if (tmp.timed_out) {
			rc = cs_err_set(
			    err, CS_ENET,
			    "TLS handshake with %s: no answer within "
			    "%d s",
			    host, timeout_ms / 1000);
		} else if (!looks_tls(&seen) && looks_text(&seen)) {
			cs_buf said = CS_BUF_INIT;
			char h[80];
			size_t k = 0;

			while (k < seen.n && seen.b[k] != '\r' &&
			       seen.b[k] != '\n')
				k++;
			net_scrub((const char *)seen.b, k, 40, &said);
			hint(o, "starttls", h, sizeof h);
			rc = cs_err_set(
			    err, CS_ECRYPTO,
			    "TLS handshake with %s failed: the server "
			    "answered in plain text (\"%s\"), so this port "
			    "does not start with TLS: it wants STARTTLS%s",
			    host, said.data ? said.data : "", h);
			cs_buf_free(&said);
		} else if (SSL_get_verify_result(ssl) != X509_V_OK) {
			long v = SSL_get_verify_result(ssl);

			rc = cs_err_set(
			    err, CS_ECRYPTO,
			    "TLS: the certificate of %s is not trusted: %s%s",
			    host, X509_verify_cert_error_string(v),
			    v == X509_V_ERR_HOSTNAME_MISMATCH ||
			            v == X509_V_ERR_IP_ADDRESS_MISMATCH
			        ? " (the certificate is for another host)"
			    : o->ca_file ? ""
			                 : " (give the server's CA with "
			                   "--ca-file if it uses a private "
			                   "CA)");
		} else {
			unsigned long le = ERR_peek_last_error();
			char buf[256] =
			    "connection closed during the handshake";

			if (le)
				ERR_error_string_n(le, buf, sizeof buf);
			rc = cs_err_set(err, CS_ECRYPTO,
			                "TLS handshake with %s failed: %s",
			                host, buf);
		}
		ERR_clear_error();
		SSL_free(ssl);
		return rc;
	}
	capture(ssl, NULL);
	if (info)
		fill_info(ssl, info, !o->insecure);
	{
		conn *c = cs_xcalloc(1, sizeof *c);

		*c = tmp;
		c->timed_out = false;
		*out = mailstream_low_new(c, &driver);
		if (*out == NULL)
			cs_fatal("mailstream_low_new failed");
	}
	return 0;
}

int net_starttls(mailstream *s, const char *host, const net_tls_opts *o,
                 int timeout_ms, net_tls_info *info, cs_err *err)
{
	mailstream_low *old = mailstream_get_low(s), *low;
	int fd = mailstream_low_get_fd(old), rc;

	if (old->driver != &driver)
		return cs_err_set(err, CS_ENET,
		                  "STARTTLS on a stream coldseq did not open");
	rc = net_tls_low(fd, host, o, timeout_ms, &low, info, err);
	if (rc != 0)
		return rc;
	/* the old plaintext driver must not close the fd the TLS one uses */
	((conn *)old->data)->fd = -1;
	mailstream_low_free(old);
	mailstream_set_low(s, low);
	return 0;
}

void net_set_timeout(mailstream *s, int timeout_ms)
{
	mailstream_low *low = mailstream_get_low(s);

	if (low && low->driver == &driver)
		((conn *)low->data)->timeout_ms = timeout_ms;
}

bool net_timed_out(mailstream *s)
{
	mailstream_low *low = s ? mailstream_get_low(s) : NULL;

	return low && low->driver == &driver && ((conn *)low->data)->timed_out;
}

bool net_pending(mailstream *s)
{
	mailstream_low *low = s ? mailstream_get_low(s) : NULL;
	conn *c;

	if (low == NULL || low->driver != &driver)
		return false;
	c = low->data;
	return c->ssl && SSL_pending(c->ssl) > 0;
}

#define GREETING_PROBE_MS 3000 /* a server that speaks first does at once */
#define PROBE_TIMEOUT_MS  5000

static int wait_readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int rc;

	do {
		rc = poll(&p, 1, ms > 0 ? ms : 0);
	} while (rc < 0 && errno == EINTR);
	return rc;
}

/* True when host:port answers a ClientHello with a TLS record. */
static bool speaks_tls(const char *host, int port)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	first_bytes seen = {{0}, 0};
	conn tmp = {-1, NULL, PROBE_TIMEOUT_MS, false};
	cs_err err = CS_ERR_INIT;
	int64_t deadline = cs_mono_ms() + PROBE_TIMEOUT_MS;

	if (ctx == NULL)
		cs_fatal("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* only a probe */
	if (net_tcp_connect(host, port, PROBE_TIMEOUT_MS, &tmp.fd, &err) != 0) {
		SSL_CTX_free(ctx);
		cs_err_clear(&err);
		return false;
	}
	tmp.ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (tmp.ssl == NULL)
		cs_fatal("SSL_new failed");
	SSL_set_fd(tmp.ssl, tmp.fd);
	if (!is_ip_literal(host))
		SSL_set_tlsext_host_name(tmp.ssl, host);
	capture(tmp.ssl, &seen);
	while (seen.n < 2 && cs_mono_ms() < deadline) {
		int rc = SSL_connect(tmp.ssl), e;

		if (rc == 1)
			break;
		e = SSL_get_error(tmp.ssl, rc);
		tmp.timeout_ms = (int)(deadline - cs_mono_ms());
		if ((e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) ||
		    tmp.timeout_ms <= 0 ||
		    wait_fd(&tmp, e == SSL_ERROR_WANT_WRITE) != 0)
			break;
	}
	capture(tmp.ssl, NULL);
	ERR_clear_error();
	SSL_free(tmp.ssl);
	close(tmp.fd);
	return looks_tls(&seen);
}

int net_await_greeting(int fd, const char *host, int port,
                       const net_tls_opts *o, int timeout_ms, cs_err *err)
{
	int64_t deadline = cs_mono_ms() + timeout_ms;
	int first =
	    timeout_ms < GREETING_PROBE_MS ? timeout_ms : GREETING_PROBE_MS;
	char h[80];

	if (wait_readable(fd, first) != 0)
		return 0; /* bytes (or an error the protocol will read) */
	if (speaks_tls(host, port)) {
		hint(o, "tls", h, sizeof h);
		return cs_err_set(
		    err, CS_ENET,
		    "%s:%d sent no greeting but answered a TLS handshake: "
		    "this port speaks TLS at once (implicit TLS), not "
		    "STARTTLS or plain text%s",
		    host, port, h);
	}
	if (wait_readable(fd, (int)(deadline - cs_mono_ms())) != 0)
		return 0;
	return cs_err_set(err, CS_ENET,
	                  "%s:%d accepted the connection but sent no greeting "
	                  "within %d s",
	                  host, port, timeout_ms / 1000);
}

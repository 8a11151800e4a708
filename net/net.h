/*
 * net.h - connections for the mail protocols: TCP with a connect timeout,
 * and TLS through OpenSSL underneath libetpan.
 *
 * libetpan on Debian uses GnuTLS and does not verify certificates.  coldseq
 * therefore never lets libetpan do TLS: it connects the socket itself, runs
 * the OpenSSL handshake with chain and host-name verification, and hands
 * libetpan a mailstream_low whose driver (this module) reads and writes
 * through OpenSSL, with a timeout on every read and write.  SMTP and IMAP
 * share this code.
 *
 * Errors carry CS_ENET (connect, timeout, I/O) or CS_ECRYPTO (TLS, with
 * the verification failure spelled out).
 */
#ifndef COLDSEQ_NET_H
#define COLDSEQ_NET_H

#include <libetpan/libetpan.h>

#include "core/core.h"

typedef struct net_tls_opts {
	const char *ca_file;     /* trust only this PEM; NULL: system store
	                            (honours SSL_CERT_FILE / SSL_CERT_DIR) */
	bool insecure;           /* no verification: explicit per-inbox only;
	                            logs a warning at every connect */
	const char *mode_option; /* the setting that picks the TLS mode
	                            ("--imap-tls"), named in the hint when
	                            the port speaks the other mode; NULL:
	                            no hint */
} net_tls_opts;

/* What a TLS handshake found, for `inbox test` and logs. */
typedef struct net_tls_info {
	char version[16]; /* "TLSv1.3" */
	char cipher[64];
	char subject[256]; /* peer certificate subject, one line */
	char issuer[256];
	bool verified; /* chain and host name verified */
} net_tls_info;

/* Connect to host:port (name or IP literal) within timeout_ms.  On success
 * *fd is a connected, non-blocking, close-on-exec socket. */
int net_tcp_connect(const char *host, int port, int timeout_ms, int *fd,
                    cs_err *err);

/* A libetpan low-level stream over fd without TLS.  Takes ownership of fd.
 * Every read and write waits at most timeout_ms. */
mailstream_low *net_plain_low(int fd, int timeout_ms);

/* Run a TLS client handshake on fd, verifying the chain and that the
 * certificate names host (DNS name or IP address) unless o->insecure.
 * When the peer answers in plain text (a greeting such as "* OK" or
 * "220 ": a port that wants STARTTLS or no TLS), the error quotes it and
 * names `o->mode_option starttls`.
 * On success returns 0 and a low-level stream that owns fd; on failure
 * fd is left open for the caller to close. info may be NULL. */
int net_tls_low(int fd, const char *host, const net_tls_opts *o, int timeout_ms,
                mailstream_low **out, net_tls_info *info, cs_err *err);

/* For a protocol whose server speaks first (SMTP, IMAP), on a connection
 * that did not start with TLS: wait at most timeout_ms for the first byte
 * of the greeting.  When nothing has arrived after a few seconds, probe
 * host:port on a second connection with a TLS ClientHello: a server that
 * answers it with a TLS record speaks TLS at once (an implicit-TLS port,
 * which waits for the client to speak), and the error says so and names
 * `o->mode_option tls`, instead of waiting out the whole timeout.
 * Returns 0 when greeting bytes wait on fd (nothing is read), CS_ENET
 * otherwise.  fd stays the caller's. */
int net_await_greeting(int fd, const char *host, int port,
                       const net_tls_opts *o, int timeout_ms, cs_err *err);

/* STARTTLS: after the protocol said "go ahead", replace the stream's
 * plaintext low-level stream by a verified TLS one on the same socket. */
int net_starttls(mailstream *s, const char *host, const net_tls_opts *o,
                 int timeout_ms, net_tls_info *info, cs_err *err);

/* Change the read/write timeout of a stream made here (e.g. per SMTP
 * phase); ignored for other streams. */
void net_set_timeout(mailstream *s, int timeout_ms);

/* True when decrypted bytes wait inside the TLS layer (poll(2) on the
 * socket would not see them). */
bool net_pending(mailstream *s);

/* True when the last read or write on a stream made here timed out. */
bool net_timed_out(mailstream *s);

/* Copy at most cap bytes of a peer's reply into out, replacing control
 * and non-ASCII bytes by '?' and CR/LF by spaces, so it is safe to log or
 * store.  Marks a cut with "...". */
void net_scrub(const char *s, size_t n, size_t cap, cs_buf *out);

/* ---- OAuth2 clients (oauth.c) -----------------------------------------
 *
 * The three grants coldseq needs to keep a mailbox's XOAUTH2 bearer token
 * alive: the device-code grant (RFC 8628, Microsoft), the authorization
 * code grant with PKCE S256 and state, redirected to a listener on
 * 127.0.0.1 (RFC 8252, Google), and the refresh grant.  HTTPS through
 * libcurl; an endpoint must be https://, or http:// to a loopback host
 * (tests).  Redirects are never followed.
 *
 * Every token, code and verifier lives in a cs_secret (registered for
 * redaction); request and response bodies that held one are wiped.
 * Errors: CS_EAUTH when the provider refused the grant for good
 * (invalid_grant, access_denied, expired_token, authorization_declined:
 * only the user can fix it), CS_ETEMP when it asks to try later (5xx,
 * 429, temporarily_unavailable), CS_ENET when it could not be reached,
 * CS_EINVAL for anything else (a bad client id, an unexpected answer).
 * Each call blocks for at most the client's timeout_ms, except
 * net_oauth_device_wait.
 */

typedef struct net_oauth_client {
	const char *token_url;
	const char *client_id;
	const cs_secret *client_secret; /* NULL: a public client */
	int timeout_ms;                 /* one HTTP exchange, all in */
} net_oauth_client;

/* What a grant returned (free with net_oauth_tokens_free). */
typedef struct net_oauth_tokens {
	cs_secret *access;
	cs_secret *refresh; /* NULL: none given (a refresh keeps the old) */
	int64_t expires_in; /* seconds; 0 when the answer gave none */
	char *scope;        /* may be NULL */
} net_oauth_tokens;

void net_oauth_tokens_free(net_oauth_tokens *t);

/* 0 when url may carry tokens: https://, or http:// to loopback; no user
 * info.  what names the setting in the error. */
int net_oauth_check_url(const char *what, const char *url, cs_err *err);

/* Interpret a token endpoint's answer (HTTP status and body).  On error
 * oauth_error gets the OAuth "error" code ("" when none), cleaned. */
int net_oauth_parse_token(long status, const char *body, size_t n,
                          net_oauth_tokens *out, char oauth_error[64],
                          cs_err *err);

/* The refresh grant. */
int net_oauth_refresh(const net_oauth_client *c, const cs_secret *refresh,
                      const char *scope, net_oauth_tokens *out, cs_err *err);

/* ---- device code (RFC 8628) ---- */

typedef struct net_oauth_device {
	cs_secret *device_code;
	char *user_code, *verification_uri; /* show both to the user */
	char *message;                      /* the provider's text, or NULL */
	int interval_s, expires_in_s;
} net_oauth_device;

void net_oauth_device_free(net_oauth_device *d);
int net_oauth_device_start(const net_oauth_client *c, const char *device_url,
                           const char *scope, net_oauth_device *out,
                           cs_err *err);
/* Poll the token endpoint at the given interval (slow_down adds 5 s)
 * while the answer is authorization_pending, until the user approved
 * (0), declined (CS_EAUTH) or the code expired (CS_EAUTH). */
int net_oauth_device_wait(const net_oauth_client *c, const net_oauth_device *d,
                          net_oauth_tokens *out, cs_err *err);

/* ---- authorization code with PKCE (RFC 7636, RFC 8252) ---- */

typedef struct net_oauth_pkce {
	cs_secret *verifier; /* 43 characters, 256 random bits */
	char challenge[48];  /* BASE64URL(SHA256(verifier)) */
	char state[32];      /* 128 random bits, base64url */
} net_oauth_pkce;

void net_oauth_pkce_new(net_oauth_pkce *p);
void net_oauth_pkce_free(net_oauth_pkce *p);
/* auth_url with response_type=code, client_id, redirect_uri, scope, the
 * challenge (S256) and state, access_type=offline, prompt=consent and
 * login_hint (may be NULL), into out. */
int net_oauth_auth_url(const char *auth_url, const char *client_id,
                       const char *redirect_uri, const char *scope,
                       const char *login_hint, const net_oauth_pkce *p,
                       cs_buf *out, cs_err *err);
/* The redirect the browser was sent to (a whole URL, or only its path
 * and query): checks state, then returns the code (*code: caller frees).
 * An error=... answer (the user said no) is CS_EAUTH. */
int net_oauth_parse_redirect(const char *url, const char *state,
                             cs_secret **code, cs_err *err);

/* A listener on 127.0.0.1 at a port the system picks, for the redirect.
 * fd is non-blocking: poll it for POLLIN, then call _take. */
typedef struct net_oauth_listener {
	int fd;
	int port;
	char redirect_uri[48]; /* "http://127.0.0.1:PORT/" */
} net_oauth_listener;

int net_oauth_listen(net_oauth_listener *l, cs_err *err);
/* Serve one waiting connection: *done is true when it was the redirect
 * (then the return value and *code are net_oauth_parse_redirect's); a
 * stray request (favicon, wrong state) gets an error page and *done
 * stays false. */
int net_oauth_listener_take(net_oauth_listener *l, const char *state,
                            cs_secret **code, bool *done, cs_err *err);
void net_oauth_listener_close(net_oauth_listener *l);
/* The code for tokens. */
int net_oauth_exchange(const net_oauth_client *c, const cs_secret *code,
                       const cs_secret *verifier, const char *redirect_uri,
                       net_oauth_tokens *out, cs_err *err);

/* ---- DNS through c-ares on a libuv loop (dns.c, dns_cache.c) ------------
 *
 * One resolver per loop.  Queries run in parallel over c-ares's sockets,
 * watched by the loop (uv_poll) with one uv_timer for c-ares's timeouts.
 * Answers are cached per (lower-cased name, type) for the smallest TTL of
 * the answer's RRset; a NXDOMAIN or NODATA answer for the TTL of the SOA
 * in its authority section (RFC 2308; 60 s when none came), kept between
 * 1 s and one day.  Errors (timeout, SERVFAIL, REFUSED, no server) are
 * cached for NET_DNS_ERROR_TTL seconds only.  Queries for a key already
 * in flight wait for that one query: each (name, type) is asked once.
 *
 * Two ways to use it:
 *  - on a loop that someone else runs (the service): net_dns_query, the
 *    callback runs on that loop's thread;
 *  - on a private loop (loop NULL at creation: the CLI, a worker-pool
 *    job): net_dns_query_sync runs the private loop until its answer is
 *    in; net_dns_run runs it until every query started is answered (so a
 *    caller can start many with net_dns_query, then wait once).
 * A resolver is used from one thread only.
 */

#define NET_DNS_ERROR_TTL 5

/* RR types coldseq asks for (the DNS numbers). */
enum {
	NET_DNS_A = 1,
	NET_DNS_NS = 2,
	NET_DNS_CNAME = 5,
	NET_DNS_SOA = 6,
	NET_DNS_PTR = 12,
	NET_DNS_MX = 15,
	NET_DNS_TXT = 16,
	NET_DNS_AAAA = 28
};

typedef enum net_dns_status {
	NET_DNS_OK,       /* at least one RR of the type asked (after CNAMEs) */
	NET_DNS_NXDOMAIN, /* the name does not exist (rcode 3) */
	NET_DNS_NODATA,   /* the name exists, no RR of that type */
	NET_DNS_ERROR     /* no usable answer: see net_dns_answer.error */
} net_dns_status;

typedef struct net_dns_rr {
	int type;     /* NET_DNS_*; only RRs of the type asked are listed */
	uint32_t ttl; /* as received */
	/* TXT: the character-strings concatenated with nothing between
	 * (RFC 7208 3.3, RFC 6376 3.6.2.2), NUL-terminated, len without
	 * the NUL (a TXT may hold NUL bytes: use len).  MX, CNAME, PTR,
	 * NS: the target name, lower-cased, no trailing dot.  A/AAAA: the
	 * address in text form. */
	char *text;
	size_t len;
	int pref;               /* MX preference */
	int family;             /* A/AAAA: AF_INET or AF_INET6 */
	unsigned char addr[16]; /* A/AAAA: network order (4 or 16 bytes) */
} net_dns_rr;

/* An answer is shared (the cache holds one reference); it never changes
 * once made.  Keep one beyond the callback with net_dns_answer_ref. */
typedef struct net_dns_answer {
	net_dns_status status;
	char error[64]; /* NET_DNS_ERROR: "timeout", "server failure",
	                   "refused", "no server", "malformed answer", ...
	                   and "" otherwise */
	char *name;     /* the name asked, lower-cased, no trailing dot */
	int type;       /* the type asked */
	size_t n;       /* RRs of that type (CNAME chains followed) */
	net_dns_rr *rr;
	char *cname; /* the last CNAME target followed, or NULL */
	bool cached; /* answered from the cache */
	int refs;
} net_dns_answer;

net_dns_answer *net_dns_answer_ref(net_dns_answer *a);
void net_dns_answer_unref(net_dns_answer *a);

typedef struct net_dns_opts {
	/* "host[:port][,host[:port]]..." (IPv6 with a port: "[::1]:5353");
	 * NULL or "": the system's resolvers (/etc/resolv.conf) */
	const char *servers;
	int timeout_ms; /* per try; 0: 3000 */
	int tries;      /* 0: 2 */
} net_dns_opts;

typedef struct net_dns net_dns;

/* loop NULL: the resolver owns a private loop (see above).  A bad
 * servers list is CS_EINVAL naming the item. */
struct uv_loop_s; /* libuv's uv_loop_t (uv.h needs POSIX macros first) */
int net_dns_new(struct uv_loop_s *loop, const net_dns_opts *o, net_dns **out,
                cs_err *err);
/* Cancels what is in flight (callbacks run with an error answer,
 * "cancelled"), then frees.  On a shared loop the handles close on that
 * loop's next turn. */
void net_dns_free(net_dns *r);

/* The callback gets the answer (never NULL), valid during the call. It may
 * run before net_dns_query returns (a cached answer, a malformed name). */
typedef void (*net_dns_cb)(void *arg, const net_dns_answer *a);
void net_dns_query(net_dns *r, const char *name, int type, net_dns_cb cb,
                   void *arg);

/* Private loop only: ask and wait.  Returns a reference the caller
 * unrefs (never NULL). */
net_dns_answer *net_dns_query_sync(net_dns *r, const char *name, int type);
/* Private loop only: run until nothing is in flight. */
void net_dns_run(net_dns *r);

/* Counters for `dns query --stats`, the bench and tests. */
typedef struct net_dns_stats {
	unsigned long queries;    /* net_dns_query calls */
	unsigned long sent;       /* questions that went to a server */
	unsigned long cache_hits; /* answered from the cache */
	unsigned long coalesced;  /* joined a question already in flight */
} net_dns_stats;
void net_dns_get_stats(const net_dns *r, net_dns_stats *out);
/* Drop every cached answer (tests; `config set dns.servers`). */
void net_dns_flush(net_dns *r);

/* "1.2.0.192.in-addr.arpa" / the ip6.arpa nibble name for an address in
 * text form; CS_EINVAL when it is not an address. */
int net_dns_reverse_name(const char *ip, cs_buf *out, cs_err *err);

#endif

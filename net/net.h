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
	const char *ca_file; /* trust only this PEM; NULL: system store
	                        (honours SSL_CERT_FILE / SSL_CERT_DIR) */
	bool insecure;       /* no verification: explicit per-inbox only;
	                        logs a warning at every connect */
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
 * On success returns 0 and a low-level stream that owns fd; on failure
 * fd is left open for the caller to close. info may be NULL. */
int net_tls_low(int fd, const char *host, const net_tls_opts *o, int timeout_ms,
                mailstream_low **out, net_tls_info *info, cs_err *err);

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

#endif

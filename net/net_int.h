/*
 * net_int.h - declarations shared by the files of net/ only.
 */
#ifndef COLDSEQ_NET_INT_H
#define COLDSEQ_NET_INT_H

#include "net.h"

/* Append s percent-encoded (RFC 3986 unreserved characters kept). */
void net_oauth_pct_encode(cs_buf *b, const char *s);
/* Append "key=value" (value percent-encoded), '&'-separated, to a form or
 * query string. */
void net_oauth_form_add(cs_buf *b, const char *key, const char *value);

/* ---- DNS (dns.c, dns_parse.c, dns_cache.c) ------------------------------ */

#include <stdint.h>

/* The time an answer is kept is clamped to [NET_DNS_TTL_MIN,
 * NET_DNS_TTL_MAX] seconds. */
#define NET_DNS_TTL_MIN 1
#define NET_DNS_TTL_MAX 86400
/* Most answers the cache holds: past it, expired ones go, then the
 * oldest. */
#define NET_DNS_CACHE_MAX 10000

/* The answer in buf (len bytes, as a server sent it) to the question
 * (qname: lower-cased, no trailing dot; qtype) as a new answer (one
 * reference, never NULL): OK, NXDOMAIN, NODATA, or ERROR with the
 * server's rcode in words or "malformed answer".  *ttl_s: how long to
 * keep it (see net.h; clamped).  Any input is safe (the fuzz target's). */
net_dns_answer *net_dns_parse(const unsigned char *buf, size_t len,
                              const char *qname, int qtype, uint32_t *ttl_s);
/* A new ERROR answer (one reference) saying why. */
net_dns_answer *net_dns_answer_error(const char *qname, int qtype,
                                     const char *why);
/* A deep copy (one reference). */
net_dns_answer *net_dns_answer_copy(const net_dns_answer *a);

/* The TTL cache: (name, type) -> answer until an instant of a monotonic
 * clock in ms (the caller's: uv_now of the resolver's loop). */
typedef struct net_dns_cache net_dns_cache;

net_dns_cache *net_dns_cache_new(size_t max_entries);
void net_dns_cache_free(net_dns_cache *c);
/* A reference to the answer for (name, type) if one is kept and has not
 * expired at now_ms (caller unrefs), else NULL. */
net_dns_answer *net_dns_cache_get(net_dns_cache *c, const char *name, int type,
                                  uint64_t now_ms);
/* Keep a (takes one reference of the caller's) until now_ms + ttl_s s,
 * replacing what was kept for the same key. */
void net_dns_cache_put(net_dns_cache *c, net_dns_answer *a, uint32_t ttl_s,
                       uint64_t now_ms);
void net_dns_cache_clear(net_dns_cache *c);
size_t net_dns_cache_size(const net_dns_cache *c);

#endif

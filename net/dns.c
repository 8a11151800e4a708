/*
 * dns.c - the resolver: c-ares 1.18 driven by a libuv loop, with the TTL
 * cache of dns_cache.c and in-flight coalescing (net.h says what callers
 * may rely on).
 *
 * Wiring: c-ares tells us through sock_state_cb which of its sockets to
 * watch; each gets a uv_poll, removed from our list at once when c-ares
 * says it is done with the fd (it may reuse the number before the close
 * callback runs).  One uv_timer is re-armed after every c-ares call from
 * ares_timeout().  Answers are read raw (ares_query) and parsed by
 * dns_parse.c; ARES_FLAG_NOCHECKRESP makes SERVFAIL and REFUSED reach us
 * as answers, so they are reported as what they are.
 *
 * At most NET_DNS_MAX_ACTIVE questions are with c-ares at once; the rest
 * wait in a FIFO and go out as answers come in.  A burst of hundreds
 * (`doctor --all`) sent at once overflows socket buffers (ours or the
 * server's) and the lost datagrams cost a whole retry timeout each.
 *
 * Ownership: a question in flight (struct dns_q) lives until its c-ares
 * callback has run, which can happen inside ares_query (a bad name),
 * ares_process_fd, ares_cancel or ares_destroy.  The resolver itself is
 * freed when its last handle's close callback has run.
 */
#define _POSIX_C_SOURCE 200809L
#include "net_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#define NET_DNS_MAX_ACTIVE 64
#include <uv.h>

typedef struct dns_poll {
	uv_poll_t h;
	ares_socket_t fd;
	net_dns *r;
	struct dns_poll *next;
} dns_poll;

typedef struct waiter {
	net_dns_cb cb;
	void *arg;
} waiter;

typedef struct dns_q {
	net_dns *r;
	char *name;
	int type;
	waiter *w;
	size_t nw;
	bool started; /* handed to c-ares (else waiting in r->queue) */
	struct dns_q *next;
} dns_q;

struct net_dns {
	uv_loop_t *loop;
	uv_loop_t priv; /* when own_loop */
	bool own_loop;
	ares_channel ch;
	uv_timer_t timer;
	dns_poll *polls;
	dns_q *inflight; /* every question not yet answered */
	dns_q **queue;   /* of those, the ones not yet started, FIFO */
	size_t nqueue, qhead, qcap;
	int active; /* started and not yet answered */
	net_dns_cache *cache;
	net_dns_stats stats;
	int handles; /* open libuv handles (timer, polls) */
	bool freeing;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

static void lib_init(void)
{
	lib_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

/* ---- handles ------------------------------------------------------------ */

static void maybe_release(net_dns *r)
{
	if (r->freeing && r->handles == 0 && !r->own_loop) {
		net_dns_cache_free(r->cache);
		free(r->queue);
		free(r);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	net_dns *r;

	if (h->type == UV_POLL) {
		dns_poll *p = h->data;

		r = p->r;
		free(p);
	} else
		r = h->data;
	r->handles--;
	maybe_release(r);
}

static void arm_timer(net_dns *r);

static void on_timer(uv_timer_t *t)
{
	net_dns *r = t->data;

	ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	arm_timer(r);
}

static void arm_timer(net_dns *r)
{
	struct timeval tv, *t;

	if (r->freeing)
		return;
	t = ares_timeout(r->ch, NULL, &tv);
	if (t == NULL) {
		uv_timer_stop(&r->timer);
		return;
	}
	uv_timer_start(&r->timer, on_timer,
	               (uint64_t)t->tv_sec * 1000 +
	                   (uint64_t)(t->tv_usec + 999) / 1000,
	               0);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	dns_poll *p = h->data;
	net_dns *r = p->r;
	ares_socket_t fd = p->fd;

	ares_process_fd(
	    r->ch,
	    (status < 0 || (events & UV_READABLE)) ? fd : ARES_SOCKET_BAD,
	    (status < 0 || (events & UV_WRITABLE)) ? fd : ARES_SOCKET_BAD);
	arm_timer(r);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	net_dns *r = data;
	dns_poll **pp, *p;

	for (pp = &r->polls; *pp && (*pp)->fd != fd; pp = &(*pp)->next)
		;
	p = *pp;
	if (!readable && !writable) {
		if (p == NULL)
			return;
		*pp = p->next;
		uv_poll_stop(&p->h);
		uv_close((uv_handle_t *)&p->h, on_handle_closed);
		return;
	}
	if (p == NULL) {
		p = cs_xcalloc(1, sizeof *p);
		p->fd = fd;
		p->r = r;
		if (uv_poll_init_socket(r->loop, &p->h, fd) != 0) {
			/* never watched: c-ares's own timeout ends the
			 * question */
			cs_log_warn("dns: cannot watch socket %d", (int)fd);
			free(p);
			return;
		}
		p->h.data = p;
		r->handles++;
		p->next = r->polls;
		r->polls = p;
	}
	uv_poll_start(
	    &p->h, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
	    on_poll);
}

/* ---- servers ------------------------------------------------------------ */

/* One item of a servers list: IPv4[:port], [IPv6][:port] or a bare IPv6. */
static bool server_ok(const char *s, size_t n)
{
	char host[64];
	unsigned char b[16];
	const char *port = NULL, *close;

	if (n == 0 || n >= sizeof host + 8)
		return false;
	if (s[0] == '[') {
		close = memchr(s, ']', n);
		if (close == NULL || (size_t)(close - s - 1) >= sizeof host)
			return false;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		if (inet_pton(AF_INET6, host, b) != 1)
			return false;
		if ((size_t)(close - s + 1) == n)
			return true;
		if (close[1] != ':')
			return false;
		port = close + 2;
	} else {
		const char *colon = memchr(s, ':', n);

		if (n >= sizeof host)
			return false;
		memcpy(host, s, n);
		host[n] = '\0';
		if (colon &&
		    memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
			return inet_pton(AF_INET6, host, b) == 1;
		if (colon) {
			host[colon - s] = '\0';
			port = colon + 1;
		}
		if (inet_pton(AF_INET, host, b) != 1)
			return false;
		if (port == NULL)
			return true;
	}
	{
		long v = 0;
		const char *q, *end = s + n;

		if (port >= end || end - port > 5)
			return false;
		for (q = port; q < end; q++) {
			if (!isdigit((unsigned char)*q))
				return false;
			v = v * 10 + (*q - '0');
		}
		return v >= 1 && v <= 65535;
	}
}

static int check_servers(const char *list, cs_err *err)
{
	const char *p = list;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (!server_ok(p, n))
			return cs_err_set(err, CS_EINVAL,
			                  "DNS server \"%.*s\" is not an IP "
			                  "address with an optional port "
			                  "(192.0.2.1:53, [2001:db8::1]:53)",
			                  (int)(n > 80 ? 80 : n), p);
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* ---- life --------------------------------------------------------------- */

int net_dns_new(struct uv_loop_s *loop, const net_dns_opts *o, net_dns **out,
                cs_err *err)
{
	net_dns *r;
	struct ares_options ao;
	char lookups[] = "b";
	int rc, mask;

	*out = NULL;
	pthread_once(&lib_once, lib_init);
	if (lib_rc != ARES_SUCCESS)
		return cs_err_set(err, CS_ENET, "DNS: c-ares did not start: %s",
		                  ares_strerror(lib_rc));
	if (o && o->servers && *o->servers &&
	    (rc = check_servers(o->servers, err)) != 0)
		return rc;
	r = cs_xcalloc(1, sizeof *r);
	if (loop == NULL) {
		if (uv_loop_init(&r->priv) != 0) {
			free(r);
			return cs_err_set(err, CS_EIO,
			                  "DNS: cannot make an event loop");
		}
		r->loop = &r->priv;
		r->own_loop = true;
	} else
		r->loop = loop;
	memset(&ao, 0, sizeof ao);
	ao.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP | ARES_FLAG_EDNS;
	ao.timeout = o && o->timeout_ms > 0 ? o->timeout_ms : 3000;
	ao.tries = o && o->tries > 0 ? o->tries : 2;
	ao.lookups = lookups;
	ao.ednspsz = 1232;
	ao.sock_state_cb = sock_state;
	ao.sock_state_cb_data = r;
	mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	       ARES_OPT_LOOKUPS | ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ;
	rc = ares_init_options(&r->ch, &ao, mask);
	if (rc == ARES_SUCCESS && o && o->servers && *o->servers)
		rc = ares_set_servers_ports_csv(r->ch, o->servers);
	if (rc != ARES_SUCCESS) {
		int code = CS_ENET;

		if (r->ch)
			ares_destroy(r->ch);
		if (r->own_loop)
			uv_loop_close(&r->priv);
		free(r);
		if (rc == ARES_EBADSTR)
			code = CS_EINVAL;
		return cs_err_set(err, code,
		                  "DNS: cannot set up the resolver: %s",
		                  ares_strerror(rc));
	}
	uv_timer_init(r->loop, &r->timer);
	r->timer.data = r;
	r->handles = 1;
	r->cache = net_dns_cache_new(NET_DNS_CACHE_MAX);
	*out = r;
	return 0;
}

static void deliver(net_dns *r, dns_q *q, net_dns_answer *a);

static void cancel_queued(net_dns *r)
{
	while (r->qhead < r->nqueue) {
		dns_q *q = r->queue[r->qhead++];
		net_dns_answer *a =
		    net_dns_answer_error(q->name, q->type, "cancelled");

		deliver(r, q, a);
		net_dns_answer_unref(a);
	}
	r->qhead = r->nqueue = 0;
}

void net_dns_free(net_dns *r)
{
	if (r == NULL || r->freeing)
		return;
	r->freeing = true;
	/* every question still asked gets "cancelled" (on_answer), and
	 * c-ares closes its sockets (sock_state: the polls close) */
	ares_destroy(r->ch);
	r->ch = NULL;
	/* and so does every question still waiting its turn */
	cancel_queued(r);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, on_handle_closed);
	if (r->own_loop) {
		uv_run(&r->priv, UV_RUN_DEFAULT);
		if (uv_loop_close(&r->priv) != 0)
			cs_log_warn("dns: the resolver's loop did not close");
		net_dns_cache_free(r->cache);
		free(r->queue);
		free(r);
	}
	/* shared loop: freed by the last close callback (maybe_release) */
}

/* ---- questions ---------------------------------------------------------- */

static void deliver(net_dns *r, dns_q *q, net_dns_answer *a)
{
	dns_q **pp;
	size_t i;

	for (pp = &r->inflight; *pp && *pp != q; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = q->next;
	if (q->started)
		r->active--;
	for (i = 0; i < q->nw; i++)
		q->w[i].cb(q->w[i].arg, a);
	free(q->w);
	free(q->name);
	free(q);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen);

static void start(net_dns *r, dns_q *q)
{
	q->started = true;
	r->active++;
	r->stats.sent++;
	ares_query(r->ch, q->name, 1 /* IN */, q->type, on_answer, q);
}

/* Start waiting questions while fewer than NET_DNS_MAX_ACTIVE are out. */
static void pump(net_dns *r)
{
	bool any = false;

	while (!r->freeing && r->active < NET_DNS_MAX_ACTIVE &&
	       r->qhead < r->nqueue) {
		start(r, r->queue[r->qhead++]);
		any = true;
	}
	if (r->qhead == r->nqueue)
		r->qhead = r->nqueue = 0;
	if (any)
		arm_timer(r);
}

static const char *ares_why(int status)
{
	switch (status) {
	case ARES_ETIMEOUT: return "timeout";
	case ARES_ECONNREFUSED: return "connection refused";
	case ARES_ESERVFAIL: return "server failure";
	case ARES_EREFUSED: return "refused";
	case ARES_ENOTIMP: return "not implemented";
	case ARES_EFORMERR: return "format error";
	case ARES_EBADRESP: return "malformed answer";
	case ARES_EBADNAME: return "bad name";
	case ARES_ENOMEM: return "out of memory";
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED: return "cancelled";
	default: return "error";
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
                      int alen)
{
	dns_q *q = arg;
	net_dns *r = q->r;
	net_dns_answer *a;
	uint32_t ttl = NET_DNS_ERROR_TTL;
	bool keep = true;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		a = net_dns_answer_error(q->name, q->type, "cancelled");
		keep = false;
	} else if (abuf && alen > 0)
		a = net_dns_parse(abuf, (size_t)alen, q->name, q->type, &ttl);
	else
		a = net_dns_answer_error(q->name, q->type, ares_why(status));
	if (keep && !r->freeing) {
		net_dns_answer *c = net_dns_answer_copy(a);

		c->cached = true;
		uv_update_time(r->loop);
		net_dns_cache_put(r->cache, c, ttl, uv_now(r->loop));
	}
	cs_log_debug("dns: %s type %d: %s%s%s (%zu RR, kept %u s)", q->name,
	             q->type,
	             a->status == NET_DNS_OK         ? "ok"
	             : a->status == NET_DNS_NXDOMAIN ? "nxdomain"
	             : a->status == NET_DNS_NODATA   ? "nodata"
	                                             : "error",
	             *a->error ? ": " : "", a->error, a->n, keep ? ttl : 0);
	deliver(r, q, a);
	net_dns_answer_unref(a);
	pump(r);
}

/* Lower-case name without its trailing dot into out; false when it is not
 * a name c-ares can ask (empty, too long, an empty label, a space,
 * a control byte or a backslash). */
static bool norm_name(const char *name, char out[256])
{
	size_t n = strlen(name), i, label = 0;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= 0x20 || c >= 0x7f || c == '\\')
			return false;
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > 63)
			return false;
		out[i] = (char)tolower(c);
	}
	out[n] = '\0';
	return label > 0;
}

void net_dns_query(net_dns *r, const char *name, int type, net_dns_cb cb,
                   void *arg)
{
	char key[256];
	net_dns_answer *a;
	dns_q *q;

	r->stats.queries++;
	if (r->freeing || name == NULL || !norm_name(name, key)) {
		a = net_dns_answer_error(name ? name : "", type,
		                         r->freeing ? "cancelled" : "bad name");
		cb(arg, a);
		net_dns_answer_unref(a);
		return;
	}
	uv_update_time(r->loop);
	if ((a = net_dns_cache_get(r->cache, key, type, uv_now(r->loop)))) {
		r->stats.cache_hits++;
		cb(arg, a);
		net_dns_answer_unref(a);
		return;
	}
	for (q = r->inflight; q; q = q->next)
		if (q->type == type && strcmp(q->name, key) == 0) {
			q->w = cs_xrealloc(q->w, (q->nw + 1) * sizeof *q->w);
			q->w[q->nw].cb = cb;
			q->w[q->nw].arg = arg;
			q->nw++;
			r->stats.coalesced++;
			return;
		}
	q = cs_xcalloc(1, sizeof *q);
	q->r = r;
	q->name = cs_xstrdup(key);
	q->type = type;
	q->w = cs_xmalloc(sizeof *q->w);
	q->w[0].cb = cb;
	q->w[0].arg = arg;
	q->nw = 1;
	q->next = r->inflight;
	r->inflight = q;
	if (r->active < NET_DNS_MAX_ACTIVE && r->qhead == r->nqueue) {
		start(r, q);
		arm_timer(r);
		return;
	}
	if (r->nqueue == r->qcap) {
		r->qcap = r->qcap ? r->qcap * 2 : 64;
		r->queue = cs_xrealloc(r->queue, r->qcap * sizeof(dns_q *));
	}
	r->queue[r->nqueue++] = q;
}

static void sync_cb(void *arg, const net_dns_answer *a)
{
	net_dns_answer **slot = arg;

	*slot = net_dns_answer_ref((net_dns_answer *)a);
}

net_dns_answer *net_dns_query_sync(net_dns *r, const char *name, int type)
{
	net_dns_answer *a = NULL;

	CS_BUG_CHECK(r->own_loop);
	net_dns_query(r, name, type, sync_cb, &a);
	while (a == NULL) {
		if (uv_run(r->loop, UV_RUN_ONCE) == 0 && a == NULL)
			break;
	}
	if (a == NULL) /* nothing left to wait for: cannot happen */
		a = net_dns_answer_error(name, type, "no answer");
	return a;
}

void net_dns_run(net_dns *r)
{
	CS_BUG_CHECK(r->own_loop);
	while (r->inflight)
		if (uv_run(r->loop, UV_RUN_ONCE) == 0)
			break;
}

void net_dns_get_stats(const net_dns *r, net_dns_stats *out)
{
	*out = r->stats;
}

void net_dns_flush(net_dns *r)
{
	net_dns_cache_clear(r->cache);
}

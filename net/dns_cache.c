/*
 * dns_cache.c - the resolver's answers by (name, type) until they expire.
 *
 * A chained hash table for lookups and one list in insertion order for
 * eviction: when the cache is full, every expired entry goes, and if that
 * frees nothing the oldest goes.  Times are the caller's monotonic
 * milliseconds; nothing here reads a clock.
 */
#include "net_int.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS 4096

typedef struct entry {
	net_dns_answer *a;
	uint64_t expires_ms;
	struct entry *hnext;         /* bucket chain */
	struct entry *older, *newer; /* insertion order */
} entry;

struct net_dns_cache {
	entry *bucket[NBUCKETS];
	entry *oldest, *newest;
	size_t n, max;
};

static unsigned hash(const char *name, int type)
{
	uint32_t h = 2166136261u ^ (uint32_t)type;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % NBUCKETS;
}

net_dns_cache *net_dns_cache_new(size_t max_entries)
{
	net_dns_cache *c = cs_xcalloc(1, sizeof *c);

	c->max = max_entries ? max_entries : 1;
	return c;
}

static entry **find(net_dns_cache *c, const char *name, int type)
{
	entry **pp = &c->bucket[hash(name, type)];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->a->type == type && strcmp((*pp)->a->name, name) == 0)
			return pp;
	return pp;
}

static void drop(net_dns_cache *c, entry *e)
{
	entry **pp = &c->bucket[hash(e->a->name, e->a->type)];

	while (*pp && *pp != e) /* e itself, not merely its key */
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	net_dns_answer_unref(e->a);
	free(e);
	c->n--;
}

net_dns_answer *net_dns_cache_get(net_dns_cache *c, const char *name, int type,
                                  uint64_t now_ms)
{
	entry *e = *find(c, name, type);

	if (e == NULL)
		return NULL;
	if (e->expires_ms <= now_ms) {
		drop(c, e);
		return NULL;
	}
	return net_dns_answer_ref(e->a);
}

void net_dns_cache_put(net_dns_cache *c, net_dns_answer *a, uint32_t ttl_s,
                       uint64_t now_ms)
{
	entry *e = *find(c, a->name, a->type);

	if (e)
		drop(c, e);
	if (c->n >= c->max) {
		entry *x = c->oldest;

		while (x) {
			entry *next = x->newer;

			if (x->expires_ms <= now_ms)
				drop(c, x);
			x = next;
		}
		/* drop() moves c->oldest off the entry it frees (the oldest
		 * has no older); the analyzer does not follow the list */
		if (c->n >= c->max && c->oldest)
			/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
			drop(c, c->oldest);
	}
	e = cs_xcalloc(1, sizeof *e);
	e->a = a;
	e->expires_ms = now_ms + (uint64_t)ttl_s * 1000;
	e->hnext = c->bucket[hash(a->name, a->type)];
	c->bucket[hash(a->name, a->type)] = e;
	e->older = c->newest;
	if (c->newest)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
	c->n++;
}

void net_dns_cache_clear(net_dns_cache *c)
{
	entry *e, *next;

	for (e = c->oldest; e; e = next) {
		next = e->newer;
		net_dns_answer_unref(e->a);
		free(e);
	}
	memset(c->bucket, 0, sizeof c->bucket);
	c->oldest = c->newest = NULL;
	c->n = 0;
}

size_t net_dns_cache_size(const net_dns_cache *c)
{
	return c->n;
}

void net_dns_cache_free(net_dns_cache *c)
{
	if (c == NULL)
		return;
	net_dns_cache_clear(c);
	free(c);
}

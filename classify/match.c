/*
 * match.c - find the first phrase of a list in a text, in one pass.
 *
 * The detectors ask "which of these phrases (the earliest in the list
 * wins) occurs in this flattened text?" many times per message.  One
 * memmem pass per phrase costs the text's length times the list's length;
 * here each list is compiled once (on first use, thread-safe, never freed)
 * into buckets keyed by a hash of three bytes of a phrase, with a bitmap
 * of the used buckets, so one pass over the text tries at each probed
 * position only the phrases that can be there, and usually none.
 *
 * A list whose phrases are all long need not be probed at every
 * position: with a stride of S (S + 2 no longer than its shortest
 * phrase), each phrase is entered S times, keyed by its three bytes at
 * offsets 0 to S-1, and the text is probed every S bytes.  A phrase that
 * starts at i is then met exactly once, at the first probe j >= i, by its
 * entry of offset j - i.  Entries of a bucket are kept by offset, largest
 * first, so a probe tries its candidate starts (j - offset) in increasing
 * order, and the earliest place of each phrase is still the one found.
 */
#include "cls_int.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 16384 buckets: a used-bucket bitmap of 2 KiB stays in L1 (a byte per
 * bucket would take 16 KiB per list, and the scan's probes, one per text
 * position at a random place in it, would miss the cache), and a few
 * hundred phrases leave most text positions in an empty bucket. */
#define PHR_BITS    14
#define PHR_BUCKETS (1u << PHR_BITS)
/* The longest stride: more entries per phrase fill more buckets. */
#define PHR_MAX_STRIDE 16

typedef struct phr_ent {
	const char *w;
	uint64_t pre, mask; /* the first (up to) eight bytes, and which */
	uint32_t key;       /* three bytes at off, as the scan's key */
	uint16_t len;
	uint16_t rank;
	uint8_t off; /* where in the phrase its key is */
} phr_ent;

struct cls_phr_tab {
	uint64_t used[PHR_BUCKETS / 64]; /* bit set: the bucket holds phrases */
	uint16_t start[PHR_BUCKETS + 1];
	size_t stride; /* positions probed: every stride-th */
	size_t nshort; /* phrases under three bytes, tried everywhere */
	phr_ent *shorts;
	phr_ent ents[]; /* by bucket, largest off first */
};

/* The key of the three bytes at s. */
static inline uint32_t phr_key(const unsigned char *s)
{
	return (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
}

/* The bucket of a key.  The multiplier's low byte is zero, so a byte
 * above the key's three (a rolled key's oldest) drops out of the product:
 * the rolling scan needs no mask on its critical path. */
#define PHR_MUL (2654435761u << 8)

static inline unsigned phr_hash(uint32_t key)
{
	return (uint32_t)(key * PHR_MUL) >> (32 - PHR_BITS);
}

/* Number of phrases in p. */
static size_t phr_count(const cls_phr *p)
{
	size_t n = 0, g;
	const char *const *w;

	if (p->words)
		for (w = p->words; *w; w++)
			n++;
	for (g = 0; p->groups && p->groups[g].words; g++)
		for (w = p->groups[g].words; *w; w++)
			n++;
	return n;
}

#ifdef CLS_KFOLD
/* The test-only phrase registry (cls_int.h): single-threaded use only
 * (the k-fold tool), so plain statics. */
#include <stdio.h>

typedef struct kf_list {
	const cls_phr *p;
	size_t n;
	char **id;
	const char **w;
	bool *off, *hit;
} kf_list;

static kf_list kf_lists[64];
static size_t kf_nlists;
static cs_buf kf_disabled; /* "\n"-separated ids, "\n" at both ends */
static bool kf_loaded, kf_stats;

static void kf_load(void)
{
	const char *path = getenv("CLS_KFOLD_DISABLE");
	FILE *f;
	char line[1024];

	if (kf_loaded)
		return;
	kf_loaded = true;
	kf_stats = getenv("CLS_KFOLD_STATS") != NULL;
	cs_buf_putc(&kf_disabled, '\n');
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f)) {
		size_t l = strcspn(line, "\n");

		cs_buf_append(&kf_disabled, line, l);
		cs_buf_putc(&kf_disabled, '\n');
	}
	fclose(f);
}

static char *kf_id(const cls_phr *p, size_t g, const char *w)
{
	if (p->groups)
		return cs_xasprintf("%s.%s:%s", p->name, p->groups[g].name, w);
	return cs_xasprintf("%s:%s", p->name, w);
}

static bool kf_off(const char *id)
{
	cs_buf k = CS_BUF_INIT;
	bool hit;

	cs_buf_putc(&k, '\n');
	cs_buf_puts(&k, id);
	cs_buf_putc(&k, '\n');
	hit = cls_find(kf_disabled.data, kf_disabled.len, k.data) != NULL;
	cs_buf_free(&k);
	return hit;
}

/* Enter p's phrases in the registry; is phrase k of p disabled? */
static kf_list *kf_register(const cls_phr *p)
{
	size_t i, g, k = 0;
	kf_list *l;
	const char *const *w;

	kf_load();
	for (i = 0; i < kf_nlists; i++)
		if (kf_lists[i].p == p)
			return &kf_lists[i];
	if (kf_nlists == sizeof kf_lists / sizeof kf_lists[0])
		cs_fatal("k-fold registry: too many phrase lists");
	l = &kf_lists[kf_nlists++];
	l->p = p;
	l->n = phr_count(p);
	l->id = cs_xcalloc(l->n + 1, sizeof *l->id);
	l->w = cs_xcalloc(l->n + 1, sizeof *l->w);
	l->off = cs_xcalloc(l->n + 1, sizeof *l->off);
	l->hit = cs_xcalloc(l->n + 1, sizeof *l->hit);
	if (p->words)
		for (w = p->words; *w; w++, k++) {
			l->w[k] = *w;
			l->id[k] = kf_id(p, 0, *w);
		}
	for (g = 0; p->groups && p->groups[g].words; g++)
		for (w = p->groups[g].words; *w; w++, k++) {
			l->w[k] = *w;
			l->id[k] = kf_id(p, g, *w);
		}
	for (k = 0; k < l->n; k++)
		l->off[k] = kf_off(l->id[k]);
	return l;
}

/* Note the enabled phrases of p that occur in hay[0..n). */
static void kf_note(const cls_phr *p, const char *hay, size_t n)
{
	kf_list *l;
	size_t k;

	if (!kf_stats || hay == NULL || n == 0)
		return;
	l = kf_register(p);
	for (k = 0; k < l->n; k++)
		if (!l->off[k] && !l->hit[k] && l->w[k][0] &&
		    cls_find(hay, n, l->w[k]))
			l->hit[k] = true;
}

void cls_kfold_hits(void (*fn)(const char *id, void *arg), void *arg)
{
	size_t i, k;

	for (i = 0; i < kf_nlists; i++)
		for (k = 0; k < kf_lists[i].n; k++)
			if (kf_lists[i].hit[k]) {
				kf_lists[i].hit[k] = false;
				fn(kf_lists[i].id[k], arg);
			}
}

void cls_kfold_all(void (*fn)(const char *id, void *arg), void *arg)
{
	size_t i, k;

	for (i = 0; i < kf_nlists; i++)
		for (k = 0; k < kf_lists[i].n; k++)
			fn(kf_lists[i].id[k], arg);
}
#endif

static struct cls_phr_tab *phr_build(const cls_phr *p)
{
	size_t n = phr_count(p), i, k, g, off;
	size_t *fill = cs_xcalloc(PHR_BUCKETS, sizeof *fill);
	struct cls_phr_tab *t;
	phr_ent *all = cs_xcalloc(n ? n : 1, sizeof *all);
	const char *const *w;
	size_t nlong = 0, nshort = 0, minlen = SIZE_MAX, stride;

	k = 0;
	if (p->words)
		for (w = p->words; *w; w++, k++) {
			all[k].w = *w;
			all[k].rank = p->any ? 0 : (uint16_t)k;
		}
	for (g = 0; p->groups && p->groups[g].words; g++)
		for (w = p->groups[g].words; *w; w++, k++) {
			all[k].w = *w;
			all[k].rank = (uint16_t)g;
		}
#ifdef CLS_KFOLD
	const kf_list *kl = kf_register(p);
#endif

	for (i = 0; i < n; i++) {
		const unsigned char *w3 = (const unsigned char *)all[i].w;
		size_t b;

		all[i].len = (uint16_t)strlen(all[i].w);
#ifdef CLS_KFOLD
		if (kl->off[i])
			all[i].len = 0; /* disabled: in no bucket */
#endif
		/* the prefix as a little-endian load of the text sees it */
		for (b = 0; b < 8 && b < all[i].len; b++) {
			all[i].pre |= (uint64_t)w3[b] << (8 * b);
			all[i].mask |= (uint64_t)0xff << (8 * b);
		}
		if (all[i].len >= 3) {
			nlong++;
			if (all[i].len < minlen)
				minlen = all[i].len;
		} else if (all[i].len > 0) {
			nshort++;
		}
	}
	stride = nlong ? minlen - 2 : 1;
	if (stride > PHR_MAX_STRIDE)
		stride = PHR_MAX_STRIDE;
	/* start[] holds entry indexes in 16 bits: our lists are far below */
	if (nlong * stride > UINT16_MAX)
		cs_fatal("phrase table of %zu entries: too many",
		         nlong * stride);
	t = cs_xcalloc(1, sizeof *t + nlong * stride * sizeof(phr_ent));
	t->stride = stride;
	t->shorts = cs_xcalloc(nshort ? nshort : 1, sizeof *t->shorts);
	for (i = 0; i < n; i++)
		for (off = 0; all[i].len >= 3 && off < stride; off++)
			fill[phr_hash(
			    phr_key((const unsigned char *)all[i].w + off))]++;
	for (i = 0; i < PHR_BUCKETS; i++) {
		t->start[i + 1] = (uint16_t)(t->start[i] + fill[i]);
		if (fill[i])
			t->used[i / 64] |= (uint64_t)1 << (i % 64);
		fill[i] = t->start[i];
	}
	/* largest offset first within a bucket, else in list order */
	for (off = stride; off-- > 0;)
		for (i = 0; i < n; i++)
			if (all[i].len >= 3) {
				uint32_t key = phr_key(
				    (const unsigned char *)all[i].w + off);
				phr_ent *e = &t->ents[fill[phr_hash(key)]++];

				*e = all[i];
				e->key = key;
				e->off = (uint8_t)off;
			}
	for (i = 0; i < n; i++)
		if (all[i].len > 0 && all[i].len < 3)
			t->shorts[t->nshort++] = all[i];
	free(all);
	free(fill);
	return t;
}

static const struct cls_phr_tab *phr_tab(cls_phr *p)
{
	struct cls_phr_tab *t =
	    atomic_load_explicit(&p->tab, memory_order_acquire);
	struct cls_phr_tab *none = NULL;

	if (t)
		return t;
	t = phr_build(p);
	if (!atomic_compare_exchange_strong_explicit(&p->tab, &none, t,
	                                             memory_order_acq_rel,
	                                             memory_order_acquire)) {
		free(t->shorts);
		free(t);
		t = none;
	}
	return t;
}

/* Does entry e match at s[i] (n - i bytes left)?  Its first eight bytes
 * are compared in one load when the text has eight left. */
static inline bool phr_match(const phr_ent *e, const unsigned char *s, size_t i,
                             size_t n)
{
	uint64_t v;

	if (e->len > n - i)
		return false;
	if (n - i >= 8) {
		memcpy(&v, s + i, 8);
		if ((v & e->mask) != e->pre)
			return false;
		return e->len <= 8 ||
		       memcmp(s + i + 8, e->w + 8, e->len - 8u) == 0;
	}
	return memcmp(s + i, e->w, e->len) == 0;
}

/* The bucket of key at probe j (cls_phr_find): a phrase of lower rank
 * than *best that starts at j - its offset becomes the best. */
static inline void phr_find_at(const struct cls_phr_tab *t,
                               const unsigned char *s, size_t j, size_t n,
                               uint32_t key, unsigned h, int *best,
                               size_t *best_at)
{
	const phr_ent *e = t->ents + t->start[h];
	const phr_ent *end = t->ents + t->start[h + 1];

	for (; e < end; e++)
		if (e->key == key && (*best < 0 || e->rank < *best) &&
		    e->off <= j && phr_match(e, s, j - e->off, n)) {
			*best = e->rank;
			*best_at = j - e->off;
		}
}

int cls_phr_find(cls_phr *p, const char *hay, size_t n, const char **at)
{
	const struct cls_phr_tab *t;
	const unsigned char *s = (const unsigned char *)hay;
	size_t i, k;
	int best = -1;
	size_t best_at = 0;
	uint32_t key;

	if (hay == NULL || n == 0)
		return -1;
	t = phr_tab(p);
#ifdef CLS_KFOLD
	kf_note(p, hay, n);
#endif
	/* phrases of three bytes or more: the key of the next three bytes
	 * (rolled along when every position is probed), hashed, tested
	 * against the bitmap of used buckets */
	if (t->stride == 1) {
		uint32_t roll = (uint32_t)s[0] << 8 | (n > 1 ? s[1] : 0);

		for (i = 0; i + 2 < n; i++) {
			unsigned h;

			roll = roll << 8 | s[i + 2];
			h = phr_hash(roll);
			if (t->used[h / 64] >> (h % 64) & 1) {
				key = roll & 0xffffffu;
				phr_find_at(t, s, i, n, key, h, &best,
				            &best_at);
				if (best == 0)
					break;
			}
		}
	} else {
		for (i = 0; i + 2 < n; i += t->stride) {
			unsigned h;

			key = phr_key(s + i);
			h = phr_hash(key);
			if (t->used[h / 64] >> (h % 64) & 1) {
				phr_find_at(t, s, i, n, key, h, &best,
				            &best_at);
				if (best == 0)
					break;
			}
		}
	}
	/* short phrases: one more pass, only up to the best hit so far */
	for (k = 0; k < t->nshort; k++) {
		const phr_ent *e = &t->shorts[k];
		size_t lim = best >= 0 && e->rank >= best ? best_at : n;

		for (i = 0; i < lim; i++)
			if (e->len <= n - i &&
			    (best < 0 || e->rank < best ||
			     (e->rank == best && i < best_at)) &&
			    memcmp(s + i, e->w, e->len) == 0) {
				best = e->rank;
				best_at = i;
				break;
			}
	}
	if (best >= 0 && at)
		*at = hay + best_at;
	return best;
}

/* Number of ranks of p: its groups, or its words (1 for an `any` list). */
static size_t phr_ranks(const cls_phr *p)
{
	size_t n = 0;

	if (p->groups) {
		while (p->groups[n].words)
			n++;
		return n;
	}
	if (p->any)
		return 1;
	while (p->words[n])
		n++;
	return n;
}

/* The bucket of key at probe j (cls_phr_scan): each rank below want
 * first seen there gets its phrase's start.  Returns how many. */
static inline size_t phr_scan_at(const struct cls_phr_tab *t,
                                 const unsigned char *s, size_t j, size_t n,
                                 uint32_t key, unsigned h, size_t want,
                                 const char **first)
{
	const phr_ent *e = t->ents + t->start[h];
	const phr_ent *end = t->ents + t->start[h + 1];
	size_t found = 0;

	for (; e < end; e++)
		if (e->key == key && e->rank < want && first[e->rank] == NULL &&
		    e->off <= j && phr_match(e, s, j - e->off, n)) {
			first[e->rank] = (const char *)s + j - e->off;
			found++;
		}
	return found;
}

size_t cls_phr_scan(cls_phr *p, const char *hay, size_t n, const char **first,
                    size_t nfirst)
{
	const struct cls_phr_tab *t;
	const unsigned char *s = (const unsigned char *)hay;
	size_t i, k, want = phr_ranks(p), found = 0;
	uint32_t key;

	if (want > nfirst)
		want = nfirst;
	for (k = 0; k < nfirst; k++)
		first[k] = NULL;
	if (hay == NULL || n == 0 || want == 0)
		return 0;
	t = phr_tab(p);
#ifdef CLS_KFOLD
	kf_note(p, hay, n);
#endif
	/* as in cls_phr_find() */
	if (t->stride == 1) {
		uint32_t roll = (uint32_t)s[0] << 8 | (n > 1 ? s[1] : 0);

		for (i = 0; i + 2 < n; i++) {
			unsigned h;

			roll = roll << 8 | s[i + 2];
			h = phr_hash(roll);
			if (t->used[h / 64] >> (h % 64) & 1) {
				key = roll & 0xffffffu;
				found += phr_scan_at(t, s, i, n, key, h, want,
				                     first);
				if (found == want)
					break;
			}
		}
	} else {
		for (i = 0; i + 2 < n; i += t->stride) {
			unsigned h;

			key = phr_key(s + i);
			h = phr_hash(key);
			if (t->used[h / 64] >> (h % 64) & 1) {
				found += phr_scan_at(t, s, i, n, key, h, want,
				                     first);
				if (found == want)
					break;
			}
		}
	}
	/* short phrases: each one's first place, if earlier */
	for (k = 0; k < t->nshort; k++) {
		const phr_ent *e = &t->shorts[k];
		const char *f = e->rank < want ? first[e->rank] : hay;
		size_t lim = f ? (size_t)(f - hay) : n;

		for (i = 0; i < lim; i++)
			if (e->len <= n - i &&
			    memcmp(s + i, e->w, e->len) == 0) {
				if (first[e->rank] == NULL)
					found++;
				first[e->rank] = hay + i;
				break;
			}
	}
	return found;
}

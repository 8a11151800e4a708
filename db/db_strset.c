/*
 * db_strset.c - a set of short strings, each with a number: the addresses
 * a contacts import checks against (stored, suppressed, forgotten, and the
 * file's own, with their line).
 *
 * Open addressing over an arena: the strings sit once in 1 MiB chunks, an
 * entry is a 32-bit reference (chunk, offset) and a 32-bit number, and a
 * slot is the entry's index under a tag of its hash.  About 16 bytes per
 * entry beside the strings; a million addresses stay well under 64 MB.
 */
#include "db_int.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_BITS    20
#define CHUNK         ((size_t)1 << CHUNK_BITS)
#define MAX_CHUNKS    4096 /* refs are 12 bits of chunk, 20 of offset */
#define MAX_SLOT_BITS 31   /* leaves at least one tag bit */

uint64_t db_hash_str(const char *s)
{
	uint64_t h = DB_HASH_INIT;

	for (; *s; s++)
		h = db_hash_byte(h, (unsigned char)*s);
	return db_hash_end(h);
}

#define CHUNK_BITS 20
#define CHUNK      ((size_t)1 << CHUNK_BITS)
#define MAX_CHUNKS 4096 /* refs are 12 bits of chunk, 20 of offset */

/* A slot keeps, above the entry number (which is below cap, so fits in
 * the low bits), the top bits of the entry's hash: a probe compares those
 * first, so passing another entry almost never reads the arena (at a
 * million entries 2047 times in 2048). */
static uint32_t tag_of(unsigned bits, uint64_t h)
{
	return (uint32_t)(h >> (32 + bits));
}

static const char *entry(const db_strset *s, uint32_t i)
{
	uint32_t r = s->ref[i];

	return s->chunks[r >> CHUNK_BITS] + (r & (CHUNK - 1));
}

static void grow_slots(db_strset *s)
{
	unsigned bits = s->cap ? s->bits + 1 : 10;
	size_t ncap = (size_t)1 << bits, i;
	uint32_t *slots = cs_xcalloc(ncap, sizeof *slots);

	for (i = 0; i < s->n; i++) {
		uint64_t h = db_hash_str(entry(s, (uint32_t)i));
		size_t k = h & (ncap - 1);

		while (slots[k])
			k = (k + 1) & (ncap - 1);
		slots[k] = tag_of(bits, h) << bits | ((uint32_t)i + 1);
	}
	free(s->slots);
	s->slots = slots;
	s->cap = ncap;
	s->bits = bits;
}

long db_strset_find_h(const db_strset *s, const char *key, uint64_t h,
                      size_t *slot)
{
	uint32_t tag, w, mask = (uint32_t)(s->cap - 1);
	size_t k;

	if (s->cap == 0)
		return -1;
	tag = tag_of(s->bits, h);
	k = h & mask;
	while ((w = s->slots[k]) != 0) {
		uint32_t i = (w & mask) - 1;

		if (w >> s->bits == tag && strcmp(entry(s, i), key) == 0) {
			*slot = k;
			return (long)i;
		}
		k = (k + 1) & mask;
	}
	*slot = k;
	return -1;
}

long db_strset_find(const db_strset *s, const char *key, size_t *slot)
{
	if (s->n == 0)
		return -1; /* most sets of suppressions: no hashing */
	return db_strset_find_h(s, key, db_hash_str(key), slot);
}

int db_strset_add_h(db_strset *s, const char *key, uint64_t h, size_t line)
{
	size_t len = strlen(key) + 1, slot = 0;

	if (len > 1024)
		return -1;
	if ((s->n + 1) * 2 > s->cap) {
		if (s->cap && s->bits >= MAX_SLOT_BITS)
			return -1;
		grow_slots(s);
	}
	if (s->nchunks == 0 || s->used + len > CHUNK) {
		if (s->nchunks == MAX_CHUNKS || s->n >= UINT32_MAX - 1)
			return -1;
		s->chunks = cs_xrealloc(s->chunks,
		                        (s->nchunks + 1) * sizeof *s->chunks);
		s->chunks[s->nchunks++] = cs_xmalloc(CHUNK);
		s->used = 0;
	}
	if (s->n == s->ncap) {
		s->ncap = s->ncap ? s->ncap * 2 : 1024;
		s->ref = cs_xrealloc(s->ref, s->ncap * sizeof *s->ref);
		s->line = cs_xrealloc(s->line, s->ncap * sizeof *s->line);
	}
	memcpy(s->chunks[s->nchunks - 1] + s->used, key, len);
	s->ref[s->n] = (uint32_t)((s->nchunks - 1) << CHUNK_BITS | s->used);
	s->line[s->n] = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
	s->used += len;
	(void)db_strset_find_h(s, key, h, &slot);
	s->slots[slot] = tag_of(s->bits, h) << s->bits | ((uint32_t)s->n + 1);
	s->n++;
	return 0;
}

int db_strset_add(db_strset *s, const char *key, size_t line)
{
	return db_strset_add_h(s, key, db_hash_str(key), line);
}

void db_strset_free(db_strset *s)
{
	size_t i;

	for (i = 0; i < s->nchunks; i++)
		free(s->chunks[i]);
	free(s->chunks);
	free(s->slots);
	free(s->ref);
	free(s->line);
	memset(s, 0, sizeof *s);
}

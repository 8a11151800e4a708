/*
 * db_int.h - declarations shared by the files of db/ only.
 */
#ifndef COLDSEQ_DB_INT_H
#define COLDSEQ_DB_INT_H

#include <sqlite3.h>

#include "db/db.h"

#define DB_STMT_CACHE 96

struct db {
	sqlite3 *h;
	char *path;
	int depth; /* nested db_begin calls: savepoints inside the outermost */
	/* prepared statements of hot queries, keyed by their SQL's address */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[DB_STMT_CACHE];
};

/* Fill err from the handle's last error, with context; returns CS_EDB. */
int db_fail(db *d, cs_err *err, const char *what);
/* Prepare sql or fail with err; the caller finalizes. */
int db_prepare(db *d, const char *sql, sqlite3_stmt **st, cs_err *err);
/* A prepared statement for a static SQL string, kept for reuse: the
 * caller must not finalize it, and must sqlite3_reset it (db_done) after
 * use.  Bindings are cleared on each call. */
int db_cached(db *d, const char *sql, sqlite3_stmt **st, cs_err *err);
void db_done(sqlite3_stmt *st);
/* Run a cached UPDATE binding ?1 id, ?2 v, ?3 text (or NULL), ?4 now;
 * *changes (may be NULL) gets the rows changed. */
int db_exec_update(db *d, const char *sql, long long id, int64_t v,
                   const char *text, int64_t now, long long *changes,
                   cs_err *err);
/* Run a cached SELECT binding ?1 id, ?2 since; its one row's first
 * column to *a and, when b is not NULL, its second to *b (what names the
 * figure in an error). */
int db_count_since(db *d, const char *sql, long long id, int64_t since,
                   long long *a, long long *b, const char *what, cs_err *err);
/* A copy of text column i, or NULL. */
char *db_col_str(sqlite3_stmt *st, int i);
/* Bind text v, or NULL when v is NULL (SQLITE_STATIC: v must outlive the
 * step). */
void db_bind_opt(sqlite3_stmt *st, int i, const char *v);
/* The built-in migration list. */
const db_migration *db_builtin_migrations(size_t *n);

/* ---- a set of short strings with a number each (db_strset.c) ---------- */

typedef struct db_strset {
	uint32_t *slots; /* 0: empty, else tag << bits | (entry index + 1) */
	size_t cap;      /* 1 << bits */
	unsigned bits;
	uint32_t *ref;  /* per entry: chunk << 20 | offset */
	uint32_t *line; /* per entry: the number given to add */
	size_t n, ncap;
	char **chunks;
	size_t nchunks, used; /* bytes used in the last chunk */
} db_strset;                  /* zeroed: empty */

/* The sets' hash, FNV-1a then a mix so that the low bits (the slot) and
 * the top bits (the tag) both depend on every byte; byte by byte so a
 * caller can hash while it copies: DB_HASH_INIT, db_hash_byte for each
 * byte, db_hash_end gives what db_hash_str does. */
#define DB_HASH_INIT 0xcbf29ce484222325ULL

static inline uint64_t db_hash_byte(uint64_t h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ULL;
}

static inline uint64_t db_hash_end(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

uint64_t db_hash_str(const char *s);
/* The index of the entry equal to key (whose hash is h), or -1; *slot
 * gets where it is or would go (not set when the set is empty). */
long db_strset_find_h(const db_strset *s, const char *key, uint64_t h,
                      size_t *slot);
long db_strset_find(const db_strset *s, const char *key, size_t *slot);
/* Add key (at most 1 KiB, not yet in the set, hash h) with number line
 * (capped at UINT32_MAX); -1 when the set is full. */
int db_strset_add_h(db_strset *s, const char *key, uint64_t h, size_t line);
int db_strset_add(db_strset *s, const char *key, size_t line);
void db_strset_free(db_strset *s); /* and zero it */

/* Start loading the slot where a look-up of hash h begins: a big set's
 * slots are a cache miss, which the caller's other work can overlap. */
static inline void db_strset_prefetch(const db_strset *s, uint64_t h)
{
	if (s->cap)
		__builtin_prefetch(&s->slots[h & (s->cap - 1)]);
}

/* An enum from column col by its names table; the first value for NULL
 * or a name the schema's CHECK would not let in. */
static inline int db_col_enum(sqlite3_stmt *st, int col,
                              const char *const *names, int n)
{
	int v = 0;

	cs_enum_parse(names, n, (const char *)sqlite3_column_text(st, col), &v);
	return v;
}

/* A purpose column (db_message.c's names), an inbox status column
 * (db_inbox.c's). */
db_purpose db_col_purpose(sqlite3_stmt *st, int col);
db_inbox_status db_col_inbox_status(sqlite3_stmt *st, int col);
/* A contact status column (db_contact.c's names). */
db_contact_status db_col_contact_status(sqlite3_stmt *st, int col);

/* db_FN_name and db_FN_parse (db.h) for enum type over its names table. */
#define DB_ENUM_NAMES(fn, type, names)                                         \
	const char *db_##fn##_name(type v)                                     \
	{                                                                      \
		return cs_enum_name(names, CS_NNAMES(names), (int)v);          \
	}                                                                      \
	bool db_##fn##_parse(const char *name, type *out)                      \
	{                                                                      \
		int v;                                                         \
                                                                               \
		if (!cs_enum_parse(names, CS_NNAMES(names), name, &v))         \
			return false;                                          \
		*out = (type)v;                                                \
		return true;                                                   \
	}

#endif

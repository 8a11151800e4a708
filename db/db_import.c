/*
 * db_import.c - bulk contact import: check rows against a snapshot, stage
 * them outside the write lock, store them in one short transaction.
 *
 * Why staged: a million-row file takes seconds to read and check; holding
 * the database's write lock that long would make the running service's
 * writes wait past their busy timeout.  So rows are checked against an
 * in-memory snapshot (stored addresses, suppressions, forgotten hashes)
 * and appended to an unlinked file in the data directory; only
 * db_import_commit takes the lock, and it only inserts.  A row stored by
 * someone else meanwhile is caught by the UNIQUE address (counted as
 * "raced").  An interrupted import leaves nothing: the stage file has no
 * name, and the transaction never committed.
 *
 * Memory: the address set keeps each distinct address once (arena) plus
 * about 16 bytes of index per address; the file itself is streamed.
 */
#define _POSIX_C_SOURCE 200809L
#include "db_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

/* ---- a set of short strings with a line number each ---------------------- */

#define CHUNK_BITS 20
#define CHUNK      ((size_t)1 << CHUNK_BITS)
#define MAX_CHUNKS 4096 /* refs are 12 bits of chunk, 20 of offset */

typedef struct strset {
	uint32_t *slots; /* 0: empty, else entry index + 1 */
	size_t cap;      /* power of two */
	uint32_t *ref;   /* per entry: chunk << 20 | offset */
	uint32_t *line;  /* per entry */
	size_t n, ncap;
	char **chunks;
	size_t nchunks, used; /* bytes used in the last chunk */
} strset;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static const char *entry(const strset *s, uint32_t i)
{
	uint32_t r = s->ref[i];

	return s->chunks[r >> CHUNK_BITS] + (r & (CHUNK - 1));
}

static void grow_slots(strset *s)
{
	size_t ncap = s->cap ? s->cap * 2 : 1024, i;
	uint32_t *slots = cs_xcalloc(ncap, sizeof *slots);

	for (i = 0; i < s->n; i++) {
		size_t k = hash_str(entry(s, (uint32_t)i)) & (ncap - 1);

		while (slots[k])
			k = (k + 1) & (ncap - 1);
		slots[k] = (uint32_t)i + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->cap = ncap;
}

/* The entry equal to key, or -1.  *slot gets where it is or would go. */
static long find(const strset *s, const char *key, size_t *slot)
{
	size_t k;

	if (s->cap == 0)
		return -1;
	k = hash_str(key) & (s->cap - 1);
	while (s->slots[k]) {
		uint32_t i = s->slots[k] - 1;

		if (strcmp(entry(s, i), key) == 0) {
			*slot = k;
			return (long)i;
		}
		k = (k + 1) & (s->cap - 1);
	}
	*slot = k;
	return -1;
}

/* Add key (<= 1 KiB); returns -1 when the set is full. */
static int add(strset *s, const char *key, size_t line)
{
	size_t len = strlen(key) + 1, slot = 0;

	if (len > 1024)
		return -1;
	if ((s->n + 1) * 2 > s->cap) {
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
	(void)find(s, key, &slot);
	s->slots[slot] = (uint32_t)s->n + 1;
	s->n++;
	return 0;
}

static void set_free(strset *s)
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

/* ---- the import ------------------------------------------------------------
 */

#define NFIELDS 8 /* email .. custom, as in db_import_row */

struct db_import {
	db *d;
	strset seen;       /* stored addresses (line 0) and the file's */
	strset sup_addr;   /* suppressed addresses, index = reason */
	strset sup_domain; /* suppressed domains */
	char **reasons;    /* reason per sup entry: addr first, then domain */
	size_t nreasons;
	strset forgotten; /* hex SHA-256 of forgotten addresses */
	cs_buf salt;
	FILE *stage;
	long long staged;
	bool full; /* the address set ran out of room */
};

static char *lower(const char *s)
{
	char *p = cs_xstrdup(s), *q;

	for (q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

static int load(db_import *im, cs_err *err)
{
	sqlite3_stmt *st;
	int rc, s;
	bool found = false;

	/* one read transaction: a consistent snapshot of all three */
	if ((rc = db_prepare(im->d, "SELECT email FROM contacts", &st, err)) !=
	    0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		char *e = lower((const char *)sqlite3_column_text(st, 0));

		if (add(&im->seen, e, 0) != 0)
			im->full = true;
		free(e);
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(im->d, err, "cannot read contacts");
	if ((rc = db_prepare(im->d,
	                     "SELECT kind, value, reason FROM suppressions",
	                     &st, err)) != 0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(st, 0);
		char *v = lower((const char *)sqlite3_column_text(st, 1));
		strset *set = strcmp(kind, "domain") == 0 ? &im->sup_domain
		                                          : &im->sup_addr;

		if (add(set, v, im->nreasons) == 0) {
			im->reasons =
			    cs_xrealloc(im->reasons, (im->nreasons + 1) *
			                                 sizeof *im->reasons);
			im->reasons[im->nreasons++] = cs_xstrdup(
			    (const char *)sqlite3_column_text(st, 2));
		}
		free(v);
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(im->d, err, "cannot read suppressions");
	if ((rc = db_meta_get(im->d, "forget_salt", &im->salt, &found, err)) !=
	    0)
		return rc;
	if (!found)
		return 0;
	if ((rc = db_prepare(im->d, "SELECT hex(hash) FROM forgotten", &st,
	                     err)) != 0)
		return rc;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		(void)add(&im->forgotten,
		          (const char *)sqlite3_column_text(st, 0), 0);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return db_fail(im->d, err, "cannot read forgotten addresses");
	return 0;
}

int db_import_open(db *d, const char *stage_dir, db_import **out, cs_err *err)
{
	db_import *im = cs_xcalloc(1, sizeof *im);
	char *path = cs_xasprintf("%s/.import-stage.XXXXXX", stage_dir);
	int fd, rc;

	*out = NULL;
	im->d = d;
	fd = mkstemp(path);
	if (fd < 0) {
		rc = cs_err_set(err, CS_EIO,
		                "cannot create a stage file in %s: %s",
		                stage_dir, strerror(errno));
		free(path);
		db_import_free(im);
		return rc;
	}
	unlink(path); /* nameless: gone with the process, whatever happens */
	free(path);
	im->stage = fdopen(fd, "w+b");
	if (im->stage == NULL)
		cs_fatal("fdopen failed");
	setvbuf(im->stage, NULL, _IOFBF, 1 << 16);
	if ((rc = load(im, err)) != 0) {
		db_import_free(im);
		return rc;
	}
	*out = im;
	return 0;
}

static bool is_forgotten(db_import *im, const char *email)
{
	static const char hexd[] = "0123456789ABCDEF";
	unsigned char h[32];
	char hex[65];
	size_t slot, i;
	EVP_MD_CTX *c;

	if (im->forgotten.n == 0)
		return false;
	c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, im->salt.data, im->salt.len) != 1 ||
	    EVP_DigestUpdate(c, email, strlen(email)) != 1 ||
	    EVP_DigestFinal_ex(c, h, NULL) != 1)
		cs_fatal("SHA-256 failed");
	EVP_MD_CTX_free(c);
	for (i = 0; i < 32; i++) {
		hex[2 * i] = hexd[h[i] >> 4];
		hex[2 * i + 1] = hexd[h[i] & 15];
	}
	hex[64] = '\0';
	return find(&im->forgotten, hex, &slot) >= 0;
}

db_import_verdict db_import_check(db_import *im, const char *email, size_t line,
                                  size_t *first_line, const char **reason)
{
	char key[320];
	size_t n = strlen(email), i, slot;
	const char *at;
	long e;

	*first_line = 0;
	*reason = NULL;
	if (n >= sizeof key)
		n = sizeof key - 1;
	for (i = 0; i < n; i++)
		key[i] = (char)tolower((unsigned char)email[i]);
	key[n] = '\0';
	if ((e = find(&im->sup_addr, key, &slot)) >= 0) {
		*reason = im->reasons[im->sup_addr.line[e]];
		return DB_IMP_SUPPRESSED;
	}
	at = strrchr(key, '@');
	if (at && (e = find(&im->sup_domain, at + 1, &slot)) >= 0) {
		*reason = im->reasons[im->sup_domain.line[e]];
		return DB_IMP_SUPPRESSED;
	}
	if (is_forgotten(im, key)) {
		*reason = "forgotten (contacts forget)";
		return DB_IMP_SUPPRESSED;
	}
	if ((e = find(&im->seen, key, &slot)) >= 0) {
		*first_line = im->seen.line[e];
		return *first_line ? DB_IMP_DUPLICATE : DB_IMP_EXISTING;
	}
	if (add(&im->seen, key, line) != 0)
		im->full = true; /* the UNIQUE index still catches it */
	return DB_IMP_NEW;
}

/* Record: u32 length of the rest, u8 existing, then NFIELDS of
 * (u32 length or UINT32_MAX for NULL, bytes). */
static void put_u32(cs_buf *b, uint32_t v)
{
	cs_buf_append(b, &v, sizeof v);
}

int db_import_stage(db_import *im, size_t line, bool existing,
                    const db_import_row *r, cs_err *err)
{
	const char *f[NFIELDS] = {r->email,    r->first_name, r->last_name,
	                          r->company,  r->title,      r->website,
	                          r->timezone, r->custom};
	cs_buf b = CS_BUF_INIT;
	uint32_t total;
	size_t i;
	int rc = 0;

	(void)line;
	put_u32(&b, 0);
	cs_buf_putc(&b, existing ? 1 : 0);
	for (i = 0; i < NFIELDS; i++) {
		if (f[i] == NULL || *f[i] == '\0') {
			put_u32(&b, UINT32_MAX);
		} else {
			size_t n = strlen(f[i]);

			put_u32(&b, (uint32_t)n);
			cs_buf_append(&b, f[i], n);
		}
	}
	total = (uint32_t)(b.len - 4);
	memcpy(b.data, &total, 4);
	if (fwrite(b.data, 1, b.len, im->stage) != b.len)
		rc = cs_err_set(err, CS_EIO, "cannot write the stage file: %s",
		                strerror(errno));
	else
		im->staged++;
	cs_buf_free(&b);
	return rc;
}

long long db_import_staged(const db_import *im)
{
	return im->staged;
}

/* Read the next record into b; fields point into b (not NUL-terminated:
 * bound with their lengths).  Returns 1 at the end of the file. */
static int next_record(FILE *f, cs_buf *b, bool *existing,
                       const char *fields[NFIELDS], uint32_t lens[NFIELDS],
                       cs_err *err)
{
	uint32_t total;
	size_t i, at = 1;

	if (fread(&total, 4, 1, f) != 1)
		return feof(f) ? 1
		               : cs_err_set(err, CS_EIO,
		                            "cannot read the stage file");
	cs_buf_clear(b);
	cs_buf_reserve(b, total);
	if (fread(b->data, 1, total, f) != total)
		return cs_err_set(err, CS_EIO, "the stage file is short");
	b->len = total;
	*existing = b->data[0] != 0;
	for (i = 0; i < NFIELDS; i++) {
		if (at + 4 > total)
			return cs_err_set(err, CS_EIO, "the stage file is bad");
		memcpy(&lens[i], b->data + at, 4);
		at += 4;
		if (lens[i] == UINT32_MAX) {
			fields[i] = NULL;
			continue;
		}
		if (lens[i] > total - at)
			return cs_err_set(err, CS_EIO, "the stage file is bad");
		fields[i] = b->data + at;
		at += lens[i];
	}
	return 0;
}

/* The id of list `name`, created when new. */
static int list_id(db *d, const char *name, int64_t now, long long *id,
                   cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d,
	                     "INSERT INTO lists(name, created_at) VALUES (?1, "
	                     "?2) ON CONFLICT(name) DO UPDATE SET name = name "
	                     "RETURNING id",
	                     &st, err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot create the list");
	sqlite3_finalize(st);
	return rc;
}

static int register_fields(db *d, const char *const *names, size_t n,
                           int64_t now, cs_err *err)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = db_prepare(d,
	                     "INSERT INTO contact_fields(name, created_at) "
	                     "VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
	                     &st, err)) != 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = db_fail(d, err, "cannot register a custom field");
	}
	sqlite3_finalize(st);
	return rc;
}

static int id_of(db *d, const char *email, uint32_t len, long long *id,
                 cs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = db_prepare(d, "SELECT id FROM contacts WHERE email = ?1", &st,
	                     err)) != 0)
		return rc;
	sqlite3_bind_text(st, 1, email, (int)len, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		rc = db_fail(d, err, "cannot find an updated contact");
	sqlite3_finalize(st);
	return rc;
}

static const char insert_skip[] =
    "INSERT INTO contacts(email, first_name, last_name, company, title, "
    "website, timezone, custom, created_at, updated_at) VALUES (?1, ?2, ?3, "
    "?4, ?5, ?6, ?7, ?8, ?9, ?9) ON CONFLICT(email) DO NOTHING";

static const char insert_update[] =
    "INSERT INTO contacts(email, first_name, last_name, company, title, "
    "website, timezone, custom, created_at, updated_at) VALUES (?1, ?2, ?3, "
    "?4, ?5, ?6, ?7, ?8, ?9, ?9) ON CONFLICT(email) DO UPDATE SET "
    "first_name = coalesce(excluded.first_name, first_name), "
    "last_name = coalesce(excluded.last_name, last_name), "
    "company = coalesce(excluded.company, company), "
    "title = coalesce(excluded.title, title), "
    "website = coalesce(excluded.website, website), "
    "timezone = coalesce(excluded.timezone, timezone), "
    "custom = json_patch(custom, excluded.custom), "
    "updated_at = excluded.updated_at";

int db_import_commit(db_import *im, const char *list,
                     const char *const *custom_names, size_t ncustom,
                     bool update, int64_t now,
                     int (*progress)(void *arg, long long done), void *arg,
                     db_import_counts *out, cs_err *err)
{
	db *d = im->d;
	sqlite3_stmt *ins = NULL, *mem = NULL;
	cs_buf rec = CS_BUF_INIT;
	long long lid = 0, done = 0;
	int rc, i;

	memset(out, 0, sizeof *out);
	if (fflush(im->stage) != 0 || fseek(im->stage, 0, SEEK_SET) != 0)
		return cs_err_set(err, CS_EIO, "cannot read the stage file");
	/* the checks are done: give their memory to the page cache, so the
	 * index inserts of a big import stay in memory */
	set_free(&im->seen);
	sqlite3_exec(d->h, "PRAGMA cache_size = -32768", NULL, NULL, NULL);
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	if (list && (rc = list_id(d, list, now, &lid, err)) != 0)
		goto fail;
	if ((rc = register_fields(d, custom_names, ncustom, now, err)) != 0)
		goto fail;
	if ((rc = db_prepare(d, update ? insert_update : insert_skip, &ins,
	                     err)) != 0)
		goto fail;
	if (list && (rc = db_prepare(d,
	                             "INSERT INTO list_members(list_id, "
	                             "contact_id, added_at) VALUES (?1, ?2, "
	                             "?3) ON CONFLICT DO NOTHING",
	                             &mem, err)) != 0)
		goto fail;
	for (;;) {
		const char *f[NFIELDS] = {NULL};
		uint32_t lens[NFIELDS] = {0};
		bool existing = false;
		long long before, cid;

		rc = next_record(im->stage, &rec, &existing, f, lens, err);
		if (rc == 1)
			break; /* the end */
		if (rc != 0)
			goto fail;
		sqlite3_reset(ins);
		for (i = 0; i < NFIELDS; i++) {
			if (f[i])
				sqlite3_bind_text(ins, i + 1, f[i],
				                  (int)lens[i], SQLITE_STATIC);
			else if (i == NFIELDS - 1)
				sqlite3_bind_text(ins, i + 1, "{}", 2,
				                  SQLITE_STATIC);
			else
				sqlite3_bind_null(ins, i + 1);
		}
		sqlite3_bind_int64(ins, 9, now);
		before = sqlite3_last_insert_rowid(d->h);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			rc = db_fail(d, err, "cannot store a contact");
			goto fail;
		}
		/* No RETURNING: it buffers each row in a temporary b-tree,
		 * which costs more than the insert.  A new rowid means an
		 * insert; an unchanged one, an update or nothing. */
		if (sqlite3_changes(d->h) == 0) {
			out->raced++; /* skip: stored meanwhile */
			cid = 0;
		} else if ((cid = sqlite3_last_insert_rowid(d->h)) != before) {
			out->inserted++;
		} else {
			out->updated++;
			if (!existing)
				out->raced++;
			if (mem &&
			    (rc = id_of(d, f[0], lens[0], &cid, err)) != 0)
				goto fail;
		}
		if (mem && cid) {
			sqlite3_reset(mem);
			sqlite3_bind_int64(mem, 1, lid);
			sqlite3_bind_int64(mem, 2, cid);
			sqlite3_bind_int64(mem, 3, now);
			if (sqlite3_step(mem) != SQLITE_DONE) {
				rc = db_fail(d, err, "cannot add to the list");
				goto fail;
			}
		}
		if (progress && (++done & 0x3fff) == 0 &&
		    (rc = progress(arg, done)) != 0) {
			cs_err_set(err, rc,
			           "interrupted while storing; nothing "
			           "was stored");
			goto fail;
		}
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(mem);
	ins = mem = NULL;
	if ((rc = db_commit(d, err)) != 0)
		goto fail;
	cs_buf_free(&rec);
	sqlite3_exec(d->h, "PRAGMA cache_size = -2000", NULL, NULL, NULL);
	return 0;
fail:
	sqlite3_finalize(ins);
	sqlite3_finalize(mem);
	db_rollback(d);
	cs_buf_free(&rec);
	sqlite3_exec(d->h, "PRAGMA cache_size = -2000", NULL, NULL, NULL);
	return rc;
}

void db_import_free(db_import *im)
{
	size_t i;

	if (im == NULL)
		return;
	set_free(&im->seen);
	set_free(&im->sup_addr);
	set_free(&im->sup_domain);
	set_free(&im->forgotten);
	for (i = 0; i < im->nreasons; i++)
		free(im->reasons[i]);
	free(im->reasons);
	cs_buf_free(&im->salt);
	if (im->stage)
		fclose(im->stage);
	free(im);
}

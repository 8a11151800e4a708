/*
 * csv.c - read an RFC 4180 CSV file row by row (libcsv underneath).
 *
 * Adds what libcsv leaves to the caller: the line number where each record
 * starts (records may span lines through quoted newlines), a UTF-8 BOM
 * skipped, CRLF or LF, and caps on field size and field count so a hostile
 * file cannot make us allocate without bound.
 *
 * Reading ahead: a reader thread reads and parses the file into batches of
 * records while the calling thread runs fn on the batches before, in file
 * order; fn still runs on the caller's thread only, and parsing (a good
 * third of a big contacts import) overlaps it.  At most NBATCH batches are
 * in flight, each closed at BATCH_RECORDS records or BATCH_BYTES bytes, so
 * memory stays bounded.  The reader blocks every signal: handlers run on
 * the caller's thread as before.  When no thread can be started the same
 * code runs inline: a full batch is handed straight to fn.
 *
 *   reader thread                          caller
 *   fill ring[(head + count) % NBATCH]     take ring[head]: fn per record
 *   count++ (waits while count == NBATCH)  head++, count-- (waits while 0)
 *   stops when cancel is set               sets cancel when fn stops or at
 *                                          the last batch
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#define MAX_FIELD     65536
#define MAX_FIELDS    512
#define READ_BUF      ((size_t)1 << 16)
#define NBATCH        4
#define BATCH_RECORDS 1024
#define BATCH_BYTES   ((size_t)1 << 16)

typedef struct record {
	size_t line, first, n; /* fields off[first .. first + n) */
} record;

typedef struct batch {
	cs_buf text; /* every field of every record, each NUL-terminated */
	size_t *off; /* per field: its offset in text */
	size_t noff, capoff;
	record rec[BATCH_RECORDS];
	size_t nrec;
	int stop; /* after these records: the reader's error (in rerr) */
	bool end; /* after these records (and stop): nothing more */
} batch;

typedef struct reader {
	/* shared, under mu */
	pthread_mutex_t mu;
	pthread_cond_t ready, space;
	batch ring[NBATCH];
	size_t head, count;
	bool cancel, threaded;
	/* the reader's side */
	const char *path;
	char delim;
	FILE *f;
	batch *cur;        /* being filled */
	size_t nfields;    /* fields of the record being parsed */
	size_t cur_line;   /* line being fed */
	size_t next_start; /* line where the next record starts */
	int rstop;         /* non-zero: the reader's error, in rerr */
	bool cancelled;    /* the reader saw cancel */
	cs_err rerr;
	/* the caller's side */
	int (*fn)(const cs_csv_row *r, void *arg);
	void *arg;
	char **fields;
	cs_err *err;
	int result; /* without a thread: what take returned */
} reader;

/* ---- the caller's side -------------------------------------------------- */

/* fn for each record of b; then b's error or end.  Returns fn's stop or
 * the reader's error; *done when nothing more is to be taken. */
static int take(reader *r, batch *b, bool *done)
{
	size_t i, k;
	int rc;

	for (i = 0; i < b->nrec; i++) {
		const record *rec = &b->rec[i];
		cs_csv_row row;

		for (k = 0; k < rec->n; k++)
			r->fields[k] = b->text.data + b->off[rec->first + k];
		row.line = rec->line;
		row.n = rec->n;
		row.fields = r->fields;
		if ((rc = r->fn(&row, r->arg)) != 0) {
			*done = true;
			return rc;
		}
	}
	*done = b->end || b->stop;
	if (b->stop) {
		cs_err_set(r->err, b->stop, "%s", r->rerr.msg);
		return b->stop;
	}
	return 0;
}

static void batch_clear(batch *b)
{
	cs_buf_clear(&b->text);
	b->noff = 0;
	b->nrec = 0;
	b->stop = 0;
	b->end = false;
}

/* ---- the reader's side -------------------------------------------------- */

/* Pass the filled batch on and start the next; false once the caller has
 * stopped taking. */
static bool hand_over(reader *r)
{
	bool done = false;
	int rc;

	if (!r->threaded) {
		rc = take(r, r->cur, &done);
		batch_clear(r->cur);
		if (rc != 0 || done) {
			r->result = rc;
			r->cancelled = true;
		}
		return !r->cancelled;
	}
	pthread_mutex_lock(&r->mu);
	r->count++;
	pthread_cond_signal(&r->ready);
	while (r->count == NBATCH && !r->cancel)
		pthread_cond_wait(&r->space, &r->mu);
	r->cancelled = r->cancel;
	r->cur = &r->ring[(r->head + r->count) % NBATCH];
	pthread_mutex_unlock(&r->mu);
	batch_clear(r->cur);
	return !r->cancelled;
}

static void on_field(void *s, size_t len, void *data)
{
	reader *r = data;
	batch *b = r->cur;

	if (r->rstop || r->cancelled)
		return;
	if (len > MAX_FIELD) {
		r->rstop = cs_err_set(&r->rerr, CS_EINVAL,
		                      "%s:%zu: a field is longer than %d bytes",
		                      r->path, r->next_start, MAX_FIELD);
		return;
	}
	if (r->nfields >= MAX_FIELDS) {
		r->rstop = cs_err_set(&r->rerr, CS_EINVAL,
		                      "%s:%zu: more than %d fields in a row",
		                      r->path, r->next_start, MAX_FIELDS);
		return;
	}
	if (b->noff == b->capoff) {
		b->capoff = b->capoff ? b->capoff * 2 : 4096;
		b->off = cs_xrealloc(b->off, b->capoff * sizeof *b->off);
	}
	b->off[b->noff++] = b->text.len;
	r->nfields++;
	cs_buf_reserve(&b->text, len + 1);
	if (len)
		memcpy(b->text.data + b->text.len, s, len);
	b->text.len += len + 1;
	b->text.data[b->text.len - 1] = '\0';
}

static void on_record(int c, void *data)
{
	reader *r = data;
	batch *b = r->cur;

	(void)c;
	if (!r->rstop && !r->cancelled) {
		record *rec = &b->rec[b->nrec++];

		rec->line = r->next_start;
		rec->n = r->nfields;
		rec->first = b->noff - r->nfields;
		if (b->nrec == BATCH_RECORDS || b->text.len >= BATCH_BYTES)
			(void)hand_over(r);
	}
	r->nfields = 0;
	r->next_start = r->cur_line + 1;
}

/* The whole file, then one last batch that says how it ended. */
static void read_all(reader *r)
{
	struct csv_parser p;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (csv_init(&p, CSV_APPEND_NULL) != 0)
		cs_fatal("csv_init failed");
	csv_set_delim(&p, (unsigned char)r->delim);
	while (!r->rstop && !r->cancelled &&
	       (n = getline(&line, &cap, r->f)) > 0) {
		const char *s = line;
		size_t len = (size_t)n;

		r->cur_line++;
		if (r->cur_line == 1 && len >= 3 &&
		    memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		if (memchr(s, '\0', len)) {
			r->rstop = cs_err_set(
			    &r->rerr, CS_EINVAL,
			    "%s:%zu: a NUL byte: this is not a text file",
			    r->path, r->cur_line);
			break;
		}
		if (csv_parse(&p, s, len, on_field, on_record, r) != len &&
		    !r->rstop && !r->cancelled)
			r->rstop = cs_err_set(&r->rerr, CS_EINVAL, "%s:%zu: %s",
			                      r->path, r->cur_line,
			                      csv_strerror(csv_error(&p)));
	}
	if (!r->rstop && !r->cancelled && ferror(r->f))
		r->rstop =
		    cs_err_set(&r->rerr, CS_EIO, "cannot read %s", r->path);
	if (!r->rstop && !r->cancelled)
		csv_fini(&p, on_field, on_record, r);
	free(line);
	csv_free(&p);
	if (!r->cancelled) {
		r->cur->stop = r->rstop;
		r->cur->end = true;
		(void)hand_over(r);
	}
}

static void *reader_main(void *arg)
{
	read_all(arg);
	return NULL;
}

/* The caller's loop while the reader thread runs. */
static int take_all(reader *r)
{
	bool done = false;
	int rc = 0;

	while (!done) {
		batch *b;

		pthread_mutex_lock(&r->mu);
		while (r->count == 0)
			pthread_cond_wait(&r->ready, &r->mu);
		b = &r->ring[r->head];
		pthread_mutex_unlock(&r->mu);
		rc = take(r, b, &done);
		pthread_mutex_lock(&r->mu);
		r->head = (r->head + 1) % NBATCH;
		r->count--;
		if (done)
			r->cancel = true;
		pthread_cond_signal(&r->space);
		pthread_mutex_unlock(&r->mu);
	}
	return rc;
}

int cs_csv_foreach(const char *path, char delim,
                   int (*fn)(const cs_csv_row *r, void *arg), void *arg,
                   cs_err *err)
{
	reader *r;
	pthread_t tid;
	sigset_t all, old;
	char *iobuf;
	size_t i;
	int rc = 0;
	FILE *f = fopen(path, "rb");

	if (f == NULL)
		return cs_err_set(err, CS_ENOTFOUND, "cannot open %s", path);
	/* big reads: the 4 KiB default is a system call per 4 KiB */
	iobuf = cs_xmalloc(READ_BUF);
	setvbuf(f, iobuf, _IOFBF, READ_BUF);
	r = cs_xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->ready, NULL);
	pthread_cond_init(&r->space, NULL);
	r->path = path;
	r->delim = delim;
	r->f = f;
	r->cur = &r->ring[0];
	r->next_start = 1;
	r->fn = fn;
	r->arg = arg;
	r->err = err;
	r->fields = cs_xcalloc(MAX_FIELDS, sizeof *r->fields);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r->threaded = true; /* before the thread reads it */
	if (pthread_create(&tid, NULL, reader_main, r) != 0)
		r->threaded = false;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r->threaded) {
		rc = take_all(r);
		pthread_join(tid, NULL);
	} else {
		read_all(r); /* fn runs from hand_over */
		rc = r->result;
	}
	for (i = 0; i < NBATCH; i++) {
		cs_buf_free(&r->ring[i].text);
		free(r->ring[i].off);
	}
	free(r->fields);
	pthread_cond_destroy(&r->space);
	pthread_cond_destroy(&r->ready);
	pthread_mutex_destroy(&r->mu);
	free(r);
	fclose(f);
	free(iobuf);
	return rc;
}

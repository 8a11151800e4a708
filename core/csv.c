/*
 * csv.c - read an RFC 4180 CSV file row by row (libcsv underneath).
 *
 * Adds what libcsv leaves to the caller: the line number where each record
 * starts (records may span lines through quoted newlines), a UTF-8 BOM
 * skipped, CRLF or LF, standard input for "-", caps on field size, field
 * count and record size so a hostile file cannot make us allocate without
 * bound, and recovery from malformed records.
 *
 * Recovery.  libcsv runs in strict mode: text after a closing quote is an
 * error, where lenient mode would reopen the field and swallow the rest of
 * the file (a quote inside an unquoted field stays text, as it was).  The
 * rule:
 *
 *   - a syntax error (a stray quote, a quoted field still open at the end
 *     of the file or after MAX_RECORD bytes) costs the first physical line
 *     of the record it is in; reading resumes at the line after it.  A
 *     record that spans lines (a quoted field holding a newline) may have
 *     swallowed good lines after a stray quote, so those lines are read
 *     again: they are kept in the input buffer until the record closes
 *     (at most MAX_RECORD bytes).
 *   - a well-formed record with a field over MAX_FIELD bytes or more than
 *     MAX_FIELDS fields costs that record; it is never stored.
 *   - a physical line over MAX_RECORD bytes costs that line; it is skipped
 *     without being held.
 *
 * With CS_CSV_REPORT_BAD each such record reaches fn as a row with error
 * set (and no fields), in file order; without it the first one stops the
 * read with an error naming the file and line.  A NUL byte or a read
 * error always stops the read.
 *
 * Reading ahead: a reader thread reads and parses the file into batches of
 * records while the calling thread runs fn on the batches before, in file
 * order; fn still runs on the caller's thread only, and parsing (a good
 * third of a big contacts import) overlaps it.  At most NBATCH batches are
 * in flight, each closed at BATCH_RECORDS records or BATCH_BYTES bytes, so
 * memory stays bounded.  The reader blocks every signal: handlers run on
 * the caller's thread as before.  When no thread can be started, or the
 * input is not a regular file (a pipe: a blocked read must not outlive an
 * interrupt), the same code runs inline: a full batch is handed straight
 * to fn.
 *
 *   reader thread                          caller
 *   fill ring[(head + count) % NBATCH]     take ring[head]: fn per record
 *   count++ (waits while count == NBATCH)  head++, count-- (waits while 0)
 *   stops when cancel is set               sets cancel when fn stops or at
 *                                          the last batch
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csv.h>

#define MAX_FIELD     65536
#define MAX_FIELDS    512
#define MAX_RECORD    ((size_t)1 << 20)
#define READ_BUF      ((size_t)1 << 16)
#define IN_CAP        (MAX_RECORD + READ_BUF) /* the input buffer's bound */
#define IN_START      ((size_t)1 << 17)       /* and its first size */
#define NBATCH        4
#define BATCH_RECORDS 1024
#define BATCH_BYTES   ((size_t)1 << 16)

/* libcsv's parser states (csv_parser.pstate), as in libcsv.c */
#define ROW_NOT_BEGUN          0
#define FIELD_BEGUN            2 /* quoted or not */
#define FIELD_MIGHT_HAVE_ENDED 3

typedef struct record {
	size_t line, first, n; /* fields off[first .. first + n) */
	bool bad;              /* malformed: off[first] is why; n == 0 */
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
	unsigned flags;
	int fd;
	struct csv_parser p;
	char *in; /* input: [start, end) unread; cap grows to IN_CAP */
	size_t cap;
	size_t start, end;  /* ... [mark, start) kept for a replay */
	size_t mark;        /* the line after the open record's first */
	bool eof, skipping; /* skipping: the rest of an over-long line */
	batch *cur;         /* being filled */
	size_t nfields;     /* fields of the record being parsed */
	size_t nstored;     /* of them, stored in cur */
	char bad[96];       /* non-empty: why the record being parsed is bad */
	size_t cur_line;    /* line being fed */
	size_t next_start;  /* line where the next (or open) record starts */
	int rstop;          /* non-zero: the reader's error, in rerr */
	bool cancelled;     /* the reader saw cancel */
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
		row.error = rec->bad ? b->text.data + b->off[rec->first] : NULL;
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

/* Append one field to the batch being filled. */
static void put(batch *b, const void *s, size_t len)
{
	if (b->noff == b->capoff) {
		b->capoff = b->capoff ? b->capoff * 2 : 4096;
		b->off = cs_xrealloc(b->off, b->capoff * sizeof *b->off);
	}
	b->off[b->noff++] = b->text.len;
	cs_buf_reserve(&b->text, len + 1);
	if (len)
		memcpy(b->text.data + b->text.len, s, len);
	b->text.len += len + 1;
	b->text.data[b->text.len - 1] = '\0';
}

/* Close a record of n fields (the last n put) or a bad one. */
static void add_record(reader *r, size_t line, size_t n, bool bad)
{
	batch *b = r->cur;
	record *rec = &b->rec[b->nrec++];

	rec->line = line;
	rec->n = bad ? 0 : n;
	rec->first = b->noff - (bad ? 1 : n);
	rec->bad = bad;
	if (b->nrec == BATCH_RECORDS || b->text.len >= BATCH_BYTES)
		(void)hand_over(r);
}

/* The record starting on line is malformed: drop what was stored of it,
 * then pass it on as bad (or stop the read). */
static void bad_record(reader *r, size_t line, const char *why)
{
	batch *b = r->cur;

	if (r->nstored) {
		b->text.len = b->off[b->noff - r->nstored];
		b->noff -= r->nstored;
	}
	r->nstored = 0;
	if (r->rstop || r->cancelled)
		return;
	if (!(r->flags & CS_CSV_REPORT_BAD)) {
		r->rstop = cs_err_set(&r->rerr, CS_EINVAL, "%s:%zu: %s",
		                      r->path, line, why);
		return;
	}
	put(b, why, strlen(why));
	add_record(r, line, 0, true);
}

static void on_field(void *s, size_t len, void *data)
{
	reader *r = data;

	if (r->rstop || r->cancelled)
		return;
	r->nfields++;
	if (r->bad[0])
		return;
	if (len > MAX_FIELD) {
		snprintf(r->bad, sizeof r->bad,
		         "field %zu is longer than %d bytes", r->nfields,
		         MAX_FIELD);
		return;
	}
	if (r->nfields > MAX_FIELDS) {
		snprintf(r->bad, sizeof r->bad, "more than %d fields",
		         MAX_FIELDS);
		return;
	}
	put(r->cur, s, len);
	r->nstored++;
}

static void on_record(int c, void *data)
{
	reader *r = data;

	(void)c;
	if (r->bad[0])
		bad_record(r, r->next_start, r->bad);
	else if (!r->rstop && !r->cancelled)
		add_record(r, r->next_start, r->nfields, false);
	r->nfields = 0;
	r->nstored = 0;
	r->bad[0] = '\0';
	/* a record may start later on this line (after a lone CR) */
	r->next_start = r->cur_line;
}

static void parser_init(reader *r)
{
	if (csv_init(&r->p, CSV_STRICT) != 0)
		cs_fatal("csv_init failed");
	csv_set_delim(&r->p, (unsigned char)r->delim);
}

static bool record_open(const reader *r)
{
	return r->p.pstate != ROW_NOT_BEGUN;
}

/* A syntax error in the open record: it costs its first line, and the
 * lines after that one are read again. */
static void resync(reader *r, const char *why)
{
	char msg[200];

	if (r->cur_line > r->next_start && strncmp(why, "a quoted", 8) != 0)
		snprintf(msg, sizeof msg,
		         "%s (a quoted field opened on this line runs to line "
		         "%zu)",
		         why, r->cur_line);
	else
		snprintf(msg, sizeof msg, "%s", why);
	r->bad[0] = '\0';
	bad_record(r, r->next_start, msg);
	r->nfields = 0;
	csv_free(&r->p);
	parser_init(r);
	r->start = r->mark;
	r->cur_line = r->next_start;
	r->next_start++;
}

/* The next physical line in *s, *len (its '\n' included when it has one).
 * Returns 0, 1 at the end of the input, 2 when the line (or the open
 * record) does not fit the buffer, or the reader's error. */
static int next_line(reader *r, const char **s, size_t *len)
{
	for (;;) {
		char *nl = r->end > r->start ? memchr(r->in + r->start, '\n',
		                                      r->end - r->start)
		                             : NULL;
		size_t keep;
		ssize_t n;

		if (r->skipping) { /* the rest of an over-long line */
			r->start = nl ? (size_t)(nl + 1 - r->in) : r->end;
			r->skipping = nl == NULL;
			if (r->skipping && r->eof)
				return 1;
			if (!r->skipping)
				continue;
		} else if (nl || (r->eof && r->start < r->end)) {
			*s = r->in + r->start;
			*len = nl ? (size_t)(nl + 1 - *s) : r->end - r->start;
			r->start += *len;
			return 0;
		} else if (r->eof) {
			return 1;
		}
		/* read more: first drop what is neither unread nor kept */
		keep = record_open(r) ? r->mark : r->start;
		if (keep > 0) {
			memmove(r->in, r->in + keep, r->end - keep);
			r->end -= keep;
			r->start -= keep;
			r->mark = r->mark > keep ? r->mark - keep : 0;
		}
		if (r->end == r->cap && r->cap < IN_CAP && !r->skipping) {
			r->cap = r->cap * 2 < IN_CAP ? r->cap * 2 : IN_CAP;
			r->in = cs_xrealloc(r->in, r->cap);
		}
		if (r->end == r->cap) {
			if (!r->skipping)
				return 2;
			r->start = r->end = 0;
		}
		do
			n = read(r->fd, r->in + r->end, r->cap - r->end);
		while (n < 0 && errno == EINTR && r->threaded);
		/* inline (a pipe, a terminal): a signal handler ran, most
		 * likely Ctrl-C: stop rather than wait for more input */
		if (n < 0 && errno == EINTR)
			return cs_err_set(&r->rerr, CS_EIO,
			                  "reading %s was interrupted",
			                  r->path);
		if (n < 0)
			return cs_err_set(&r->rerr, CS_EIO,
			                  "cannot read %s: %s", r->path,
			                  strerror(errno));
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

/* Feed s to libcsv; returns the bytes taken: fewer than len at text
 * after a closing quote.  A quote inside an unquoted field (O"Brien) is
 * kept as text, as lenient mode does: it cannot swallow later lines. */
static size_t parse(reader *r, const char *s, size_t len)
{
	size_t done = 0;

	for (;;) {
		done += csv_parse(&r->p, s + done, len - done, on_field,
		                  on_record, r);
		if (done == len || r->rstop || r->cancelled)
			return done;
		if (csv_error(&r->p) != CSV_EPARSE)
			cs_fatal("libcsv: %s", csv_strerror(csv_error(&r->p)));
		if (r->p.pstate == FIELD_MIGHT_HAVE_ENDED)
			return done;
		/* the quote at s[done], once in lenient mode */
		r->p.status = 0;
		csv_set_opts(&r->p, 0);
		done += csv_parse(&r->p, s + done, 1, on_field, on_record, r);
		csv_set_opts(&r->p, CSV_STRICT);
	}
}

/* The whole file, then one last batch that says how it ended. */
static void read_all(reader *r)
{
	const char *s = NULL;
	size_t len = 0, n;
	int rc;

	parser_init(r);
	r->cap = IN_START;
	r->in = cs_xmalloc(r->cap);
	while (!r->rstop && !r->cancelled) {
		rc = next_line(r, &s, &len);
		if (rc < 0) {
			r->rstop = rc;
			break;
		}
		if (rc == 1) {
			if (record_open(r) && r->p.quoted &&
			    r->p.pstate == FIELD_BEGUN) {
				resync(r,
				       "a quoted field opened on this line is "
				       "not closed by the end of the file");
				continue;
			}
			csv_fini(&r->p, on_field, on_record, r);
			break;
		}
		if (rc == 2) {
			if (record_open(r)) {
				resync(r,
				       "a quoted field opened on this line is "
				       "not closed within 1 MiB");
				continue;
			}
			r->cur_line++;
			bad_record(r, r->cur_line,
			           "the line is longer than 1 MiB");
			r->next_start = r->cur_line + 1;
			r->skipping = true;
			r->start = r->end = 0;
			continue;
		}
		r->cur_line++;
		if (r->cur_line == 1 && len >= 3 &&
		    memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		if (len && memchr(s, '\0', len)) {
			r->rstop = cs_err_set(
			    &r->rerr, CS_EINVAL,
			    "%s:%zu: a NUL byte: this is not a text file",
			    r->path, r->cur_line);
			break;
		}
		if (!record_open(r))
			r->mark = r->start; /* where a resync resumes */
		n = parse(r, s, len);
		if (r->rstop || r->cancelled)
			break;
		if (n != len) {
			resync(r, "text after a closing quote");
			continue;
		}
		if (!record_open(r))
			r->next_start = r->cur_line + 1;
	}
	free(r->in);
	r->in = NULL;
	csv_free(&r->p);
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

int cs_csv_read(const char *path, char delim, unsigned flags,
                int (*fn)(const cs_csv_row *r, void *arg), void *arg,
                cs_err *err)
{
	reader *r;
	pthread_t tid;
	sigset_t all, old;
	struct stat st;
	size_t i;
	int rc = 0;
	bool std_in = (flags & CS_CSV_STDIN) && strcmp(path, "-") == 0;
	int fd = std_in ? 0 : open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cs_err_set(err, CS_ENOTFOUND, "cannot open %s: %s", path,
		                  strerror(errno));
	memset(&tid, 0, sizeof tid); /* joined only when created */
	r = cs_xcalloc(1, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->ready, NULL);
	pthread_cond_init(&r->space, NULL);
	r->path = std_in ? "standard input" : path;
	r->delim = delim;
	r->flags = flags;
	r->fd = fd;
	r->cur = &r->ring[0];
	r->next_start = 1;
	r->fn = fn;
	r->arg = arg;
	r->err = err;
	r->fields = cs_xcalloc(MAX_FIELDS, sizeof *r->fields);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		r->threaded = true; /* before the thread reads it */
		if (pthread_create(&tid, NULL, reader_main, r) != 0)
			r->threaded = false;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
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
	if (!std_in)
		close(fd);
	return rc;
}

int cs_csv_foreach(const char *path, char delim,
                   int (*fn)(const cs_csv_row *r, void *arg), void *arg,
                   cs_err *err)
{
	return cs_csv_read(path, delim, 0, fn, arg, err);
}

/*
 * csv.c - read an RFC 4180 CSV file row by row (libcsv underneath).
 *
 * Adds what libcsv leaves to the caller: the line number where each record
 * starts (records may span lines through quoted newlines), a UTF-8 BOM
 * skipped, CRLF or LF, and caps on field size and field count so a hostile
 * file cannot make us allocate without bound.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#define MAX_FIELD  65536
#define MAX_FIELDS 512
#define READ_BUF   ((size_t)1 << 18)

typedef struct reader {
	cs_csv_row row;
	cs_buf text;       /* the record's fields, each NUL-terminated */
	size_t *start;     /* per field: its offset in text */
	size_t cur_line;   /* line being fed */
	size_t next_start; /* line where the next record starts */
	int (*fn)(const cs_csv_row *r, void *arg);
	void *arg;
	int stop; /* non-zero: fn's return, or an error */
	cs_err *err;
	const char *path;
} reader;

/* One buffer for the whole record (no allocation per field once it has
 * grown to the longest record); the fields point into it from on_record
 * on, when it no longer moves. */
static void free_fields(reader *r)
{
	r->row.n = 0;
	cs_buf_clear(&r->text);
}

static void on_field(void *s, size_t len, void *data)
{
	reader *r = data;

	if (r->stop)
		return;
	if (len > MAX_FIELD) {
		r->stop = cs_err_set(r->err, CS_EINVAL,
		                     "%s:%zu: a field is longer than %d bytes",
		                     r->path, r->next_start, MAX_FIELD);
		return;
	}
	if (r->row.n >= MAX_FIELDS) {
		r->stop = cs_err_set(r->err, CS_EINVAL,
		                     "%s:%zu: more than %d fields in a row",
		                     r->path, r->next_start, MAX_FIELDS);
		return;
	}
	r->start[r->row.n++] = r->text.len;
	cs_buf_reserve(&r->text, len + 1);
	if (len)
		memcpy(r->text.data + r->text.len, s, len);
	r->text.len += len + 1;
	r->text.data[r->text.len - 1] = '\0';
}

static void on_record(int c, void *data)
{
	reader *r = data;

	(void)c;
	if (!r->stop) {
		size_t i;

		for (i = 0; i < r->row.n; i++)
			r->row.fields[i] = r->text.data + r->start[i];
		r->row.line = r->next_start;
		r->stop = r->fn(&r->row, r->arg);
	}
	free_fields(r);
	r->next_start = r->cur_line + 1;
}

int cs_csv_foreach(const char *path, char delim,
                   int (*fn)(const cs_csv_row *r, void *arg), void *arg,
                   cs_err *err)
{
	struct csv_parser p;
	reader r;
	FILE *f;
	char *line = NULL, *iobuf;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	f = fopen(path, "rb");
	if (f == NULL)
		return cs_err_set(err, CS_ENOTFOUND, "cannot open %s", path);
	/* big reads: the 4 KiB default is a system call per 4 KiB */
	iobuf = cs_xmalloc(READ_BUF);
	setvbuf(f, iobuf, _IOFBF, READ_BUF);
	if (csv_init(&p, CSV_APPEND_NULL) != 0)
		cs_fatal("csv_init failed");
	csv_set_delim(&p, (unsigned char)delim);
	memset(&r, 0, sizeof r);
	r.row.fields = cs_xcalloc(MAX_FIELDS, sizeof *r.row.fields);
	r.start = cs_xcalloc(MAX_FIELDS, sizeof *r.start);
	r.fn = fn;
	r.arg = arg;
	r.err = err;
	r.path = path;
	r.next_start = 1;
	while (!r.stop && (n = getline(&line, &cap, f)) > 0) {
		const char *s = line;
		size_t len = (size_t)n;

		r.cur_line++;
		if (r.cur_line == 1 && len >= 3 &&
		    memcmp(s, "\xef\xbb\xbf", 3) == 0) {
			s += 3;
			len -= 3;
		}
		if (memchr(s, '\0', len)) {
			rc =
			    cs_err_set(err, CS_EINVAL,
			               "%s:%zu: a NUL byte: this is not a text "
			               "file",
			               path, r.cur_line);
			break;
		}
		if (csv_parse(&p, s, len, on_field, on_record, &r) != len) {
			rc =
			    cs_err_set(err, CS_EINVAL, "%s:%zu: %s", path,
			               r.cur_line, csv_strerror(csv_error(&p)));
			break;
		}
	}
	if (rc == 0 && !r.stop && ferror(f))
		rc = cs_err_set(err, CS_EIO, "cannot read %s", path);
	if (rc == 0 && !r.stop)
		csv_fini(&p, on_field, on_record, &r);
	if (rc == 0 && r.stop)
		rc = r.stop;
	cs_buf_free(&r.text);
	free(r.row.fields);
	free(r.start);
	free(line);
	csv_free(&p);
	fclose(f);
	free(iobuf);
	return rc;
}

/*
 * contacts_rejects.c - the rejects file of `contacts import`: every row
 * not imported, as it was read, then its line and the reason, as CSV
 * under the file's own header.  Written to PATH.tmp and renamed over PATH
 * only when the import completed (cli_rejects_keep), so a failed import
 * leaves no half file and the previous one stands.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* FILE.rejects.csv beside a regular file; in the current directory for
 * standard input, a pipe or a device (stdin.rejects.csv, NAME.rejects.csv).
 */
static char *default_path(const char *path)
{
	size_t n = strlen(path);
	struct stat st;

	if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdin") == 0)
		return cs_xstrdup("stdin.rejects.csv");
	if (strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0 ||
	    (stat(path, &st) == 0 && !S_ISREG(st.st_mode))) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		return cs_xasprintf("%s.rejects.csv", *base ? base : "input");
	}
	if (n > 4 && strcasecmp(path + n - 4, ".csv") == 0)
		return cs_xasprintf("%.*s.rejects.csv", (int)(n - 4), path);
	return cs_xasprintf("%s.rejects.csv", path);
}

void cli_rejects_init(cli_rejects *r, const char *path, const char *input)
{
	memset(r, 0, sizeof *r);
	r->path = path ? cs_xstrdup(path) : default_path(input);
	r->tmp = cs_xasprintf("%s.tmp", r->path);
}

void cli_rejects_header(cli_rejects *r, const cs_csv_row *row)
{
	size_t i;

	r->header = cs_xcalloc(row->n, sizeof *r->header);
	r->nheader = row->n;
	for (i = 0; i < row->n; i++)
		r->header[i] = cs_xstrdup(row->fields[i]);
}

static void csv_field(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n;\t") == NULL && *s != ' ') {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

int cli_rejects_add(cli_rejects *r, const cs_csv_row *row, char *const *orig,
                    const char *reason, cs_err *err)
{
	size_t i;

	if (r->f == NULL) {
		r->f = fopen(r->tmp, "w");
		if (r->f == NULL)
			return cs_err_set(err, CS_EIO, "cannot write %s: %s",
			                  r->tmp, strerror(errno));
		for (i = 0; i < r->nheader; i++) {
			csv_field(r->f, r->header[i]);
			fputc(',', r->f);
		}
		fputs("line,reason\r\n", r->f);
	}
	for (i = 0; i < row->n; i++) {
		csv_field(r->f, orig && orig[i] ? orig[i] : row->fields[i]);
		fputc(',', r->f);
	}
	for (; i < r->nheader; i++)
		fputc(',', r->f);
	fprintf(r->f, "%zu,", row->line);
	csv_field(r->f, reason);
	fputs("\r\n", r->f);
	return 0;
}

int cli_rejects_flush(cli_rejects *r, cs_err *err)
{
	if (r->f && (fflush(r->f) != 0 || ferror(r->f)))
		return cs_err_set(err, CS_EIO, "cannot write %s", r->tmp);
	return 0;
}

void cli_rejects_keep(cli_rejects *r)
{
	if (r->f == NULL)
		return;
	fclose(r->f);
	r->f = NULL;
	if (rename(r->tmp, r->path) != 0)
		cli_error("contacts import: cannot rename %s: %s", r->tmp,
		          strerror(errno));
}

void cli_rejects_free(cli_rejects *r)
{
	size_t i;

	if (r->f) {
		fclose(r->f);
		unlink(r->tmp);
	}
	for (i = 0; i < r->nheader; i++)
		free(r->header[i]);
	free(r->header);
	free(r->path);
	free(r->tmp);
	memset(r, 0, sizeof *r);
}

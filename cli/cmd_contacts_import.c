/*
 * cmd_contacts_import.c - `coldseq contacts import FILE.csv`.
 *
 * The header row names the columns; built-in fields are matched by name
 * or common alias (case and punctuation ignored) unless --map says
 * otherwise, every other column is a custom field.  Each data row is
 * checked on its own; a rejected row (bad address, wrong column count,
 * invalid UTF-8, bad time zone, duplicate, suppressed, a malformed CSV
 * line: core/csv.c resumes at the next line) goes to FILE.rejects.csv (or
 * --rejects; stdin.rejects.csv for -) with its line and reason.  With
 * --list, contacts already stored go on the list too.  The good rows are staged
 * outside the write lock and stored in one transaction at the end
 * (db_import.c): a file that cannot be read to the end, or an interrupt,
 * stores nothing.  Exit 0 when the import completed, 1 when nothing was
 * stored.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

/* Header spellings, compared with only letters and digits, lower-cased. */
static const char *const aliases[CLI_F_NBUILTIN] = {
    "email emailaddress mail workemail businessemail contactemail "
    "primaryemail",
    "firstname first givenname fname forename",
    "lastname last surname familyname lname",
    "company companyname organization organisation account accountname "
    "employer",
    "title jobtitle position role",
    "website web url companywebsite site homepage",
    "timezone tz zone",
};

#define MAXCOLS 512

typedef struct imp {
	cli_ctx *ctx;
	const char *path;
	const cli_args *a;
	db_import *im;
	bool have_header, update, list;
	size_t ncols;
	int field[MAXCOLS];   /* builtin index, -1 custom, -2 ignored */
	char *names[MAXCOLS]; /* header text per column (trimmed) */
	size_t nheader;
	const char **custom; /* distinct custom names, for registration */
	size_t ncustom;
	cs_buf email, json; /* per row, reused */
	long long staged_new, staged_existing, duplicate, suppressed, rejected;
	long long unchanged; /* stored contacts only added to the list */
	long long rows;
	cli_rejects rej;
	char *tz_ok[32]; /* zones already found valid */
	size_t ntz;
	size_t last_line;
	/* progress */
	bool tty;
	int64_t t0, last_draw;
	long long bytes, size;
	cs_err *err;
} imp;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void norm(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	for (; *s && n + 1 < cap; s++)
		if (isalnum((unsigned char)*s))
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

static int builtin_of(const char *name)
{
	char key[64], buf[256];
	int i;

	norm(name, key, sizeof key);
	if (*key == '\0')
		return -1;
	for (i = 0; i < CLI_F_NBUILTIN; i++) {
		char *save = NULL, *w;

		snprintf(buf, sizeof buf, "%s", aliases[i]);
		for (w = strtok_r(buf, " ", &save); w;
		     w = strtok_r(NULL, " ", &save))
			if (strcmp(w, key) == 0)
				return i;
	}
	return -1;
}

/* --map CSVCOL=FIELD for this column, or NULL. */
static const char *mapped(const cli_args *a, const char *col)
{
	const cli_opt *o = a->cmd->opts;
	int i, k;

	for (i = 0; o[i].name; i++) {
		if (strcmp(o[i].name, "map") != 0)
			continue;
		for (k = a->count[i] - 1; k >= 0; k--) {
			const char *m = a->vals[i][k], *eq = strrchr(m, '=');

			if (eq && strlen(col) == (size_t)(eq - m) &&
			    strncasecmp(m, col, (size_t)(eq - m)) == 0)
				return eq + 1;
		}
	}
	return NULL;
}

/* Every --map names a column of the header (trimmed, any case). */
static int map_check(imp *p, const cs_csv_row *r)
{
	const cli_opt *o = p->a->cmd->opts;
	int i, k;
	size_t c;

	for (i = 0; o[i].name; i++) {
		if (strcmp(o[i].name, "map") != 0)
			continue;
		for (k = 0; k < p->a->count[i]; k++) {
			const char *m = p->a->vals[i][k], *eq = strrchr(m, '=');
			size_t n = (size_t)(eq - m);
			cs_buf cols = CS_BUF_INIT;
			bool found = false;

			for (c = 0; c < r->n && !found; c++) {
				char *t = cs_trim(cs_xstrdup(r->fields[c]));

				found =
				    strlen(t) == n && strncasecmp(t, m, n) == 0;
				if (c < 20) {
					cs_buf_puts(&cols, c ? ", \"" : "\"");
					cs_buf_puts(&cols, t);
					cs_buf_putc(&cols, '"');
				}
				free(t);
			}
			if (found) {
				cs_buf_free(&cols);
				continue;
			}
			if (r->n > 20)
				cs_buf_printf(&cols, " and %zu more",
				              r->n - 20);
			cs_err_set(
			    p->err, CS_EINVAL,
			    "%s:%zu: --map \"%s\": the file has no column "
			    "\"%.*s\"; its columns are %s",
			    p->path, r->line, m, (int)n, m, cs_buf_str(&cols));
			cs_buf_free(&cols);
			return CS_EINVAL;
		}
	}
	return 0;
}

static int header(imp *p, const cs_csv_row *r)
{
	size_t i, k, bad;
	int email_col = -1;

	if (r->n > MAXCOLS)
		return cs_err_set(p->err, CS_EINVAL,
		                  "%s:%zu: more than %d columns", p->path,
		                  r->line, MAXCOLS);
	if (map_check(p, r) != 0)
		return CS_EINVAL;
	cli_rejects_header(&p->rej, r);
	p->nheader = r->n;
	for (i = 0; i < r->n; i++) {
		const char *m;
		char *name;

		if (!cs_utf8_valid(r->fields[i], strlen(r->fields[i]), &bad))
			return cs_err_set(
			    p->err, CS_EINVAL,
			    "%s:%zu: the header's column %zu is not "
			    "valid UTF-8 (byte %zu): save the file "
			    "as UTF-8",
			    p->path, r->line, i + 1, bad + 1);
		name = cs_trim(cs_xstrdup(r->fields[i]));
		p->names[i] = name;
		m = mapped(p->a, name);
		if (m && (strcmp(m, "-") == 0 || *m == '\0')) {
			p->field[i] = -2;
		} else if (m) {
			p->field[i] = -1;
			for (k = 0; k < CLI_F_NBUILTIN; k++)
				if (strcasecmp(m, cli_contact_fields[k]) == 0)
					p->field[i] = (int)k;
			if (p->field[i] == -1) {
				free(p->names[i]);
				p->names[i] = cs_xstrdup(m);
			}
		} else if (*name == '\0') {
			p->field[i] = -2;
			if (!p->a->json)
				cli_error("%s:%zu: column %zu has no name; it "
				          "is ignored (name it, or --map)",
				          p->path, r->line, i + 1);
		} else {
			p->field[i] = builtin_of(name);
		}
		for (k = 0; k < i; k++) {
			if (p->field[i] >= 0 && p->field[k] == p->field[i])
				return cs_err_set(
				    p->err, CS_EINVAL,
				    "%s:%zu: columns \"%s\" and \"%s\" both "
				    "mean %s: say which with --map "
				    "\"%s=-\"",
				    p->path, r->line, p->names[k], name,
				    cli_contact_fields[p->field[i]], name);
			if (p->field[i] == -1 && p->field[k] == -1 &&
			    strcasecmp(p->names[k], p->names[i]) == 0)
				return cs_err_set(
				    p->err, CS_EINVAL,
				    "%s:%zu: two columns are named \"%s\"",
				    p->path, r->line, p->names[i]);
		}
		if (p->field[i] == CLI_F_EMAIL)
			email_col = (int)i;
		if (p->field[i] == -1) {
			p->custom = cs_xrealloc(
			    p->custom, (p->ncustom + 1) * sizeof *p->custom);
			p->custom[p->ncustom++] = p->names[i];
		}
	}
	if (email_col < 0)
		return cs_err_set(
		    p->err, CS_EINVAL,
		    "%s:%zu: no email column (name one \"email\", "
		    "or --map COLUMN=email)",
		    p->path, r->line);
	p->ncols = r->n;
	p->have_header = true;
	return 0;
}

static int reject(imp *p, const cs_csv_row *r, char *const *orig,
                  const char *reason)
{
	return cli_rejects_add(&p->rej, r, orig, reason, p->err);
}

static bool tz_valid(imp *p, const char *tz)
{
	size_t i;

	for (i = 0; i < p->ntz; i++)
		if (strcmp(p->tz_ok[i], tz) == 0)
			return true;
	if (!cs_tz_valid(tz))
		return false;
	if (p->ntz < sizeof p->tz_ok / sizeof p->tz_ok[0])
		p->tz_ok[p->ntz++] = cs_xstrdup(tz);
	return true;
}

static int64_t now_ms(void)
{
	return cs_mono_ms();
}

static void draw(imp *p, bool final)
{
	int64_t t;
	double secs, rate;
	char eta[32] = "";

	if (!p->tty)
		return;
	t = now_ms();
	if (!final && t - p->last_draw < 200)
		return;
	secs = (double)(t - p->t0) / 1000.0;
	p->last_draw = t;
	rate = secs > 0 ? (double)p->rows / secs : 0;
	if (p->size > 0 && p->bytes > 0 && rate > 0 && !final) {
		double per = (double)p->bytes / (double)p->rows;
		double left = ((double)p->size - (double)p->bytes) / per / rate;

		snprintf(eta, sizeof eta, "  ETA %.0fs", left < 0 ? 0 : left);
	}
	fprintf(stderr, "\r\033[K%lld rows  %.0f rows/s%s", p->rows, rate, eta);
	if (final)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int store_progress(void *arg, long long done)
{
	imp *p = arg;

	if (interrupted)
		return CS_EIO;
	if (p->tty) {
		fprintf(stderr, "\r\033[Kstoring %lld of %lld rows", done,
		        p->staged_new + p->staged_existing);
		fflush(stderr);
	}
	return 0;
}

static bool is_space(char c)
{
	return isspace((unsigned char)c) != 0;
}

/* The row's non-empty custom fields as one JSON object into out (nothing
 * when there are none).  Keys and values are referenced, not copied: the
 * object lives for this call only. */
static void custom_json(const imp *p, const cs_csv_row *r, cs_buf *out)
{
	cJSON *o = NULL;
	char *text;
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (p->field[i] != -1 || r->fields[i][0] == '\0')
			continue;
		if (o == NULL)
			o = cJSON_CreateObject();
		cJSON_AddItemToObjectCS(
		    o, p->names[i], cJSON_CreateStringReference(r->fields[i]));
	}
	if (o == NULL)
		return;
	text = cJSON_PrintUnformatted(o);
	cs_buf_puts(out, text);
	cJSON_free(text);
	cJSON_Delete(o);
}

static int row(const cs_csv_row *r, void *arg)
{
	imp *p = arg;
	const char *v[CLI_F_NBUILTIN] = {NULL};
	bool brk[CLI_F_NBUILTIN] = {false};
	char *orig[MAXCOLS];
	cs_buf *email = &p->email, *custom = &p->json;
	cs_err e = CS_ERR_INIT;
	char reason[600];
	size_t i, bad, first;
	bool empty = true;
	const char *why;
	db_import_row ir;
	db_import_verdict verdict;
	int rc = 0;

	p->last_line = r->line;
	if (interrupted)
		return cs_err_set(p->err, CS_EIO,
		                  "%s:%zu: interrupted; nothing was stored",
		                  p->path, r->line);
	if (!p->have_header && r->error)
		return cs_err_set(p->err, CS_EINVAL, "%s:%zu: the header: %s",
		                  p->path, r->line, r->error);
	if (!p->have_header)
		return header(p, r);
	if (r->error) { /* malformed: this line costs one row */
		p->rows++;
		p->rejected++;
		return reject(p, r, NULL, r->error);
	}
	for (i = 0; i < r->n; i++) {
		if (r->fields[i][0])
			empty = false;
		if (p->tty) /* for the ETA only */
			p->bytes += (long long)strlen(r->fields[i]) + 1;
	}
	if (empty)
		return 0; /* a blank line */
	p->rows++;
	draw(p, false);
	cs_buf_clear(email);
	cs_buf_clear(custom);
	memset(orig, 0, r->n * sizeof *orig);
	if (r->n != p->ncols) {
		snprintf(reason, sizeof reason,
		         "has %zu fields, the header has %zu", r->n, p->ncols);
		goto rejected;
	}
	for (i = 0; i < r->n; i++) {
		char *f = r->fields[i];
		size_t n = 0;
		bool b = false;

		if (!cli_scan_text(f, &n, &b, &bad)) {
			snprintf(reason, sizeof reason,
			         "%s: invalid UTF-8 at byte %zu", p->names[i],
			         bad + 1);
			goto rejected;
		}
		if (n && (is_space(f[0]) || is_space(f[n - 1]))) {
			orig[i] = cs_xstrdup(f);
			cs_trim(f);
			b = strpbrk(f, "\r\n") != NULL;
		}
		if (p->field[i] >= 0 && f[0]) {
			v[p->field[i]] = f;
			brk[p->field[i]] = b;
		}
	}
	if (v[CLI_F_EMAIL] == NULL) {
		snprintf(reason, sizeof reason, "email is empty");
		goto rejected;
	}
	if (cs_email_normalize(v[CLI_F_EMAIL], email, &e) != 0) {
		snprintf(reason, sizeof reason, "email: %s", e.msg);
		goto rejected;
	}
	if (cli_contact_row_check(p->path, r, p->field, p->names, email->data,
	                          v[CLI_F_FIRST], v[CLI_F_LAST], reason,
	                          sizeof reason) != 0)
		goto rejected;
	for (i = CLI_F_FIRST; i < CLI_F_NBUILTIN; i++)
		if (brk[i]) {
			snprintf(reason, sizeof reason,
			         "%s contains a line break",
			         cli_contact_fields[i]);
			goto rejected;
		}
	if (v[CLI_F_TZ] && !tz_valid(p, v[CLI_F_TZ])) {
		snprintf(reason, sizeof reason,
		         "timezone: \"%s\" is not an IANA time zone (e.g. "
		         "Europe/Berlin)",
		         v[CLI_F_TZ]);
		goto rejected;
	}
	/* Further checks of one row's values go here, before the row is
	 * classified: a reason and `goto rejected` reject it. */
	verdict = db_import_check(p->im, email->data, r->line, &first, &why);
	if (verdict == DB_IMP_SUPPRESSED) {
		p->suppressed++;
		snprintf(reason, sizeof reason, "suppressed: %s", why);
		goto rejected_counted;
	}
	if (verdict == DB_IMP_DUPLICATE) {
		p->duplicate++;
		snprintf(reason, sizeof reason,
		         "duplicate: %s is also on line %zu", email->data,
		         first);
		goto rejected_counted;
	}
	if (verdict == DB_IMP_EXISTING && !p->update && !p->list) {
		p->duplicate++;
		snprintf(reason, sizeof reason,
		         "duplicate: %s is already a contact (--on-existing "
		         "update changes it)",
		         email->data);
		goto rejected_counted;
	}
	custom_json(p, r, custom);
	memset(&ir, 0, sizeof ir);
	ir.email = email->data;
	ir.first_name = v[CLI_F_FIRST];
	ir.last_name = v[CLI_F_LAST];
	ir.company = v[CLI_F_COMPANY];
	ir.title = v[CLI_F_TITLE];
	ir.website = v[CLI_F_WEBSITE];
	ir.timezone = v[CLI_F_TZ];
	ir.custom = custom->len ? custom->data : NULL;
	rc = db_import_stage(p->im, r->line, verdict == DB_IMP_EXISTING, &ir,
	                     p->err);
	if (rc == 0 && verdict == DB_IMP_EXISTING && !p->update)
		p->unchanged++; /* --list: only added to it */
	else if (rc == 0 && verdict == DB_IMP_EXISTING)
		p->staged_existing++;
	else if (rc == 0)
		p->staged_new++;
	goto out;
rejected:
	p->rejected++;
rejected_counted:
	rc = reject(p, r, orig, reason);
out:
	for (i = 0; r->n == p->ncols && i < r->n; i++)
		free(orig[i]);
	return rc;
}

static void imp_free(imp *p)
{
	size_t i;

	for (i = 0; i < p->nheader; i++)
		free(p->names[i]);
	free(p->custom);
	cs_buf_free(&p->email);
	cs_buf_free(&p->json);
	for (i = 0; i < p->ntz; i++)
		free(p->tz_ok[i]);
	cli_rejects_free(&p->rej);
	db_import_free(p->im);
}

static int parse_delim(const char *s, char *out)
{
	if (s == NULL) {
		*out = ',';
		return 0;
	}
	if (strcmp(s, "\\t") == 0 || strcasecmp(s, "tab") == 0) {
		*out = '\t';
		return 0;
	}
	if (strlen(s) != 1 || *s == '"' || *s == '\n' || *s == '\r')
		return -1;
	*out = *s;
	return 0;
}

static int run_import(cli_ctx *ctx, const cli_args *a)
{
	imp p;
	cs_err err = CS_ERR_INIT;
	const char *oe = cli_opt_value(a, "on-existing");
	const char *list = cli_opt_value(a, "list");
	bool dry = cli_opt_flag(a, "dry-run");
	struct sigaction sa, old_int, old_term;
	db_import_counts counts = {0, 0, 0, 0};
	struct stat st;
	char delim;
	int rc, i;

	memset(&p, 0, sizeof p);
	if (oe && strcmp(oe, "skip") != 0 && strcmp(oe, "update") != 0) {
		cli_error("contacts import: --on-existing is update or skip, "
		          "not \"%s\"",
		          oe);
		return CLI_EXIT_USAGE;
	}
	if (parse_delim(cli_opt_value(a, "delimiter"), &delim) != 0) {
		cli_error("contacts import: --delimiter takes one character "
		          "(or tab)");
		return CLI_EXIT_USAGE;
	}
	for (i = 0; a->cmd->opts[i].name; i++)
		if (strcmp(a->cmd->opts[i].name, "map") == 0) {
			int k;

			for (k = 0; k < a->count[i]; k++) {
				const char *eq = strrchr(a->vals[i][k], '=');

				if (eq == NULL || eq == a->vals[i][k]) {
					cli_error(
					    "contacts import: --map takes "
					    "CSVCOLUMN=FIELD, not \"%s\"",
					    a->vals[i][k]);
					return CLI_EXIT_USAGE;
				}
			}
		}
	if (list && (*list == '\0' || strlen(list) > 100)) {
		cli_error("contacts import: --list needs a name (at most 100 "
		          "characters)");
		return CLI_EXIT_USAGE;
	}
	p.ctx = ctx;
	p.a = a;
	p.path = strcmp(a->pos[0], "-") == 0 ? "standard input" : a->pos[0];
	p.list = list != NULL;
	p.err = &err;
	p.update = oe && strcmp(oe, "update") == 0;
	cli_rejects_init(&p.rej, cli_opt_value(a, "rejects"), a->pos[0]);
	p.tty = !a->json && !a->quiet && isatty(2);
	p.t0 = now_ms();
	if (strcmp(a->pos[0], "-") != 0 && stat(p.path, &st) == 0)
		p.size = (long long)st.st_size;
	if (db_import_open(ctx->db, ctx->data_dir, &p.im, &err) != 0) {
		cli_error("contacts import: %s", err.msg);
		imp_free(&p);
		return CLI_EXIT_FAIL;
	}
	interrupted = 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = cs_csv_read(a->pos[0], delim, CS_CSV_REPORT_BAD | CS_CSV_STDIN,
	                 row, &p, &err);
	draw(&p, true);
	if (rc == CS_EIO && !interrupted && p.last_line)
		cs_err_prefix(&err, "after line %zu", p.last_line);
	if (rc == 0 && !p.have_header)
		rc = cs_err_set(&err, CS_EINVAL, "%s is empty", p.path);
	if (rc == 0)
		rc = cli_rejects_flush(&p.rej, &err);
	if (rc == 0 && !dry) {
		seq_service_state svc;
		cs_err perr = CS_ERR_INIT;

		/* alone on the database: the faster commit (db.h) */
		db_import_set_alone(
		    p.im, seq_service_probe(ctx->data_dir, &svc, &perr) == 0 &&
		              !svc.running && !svc.rekey);
	}
	if (rc == 0 && !dry)
		rc = db_import_commit(p.im, list, p.custom, p.ncustom, p.update,
		                      cs_clock_now(NULL), store_progress, &p,
		                      &counts, &err);
	if (p.tty)
		fputs("\r\033[K", stderr);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (rc != 0) {
		cli_error("contacts import: %s%s", err.msg,
		          strstr(err.msg, "nothing was stored")
		              ? ""
		              : "; nothing was stored");
		imp_free(&p);
		return CLI_EXIT_FAIL;
	}
	if (dry) {
		counts.inserted = p.staged_new;
		counts.updated = p.staged_existing;
		counts.added = p.staged_new + p.staged_existing + p.unchanged;
	} else if (!p.update) {
		p.duplicate += counts.raced;
	}
	cli_rejects_keep(&p.rej);
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "imported", (double)counts.inserted);
		cJSON_AddNumberToObject(o, "updated", (double)counts.updated);
		cJSON_AddNumberToObject(o, "duplicate", (double)p.duplicate);
		cJSON_AddNumberToObject(o, "suppressed", (double)p.suppressed);
		cJSON_AddNumberToObject(o, "rejected", (double)p.rejected);
		cJSON_AddNumberToObject(o, "unchanged", (double)p.unchanged);
		cJSON_AddBoolToObject(o, "dry_run", dry);
		if (list) {
			cJSON_AddStringToObject(o, "list", list);
			cJSON_AddNumberToObject(o, "added_to_list",
			                        (double)counts.added);
		}
		if (p.duplicate + p.suppressed + p.rejected)
			cJSON_AddStringToObject(o, "rejects_file", p.rej.path);
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		fprintf(ctx->out,
		        "%s %lld, updated %lld, duplicate %lld, suppressed "
		        "%lld, rejected %lld\n",
		        dry ? "Would import" : "Imported", counts.inserted,
		        counts.updated, p.duplicate, p.suppressed, p.rejected);
		if (p.unchanged)
			fprintf(ctx->out,
			        "Already stored %lld (fields unchanged)\n",
			        p.unchanged);
		if (list)
			fprintf(ctx->out, "%s to list %s: %lld\n",
			        dry ? "Would add" : "Added", list,
			        counts.added);
		if (p.duplicate + p.suppressed + p.rejected)
			fprintf(ctx->out, "Rows not imported: %s\n",
			        p.rej.path);
	}
	imp_free(&p);
	return CLI_EXIT_OK;
}

static const cli_opt import_opts[] = {
    {"list", 0, "NAME", false,
     "add the contacts to this list, those already stored too"},
    {"rejects", 0, "FILE", false,
     "write the rows not imported here (default FILE.rejects.csv; "
     "stdin.rejects.csv in the current directory for -)"},
    {"map", 0, "COL=FIELD", true,
     "column COL is FIELD (a built-in field, a custom name, or - to "
     "ignore)"},
    {"delimiter", 0, "C", false, "field separator (default ,; tab: \\t)"},
    {"dry-run", 0, NULL, false, "check every row, store nothing"},
    {"on-existing", 0, "MODE", false,
     "skip (default) or update contacts already stored"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_contacts_import[] = {
    {"contacts", "import", "FILE.csv",
     "add contacts from a CSV file (- for standard input)",
     "The header row names the columns.  email, first_name, last_name,\n"
     "company, title, website and timezone are matched case-insensitively\n"
     "and by common aliases (E-mail, First Name, Job Title, ...); every\n"
     "other column is a custom field, usable in templates by its name.\n"
     "Addresses are trimmed, the domain lower-cased (IDN to ASCII) and\n"
     "checked; duplicates (in the file or stored), suppressed addresses\n"
     "and domains, and bad rows go to FILE.rejects.csv with their line\n"
     "and reason.  A malformed line (a stray quote, a quoted field never\n"
     "closed, a field over 64 KiB) costs that row only: the import goes on\n"
     "at the next line.  A row is bad too when sending would refuse it: in\n"
     "the built-in fields a line break, a control character (TAB is fine)\n"
     "or more than 900 octets (one header line), first_name last_name over\n"
     "900, an address over 64 octets before the @ or 254 in all; custom\n"
     "fields may hold line breaks but no other control character.  The\n"
     "reason names FILE:LINE and the column.  FILE - reads standard input;\n"
     "its rejects go to stdin.rejects.csv in the current directory (or\n"
     "--rejects FILE).  With --list, contacts already stored are added to\n"
     "the list too, their fields unchanged unless --on-existing update.\n"
     "Every --map column must exist in the file.  The good rows are stored\n"
     "in one transaction at the end: exit 0 when the import completed (even\n"
     "with rows rejected), 1 when nothing was stored.\n\n"
     "--json prints {\"imported\", \"updated\", \"unchanged\", "
     "\"duplicate\",\n\"suppressed\", \"rejected\", \"dry_run\", "
     "\"list\", \"added_to_list\",\n\"rejects_file\"}.\n\n"
     "Example:\n"
     "  coldseq contacts import leads.csv --list q3 --map 'Mail=email'",
     1, 1, CLI_NEEDS_DB, import_opts, run_import},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

/*
 * cmd_contacts.c - `coldseq contacts list|show|suppress|unsuppress|forget`
 * (import lives in cmd_contacts_import.c).
 *
 * Every address a command takes is normalised like an imported one, so
 * lookups are case-insensitive and IDN domains match their ASCII form.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static cJSON *contact_json(const db_contact *c)
{
	cJSON *o = cJSON_CreateObject(), *custom;
	size_t i;

	cJSON_AddStringToObject(o, "email", c->email);
#define OPT(k)                                                                 \
	if (c->k)                                                              \
		cJSON_AddStringToObject(o, #k, c->k);                          \
	else                                                                   \
		cJSON_AddNullToObject(o, #k);
	OPT(first_name)
	OPT(last_name)
	OPT(company)
	OPT(title)
	OPT(website)
	OPT(timezone)
#undef OPT
	custom = c->custom ? cJSON_Parse(c->custom) : NULL;
	cJSON_AddItemToObject(o, "custom",
	                      custom ? custom : cJSON_CreateObject());
	cJSON_AddStringToObject(o, "status", db_contact_status_name(c->status));
	if (c->nlists) {
		cJSON *l = cJSON_AddArrayToObject(o, "lists");

		for (i = 0; i < c->nlists; i++)
			cJSON_AddItemToArray(l,
			                     cJSON_CreateString(c->lists[i]));
	}
	return o;
}

/* Normalise a user's address argument, or print why not. */
static int user_email(const char *cmd, const char *arg, cs_buf *out)
{
	cs_err err = CS_ERR_INIT;

	if (cs_email_normalize(arg, out, &err) != 0) {
		cli_error("contacts %s: %s", cmd, err.msg);
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* ---- list -----------------------------------------------------------------
 */

typedef struct lister {
	cli_ctx *ctx;
	bool json, first;
	long long n;
} lister;

static int list_one(const db_contact *c, void *arg)
{
	lister *l = arg;

	if (l->json) {
		cJSON *o = contact_json(c);
		char *s = cJSON_PrintUnformatted(o);
		cs_buf red = CS_BUF_INIT;

		cs_redact(s, strlen(s), &red);
		fputs(l->first ? "[" : ",", l->ctx->out);
		fwrite(red.data, 1, red.len, l->ctx->out);
		cJSON_free(s);
		cJSON_Delete(o);
		cs_buf_free(&red);
	} else {
		cs_buf name = CS_BUF_INIT;

		if (c->first_name)
			cs_buf_puts(&name, c->first_name);
		if (c->last_name) {
			if (name.len)
				cs_buf_putc(&name, ' ');
			cs_buf_puts(&name, c->last_name);
		}
		cli_cell(l->ctx->out, c->email, 36);
		fputc(' ', l->ctx->out);
		cli_cell(l->ctx->out, name.len ? name.data : "-", 24);
		fputc(' ', l->ctx->out);
		cli_cell(l->ctx->out, c->company ? c->company : "-", 24);
		fprintf(l->ctx->out, " %s\n",
		        db_contact_status_name(c->status));
		cs_buf_free(&name);
	}
	l->first = false;
	l->n++;
	return 0;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
	const char *lim = cli_opt_value(a, "limit");
	lister l = {ctx, a->json, true, 0};
	cs_err err = CS_ERR_INIT;
	long long limit = a->json ? -1 : 100;
	char *end;

	if (lim) {
		errno = 0;
		limit = strtoll(lim, &end, 10);
		if (errno || *end || end == lim || limit < 0) {
			cli_error("contacts list: --limit takes a number of "
			          "contacts, not \"%s\"",
			          lim);
			return CLI_EXIT_USAGE;
		}
	}
	if (!a->json)
		fprintf(ctx->out, "%-36s %-24s %-24s %s\n", "EMAIL", "NAME",
		        "COMPANY", "STATUS");
	if (db_contact_foreach(ctx->db, cli_opt_value(a, "list"), limit,
	                       list_one, &l, &err) != 0) {
		cli_error("contacts list: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		fputs(l.first ? "[]\n" : "]\n", ctx->out);
	} else if (!lim && l.n == limit) {
		fprintf(ctx->out, "(the first %lld; --limit N shows more)\n",
		        limit);
	}
	return CLI_EXIT_OK;
}

/* ---- show -----------------------------------------------------------------
 */

typedef struct hist {
	cli_ctx *ctx;
	cJSON *arr;
} hist;

/* One line of the contact's outbox history (held, dropped, retried,
 * resolved): `contacts show`. */
static int history_line(const db_history *h, void *arg)
{
	hist *x = arg;
	char at[40];

	cs_time_iso8601(h->at, at, sizeof at);
	if (x->arr) {
		cJSON *o = cJSON_CreateObject();

		cli_json_time(o, "at", h->at);
		if (h->campaign)
			cJSON_AddStringToObject(o, "campaign", h->campaign);
		if (h->step)
			cJSON_AddNumberToObject(o, "step", h->step);
		if (h->outbox_id)
			cJSON_AddNumberToObject(o, "outbox_id",
			                        (double)h->outbox_id);
		cJSON_AddStringToObject(o, "action", h->action);
		if (h->detail)
			cJSON_AddStringToObject(o, "detail", h->detail);
		cJSON_AddItemToArray(x->arr, o);
	} else
		fprintf(x->ctx->out, "history:     %s %s step %d: %s%s%s\n", at,
		        h->campaign ? h->campaign : "-", h->step, h->action,
		        h->detail ? ": " : "", h->detail ? h->detail : "");
	return 0;
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
	cs_buf email = CS_BUF_INIT, reason = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	db_contact c;
	bool sup = false;
	int rc;

	if ((rc = user_email("show", a->pos[0], &email)) != 0)
		return rc;
	if (db_contact_get(ctx->db, email.data, &c, &err) != 0 ||
	    db_is_suppressed(ctx->db, email.data, &sup, &reason, &err) != 0) {
		cli_error("contacts show: %s", err.msg);
		cs_buf_free(&email);
		cs_buf_free(&reason);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		cJSON *o = contact_json(&c);

		hist x = {ctx, NULL};

		cJSON_AddBoolToObject(o, "suppressed", sup);
		if (sup)
			cJSON_AddStringToObject(o, "suppressed_reason",
			                        reason.data);
		x.arr = cJSON_AddArrayToObject(o, "history");
		if (db_history_list(ctx->db, c.email, 0, history_line, &x,
		                    &err) != 0)
			cli_error("contacts show: %s", err.msg);
		cli_print_json(ctx, o);
	} else {
		cJSON *custom = c.custom ? cJSON_Parse(c.custom) : NULL;
		const cJSON *it;
		size_t i;

		fprintf(ctx->out, "email:       %s\n", c.email);
#define LINE(label, v)                                                         \
	if (v)                                                                 \
		fprintf(ctx->out, "%-12s %s\n", label, v);
		LINE("first_name:", c.first_name)
		LINE("last_name:", c.last_name)
		LINE("company:", c.company)
		LINE("title:", c.title)
		LINE("website:", c.website)
		LINE("timezone:", c.timezone)
#undef LINE
		fprintf(ctx->out, "status:      %s%s%s\n",
		        db_contact_status_name(c.status),
		        sup ? ", suppressed: " : "", sup ? reason.data : "");
		cJSON_ArrayForEach(it, custom)
		{
			if (cJSON_IsString(it))
				fprintf(ctx->out, "custom:      %s = %s\n",
				        it->string, it->valuestring);
		}
		for (i = 0; i < c.nlists; i++)
			fprintf(ctx->out, "list:        %s\n", c.lists[i]);
		cJSON_Delete(custom);
		{
			hist x = {ctx, NULL};

			if (db_history_list(ctx->db, c.email, 0, history_line,
			                    &x, &err) != 0)
				cli_error("contacts show: %s", err.msg);
		}
	}
	db_contact_free(&c);
	cs_buf_free(&email);
	cs_buf_free(&reason);
	return CLI_EXIT_OK;
}

/* ---- suppress / unsuppress -------------------------------------------------
 */

/* "@domain" or an address into kind and a normalised value. */
static int target(const char *arg, const char **kind, cs_buf *v, cs_err *err)
{
	cs_buf_clear(v);
	if (arg[0] == '@') {
		*kind = "domain";
		return cs_domain_normalize(arg + 1, v, err);
	}
	*kind = "address";
	return cs_email_normalize(arg, v, err);
}

static int run_suppress(cli_ctx *ctx, const cli_args *a)
{
	const char *file = cli_opt_value(a, "file");
	const char *reason = cli_opt_value(a, "reason");
	cs_buf v = CS_BUF_INIT, text = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	long long added = 0, had = 0;
	int rc = CLI_EXIT_FAIL, i;

	if (a->npos == 0 && file == NULL) {
		cli_error("contacts suppress: give addresses, @domains or "
		          "--file F");
		return CLI_EXIT_USAGE;
	}
	if (file && cs_read_file(file, (size_t)64 << 20, &text, &err) != 0) {
		cli_error("contacts suppress: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (db_begin(ctx->db, &err) != 0)
		goto fail;
	for (i = 0; i < a->npos; i++) {
		const char *kind;
		bool new_ = false;

		if (target(a->pos[i], &kind, &v, &err) != 0) {
			db_rollback(ctx->db);
			cli_error("contacts suppress: %s; nothing was stored",
			          err.msg);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		if (db_suppress_add(ctx->db, kind, v.data,
		                    reason ? reason : "manual", "cli",
		                    cs_clock_now(NULL), &new_, &err) != 0)
			goto fail_tx;
		new_ ? added++ : had++;
	}
	if (file) {
		char *s = text.data ? text.data : (char *)"", *line;
		size_t ln = 0;

		/* strtok_r skips empty lines; count them by hand */
		for (line = s; line && *line;) {
			char *nl = strchr(line, '\n');
			const char *kind;
			bool new_ = false;

			if (nl)
				*nl = '\0';
			ln++;
			cs_trim(line);
			if (*line && *line != '#') {
				if (target(line, &kind, &v, &err) != 0) {
					db_rollback(ctx->db);
					cli_error("contacts suppress: %s:%zu: "
					          "%s; nothing was stored",
					          file, ln, err.msg);
					rc = CLI_EXIT_FAIL;
					goto out;
				}
				if (db_suppress_add(ctx->db, kind, v.data,
				                    reason ? reason : "manual",
				                    file, cs_clock_now(NULL),
				                    &new_, &err) != 0)
					goto fail_tx;
				new_ ? added++ : had++;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	if (db_commit(ctx->db, &err) != 0)
		goto fail_tx;
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "added", (double)added);
		cJSON_AddNumberToObject(o, "already", (double)had);
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		fprintf(ctx->out, "Suppressed %lld (%lld already were)\n",
		        added, had);
	}
	rc = CLI_EXIT_OK;
	goto out;
fail_tx:
	db_rollback(ctx->db);
fail:
	cli_error("contacts suppress: %s", err.msg);
out:
	cs_buf_free(&v);
	cs_buf_free(&text);
	return rc;
}

static int run_unsuppress(cli_ctx *ctx, const cli_args *a)
{
	cs_buf v = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	const char *kind;
	bool removed = false;
	int rc = CLI_EXIT_OK;

	if (target(a->pos[0], &kind, &v, &err) != 0) {
		cli_error("contacts unsuppress: %s", err.msg);
		cs_buf_free(&v);
		return CLI_EXIT_USAGE;
	}
	if (db_suppress_remove(ctx->db, kind, v.data, &removed, &err) != 0) {
		cli_error("contacts unsuppress: %s", err.msg);
		rc = CLI_EXIT_FAIL;
	} else if (!removed) {
		cli_error("contacts unsuppress: %s%s is not suppressed",
		          *kind == 'd' ? "@" : "", v.data);
		rc = CLI_EXIT_FAIL;
	} else if (!a->quiet && !a->json) {
		fprintf(ctx->out, "%s%s is no longer suppressed\n",
		        *kind == 'd' ? "@" : "", v.data);
	} else if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "unsuppressed", v.data);
		cJSON_AddStringToObject(o, "kind", kind);
		cli_print_json(ctx, o);
	}
	cs_buf_free(&v);
	return rc;
}

/* ---- forget
 * ------------------------------------------------------------------ */

static int run_forget(cli_ctx *ctx, const cli_args *a)
{
	cs_buf email = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	bool found = false, purged = false;
	int rc;

	if ((rc = user_email("forget", a->pos[0], &email)) != 0)
		return rc;
	if (db_contact_forget(ctx->db, email.data, cs_clock_now(NULL), &found,
	                      &purged, &err) != 0) {
		cli_error("contacts forget: %s", err.msg);
		cs_buf_free(&email);
		return CLI_EXIT_FAIL;
	}
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddBoolToObject(o, "was_contact", found);
		cJSON_AddBoolToObject(o, "suppressed", true);
		cJSON_AddBoolToObject(o, "purged", purged);
		cli_print_json(ctx, o);
	} else if (!a->quiet) {
		fprintf(ctx->out,
		        "%s: personal data erased; only a salted hash of "
		        "the address is kept, so it is never imported or "
		        "mailed again\n",
		        found ? "Forgotten" : "Not a contact");
	}
	if (!purged && !a->json)
		cli_error("contacts forget: another process is reading the "
		          "database; old copies of the address leave its "
		          "write-ahead log at the next checkpoint (run the "
		          "command again to force one)");
	cs_buf_free(&email);
	return CLI_EXIT_OK;
}

static const cli_opt list_opts[] = {
    {"list", 0, "NAME", false, "only the contacts of this list"},
    {"limit", 0, "N", false, "at most N (text default 100, JSON all)"},
    {NULL, 0, NULL, false, NULL},
};

static const cli_opt suppress_opts[] = {
    {"file", 0, "F", false, "one address or @domain a line (# comments)"},
    {"reason", 0, "R", false, "why (default: manual)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_contacts[] = {
    {"contacts", "list", NULL, "list contacts",
     "Contacts by address.  Text output shows the first 100 unless\n"
     "--limit is given; --json prints one array of every matching\n"
     "contact (or --limit of them): [{\"email\", \"first_name\", "
     "\"last_name\",\n\"company\", \"title\", \"website\", \"timezone\", "
     "\"custom\": {...}, \"status\"}].\n\n"
     "Example:\n  coldseq contacts list --list q3 --json",
     0, 0, CLI_NEEDS_DB, list_opts, run_list},
    {"contacts", "show", "EMAIL", "show one contact",
     "Every field, custom fields, lists, whether the address is\n"
     "suppressed, and the history of its campaign steps apart from SMTP\n"
     "answers (held: what to fix; dropped, retried, resolved by the\n"
     "outbox commands).  The address is found case-insensitively.\n\n"
     "--json prints the contact (as one element of 'contacts list\n"
     "--json') with history [{at, campaign, step, outbox_id, action,\n"
     "detail}].\n\n"
     "Example:\n  coldseq contacts show Ann@Example.com",
     1, 1, CLI_NEEDS_DB, NULL, run_show},
    {"contacts", "suppress", "ADDR|@DOMAIN...",
     "never mail these addresses or domains",
     "Suppressed addresses and domains are skipped at import and never\n"
     "mailed by any campaign.  --file reads one address or @domain a\n"
     "line.  A bad entry stores nothing and names its line.\n\n"
     "--json prints {\"added\", \"already\"}.\n\n"
     "Example:\n  coldseq contacts suppress @competitor.com "
     "ceo@example.com --reason 'asked us'",
     0, -1, CLI_NEEDS_DB, suppress_opts, run_suppress},
    {"contacts", "unsuppress", "ADDR|@DOMAIN", "lift a suppression",
     "Removes an address or @domain suppression (exit 1 when there is\n"
     "none).  A forgotten address stays suppressed.\n\n"
     "--json prints {\"unsuppressed\", \"kind\": \"address\"|\"domain\"}.\n\n"
     "Example:\n  coldseq contacts unsuppress @example.org",
     1, 1, CLI_NEEDS_DB, NULL, run_unsuppress},
    {"contacts", "forget", "EMAIL", "erase a contact's personal data",
     "Deletes the contact with its fields and list memberships, and\n"
     "keeps only a salted SHA-256 of the address so it is never\n"
     "imported or mailed again (also when it was not a contact).  Sent\n"
     "messages and replies, bounces and other events stay counted, with\n"
     "the address replaced by forgotten:HASH and their subjects erased.\n"
     "--json prints {\"was_contact\", \"suppressed\", \"purged\"}\n"
     "(purged: old copies also left the write-ahead log).\n\n"
     "Example:\n  coldseq contacts forget ann@example.com",
     1, 1, CLI_NEEDS_DB, NULL, run_forget},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

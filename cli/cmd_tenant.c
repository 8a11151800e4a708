/*
 * cmd_tenant.c - `coldseq tenant set|list|show`: Microsoft 365 tenants,
 * whose inboxes (`inbox set NAME --tenant KEY`) share one tenant-wide
 * external-recipient counter per rolling 24 hours.  The limit is the
 * tenant's --external-limit when set, else floor(500 * licences^0.7 +
 * 9500) (core/provider.c, cs_limit_tenant_external).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

int cli_tenant_counter(cli_ctx *ctx, const db_tenant *t, int64_t now,
                       long long *used, long long *max, int64_t *frees_at,
                       cs_err *err)
{
	const cs_limit_kind *k = cs_limit_kind_get(CS_LIM_TENANT_EXTERNAL_24H);
	db_limit_use u = {0, 0};
	int rc;

	*max = cs_limit_tenant_external(t->licences, t->external_limit);
	*used = 0;
	*frees_at = 0;
	if (t->first_inbox == 0) /* no inbox names it: nothing counted */
		return 0;
	if ((rc = db_limit_count(ctx->db, t->first_inbox, t->name, k, *max, now,
	                         false, &u, err)) != 0)
		return rc;
	*used = u.used;
	*frees_at = u.frees_at;
	return 0;
}

static cJSON *tenant_json(const db_tenant *t, long long used, long long max,
                          int64_t frees)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddNumberToObject(o, "licences", (double)t->licences);
	cJSON_AddNumberToObject(o, "external_limit_set",
	                        (double)t->external_limit);
	cJSON_AddNumberToObject(o, "inboxes", (double)t->inboxes);
	cJSON_AddNumberToObject(o, "external_used", (double)used);
	cJSON_AddNumberToObject(o, "external_max", (double)max);
	cli_json_time(o, "frees_at", used >= max ? frees : 0);
	return o;
}

static void tenant_text(cli_ctx *ctx, const db_tenant *t, long long used,
                        long long max, int64_t frees)
{
	char when[40] = "";

	if (used >= max && frees > 0)
		cs_time_iso8601(frees, when, sizeof when);
	fprintf(ctx->out,
	        "%s: %lld inbox(es), external recipients %lld/%lld per "
	        "24 hours (%s)%s%s\n",
	        t->name, t->inboxes, used, max,
	        t->external_limit ? "limit set"
	        : t->licences     ? "from licences"
	                          : "licences unset: 1",
	        when[0] ? ", full until " : "", when);
}

/* A count option: -1 when absent. */
static int count_opt(const cli_args *a, const char *name, long long *out,
                     cs_err *err)
{
	const char *v = cli_opt_value(a, name);
	char *end;

	*out = -1;
	if (v == NULL)
		return 0;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (*v == '\0' || *end || errno || *out < 0 || *out > 100000000)
		return cs_err_set(err, CS_EINVAL,
		                  "--%s: \"%s\" is not a number from 0 to "
		                  "100000000 (0: unset)",
		                  name, v);
	return 0;
}

static int run_set(cli_ctx *ctx, const cli_args *a)
{
	cs_err err = CS_ERR_INIT;
	long long lic, ext, used, max;
	int64_t now = cs_clock_now(NULL), frees;
	db_tenant t;
	bool found;

	if (count_opt(a, "licences", &lic, &err) != 0 ||
	    count_opt(a, "external-limit", &ext, &err) != 0) {
		cli_error("tenant set: %s", err.msg);
		return CLI_EXIT_USAGE;
	}
	if (lic < 0 && ext < 0) {
		cli_error(
		    "tenant set: give --licences N or --external-limit N");
		return CLI_EXIT_USAGE;
	}
	if (!cli_valid_key(a->pos[0])) {
		cli_error("tenant set: the tenant key must be 1-64 letters, "
		          "digits or . _ - @ + (as 'inbox set --tenant' takes "
		          "it)");
		return CLI_EXIT_USAGE;
	}
	if (db_tenant_set(ctx->db, a->pos[0], lic, ext, now, &err) != 0 ||
	    db_tenant_get(ctx->db, a->pos[0], &t, &found, &err) != 0)
		goto fail;
	if (cli_tenant_counter(ctx, &t, now, &used, &max, &frees, &err) != 0) {
		db_tenant_free(&t);
		goto fail;
	}
	if (a->json)
		cli_print_json(ctx, tenant_json(&t, used, max, frees));
	else if (!a->quiet)
		tenant_text(ctx, &t, used, max, frees);
	db_tenant_free(&t);
	return CLI_EXIT_OK;
fail:
	cli_error("tenant set: %s", err.msg);
	return CLI_EXIT_FAIL;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL);
	db_tenant *t = NULL;
	cJSON *arr = NULL;
	size_t n = 0, i;

	if (db_tenant_list(ctx->db, &t, &n, &err) != 0)
		goto fail;
	if (a->json)
		arr = cJSON_CreateArray();
	else if (n == 0 && !a->quiet)
		fprintf(ctx->out, "no tenants (name one with 'coldseq inbox "
		                  "set NAME --tenant KEY')\n");
	for (i = 0; i < n; i++) {
		long long used, max;
		int64_t frees;

		if (cli_tenant_counter(ctx, &t[i], now, &used, &max, &frees,
		                       &err) != 0) {
			cJSON_Delete(arr);
			db_tenant_list_free(t, n);
			goto fail;
		}
		if (arr)
			cJSON_AddItemToArray(
			    arr, tenant_json(&t[i], used, max, frees));
		else
			tenant_text(ctx, &t[i], used, max, frees);
	}
	if (arr)
		cli_print_json(ctx, arr);
	db_tenant_list_free(t, n);
	return CLI_EXIT_OK;
fail:
	cli_error("tenant list: %s", err.msg);
	return CLI_EXIT_FAIL;
}

static int run_show(cli_ctx *ctx, const cli_args *a)
{
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL), frees;
	long long used, max;
	db_tenant t;
	bool found;

	if (db_tenant_get(ctx->db, a->pos[0], &t, &found, &err) != 0)
		goto fail;
	if (!found) {
		cli_error("tenant show: no tenant '%s' (set one with 'coldseq "
		          "tenant set KEY --licences N' or name it with "
		          "'coldseq inbox set NAME --tenant KEY')",
		          a->pos[0]);
		return CLI_EXIT_FAIL;
	}
	if (cli_tenant_counter(ctx, &t, now, &used, &max, &frees, &err) != 0) {
		db_tenant_free(&t);
		goto fail;
	}
	if (a->json)
		cli_print_json(ctx, tenant_json(&t, used, max, frees));
	else {
		tenant_text(ctx, &t, used, max, frees);
		fprintf(ctx->out, "licences: %lld%s\nexternal limit: %lld%s\n",
		        t.licences, t.licences ? "" : " (unset: 1)", max,
		        t.external_limit ? " (set)"
		                         : " (500 * licences^0.7 + "
		                           "9500)");
	}
	db_tenant_free(&t);
	return CLI_EXIT_OK;
fail:
	cli_error("tenant show: %s", err.msg);
	return CLI_EXIT_FAIL;
}

static const cli_opt set_opts[] = {
    {"licences", 0, "N", false,
     "the tenant's licence count (its external limit is "
     "500 * N^0.7 + 9500)"},
    {"external-limit", 0, "N", false,
     "the tenant's external-recipient limit per 24 hours (0: from the "
     "licences)"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_tenant[] = {
    {"tenant", "set", "KEY",
     "set a tenant's licences or its external-recipient limit",
     "A Microsoft 365 tenant limits the recipients outside its domains to\n"
     "floor(500 * licences^0.7 + 9500) per rolling 24 hours, across every\n"
     "mailbox of the tenant.  Inboxes with the same --tenant KEY share\n"
     "that counter (coldseq inbox set NAME --tenant KEY).  Without\n"
     "licences the count is 1 (10000 a day); --external-limit sets the\n"
     "limit itself (0: back to the licences).\n\n"
     "--json prints the tenant as 'tenant show --json' does.\n\n"
     "Examples:\n  coldseq tenant set contoso --licences 40\n"
     "  coldseq tenant set contoso --external-limit 12000",
     1, 1, CLI_NEEDS_DB, set_opts, run_set},
    {"tenant", "list", NULL,
     "tenants with their shared counter against its limit",
     "Every tenant set or named by an inbox: its inboxes, the external\n"
     "recipients of the last 24 hours (rolling) against its limit, and\n"
     "when a full counter frees capacity.\n\n"
     "--json prints [{name, licences, external_limit_set, inboxes,\n"
     "external_used, external_max, frees_at}] (frees_at ISO 8601 UTC, null\n"
     "unless the counter is full).\n\n"
     "Example:\n  coldseq tenant list --json",
     0, 0, CLI_NEEDS_DB, NULL, run_list},
    {"tenant", "show", "KEY", "one tenant's licences, limit and counter",
     "The tenant's licences, external-recipient limit and counter, as\n"
     "'tenant list' shows them; --json prints one object.\n\n"
     "Example:\n  coldseq tenant show contoso",
     1, 1, CLI_NEEDS_DB, NULL, run_show},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

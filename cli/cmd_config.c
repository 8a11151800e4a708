/*
 * cmd_config.c - `coldseq config get|set|unset|list`.
 *
 * Known keys only (db_config_defs); an unknown key or a bad value is a
 * usage error (exit 2) that names the key.
 */
#include "cli_int.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *type_name(db_config_type t)
{
	switch (t) {
	case DB_CFG_STRING: return "string";
	case DB_CFG_INT: return "integer";
	case DB_CFG_BOOL: return "boolean";
	case DB_CFG_ENUM: return "choice";
	case DB_CFG_DURATION: return "duration";
	case DB_CFG_TIMEZONE: return "timezone";
	case DB_CFG_URL: return "url";
	case DB_CFG_SECRET: return "secret";
	}
	return "?";
}

/* Unknown key: exit 2 with the nearest known key. */
static int bad_key(const char *key)
{
	const db_config_def *d, *hit = NULL;
	int best = 4, n;

	for (d = db_config_defs(); d->key; d++)
		if ((n = cs_edit_distance(key, d->key, 3)) < best) {
			best = n;
			hit = d;
		}
	if (hit)
		cli_error("unknown config key '%s'. Did you mean '%s'?\nSee "
		          "'coldseq config list'.",
		          key, hit->key);
	else
		cli_error(
		    "unknown config key '%s'.\nSee 'coldseq config list'.",
		    key);
	return CLI_EXIT_USAGE;
}

static cJSON *entry_json(const db_config_def *d, const char *value, bool is_set)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "key", d->key);
	cJSON_AddStringToObject(o, "value", value);
	cJSON_AddStringToObject(o, "default", d->def);
	cJSON_AddBoolToObject(o, "set", is_set);
	cJSON_AddStringToObject(o, "type", type_name(d->type));
	if (d->choices)
		cJSON_AddStringToObject(o, "choices", d->choices);
	cJSON_AddStringToObject(o, "description", d->help);
	return o;
}

static int run_get(cli_ctx *ctx, const cli_args *a)
{
	const db_config_def *d = db_config_find(a->pos[0]);
	cs_buf v = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	bool is_set;

	if (d == NULL)
		return bad_key(a->pos[0]);
	if (db_config_get(ctx->db, d->key, &v, &is_set, &err) != 0) {
		cli_error("config get: %s", err.msg);
		cs_buf_free(&v);
		return CLI_EXIT_FAIL;
	}
	if (a->json)
		cli_print_json(ctx, entry_json(d, cs_buf_str(&v), is_set));
	else
		fprintf(ctx->out, "%s\n", cs_buf_str(&v));
	cs_buf_free(&v);
	return CLI_EXIT_OK;
}

/* A secret setting: the value (from the command line, or from stdin when
 * it is "-", so it stays out of `ps`) is sealed in the vault; output only
 * ever says "(sealed)". */
static int set_secret(cli_ctx *ctx, const db_config_def *d, const char *value,
                      cs_err *err)
{
	char *in = NULL, *mkey;
	cs_buf canon = CS_BUF_INIT, blob = CS_BUF_INIT;
	cs_secret *sec;
	int rc;

	if (strcmp(value, "-") == 0 &&
	    (value = in = cli_read_secret_stdin(err)) == NULL)
		return CS_EINVAL;
	rc = db_config_parse(d, value, &canon, err);
	sec = cs_secret_new(canon.data ? canon.data : "", canon.len);
	cs_buf_wipe(&canon);
	if (in) {
		cs_memwipe(in, strlen(in));
		free(in);
	}
	if (rc == 0 && cs_secret_len(sec) == 0)
		rc =
		    cs_err_set(err, CS_EINVAL,
		               "config %s: empty (use 'config unset')", d->key);
	if (rc == 0 && ctx->vault == NULL) {
		ctx->key_path = cli_key_path(ctx, NULL);
		rc = cli_vault_load_checked(ctx->db, ctx->key_path, &ctx->vault,
		                            err);
	}
	mkey = cs_xasprintf("%s%s", DB_CFG_SEALED_PREFIX, d->key);
	if (rc == 0)
		rc = cs_vault_seal(ctx->vault, "meta", "value", mkey,
		                   cs_secret_value(sec), cs_secret_len(sec),
		                   &blob, err);
	if (rc == 0)
		rc = db_config_set_sealed(ctx->db, d->key, blob.data, blob.len,
		                          err);
	free(mkey);
	cs_buf_free(&blob);
	cs_secret_free(sec);
	return rc;
}

static int run_set(cli_ctx *ctx, const cli_args *a)
{
	const db_config_def *d = db_config_find(a->pos[0]);
	cs_err err = CS_ERR_INIT;
	cs_buf v = CS_BUF_INIT;
	int rc;

	if (d == NULL)
		return bad_key(a->pos[0]);
	if (d->type == DB_CFG_SECRET)
		rc = set_secret(ctx, d, a->pos[1], &err);
	else
		rc = db_config_set(ctx->db, d->key, a->pos[1], &err);
	if (rc == CS_EINVAL) {
		cli_error(
		    "%s\nSee 'coldseq config list' for the allowed values.",
		    err.msg);
		return CLI_EXIT_USAGE;
	}
	if (rc == 0)
		rc = db_config_get(ctx->db, d->key, &v, NULL, &err);
	if (rc != 0) {
		cli_error("config set: %s", err.msg);
		cs_buf_free(&v);
		return CLI_EXIT_FAIL;
	}
	if (a->json)
		cli_print_json(ctx, entry_json(d, cs_buf_str(&v), true));
	else if (!a->quiet)
		fprintf(ctx->out, "%s = %s\n", d->key, cs_buf_str(&v));
	cs_buf_free(&v);
	return CLI_EXIT_OK;
}

static int run_unset(cli_ctx *ctx, const cli_args *a)
{
	const db_config_def *d = db_config_find(a->pos[0]);
	cs_err err = CS_ERR_INIT;

	if (d == NULL)
		return bad_key(a->pos[0]);
	if (db_config_unset(ctx->db, d->key, &err) != 0) {
		cli_error("config unset: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (a->json)
		cli_print_json(ctx, entry_json(d, d->def, false));
	else if (!a->quiet)
		fprintf(ctx->out, "%s = %s (default)\n", d->key, d->def);
	return CLI_EXIT_OK;
}

static int run_list(cli_ctx *ctx, const cli_args *a)
{
	const db_config_def *d;
	cs_err err = CS_ERR_INIT;
	cJSON *arr = a->json ? cJSON_CreateArray() : NULL;

	for (d = db_config_defs(); d->key; d++) {
		cs_buf v = CS_BUF_INIT;
		bool is_set;

		if (db_config_get(ctx->db, d->key, &v, &is_set, &err) != 0) {
			cli_error("config list: %s", err.msg);
			cs_buf_free(&v);
			cJSON_Delete(arr);
			return CLI_EXIT_FAIL;
		}
		if (arr)
			cJSON_AddItemToArray(
			    arr, entry_json(d, cs_buf_str(&v), is_set));
		else
			fprintf(ctx->out, "%-20s %-14s %-9s %s%s\n", d->key,
			        cs_buf_str(&v), type_name(d->type), d->help,
			        is_set ? "" : " [default]");
		cs_buf_free(&v);
	}
	if (arr)
		cli_print_json(ctx, arr);
	return CLI_EXIT_OK;
}

static const char list_help[] =
    "Lists every known key with its value, type and description; values\n"
    "not set show their default.  Durations are stored in seconds and\n"
    "accept 90, 90s, 15m, 2h, 1d.\n"
    "\n"
    "--json prints an array of {\"key\", \"value\", \"default\", \"set\",\n"
    "\"type\", \"description\"} (and \"choices\" for a choice).\n"
    "\n"
    "Example:\n"
    "  coldseq config list";

const cli_cmd cli_cmds_config[] = {
    {"config", "get", "KEY", "print a setting's value (or its default)",
     "--json prints {\"key\", \"value\", \"default\", \"set\", \"type\", "
     "\"description\"}.\n\nExample:\n  coldseq config get inbox.daily_cap",
     1, 1, CLI_NEEDS_DB, NULL, run_get},
    {"config", "set", "KEY VALUE", "check and store a setting",
     "The value is checked against the key's type; a bad value or an\n"
     "unknown key is a usage error (exit 2) and stores nothing.\n"
     "A secret (type secret, e.g. oauth.google.client_secret) is sealed in\n"
     "the vault and never shown again; give - as VALUE to read it from the\n"
     "first line of stdin instead of the command line.\n\n"
     "--json prints the setting as 'config get --json' does.\n\n"
     "Example:\n  coldseq config set general.timezone Europe/Berlin",
     2, 2, CLI_NEEDS_DB, NULL, run_set},
    {"config", "unset", "KEY", "return a setting to its default",
     "--json prints the setting (now its default) as 'config get --json'\n"
     "does.\n\n"
     "Example:\n  coldseq config unset inbox.daily_cap",
     1, 1, CLI_NEEDS_DB, NULL, run_unset},
    {"config", "list", NULL, "list every setting with its value", list_help, 0,
     0, CLI_NEEDS_DB, NULL, run_list},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

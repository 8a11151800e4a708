/*
 * token_health.c - OAuth2 token health of an inbox, as `inbox list|show`
 * and `status` show it (never a token), and ISO 8601 times in JSON.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Days from a to b (ms). */
static long days_between(int64_t a, int64_t b)
{
	return b > a ? (long)((b - a) / 86400000) : 0;
}

void cli_token_health_get(cli_ctx *ctx, const db_inbox *in, cli_token_health *h)
{
	db_token t;
	int64_t now = cs_clock_now(NULL);

	memset(h, 0, sizeof *h);
	if (db_token_get(ctx->db, in->id, &t, NULL) != 0)
		return;
	if (t.found) {
		/* a token row is always google's or microsoft's (schema) */
		const cs_provider *p = cs_provider_get(t.provider);
		long limit = p->refresh_idle_days, warn = p->refresh_warn_days;

		h->oauth = true;
		h->refreshed_at = t.refreshed_at;
		h->expires_at = t.expires_at;
		h->used_at = t.used_at;
		h->issued_at = t.refresh_issued_at;
		h->connected_at = t.connected_at;
		h->refresh_age_days = days_between(t.refresh_issued_at, now);
		h->idle_days = days_between(t.refreshed_at, now);
		if (h->idle_days >= warn)
			snprintf(h->warning, sizeof h->warning,
			         "the refresh token has not been used for %ld "
			         "days; %s lets it expire after %ld days "
			         "without use: run the service or 'coldseq "
			         "inbox test %.40s'",
			         h->idle_days, p->label, limit, in->name);
	}
	db_token_free(&t);
}

void cli_json_str(void *obj, const char *key, const char *v)
{
	cs_buf b = CS_BUF_INIT;

	if (v == NULL) {
		cJSON_AddNullToObject(obj, key);
		return;
	}
	/* cJSON copies bytes as they are: JSON must be valid UTF-8 */
	cs_utf8_repair(v, strlen(v), &b);
	cJSON_AddStringToObject(obj, key, cs_buf_str(&b));
	cs_buf_free(&b);
}

void cli_json_time(void *obj, const char *key, int64_t t)
{
	cJSON *o = obj;
	char iso[32];

	if (t <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	cs_time_iso8601(t, iso, sizeof iso);
	cJSON_AddStringToObject(o, key, iso);
}

void *cli_token_health_json(const cli_token_health *h)
{
	cJSON *o = cJSON_CreateObject();

	cli_json_time(o, "connected_at", h->connected_at);
	cli_json_time(o, "last_refresh", h->refreshed_at);
	cli_json_time(o, "access_expires_at", h->expires_at);
	cli_json_time(o, "last_used", h->used_at);
	cli_json_time(o, "refresh_token_issued_at", h->issued_at);
	cJSON_AddNumberToObject(o, "refresh_token_age_days",
	                        (double)h->refresh_age_days);
	if (h->warning[0])
		cJSON_AddStringToObject(o, "warning", h->warning);
	return o;
}

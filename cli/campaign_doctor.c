/*
 * campaign_doctor.c - what `campaign start` says about the deliverability
 * check: each inbox of the campaign whose stored doctor verdict fails,
 * and those never checked (sequencer/seq_service_doctor.c refreshes the
 * verdicts; `coldseq doctor` stores them).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"

/* One warning of campaign start: on stderr (when msg is not NULL), and
 * into warns (when not NULL) as {inbox, doctor: "fail"|"unchecked",
 * failing, checked_at, message}. */
static void doctor_warn(cJSON *warns, const char *inbox, const char *doctor,
                        const char *failing, int64_t checked_at,
                        const char *msg)
{
	cJSON *o, *arr;
	const char *p;

	if (msg)
		fprintf(stderr, "coldseq: warning: %s\n", msg);
	if (warns == NULL)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "inbox", inbox);
	cJSON_AddStringToObject(o, "doctor", doctor);
	arr = cJSON_AddArrayToObject(o, "failing");
	for (p = failing; *p;) {
		size_t n = strcspn(p, ",");
		char *w = cs_xstrndup(p, n);

		if (n)
			cJSON_AddItemToArray(arr, cJSON_CreateString(w));
		free(w);
		p += n + (p[n] == ',');
	}
	cli_json_time(o, "checked_at", checked_at);
	cJSON_AddStringToObject(o, "message", msg ? msg : "");
	cJSON_AddItemToArray(warns, o);
}

/* After a start: each inbox of c (its selectors) whose stored doctor
 * verdict is fail gets a warning naming its failing checks and the
 * command to see them; those never checked, one line suggesting
 * `coldseq doctor`.  The start stands whatever this finds; a read error
 * is a warning too. */
void cli_campaign_doctor_warnings(cli_ctx *ctx, const db_campaign *c,
                                  void *warns_json)
{
	cJSON *warns = warns_json;
	db_inbox *ins = NULL;
	size_t n = 0, i, nnever = 0;
	cs_buf never = CS_BUF_INIT, msg = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	int64_t now = cs_clock_now(NULL);

	if (db_inbox_list(ctx->db, NULL, &ins, &n, &err) != 0) {
		fprintf(stderr,
		        "coldseq: warning: the inboxes' doctor "
		        "verdicts could not be read: %s\n",
		        err.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		db_doctor_verdict v;
		bool found = false;

		if (!seq_inbox_selected(&ins[i], c->inboxes))
			continue;
		if (db_doctor_verdict_get(ctx->db, ins[i].id, &v, &found,
		                          &err) != 0) {
			fprintf(stderr, "coldseq: warning: inbox %s: %s\n",
			        ins[i].name, err.msg);
			continue;
		}
		if (!found) {
			cs_buf_printf(&never, "%s%s", nnever ? ", " : "",
			              ins[i].name);
			nnever++;
			doctor_warn(warns, ins[i].name, "unchecked", "", 0,
			            NULL);
			continue;
		}
		if (strcmp(v.verdict, "fail") == 0) {
			cs_buf_clear(&msg);
			cs_buf_printf(
			    &msg,
			    "inbox %s fails the deliverability check "
			    "(%s)%s: its mail may be refused or land in "
			    "Junk; run 'coldseq doctor %s'",
			    ins[i].name,
			    v.failing[0] ? v.failing : "see the doctor",
			    seq_doctor_stale(&v, now)
			        ? ", as checked over 48 hours ago"
			        : "",
			    ins[i].name);
			doctor_warn(warns, ins[i].name, "fail", v.failing,
			            v.checked_at, msg.data);
		}
		db_doctor_verdict_free(&v);
	}
	if (nnever) {
		cs_buf_clear(&msg);
		cs_buf_printf(&msg,
		              "%s %s %s never checked for deliverability (SPF, "
		              "DKIM, DMARC, block lists): run 'coldseq doctor'",
		              nnever == 1 ? "inbox" : "inboxes", never.data,
		              nnever == 1 ? "was" : "were");
		fprintf(stderr, "coldseq: warning: %s\n", msg.data);
		/* the same sentence on each unchecked inbox's entry */
		for (i = 0; warns && i < (size_t)cJSON_GetArraySize(warns);
		     i++) {
			cJSON *o = cJSON_GetArrayItem(warns, (int)i);
			cJSON *d = cJSON_GetObjectItem(o, "doctor");

			if (strcmp(cJSON_GetStringValue(d), "unchecked") == 0)
				cJSON_ReplaceItemInObject(
				    o, "message", cJSON_CreateString(msg.data));
		}
	}
	cs_buf_free(&never);
	cs_buf_free(&msg);
	db_inbox_list_free(ins, n);
}

/*
 * db_doctor.c - the doctor_verdicts table (schema 17): the last verdict
 * of `coldseq doctor` (or the service's daily check) per inbox, with the
 * failing "check.defect" words, for `status` and campaign start.
 *
 * One row per inbox, replaced on every check; the row goes with the inbox
 * (ON DELETE CASCADE).  What a verdict means is the doctor's
 * (doctor/dr_check.c); here only storage.
 */
#include "db_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int db_doctor_verdict_set(db *d, long long inbox_id, const char *verdict,
                          const char *failing, int64_t checked_at, cs_err *err)
{
	static const char sql[] =
	    "INSERT INTO doctor_verdicts(inbox_id, verdict, failing, "
	    "checked_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT(inbox_id) DO "
	    "UPDATE SET verdict = excluded.verdict, failing = "
	    "excluded.failing, checked_at = excluded.checked_at";
	sqlite3_stmt *st;
	int rc;

	if (strcmp(verdict, "pass") != 0 && strcmp(verdict, "warn") != 0 &&
	    strcmp(verdict, "fail") != 0)
		return cs_err_set(
		    err, CS_EINVAL,
		    "doctor verdict '%s' is not pass, warn or fail", verdict);
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	sqlite3_bind_text(st, 2, verdict, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, failing ? failing : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, checked_at);
	rc = sqlite3_step(st);
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(d, err, "store the doctor's verdict");
	return 0;
}

int db_doctor_verdict_get(db *d, long long inbox_id, db_doctor_verdict *out,
                          bool *found, cs_err *err)
{
	static const char sql[] =
	    "SELECT verdict, failing, checked_at FROM doctor_verdicts "
	    "WHERE inbox_id = ?1";
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof *out);
	*found = false;
	if ((rc = db_cached(d, sql, &st, err)) != 0)
		return rc;
	sqlite3_bind_int64(st, 1, inbox_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		out->inbox_id = inbox_id;
		snprintf(out->verdict, sizeof out->verdict, "%s", v ? v : "");
		out->failing = db_col_str(st, 1);
		if (out->failing == NULL)
			out->failing = cs_xstrdup("");
		out->checked_at = sqlite3_column_int64(st, 2);
		*found = true;
		rc = SQLITE_DONE;
	}
	db_done(st);
	if (rc != SQLITE_DONE)
		return db_fail(d, err, "read the doctor's verdict");
	return 0;
}

void db_doctor_verdict_free(db_doctor_verdict *v)
{
	if (v == NULL)
		return;
	free(v->failing);
	memset(v, 0, sizeof *v);
}

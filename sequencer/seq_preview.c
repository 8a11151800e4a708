/*
 * seq_preview.c - the projected schedule of a campaign: the real
 * scheduler, run on a copy of the database with a simulated clock and a
 * transport that records instead of sending.  Other campaigns run in the
 * copy too, since they share the inboxes' caps; only the asked
 * campaign's messages are reported.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct rec {
	const char *campaign;
	int (*fn)(const seq_preview_row *r, void *arg);
	void *arg;
	int rc;
} rec;

static int record(void *arg, const seq_job *job, smtp_result *res)
{
	rec *r = arg;
	seq_preview_row row;

	memset(res, 0, sizeof *res);
	res->code = 250;
	res->verdict.outcome = SMTP_SENT;
	if (r->rc || strcmp(job->campaign, r->campaign) != 0)
		return 0;
	row.at = job->at;
	row.zone = job->zone;
	row.inbox = job->inbox;
	row.contact = job->contact;
	row.variant = job->variant;
	row.step = job->step;
	row.held = NULL;
	r->rc = r->fn(&row, r->arg);
	return 0;
}

typedef struct heldrec {
	seq_sched *s;
	rec *r;
} heldrec;

static int held_row(const db_enrollment *e, void *arg)
{
	heldrec *h = arg;
	seq_camp *c = seq_find_camp(h->s, e->campaign_id);
	seq_preview_row row;

	memset(&row, 0, sizeof row);
	row.at = e->due_at;
	row.zone = c ? seq_contact_zone(c, e->contact_tz) : "UTC";
	if (!cs_tz_valid(row.zone))
		row.zone = c ? c->c.timezone : "UTC";
	row.contact = e->email;
	row.step = e->step;
	row.held = e->reason ? e->reason : "held";
	return h->r->fn(&row, h->r->arg);
}

static void remove_copy(const char *path)
{
	char side[4200];

	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

int seq_preview(db *d, cs_vault *v, const char *campaign, int64_t start,
                int64_t until, int (*fn)(const seq_preview_row *r, void *arg),
                void *arg, cs_err *err)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[4096];
	db *cp = NULL;
	db_campaign c;
	cs_clock *clock = NULL;
	seq_sched *s = NULL;
	rec r = {campaign, fn, arg, 0};
	seq_transport t = {.send = record, .arg = &r};
	int fd, rc;

	memset(&c, 0, sizeof c);
	snprintf(path, sizeof path, "%s/coldseq-preview-XXXXXX",
	         tmpdir && *tmpdir ? tmpdir : "/tmp");
	if ((fd = mkstemp(path)) < 0)
		return cs_err_set(err, CS_EIO, "cannot make a file in %s",
		                  tmpdir && *tmpdir ? tmpdir : "/tmp");
	close(fd);
	if ((rc = db_copy(d, path, err)) != 0 ||
	    (rc = db_open(path, 0, &cp, err)) != 0 ||
	    (rc = db_campaign_get(cp, campaign, &c, err)) != 0)
		goto out;
	if (c.status == DB_CAMPAIGN_DRAFT && c.list) {
		db_enroll_result er;

		memset(&er, 0, sizeof er);
		if ((rc = db_campaign_enroll(cp, &c, c.list, NULL, start, &er,
		                             err)) != 0)
			goto out;
	}
	if (c.status != DB_CAMPAIGN_ACTIVE &&
	    (rc = db_campaign_set_status(cp, c.name, DB_CAMPAIGN_ACTIVE, start,
	                                 err)) != 0)
		goto out;
	clock = cs_clock_new_sim(start, 0);
	if ((rc = seq_sched_open(cp, v, clock, &s, err)) != 0)
		goto out;
	rc = seq_sched_run_sim(s, &t, until, err);
	if (rc == 0)
		rc = r.rc;
	if (rc == 0) {
		heldrec h = {s, &r};

		rc = db_enr_list_held(cp, c.id, held_row, &h, err);
	}
out:
	seq_sched_close(s);
	cs_clock_free(clock);
	db_campaign_free(&c);
	db_close(cp);
	remove_copy(path);
	return rc;
}

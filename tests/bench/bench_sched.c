/*
 * bench_sched.c - one scheduling pass at scale: CONTACTS active
 * enrollments (default 1,000,000) in 200 campaigns over 2,000 inboxes
 * (10 per campaign, cap 30), a null transport, a simulated clock that
 * jumps from one wake to the next through a working day.  Times every
 * seq_sched_pass and prints, per mode,
 *   "MODE passes N p50_ms X p99_ms Y max_ms Z sent S rss_mb R setup_s T".
 * Modes (LIMITS: off, on or both, the default; both runs start from the
 * same database, copied after the setup):
 *   off  generic inboxes: no provider limits, no rolling counters
 *   on   the same inboxes as Google Workspace with messages_24h=8 (under
 *        the cap of 30, and 2,000 x 8 under the 20,000 new contacts a
 *        day, so the limit binds): four rolling counters per inbox,
 *        counted, recounted when full and gating every pass
 * Usage: bench_sched DIR [CONTACTS] [HOURS] [LIMITS]
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "db/db.h"
#include "sequencer/seq.h"

#define INBOXES   2000
#define CAMPAIGNS 200

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const cs_err *err)
{
	fprintf(stderr, "bench_sched: %s: %s\n", what, err->msg);
	exit(1);
}

static int null_send(void *arg, const seq_job *job, smtp_result *res)
{
	(*(long *)arg)++;
	(void)job;
	memset(res, 0, sizeof *res);
	res->code = 250;
	res->verdict.outcome = SMTP_SENT;
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* A byte copy of a closed database file. */
static void copy_file(const char *from, const char *to)
{
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	char buf[1 << 16];
	size_t n;

	if (a == NULL || b == NULL) {
		fprintf(stderr, "bench_sched: cannot copy %s\n", from);
		exit(1);
	}
	while ((n = fread(buf, 1, sizeof buf, a)) > 0)
		if (fwrite(buf, 1, n, b) != n) {
			fprintf(stderr, "bench_sched: cannot write %s\n", to);
			exit(1);
		}
	fclose(a);
	if (fclose(b) != 0)
		exit(1);
}

/* Every inbox as a Google Workspace one whose messages_24h (8) binds
 * under its cap (30). */
static void with_limits(db *d)
{
	db_inbox *list = NULL;
	size_t n = 0, i;
	cs_err err = CS_ERR_INIT;

	if (db_inbox_list(d, NULL, &list, &n, &err) != 0 ||
	    db_begin(d, &err) != 0)
		die("limits", &err);
	for (i = 0; i < n; i++) {
		list[i].provider = CS_PROVIDER_GOOGLE;
		free(list[i].limits);
		list[i].limits = strdup("messages_24h=8");
		if (db_inbox_update(d, &list[i], &err) != 0)
			die("limits", &err);
	}
	if (db_commit(d, &err) != 0)
		die("limits", &err);
	db_inbox_list_free(list, n);
}

/* The scheduling passes through the day on the database at path. */
static void run_mode(const char *path, cs_vault *v, int64_t t0, double hours,
                     bool limits, double setup)
{
	double *times = NULL;
	size_t ntimes = 0, cap = 0;
	long sent = 0;
	struct rusage ru;
	cs_err err = CS_ERR_INIT;
	db *d = NULL;

	if (db_open(path, 0, &d, &err) != 0)
		die("open", &err);
	if (limits)
		with_limits(d);
	{
		/* peak RSS of the scheduling only: reset the high-water mark
		 * the setup (imports) left */
		FILE *cr = fopen("/proc/self/clear_refs", "w");

		if (cr) {
			fputs("5", cr);
			fclose(cr);
		}
	}
	{
		cs_clock *clock = cs_clock_new_sim(t0, 0);
		seq_sched *s = NULL;
		seq_transport t = {.send = null_send, .arg = &sent};
		int64_t until = t0 + (int64_t)(hours * 3600000), wake;
		int queued, n;

		if (seq_sched_open(d, v, clock, &s, &err) != 0)
			die("sched", &err);
		for (;;) {
			double a = now_s();

			if (seq_sched_pass(s, &queued, &wake, &err) != 0)
				die("pass", &err);
			if (ntimes == cap) {
				cap = cap ? cap * 2 : 4096;
				times = cs_xrealloc(times, cap * sizeof *times);
			}
			times[ntimes++] = (now_s() - a) * 1000.0;
			if (seq_outbox_dispatch(s, &t, &n, &err) != 0)
				die("dispatch", &err);
			if (queued || n)
				continue;
			if (wake == INT64_MAX || wake > until)
				break;
			cs_clock_advance_to(clock, wake);
		}
		seq_sched_close(s);
		cs_clock_free(clock);
	}
	qsort(times, ntimes, sizeof *times, cmp_d);
	getrusage(RUSAGE_SELF, &ru);
	{
		FILE *st = fopen("/proc/self/status", "r");
		char line[256];

		while (st && fgets(line, sizeof line, st))
			if (strncmp(line, "VmHWM:", 6) == 0)
				ru.ru_maxrss = atol(line + 6);
		if (st)
			fclose(st);
	}
	printf("%s passes %zu p50_ms %.3f p99_ms %.3f max_ms %.3f sent %ld "
	       "rss_mb %.1f setup_s %.1f\n",
	       limits ? "limits_on" : "limits_off", ntimes, times[ntimes / 2],
	       times[ntimes * 99 / 100], times[ntimes - 1], sent,
	       (double)ru.ru_maxrss / 1024.0, setup);
	fflush(stdout);
	free(times);
	db_close(d);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	long contacts = argc > 2 ? atol(argv[2]) : 1000000;
	double hours = argc > 3 ? atof(argv[3]) : 10;
	const char *mode = argc > 4 ? argv[4] : "both";
	char path[4096], key[4096];
	db *d = NULL;
	cs_vault *v = NULL;
	cs_err err = CS_ERR_INIT;
	int64_t t0 = 1796018400000LL; /* Monday 2026-11-30 06:00 UTC */
	double setup = now_s();
	long per = contacts / CAMPAIGNS;
	int i, c, version;
	bool unchanged;

	snprintf(path, sizeof path, "%s/bench.db", dir);
	snprintf(key, sizeof key, "%s/bench.key", dir);
	remove(path);
	remove(key);
	if (db_open(path, DB_OPEN_CREATE, &d, &err) != 0)
		die("open", &err);
	if (cs_vault_create_key(key, &err) != 0 ||
	    cs_vault_load(key, &v, &err) != 0)
		die("vault", &err);
	if (db_begin(d, &err) != 0)
		die("begin", &err);
	for (i = 0; i < INBOXES; i++) {
		db_inbox in;
		char uuid[32], name[32], email[64], tag[32];
		char *tags[1] = {tag};

		memset(&in, 0, sizeof in);
		snprintf(uuid, sizeof uuid, "u%d", i);
		snprintf(name, sizeof name, "in%d", i);
		snprintf(email, sizeof email, "in%d@s%d.test", i, i % 50);
		snprintf(tag, sizeof tag, "g%d", i % CAMPAIGNS);
		in.uuid = uuid;
		in.name = name;
		in.email = email;
		in.provider = CS_PROVIDER_GENERIC;
		in.smtp_host = "127.0.0.1";
		in.smtp_port = 2525;
		in.imap_host = "127.0.0.1";
		in.imap_port = 1993;
		in.timezone = i % 3 ? "Europe/Berlin" : "America/New_York";
		in.daily_cap = 30;
		in.tags = tags;
		in.ntags = 1;
		if (db_inbox_add(d, &in, NULL, 0, &err) != 0)
			die("inbox", &err);
	}
	if (db_template_add(d, "intro",
	                    "Subject: Hi {{first_name|there}}\n\n"
	                    "Hello from {{company|us}}.\n",
	                    NULL, true, false, t0, &version, &unchanged,
	                    &err) != 0 ||
	    db_template_add(d, "fu", "\nFollowing up.\n", NULL, false, false,
	                    t0, &version, &unchanged, &err) != 0 ||
	    db_commit(d, &err) != 0)
		die("templates", &err);
	for (c = 0; c < CAMPAIGNS; c++) {
		db_import *im = NULL;
		db_import_counts k;
		char list[32], yaml[1024];
		db_campaign camp, got;
		db_enroll_result er;
		cs_buf errors = CS_BUF_INIT;
		long j;

		snprintf(list, sizeof list, "l%d", c);
		if (db_import_open(d, dir, &im, &err) != 0)
			die("import", &err);
		for (j = 0; j < per; j++) {
			char email[64];
			db_import_row r;
			size_t first;
			const char *why;

			snprintf(email, sizeof email, "c%ld@d%ld.test",
			         c * per + j, (c * per + j) % 20000);
			memset(&r, 0, sizeof r);
			r.email = email;
			r.first_name = "Pat";
			r.timezone = j % 4 == 0 ? "America/New_York" : NULL;
			if (db_import_check(im, email, (size_t)j + 2, &first,
			                    &why) != DB_IMP_NEW ||
			    db_import_stage(im, (size_t)j + 2, false, &r,
			                    &err) != 0)
				die("stage", &err);
		}
		if (db_import_commit(im, list, NULL, 0, false, t0, NULL, NULL,
		                     &k, &err) != 0)
			die("commit", &err);
		db_import_free(im);
		snprintf(yaml, sizeof yaml,
		         "name: c%d\nlist: %s\ninboxes: [tag:g%d]\ntimezone: "
		         "Europe/Berlin\nnew_contacts_per_day: 100\nsteps:\n"
		         "  - template: intro\n  - template: fu\n    delay: 2 "
		         "days\n",
		         c, list, c);
		if (seq_campaign_parse(d, "bench.yaml", yaml, strlen(yaml),
		                       &camp, &errors, &err) != 0 ||
		    db_campaign_add(d, &camp, t0, &err) != 0 ||
		    db_campaign_get(d, camp.name, &got, &err) != 0)
			die("campaign", &err);
		memset(&er, 0, sizeof er);
		if (db_campaign_enroll(d, &got, list, NULL, t0, &er, &err) !=
		        0 ||
		    db_campaign_set_status(d, got.name, DB_CAMPAIGN_ACTIVE, t0,
		                           &err) != 0)
			die("enroll", &err);
		db_campaign_free(&camp);
		db_campaign_free(&got);
		cs_buf_free(&errors);
	}
	setup = now_s() - setup;
	db_close(d);
	d = NULL;
	{
		char copy[4200];
		bool off = strcmp(mode, "on") != 0;
		bool on = strcmp(mode, "off") != 0;

		/* both runs start from the same day: copy before either */
		snprintf(copy, sizeof copy, "%s.limits", path);
		if (on)
			copy_file(path, copy);
		if (off)
			run_mode(path, v, t0, hours, false, setup);
		if (on)
			run_mode(copy, v, t0, hours, true, setup);
		remove(copy);
	}
	cs_vault_free(v);
	remove(path);
	remove(key);
	return 0;
}

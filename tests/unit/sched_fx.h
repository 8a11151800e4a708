/*
 * sched_fx.h - the scheduler tests' fixture: a private database and
 * vault, inboxes, contacts, templates and campaigns made through the real
 * APIs, and a recording transport on a simulated clock.
 */
#ifndef COLDSEQ_SCHED_FX_H
#define COLDSEQ_SCHED_FX_H

#include "unit.h"

#include "db/db.h"
#include "sequencer/seq.h"

typedef struct sent {
	int64_t at;
	char inbox[32], contact[64], variant[32], zone[40];
	int step;
	char *msgid, *raw;
} sent;

typedef struct fx {
	char *dir;
	db *d;
	cs_vault *v;
	sent *s;
	size_t n;
} fx;

static inline int rec_send(void *arg, const seq_job *job, smtp_result *res)
{
	fx *f = arg;
	sent *x;

	f->s = realloc(f->s, (f->n + 1) * sizeof *f->s);
	x = &f->s[f->n++];
	memset(x, 0, sizeof *x);
	x->at = job->at;
	snprintf(x->inbox, sizeof x->inbox, "%s", job->inbox);
	snprintf(x->contact, sizeof x->contact, "%s", job->contact);
	snprintf(x->variant, sizeof x->variant, "%s", job->variant);
	snprintf(x->zone, sizeof x->zone, "%s", job->zone);
	x->step = job->step;
	x->msgid = strdup(job->message_id);
	x->raw = strndup(job->raw.data, job->raw.len);
	memset(res, 0, sizeof *res);
	res->code = 250;
	res->verdict.outcome = SMTP_SENT;
	return 0;
}

static inline int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	char *key;
	cs_err err = CS_ERR_INIT;

	f->dir = unit_tmpdir();
	key = cs_xasprintf("%s/vault.key", f->dir);
	{
		char *p = cs_xasprintf("%s/coldseq.db", f->dir);

		assert_int_equal(db_open(p, DB_OPEN_CREATE, &f->d, &err), 0);
		free(p);
	}
	assert_int_equal(cs_vault_create_key(key, &err), 0);
	assert_int_equal(cs_vault_load(key, &f->v, &err), 0);
	free(key);
	*state = f;
	return 0;
}

static inline void clear_sent(fx *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->s[i].msgid);
		free(f->s[i].raw);
	}
	free(f->s);
	f->s = NULL;
	f->n = 0;
}

static inline int teardown(void **state)
{
	fx *f = *state;

	clear_sent(f);
	db_close(f->d);
	cs_vault_free(f->v);
	unit_rmrf(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static inline void add_inbox(fx *f, const char *name, int cap, const char *tz,
                             const char *tag)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	char uuid[40], email[64];
	char *tags[1];

	memset(&in, 0, sizeof in);
	snprintf(uuid, sizeof uuid, "uuid-%s", name);
	snprintf(email, sizeof email, "%s@a.test", name);
	in.uuid = uuid;
	in.name = (char *)name;
	in.email = email;
	in.provider = CS_PROVIDER_GENERIC;
	in.smtp_host = "127.0.0.1";
	in.smtp_port = 2525;
	in.imap_host = "127.0.0.1";
	in.imap_port = 1993;
	in.timezone = (char *)tz;
	in.daily_cap = cap;
	if (tag) {
		tags[0] = (char *)tag;
		in.tags = tags;
		in.ntags = 1;
	}
	assert_int_equal(db_inbox_add(f->d, &in, NULL, 0, &err), 0);
}

/* Change one inbox's settings through fn. */
static inline void tweak_inbox(fx *f, const char *name,
                               void (*fn)(db_inbox *in))
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;

	assert_int_equal(db_inbox_get(f->d, name, &in, &err), 0);
	fn(&in);
	assert_int_equal(db_inbox_update(f->d, &in, &err), 0);
	db_inbox_free(&in);
}

/* contacts "email[,company[,timezone]]" into list */
static inline void add_contacts(fx *f, const char *list,
                                const char *const *rows)
{
	db_import *im = NULL;
	db_import_counts k;
	cs_err err = CS_ERR_INIT;
	size_t line = 2;

	assert_int_equal(db_import_open(f->d, f->dir, &im, &err), 0);
	for (; *rows; rows++, line++) {
		char buf[256], *email, *company, *tz;
		db_import_row r;
		size_t first;
		const char *why;

		snprintf(buf, sizeof buf, "%s", *rows);
		email = strtok(buf, ",");
		company = strtok(NULL, ",");
		tz = strtok(NULL, ",");
		memset(&r, 0, sizeof r);
		r.email = email;
		r.first_name = "Pat";
		r.company = company && *company != '-' ? company : NULL;
		r.timezone = tz;
		assert_int_equal(db_import_check(im, email, line, &first, &why),
		                 DB_IMP_NEW);
		assert_int_equal(db_import_stage(im, line, false, &r, &err), 0);
	}
	assert_int_equal(db_import_commit(im, list, NULL, 0, false,
	                                  1780000000000LL, NULL, NULL, &k,
	                                  &err),
	                 0);
	db_import_free(im);
}

static inline void add_template(fx *f, const char *name, const char *src)
{
	cs_err err = CS_ERR_INIT;
	int version;
	bool unchanged;

	assert_int_equal(db_template_add(f->d, name, src, NULL,
	                                 strncmp(src, "Subject:", 8) == 0,
	                                 false, 1780000000000LL, &version,
	                                 &unchanged, &err),
	                 0);
}

static inline void create_campaign(fx *f, const char *yaml, bool start,
                                   int64_t now, db_enroll_result *res)
{
	db_campaign c, got;
	cs_buf errors = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	db_enroll_result r;

	if (seq_campaign_parse(f->d, "t.yaml", yaml, strlen(yaml), &c, &errors,
	                       &err) != 0)
		fail_msg("campaign: %s", cs_buf_str(&errors));
	cs_buf_free(&errors);
	assert_int_equal(db_campaign_add(f->d, &c, now, &err), 0);
	assert_int_equal(db_campaign_get(f->d, c.name, &got, &err), 0);
	if (start) {
		memset(&r, 0, sizeof r);
		assert_int_equal(db_campaign_enroll(f->d, &got, got.list, NULL,
		                                    now, &r, &err),
		                 0);
		assert_int_equal(db_campaign_set_status(f->d, got.name,
		                                        DB_CAMPAIGN_ACTIVE, now,
		                                        &err),
		                 0);
		if (res)
			*res = r;
	}
	db_campaign_free(&c);
	db_campaign_free(&got);
}

static inline void run(fx *f, int64_t start, int64_t until)
{
	cs_clock *clock = cs_clock_new_sim(start, 0);
	seq_sched *s = NULL;
	seq_transport t = {.send = rec_send, .arg = f};
	cs_err err = CS_ERR_INIT;

	assert_int_equal(seq_sched_open(f->d, f->v, clock, &s, &err), 0);
	if (seq_sched_run_sim(s, &t, until, &err) != 0)
		fail_msg("run: %s", err.msg);
	seq_sched_close(s);
	cs_clock_free(clock);
}

static inline int64_t at(const char *iso)
{
	int64_t t = 0;

	assert_int_equal(cs_time_parse_iso8601(iso, &t, NULL), 0);
	return t;
}

static inline const sent *find(const fx *f, const char *contact, int step)
{
	size_t i;
	const sent *r = NULL;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->s[i].contact, contact) == 0 &&
		    f->s[i].step == step) {
			assert_null(r); /* never twice */
			r = &f->s[i];
		}
	return r;
}

static inline const char *header(const char *raw, const char *name, char *out,
                                 size_t n)
{
	const char *p = strstr(raw, name);
	size_t k;

	if (p == NULL)
		return NULL;
	p += strlen(name);
	while (*p == ' ')
		p++;
	k = strcspn(p, "\r\n");
	snprintf(out, n, "%.*s", (int)k, p);
	return out;
}

#endif

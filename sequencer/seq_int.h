/*
 * seq_int.h - the scheduler's state, shared by seq_sched.c (passes),
 * seq_outbox.c (sending and results), seq_explain.c and seq_token.c
 * (an inbox that lost its authorization) only.
 */
#ifndef COLDSEQ_SEQ_INT_H
#define COLDSEQ_SEQ_INT_H

#include "seq.h"

/* An inbox as the scheduler sees it, for its current local day. */
typedef struct seq_ibox {
	db_inbox in;
	char day[11];               /* local day (inbox zone) of the counts */
	int64_t day_start, day_end; /* [start, end) of that day */
	long long camp_today;       /* campaign + test messages today */
	long long total_today;      /* every message today */
	int cap_today;              /* campaign cap today (ramp applied) */
	int hard;                   /* total cap per day; 0: none */
	int64_t next_at;            /* pacing: next campaign send not before */
	int64_t min_gap_ms;
	seq_esp esp;
	int64_t fu_next; /* no follow-up due before this (0: unknown) */
	bool active;     /* in.status is "active" */
	bool gated;      /* follow-ups wait for the watcher's sync */
	bool ready;      /* during a pass: may send now */
	bool idle;       /* during a pass: was ready and found nothing */
} seq_ibox;

/* A campaign and the inboxes its selectors name now. */
typedef struct seq_camp {
	db_campaign c;
	size_t *ib; /* indexes into seq_sched.ib, ascending */
	size_t nib;
	char day[11]; /* local day (campaign zone) of new_today */
	int64_t day_end;
	long long new_today;
	int64_t new_next; /* no new contact due before this (0: unknown) */
} seq_camp;

/* A template version's source, kept for rendering. */
typedef struct seq_tsrc {
	long long version_id;
	char *name, *source;
} seq_tsrc;

struct seq_sched {
	db *d;
	cs_vault *v;
	cs_clock *clock;
	seq_ibox *ib;
	size_t nib;
	seq_camp *cp;
	size_t ncp;
	seq_tsrc *ts;
	size_t nts;
	seq_mx *mx;
	char *default_tz;
	int64_t min_gap_ms; /* config inbox.min_interval */
	size_t rr;          /* campaign the next pass starts with */
	bool gate_new;      /* inboxes loaded later start gated */
};

seq_ibox *seq_find_inbox(seq_sched *s, long long id);
seq_camp *seq_find_camp(seq_sched *s, long long id);
/* Bring an inbox's day, counts and caps up to now. */
int seq_ibox_roll(seq_sched *s, seq_ibox *ib, int64_t now, cs_err *err);
/* What seq_compose needs for enrollment e's step from inbox ib. */
void seq_compose_step(seq_compose_in *ci, const seq_camp *c, const seq_ibox *ib,
                      const db_contact *ct, const seq_tsrc *ts,
                      const db_enrollment *e, const char *zone, int64_t now);
/* The local day of t in tz ("YYYY-MM-DD") and its [start, end). */
int seq_day_bounds(const char *tz, int64_t t, char day[11], int64_t *start,
                   int64_t *end, cs_err *err);
/* Bring a campaign's day and its count of new contacts up to now. */
int seq_sched_roll_camp(seq_sched *s, seq_camp *c, int64_t now, cs_err *err);
/* Whether the inbox may send a campaign message now (caps, pause, gap). */
bool seq_ibox_can_send(const seq_ibox *ib, int64_t now);
/* The zone a contact's window and delays use in campaign c. */
const char *seq_contact_zone(const seq_camp *c, const char *contact_tz);
/* The template source of a version (cached). */
int seq_tsrc_get(seq_sched *s, long long version_id, const seq_tsrc **out,
                 cs_err *err);

/* ---- warmup: the planner (seq_warmup.c) and its sends (seq_warmup_send.c) */

#define WU_HOUR_MS       3600000LL
#define WU_WINDOW_FROM_H 8 /* warmup sends go out from 08:00 local */

struct seq_warmup {
	db *d;
	cs_clock *clock;
	db_warmup *w; /* every inbox ever in warmup, its settings */
	size_t n;
	int64_t health_next;
	long long seen_mark; /* events looked at for settle_seen */
};

/* An inbox's local day: "YYYY-MM-DD", [start, end), weekday (0 Sunday). */
typedef struct seq_wday {
	char day[11];
	int64_t start, end;
	int wday;
} seq_wday;

int seq_warmup_day(const char *tz, int64_t t, seq_wday *out, cs_err *err);
/* The cached settings of inbox_id, NULL when it was never in warmup. */
db_warmup *seq_warmup_find(seq_warmup *w, long long inbox_id);
uint64_t seq_warmup_rnd(void);

#endif

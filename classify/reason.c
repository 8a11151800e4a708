/*
 * reason.c - why a delivery failed, and whether the address is to blame.
 *
 * The one policy place for bounces (like Postfix's smtp_trouble.c): every
 * failed or delayed recipient, from a DSN or a free-text NDR, gets its
 * reason and its hard/soft verdict here (cls_reason_decide).
 *
 * Hard means the address itself is bad and must be suppressed: the mailbox
 * or domain does not exist (userunknown, hostunknown), has moved
 * (hasmoved), or the domain accepts no mail (notaccept, RFC 7505 null MX).
 * Everything else is soft: a full or disabled mailbox, a block or filter
 * aimed at the sender, a policy, a network or system problem, an expired
 * delay.  So the verdict follows the reason, not the status class: "550
 * 5.7.1 blocked for spam" is soft.  A hard bounce read as soft is sent
 * again and burns the sender's reputation; a soft one read as hard loses
 * a good address for ever: where the evidence is weak, soft.
 *
 * EVIDENCE, IN THE ORDER IT IS WEIGHED (the code below follows it):
 *
 *  #  evidence                               decides             because
 *  -- -------------------------------------- ------------------- ----------
 *  0  a category field of the report itself  the reason          the system
 *     (X-PowerMTA-BounceCategory, SES                            that failed
 *     bounceType) or a local delivery                            says why:
 *     agent's error line (mail.local,                            vendor docs,
 *     procmail, maildrop, Dovecot LDA)                           MDA sources
 *  1  Action: delayed, a 4.x.x status, a     soft, always        RFC 3464
 *     4yz reply                              (expired when the   2.3.3,
 *                                            words say hard)     RFC 3463 2,
 *                                                                RFC 5321
 *                                                                4.2.1
 *  2  RFC 3463 status, where specific:
 *     X.2.2 mailbox full                     mailboxfull (soft)  RFC 3463
 *                                            over any words      3.3
 *     X.1.7, X.1.8 the sender's address      rejected (soft)     3.2
 *     X.1.1, X.1.2, X.1.3, X.1.0 the         user-/hostunknown   3.2
 *     destination address                    unless 2b
 *     X.2.1 mailbox disabled                 suspend (soft)      3.3
 *     X.1.6 moved, X.7.x, X.4.x, X.3.x, ...  when no words say   3.2-3.8
 *                                            more (row 4)
 *  2b words of a sender-side cause beat a    blocked, norelaying, many servers
 *     bad-address status (X.1.1)             mailboxfull, ...    answer
 *                                                                every
 *                                                                refusal
 *                                                                550 5.1.1
 *  3  the SMTP phase the refusal answered    (evidence.c)        RFC 5321
 *                                                                3.3, 4.3.2
 *     RCPT TO + user-unknown words           userunknown, hard,  the answer
 *                                            even under X.7.x    is about
 *                                                                the address
 *     DATA / end of data + user-unknown      filtered (soft)     the message
 *     words                                                      was judged,
 *                                                                not the
 *                                                                address
 *     no phase given, a relayed reply        filtered (soft)     as often a
 *     (Diagnostic-Code of type smtp, or a                        gateway's
 *     reply code in the text) + user-                            verdict on
 *     unknown words, no bad-address status                       the message
 *     MAIL FROM                              rejected (soft)     the sender
 *                                                                was refused
 *     greeting, HELO/EHLO, STARTTLS          blocked (soft)      no recipient
 *                                                                was named yet
 *  4  reason words, as families per          the reason reason_words.c,
 *     language (reason_words.c phrases,                          families.c
 *     families.c noun + word), the first
 *     group in precedence order wins:
 *     directory "not listed" (definite) >
 *     DNS "try again" > mailbox full > too
 *     big > suspended > moved > relaying >
 *     virus > block lists > host unknown >
 *     user unknown > spam > filtered >
 *     blocked > policy > ... > rejected
 *  5  the status alone (row 2's table)       the reason          RFC 3463
 *  6  nothing                                onhold (soft), or   no
 *                                            expired for a delay evidence,
 *                                                                no verdict
 *
 * Conflicts: row 0 beats everything; row 1 makes any reason soft; X.2.2
 * beats words (a full mailbox is a full mailbox whatever else is said);
 * directory words ("not listed in Domino Directory", a report's own "the
 * address couldn't be found") are definite: no phase or status makes them
 * a filter's; suspended beats user unknown (the account exists, RFC 3463
 * X.2.1); "host not found, try again" is a temporary DNS failure (Postfix
 * dns_lookup TRY_AGAIN), not a dead domain.  Generic words ("rejected",
 * "system error", "content", "security", "expired") lose to a specific
 * status.  The recipient's own diagnostic is read first, then the report
 * text's lines about it, then (a report about one recipient only) the
 * whole report text.
 */
#include "cls_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A local delivery agent's own error line ("mail.local: unknown user:",
 * "maildrop: maildir over quota.", Dovecot's "Your message to <x> was
 * automatically rejected: Quota exceeded"): the system that holds the
 * mailbox says why, which no relayed reply or status code overrides.
 * Every mark ends in ": ", which is looked for first. */
#define MDA_MARK(s)                                                            \
	{                                                                      \
		(s), sizeof(s) - 1                                             \
	}
static const struct mda_mark {
	const char *w;
	size_t len;
} mda_marks[] = {
    MDA_MARK("mail.local"),  MDA_MARK("procmail"),
    MDA_MARK("maildrop"),    MDA_MARK("vdelivermail"),
    MDA_MARK("vdeliver"),    MDA_MARK("was automatically rejected"),
    MDA_MARK("dovecot-lda"), {NULL, 0},
};

static cls_phr all_phr = CLS_PHR_GROUPS(cls_reason_patterns);

/* Group 0 is the definite "no such user" wording (a directory that does
 * not list the user): no SMTP phase or status can make it a filter's. */
#define GROUP_DEFINITE CLS_G_DEFINITE

/* What a text says: the reason group its words name (-1: none) and the
 * SMTP phase it names. */
typedef struct reading {
	int group, phase;
} reading;

static void read_text(const char *t, size_t n, reading *rd)
{
	const char *first[CLS_N_GROUPS];
	int g;

	rd->group = -1;
	rd->phase = CLS_PHASE_NONE;
	if (t == NULL || n == 0)
		return;
	if (cls_phr_scan(&all_phr, t, n, first, CLS_N_GROUPS) == 0) {
		rd->group = cls_family_group(t, n);
		return;
	}
	for (g = 0; g < CLS_N_REASON && rd->group < 0; g++)
		if (first[g])
			rd->group = g;
	/* the word families (families.c) where no phrase of a group
	 * before theirs was found (from a full mailbox to a suspended one,
	 * only a directory's "not listed" would be) */
	if (rd->group > CLS_G_SUSPEND) {
		int f = cls_family_group(t, n);

		if (f >= 0 && (rd->group < 0 || f < rd->group))
			rd->group = f;
	}
	rd->phase =
	    cls_phase_of(first[CLS_G_PHASE], first[CLS_G_PHASE + 1],
	                 first[CLS_G_PHASE + 5], first[CLS_G_PHASE + 2],
	                 first[CLS_G_PHASE + 3], first[CLS_G_PHASE + 4]);
}

/* The reason group the words after a local delivery agent's mark in
 * t[0..n) name, or -1 (no mark, or no reason in its words). */
static int mda_group(const char *t, size_t n)
{
	const char *p = t, *end, *c;

	if (t == NULL || n == 0)
		return -1; /* (no pointer arithmetic on an empty diagnostic's
		              NULL: undefined, says UBSan) */
	end = t + n;
	while (p < end && (c = memchr(p, ':', (size_t)(end - p))) != NULL) {
		int k;

		p = c + 1;
		if (p >= end || *p != ' ')
			continue;

		for (k = 0; mda_marks[k].w; k++) {
			size_t ml = mda_marks[k].len;

			/* its last byte first: most ": " follow none */
			if ((size_t)(c - t) >= ml &&
			    c[-1] == mda_marks[k].w[ml - 1] &&
			    memcmp(c - ml, mda_marks[k].w, ml) == 0) {
				size_t left = (size_t)(end - c - 2);
				int g =
				    cls_phr_find(&all_phr, c + 2,
				                 left < 64 ? left : 64, NULL);

				return g < CLS_N_REASON ? g : -1;
			}
		}
	}
	return -1;
}

/* RFC 3463 status → reason, for the codes that say something specific. */
static const char *status_reason(const char *st)
{
	static const struct {
		const char *code;
		const char *reason;
	} map[] = {
	    {"1.0", "userunknown"},      {"1.1", "userunknown"},
	    {"1.2", "hostunknown"},      {"1.3", "userunknown"},
	    {"1.4", "filtered"},         {"1.6", "hasmoved"},
	    {"1.7", "rejected"},         {"1.8", "rejected"},
	    {"1.10", "notaccept"},       {"2.0", "filtered"},
	    {"2.1", "suspend"},          {"2.2", "mailboxfull"},
	    {"2.3", "exceedlimit"},      {"2.4", "filtered"},
	    {"3.0", "systemerror"},      {"3.1", "systemfull"},
	    {"3.2", "notaccept"},        {"3.3", "systemerror"},
	    {"3.4", "mesgtoobig"},       {"3.5", "systemerror"},
	    {"4.0", "networkerror"},     {"4.1", "expired"},
	    {"4.2", "networkerror"},     {"4.3", "systemerror"},
	    {"4.4", "hostunknown"},      {"4.6", "networkerror"},
	    {"4.7", "expired"},          {"5.3", "toomanyconn"},
	    {"6.0", "contenterror"},     {"7.0", "securityerror"},
	    {"7.1", "blocked"},          {"7.13", "suspend"},
	    {"7.17", "hasmoved"},        {"7.18", "hasmoved"},
	    {"7.23", "policyviolation"}, {"7.25", "blocked"},
	    {"7.26", "policyviolation"}, {NULL, NULL},
	};
	int i;

	if (st[0] != '4' && st[0] != '5')
		return NULL;
	for (i = 0; map[i].code; i++)
		if (strcmp(st + 2, map[i].code) == 0) {
			/* a temporary X.1.1/X.4.4 is not a dead address */
			if (st[0] == '4' &&
			    (strcmp(map[i].reason, "userunknown") == 0 ||
			     strcmp(map[i].reason, "hostunknown") == 0))
				return "expired";
			return map[i].reason;
		}
	return NULL;
}

static bool is(const char *a, const char *b)
{
	/* the reasons are mostly the same static strings */
	return a && (a == b || strcmp(a, b) == 0);
}

static bool is_hard(const char *reason)
{
	return is(reason, "userunknown") || is(reason, "hostunknown") ||
	       is(reason, "hasmoved") || is(reason, "notaccept");
}

bool cls_reason_failure(const char *t, size_t n)
{
	/* the groups that name why a delivery failed (not the generic
	 * words: "content", "security", "unavailable", "blocked", "policy",
	 * "rejected", which system notices of every kind use) */
	static const char *const failure[] = {
	    "userunknown", "hostunknown", "mailboxfull", "mesgtoobig",
	    "suspend",     "hasmoved",    "norelaying",  "virusdetected",
	    "filtered",    NULL,
	};
	reading rd;
	int i;

	read_text(t, n, &rd);
	for (i = 0; rd.group >= 0 && failure[i]; i++)
		if (is(cls_reason_patterns[rd.group].name, failure[i]))
			return true;
	return false;
}

void cls_rctx_init(cls_rctx *x, const char *flat, size_t n)
{
	x->text = flat;
	x->len = flat ? n : 0;
	x->known = 0;
	x->group = -1;
	x->phase = 0;
	x->status[0] = '\0';
	x->mda = -1;
	x->single = false;
}

/* The report's words, read once. */
static const cls_rctx *ctx_read(cls_rctx *x)
{
	if (x && !(x->known & 1)) {
		reading rd;

		read_text(x->text, x->len, &rd);
		x->group = rd.group;
		x->phase = rd.phase;
		x->known |= 1;
	}
	return x;
}

static int ctx_group(cls_rctx *x)
{
	return x ? ctx_read(x)->group : -1;
}

/* The report's phase and its delivery agent's words count for a
 * recipient only when the report is about that recipient alone. */
static int ctx_mda(cls_rctx *x)
{
	if (x == NULL || !x->single)
		return -1;
	if (!(x->known & 8)) {
		x->mda = mda_group(x->text, x->len);
		x->known |= 8;
	}
	return x->mda;
}

static int ctx_phase(cls_rctx *x)
{
	return x && x->single ? ctx_read(x)->phase : CLS_PHASE_NONE;
}

static const char *ctx_status(cls_rctx *x)
{
	if (x == NULL || !x->single)
		return "";
	if (!(x->known & 4)) {
		if (!cls_reply_status(x->text, x->len, x->status) ||
		    x->status[0] == '2')
			x->status[0] = '\0';
		x->known |= 4;
	}
	return x->status;
}

/* The recipient's status: the report's Status, unless the server's own
 * reply in the words t gives a more specific one of the same class (a
 * reporting MTA often says 5.0.0 or a generic code for any 550), or the
 * report gives none and its text (about this recipient only) does.
 * Returns true when the status is the one the server's reply gave. */
static bool pick_status(cls_rcpt *r, const cs_buf *t, cls_rctx *ctx)
{
	char st[8];
	bool own = false; /* the status is the one the server's reply gave */

	if (t->len && cls_reply_status(t->data, t->len, st) && st[0] != '2') {
		own = strcmp(st, r->status) == 0;
		if (cls_status_vague(r->status) ||
		    (cls_status_specific(st) && st[0] == r->status[0])) {
			memcpy(r->status, st, sizeof st);
			own = true;
		}
	}
	if (cls_status_vague(r->status)) {
		const char *cs = ctx_status(ctx);

		if (cs[0] && (r->status[0] == '\0' || cs[0] == r->status[0]))
			memcpy(r->status, cs, sizeof r->status);
	}
	return own;
}

void cls_reason_decide(cls_rcpt *r, cls_rctx *ctx, const cls_rwhy *why)
{
	cs_buf t = CS_BUF_INIT, about = CS_BUF_INIT;
	const char *tr, *sr, *reason, *src;
	size_t srclen;
	int phase, group, mda;
	bool definite, own_status, about_read = false;
	reading rd, ab;

	if (r->diag)
		cls_flatten(r->diag, strlen(r->diag), &t);
	own_status = pick_status(r, &t, ctx);
	read_text(t.data, t.len, &rd);
	/* the report text's lines about the recipient, read when needed */
	ab.group = -1;
	ab.phase = CLS_PHASE_NONE;
	if (why->about && rd.phase == CLS_PHASE_NONE) {
		cls_flatten(why->about, strlen(why->about), &about);
		read_text(about.data, about.len, &ab);
		about_read = true;
	}
	/* the recipient's own words, else the report's */
	group = rd.group;
	src = t.data;
	srclen = t.len;
	if (ctx && ctx->single && !why->remote) {
		int g = ctx_group(ctx);
		if (g >= 0 && (group < 0 || g < group)) {
			group = g;
			src = ctx->text;
			srclen = ctx->len;
		}
	}
	if (group < 0 && (group = ctx_group(ctx)) >= 0) {
		src = ctx->text;
		srclen = ctx->len;
	}
	tr = group >= 0 ? cls_reason_patterns[group].name : NULL;
	definite = group == GROUP_DEFINITE;
	sr = status_reason(r->status);
	phase = rd.phase;
	if (phase == CLS_PHASE_NONE)
		phase = ab.phase;
	if (phase == CLS_PHASE_NONE)
		phase = ctx_phase(ctx);
	if ((mda = mda_group(t.data, t.len)) < 0)
		mda = ctx_mda(ctx);
	if (why->reason || mda >= 0) {
		/* the report's own category field, or the local delivery
		 * agent's words */
		reason =
		    why->reason ? why->reason : cls_reason_patterns[mda].name;
		definite = true;
	} else if (sr && (is(sr, "userunknown") || is(sr, "hostunknown"))) {
		/* a bad-address status, unless the words blame the sender or
		 * the network */
		reason = sr;
		if (tr && !is(tr, "userunknown") && !is(tr, "hostunknown") &&
		    !is(tr, "expired") && !is(tr, "systemerror") &&
		    !is(tr, "contenterror") && !is(tr, "securityerror") &&
		    !is(tr, "rejected") && !is(tr, "mailererror") &&
		    !(is(tr, "networkerror") && is(sr, "userunknown")))
			reason = tr;
	} else if (tr) {
		reason = tr;
		/* specific status codes beat generic words */
		if (sr && (is(tr, "rejected") || is(tr, "systemerror") ||
		           is(tr, "contenterror") || is(tr, "securityerror") ||
		           is(tr, "expired")))
			reason = sr;
	} else if (sr) {
		reason = sr;
	} else {
		reason = why->delayed ? "expired" : "onhold";
	}
	/* "unknown user" words are proof the address is dead only when the
	 * refusal is known to be about the address: a bad-address status,
	 * or the answer to RCPT TO.  The same words in answer to DATA, or
	 * relayed from another server without saying when, are as often a
	 * content filter's or gateway's verdict on the message, and with a
	 * security or policy status of the refusing server's own (X.7.x:
	 * "per-host or per-recipient filtering", RFC 3463) they are one.  A
	 * report's own statement (no relayed reply: the system that holds
	 * the mailboxes says so) stands. */
	if (is(reason, "userunknown") && !definite && why->about &&
	    !about_read) {
		cls_flatten(why->about, strlen(why->about), &about);
		read_text(about.data, about.len, &ab);
	}
	if (is(reason, "userunknown") && !definite)
		/* the report's own lines about the recipient may give the
		 * reporting MTA's verdict beside the reply it relays: a
		 * directory's wording, or its own "unknown user" summary
		 * with no relayed reply in it */
		definite =
		    ab.group == GROUP_DEFINITE ||
		    (ab.group >= 0 &&
		     is(cls_reason_patterns[ab.group].name, "userunknown") &&
		     cls_reply_class(about.data ? about.data : "", about.len) ==
		         0) ||
		    (ctx && ctx->single && ctx_group(ctx) == GROUP_DEFINITE);
	/* (an X.7.x status of the refusing server's own yields only to a
	 * transcript that names RCPT TO, not to a reporting MTA's summary
	 * that an address was rejected, which may be its reading of the
	 * X.7 reply) */
	if (is(reason, "userunknown") && !definite &&
	    !cls_status_address(r->status) && phase != CLS_PHASE_RCPT &&
	    ((own_status && strncmp(r->status + 1, ".7.", 3) == 0) ||
	     phase == CLS_PHASE_DATA ||
	     (phase == CLS_PHASE_NONE &&
	      (why->remote || cls_reply_class(src ? src : "", srclen)))))
		reason = "filtered";
	/* refused before any recipient was named (greeting, HELO,
	 * STARTTLS): the sending host was, whatever the words blame */
	if (phase == CLS_PHASE_CONN &&
	    (is(reason, "userunknown") || is(reason, "filtered") ||
	     is(reason, "onhold") || is(reason, "rejected")))
		reason = "blocked";
	/* the sender was refused: X.1.7/X.1.8 (bad sender address or
	 * system) or an answer to MAIL FROM */
	if ((r->status[0] && (strcmp(r->status + 1, ".1.7") == 0 ||
	                      strcmp(r->status + 1, ".1.8") == 0)) ||
	    (phase == CLS_PHASE_MAIL &&
	     (is_hard(reason) || is(reason, "filtered") ||
	      is(reason, "onhold"))))
		reason = "rejected";
	/* X.2.2 mailbox full, whatever else the words say */
	if (r->status[0] && strcmp(r->status + 1, ".2.2") == 0)
		reason = "mailboxfull";
	if (r->status[0] == '\0') {
		char cls = cls_reply_class(t.data ? t.data : "", t.len);

		if (cls == 0)
			cls = why->delayed ? '4' : '5';
		snprintf(r->status, sizeof r->status, "%c.0.0", cls);
	}
	if (why->delayed && is_hard(reason))
		reason = "expired";
	r->reason = reason;
	/* a temporary (4.x.x) failure never condemns the address */
	r->hard = !why->delayed && r->status[0] == '5' && is_hard(reason);
	cs_buf_free(&t);
	cs_buf_free(&about);
}

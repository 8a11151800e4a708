/*
 * reason.c - why a delivery failed, and whether the address is to blame.
 *
 * The one policy place for bounces (like Postfix's smtp_trouble.c): every
 * failed or delayed recipient, from a DSN or a free-text NDR, gets its
 * reason and its hard/soft verdict here.
 *
 * Hard means the address itself is bad and must be suppressed: the mailbox
 * or domain does not exist, or has moved, or the domain accepts no mail
 * (null MX).  Everything else is soft: a full mailbox, a block or spam
 * filter aimed at the sender, a policy, a network or system problem, an
 * expired delay.  So the verdict follows the reason, not the status
 * class: "550 5.7.1 blocked for spam" is soft.
 *
 * The reason comes from the server's words first (the Diagnostic-Code, or
 * the report's text when there is none), then from the RFC 3463 status.
 * A status that says "bad mailbox" (X.1.1) loses to words that name a
 * sender-side cause (relaying denied, blocked, mailbox full, ...), since
 * many servers answer every refusal with 550 5.1.1.  A report field that
 * names the category (PowerMTA's, SES's) or a local delivery agent's own
 * error line outranks both.
 *
 * "No such user" words alone do not make a hard bounce: the address must
 * be known to be what was refused (a bad-address status, the answer to
 * RCPT TO, a directory's or the reporting system's own statement).  The
 * same words relayed after DATA, or without saying when, or with a policy
 * status, are as often a filter's verdict on the message: "filtered",
 * soft (the taxonomy of Sisimai, whose labels the accuracy test uses).
 */
#define _GNU_SOURCE /* memmem */
#include "imap_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const w_mailboxfull[] = {
    "mailbox full",
    "mailbox is full",
    "mailbox has exceeded",
    "mailbox exceeded",
    "mailbox size limit",
    "mailbox would exceed",
    "over quota",
    "overquota",
    "over the quota",
    "quota exceeded",
    "exceeded quota",
    "exceeds quota",
    "exceed the quota",
    "quota exceed",
    "disk quota",
    "user is over",
    "exceeded storage",
    "exceeded the storage",
    "exceeds storage",
    "insufficient disk space",
    "insufficient storage",
    "not enough storage",
    "not enough space",
    "out of storage",
    "mailfolder is full",
    "mail box full",
    "full mailbox",
    "is over its",
    "account is full",
    "inbox is full",
    "storage limit",
    "too much mail",
    "has too many messages",
    "status: 5.2.2",
    "mailbox is over",
    "not enough disk space",
    NULL,
};
static const char *const w_mesgtoobig[] = {
    "message too large",
    "message too big",
    "message is too large",
    "message is too big",
    "message size exceeds",
    "message length exceeds",
    "size exceeds the maximum",
    "exceeds the maximum message size",
    "exceeds size limit",
    "message size limit",
    "too large for",
    "message exceeds",
    "size of the message exceeds",
    "mail too large",
    NULL,
};
static const char *const w_exceedlimit[] = {
    "message header size exceeds limit",
    "exceeded the rate limit",
    "recipient limit exceeded",
    NULL,
};
static const char *const w_suspend[] = {
    "suspended",
    "account disabled",
    "account has been disabled",
    "account is disabled",
    "mailbox disabled",
    "mailbox is disabled",
    "mailbox has been disabled",
    "account is inactive",
    "mailbox is inactive",
    "inactive account",
    "account deactivated",
    "deactivated mailbox",
    "account has expired",
    "account expired",
    "account is locked",
    "temporary locked",
    "temporarily locked",
    "temporarily disabled",
    "has been frozen",
    "account frozen",
    "mailbox unavailable or access denied",
    "is not active",
    NULL,
};
static const char *const w_hasmoved[] = {
    "has been moved",
    "address has changed",
    "mailbox has moved",
    "moved permanently",
    "no longer with",
    "no longer active at this address",
    NULL,
};
static const char *const w_norelaying[] = {
    "relay access denied",
    "relaying denied",
    "relay denied",
    "relay not permitted",
    "relaying not allowed",
    "not permitted to relay",
    "we do not relay",
    "unable to relay",
    "relaying prohibited",
    "relay not allowed",
    "relay prohibited",
    "not allowed to relay",
    "no relaying",
    "relaying mail to",
    "not our customer",
    "is not in my list of allowed rcpthosts",
    "rcpthosts",
    NULL,
};
static const char *const w_userunknown[] = {
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "no such recipient",
    "no such address",
    "no such person",
    "unknown recipient",
    "recipient unknown",
    "unknown mailbox",
    "unknown local part",
    "unknown local-part",
    "unknown address",
    "address unknown",
    "unknown e-mail address",
    "unknown email address",
    "invalid recipient",
    "invalid mailbox",
    "invalid address",
    "recipient not found",
    "recipient does not exist",
    "recipient address rejected",
    "recipient rejected",
    "recipient not ok",
    "recipient is not local",
    "mailbox not found",
    "mailbox not present",
    "mailbox does not exist",
    "mailbox doesn't exist",
    "mailbox unavailable",
    "mailbox is unavailable",
    "mailbox invalid",
    "mailbox not available",
    "no mailbox",
    "user not found",
    "user does not exist",
    "user doesn't exist",
    "user not known",
    "user not exist",
    "user not active",
    "address does not exist",
    "address not present in directory",
    "account does not exist",
    "address not found",
    "addressee unknown",
    "email address could not be found",
    "email address does not exist",
    "email account that you tried to reach does not exist",
    "does not exist",
    "not a valid mailbox",
    "not a valid recipient",
    "not a valid user",
    "is not a known user",
    "no account by that name",
    "non-existent user",
    "nonexistent user",
    "non existent user",
    "there is no one at this address",
    "no longer accepts mail",
    "is wrong or no longer valid",
    "badrcptto",
    "validrcptto",
    "recipientnotfound",
    "recipient notfound",
    "bad recipient",
    "bad destination mailbox",
    "bad address",
    "destination addresses were unknown",
    "not a local address",
    "can't accept user",
    "archived recipient",
    "invalid or unknown virtual user",
    "utilisateur inconnu",
    "no existe",
    "nessun utente",
    "not listed in",
    "unrouteable address",
    "unroutable address",
    "no valid recipients",
    "user invalid",
    "account unavailable",
    "not our user",
    "addressee is unknown",
    NULL,
};
static const char *const w_hostunknown[] = {
    "host unknown",
    "unknown host",
    "host not found",
    "domain not found",
    "domain does not exist",
    "no such domain",
    "unknown domain",
    "domain is not reachable",
    "domain must exist",
    "host or domain name not found",
    "name or service not known",
    "mail domain mentioned in email address is unknown",
    "the account or domain may not exist",
    "unrouteable mail domain",
    "no mx",
    "nxdomain",
    "domain name not found",
    "dns error",
    "domain couldn't be found",
    "domain could not be found",
    "host name lookup failure",
    "no route to host",
    NULL,
};
/* IP/domain block lists name the sender, before any "spam" word */
static const char *const w_dnsbl[] = {
    "blocked using", "spamhaus",  "spamcop",    "sorbs",     "dnsbl",
    "rbl",           "blacklist", "black list", "blocklist", "block list",
    "denylist",      "listed at", "listed on",  "listed in", NULL,
};
static const char *const w_spam[] = {
    "spam",
    "junk mail",
    "unsolicited",
    "bulk mail",
    "content filter",
    "message content rejected",
    "blacklisted content",
    "phish",
    NULL,
};
static const char *const w_virus[] = {
    "virus",
    "malware",
    "infected",
    NULL,
};
static const char *const w_blocked[] = {
    "blocked",
    "block list",
    "blocklist",
    "blacklist",
    "black list",
    "denylist",
    "listed at",
    "listed on",
    "listed in",
    "rbl",
    "dnsbl",
    "spamhaus",
    "spamcop",
    "sorbs",
    "barracuda",
    "reputation",
    "poor reputation",
    "access denied",
    "not allowed to send",
    "connection refused",
    "refused to talk",
    "client host rejected",
    "sender ip",
    "your ip",
    "ip address",
    "reverse dns",
    "rdns",
    "ptr record",
    "helo",
    "banned",
    "not authorized",
    "no access",
    "too many invalid recipients",
    "is not accepted",
    NULL,
};
static const char *const w_policy[] = {
    "policy",
    "dmarc",
    "spf",
    "dkim",
    "authentication",
    "sender verify",
    "sender address rejected",
    "sender rejected",
    "domain of sender",
    "sender domain",
    "sender is not",
    "only accepts mail from",
    NULL,
};
static const char *const w_toomanyconn[] = {
    "too many connections",
    "too many simultaneous",
    "connection limit",
    "too many recipients",
    "rate limit",
    "try again later",
    "temporarily deferred",
    "throttl",
    NULL,
};
static const char *const w_filtered[] = {
    "filtered",
    "rejected by the recipient",
    "refused by recipient",
    "recipient has blocked",
    "does not accept mail from",
    "due to extended inactivity",
    "not accepting mail",
    "recipient preferences",
    NULL,
};
static const char *const w_rejected[] = {
    "rejected", "refused", "not accepted", "denied", NULL,
};
static const char *const w_expired[] = {
    "retry timeout exceeded",
    "retry time not reached",
    "delivery time expired",
    "message expired",
    "has been delayed",
    "was delayed",
    "delivery delayed",
    "could not be delivered for",
    "too long",
    "timed out",
    "timeout",
    "time limit",
    "giving up",
    "gave up",
    "delivery temporarily suspended",
    "will continue",
    "will retry",
    "not yet been delivered",
    "unable to deliver for",
    "deferred",
    "expired",
    NULL,
};
static const char *const w_network[] = {
    "name server reply",
    "name service error",
    "dns lookup",
    "temporary failure in name resolution",
    "connection timed out",
    "network",
    "could not connect",
    "lost connection",
    "connection reset",
    "connection closed",
    "unable to connect",
    "routing loop",
    "mail loop",
    "loops back",
    "too many hops",
    NULL,
};
static const char *const w_system[] = {
    "system error",
    "internal error",
    "server error",
    "local error",
    "configuration error",
    "misconfigur",
    "temporary failure",
    "temporarily unavailable",
    "service unavailable",
    "unavailable",
    "i/o error",
    "resources",
    NULL,
};
static const char *const w_systemfull[] = {
    "system full",
    "insufficient system storage",
    "mail system full",
    NULL,
};
static const char *const w_content[] = {
    "content", "mime", "header", "8-bit", "8bit", "attachment", NULL,
};
static const char *const w_security[] = {
    "security", "tls", "ssl", "certificate", "encryption", NULL,
};
static const char *const w_mailer[] = {
    "command failed", "procmail",  "x-unix", "mailer error",
    "pipe to",        "exit code", NULL,
};

/* Phrases that would otherwise be read as a more generic class below
 * (a directory that does not list the user is not a block list; a name
 * lookup to be tried again is not a dead domain). */
static const char *const w_early_userunknown[] = {
    "not listed in domino directory",
    "not listed in the directory",
    "not listed in public name & address book",
    "ディレクトリのリストにありません",
    /* a reporting MTA's own verdict on the address, beside the reply
     * it relays */
    "the address couldn't be found",
    "the address could not be found",
    NULL,
};
static const char *const w_early_network[] = {
    "host not found, try again",
    "temporary failure in name resolution",
    "try again later (dns",
    NULL,
};

/* A local delivery agent's own error line ("mail.local: unknown user:",
 * "maildrop: maildir over quota.", Dovecot's "Your message to <x> was
 * automatically rejected: Quota exceeded"): the system that holds the
 * mailbox says why, which no relayed reply or status code overrides.
 * Every mark ends in ": ", which is looked for first. */
static const char *const mda_marks[] = {
    "mail.local",   "procmail", "maildrop",
    "vdelivermail", "vdeliver", "was automatically rejected",
    "dovecot-lda",  NULL,
};

/* Everything a report's words are searched for, in one pass (match.c):
 * first the reasons, in their order of precedence (specific causes before
 * generic words like "rejected" or "unavailable"; the lowest group found
 * wins), then the SMTP phase wording (evidence.c). */
enum { N_REASON = 25, G_PHASE = N_REASON, N_GROUPS = G_PHASE + 4 };
static const imap_phr_group patterns[N_GROUPS + 1] = {
    {"userunknown", w_early_userunknown},
    {"networkerror", w_early_network},
    {"mailboxfull", w_mailboxfull},
    {"mesgtoobig", w_mesgtoobig},
    {"exceedlimit", w_exceedlimit},
    {"suspend", w_suspend},
    {"hasmoved", w_hasmoved},
    {"norelaying", w_norelaying},
    {"virusdetected", w_virus},
    {"blocked", w_dnsbl},
    {"hostunknown", w_hostunknown},
    {"userunknown", w_userunknown},
    {"spamdetected", w_spam},
    {"filtered", w_filtered},
    {"blocked", w_blocked},
    {"policyviolation", w_policy},
    {"toomanyconn", w_toomanyconn},
    {"systemfull", w_systemfull},
    {"networkerror", w_network},
    {"expired", w_expired},
    {"securityerror", w_security},
    {"mailererror", w_mailer},
    {"systemerror", w_system},
    {"contenterror", w_content},
    {"rejected", w_rejected},
    /* G_PHASE: the order imap_phase_of() takes them in */
    {"phase:no-rcpt", imap_ph_no_rcpt},
    {"phase:rcpt", imap_ph_rcpt},
    {"phase:mail", imap_ph_mail},
    {"phase:data", imap_ph_data},
    {NULL, NULL},
};
static imap_phr all_phr = IMAP_PHR_GROUPS(patterns);

/* Group 0 is the definite "no such user" wording (a directory that does
 * not list the user): no SMTP phase or status can make it a filter's. */
#define GROUP_DEFINITE 0

/* What a text says: the reason group its words name (-1: none) and the
 * SMTP phase it names. */
typedef struct reading {
	int group, phase;
} reading;

static void read_text(const char *t, size_t n, reading *rd)
{
	const char *first[N_GROUPS];
	int g;

	rd->group = -1;
	rd->phase = IMAP_PHASE_NONE;
	if (t == NULL || n == 0 ||
	    imap_phr_scan(&all_phr, t, n, first, N_GROUPS) == 0)
		return;
	for (g = 0; g < N_REASON && rd->group < 0; g++)
		if (first[g])
			rd->group = g;
	rd->phase = imap_phase_of(first[G_PHASE], first[G_PHASE + 1],
	                          first[G_PHASE + 2], first[G_PHASE + 3]);
}

/* The reason group the words after a local delivery agent's mark in
 * t[0..n) name, or -1 (no mark, or no reason in its words). */
static int mda_group(const char *t, size_t n)
{
	const char *p = t, *end = t + n, *c;

	while (p < end && (c = memchr(p, ':', (size_t)(end - p))) != NULL) {
		int k;

		p = c + 1;
		if (p >= end || *p != ' ')
			continue;

		for (k = 0; mda_marks[k]; k++) {
			size_t ml = strlen(mda_marks[k]);

			if ((size_t)(c - t) >= ml &&
			    memcmp(c - ml, mda_marks[k], ml) == 0) {
				size_t left = (size_t)(end - c - 2);
				int g =
				    imap_phr_find(&all_phr, c + 2,
				                  left < 64 ? left : 64, NULL);

				return g < N_REASON ? g : -1;
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
	return a && strcmp(a, b) == 0;
}

static bool is_hard(const char *reason)
{
	return is(reason, "userunknown") || is(reason, "hostunknown") ||
	       is(reason, "hasmoved") || is(reason, "notaccept");
}

void imap_rctx_init(imap_rctx *x, const char *flat, size_t n)
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
static const imap_rctx *ctx_read(imap_rctx *x)
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

static int ctx_group(imap_rctx *x)
{
	return x ? ctx_read(x)->group : -1;
}

/* The report's phase and its delivery agent's words count for a
 * recipient only when the report is about that recipient alone. */
static int ctx_mda(imap_rctx *x)
{
	if (x == NULL || !x->single)
		return -1;
	if (!(x->known & 8)) {
		x->mda = mda_group(x->text, x->len);
		x->known |= 8;
	}
	return x->mda;
}

static int ctx_phase(imap_rctx *x)
{
	return x && x->single ? ctx_read(x)->phase : IMAP_PHASE_NONE;
}

static const char *ctx_status(imap_rctx *x)
{
	if (x == NULL || !x->single)
		return "";
	if (!(x->known & 4)) {
		if (!imap_reply_status(x->text, x->len, x->status) ||
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
static bool pick_status(imap_rcpt *r, const cs_buf *t, imap_rctx *ctx)
{
	char st[8];
	bool own = false; /* the status is the one the server's reply gave */

	if (t->len && imap_reply_status(t->data, t->len, st) && st[0] != '2') {
		own = strcmp(st, r->status) == 0;
		if (imap_status_vague(r->status) ||
		    (imap_status_specific(st) && st[0] == r->status[0])) {
			memcpy(r->status, st, sizeof st);
			own = true;
		}
	}
	if (imap_status_vague(r->status)) {
		const char *cs = ctx_status(ctx);

		if (cs[0] && (r->status[0] == '\0' || cs[0] == r->status[0]))
			memcpy(r->status, cs, sizeof r->status);
	}
	return own;
}

void imap_reason_decide(imap_rcpt *r, imap_rctx *ctx, const imap_rwhy *why)
{
	cs_buf t = CS_BUF_INIT, about = CS_BUF_INIT;
	const char *tr, *sr, *reason, *src;
	size_t srclen;
	int phase, group, mda;
	bool definite, own_status, about_read = false;
	reading rd, ab;

	if (r->diag)
		imap_flatten(r->diag, strlen(r->diag), &t);
	own_status = pick_status(r, &t, ctx);
	read_text(t.data, t.len, &rd);
	/* the report text's lines about the recipient, read when needed */
	ab.group = -1;
	ab.phase = IMAP_PHASE_NONE;
	if (why->about && rd.phase == IMAP_PHASE_NONE) {
		imap_flatten(why->about, strlen(why->about), &about);
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
	tr = group >= 0 ? patterns[group].name : NULL;
	definite = group == GROUP_DEFINITE;
	sr = status_reason(r->status);
	phase = rd.phase;
	if (phase == IMAP_PHASE_NONE)
		phase = ab.phase;
	if (phase == IMAP_PHASE_NONE)
		phase = ctx_phase(ctx);
	if ((mda = mda_group(t.data, t.len)) < 0)
		mda = ctx_mda(ctx);
	if (why->reason || mda >= 0) {
		/* the report's own category field, or the local delivery
		 * agent's words */
		reason = why->reason ? why->reason : patterns[mda].name;
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
		imap_flatten(why->about, strlen(why->about), &about);
		read_text(about.data, about.len, &ab);
	}
	if (is(reason, "userunknown") && !definite)
		/* the report's own lines about the recipient may give the
		 * reporting MTA's verdict beside the reply it relays */
		definite =
		    ab.group == GROUP_DEFINITE ||
		    (ctx && ctx->single && ctx_group(ctx) == GROUP_DEFINITE);
	if (is(reason, "userunknown") && !definite &&
	    !imap_status_address(r->status) &&
	    ((own_status && strncmp(r->status + 1, ".7.", 3) == 0) ||
	     (phase != IMAP_PHASE_RCPT &&
	      (phase == IMAP_PHASE_DATA ||
	       (phase == IMAP_PHASE_NONE &&
	        (why->remote || imap_reply_class(src ? src : "", srclen)))))))
		reason = "filtered";
	/* the sender was refused: X.1.7/X.1.8 (bad sender address or
	 * system) or an answer to MAIL FROM */
	if ((r->status[0] && (strcmp(r->status + 1, ".1.7") == 0 ||
	                      strcmp(r->status + 1, ".1.8") == 0)) ||
	    (phase == IMAP_PHASE_MAIL &&
	     (is_hard(reason) || is(reason, "filtered") ||
	      is(reason, "onhold"))))
		reason = "rejected";
	/* X.2.2 mailbox full, whatever else the words say */
	if (r->status[0] && strcmp(r->status + 1, ".2.2") == 0)
		reason = "mailboxfull";
	if (r->status[0] == '\0') {
		char cls = imap_reply_class(t.data ? t.data : "", t.len);

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

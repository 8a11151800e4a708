/*
 * seq_policy.c - the one place that decides what an inbound message does.
 *
 * The watcher (seq_watch.c) classifies a message, finds what of ours it is
 * about (the context: our own mail, a warmup message, a campaign message,
 * nothing) and asks seq_event_policy_answer() for the row that fits; it then
 * stores the event as the row's kind and runs the row's actions.  rules[]
 * is read top to bottom, the first row whose kind, context, hardness,
 * token and code columns all match decides (the code column: a receiving
 * provider's RFC 3463 status, or a range of them, said by that provider;
 * seq_event_policy_answer).  Order is the policy: what a message is
 * about (own, warmup) comes before what it says.  Every row has a name so
 * logs and tests can say which one fired, and a comment saying why.
 *
 * Actions come in two columns: "always" runs each time the message is read
 * (stopping and suppressing are idempotent, and a crash between the event
 * and its effect must not lose the stop), "once" runs only when the event
 * is new (pausing an inbox or a domain, rewinding a step, answering a
 * warmup message must not repeat when a message is seen again).
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <stdlib.h>
#include <string.h>

#define K(k)     (1u << (k))
#define ANY_KIND 0xffffu
#define C(c)     (1u << (c))
#define CAMPAIGN (C(SEQ_CTX_MATCHED) | C(SEQ_CTX_UNMATCHED))
#define ANY_CTX  0xffffu

enum { H_ANY, H_HARD, H_SOFT, H_UNKNOWN }; /* the recipient's hardness */
enum { T_ANY, T_YES, T_NO };               /* a List-Unsubscribe token */

#define ANY_PROV (-1)

typedef struct rule {
	struct {
		unsigned kinds; /* classifier kinds (cls_kind bits) */
		unsigned ctxs;  /* contexts (seq_event_ctx bits) */
		int hard, token;
		/* the recipient's RFC 3463 status: lo (NULL: any), up to hi
		 * (NULL: lo only), from the receiving provider prov (a
		 * cs_provider_id; ANY_PROV: whoever said it) */
		const char *lo, *hi;
		int prov;
	} when;
	seq_event_policy p;
} rule;

/* A receiving provider's refusal of the sending domain: a bounce tries
 * the step again (after the pause: the scheduler keeps it back) whatever
 * the reason word, since the person refused nothing; a delay report only
 * pauses (the sending server still tries). */
/* clang-format off */
#define DOMAIN_ROWS(name, lo, hi, prov, mode)                                  \
	{{K(CLS_BOUNCE), C(SEQ_CTX_MATCHED), H_ANY, T_ANY, lo, hi, prov},      \
	 {name, DB_EV_BOUNCE, 0, SEQ_ACT_DOMAIN | SEQ_ACT_RETRY_SOFT,          \
	  DB_CONTACT_ACTIVE, NULL, false, mode}},                              \
	{{K(CLS_DELAY), C(SEQ_CTX_MATCHED), H_ANY, T_ANY, lo, hi, prov},       \
	 {name "-delay", DB_EV_DELAY, 0, SEQ_ACT_DOMAIN,                       \
	  DB_CONTACT_ACTIVE, NULL, false, mode}}
/* clang-format on */
#define GOOGLE    CS_PROVIDER_GOOGLE
#define MICROSOFT CS_PROVIDER_MICROSOFT

static const rule rules[] = {
    /* Our own mail read back (a copy to ourselves, a message this inbox
     * sent, a bounce of our own test): never a reply, never a stop. */
    {{ANY_KIND, C(SEQ_CTX_OWN), H_ANY, T_ANY, NULL, NULL, ANY_PROV},
     {"own", DB_EV_OTHER, 0, 0, DB_CONTACT_ACTIVE, NULL, false, 0}},
    /* A warmup message or an answer to one: the receiving side reads,
     * rescues and answers it once; it is never a campaign reply. */
    {{ANY_KIND, C(SEQ_CTX_WARMUP), H_ANY, T_ANY, NULL, NULL, ANY_PROV},
     {"warmup", DB_EV_WARMUP, 0, SEQ_ACT_SETTLE_WARMUP, DB_CONTACT_ACTIVE, NULL,
      false, 0}},

    /* The receiving provider refuses the sending domain, not the
     * address: every message from the domain to that provider would fail
     * the same way, so the domain is paused or slowed toward it
     * (seq_domain_pause.c says for how long and what slow means).  Only
     * for a report about a message of ours (a forged report about
     * nothing we sent pauses nothing), and a code only counts from the
     * provider that uses it.  Before the hard bounce: the address is not
     * at fault, whatever the classifier made of the words.
     * Gmail: unauthenticated (neither SPF nor DKIM passes) and From not
     * aligned (DMARC) pause; "unusual rate of unsolicited mail" slows. */
    DOMAIN_ROWS("gmail-unauthenticated", "5.7.26", NULL, GOOGLE,
                DB_DPAUSE_PAUSE),
    DOMAIN_ROWS("gmail-not-aligned", "4.7.32", NULL, GOOGLE, DB_DPAUSE_PAUSE),
    DOMAIN_ROWS("gmail-rate-limited", "4.7.28", NULL, GOOGLE, DB_DPAUSE_SLOW),
    /* Microsoft: below its authentication requirements pauses; "server
     * busy / access denied" throttling (4.7.500-4.7.699) slows. */
    DOMAIN_ROWS("microsoft-unauthenticated", "5.7.515", NULL, MICROSOFT,
                DB_DPAUSE_PAUSE),
    DOMAIN_ROWS("microsoft-throttled", "4.7.500", "4.7.699", MICROSOFT,
                DB_DPAUSE_SLOW),

    /* A hard bounce: the address does not exist; never write to it
     * again, and too many of them pause the inbox (bounce protection,
     * counted once per bounce). */
    {{K(CLS_BOUNCE), CAMPAIGN, H_HARD, T_ANY, NULL, NULL, ANY_PROV},
     {"hard-bounce", DB_EV_BOUNCE, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS,
      SEQ_ACT_PAUSE_INBOX, DB_CONTACT_BOUNCED, "bounce", true, 0}},
    /* A soft bounce: the step again later (seq_soft_bounce: backoff, at
     * most three times, not for a policy refusal), once per bounce. */
    {{K(CLS_BOUNCE), CAMPAIGN, H_SOFT, T_ANY, NULL, NULL, ANY_PROV},
     {"soft-bounce", DB_EV_BOUNCE, 0, SEQ_ACT_RETRY_SOFT, DB_CONTACT_ACTIVE,
      NULL, false, 0}},
    /* A bounce that names no recipient: nobody to stop; kept for stats. */
    {{K(CLS_BOUNCE), CAMPAIGN, H_UNKNOWN, T_ANY, NULL, NULL, ANY_PROV},
     {"bounce-no-recipient", DB_EV_BOUNCE, 0, 0, DB_CONTACT_ACTIVE, NULL, false,
      0}},
    /* A delay is a warning: the server still tries; nothing to do. */
    {{K(CLS_DELAY), CAMPAIGN, H_ANY, T_ANY, NULL, NULL, ANY_PROV},
     {"delay", DB_EV_DELAY, 0, 0, DB_CONTACT_ACTIVE, NULL, false, 0}},
    /* A complaint (spam report): the person must never hear from us
     * again, whatever the campaign. */
    {{K(CLS_COMPLAINT), CAMPAIGN, H_ANY, T_ANY, NULL, NULL, ANY_PROV},
     {"complaint", DB_EV_COMPLAINT, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS, 0,
      DB_CONTACT_COMPLAINED, "complaint", false, 0}},

    /* An unsubscribe, by the List-Unsubscribe mailto or in words: stop
     * and suppress, whether or not it answers a message we can find. */
    {{K(CLS_UNSUBSCRIBE), CAMPAIGN, H_ANY, T_YES, NULL, NULL, ANY_PROV},
     {"unsubscribe-header", DB_EV_UNSUBSCRIBE, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS,
      0, DB_CONTACT_UNSUBSCRIBED, "unsubscribe (List-Unsubscribe)", false, 0}},
    {{K(CLS_UNSUBSCRIBE), CAMPAIGN, H_ANY, T_NO, NULL, NULL, ANY_PROV},
     {"unsubscribe-asked", DB_EV_UNSUBSCRIBE, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS,
      0, DB_CONTACT_UNSUBSCRIBED, "unsubscribe (asked by reply)", false, 0}},
    /* An auto-reply: stop where the campaign says so, else wait past
     * the return date (seq_auto_reply); once, a re-read must not push
     * the date again. */
    {{K(CLS_AUTO_REPLY), CAMPAIGN, H_ANY, T_ANY, NULL, NULL, ANY_PROV},
     {"auto-reply", DB_EV_AUTO_REPLY, 0, SEQ_ACT_AUTO_REPLY, DB_CONTACT_ACTIVE,
      NULL, false, 0}},

    /* A human answer to one of our messages (also a message the
     * classifier could not place, when its In-Reply-To or References name
     * ours): the sequence has done its job, stop it; no suppression, the
     * person may be written to again. */
    {{K(CLS_REPLY) | K(CLS_OTHER), C(SEQ_CTX_MATCHED), H_ANY, T_ANY, NULL, NULL,
      ANY_PROV},
     {"reply", DB_EV_REPLY, SEQ_ACT_STOP, 0, DB_CONTACT_REPLIED, NULL, false,
      0}},
    /* Mail that answers nothing of ours is not a reply: kept, no effect. */
    {{K(CLS_REPLY) | K(CLS_OTHER), C(SEQ_CTX_UNMATCHED), H_ANY, T_ANY, NULL,
      NULL, ANY_PROV},
     {"unrelated", DB_EV_OTHER, 0, 0, DB_CONTACT_ACTIVE, NULL, false, 0}},
};

static bool hard_fits(int col, int hard)
{
	switch (col) {
	case H_HARD: return hard == 1;
	case H_SOFT: return hard == 0;
	case H_UNKNOWN: return hard < 0;
	default: return true;
	}
}

/* "4.7.500" into its three numbers; false when it is not one. */
static bool code_parse(const char *s, long v[3])
{
	int i;

	for (i = 0; i < 3; i++) {
		char *end;

		if (s == NULL || *s < '0' || *s > '9')
			return false;
		v[i] = strtol(s, &end, 10);
		if (i < 2 && *end != '.')
			return false;
		if (i == 2 && *end != '\0')
			return false;
		s = end + 1;
	}
	return true;
}

static int code_cmp(const long a[3], const long b[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* Whether status fits the row's code column. */
static bool code_fits(const rule *r, const char *status)
{
	long v[3], lo[3], hi[3];

	if (r->when.lo == NULL)
		return true;
	if (!code_parse(status, v) || !code_parse(r->when.lo, lo) ||
	    !code_parse(r->when.hi ? r->when.hi : r->when.lo, hi))
		return false;
	return code_cmp(v, lo) >= 0 && code_cmp(v, hi) <= 0;
}

const seq_event_policy *seq_event_policy_answer(cls_kind kind,
                                                seq_event_ctx ctx, int hard,
                                                bool token, const char *status,
                                                cs_provider_id prov)
{
	size_t i;

	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const rule *r = &rules[i];

		if (!(r->when.kinds & K(kind)) || !(r->when.ctxs & C(ctx)) ||
		    !hard_fits(r->when.hard, hard) ||
		    (r->when.token == T_YES && !token) ||
		    (r->when.token == T_NO && token) || !code_fits(r, status) ||
		    (r->when.prov != ANY_PROV && r->when.prov != (int)prov))
			continue;
		return &r->p;
	}
	return NULL;
}

const seq_event_policy *seq_event_policy_find(cls_kind kind, seq_event_ctx ctx,
                                              int hard, bool token)
{
	return seq_event_policy_answer(kind, ctx, hard, token, NULL,
	                               CS_PROVIDER_GENERIC);
}

bool seq_event_policy_code(const char *status)
{
	size_t i;

	if (status == NULL || *status == '\0')
		return false;
	for (i = 0; i < sizeof rules / sizeof rules[0]; i++)
		if (rules[i].when.lo && code_fits(&rules[i], status))
			return true;
	return false;
}

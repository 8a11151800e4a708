/*
 * seq_policy.c - the one place that decides what an inbound message does.
 *
 * The watcher (seq_watch.c) classifies a message, finds what of ours it is
 * about (the context: our own mail, a warmup message, a campaign message,
 * nothing) and asks seq_event_policy() for the row that fits; it then
 * stores the event as the row's kind and runs the row's actions.  rules[]
 * is read top to bottom, the first row whose kind, context, hardness and
 * token columns all match decides.  Order is the policy: what a message is
 * about (own, warmup) comes before what it says.  Every row has a name so
 * logs and tests can say which one fired, and a comment saying why.
 *
 * Actions come in two columns: "always" runs each time the message is read
 * (stopping and suppressing are idempotent, and a crash between the event
 * and its effect must not lose the stop), "once" runs only when the event
 * is new (pausing an inbox, rewinding a step, answering a warmup message
 * must not repeat when a message is seen again).
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <string.h>

#define K(k)     (1u << (k))
#define ANY_KIND 0xffffu
#define C(c)     (1u << (c))
#define CAMPAIGN (C(SEQ_CTX_MATCHED) | C(SEQ_CTX_UNMATCHED))
#define ANY_CTX  0xffffu

enum { H_ANY, H_HARD, H_SOFT, H_UNKNOWN }; /* the recipient's hardness */
enum { T_ANY, T_YES, T_NO };               /* a List-Unsubscribe token */

typedef struct rule {
	struct {
		unsigned kinds; /* classifier kinds (cls_kind bits) */
		unsigned ctxs;  /* contexts (seq_event_ctx bits) */
		int hard, token;
	} when;
	seq_event_policy p;
} rule;

static const rule rules[] = {
    /* Our own mail read back (a copy to ourselves, a message this inbox
     * sent, a bounce of our own test): never a reply, never a stop. */
    {{ANY_KIND, C(SEQ_CTX_OWN), H_ANY, T_ANY},
     {"own", DB_EV_OTHER, 0, 0, DB_CONTACT_ACTIVE, NULL, false}},
    /* A warmup message or an answer to one: the receiving side reads,
     * rescues and answers it once; it is never a campaign reply. */
    {{ANY_KIND, C(SEQ_CTX_WARMUP), H_ANY, T_ANY},
     {"warmup", DB_EV_WARMUP, 0, SEQ_ACT_SETTLE_WARMUP, DB_CONTACT_ACTIVE, NULL,
      false}},

    /* A hard bounce: the address does not exist; never write to it
     * again, and too many of them pause the inbox (bounce protection,
     * counted once per bounce). */
    {{K(CLS_BOUNCE), CAMPAIGN, H_HARD, T_ANY},
     {"hard-bounce", DB_EV_BOUNCE, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS,
      SEQ_ACT_PAUSE_INBOX, DB_CONTACT_BOUNCED, "bounce", true}},
    /* A soft bounce: the step again later (seq_soft_bounce: backoff, at
     * most three times, not for a policy refusal), once per bounce. */
    {{K(CLS_BOUNCE), CAMPAIGN, H_SOFT, T_ANY},
     {"soft-bounce", DB_EV_BOUNCE, 0, SEQ_ACT_RETRY_SOFT, DB_CONTACT_ACTIVE,
      NULL, false}},
    /* A bounce that names no recipient: nobody to stop; kept for stats. */
    {{K(CLS_BOUNCE), CAMPAIGN, H_UNKNOWN, T_ANY},
     {"bounce-no-recipient", DB_EV_BOUNCE, 0, 0, DB_CONTACT_ACTIVE, NULL,
      false}},
    /* A delay is a warning: the server still tries; nothing to do. */
    {{K(CLS_DELAY), CAMPAIGN, H_ANY, T_ANY},
     {"delay", DB_EV_DELAY, 0, 0, DB_CONTACT_ACTIVE, NULL, false}},
    /* A complaint (spam report): the person must never hear from us
     * again, whatever the campaign. */
    {{K(CLS_COMPLAINT), CAMPAIGN, H_ANY, T_ANY},
     {"complaint", DB_EV_COMPLAINT, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS, 0,
      DB_CONTACT_COMPLAINED, "complaint", false}},

    /* An unsubscribe, by the List-Unsubscribe mailto or in words: stop
     * and suppress, whether or not it answers a message we can find. */
    {{K(CLS_UNSUBSCRIBE), CAMPAIGN, H_ANY, T_YES},
     {"unsubscribe-header", DB_EV_UNSUBSCRIBE, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS,
      0, DB_CONTACT_UNSUBSCRIBED, "unsubscribe (List-Unsubscribe)", false}},
    {{K(CLS_UNSUBSCRIBE), CAMPAIGN, H_ANY, T_NO},
     {"unsubscribe-asked", DB_EV_UNSUBSCRIBE, SEQ_ACT_STOP | SEQ_ACT_SUPPRESS,
      0, DB_CONTACT_UNSUBSCRIBED, "unsubscribe (asked by reply)", false}},
    /* An auto-reply: stop where the campaign says so, else wait past
     * the return date (seq_auto_reply); once, a re-read must not push
     * the date again. */
    {{K(CLS_AUTO_REPLY), CAMPAIGN, H_ANY, T_ANY},
     {"auto-reply", DB_EV_AUTO_REPLY, 0, SEQ_ACT_AUTO_REPLY, DB_CONTACT_ACTIVE,
      NULL, false}},

    /* A human answer to one of our messages (also a message the
     * classifier could not place, when its In-Reply-To or References name
     * ours): the sequence has done its job, stop it; no suppression, the
     * person may be written to again. */
    {{K(CLS_REPLY) | K(CLS_OTHER), C(SEQ_CTX_MATCHED), H_ANY, T_ANY},
     {"reply", DB_EV_REPLY, SEQ_ACT_STOP, 0, DB_CONTACT_REPLIED, NULL, false}},
    /* Mail that answers nothing of ours is not a reply: kept, no effect. */
    {{K(CLS_REPLY) | K(CLS_OTHER), C(SEQ_CTX_UNMATCHED), H_ANY, T_ANY},
     {"unrelated", DB_EV_OTHER, 0, 0, DB_CONTACT_ACTIVE, NULL, false}},
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

const seq_event_policy *seq_event_policy_find(cls_kind kind, seq_event_ctx ctx,
                                              int hard, bool token)
{
	size_t i;

	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const rule *r = &rules[i];

		if (!(r->when.kinds & K(kind)) || !(r->when.ctxs & C(ctx)) ||
		    !hard_fits(r->when.hard, hard) ||
		    (r->when.token == T_YES && !token) ||
		    (r->when.token == T_NO && token))
			continue;
		return &r->p;
	}
	return NULL;
}

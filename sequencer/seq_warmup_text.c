/*
 * seq_warmup_text.c - what warmup messages say: a built-in corpus of short,
 * plain business notes, combined from parts.
 *
 * A subject is a frame around a topic (SUBJECT_FRAMES x TOPICS distinct
 * subjects); a body is a greeting, an opener about the same topic, a
 * middle, a closer and a sign-off (thousands of combinations); replies
 * are one or two sentences from their own lists.  Nothing in a message
 * is a fixed marker: no header, no code, no repeated sentence that every
 * message carries.  The caller picks with a seed and names the topic to
 * avoid (the inbox's previous one), so consecutive messages of an inbox
 * never share a topic.
 */
#include "seq.h"

#include <stdio.h>
#include <string.h>

static const char *const topics[] = {
    "the quarterly budget review",
    "next week's onboarding session",
    "the supplier contract renewal",
    "the website refresh",
    "the team offsite",
    "the customer survey results",
    "the hiring plan for spring",
    "the product roadmap",
    "the invoice backlog",
    "the training schedule",
    "the office move",
    "the partner workshop",
    "the monthly report",
    "the new pricing page",
    "the support ticket trends",
    "the trade show booth",
    "the security audit",
    "the newsletter draft",
    "the project kickoff",
    "the sales pipeline review",
    "the vendor shortlist",
    "the travel policy update",
};
#define NTOPICS (sizeof topics / sizeof topics[0])

static const char *const frames[] = {
    "Quick question about %s", "Notes on %s",
    "Following up on %s",      "Update on %s",
    "Thoughts on %s",          "A few ideas for %s",
    "Timing for %s",           "Draft for %s",
    "Can we talk about %s?",   "Short note on %s",
    "Checking in on %s",       "Next steps for %s",
};
#define NFRAMES (sizeof frames / sizeof frames[0])

static const char *const greetings[] = {
    "Hi,",
    "Hello,",
    "Hi there,",
    "Good morning,",
    "Hey,",
    "Hello again,",
    "Hi, hope your week is going well.",
    "Morning,",
};

static const char *const openers[] = {
    "I wanted to share where things stand with %s.",
    "I had another look at %s this morning.",
    "Following our last chat, I put some notes together on %s.",
    "A quick heads-up about %s.",
    "I've been thinking about %s and have a couple of points.",
    "Just circling back on %s.",
    "I spoke with the team about %s yesterday.",
    "Here is a short summary of %s so far.",
    "Before Friday, I wanted to check a few things about %s.",
    "I finally got through the open items on %s.",
};

static const char *const middles[] = {
    "Most of it looks fine, but the timeline feels a bit tight.",
    "I think we can simplify the second part quite a lot.",
    "The numbers are close to what we expected, which is good news.",
    "There are two open questions I could use your view on.",
    "I moved the details into the shared folder so we have one copy.",
    "Nothing urgent, but it would help to agree on the order of things.",
    "We may need one more person for the last step.",
    "The first draft is done; the rest should follow next week.",
    "I'd rather keep it small for now and extend it later.",
    "Feedback so far has been positive, with a few small remarks.",
    "It turned out easier than I feared.",
    "I left some comments where I wasn't sure about the wording.",
};

static const char *const closers[] = {
    "Let me know what you think when you have a minute.",
    "Happy to go through it on a short call if that's easier.",
    "No rush, any time this week works.",
    "Could you have a look before our next meeting?",
    "Tell me if I missed anything.",
    "I'll keep you posted as it moves along.",
    "Thanks in advance for a quick look.",
    "If it all looks right to you, I'll go ahead.",
};

static const char *const signoffs[] = {
    "Thanks,",       "Best,",         "Cheers,",
    "Best regards,", "Kind regards,", "Talk soon,",
};

static const char *const replies[] = {
    "Thanks, that looks good to me.",
    "Great, thanks for the update.",
    "Sounds good. Let's go ahead.",
    "Thanks for sending this over, I'll read it properly tomorrow.",
    "Looks fine. One small thing: can we move it by a day?",
    "Got it, thanks. I agree with most of it.",
    "Thanks! I'll share it with the team.",
    "Perfect, that works for me.",
    "Appreciate the summary. Let's discuss on Thursday.",
    "Thanks, I had the same impression.",
    "Good points. I'll add my notes in the doc.",
    "Thanks for the heads-up.",
    "All clear on my side, thanks.",
    "Nice work, thank you.",
    "Makes sense. Let's keep it simple for now.",
    "Thanks, I'll get back to you by Friday.",
    "Agreed. Can you send me the final version when it's ready?",
    "Thanks, received. I'll take a look this afternoon.",
    "That helps a lot, thanks.",
    "Sounds like a plan.",
};

static const char *const reply_tails[] = {
    "",
    " Have a good day.",
    " Speak soon.",
    " Thanks again.",
    " Let me know if you need anything else.",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* splitmix64: a small, good mixer for picking parts from one seed. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

size_t seq_warmup_subject_count(void)
{
	return NTOPICS * NFRAMES;
}

size_t seq_warmup_body_count(void)
{
	return N(greetings) * N(openers) * N(middles) * N(closers) *
	       N(signoffs);
}

/* The subject's topic capitalised when a frame starts with it. */
static void put_frame(cs_buf *out, const char *frame, const char *topic)
{
	const char *p = strstr(frame, "%s");

	cs_buf_append(out, frame, (size_t)(p - frame));
	cs_buf_puts(out, topic);
	cs_buf_puts(out, p + 2);
}

int seq_warmup_compose(uint64_t seed, int avoid_topic, const char *from_name,
                       cs_buf *subject, cs_buf *body)
{
	uint64_t s = seed;
	int topic = (int)(mix(&s) % NTOPICS);

	if (topic == avoid_topic)
		topic =
		    (topic + 1 + (int)(mix(&s) % (NTOPICS - 1))) % (int)NTOPICS;
	put_frame(subject, frames[mix(&s) % NFRAMES], topics[topic]);
	cs_buf_printf(body, "%s\r\n\r\n", greetings[mix(&s) % N(greetings)]);
	put_frame(body, openers[mix(&s) % N(openers)], topics[topic]);
	cs_buf_printf(
	    body, " %s\r\n\r\n%s\r\n\r\n%s\r\n", middles[mix(&s) % N(middles)],
	    closers[mix(&s) % N(closers)], signoffs[mix(&s) % N(signoffs)]);
	if (from_name && *from_name)
		cs_buf_printf(body, "%s\r\n", from_name);
	return topic;
}

void seq_warmup_reply_text(uint64_t seed, const char *from_name, cs_buf *body)
{
	uint64_t s = seed;

	cs_buf_printf(body, "%s%s\r\n", replies[mix(&s) % N(replies)],
	              reply_tails[mix(&s) % N(reply_tails)]);
	if (from_name && *from_name)
		cs_buf_printf(body, "\r\n%s\r\n", from_name);
}

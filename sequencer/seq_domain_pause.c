/*
 * seq_domain_pause.c - a sending domain paused or slowed toward a
 * receiving provider, after that provider's refusals came back as
 * bounces (the inbound-event table's SEQ_ACT_DOMAIN rows, seq_policy.c:
 * Gmail 5.7.26, 4.7.32, 4.7.28; Microsoft 5.7.515, 4.7.500-4.7.699).
 *
 * Such a refusal is about the sending domain, not the recipient: every
 * message from any inbox of the domain to that provider would meet it.
 * So the row is per (sending domain, receiving provider), and contacts on
 * other providers are not affected.
 *
 *  - pause (authentication: SPF, DKIM, DMARC alignment): nothing goes
 *    from the domain to the provider for PAUSE_MS (24 h) after the last
 *    refusal; a repeat pushes the end to 24 h after it.  The user fixes
 *    the domain's records, then may lift it early (`coldseq domain
 *    resume D`).
 *  - slow (rate: "unusual rate of unsolicited mail", "server busy"): for
 *    SLOW_MS (2 h) after the last refusal, at most one campaign message
 *    per SLOW_GAP_MS (15 minutes) goes from the domain's inboxes, all of
 *    them together, to that provider (four an hour: far under what any
 *    provider throttles, enough to learn whether the limit is over); a
 *    repeat pushes the end to 2 h after it.
 *  - a pause outranks a slow-down: a rate refusal during a pause only
 *    makes the pause last at least as long as the slow-down would.
 *
 * What the scheduler does with it (seq_domain_pause_hold): a contact's
 * first step on that provider goes from an inbox of another domain when
 * one can take it, else waits; a follow-up (its thread's inbox is fixed)
 * waits in the outbox until the pause ends, its reason naming the pause.
 * The bounced step itself is tried again as a soft bounce would be
 * (seq_soft_bounce), never before the pause ends since the scheduler
 * keeps it back.
 *
 * Called on the thread that owns the database.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAUSE_MS    (24 * 3600000LL)
#define SLOW_MS     (2 * 3600000LL)
#define SLOW_GAP_MS (15 * 60000LL)
#define REASON_MAX  300

static const char *domain_of(const char *email)
{
	const char *at = email ? strrchr(email, '@') : NULL;

	return at && at[1] ? at + 1 : NULL;
}

/* "2026-12-08 23:10 UTC" */
static void when_text(int64_t t, char out[32])
{
	char iso[32];

	cs_time_iso8601(t, iso, sizeof iso);
	memcpy(out, iso, 16); /* "2026-12-08T23:10" */
	out[10] = ' ';
	memcpy(out + 16, " UTC", 5);
}

/* ---- which provider refused ------------------------------------------- */

/* The provider whose host names appear in text (a word with a dot, or
 * Google's "gsmtp" mark); GENERIC when none. */
static cs_provider_id provider_in_text(const char *text)
{
	const char *p = text;

	while (p && *p) {
		const char *s;
		char word[256];
		size_t n;
		cs_provider_id id;

		while (*p && !isalnum((unsigned char)*p))
			p++;
		s = p;
		while (*p &&
		       (isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
			p++;
		n = (size_t)(p - s);
		if (n == 0 || n >= sizeof word)
			continue;
		memcpy(word, s, n);
		word[n] = '\0';
		while (n && word[n - 1] == '.')
			word[--n] = '\0';
		if (strcasecmp(word, "gsmtp") == 0)
			return CS_PROVIDER_GOOGLE;
		if (strchr(word, '.') &&
		    (id = cs_provider_by_mx_host(word)) != CS_PROVIDER_GENERIC)
			return id;
	}
	return CS_PROVIDER_GENERIC;
}

int seq_refusal_provider(db *d, seq_mx *shared, const cls_rcpt *r,
                         cs_provider_id *out, cs_err *err)
{
	const char *dom = domain_of(r->addr);
	cs_buf map = CS_BUF_INIT;
	seq_mx *mx = NULL;
	net_dns *dns = NULL;
	int rc;

	*out = CS_PROVIDER_GENERIC;
	if (r->mta &&
	    (*out = cs_provider_by_mx_host(r->mta)) != CS_PROVIDER_GENERIC)
		return 0;
	if ((*out = provider_in_text(r->diag)) != CS_PROVIDER_GENERIC)
		return 0;
	if (dom == NULL || cs_provider_by_domain(dom, out))
		return 0;
	/* the recipient's domain, as the scheduler sees it (the map, then
	 * its MX) */
	if (shared) {
		*out = (cs_provider_id)seq_mx_provider(shared, dom);
		return 0;
	}
	/* CLI: rare (a provider's code without its host named), so a
	 * resolver for this one question */
	if ((rc = db_config_get(d, "dns.mx_map", &map, NULL, err)) == 0 &&
	    (rc = seq_mx_new(map.data, &mx, err)) == 0 &&
	    (rc = seq_dns_open(d, NULL, &dns, err)) == 0) {
		seq_mx_set_dns(mx, dns, false, NULL, NULL);
		*out = (cs_provider_id)seq_mx_provider(mx, dom);
	}
	net_dns_free(dns);
	seq_mx_free(mx);
	cs_buf_free(&map);
	return rc;
}

/* ---- the watcher's effect --------------------------------------------- */

/* The provider's words, cleaned: without the "smtp;" type, capped. */
static void reason_text(const cls_rcpt *r, cs_buf *out)
{
	const char *s = r->diag ? r->diag : "";

	if (strncasecmp(s, "smtp;", 5) == 0)
		s += 5;
	while (*s == ' ')
		s++;
	cs_utf8_clean(*s ? s : (r->reason ? r->reason : ""), REASON_MAX, out);
}

int seq_domain_pause_event(db *d, const db_inbox *in, const seq_event_policy *p,
                           const cls_rcpt *r, cs_provider_id prov, int64_t now,
                           cs_err *err)
{
	const cs_provider *pv = cs_provider_get(prov);
	const char *dom = domain_of(in->email);
	db_domain_pause old, row;
	db_dpause_mode mode = (db_dpause_mode)p->domain_mode;
	int64_t until = now + (mode == DB_DPAUSE_PAUSE ? PAUSE_MS : SLOW_MS);
	cs_buf why = CS_BUF_INIT, line = CS_BUF_INIT;
	bool found = false, live;
	char when[32];
	int rc;

	if (dom == NULL || r == NULL || prov == CS_PROVIDER_GENERIC)
		return 0;
	if ((rc = db_domain_pause_get(d, dom, pv->name, &old, &found, err)) !=
	    0)
		return rc;
	live = found && old.until > now;
	reason_text(r, &why);
	memset(&row, 0, sizeof row);
	row.domain = (char *)dom;
	row.provider = (char *)pv->name;
	row.mode = mode;
	row.code = (char *)r->status;
	row.reason = why.data ? why.data : (char *)"";
	row.inbox_id = in->id;
	if (live && old.until > until)
		until = old.until;
	if (live && old.mode == DB_DPAUSE_PAUSE && mode == DB_DPAUSE_SLOW) {
		/* the pause stays what it is, at least this long */
		row.mode = DB_DPAUSE_PAUSE;
		row.code = old.code;
		row.reason = old.reason;
		row.inbox_id = old.inbox_id;
	}
	row.until = until;
	if ((rc = db_domain_pause_put(d, &row, now, err)) == 0) {
		when_text(until, when);
		seq_domain_pause_text(&row, &line);
		cs_log_warn(
		    "domain %s %s toward %s until %s (inbox %s, %s %s): "
		    "%s",
		    dom, row.mode == DB_DPAUSE_PAUSE ? "paused" : "slowed",
		    pv->label, when, in->name, row.code, row.reason, line.data);
	}
	if (found)
		db_domain_pause_free(&old);
	cs_buf_free(&why);
	cs_buf_free(&line);
	return rc;
}

void seq_domain_pause_text(const db_domain_pause *p, cs_buf *out)
{
	const cs_provider *pv = cs_provider_get(cs_provider_id_of(p->provider));

	if (p->mode == DB_DPAUSE_PAUSE)
		cs_buf_printf(out,
		              "run 'coldseq doctor --domain %s' and publish "
		              "the SPF, DKIM and DMARC records it gives (the "
		              "From domain must pass and align), then "
		              "'coldseq domain resume %s'",
		              p->domain, p->domain);
	else
		cs_buf_printf(out,
		              "slowing down toward %s (one message per %lld "
		              "minutes from %s)",
		              pv->label, (long long)(SLOW_GAP_MS / 60000),
		              p->domain);
}

/* ---- the scheduler's question ----------------------------------------- */

typedef struct last_arg {
	seq_sched *s;
	seq_esp want;
	int64_t last; /* the newest message to want's recipients (0: none) */
} last_arg;

static int last_to(const char *rcpt, int64_t at, void *arg)
{
	last_arg *a = arg;
	const char *dom = domain_of(rcpt);

	if (dom && seq_mx_provider(a->s->mx, dom) == a->want) {
		a->last = at;
		return 1; /* newest first: this is the one */
	}
	return 0;
}

int seq_domain_pause_hold(seq_sched *s, const db_inbox *in, const char *email,
                          int64_t now, int64_t *until, cs_buf *why,
                          bool *dns_wait, cs_err *err)
{
	const char *dom = domain_of(in->email), *cdom = domain_of(email);
	db_domain_pause *v = NULL;
	size_t n = 0, i;
	seq_esp want;
	int rc;

	*until = 0;
	if (dns_wait)
		*dns_wait = false;
	if (dom == NULL || cdom == NULL)
		return 0;
	if ((rc = db_domain_pause_list(s->d, dom, now, &v, &n, err)) != 0 ||
	    n == 0)
		return rc;
	if (seq_mx_esp(s->mx, cdom, &want) == SEQ_MX_PENDING) {
		/* the service's resolver is asking: not toward a paused
		 * provider by mistake.  A caller that can wait for the
		 * answer (it wakes the planner) is told so; any other looks
		 * again at its next pass */
		db_domain_pause_list_free(v, n);
		if (dns_wait) {
			*dns_wait = true;
			return 0;
		}
		*until = now + 1;
		if (why)
			cs_buf_puts(why, "the recipient's provider is not "
			                 "known yet (DNS)");
		return 0;
	}
	for (i = 0; i < n && rc == 0; i++) {
		const db_domain_pause *p = &v[i];
		int64_t t = p->until;
		char when[32];

		if (want == SEQ_ESP_OTHER ||
		    cs_provider_id_of(p->provider) != (cs_provider_id)want)
			continue;
		if (p->mode == DB_DPAUSE_SLOW) {
			last_arg a = {s, want, 0};

			rc = db_domain_sent_since(s->d, dom, now - SLOW_GAP_MS,
			                          last_to, &a, err);
			if (rc == 1)
				rc = 0;
			if (rc || a.last == 0)
				continue;
			t = a.last + SLOW_GAP_MS;
			if (t > p->until)
				t = p->until;
			if (t <= now) /* exactly a gap ago: free now */
				continue;
		}
		*until = t;
		if (why == NULL)
			break;
		when_text(t, when);
		cs_buf_printf(
		    why, DB_WAIT_DOMAIN " %s: %s toward %s until %s (%s)", dom,
		    p->mode == DB_DPAUSE_PAUSE ? "paused" : "slowed",
		    cs_provider_get(cs_provider_id_of(p->provider))->label,
		    when, p->code);
		break;
	}
	db_domain_pause_list_free(v, n);
	return rc;
}

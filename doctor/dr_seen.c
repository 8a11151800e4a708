/*
 * dr_seen.c - what receivers saw: the doctor's evidence from copies of an
 * inbox's own mail that other connected inboxes received (warmup and
 * campaign), recorded by the watcher (sequencer/seq_watch_received.c)
 * with what each receiving server wrote (Authentication-Results).  No DNS
 * answers this: it is what the receivers decided.
 *
 * Lines (check, defect, status):
 *  - "receivers" per receiving provider, over the last 7 days:
 *      "google: 14 copies, SPF 100%, DKIM 93%, DMARC 93%, Inbox 12 / Junk 2"
 *    (a rate over the copies whose receiver wrote that result; "-" when
 *    none did).  fail "dkim_failing" / "dmarc_failing" when the DKIM /
 *    DMARC pass rate is under 90% over at least 5 copies; warn
 *    "junk_placement" when more than 20% landed in Junk; else pass.
 *    One line per defect, each with the same summary.  No copies at all:
 *    one pass line, "no copies seen in 7 days".
 *  - "headers", from the campaign copies (RFC 8058, Gmail's and Yahoo's
 *    bulk-sender rules): fail "list_unsub_missing" when a copy came
 *    without List-Unsubscribe; fail "list_unsub_post_missing" when a
 *    one-click URL is configured (unsubscribe.url_template) and a copy
 *    came without List-Unsubscribe-Post; warn "unsub_not_signed" when a
 *    copy with -Post has a DKIM h= that does not cover both fields.
 *    Without campaign copies: nothing to say, no line.
 */
#include "doctor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEEK_MS    (7 * 86400000LL)
#define MIN_COPIES 5  /* copies before a pass rate can fail */
#define PASS_MIN   90 /* percent */
#define JUNK_MAX   20 /* percent */

/* "DKIM 93%" (rounded), or "DKIM -" when no copy had a result. */
static void rate(cs_buf *b, const char *what, long long pass, long long of)
{
	if (of <= 0)
		cs_buf_printf(b, ", %s -", what);
	else
		cs_buf_printf(b, ", %s %lld%%", what,
		              (pass * 200 + of) / (2 * of));
}

static bool failing(long long pass, long long of)
{
	return of >= MIN_COPIES && pass * 100 < (long long)PASS_MIN * of;
}

static void receivers(const db_received_sum *s, const db_dkim_seen *sel,
                      size_t nsel, dr_list *out)
{
	cs_buf found = CS_BUF_INIT, fix = CS_BUF_INIT;
	bool ok = true;

	cs_buf_printf(&found, "%s: %lld cop%s", s->provider, s->total,
	              s->total == 1 ? "y" : "ies");
	rate(&found, "SPF", s->spf_pass, s->with_spf);
	rate(&found, "DKIM", s->dkim_pass, s->with_dkim);
	rate(&found, "DMARC", s->dmarc_pass, s->with_dmarc);
	cs_buf_printf(&found, ", Inbox %lld / Junk %lld", s->inbox, s->junk);

	if (failing(s->dkim_pass, s->with_dkim)) {
		ok = false;
		if (nsel > 0)
			cs_buf_printf(
			    &fix,
			    "Publish the DKIM key of selector %s at "
			    "%s._domainkey.%s exactly as the mail provider "
			    "gives it (see the dkim line), and check that the "
			    "provider signs with your domain: the receivers "
			    "could not verify the signature d=%s.",
			    sel[0].selector, sel[0].selector, sel[0].domain,
			    sel[0].domain);
		else
			cs_buf_puts(&fix,
			            "Turn on DKIM signing for your domain "
			            "at the mail provider and publish the "
			            "key it gives: the copies arrived "
			            "without a DKIM signature.");
		dr_list_add(out, "receivers", "dkim_failing", DR_FAIL,
		            s->provider, cs_buf_str(&found),
		            "Receivers that cannot verify your DKIM signature "
		            "treat the mail as unauthenticated: Gmail, Yahoo "
		            "and Outlook.com require it of bulk senders and "
		            "reject or junk failing mail.",
		            cs_buf_str(&fix));
	}
	if (failing(s->dmarc_pass, s->with_dmarc)) {
		ok = false;
		dr_list_add(out, "receivers", "dmarc_failing", DR_FAIL,
		            s->provider, cs_buf_str(&found),
		            "DMARC passes only when SPF or DKIM passes for a "
		            "domain aligned with the From address; receivers "
		            "apply your DMARC policy to the rest.",
		            "Sign with d= of your From domain (DKIM), or send "
		            "with a MAIL FROM in your From domain whose SPF "
		            "record authorises the sending host; see the spf, "
		            "dkim and dmarc lines.");
	}
	if (s->total > 0 && s->junk * 100 > (long long)JUNK_MAX * s->total) {
		ok = false;
		dr_list_add(out, "receivers", "junk_placement", DR_WARN,
		            s->provider, cs_buf_str(&found),
		            "Mail that lands in Junk is rarely read: the "
		            "provider's filters distrust this sender or this "
		            "content.",
		            "Lower the daily volume, keep warmup running and "
		            "fix any failing authentication above; vary the "
		            "content and remove link shorteners and "
		            "attachments.");
	}
	if (ok)
		dr_list_add(out, "receivers", "", DR_PASS, s->provider,
		            cs_buf_str(&found),
		            "What the receiving servers decided about this "
		            "inbox's mail (Authentication-Results of copies "
		            "other connected inboxes received).",
		            NULL);
	cs_buf_free(&found);
	cs_buf_free(&fix);
}

static void headers(const db_received_sum *v, size_t n, bool url, dr_list *out)
{
	long long campaign = 0, lu = 0, post = 0, sig = 0;
	cs_buf found = CS_BUF_INIT;
	bool ok = true;
	size_t i;

	for (i = 0; i < n; i++) {
		campaign += v[i].campaign;
		lu += v[i].list_unsub;
		post += v[i].list_unsub_post;
		sig += v[i].unsub_signed;
	}
	if (campaign == 0)
		return;
	if (lu < campaign) {
		ok = false;
		cs_buf_printf(&found,
		              "%lld of %lld campaign copies arrived without "
		              "List-Unsubscribe",
		              campaign - lu, campaign);
		dr_list_add(
		    out, "headers", "list_unsub_missing", DR_FAIL,
		    "List-Unsubscribe", cs_buf_str(&found),
		    "Gmail and Yahoo require a List-Unsubscribe header "
		    "on bulk mail (RFC 2369, RFC 8058).",
		    "Send campaign mail through coldseq's composer, "
		    "which adds List-Unsubscribe; check that nothing "
		    "on the way (a relay, a signature tool) strips it.");
	}
	if (url && post < campaign) {
		ok = false;
		cs_buf_clear(&found);
		cs_buf_printf(&found,
		              "%lld of %lld campaign copies arrived without "
		              "List-Unsubscribe-Post",
		              campaign - post, campaign);
		dr_list_add(
		    out, "headers", "list_unsub_post_missing", DR_FAIL,
		    "List-Unsubscribe-Post", cs_buf_str(&found),
		    "One-click unsubscribe (RFC 8058) needs "
		    "List-Unsubscribe-Post: List-Unsubscribe=One-Click "
		    "beside an https URL; Gmail and Yahoo require it of "
		    "bulk senders.",
		    "Keep unsubscribe.url_template an https URL with "
		    "{token} and check that nothing on the way strips "
		    "List-Unsubscribe-Post.");
	}
	if (post > 0 && sig < post) {
		ok = false;
		cs_buf_clear(&found);
		cs_buf_printf(&found,
		              "%lld of %lld campaign copies with "
		              "List-Unsubscribe-Post carry a DKIM signature "
		              "whose h= does not cover List-Unsubscribe and "
		              "List-Unsubscribe-Post",
		              post - sig, post);
		dr_list_add(
		    out, "headers", "unsub_not_signed", DR_WARN,
		    "DKIM h=", cs_buf_str(&found),
		    "RFC 8058 4 asks that the DKIM signature cover both "
		    "fields, so that no one on the way can change the "
		    "unsubscribe target.",
		    "Have the signer include List-Unsubscribe and "
		    "List-Unsubscribe-Post in h= (opendkim: "
		    "SignHeaders; Google and Microsoft sign them when "
		    "present).");
	}
	if (ok) {
		cs_buf_clear(&found);
		cs_buf_printf(&found,
		              "%lld campaign cop%s with List-Unsubscribe%s",
		              campaign, campaign == 1 ? "y" : "ies",
		              post ? " and -Post, signed" : "");
		dr_list_add(out, "headers", "", DR_PASS, "List-Unsubscribe",
		            cs_buf_str(&found),
		            "Receivers check List-Unsubscribe (RFC 2369) and "
		            "one-click List-Unsubscribe-Post (RFC 8058).",
		            NULL);
	}
	cs_buf_free(&found);
}

int dr_seen_checks(db *d, long long inbox_id, int64_t now, dr_list *out,
                   cs_err *err)
{
	db_received_sum *v = NULL;
	db_dkim_seen *sel = NULL;
	size_t n = 0, nsel = 0, i;
	cs_buf tmpl = CS_BUF_INIT;
	bool url = false;
	int rc;

	if ((rc = db_received_summary(d, inbox_id, now - WEEK_MS, &v, &n,
	                              err)) != 0 ||
	    (rc = db_received_selectors(d, inbox_id, now - WEEK_MS, &sel, &nsel,
	                                err)) != 0 ||
	    (rc = db_config_get(d, "unsubscribe.url_template", &tmpl, &url,
	                        err)) != 0)
		goto out;
	url = url && tmpl.len > 0;
	if (n == 0)
		dr_list_add(out, "receivers", "", DR_PASS, "received copies",
		            "no copies seen in 7 days",
		            "Copies of this inbox's mail that other connected "
		            "inboxes receive show what receivers decided "
		            "(SPF, DKIM, DMARC, Inbox or Junk); run warmup "
		            "with another connected inbox to have them.",
		            NULL);
	for (i = 0; i < n; i++)
		receivers(&v[i], sel, nsel, out);
	headers(v, n, url, out);
out:
	free(v);
	db_dkim_seen_free(sel, nsel);
	cs_buf_free(&tmpl);
	return rc;
}

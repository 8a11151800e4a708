/*
 * doctor.h - is a sending domain set up so that receivers accept its
 * mail?  `coldseq doctor` and the service's daily check.
 *
 * Layer: above core, net (DNS), db and classify; below sequencer and
 * cli.  Every DNS question goes through one net_dns resolver (cached,
 * parallel); the record parsers are pure code over the record's text.
 *
 * Parts:
 *  - dr_spf.c:   check_host() of RFC 7208, with its limits and macros;
 *  - dr_dkim.c:  DKIM key records (RFC 6376 3.6.1, RFC 8463, RFC 8301);
 *  - dr_dmarc.c: DMARC records, discovery, alignment (RFC 7489), the
 *                organizational domain (Public Suffix List, libpsl);
 *  - dr_dnsbl.c: DNS block lists and what their answers mean;
 *  - dr_check.c: the check list per domain and per inbox, and the
 *                records to publish;
 *  - dr_seen.c:  what receivers saw (Authentication-Results of copies
 *                other connected inboxes received).
 */
#ifndef COLDSEQ_DOCTOR_H
#define COLDSEQ_DOCTOR_H

#include "core/core.h"
#include "db/db.h"
#include "net/net.h"

/* ---- SPF (dr_spf.c) ---------------------------------------------------- */

typedef enum dr_spf_result {
	DR_SPF_NONE,
	DR_SPF_NEUTRAL,
	DR_SPF_PASS,
	DR_SPF_FAIL,
	DR_SPF_SOFTFAIL,
	DR_SPF_TEMPERROR,
	DR_SPF_PERMERROR
} dr_spf_result;

/* "none", "neutral", "pass", ... (RFC 7208 2.6). */
const char *dr_spf_result_name(dr_spf_result r);

typedef struct dr_spf_out {
	dr_spf_result result;
	/* why, in a few words, for permerror/temperror and for the match:
	 * "11th DNS-querying term include:x.test (limit 10)", "two v=spf1
	 * records at a.test", "matched ip4:192.0.2.0/24 at a.test" */
	char reason[256];
	char *record; /* the first domain's v=spf1 record (NULL: none) */
	int lookups;  /* DNS-querying terms evaluated (RFC 7208 4.6.4) */
	int voids;    /* void lookups */
	/* every domain whose record was evaluated, the first domain first,
	 * then include and redirect targets in the order reached */
	char **domains;
	size_t ndomains;
	/* the qualifier of the "all" that ends the first domain's record
	 * (following redirect=): '+', '-', '~', '?'; 0 when none */
	char all_qualifier;
} dr_spf_out;

/* check_host(ip, domain, sender) as RFC 7208 4 and 5 define it.  ip in
 * text form (IPv4, IPv6, IPv4-mapped IPv6); sender "local@domain" or
 * NULL ("postmaster@domain"); helo may be NULL (the domain).  Returns
 * 0, or CS_EINVAL when ip is not an address (out untouched). */
int dr_spf_check(net_dns *r, const char *ip, const char *domain,
                 const char *sender, const char *helo, dr_spf_out *out,
                 cs_err *err);
void dr_spf_out_free(dr_spf_out *o);

/* ---- DKIM key records (dr_dkim.c) ------------------------------------- */

typedef struct dr_dkim_key {
	bool valid;      /* usable to verify mail */
	char error[128]; /* when !valid: "v= is not DKIM1", "p= is not
	                    base64", "revoked (empty p=)", ... */
	bool revoked;    /* p= empty */
	char k[16];      /* "rsa", "ed25519" */
	int bits;        /* RSA modulus bits, 256 for Ed25519, 0: unknown */
	bool testing;    /* t=y */
	bool sha1_only;  /* h= lists only sha1 (RFC 8301 forbids it) */
} dr_dkim_key;

/* Parse a key record (the TXT strings concatenated). */
void dr_dkim_key_parse(const char *txt, size_t n, dr_dkim_key *out);

/* ---- DMARC (dr_dmarc.c) ------------------------------------------------ */

typedef struct dr_dmarc {
	bool valid;
	char error[128];
	char p[16], sp[16]; /* "none" | "quarantine" | "reject" */
	char adkim, aspf;   /* 'r' | 's' */
	int pct;            /* 0..100 */
	char *rua, *ruf;    /* as published, NULL when absent */
	char *record;       /* the record's text */
	char *found_at;     /* "_dmarc.example.com" */
} dr_dmarc;

/* Parse one record's text (must start with v=DMARC1). */
void dr_dmarc_parse(const char *txt, size_t n, dr_dmarc *out);
/* RFC 7489 6.6.3: _dmarc.<from_domain>, then _dmarc.<organizational
 * domain>.  1 found (*out filled), 0 none, -1 a DNS error (err says).
 * More than one DMARC record at a name is none (0, no fallback), with
 * out->error and out->found_at saying so; dr_dmarc_free *out always. */
int dr_dmarc_find(net_dns *r, const char *from_domain, dr_dmarc *out,
                  cs_err *err);
void dr_dmarc_free(dr_dmarc *d);

/* The organizational domain (the registrable domain by the Public Suffix
 * List) of a lower-case domain, into out; the domain itself when the
 * list has no answer. */
void dr_org_domain(const char *domain, char *out, size_t cap);
/* DMARC identifier alignment: mode 's' equal, 'r' same organizational
 * domain (case-insensitive). */
bool dr_aligned(const char *a, const char *b, char mode);

/* ---- the check list (dr_check.c, dr_dnsbl.c, dr_seen.c) ---------------- */

typedef enum dr_status { DR_PASS, DR_WARN, DR_FAIL } dr_status;
const char *dr_status_name(dr_status s); /* "pass" | "warn" | "fail" */

/* One line of the list.  check: "mx", "spf", "dkim", "dmarc", "ptr",
 * "blocklist", "mta_sts", "tls_rpt", "receivers", "headers".  defect:
 * "" when it passes, else a stable word the JSON carries and tests
 * assert (see README's doctor section for the list), e.g. "missing",
 * "multiple", "lookup_limit", "void_limit", "permerror", "plus_all",
 * "neutral_all", "provider_not_authorised", "key_missing",
 * "key_too_short", "key_short", "key_malformed", "key_revoked",
 * "no_rua", "misaligned", "listed", "list_unusable", "ptr_missing",
 * "ptr_mismatch", "provider_mismatch", "unsub_not_signed", ... */
typedef struct dr_check {
	char check[16];
	char defect[32];
	dr_status status;
	char *subject; /* what was checked: "a.test",
	                  "selector1._domainkey.a.test", "192.0.2.1 on
	                  zen.spamhaus.org" */
	char *found;   /* the record or answer found, NULL: nothing */
	char *why;     /* why it matters, one sentence */
	char *fix;     /* exactly what to publish or change; NULL on pass */
} dr_check;

typedef struct dr_list {
	dr_check *v;
	size_t n;
} dr_list;

/* Append a check to l, copying every string: subject, found, why and fix
 * (any may hold DNS data) are kept as printable UTF-8, control characters
 * as '?', each cut at 2000 bytes ("..."), so the report is safe to print
 * and to put in JSON; fix is dropped on a pass.  dr_list_worst: the worst
 * status in l (DR_PASS when empty).  dr_list_free: frees every check and
 * empties l; NULL is allowed. */
void dr_list_add(dr_list *l, const char *check, const char *defect,
                 dr_status status, const char *subject, const char *found,
                 const char *why, const char *fix);
dr_status dr_list_worst(const dr_list *l);
void dr_list_free(dr_list *l);

/* What receivers saw (dr_seen.c): "receivers" checks for inbox_id from
 * the copies other connected inboxes received over the 7 days before
 * now (ms): per receiving provider, SPF/DKIM/DMARC pass rates and
 * inbox-vs-Junk placement; and the "headers" evidence (List-Unsubscribe,
 * -Post, signed by DKIM h=) of its campaign messages.  Appends to out. */
int dr_seen_checks(db *d, long long inbox_id, int64_t now, dr_list *out,
                   cs_err *err);

/* ---- DNS block lists (dr_dnsbl.c) -------------------------------------- */

typedef enum dr_bl_kind { DR_BL_IP, DR_BL_DOMAIN } dr_bl_kind;

/* One list: its zone, what it lists, the entry it always lists (its test
 * entry: 127.0.0.2, or a test domain) and what its answers mean. */
typedef struct dr_blocklist {
	char *zone;
	dr_bl_kind kind;
	char *test; /* listed by definition */
	struct dr_bl_code {
		char *code;    /* "127.0.0.2" */
		char *meaning; /* "SBL: a known spam source" */
	} * codes;
	size_t ncodes;
} dr_blocklist;

typedef struct dr_blocklists {
	dr_blocklist *v;
	size_t n;
} dr_blocklists;

/* The built-in lists: zen.spamhaus.org, dbl.spamhaus.org, bl.spamcop.net,
 * b.barracudacentral.org, psbl.surriel.com (never SORBS: shut down). */
void dr_blocklists_default(dr_blocklists *out);
/* A file of lines "ZONE ip|domain TEST-ENTRY [CODE=MEANING ...]" ('#'
 * comments, blank lines; a meaning runs to the next CODE=).  CS_EINVAL
 * naming FILE:LINE on a bad line; CS_EIO when it cannot be read. */
int dr_blocklists_load(const char *path, dr_blocklists *out, cs_err *err);
void dr_blocklists_free(dr_blocklists *b);
/* Start (net_dns_query, no wait) every question dr_dnsbl_check will ask
 * about subject: the lists' test entries, a never-listed entry, and
 * subject on each list of its kind. */
void dr_dnsbl_prefetch(net_dns *r, const dr_blocklists *b, dr_bl_kind kind,
                       const char *subject);
/* "blocklist" lines for subject (an IPv4 address, or a domain) on every
 * list of that kind: "listed" (fail) with the code's meaning and the
 * list's TXT reason; "list_unusable" (warn) when the list does not answer
 * its test entry as listed, lists the never-listed entry, answers
 * 127.255.255.x (an error code, e.g. a public resolver) or fails; one
 * pass line for the lists that do not list it.  IPv6 subjects are not
 * looked up (the lists are IPv4). */
void dr_dnsbl_check(net_dns *r, const dr_blocklists *b, dr_bl_kind kind,
                    const char *subject, dr_list *out);

/* ---- a run: `coldseq doctor` (dr_check.c, dr_report.c) ---------------- */

typedef struct dr_opts {
	/* inbox names or addresses (none: see domain) */
	const char *const *inboxes;
	size_t ninboxes;
	/* every live inbox whose address is at this domain; neither this nor
	 * inboxes: every live inbox */
	const char *domain;
	int64_t now; /* ms, for the 7 days of received copies */
	/* NULL: the file of config doctor.blocklists, else the defaults */
	const dr_blocklists *blocklists;
} dr_opts;

typedef struct dr_domain_report {
	char *domain;
	dr_status verdict;
	char **inboxes; /* the addresses checked at this domain */
	size_t ninboxes;
	/* messages a day the domain's live inboxes together may send (each
	 * its daily cap, at most its messages_24h limit) */
	long long daily_capacity;
	dr_list checks;
} dr_domain_report;

typedef struct dr_inbox_report {
	long long id;
	char *name, *email;
	const char *domain; /* into its domain report */
	cs_provider_id provider;
	dr_status verdict; /* the worst of its checks and its domain's */
	dr_list checks;    /* its own (the domain's are in the domain's) */
} dr_inbox_report;

typedef struct dr_report {
	dr_domain_report *domains; /* by name */
	size_t ndomains;
	dr_inbox_report *inboxes; /* by inbox name */
	size_t ninboxes;
	dr_status verdict; /* the worst of all */
} dr_report;

/* Check the inboxes o names and their domains.  Every DNS question of
 * the first level (MX, SPF, _dmarc, DKIM selectors, _mta-sts, _smtp._tls,
 * block lists, the SMTP hosts' addresses) is started at once and r is run
 * once; the checks then read the cache.  Each domain is checked once.
 * DNS trouble is a check line, not an error: the return is non-zero
 * (err says) only for CS_ENOTFOUND (an inbox o names does not exist, or
 * no inbox sends from o->domain), a bad doctor.blocklists file, or the
 * database.  r: a resolver with a private loop (net_dns_run). */
int dr_run(db *d, net_dns *r, const dr_opts *o, dr_report *out, cs_err *err);
void dr_report_free(dr_report *rep);
/* The inbox's domain report (never NULL for a report dr_run made). */
const dr_domain_report *dr_report_domain(const dr_report *rep,
                                         const dr_inbox_report *in);
/* "check.defect,..." of what fails for inbox i (its domain's first), each
 * once; caller frees. */
char *dr_report_failing(const dr_report *rep, const dr_inbox_report *in);
/* db_doctor_verdict_set for every inbox of rep, at now. */
int dr_report_store(db *d, const dr_report *rep, int64_t now, cs_err *err);

#endif

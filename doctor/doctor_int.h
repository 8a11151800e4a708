/*
 * doctor_int.h - declarations shared inside doctor/ and with its unit
 * tests; no other module includes it.
 */
#ifndef COLDSEQ_DOCTOR_INT_H
#define COLDSEQ_DOCTOR_INT_H

#include "doctor/doctor.h"

/* ---- where answers come from (dr_spf.c) ---------------------------------- */

/*
 * Where the SPF evaluator and DMARC discovery get their answers: a
 * private-loop net_dns through net_dns_query_sync (dr_dns_src_net), or
 * in unit tests a table of answers.  query never returns NULL; release
 * gives the answer back.
 */
typedef struct dr_dns_src {
	net_dns_answer *(*query)(void *arg, const char *name, int type);
	void (*release)(void *arg, net_dns_answer *a);
	void *arg;
} dr_dns_src;

/* The source asking r (a private-loop resolver) with net_dns_query_sync. */
dr_dns_src dr_dns_src_net(net_dns *r);

/* ---- SPF (dr_spf.c) ----------------------------------------------------- */

/* dr_spf_check over any answer source (same contract). */
int dr_spf_check_src(const dr_dns_src *src, const char *ip, const char *domain,
                     const char *sender, const char *helo, dr_spf_out *out,
                     cs_err *err);

/* The whole-record syntax check done before evaluation (RFC 7208 4.6,
 * 12): 0 when record (a "v=spf1 ..." text) is well formed, -1 with a
 * sentence in why (permerror) otherwise. */
int dr_spf_syntax(const char *record, char *why, size_t cap);

/* Macro expansion (RFC 7208 7) of spec[0..n) for the client ip, sender
 * ("local@domain"; NULL: postmaster@domain), current domain and helo.
 * exp: the text is an explanation (c, r, t allowed; no 253-octet
 * truncation).  0 with the result in out, -1 with why (permerror). */
int dr_spf_expand(const char *spec, size_t n, const char *ip,
                  const char *sender, const char *domain, const char *helo,
                  bool exp, cs_buf *out, char *why, size_t cap);

/* ---- an SPF record, parsed (dr_spf_record.c) ------------------------------
 */

typedef enum dr_spf_mech {
	DR_SPF_M_ALL,
	DR_SPF_M_INCLUDE,
	DR_SPF_M_A,
	DR_SPF_M_MX,
	DR_SPF_M_PTR,
	DR_SPF_M_IP4,
	DR_SPF_M_IP6,
	DR_SPF_M_EXISTS
} dr_spf_mech;

typedef struct dr_spf_term {
	char qual; /* '+', '-', '~', '?' */
	dr_spf_mech kind;
	const char *spec; /* domain-spec (NULL: the current domain) */
	size_t spec_len;
	int cidr4, cidr6; /* -1: not given */
	unsigned char net[16];
	const char *text; /* the term as written */
	size_t text_len;
} dr_spf_term;

typedef struct dr_spf_rec {
	dr_spf_term *t;
	size_t n, cap;
	const char *redirect, *exp;
	size_t redirect_len, exp_len;
	int all; /* index of the first "all", -1: none */
} dr_spf_rec;

/* A v=spf1 record: "v=spf1" then a space or the end (RFC 7208 4.5). */
bool dr_spf_is_record(const char *s, size_t n);
/* The whole record s[0..n) into *r (which points into s: s must outlive
 * it): 0, or -1 with the first syntax error in why (permerror). */
int dr_spf_rec_parse(const char *s, size_t n, dr_spf_rec *r, char *why,
                     size_t cap);
void dr_spf_rec_free(dr_spf_rec *r);
/* One macro-expand at s[0..n) beginning "%{" (7.1): its length, letter,
 * keep count (0: all), reverse flag and delimiters; exp allows c, r, t.
 * 0, or -1 with why. */
int dr_spf_macro_parse(const char *s, size_t n, bool exp, size_t *len,
                       char *letter, int *keep, bool *rev, const char **dl,
                       size_t *ndl, char *why, size_t cap);
/* A domain-spec (domain: it must end in a valid toplabel) or an
 * explanation string (exp): 0, or -1 with why. */
int dr_spf_spec_check(const char *s, size_t n, bool domain, bool exp, char *why,
                      size_t cap);
/* Write fmt into why (when given) and return -1. */
int dr_spf_fail_why(char *why, size_t cap, const char *fmt, ...)
    CS_PRINTF(3, 4);

/* ---- SPF evaluation (dr_spf.c, dr_spf_macro.c) -----------------------------
 */

/* The client address; IPv4-mapped IPv6 is kept as IPv4 (RFC 7208 5). */
typedef struct dr_spf_ip {
	int family; /* AF_INET, AF_INET6 */
	unsigned char a[16];
} dr_spf_ip;

/* One check_host() evaluation in progress. */
typedef struct dr_spf_ctx {
	const dr_dns_src *src;
	dr_spf_ip ip;
	char *sender; /* "local@domain" */
	const char *local, *sdomain;
	size_t local_len;
	const char *helo;
	dr_spf_out *out;
	int depth;
	char *ptr_name; /* %{p}, found once */
} dr_spf_ctx;

bool dr_spf_ip_parse(const char *s, dr_spf_ip *ip);
/* %{p}: the validated PTR name of the client (RFC 7208 7.3), found once
 * per evaluation; "unknown" when none. */
const char *dr_spf_ptr_macro(dr_spf_ctx *c, const char *domain);
/* c->sender and its parts from sender (NULL or empty:
 * postmaster@domain; no local part: postmaster). */
void dr_spf_ctx_sender(dr_spf_ctx *c, const char *sender, const char *domain);
/* Expand the macro-string s[0..n) for the current domain (exp: an
 * explanation, c/r/t allowed and no 253-octet cut): 0 with the text in
 * out, -1 with why (permerror). */
int dr_spf_macro_expand(dr_spf_ctx *c, const char *s, size_t n,
                        const char *domain, bool exp, cs_buf *out, char *why,
                        size_t cap);

/* ---- DMARC (dr_dmarc.c) ---------------------------------------------------
 */

/* dr_dmarc_find over any answer source (same contract). */
int dr_dmarc_find_src(const dr_dns_src *src, const char *from_domain,
                      dr_dmarc *out, cs_err *err);

/* ---- one doctor run (dr_check.c, dr_auth.c) ------------------------------ */

/* What one generic SMTP host resolves to. */
typedef struct dr_host {
	char *host;
	char **ip;
	size_t n;
	bool local;      /* loopback: the real sending address is unknown */
	bool unresolved; /* no A/AAAA */
	char error[64];  /* a DNS error, "" none */
} dr_host;

typedef struct dr_selector {
	char *name, *domain; /* s=, d= */
	bool probe;          /* a common name tried, not known to be used */
	bool seen;           /* on a received copy */
} dr_selector;

typedef struct dr_dom {
	dr_domain_report *rep; /* into the report */
	char org[256];
	bool google, microsoft, generic;
	size_t *inb; /* indexes into the run's inboxes */
	size_t ninb;
	dr_selector *sel;
	size_t nsel;
} dr_dom;

typedef struct dr_ctx {
	db *d;
	net_dns *r;
	const dr_opts *o;
	const dr_blocklists *bl;
	db_inbox *all; /* every live inbox */
	size_t nall;
	db_inbox **in; /* the ones checked, parallel to rep->inboxes */
	size_t nin;
	dr_host *hosts;
	size_t nhosts;
	dr_dom *doms;
	size_t ndoms;
	dr_report *rep;
	bool unsub_url; /* config unsubscribe.url_template set */
} dr_ctx;

/* Helpers of the run (dr_check.c). */
net_dns_answer *dr_get(dr_ctx *R, const char *name, int type);
/* Append the n bytes at s (DNS data) as printable text (dr_report.c):
 * valid UTF-8 is kept, a control character (C0, DEL, C1) or a byte that
 * starts no valid sequence becomes '?'; past DR_TEXT_MAX (2000) bytes
 * the rest becomes "...".  dr_list_add passes every field through it. */
void dr_clean_text(const char *s, size_t n, cs_buf *out);
dr_host *dr_host_of(dr_ctx *R, const char *host);
bool dr_is_loopback_ip(const char *ip);
void dr_free_strv(char **v, size_t n);

/* The authentication checks (dr_auth.c): a domain's SPF (*record_ok:
 * exactly one usable record), an inbox's sending host in it, the DKIM
 * keys, DMARC. */
void dr_check_spf(dr_ctx *R, dr_dom *D, bool *record_ok);
void dr_check_inbox_spf(dr_ctx *R, dr_dom *D, const db_inbox *in, dr_host *h,
                        dr_list *L);
void dr_check_dkim(dr_ctx *R, dr_dom *D);
void dr_check_dmarc(dr_ctx *R, dr_dom *D);

#endif

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

/* ---- DMARC (dr_dmarc.c) ---------------------------------------------------
 */

/* dr_dmarc_find over any answer source (same contract). */
int dr_dmarc_find_src(const dr_dns_src *src, const char *from_domain,
                      dr_dmarc *out, cs_err *err);

#endif

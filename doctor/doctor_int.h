/*
 * doctor_int.h - declarations shared inside doctor/ and with its unit
 * tests; no other module includes it.
 */
#ifndef COLDSEQ_DOCTOR_INT_H
#define COLDSEQ_DOCTOR_INT_H

#include "doctor/doctor.h"

/* ---- SPF (dr_spf.c) ----------------------------------------------------- */

/*
 * Where the SPF evaluator gets its answers.  dr_spf_check asks a private
 * loop net_dns with net_dns_query_sync; unit tests give a table of
 * answers.  query never returns NULL; release gives the answer back.
 */
typedef struct dr_spf_src {
	net_dns_answer *(*query)(void *arg, const char *name, int type);
	void (*release)(void *arg, net_dns_answer *a);
	void *arg;
} dr_spf_src;

/* dr_spf_check over any answer source (same contract). */
int dr_spf_check_src(const dr_spf_src *src, const char *ip, const char *domain,
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

#endif

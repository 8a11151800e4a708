/*
 * fuzz_authres.c - libFuzzer target for what a receiving server wrote
 * (classify/authres.c).
 *
 * The first byte picks the reader, the rest is its input: 'A' an
 * Authentication-Results value, 'R' an ARC-Authentication-Results value,
 * 'D' a DKIM-Signature value, anything else a whole message for
 * cls_received_parse.  No input may crash, leak or hit undefined
 * behaviour, and the answers must keep their promises: the caps on
 * results, properties and values, lower-case names, result words that
 * fit, a trusted authserv-id only with results from it.  Seeds:
 * tests/fuzz/corpus/authres/.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lower_name(const char *s)
{
	if (s == NULL)
		abort();
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			abort();
}

static void check_ar(const cls_authres *a)
{
	size_t i, k;

	lower_name(a->authserv_id);
	if (a->nresults > CLS_AR_MAX_RESULTS || a->instance < 0)
		abort();
	for (i = 0; i < a->nresults; i++) {
		const cls_ar_result *r = &a->results[i];

		lower_name(r->method);
		lower_name(r->result);
		if (r->method[0] == '\0' || strlen(r->method) > 15 ||
		    strlen(r->result) > 15 || r->nprops > CLS_AR_MAX_PROPS)
			abort();
		if (r->reason && strlen(r->reason) > CLS_AR_MAX_VALUE * 3)
			abort();
		for (k = 0; k < r->nprops; k++) {
			lower_name(r->props[k].name);
			if (r->props[k].value == NULL ||
			    strlen(r->props[k].value) > CLS_AR_MAX_VALUE * 3)
				abort();
			if (cls_ar_get(r, r->props[k].name) == NULL)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	size_t n = size ? size - 1 : 0;

	if (size == 0)
		return 0;
	if (data[0] == 'A' || data[0] == 'R') {
		cls_authres a;

		cls_authres_parse(p, n, data[0] == 'R', &a);
		check_ar(&a);
		cls_authres_free(&a);
	} else if (data[0] == 'D') {
		cls_dkim_sig s;

		cls_dkim_sig_parse(p, n, &s);
		if (s.d)
			lower_name(s.d);
		if (s.h) {
			lower_name(s.h);
			if (strpbrk(s.h, " \t\r\n"))
				abort();
		}
		(void)cls_dkim_signs(s.h, "list-unsubscribe");
		cls_dkim_sig_free(&s);
	} else {
		cls_received r;

		cls_received_parse(p, n, &r);
		if (strlen(r.spf) > 15 || strlen(r.dkim) > 15 ||
		    strlen(r.dmarc) > 15)
			abort();
		/* results only from a trusted receiver, except Received-SPF */
		if (r.authserv_id == NULL && (r.dkim[0] || r.dmarc[0]))
			abort();
		if (r.mailfrom_domain)
			lower_name(r.mailfrom_domain);
		if (r.dkim_headers && strpbrk(r.dkim_headers, " \t\r\n"))
			abort();
		cls_received_free(&r);
	}
	return 0;
}

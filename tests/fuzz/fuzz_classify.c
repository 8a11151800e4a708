/*
 * fuzz_classify.c - libFuzzer target for the message classifier.
 *
 * The input is a raw message.  cls_classify must return 0 for every
 * input, without a crash, leak or undefined behaviour, and its answer
 * must be coherent: a known kind, recipients with a reason (and, for a
 * bounce or delay, a status of the form "N.N.N"), hard only for a 5.x.x
 * failure, a return date either empty or "YYYY-MM-DD", a token 16-64 URL-safe
 * characters.  The same bytes go through cls_copy_parse (the Sent pass's
 * reader): every address non-empty, a Message-ID in angle brackets.  Seeds:
 * tests/fuzz/corpus/classify/ (small, written for this project); for more, run
 * with ../shared/corpus/bounces/emails as a second corpus directory (read in
 * place, never copied into the repository).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cls_class c;
	cls_copy cp;
	size_t i;

	if (cls_classify((const char *)data, size, &c, NULL) != 0)
		abort();
	if (c.kind < CLS_OTHER || c.kind > CLS_REPLY)
		abort();
	for (i = 0; i < c.nrcpts; i++) {
		const cls_rcpt *r = &c.rcpts[i];

		if (r->addr == NULL || r->reason == NULL)
			abort();
		/* a bounce or delay recipient always has a status */
		if ((c.kind == CLS_BOUNCE || c.kind == CLS_DELAY) &&
		    strlen(r->status) < 5)
			abort();
		if (r->hard && r->status[0] != '5')
			abort();
	}
	if (c.return_date[0] &&
	    (strlen(c.return_date) != 10 || c.return_date[4] != '-'))
		abort();
	if (c.token &&
	    (strlen(c.token) < 16 || strlen(c.token) > 64 ||
	     strspn(c.token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijk"
	                     "lmnopqrstuvwxyz0123456789_-") != strlen(c.token)))
		abort();
	cls_class_free(&c);
	cls_copy_parse((const char *)data, size, &cp);
	if (cp.nrcpts > CLS_MAX_RCPTS ||
	    (cp.message_id && cp.message_id[0] != '<'))
		abort();
	for (i = 0; i < cp.nrcpts; i++)
		if (cp.rcpts[i] == NULL || cp.rcpts[i][0] == '\0')
			abort();
	cls_copy_free(&cp);
	return 0;
}

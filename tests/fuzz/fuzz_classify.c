/*
 * fuzz_classify.c - libFuzzer target for the message classifier.
 *
 * The input is a raw message.  imap_classify must return 0 for every
 * input, without a crash, leak or undefined behaviour, and its answer
 * must be coherent: a known kind, recipients with a reason (and, for a
 * bounce or delay, a status of the form "N.N.N"), hard only for a 5.x.x
 * failure, a return date either empty or "YYYY-MM-DD", a token 16-64 URL-safe
 * characters. Seeds: tests/fuzz/corpus/classify/ (small, written for this
 * project); for more, run with ../shared/corpus/bounces/emails as a second
 * corpus directory (read in place, never copied into the repository).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	imap_class c;
	size_t i;

	if (imap_classify((const char *)data, size, &c, NULL) != 0)
		abort();
	if (c.kind < IMAP_OTHER || c.kind > IMAP_REPLY)
		abort();
	for (i = 0; i < c.nrcpts; i++) {
		const imap_rcpt *r = &c.rcpts[i];

		if (r->addr == NULL || r->reason == NULL)
			abort();
		/* a bounce or delay recipient always has a status */
		if ((c.kind == IMAP_BOUNCE || c.kind == IMAP_DELAY) &&
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
	imap_class_free(&c);
	return 0;
}

/*
 * fuzz_spf_record.c - libFuzzer target for the SPF record parser and the
 * macro expander (doctor/dr_spf.c).
 *
 * The input is a record text.  A record the parser accepts must still be
 * accepted with its terms separated by more spaces (whitespace between
 * terms carries no meaning); the text after the first space is also
 * expanded as a macro string, for IPv4 and IPv6 clients, and an expanded
 * domain never exceeds 253 octets unless it has no dot to cut at.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *rec, *wide, why[160];
	cs_buf out = CS_BUF_INIT;
	size_t i, o = 0;
	const char *sp;

	if (size > 4096)
		return 0;
	rec = malloc(size + 1);
	wide = malloc(2 * size + 1);
	if (rec == NULL || wide == NULL)
		abort();
	memcpy(rec, data, size);
	rec[size] = '\0';
	for (i = 0; i < size && rec[i] != '\0'; i++) {
		wide[o++] = rec[i];
		if (rec[i] == ' ')
			wide[o++] = ' ';
	}
	wide[o] = '\0';
	if (strlen(rec) == size && dr_spf_syntax(rec, why, sizeof why) == 0 &&
	    dr_spf_syntax(wide, why, sizeof why) != 0)
		abort();
	sp = strchr(rec, ' ');
	sp = sp ? sp + 1 : rec;
	if (dr_spf_expand(sp, strlen(sp), "192.0.2.3", "strong-bad@a.test",
	                  "a.test", "h.test", false, &out, why,
	                  sizeof why) == 0 &&
	    out.len > 253 && memchr(out.data, '.', out.len) != NULL)
		abort();
	(void)dr_spf_expand(sp, strlen(sp), "2001:db8::cb01", NULL, "a.test",
	                    NULL, true, &out, why, sizeof why);
	cs_buf_free(&out);
	free(rec);
	free(wide);
	return 0;
}

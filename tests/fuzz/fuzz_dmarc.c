/*
 * fuzz_dmarc.c - libFuzzer target for the DMARC record parser and the
 * organizational domain (doctor/dr_dmarc.c).
 *
 * A valid record has a policy word for p= and sp=, r or s alignment
 * modes and pct in 0..100; an invalid one says why.  Any input read as a
 * domain gives an organizational domain it is aligned with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int policy(const char *p)
{
	return strcmp(p, "none") == 0 || strcmp(p, "quarantine") == 0 ||
	       strcmp(p, "reject") == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dom[256], org[256];
	dr_dmarc d;

	dr_dmarc_parse((const char *)data, size, &d);
	if (d.valid &&
	    (!policy(d.p) || !policy(d.sp) ||
	     (d.adkim != 'r' && d.adkim != 's') ||
	     (d.aspf != 'r' && d.aspf != 's') || d.pct < 0 || d.pct > 100))
		abort();
	if (!d.valid && d.error[0] == '\0')
		abort();
	dr_dmarc_free(&d);
	if (size > 0 && size < sizeof dom && memchr(data, '\0', size) == NULL) {
		size_t i;

		for (i = 0; i < size; i++)
			dom[i] = (char)(data[i] >= 'A' && data[i] <= 'Z'
			                    ? data[i] + 32
			                    : data[i]);
		dom[size] = '\0';
		dr_org_domain(dom, org, sizeof org);
		if (dom[0] != '\0' && dom[0] != '.' &&
		    strchr(dom, ' ') == NULL && !dr_aligned(dom, org, 'r') &&
		    dom[size - 1] != '.')
			abort();
	}
	return 0;
}

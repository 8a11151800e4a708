/*
 * fuzz_dkim_key.c - libFuzzer target for the DKIM key record parser
 * (doctor/dr_dkim.c: tag list, base64, OpenSSL's DER readers).
 *
 * A key is valid, or it says why it is not; a revoked key is never valid;
 * a valid key has a known type and a size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doctor/doctor_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dr_dkim_key k;

	dr_dkim_key_parse((const char *)data, size, &k);
	if (k.valid == (k.error[0] != '\0'))
		abort();
	if (k.revoked && k.valid)
		abort();
	if (k.valid && (k.bits <= 0 || (strcmp(k.k, "rsa") != 0 &&
	                                strcmp(k.k, "ed25519") != 0)))
		abort();
	return 0;
}

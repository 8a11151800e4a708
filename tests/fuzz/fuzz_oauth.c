/*
 * fuzz_oauth.c - libFuzzer target for what an OAuth2 provider (or a
 * browser, or whoever reaches the loopback port) sends coldseq: token
 * endpoint answers and redirect addresses.
 *
 * The first byte picks the parser (even: a token answer, its HTTP status
 * from the byte; odd: a redirect checked against a fixed state).  A
 * parse that succeeds must have produced what it promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 400, 401, 429, 500, 503};
	char *text, oerr[64];
	cs_err err = CS_ERR_INIT;

	if (size == 0)
		return 0;
	text = malloc(size);
	if (text == NULL)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if ((data[0] & 1) == 0) {
		net_oauth_tokens t;
		long status = statuses[(data[0] >> 1) % 6];
		int rc = net_oauth_parse_token(status, text, size - 1, &t, oerr,
		                               &err);

		if (rc == 0 &&
		    (t.access == NULL || cs_secret_len(t.access) == 0))
			abort();
		if (rc != 0 && (t.access || t.refresh))
			abort();
		if (strlen(oerr) >= sizeof oerr)
			abort();
		net_oauth_tokens_free(&t);
	} else {
		cs_secret *code = NULL;
		int rc = net_oauth_parse_redirect(text, "S1", &code, &err);

		if ((rc == 0) != (code != NULL))
			abort();
		if (rc == 0 && strchr(text, '?') == NULL)
			abort();
		cs_secret_free(code);
	}
	free(text);
	return 0;
}

/*
 * bench_vault.c - vault seal+open throughput for 64-byte secrets.
 *
 * Prints one line "vault_seal_open_per_s N".  run.sh compares it with
 * OpenSSL's own AES-256-GCM speed on 64-byte blocks in the same run: a
 * seal+open is two GCM operations plus key schedule and AAD, so the
 * ratio shows what our wrapper costs on top of the raw cipher.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

int main(int argc, char **argv)
{
	char dir[] = "/tmp/coldseq-bench.XXXXXX", key[256], secret[64];
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	cs_vault *v = NULL;
	cs_err err = CS_ERR_INIT;
	long long n = 0;
	int64_t t0, t1;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(key, sizeof key, "%s/vault.key", dir);
	if (cs_vault_create_key(key, &err) != 0 ||
	    cs_vault_load(key, &v, &err) != 0) {
		fprintf(stderr, "bench: %s\n", err.msg);
		return 1;
	}
	memset(secret, 'p', sizeof secret);
	t0 = cs_mono_ms();
	do {
		int i;

		for (i = 0; i < 1000; i++) {
			cs_buf blob = CS_BUF_INIT;
			cs_secret *s = NULL;

			if (cs_vault_seal(v, "inboxes", "secret", "uuid",
			                  secret, sizeof secret, &blob,
			                  &err) != 0 ||
			    cs_vault_open(v, "inboxes", "secret", "uuid",
			                  blob.data, blob.len, &s, &err) != 0) {
				fprintf(stderr, "bench: %s\n", err.msg);
				return 1;
			}
			cs_secret_free(s);
			cs_buf_free(&blob);
		}
		n += 1000;
		t1 = cs_mono_ms();
	} while ((double)(t1 - t0) < seconds * 1000.0);
	printf("vault_seal_open_per_s %.0f\n",
	       (double)n * 1000.0 / (double)(t1 - t0));
	cs_vault_free(v);
	unlink(key);
	rmdir(dir);
	return 0;
}

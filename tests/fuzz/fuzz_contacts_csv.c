/*
 * fuzz_contacts_csv.c - libFuzzer target for the contacts CSV import path.
 *
 * The input is written to a file and imported with the real command
 * (`contacts import FILE --dry-run` into a private data directory made on
 * the first run): header mapping, UTF-8 checks, address normalisation
 * (libidn2), duplicate and suppression checks, staging and the rejects
 * file.  It must end with exit 0 or 1, never a crash, leak or hang.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static int run(char **argv, int argc)
{
	return cli_main(argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], *argv[10];
	FILE *f;
	int rc;

	if (dir[0] == '\0') {
		char tmpl[] = "/tmp/coldseq-fuzz-csv.XXXXXX";

		if (mkdtemp(tmpl) == NULL)
			abort();
		snprintf(dir, sizeof dir, "%s/d", tmpl);
		argv[0] = "coldseq";
		argv[1] = "init";
		argv[2] = "--data-dir";
		argv[3] = dir;
		argv[4] = "-q";
		if (run(argv, 5) != 0)
			abort();
		argv[1] = "contacts";
		argv[2] = "suppress";
		argv[3] = "@blocked.example";
		argv[4] = "--data-dir";
		argv[5] = dir;
		argv[6] = "-q";
		if (run(argv, 7) != 0)
			abort();
	}
	snprintf(path, sizeof path, "%s/in.csv", dir);
	f = fopen(path, "wb");
	if (f == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	argv[0] = "coldseq";
	argv[1] = "contacts";
	argv[2] = "import";
	argv[3] = path;
	argv[4] = "--dry-run";
	argv[5] = "--data-dir";
	argv[6] = dir;
	argv[7] = "-q";
	argv[8] = "--json";
	if (!freopen("/dev/null", "w", stdout))
		abort();
	rc = run(argv, 9);
	if (rc != 0 && rc != 1)
		abort();
	return 0;
}

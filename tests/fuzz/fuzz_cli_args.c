/*
 * fuzz_cli_args.c - libFuzzer target for the command-line parser.
 *
 * The input is split at NUL bytes into argv words (at most 32).  The
 * parser must accept or refuse every input without a crash, leak or
 * undefined behaviour, and a refusal must carry a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[34];
	int argc = 0;
	size_t i, start = 0;
	cli_args a;
	cs_err err = CS_ERR_INIT;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "coldseq";
	for (i = 0; i <= size && argc < 33; i++) {
		if (i == size || copy[i] == '\0') {
			copy[i] = '\0';
			argv[argc++] = copy + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	if (cli_parse(argc, argv, &a, &err) != 0 && err.msg[0] == '\0')
		abort();
	cli_args_free(&a);
	free(copy);
	return 0;
}

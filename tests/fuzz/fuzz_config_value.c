/*
 * fuzz_config_value.c - libFuzzer target for typed setting values and
 * ISO 8601 instants.
 *
 * The first byte picks a config key, the rest is the value.  A value that
 * is accepted must come back in canonical form that parses again to
 * itself (canonicalisation is idempotent).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const db_config_def *defs = db_config_defs(), *d;
	cs_buf canon = CS_BUF_INIT, again = CS_BUF_INIT;
	size_t nkeys = 0;
	char *value;
	int64_t t;

	if (size == 0)
		return 0;
	while (defs[nkeys].key)
		nkeys++;
	d = &defs[data[0] % nkeys];
	value = malloc(size);
	if (value == NULL)
		return 0;
	memcpy(value, data + 1, size - 1);
	value[size - 1] = '\0';
	if (db_config_parse(d, value, &canon, NULL) == 0) {
		if (db_config_parse(d, cs_buf_str(&canon), &again, NULL) != 0 ||
		    strcmp(cs_buf_str(&canon), cs_buf_str(&again)) != 0)
			abort();
	}
	(void)cs_time_parse_iso8601(value, &t, NULL);
	cs_buf_free(&canon);
	cs_buf_free(&again);
	free(value);
	return 0;
}

/*
 * names.c - an enum's names: the one way code turns a state or mode into
 * the word the database and JSON use, and back.  Each enum keeps its own
 * table (in enum order) next to the code that owns it; these two lookups
 * serve them all.
 */
#include "core.h"

#include <string.h>

const char *cs_enum_name(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : names[0];
}

bool cs_enum_parse(const char *const *names, int n, const char *s, int *v)
{
	int i;

	for (i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*v = i;
			return true;
		}
	return false;
}

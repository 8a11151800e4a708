/*
 * taglist.c - the "tag=value;" lists of DKIM (RFC 6376 3.2) and DMARC
 * (RFC 7489 6.4): one splitter for the signature, key and policy
 * parsers, which each decide what their tags mean.
 */
#include "core.h"

#include <ctype.h>
#include <string.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

int cs_tag_next(const char **p, const char *end, cs_tag *t)
{
	const char *s = *p, *name, *name_end, *val, *val_end, *semi;

	for (;;) {
		s = skip_ws(s, end);
		if (s < end && *s == ';') {
			s++;
			continue;
		}
		break;
	}
	if (s >= end) {
		*p = s;
		return 0;
	}
	*p = s;
	name = s;
	while (s < end && (isalnum((unsigned char)*s) || *s == '_'))
		s++;
	name_end = s;
	s = skip_ws(s, end);
	if (name_end == name || s >= end || *s != '=')
		return -1;
	semi = memchr(s, ';', (size_t)(end - s));
	val_end = semi ? semi : end;
	val = skip_ws(s + 1, val_end);
	while (val_end > val && is_ws(val_end[-1]))
		val_end--;
	t->name = name;
	t->name_len = (size_t)(name_end - name);
	t->value = val;
	t->value_len = (size_t)(val_end - val);
	*p = semi ? semi + 1 : end;
	return 1;
}

bool cs_tag_is(const cs_tag *t, const char *name)
{
	size_t n = strlen(name);

	return t->name_len == n && memcmp(t->name, name, n) == 0;
}

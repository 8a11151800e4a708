/*
 * table.c - text tables by display width.
 *
 * printf's "%-16s" pads by bytes: "Zoë" (4 bytes, 3 columns) and "東京"
 * (6 bytes, 4 columns) push the next column out of line.  Every table of
 * the CLI pads its cells here instead, by the width a terminal gives the
 * text: East Asian wide and fullwidth characters take 2 columns,
 * combining marks, other format characters and Hangul medial/final jamo
 * 0, everything else 1 (ICU character properties, so the result does not
 * depend on the process locale).  Bytes that are not valid UTF-8 count 1
 * each, as a terminal shows them as a replacement character.
 */
#include "cli_int.h"

#include <string.h>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

static int char_width(UChar32 c)
{
	int gc, ea, hst;

	if (c < 0)
		return 1; /* an invalid sequence: one replacement mark */
	if (c < 0x7f)
		return c >= 0x20;
	gc = u_charType(c);
	if (gc == U_NON_SPACING_MARK || gc == U_ENCLOSING_MARK ||
	    gc == U_FORMAT_CHAR || gc == U_CONTROL_CHAR)
		return 0;
	hst = u_getIntPropertyValue(c, UCHAR_HANGUL_SYLLABLE_TYPE);
	if (hst == U_HST_VOWEL_JAMO || hst == U_HST_TRAILING_JAMO)
		return 0;
	ea = u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH);
	return ea == U_EA_WIDE || ea == U_EA_FULLWIDTH ? 2 : 1;
}

size_t cli_text_width(const char *s)
{
	int32_t i = 0, n;
	size_t w = 0;

	if (s == NULL)
		return 0;
	n = (int32_t)strlen(s);
	while (i < n) {
		UChar32 c;

		U8_NEXT(s, i, n, c);
		w += (size_t)char_width(c);
	}
	return w;
}

void cli_cell(FILE *out, const char *s, int width)
{
	size_t w;

	if (s == NULL)
		s = "";
	fputs(s, out);
	for (w = cli_text_width(s); (long)w < width; w++)
		fputc(' ', out);
}

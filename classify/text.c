/*
 * text.c - the small text helpers every detector of the classifier shares:
 * the one header unfolder (cls_unfold, also behind msg_head.c's index of
 * the top header block) and iterating the fields of a header block with
 * it (each value capped at CLS_MAX_LINE), flattening text for phrase search
 * (lower case, white space squeezed) and searching it.
 */
#define _GNU_SOURCE /* memmem */
#include "cls_int.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- header blocks ------------------------------------------------------ */

void cls_hdr_begin(cls_hdr_iter *it, const char *blk, size_t len)
{
	it->p = blk;
	it->end = blk + len;
	it->done = false;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = cls_memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

size_t cls_unfold(const char *v, const char *eol, const char *end, cs_buf *out,
                  const char **next)
{
	const char *p = eol < end ? eol + 1 : eol;
	size_t at = out->len;

	for (;;) {
		const char *e = eol;
		size_t k;

		if (e > v && e[-1] == '\r')
			e--;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		k = (size_t)(e - v);
		/* room for a space, the line and the NUL, written directly (a
		 * call per byte or line costs more than the copy of a short
		 * header line) */
		if (out->cap < out->len + k + 2)
			cs_buf_reserve(out, k + 1 > 256 ? k + 1 : 256);
		if (out->len > at && v < e)
			out->data[out->len++] = ' ';
		if (out->len - at + k < CLS_MAX_LINE) {
			memcpy(out->data + out->len, v, k);
			out->len += k;
		}
		/* continuation lines */
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
		v = p;
		eol = line_end(p, end);
		p = eol < end ? eol + 1 : eol;
	}
	while (out->len > at && isspace((unsigned char)out->data[out->len - 1]))
		out->len--;
	out->data[out->len] = '\0';
	*next = p;
	return out->len - at;
}

bool cls_hdr_next(cls_hdr_iter *it, const char **name, size_t *nlen,
                  cs_buf *value)
{
	for (;;) {
		const char *p = it->p, *eol, *colon;

		if (it->done || p >= it->end)
			return false;
		eol = line_end(p, it->end);
		if (eol == p || (eol == p + 1 && *p == '\r')) {
			/* empty line: end of block */
			it->p = eol < it->end ? eol + 1 : eol;
			it->done = true;
			return false;
		}
		it->p = eol < it->end ? eol + 1 : eol;
		if (*p == ' ' || *p == '\t')
			continue; /* stray continuation */
		colon = cls_memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			continue; /* not a field (e.g. an mbox "From " line) */
		*name = p;
		*nlen = (size_t)(colon - p);
		while (*nlen > 0 &&
		       (p[*nlen - 1] == ' ' || p[*nlen - 1] == '\t'))
			(*nlen)--;
		value->len = 0;
		cls_unfold(colon + 1, eol, it->end, value, &it->p);
		return true;
	}
}

bool cls_hdr_get(const char *blk, size_t len, const char *name, cs_buf *value)
{
	const char *p = blk, *end = blk + len, *n;
	size_t nl, want = strlen(name);
	cls_hdr_iter it;
	/* the first letter in either case ends most comparisons */
	char c0 = (char)(name[0] | 0x20);

	/* skip to the first line that starts with the name: only that
	 * field's value is unfolded */
	while (p < end) {
		const char *eol = cls_memchr(p, '\n', (size_t)(end - p));

		if (*p == '\r' || *p == '\n')
			break; /* the empty line: end of the block */
		if ((size_t)(end - p) > want &&
		    (want == 0 || (char)(*p | 0x20) == c0) &&
		    strncasecmp(p, name, want) == 0) {
			cls_hdr_begin(&it, p, (size_t)(end - p));
			if (cls_hdr_next(&it, &n, &nl, value) && nl == want &&
			    strncasecmp(n, name, nl) == 0)
				return true;
		}
		if (eol == NULL)
			break;
		p = eol + 1;
	}
	cs_buf_clear(value);
	return false;
}

/* ---- text helpers -------------------------------------------------------- */

/* Each byte as cls_flatten writes it: ASCII upper case lowered, every
 * white space byte (and NUL) a space, the rest as it is. */
static const unsigned char flat_byte[256] = {
    32,  1,   2,   3,   4,   5,   6,   7,   8,   32,  32,  32,  32,  32,  14,
    15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,
    30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,  43,  44,
    45,  46,  47,  48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  59,
    60,  61,  62,  63,  64,  97,  98,  99,  100, 101, 102, 103, 104, 105, 106,
    107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121,
    122, 91,  92,  93,  94,  95,  96,  97,  98,  99,  100, 101, 102, 103, 104,
    105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134,
    135, 136, 137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149,
    150, 151, 152, 153, 154, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164,
    165, 166, 167, 168, 169, 170, 171, 172, 173, 174, 175, 176, 177, 178, 179,
    180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192, 193, 194,
    195, 196, 197, 198, 199, 200, 201, 202, 203, 204, 205, 206, 207, 208, 209,
    210, 211, 212, 213, 214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224,
    225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239,
    240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254,
    255,
};

#define ONES ((uint64_t)0x0101010101010101)

/* 0x80 in each byte of v that lies in 'A'..'Z' (bytes from 0x80 never
 * do); no carry or borrow crosses a byte. */
static inline uint64_t upper_mask(uint64_t v)
{
	uint64_t x = v & ONES * 0x7f;

	return (ONES * (127 + 'Z' + 1) - x) & ~v &
	       (x + ONES * (127 - ('A' - 1))) & ONES * 0x80;
}

void cls_flatten(const char *src, size_t n, cs_buf *out)
{
	const unsigned char *p = (const unsigned char *)src, *e = p + n, *q;
	unsigned char *w;
	/* no space at the start, nor two in a row: a space is written but
	 * not kept when the byte before was one too (branch-free) */
	unsigned space = out->len == 0 || out->data[out->len - 1] == ' ';

	cs_buf_reserve(out, n + 1);
	w = (unsigned char *)out->data + out->len;
#ifdef __SSE2__
	/* sixty-four bytes at a time where the target has SSE2: all mapped
	 * at once and stored, then the output kept up to the first space
	 * that follows a space (dropped), or the whole window.  Nearly every
	 * window of a text holds a line end (two spaces once mapped), so the
	 * branch is predicted; there is room, as the output never runs
	 * ahead of the input. */
	while (e - p >= 64) {
		uint64_t sm = 0, dm;
		size_t k;

		for (k = 0; k < 4; k++) {
			const __m128i sp = _mm_set1_epi8(' ');
			__m128i v = _mm_loadu_si128(
			    (const __m128i *)(const void *)(p + 16 * k));
			__m128i t9 = _mm_sub_epi8(v, _mm_set1_epi8(9));
			__m128i ta = _mm_sub_epi8(v, _mm_set1_epi8('A'));
			/* NUL, 9..13 (unsigned v - 9 <= 4) and ' ' */
			__m128i ws = _mm_or_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_setzero_si128()),
			                 _mm_cmpeq_epi8(v, sp)),
			    _mm_cmpeq_epi8(_mm_min_epu8(t9, _mm_set1_epi8(4)),
			                   t9));
			/* 'A'..'Z' (unsigned v - 'A' <= 25) */
			__m128i up = _mm_cmpeq_epi8(
			    _mm_min_epu8(ta, _mm_set1_epi8(25)), ta);
			__m128i o = _mm_or_si128(_mm_andnot_si128(ws, v),
			                         _mm_and_si128(ws, sp));

			o = _mm_add_epi8(
			    o, _mm_and_si128(up, _mm_set1_epi8(0x20)));
			_mm_storeu_si128((__m128i *)(void *)(w + 16 * k), o);
			sm |= (uint64_t)(unsigned)_mm_movemask_epi8(ws)
			      << (16 * k);
		}
		dm = sm & (sm << 1 | space);
		if (dm == 0) {
			w += 64;
			p += 64;
			space = (unsigned)(sm >> 63);
		} else {
			/* the run of spaces from the first drop on goes at
			 * once (it ends at the first non-space, or with the
			 * window) */
			size_t j = (size_t)__builtin_ctzll(dm);
			uint64_t rest = ~sm >> j;

			w += j;
			p +=
			    j + (rest ? (size_t)__builtin_ctzll(rest) : 64 - j);
			space = 1;
		}
	}
#endif
	while (p < e) {
		/* eight bytes with no control byte and no space next to a
		 * space are copied in one move, upper case lowered (0x20
		 * added to each 'A'..'Z': its mask's 0x80 shifted down) */
		if (e - p >= 8) {
			uint64_t v, t, sp;

			memcpy(&v, p, 8);
			t = v ^ ONES * ' ';
			sp = ~(((t & ONES * 0x7f) + ONES * 0x7f) | t |
			       ONES * 0x7f);
			if (((v - ONES * 0x20) & ~v & ONES * 0x80) == 0 &&
			    (sp & (sp << 8)) == 0 && !(space && (sp & 0x80))) {
				v |= upper_mask(v) >> 2;
				memcpy(w, &v, 8);
				w += 8;
				p += 8;
				space = (sp >> 63) & 1u;
				continue;
			}
		}
		/* else these eight (or the last few) one by one */
		for (q = e - p >= 8 ? p + 8 : e; p < q; p++) {
			unsigned ch = flat_byte[*p];
			unsigned is_sp = ch == ' ';

			*w = (unsigned char)ch;
			w += 1u - (is_sp & space);
			space = is_sp;
		}
	}
	out->len = (size_t)((char *)w - out->data);
	out->data[out->len] = '\0';
}

const char *cls_find_line(const char *hay, size_t n, const char *name)
{
	const char *p = hay, *end = hay + n;
	size_t k = strlen(name);

	while ((p = cls_memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((size_t)(end - p) > k && strncasecmp(p + 1, name, k) == 0)
			return p;
		p++;
	}
	return NULL;
}

const char *cls_find(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle));
}

int cls_find_any(const char *hay, size_t n, const char *const *list,
                 const char **at)
{
	int i;

	for (i = 0; list[i]; i++) {
		const char *p = cls_find(hay, n, list[i]);

		if (p) {
			if (at)
				*at = p;
			return i;
		}
	}
	return -1;
}

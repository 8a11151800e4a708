/*
 * msg_head.c - the classifier's copy of a message and its top header
 * block.
 *
 * cls_normalise() copies at most CLS_MAX_SCAN bytes of a raw message
 * into the buffer every other step reads: CRLF line ends whatever the
 * input used, NUL bytes turned into spaces, every line cut at
 * CLS_MAX_LINE bytes.  cls_index_headers() parses the top header block
 * of that copy once into a field index (cls_msg.fields and .vals), which
 * cls_msg_hdr() and cls_msg_hdr_nth() look names up in.  Nothing here
 * fails.  Both are on the path of every message and are written for
 * speed (64-byte windows where the target has SSE2, so that the branch
 * taken at each line end is predicted).
 */
#include "cls_int.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- normalising -------------------------------------------------------- */

#define ONES ((uint64_t)0x0101010101010101)

/* Copy raw into out in one pass: CR, LF and CRLF each end a line (written
 * CRLF, also after a last line without one), NUL becomes a space, and a
 * line longer than CLS_MAX_LINE is cut (the write pointer goes back to
 * the line's start plus the cap when its end is seen, so the bytes past
 * the cap are written and then dropped).  Bytes are moved in windows of
 * sixty-four and blocks of sixteen (SSE2) or words of eight, each kept up
 * to its first byte below 0x0e (CR, LF, NUL, tab, ...), which is then
 * dealt with on its own (in a word, the first flagged byte is exact: a
 * borrow only flags bytes above it). */
void cls_normalise(const char *raw, size_t len, cs_buf *out)
{
	const unsigned char *p = (const unsigned char *)raw, *end;
	char *w, *wl;

	if (len > CLS_MAX_SCAN)
		len = CLS_MAX_SCAN;
	end = p + len;
	/* at most two bytes out per byte in, and one line end more; the
	 * eight-byte stores need no more (see below) */
	cs_buf_reserve(out, 2 * len + 4);
	/* an mbox "From " separator line is not a header */
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		while (p < end && *p != '\n' && *p != '\r')
			p++;
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
	}
	w = wl = out->data + out->len;
	while (p < end) {
		unsigned char ch;

#ifdef __SSE2__
		/* sixty-four at a time where the target has SSE2 (every
		 * x86-64), stored at once and kept up to the first byte
		 * <= 0x0d (those min(v, 0x0d) leaves alone): most windows hold
		 * a line end, so the test is a well-predicted branch, not
		 * one mispredicted at every line as with smaller blocks */
		if (end - p >= 64) {
			const __m128i lim = _mm_set1_epi8(0x0d);
			__m128i v0 =
			    _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i v1 = _mm_loadu_si128(
			    (const __m128i *)(const void *)(p + 16));
			__m128i v2 = _mm_loadu_si128(
			    (const __m128i *)(const void *)(p + 32));
			__m128i v3 = _mm_loadu_si128(
			    (const __m128i *)(const void *)(p + 48));
			uint64_t m =
			    (uint64_t)(unsigned)_mm_movemask_epi8(
			        _mm_cmpeq_epi8(_mm_min_epu8(v0, lim), v0)) |
			    (uint64_t)(unsigned)_mm_movemask_epi8(
			        _mm_cmpeq_epi8(_mm_min_epu8(v1, lim), v1))
			        << 16 |
			    (uint64_t)(unsigned)_mm_movemask_epi8(
			        _mm_cmpeq_epi8(_mm_min_epu8(v2, lim), v2))
			        << 32 |
			    (uint64_t)(unsigned)_mm_movemask_epi8(
			        _mm_cmpeq_epi8(_mm_min_epu8(v3, lim), v3))
			        << 48;

			/* out has room for 2 * (end - p) + 4 bytes more */
			_mm_storeu_si128((__m128i *)(void *)w, v0);
			_mm_storeu_si128((__m128i *)(void *)(w + 16), v1);
			_mm_storeu_si128((__m128i *)(void *)(w + 32), v2);
			_mm_storeu_si128((__m128i *)(void *)(w + 48), v3);
			if (m == 0) {
				w += 64;
				p += 64;
				continue;
			}
			m = (uint64_t)__builtin_ctzll(m);
			w += m;
			p += m;
		} else if (end - p >= 16) {
			__m128i v =
			    _mm_loadu_si128((const __m128i *)(const void *)p);
			__m128i lo = _mm_cmpeq_epi8(
			    _mm_min_epu8(v, _mm_set1_epi8(0x0d)), v);
			unsigned t = (unsigned)_mm_movemask_epi8(lo);

			/* out has room for 2 * (end - p) + 4 bytes more */
			_mm_storeu_si128((__m128i *)(void *)w, v);
			if (t == 0) {
				w += 16;
				p += 16;
				continue;
			}
			t = (unsigned)__builtin_ctz(t);
			w += t;
			p += t;
		} else
#endif
		    if (end - p >= 8) {
			uint64_t v, t;

			memcpy(&v, p, 8);
			t = (v - ONES * 0x0e) & ~v & ONES * 0x80;
			/* out has room for 2 * (end - p) + 4 bytes more:
			 * eight are safe */
			memcpy(w, &v, 8);
			if (t == 0) {
				w += 8;
				p += 8;
				continue;
			}
			t = (uint64_t)__builtin_ctzll(t) >> 3;
			w += t;
			p += t;
		}
		ch = *p++;
		if (ch == '\n' || ch == '\r') {
			if (ch == '\r' && p < end && *p == '\n')
				p++;
			if ((size_t)(w - wl) > CLS_MAX_LINE)
				w = wl + CLS_MAX_LINE;
			w[0] = '\r';
			w[1] = '\n';
			w += 2;
			wl = w;
		} else {
			*w++ = ch ? (char)ch : ' ';
		}
	}
	if (w > wl) { /* a last line without a line end */
		if ((size_t)(w - wl) > CLS_MAX_LINE)
			w = wl + CLS_MAX_LINE;
		w[0] = '\r';
		w[1] = '\n';
		w += 2;
	}
	out->len = (size_t)(w - out->data);
	if (out->len == 0)
		cs_buf_append(out, "\r\n", 2);
	out->data[out->len] = '\0';
}

/* ---- the top header block, parsed once ---------------------------------- */

/* A field name's hash, case folded: names equal to strncasecmp() hash
 * alike (| 0x20 folds every letter, and a few other bytes too, which only
 * makes a comparison go on to strncasecmp). */
static inline uint32_t name_hash(const char *n, size_t len)
{
	uint32_t a, b, h = (uint32_t)len;
	size_t i;

	if (len >= 4) { /* its first and last four bytes: no loop */
		memcpy(&a, n, 4);
		memcpy(&b, n + len - 4, 4);
		a |= 0x20202020u;
		b |= 0x20202020u;
		return (a * 2654435761u) ^ (b * 2246822519u) ^ h;
	}
	for (i = 0; i < len; i++)
		h = h * 31u + ((unsigned char)n[i] | 0x20);
	return h;
}

/* Index the fields of the top header block, up to its empty line, with
 * cls_hdr_next()'s rules (stray continuation lines and lines without a
 * name are skipped, a value is unfolded by cls_unfold), each value
 * written straight into m->vals.  Returns the block's length (where its
 * empty line starts, or the whole of norm). */
size_t cls_index_headers(cls_msg *m)
{
	const char *s = m->norm.data, *p = s, *end = s + m->norm.len;
	size_t cap = CLS_FIELDS_INLINE;

	m->fields = m->field0;

	cs_buf_reserve(&m->vals, (m->norm.len < 65536 ? m->norm.len : 65536));
	while (p < end) {
		const char *eol = cls_memchr(p, '\n', (size_t)(end - p));
		const char *colon;
		size_t nlen;
		cls_field *f;

		eol = eol ? eol : end;
		if (eol == p || (eol == p + 1 && *p == '\r'))
			break; /* the empty line */
		colon = *p == ' ' || *p == '\t'
		            ? NULL /* stray continuation */
		            : cls_memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p) {
			p = eol < end ? eol + 1 : eol;
			continue;
		}
		nlen = (size_t)(colon - p);
		while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
			nlen--;
		if (m->nfields == cap) {
			cls_field *was = m->fields;

			cap = 2 * cap;
			m->fields = cs_xrealloc(was == m->field0 ? NULL : was,
			                        cap * sizeof *f);
			if (was == m->field0)
				memcpy(m->fields, was, m->nfields * sizeof *f);
		}
		f = &m->fields[m->nfields++];
		f->name = p;
		f->nlen = nlen;
		f->hash = name_hash(p, nlen);
		m->names |= (uint64_t)1 << (f->hash % 64);
		f->off = m->vals.len;
		f->vlen = cls_unfold(colon + 1, eol, end, &m->vals, &p);
		m->vals.len++; /* keep the value's NUL */
	}
	return (size_t)(p - s);
}

const char *cls_msg_hdr_nth(const cls_msg *m, const char *name, size_t k,
                            size_t *len)
{
	size_t i, want = strlen(name);
	uint32_t h = name_hash(name, want);

	/* most names asked for are not there at all */
	for (i = (m->names >> (h % 64) & 1) ? 0 : m->nfields; i < m->nfields;
	     i++) {
		const cls_field *f = &m->fields[i];

		if (f->hash == h && f->nlen == want &&
		    strncasecmp(f->name, name, want) == 0 && k-- == 0) {
			if (len)
				*len = f->vlen;
			return m->vals.data + f->off;
		}
	}
	if (len)
		*len = 0;
	return NULL;
}

const char *cls_msg_hdr(const cls_msg *m, const char *name, size_t *len)
{
	return cls_msg_hdr_nth(m, name, 0, len);
}

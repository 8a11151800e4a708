/*
 * cls_int.h - declarations shared by the files of classify/ only.
 *
 * The classifier works in two steps: mime_walk.c turns the raw bytes into
 * an cls_msg (normalised copy, MIME structure, and the pieces the
 * detectors read: top header block, human-readable text, the
 * delivery-status and feedback-report parts, the returned headers;
 * report_text.c finds where a report's prose ends), then classify.c asks
 * the detectors (dsn.c, ses.c, ndr.c, autoreply.c, unsub.c) in order of
 * precedence.  reason.c is the one place that decides a bounce's reason
 * and hard vs soft (its evidence-order table), from the words
 * (reason_words.c phrases, families.c word families) and from what
 * evidence.c reads (status codes, reply codes, the SMTP phase).
 * ndr_words.c holds the words a report without a DSN is known by.
 */
#ifndef COLDSEQ_CLS_INT_H
#define COLDSEQ_CLS_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cls.h"

/* Bytes of readable text the wording detectors look at: a report's
 * explanation, an out-of-office notice and a person's answer all come
 * first; reading further only costs time. */
#define CLS_WORDS_SCAN 16384u
/* Bytes of report text used as context for a recipient's reason. */
#define CLS_REASON_CTX 4096u

/* report-type of a multipart/report, or what its parts showed */
enum {
	CLS_REPORT_NONE = 0,
	CLS_REPORT_DSN,   /* delivery-status */
	CLS_REPORT_ARF,   /* feedback-report */
	CLS_REPORT_MDN,   /* disposition-notification (read receipt) */
	CLS_REPORT_OTHER, /* some other report-type */
};

/* One field of the top header block: name points into norm, the value
 * (unfolded, trimmed, capped at CLS_MAX_LINE) is at vals.data + off;
 * hash is the name's, case folded (cls_msg_hdr_nth compares it first). */
typedef struct cls_field {
	const char *name;
	size_t nlen, off, vlen;
	uint32_t hash;
} cls_field;

/* Fields of the top header block indexed without an allocation (a
 * message with more moves them to the heap). */
#define CLS_FIELDS_INLINE 40

/* A message taken apart.  Every cs_buf below is NUL-terminated; dsn, arf
 * and orig may have no memory when empty (read them with cs_buf_str). */
typedef struct cls_msg {
	cs_buf norm; /* the scanned bytes: CRLF lines, no NUL, lines capped */
	size_t hdr_len;    /* norm's first bytes are the top header block */
	cls_field *fields; /* that block parsed once, in order: field0 or
	                       the heap */
	size_t nfields;
	cls_field field0[CLS_FIELDS_INLINE];
	uint64_t names; /* bit (hash % 64) set for each field's name */
	cs_buf vals;    /* the fields' values, each NUL-terminated */
	int report;     /* CLS_REPORT_* */
	bool mime_ok;   /* libetpan parsed a MIME tree */
	bool multipart; /* the top level is multipart */
	cs_buf dsn;     /* message/delivery-status contents, decoded */
	cs_buf arf;     /* message/feedback-report contents, decoded */
	cs_buf mdn;     /* message/disposition-notification contents, decoded */
	cs_buf text;    /* readable text outside returned messages */
	cs_buf orig;    /* header block of the returned original message */
	size_t orig_text_at; /* non-MIME: where the returned copy starts in
	                        text (== text.len when none was found) */
	cs_buf flat;         /* text[0..min(orig_text_at, CLS_WORDS_SCAN))
	                        flattened (cls_flatten) */
	size_t ctx_len;      /* flat's bytes from text's first CLS_REASON_CTX */
} cls_msg;

/* memchr for the short spans of a line or a header field, inline: a
 * library call costs more than the search itself on a sixty-byte line.
 * With SSE2, a window of sixty-four bytes is tested at once while the
 * span has that many (a line end is nearly always in the first one, so
 * the branch is predicted), then sixteen; the rest eight at a time. */
static inline const char *cls_memchr(const char *p, char c, size_t n)
{
	const uint64_t ones = 0x0101010101010101u;
	const uint64_t pat = ones * (unsigned char)c;
#ifdef __SSE2__
	const __m128i vc = _mm_set1_epi8(c);

	for (; n >= 64; n -= 64, p += 64) {
		uint64_t m =
		    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		        _mm_loadu_si128((const __m128i *)(const void *)p),
		        vc)) |
		    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		        _mm_loadu_si128(
		            (const __m128i *)(const void *)(p + 16)),
		        vc))
		        << 16 |
		    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		        _mm_loadu_si128(
		            (const __m128i *)(const void *)(p + 32)),
		        vc))
		        << 32 |
		    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		        _mm_loadu_si128(
		            (const __m128i *)(const void *)(p + 48)),
		        vc))
		        << 48;

		if (m)
			return p + __builtin_ctzll(m);
	}
	for (; n >= 16; n -= 16, p += 16) {
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(const void *)p), vc));

		if (m)
			return p + __builtin_ctz(m);
	}
#endif

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v, t;

		memcpy(&v, p, 8);
		v ^= pat;
		/* the lowest flagged byte is exact (a borrow only flags
		 * bytes above a real match) */
		t = (v - ones) & ~v & (ones << 7);
		if (t)
			return p + (__builtin_ctzll(t) >> 3);
	}
	for (; n; n--, p++)
		if (*p == c)
			return p;
	return NULL;
}

/* decode.c --------------------------------------------------------------- */

/* Content-Transfer-Encoding of a part. */
enum { CLS_CTE_8BIT = 0, CLS_CTE_BASE64, CLS_CTE_QP };

/* A part's body src[0..n) in encoding enc and charset cs (NULL: as it is)
 * appended to out as UTF-8, out kept to CLS_MAX_TEXT bytes, NULs made
 * spaces, ending with a line end. */
void cls_decode_part(const char *src, size_t n, int enc, const char *cs,
                     cs_buf *out);
/* Remove an HTML text's tags and decode its commonest entities, in place
 * (b holds no NUL before its end). */
void cls_strip_html(cs_buf *b);
/* Decode the RFC 2047 encoded-words of a header value into UTF-8 (the
 * white space between two of them dropped), appending to out. */
void cls_decode_words(const char *v, cs_buf *out);

/* msg_head.c ------------------------------------------------------------- */

/* raw[0..len) (at most CLS_MAX_SCAN bytes of it) into out, which is
 * empty: CRLF lines, NUL bytes as spaces, lines cut at CLS_MAX_LINE,
 * an mbox "From " line dropped; at least one line end. */
void cls_normalise(const char *raw, size_t len, cs_buf *out);
/* Index the top header block of m->norm into m->fields and m->vals;
 * returns the block's length (where its empty line starts). */
size_t cls_index_headers(cls_msg *m);

/* mime_walk.c ------------------------------------------------------------ */

/* Take raw apart into *m (zero it first); never fails. */
void cls_msg_parse(const char *raw, size_t len, cls_msg *m);
void cls_msg_free(cls_msg *m);

/* Iterate the fields of a header block (CRLF or LF lines, folded
 * continuation lines joined with one space).  Stops at the first empty
 * line or the end.  Each value is trimmed and capped at CLS_MAX_LINE. */
typedef struct cls_hdr_iter {
	const char *p, *end; /* after the end: p is past the empty line */
	bool done;
} cls_hdr_iter;

void cls_hdr_begin(cls_hdr_iter *it, const char *blk, size_t len);
/* The one header unfolder.  The value of a field whose colon is just
 * before v, on a line that ends at eol (its LF, or end), in a block that
 * ends at end: appended to out as one line (each line break with the
 * white space around it becomes one space, the value is trimmed and cut
 * at CLS_MAX_LINE bytes) and NUL-terminated, the NUL not counted in
 * out->len.  *next gets the start of the line after the field's last
 * continuation line.  Returns the value's length. */
size_t cls_unfold(const char *v, const char *eol, const char *end, cs_buf *out,
                  const char **next);
/* Next field: name and nlen point into the block; value is replaced.
 * Returns false at the end of the block. */
bool cls_hdr_next(cls_hdr_iter *it, const char **name, size_t *nlen,
                  cs_buf *value);
/* First field called name (case-insensitive) in the block, into value.
 * Returns false (value empty) when there is none. */
bool cls_hdr_get(const char *blk, size_t len, const char *name, cs_buf *value);

/* Value of the first top-level header field called name (case-insensitive)
 * or NULL; *len (may be NULL) gets its length.  The k-th (from 0) such
 * field with cls_msg_hdr_nth. */
const char *cls_msg_hdr(const cls_msg *m, const char *name, size_t *len);
const char *cls_msg_hdr_nth(const cls_msg *m, const char *name, size_t k,
                            size_t *len);

/* Lower-case ASCII and squeeze every run of white space into one space,
 * appending src[0..n) to out.  Non-ASCII bytes pass unchanged. */
void cls_flatten(const char *src, size_t n, cs_buf *out);
/* The first line of hay[0..n) after its first that starts with name
 * (case-insensitive ASCII), at the LF before it, or NULL: as
 * strcasestr(hay, "\n" name) in a text without NUL, without its
 * byte-by-byte case folding. */
const char *cls_find_line(const char *hay, size_t n, const char *name);
/* Case-sensitive search of needle in hay[0..n) (memmem). */
const char *cls_find(const char *hay, size_t n, const char *needle);
/* Index of the first needle of list (NULL-terminated) found in hay, or -1;
 * *at (may be NULL) gets where. */
int cls_find_any(const char *hay, size_t n, const char *const *list,
                 const char **at);

/* report_text.c ---------------------------------------------------------- */

/* Where the copy of the returned message starts in a non-MIME report's
 * text (text->len when there is none). */
size_t cls_orig_copy_at(const cs_buf *text);
/* RFC 3464 recipient fields pasted into m->text[0..orig_text_at): copied
 * into m->dsn, and orig_text_at moved to where they start. */
void cls_inline_dsn(cls_msg *m);

/* match.c ---------------------------------------------------------------- */

/* A phrase list compiled on first use for one-pass search: words (rank =
 * index; with any, 0) or groups (rank = group index; ends with
 * words == NULL).  Every
 * phrase is lower case, as cls_flatten leaves the text. */
typedef struct cls_phr_group {
	const char *name;
	const char *const *words;
} cls_phr_group;

struct cls_phr_tab;
typedef struct cls_phr {
	const char *const *words;
	const cls_phr_group *groups;
	bool any;         /* every phrase ranks 0: the earliest found wins */
	const char *name; /* the list's C name: phrase ids (cls_phr_id) */
	_Atomic(struct cls_phr_tab *) tab;
} cls_phr;

#define CLS_PHR(list)                                                          \
	{                                                                      \
		(list), NULL, false, #list, NULL                               \
	}
#define CLS_PHR_ANY(list)                                                      \
	{                                                                      \
		(list), NULL, true, #list, NULL                                \
	}
#define CLS_PHR_GROUPS(g)                                                      \
	{                                                                      \
		NULL, (g), false, #g, NULL                                     \
	}

/* Lowest rank of a phrase of p found in hay[0..n), or -1; *at (may be
 * NULL) gets the first place of that phrase. */
int cls_phr_find(cls_phr *p, const char *hay, size_t n, const char **at);
/* Every rank at once, in one pass: first[r] gets where the first phrase
 * of rank r starts in hay[0..n), or NULL; ranks from nfirst on are not
 * looked for.  Returns how many ranks were found. */
size_t cls_phr_scan(cls_phr *p, const char *hay, size_t n, const char **first,
                    size_t nfirst);

#ifdef CLS_KFOLD
/* Test-only build (tests/bench/kfold_classify.c, make's build/kfold/):
 * every phrase has an id, "LIST:phrase" or "LIST.GROUP:phrase" (LIST the
 * C name of its cls_phr list).  The ids listed one a line in the file
 * named by the environment variable CLS_KFOLD_DISABLE are left out of the
 * tables (read once, when a table is first built).  With CLS_KFOLD_STATS
 * set, every search also notes which enabled phrases of its list occur in
 * the text searched; cls_kfold_hits() hands the ids noted since its last
 * call (each once) to fn, and cls_kfold_all() every id of every list
 * built so far.  Never compiled into coldseq itself. */
void cls_kfold_hits(void (*fn)(const char *id, void *arg), void *arg);
void cls_kfold_all(void (*fn)(const char *id, void *arg), void *arg);
#endif

/* dsn.c ------------------------------------------------------------------ */

/* Parse RFC 3464 per-recipient fields in m->dsn into c->rcpts.  Sets
 * c->kind to CLS_BOUNCE (some recipient failed) or CLS_DELAY (some
 * delayed, none failed); leaves it alone when no recipient failed or was
 * delayed.  *nsuccess gets the number of delivered/relayed/expanded
 * recipients.  Returns the number of recipients added. */
size_t cls_dsn_parse(const cls_msg *m, cls_class *c, size_t *nsuccess);
/* Strip "rfc822;" / angle brackets / quotes from an address field value
 * into out; returns false when no plausible address is left. */
bool cls_addr_clean(const char *v, size_t n, cs_buf *out);
/* Add a recipient (copies addr and diag); ignores duplicates (same address,
 * case-insensitive) and anything past CLS_MAX_RCPTS.  Returns it or NULL. */
cls_rcpt *cls_rcpt_add(cls_class *c, const char *addr, const char *diag);

/* ndr.c ------------------------------------------------------------------ */

/* Non-standard delivery reports: decide from headers and text whether m is
 * a bounce or delay notice and find the failed recipients.  Returns true
 * (c->kind and c->rcpts set) when it is one. */
bool cls_ndr_detect(const cls_msg *m, cls_class *c);
/* The lines of a report's text t[0..n) about addr: from the line of its
 * first mention (case-insensitive) to the next empty line or the next line
 * that names another recipient of c, at most 600 bytes, into out.  Returns
 * false (out empty) when t does not mention addr. */
bool cls_text_about(const char *t, size_t n, const char *addr,
                    const cls_class *c, cs_buf *out);
/* Does the top header block look like it came from a mail system (null
 * sender, MAILER-DAEMON, postmaster, Mail Delivery ...)? */
bool cls_ndr_from_daemon(const cls_msg *m);
/* A challenge/response system's request to prove the sender is a person
 * (never a bounce or a delay: the sequencer treats it as an auto-reply). */
bool cls_ndr_challenge(const cls_msg *m);

/* ndr_words.c ------------------------------------------------------------ */

/* Who sends a report (From), its subject's groups (fail, delay, virus),
 * its text's groups (fail, delay, permanent), challenge wording, a virus
 * gateway's words. */
extern cls_phr cls_ndr_daemon_phr, cls_ndr_subject_phr, cls_ndr_body_phr,
    cls_ndr_challenge_phr, cls_ndr_virus_phr;

/* ses.c ------------------------------------------------------------------ */

/* An Amazon SES bounce, complaint or delivery notification (JSON, also in
 * its SNS envelope) as the text of m: fills c->kind (CLS_BOUNCE,
 * CLS_COMPLAINT, CLS_OTHER for a delivery), c->rcpts and
 * c->orig_message_id, and returns true; false when m is none. */
bool cls_ses_detect(const cls_msg *m, cls_class *c);

/* evidence.c ------------------------------------------------------------- */

/* Find an RFC 3463 status ("5.1.1") in s[0..n) into out (size 8). */
bool cls_status_find(const char *s, size_t n, char out[8]);
/* The status of the server's own reply in s[0..n): the one right after an
 * SMTP reply code ("550 5.1.1", "550-'5.7.1"), else the first one. */
bool cls_reply_status(const char *s, size_t n, char out[8]);
/* The class ('4', '5') of the first SMTP reply code in s[0..n), or 0. */
char cls_reply_class(const char *s, size_t n);
/* Statuses ("" for none): a bad destination address (X.1.x but the
 * sender's, X.1.4, X.1.5, X.1.9); nothing beyond the class ("", X.0.0);
 * subject and detail both non-zero ("5.7.1"). */
bool cls_status_address(const char *st);
bool cls_status_vague(const char *st);
bool cls_status_specific(const char *st);

/* The SMTP command a refusal answered (RFC 5321 3.3). */
enum {
	CLS_PHASE_NONE = 0,
	CLS_PHASE_MAIL,      /* MAIL FROM: the sender was refused */
	CLS_PHASE_RCPT,      /* RCPT TO: the recipient was */
	CLS_PHASE_DATA,      /* DATA or end of data: the message was */
	CLS_PHASE_CONN,      /* greeting, HELO/EHLO, STARTTLS: the sending host
	                        was, before any recipient was named */
	CLS_PHASE_RCPT_SAID, /* a recipient was, says the reporting MTA's
	                        summary, without a transcript naming RCPT */
};
/* The (flattened) wording that names each: an answer to MAIL FROM, to
 * RCPT TO, to DATA, and a DATA refused for want of any accepted
 * recipient.  Searched for with the reason words, in one pass. */
extern const char *const cls_ph_mail[],
    *const cls_ph_rcpt[], *const cls_ph_data[],
                              *const cls_ph_no_rcpt[],
                                  *const cls_ph_conn[],
                                      *const cls_ph_rcpt_said[];
/* The phase, from where each of those was first found (NULL: not). */
int cls_phase_of(const char *no_rcpt, const char *rcpt, const char *said,
                 const char *mail, const char *data, const char *conn);

/* reason_words.c --------------------------------------------------------- */

/* The reason groups (CLS_N_REASON, the first is the definite "no such
 * user" of a directory, the lowest group found wins), then the four phase
 * lists from CLS_G_PHASE (no-rcpt, rcpt, mail, data, conn, rcpt-said); each
 * group's name is the reason it names. */
enum {
	CLS_N_REASON = 25,
	CLS_G_PHASE = CLS_N_REASON,
	CLS_N_GROUPS = CLS_G_PHASE + 6,
};
extern const cls_phr_group cls_reason_patterns[CLS_N_GROUPS + 1];
/* The groups of cls_reason_patterns a word family names (their order
 * there: checked by tests/unit/test_classify.c). */
enum {
	CLS_G_DEFINITE = 0, /* the "no such user" of a directory */
	CLS_G_NET_TEMP = 1, /* a name lookup to be tried again */
	CLS_G_MAILBOXFULL = 2,
	CLS_G_SUSPEND = 5,
	CLS_G_HOSTUNKNOWN = 10,
	CLS_G_USERUNKNOWN = 11,
};

/* families.c ------------------------------------------------------------- */

/* The lowest reason group a word family (families.c: a noun beside a
 * word that says what is wrong with it) names in the flattened t[0..n),
 * or -1. */
int cls_family_group(const char *t, size_t n);

/* reason.c --------------------------------------------------------------- */

/* What a report's own text (flattened) tells about every recipient of it,
 * worked out at most once per message and only when a recipient's own
 * words do not decide. */
typedef struct cls_rctx {
	const char *text; /* may be NULL */
	size_t len;
	int known; /* bits: 1 reason, 2 phase, 4 status, 8 mda worked out */
	int group; /* the reason its words name (a group of reason.c's
	              table), or -1 */
	int phase; /* the SMTP command it says was refused */
	char status[8]; /* the first RFC 3463 status it gives, or "" */
	int mda;        /* the reason group a local delivery agent's error
	                   line in it names, or -1 */
	bool single;    /* it is about one recipient only: its status is that
	                   recipient's */
} cls_rctx;

void cls_rctx_init(cls_rctx *x, const char *flat, size_t n);

/* Do the (flattened) words of t[0..n) name a reason a delivery fails for
 * (an unknown user or host, a full or disabled mailbox, a virus, ...)? */
bool cls_reason_failure(const char *t, size_t n);

/* What a report says about one recipient besides the server's words. */
typedef struct cls_rwhy {
	bool delayed; /* Action: delayed, or a warning that it is retried */
	bool remote;  /* r->diag is a remote server's reply as a DSN carries
	                 it (Diagnostic-Code of type smtp) */
	/* a reason the report names in a field of its own (a bounce
	 * category), or NULL */
	const char *reason;
	/* the report text's lines about the recipient when r->diag is
	 * something else (a DSN's Diagnostic-Code), or NULL: read for the
	 * SMTP phase the diagnostic does not name */
	const char *about;
} cls_rwhy;

/* Decide r->reason and r->hard from r->status, r->diag, why and the
 * report's context (may be NULL).  r->status is the report's Status for
 * the recipient ("" when none); the status of the server's own reply in
 * r->diag replaces it when that one is more specific, and it is filled
 * from the text when it was empty. */
void cls_reason_decide(cls_rcpt *r, cls_rctx *ctx, const cls_rwhy *why);

/* autoreply.c ------------------------------------------------------------ */

/* RFC 3834 headers and out-of-office wording; fills c->return_date. */
bool cls_autoreply_detect(const cls_msg *m, cls_class *c, const char *fresh,
                          size_t freshlen);
/* Parse a return date after a "back on"-like phrase in the flattened text;
 * year_hint/month_hint/day_hint give the message date (0 when unknown) for
 * dates given without a year.  out gets "YYYY-MM-DD". */
bool cls_return_date(const char *flat, size_t n, int year_hint, int month_hint,
                     int day_hint, char out[11]);

/* unsub.c ---------------------------------------------------------------- */

/* The List-Unsubscribe subject "unsubscribe TOKEN", or removal wording in
 * the fresh (unquoted) text.  Sets c->token when the subject carries one. */
bool cls_unsub_detect(const cls_class *c, const char *fresh, size_t freshlen,
                      char **token);

/* The part of a reply's flattened text above the quoted message. */
size_t cls_fresh_len(const char *flat, size_t n);

#endif

/*
 * contacts_check.c - what contacts import checks in each field's bytes:
 * UTF-8 and line breaks in one pass (cli_scan_text), and every field
 * against the message builder's own rules (cli_contact_row_check), so
 * that import and sending can never disagree.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "smtp/smtp.h"

const char *const cli_contact_fields[CLI_F_NBUILTIN] = {
    "email", "first_name", "last_name", "company",
    "title", "website",    "timezone"};

/* One pass over s: false (and *bad, the offset of the first bad byte)
 * unless valid UTF-8; *len gets its length, *brk whether it holds CR or
 * LF.  Plain ASCII is scanned here, eight bytes at a time; from the first
 * non-ASCII byte on, cs_utf8_valid (the one UTF-8 checker) decides. */
#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Whether some byte of w is c. */
static bool has_byte(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (ONES * c);

	return ((x - ONES) & ~x & HIGHS) != 0;
}

bool cli_scan_text(const char *s, size_t *len, bool *brk, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, end = strlen(s);

	*brk = false;
	for (; i + 8 <= end; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w & HIGHS)
			break;
		if (has_byte(w, '\r') || has_byte(w, '\n'))
			*brk = true;
	}
	for (; i < end && p[i] < 0x80; i++)
		if (p[i] == '\r' || p[i] == '\n')
			*brk = true;
	if (i < end) {
		if (!cs_utf8_valid(s + i, end - i, bad)) {
			*bad += i;
			return false;
		}
		if (memchr(s + i, '\r', end - i) ||
		    memchr(s + i, '\n', end - i))
			*brk = true;
	}
	*len = end;
	return true;
}

/* ---- row_check: refuse what the sender would refuse ------------------
 *
 * Every field the row would store, checked with the message builder's own
 * functions (smtp/smtp.h), so import and sending cannot disagree: the
 * normalised address as it goes into RCPT TO and To (smtp_check_address),
 * every built-in field as header text (the builder writes first_name and
 * last_name into To, and these are the fields subjects are made of:
 * smtp_check_header_text with SMTP_HEADER_MAX), and first_name with
 * last_name as the To display name (smtp_check_display_name).
 *
 * Custom fields are the exception, on purpose: CRM exports carry
 * multi-line notes that templates use in the body, and importing them is
 * established behaviour (tests/contacts/test_contacts.py), so a custom
 * field may hold CR, LF and TAB and any length the reader takes
 * (smtp_check_body_text); other control characters are refused (they
 * belong in no header and no body).
 * A multi-line or over-long custom field that a Subject does use is held
 * at send time with the builder's reason (README: "not sendable").
 *
 * 0, or non-zero with "FILE:LINE: column N: reason" in reason.  One pass
 * over each field's bytes, no allocation. */
int cli_contact_row_check(const char *path, const cs_csv_row *r,
                          const int *field, char *const *names,
                          const char *email, const char *first,
                          const char *last, char *reason, size_t cap)
{
	cs_err e;
	size_t i, col_first = 0, col_last = 0, col_email = 0;

	e.code = 0;
	e.msg[0] = '\0';
	for (i = 0; i < r->n; i++) {
		int f = field[i];

		if (f == CLI_F_EMAIL)
			col_email = i + 1;
		if (f == CLI_F_FIRST)
			col_first = i + 1;
		if (f == CLI_F_LAST)
			col_last = i + 1;
		if (f == -2 || f == CLI_F_EMAIL)
			continue;
		if (f == -1) {
			if (smtp_check_body_text(names[i], r->fields[i], &e) !=
			    0) {
				snprintf(reason, cap, "%s:%zu: column %zu: %s",
				         path, r->line, i + 1, e.msg);
				return -1;
			}
			continue;
		}
		if (smtp_check_header_text(cli_contact_fields[f], r->fields[i],
		                           SMTP_HEADER_MAX, &e) != 0) {
			snprintf(reason, cap, "%s:%zu: column %zu: %s", path,
			         r->line, i + 1, e.msg);
			return -1;
		}
	}
	if (smtp_check_address("email", email, &e) != 0) {
		snprintf(reason, cap, "%s:%zu: column %zu: %s", path, r->line,
		         col_email, e.msg);
		return -1;
	}
	if (smtp_check_display_name("the To name (first_name last_name)", first,
	                            last, &e) != 0) {
		snprintf(reason, cap, "%s:%zu: columns %zu and %zu: %s", path,
		         r->line, col_first, col_last, e.msg);
		return -1;
	}
	return 0;
}

/*
 * addr.c - the one email address validator: cs_email_check takes an
 * address as given (a mailbox's own address), cs_email_normalize and
 * cs_domain_normalize make the form coldseq stores for contacts and
 * suppressions (trimmed, the domain lower-cased and, when
 * internationalised, in its ASCII "xn--" form through libidn2) and check
 * that with the same rules.
 *
 * The rules (RFC 5321/5322 as a sender needs them, no SMTPUTF8): a
 * dot-atom local part of ASCII, at most 64 octets; a host name with a dot,
 * at most 253 octets, labels of 1-63 letters, digits and inner hyphens,
 * the last one not all digits; 254 octets in all.  CS_EINVAL and a
 * sentence naming the address otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include <idn2.h>

/* ASCII classes without the locale tables (addresses are ASCII here). */
static bool is_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static char lower_ascii(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

/* A working copy of s: in buf when it fits (the common case: no
 * allocation per address in a big import), else on the heap. */
static char *copy(const char *s, char *buf, size_t cap)
{
	size_t n = strlen(s);

	if (n >= cap)
		return cs_xstrdup(s);
	memcpy(buf, s, n + 1);
	return buf;
}

static void copy_free(char *p, const char *buf)
{
	if (p != buf)
		free(p);
}

/* The ln bytes at a are a dot-atom local part (dom: for the message). */
static int check_local(const char *a, size_t ln, const char *dom, cs_err *err)
{
	size_t i;

	if (ln > 64)
		return cs_err_set(err, CS_EINVAL,
		                  "\"%.*s@%s\": the part before @ is longer "
		                  "than 64 characters",
		                  (int)ln, a, dom);
	if (!ascii(a, ln))
		return cs_err_set(err, CS_EINVAL,
		                  "\"%.*s@%s\": non-ASCII before the @ is not "
		                  "supported",
		                  (int)ln, a, dom);
	for (i = 0; i < ln; i++)
		if (a[i] == '.' && (i == 0 || i + 1 == ln || a[i + 1] == '.'))
			return cs_err_set(err, CS_EINVAL,
			                  "\"%.*s@%s\": misplaced dot before "
			                  "the @",
			                  (int)ln, a, dom);
	for (i = 0; i < ln; i++)
		if (!is_alnum(a[i]) && !strchr(".!#$%&'*+/=?^_`{|}~-", a[i]))
			return cs_err_set(err, CS_EINVAL,
			                  "\"%.*s@%s\": character '%c' is not "
			                  "allowed before the @",
			                  (int)ln, a, dom, a[i]);
	return 0;
}

/* The ASCII host name d: a dot, at most 253, labels as a host's. */
static int check_host(const char *d, cs_err *err)
{
	const char *label;
	size_t n = strlen(d);

	if (n > 253 || strchr(d, '.') == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "domain \"%s\" needs a dot and at most 253 "
		                  "characters",
		                  d);
	for (label = d; label;) {
		const char *dot = strchr(label, '.');
		size_t ln = dot ? (size_t)(dot - label) : strlen(label);
		size_t i;

		if (ln == 0 || ln > 63 || label[0] == '-' ||
		    label[ln - 1] == '-')
			return cs_err_set(
			    err, CS_EINVAL,
			    "domain \"%s\" has an empty, too long "
			    "or hyphen-edged label",
			    d);
		for (i = 0; i < ln; i++)
			if (!is_alnum(label[i]) && label[i] != '-')
				return cs_err_set(
				    err, CS_EINVAL,
				    "domain \"%s\" has a character "
				    "not allowed in a host name",
				    d);
		if (dot == NULL) {
			for (i = 0; i < ln; i++)
				if (label[i] < '0' || label[i] > '9')
					break;
			if (i == ln)
				return cs_err_set(err, CS_EINVAL,
				                  "domain \"%s\" ends in a "
				                  "numeric label",
				                  d);
		}
		label = dot ? dot + 1 : NULL;
	}
	return 0;
}

int cs_domain_normalize(const char *in, cs_buf *out, cs_err *err)
{
	char buf[256], *d = copy(in, buf, sizeof buf), *p;
	char *ace = NULL;
	int rc = 0;

	cs_trim(d);
	if (*d == '\0') {
		rc = cs_err_set(err, CS_EINVAL, "the domain is empty");
		goto out;
	}
	if (!ascii(d, strlen(d))) {
		int r = idn2_to_ascii_8z(d, &ace,
		                         IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

		if (r != IDN2_OK) {
			rc = cs_err_set(err, CS_EINVAL,
			                "domain \"%s\" is not a valid "
			                "internationalised name: %s",
			                d, idn2_strerror(r));
			goto out;
		}
		copy_free(d, buf);
		d = cs_xstrdup(ace);
		idn2_free(ace);
	}
	for (p = d; *p; p++)
		*p = lower_ascii(*p);
	if ((rc = check_host(d, err)) == 0)
		cs_buf_puts(out, d);
out:
	copy_free(d, buf);
	return rc;
}

int cs_email_normalize(const char *in, cs_buf *out, cs_err *err)
{
	char buf[320], *a = copy(in, buf, sizeof buf), *at;
	int rc;

	cs_trim(a);
	if (*a == '\0') {
		copy_free(a, buf);
		return cs_err_set(err, CS_EINVAL, "the address is empty");
	}
	at = strrchr(a, '@');
	if (at == NULL || at == a) {
		rc = cs_err_set(err, CS_EINVAL,
		                "\"%s\" is not an address (local@domain)", a);
		copy_free(a, buf);
		return rc;
	}
	rc = check_local(a, (size_t)(at - a), at + 1, err);
	if (rc == 0) {
		size_t start = out->len;

		cs_buf_append(out, a, (size_t)(at - a) + 1);
		rc = cs_domain_normalize(at + 1, out, err);
		*at = '\0';
		if (rc != 0) {
			cs_buf_truncate(out, start);
			cs_err_prefix(err, "\"%s@%s\"", a, at + 1);
		} else if (out->len - start > 254) {
			cs_buf_truncate(out, start);
			rc = cs_err_set(err, CS_EINVAL,
			                "\"%s@%s\" is longer than 254 "
			                "characters",
			                a, at + 1);
		}
	}
	copy_free(a, buf);
	return rc;
}

int cs_email_check(const char *a, cs_err *err)
{
	const char *at;
	int rc;

	if (a == NULL || *a == '\0')
		return cs_err_set(err, CS_EINVAL, "the address is empty");
	at = strrchr(a, '@');
	if (at == NULL || at == a)
		return cs_err_set(err, CS_EINVAL,
		                  "\"%s\" is not an address (local@domain)", a);
	if ((rc = check_local(a, (size_t)(at - a), at + 1, err)) != 0)
		return rc;
	if (!ascii(at + 1, strlen(at + 1)))
		return cs_err_set(
		    err, CS_EINVAL,
		    "\"%s\": the domain is not ASCII (write it in "
		    "its xn-- form)",
		    a);
	if (at[1] == '\0')
		rc = cs_err_set(err, CS_EINVAL, "the domain is empty");
	else
		rc = check_host(at + 1, err);
	if (rc != 0) {
		cs_err_prefix(err, "\"%s\"", a);
		return rc;
	}
	if (strlen(a) > 254)
		return cs_err_set(err, CS_EINVAL,
		                  "\"%s\" is longer than 254 characters", a);
	return 0;
}

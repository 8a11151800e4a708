/*
 * dr_dkim.c - DKIM key records (RFC 6376 3.6.1): the tag list at
 * <selector>._domainkey.<domain>, what key it holds and whether a
 * verifier can use it for mail.
 *
 * RSA keys (k=rsa, the default) are a DER SubjectPublicKeyInfo in base64
 * (some publishers put a bare PKCS#1 RSAPublicKey: accepted too); the
 * modulus length comes from OpenSSL.  Ed25519 keys (RFC 8463) are the raw
 * 32 bytes.  An empty p= is a revoked key.  Pure code: no DNS here.
 */
#include "doctor/doctor_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

static void invalid(dr_dkim_key *k, const char *fmt, ...) CS_PRINTF(2, 3);
static void invalid(dr_dkim_key *k, const char *fmt, ...)
{
	va_list ap;

	if (k->error[0] != '\0') /* the first reason found is kept */
		return;
	k->valid = false;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(k->error, sizeof k->error, fmt, ap);
	va_end(ap);
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Base64 with whitespace anywhere ignored (RFC 6376 3.6.1: FWS in p=),
 * '=' padding only at the end, missing padding tolerated.  Returns the
 * decoded length, -1 when it is not base64.  *out: caller frees.
 */
static long b64_decode(const char *s, size_t n, unsigned char **out)
{
	unsigned char *o = cs_xmalloc(n / 4 * 3 + 3);
	unsigned acc = 0;
	size_t i, bits = 0, len = 0, pad = 0, chars = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64_val(c)) < 0) {
			free(o);
			return -1;
		}
		chars++;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* a lone 6-bit group cannot end base64; padding at most 2 and only
	 * to a multiple of 4 */
	if (chars % 4 == 1 || pad > 2 || (pad > 0 && (chars + pad) % 4 != 0)) {
		free(o);
		return -1;
	}
	*out = o;
	return (long)len;
}

/* Whether the colon-separated list v[0..n) (FWS around items) holds
 * item; *only: it holds nothing else. */
static bool list_has(const char *v, size_t n, const char *item, bool *only)
{
	size_t i = 0, il = strlen(item);
	bool has = false, other = false;

	while (i <= n) {
		size_t b, e;

		while (i < n && isspace((unsigned char)v[i]))
			i++;
		b = i;
		while (i < n && v[i] != ':')
			i++;
		e = i;
		while (e > b && isspace((unsigned char)v[e - 1]))
			e--;
		if (e - b == il && strncmp(v + b, item, il) == 0)
			has = true;
		else if (e > b)
			other = true;
		i++;
	}
	if (only != NULL)
		*only = has && !other;
	return has;
}

static void rsa_bits(dr_dkim_key *k, const unsigned char *der, long len)
{
	const unsigned char *p = der;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, len);

	if (pk == NULL || p != der + len) {
		/* a bare PKCS#1 RSAPublicKey, as some publish */
		EVP_PKEY_free(pk);
		p = der;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
		if (pk != NULL && p != der + len) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	if (pk == NULL) {
		invalid(k, "p= is not an RSA public key");
		return;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA)
		invalid(k, "p= holds a key that is not RSA (k=rsa)");
	else
		k->bits = EVP_PKEY_get_bits(pk);
	EVP_PKEY_free(pk);
}

void dr_dkim_key_parse(const char *txt, size_t n, dr_dkim_key *out)
{
	const char *p = txt, *end, *pv = NULL;
	size_t pn = 0, nseen = 0, i;
	char seen[32][16];
	bool first = true;
	cs_tag t;
	int rc;

	memset(out, 0, sizeof *out);
	out->valid = true;
	strcpy(out->k, "rsa");
	if (txt == NULL) {
		invalid(out, "no record");
		return;
	}
	end = txt + n;
	while ((rc = cs_tag_next(&p, end, &t)) == 1) {
		char name[16];

		snprintf(name, sizeof name, "%.*s", (int)t.name_len, t.name);
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], name) == 0)
				break;
		if (i < nseen) {
			invalid(out, "tag %s= appears twice", name);
			return;
		}
		if (nseen < sizeof seen / sizeof seen[0])
			strcpy(seen[nseen++], name);
		if (cs_tag_is(&t, "v")) {
			if (!first)
				invalid(out, "v= is not the first tag");
			else if (t.value_len != 5 ||
			         memcmp(t.value, "DKIM1", 5) != 0)
				invalid(out, "v= is not DKIM1");
		} else if (cs_tag_is(&t, "k")) {
			snprintf(out->k, sizeof out->k, "%.*s",
			         (int)t.value_len, t.value);
			if (strcmp(out->k, "rsa") != 0 &&
			    strcmp(out->k, "ed25519") != 0)
				invalid(
				    out, "unknown key type k=%.*s",
				    (int)(t.value_len > 32 ? 32 : t.value_len),
				    t.value);
		} else if (cs_tag_is(&t, "p")) {
			pv = t.value;
			pn = t.value_len;
		} else if (cs_tag_is(&t, "h")) {
			bool only;

			list_has(t.value, t.value_len, "sha1", &only);
			out->sha1_only = only;
		} else if (cs_tag_is(&t, "s")) {
			if (!list_has(t.value, t.value_len, "*", NULL) &&
			    !list_has(t.value, t.value_len, "email", NULL))
				invalid(out, "s= does not allow email");
		} else if (cs_tag_is(&t, "t")) {
			out->testing =
			    list_has(t.value, t.value_len, "y", NULL);
		}
		first = false;
	}
	if (rc < 0) {
		invalid(out, "a malformed tag list at offset %zu",
		        (size_t)(p - txt));
		return;
	}
	if (pv == NULL) {
		invalid(out, "no p= tag (the public key)");
		return;
	}
	for (i = 0; i < pn; i++)
		if (!isspace((unsigned char)pv[i]))
			break;
	if (i == pn) {
		out->revoked = true;
		invalid(out, "revoked (empty p=)");
		return;
	}
	{
		unsigned char *der = NULL;
		long len = b64_decode(pv, pn, &der);

		if (len < 0) {
			invalid(out, "p= is not base64");
			return;
		}
		if (strcmp(out->k, "ed25519") == 0) {
			if (len == 32)
				out->bits = 256;
			else
				invalid(
				    out,
				    "p= is %ld bytes, not a 32-byte Ed25519 "
				    "key",
				    len);
		} else if (strcmp(out->k, "rsa") == 0) {
			rsa_bits(out, der, len);
		}
		free(der);
	}
}

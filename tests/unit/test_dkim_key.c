/*
 * test_dkim_key.c - DKIM key records (doctor/dr_dkim.c): RSA keys of
 * 512, 1024 and 2048 bits (SubjectPublicKeyInfo and bare RSAPublicKey),
 * Ed25519 (RFC 8463), revoked keys, and malformed records.  The keys
 * were made with `openssl genrsa N | openssl rsa -pubout` and
 * `openssl genpkey -algorithm ed25519`; only the public halves are here.
 */
#include "unit.h"

#include "doctor/doctor_int.h"

static const char rsa512[] =
    "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAOXHta9iz7PeElKsafWC3C+nknGUYSOp"
    "Pkoa4eLeuVJmyAWGPZJ7uu8cZRTM91Jc50jQZZDDvBCCQgR8wMsIUuMCAwEAAQ==";
static const char rsa1024[] =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDApTQ702W7nsVWCxtjfGK8gbcd"
    "Bfgnk8o81NgidgWCSZ+a1yjYCw08ZRGdRLH1F7ALLDeKs7xZv7cH1BOdpN4dlqVr"
    "OfC5aFiirz4DhxJS7GUvpUrQ/LrYWM90gXHI8ROAzQSFPrKHukbuJpx6brjXsG8P"
    "rlr/+QMfCUHhzt9icQIDAQAB";
static const char rsa2048[] =
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAmsr6Gf37B4Xiw31BIS+g"
    "yyvcZ88sNrpjNaetaF56pbCdjVyZVqZrHg5qP0TP6XWpiYAheK4VJJaFUx2YCThW"
    "aH89X6pF5w6EVVoKVr/M6MZ500m92gSlcntqnVXbwnDGRp33hOh35elZj2wAeAU5"
    "RKhfxn+DhkVDbymJlThaZH1uEV+rYcD0VTiYWp03ObEDgTxs+OmUZ1vhc9Axpahj"
    "l1QOc8qKw/D57rA/mY6ZoZS+eGSwH2LV/wUV6E0jleI+VdY2xBRgTVlzQyCKFwXy"
    "VO7eZj7Y8SJN46lkIx0h79R7vuni86H3j6HSdQ7yfZ9LoHGEYYxNhOj3aQQ2im8A"
    "zQIDAQAB";
/* the 1024-bit key as a bare PKCS#1 RSAPublicKey (-RSAPublicKey_out) */
static const char rsa1024_pkcs1[] =
    "MIGJAoGBAMClNDvTZbuexVYLG2N8YryBtx0F+CeTyjzU2CJ2BYJJn5rXKNgLDTxl"
    "EZ1EsfUXsAssN4qzvFm/twfUE52k3h2WpWs58LloWKKvPgOHElLsZS+lStD8uthY"
    "z3SBccjxE4DNBIU+soe6Ru4mnHpuuNewbw+uWv/5Ax8JQeHO32JxAgMBAAE=";
/* Ed25519: the raw 32 bytes, and the same key as SPKI (not RFC 8463) */
static const char ed_raw[] = "5FblYsxP4oieBWBbIDswabKi1JN5N3ZrkYyvaMnH0ms=";
static const char ed_spki[] =
    "MCowBQYDK2VwAyEA5FblYsxP4oieBWBbIDswabKi1JN5N3ZrkYyvaMnH0ms=";
/* a P-256 key: SPKI, but not RSA */
static const char ec_spki[] =
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEgrOYaXUTDI4QiJlNnHZn79OLSzMt"
    "eZcWBLXh7X7mFG/zw9ZXnSZBLBdlRyy605aFPo1P4xghyADUWdHuNzVsmw==";

static void parse(const char *rec, dr_dkim_key *k)
{
	dr_dkim_key_parse(rec, strlen(rec), k);
}

static char *rec_with(const char *fmt, const char *key)
{
	size_t n = strlen(fmt) + strlen(key) + 1;
	char *s = malloc(n);

	assert_non_null(s);
	snprintf(s, n, fmt, key);
	return s;
}

static void rsa_sizes(void **state)
{
	dr_dkim_key k;
	char *r;

	(void)state;
	r = rec_with("v=DKIM1; k=rsa; p=%s", rsa2048);
	parse(r, &k);
	assert_true(k.valid);
	assert_string_equal(k.error, "");
	assert_string_equal(k.k, "rsa");
	assert_int_equal(k.bits, 2048);
	assert_false(k.revoked);
	assert_false(k.testing);
	assert_false(k.sha1_only);
	free(r);

	r = rec_with("p=%s", rsa1024); /* v= and k= are optional */
	parse(r, &k);
	assert_true(k.valid);
	assert_int_equal(k.bits, 1024);
	free(r);

	r = rec_with("v=DKIM1; p=%s", rsa512);
	parse(r, &k);
	assert_true(k.valid);
	assert_int_equal(k.bits, 512);
	free(r);

	r = rec_with("v=DKIM1; k=rsa; p=%s", rsa1024_pkcs1);
	parse(r, &k);
	assert_true(k.valid);
	assert_int_equal(k.bits, 1024);
	free(r);
}

/* A key split over TXT strings arrives concatenated, often with
 * whitespace inside p= (FWS: ignored). */
static void whitespace_in_p(void **state)
{
	char rec[1024];
	size_t i, o = 0;
	dr_dkim_key k;

	(void)state;
	o += (size_t)snprintf(rec, sizeof rec, "v=DKIM1;\tk=rsa;\r\n p= ");
	for (i = 0; rsa2048[i]; i++) {
		rec[o++] = rsa2048[i];
		if (i % 50 == 49) {
			rec[o++] = ' ';
			rec[o++] = i % 100 == 99 ? '\t' : ' ';
		}
	}
	snprintf(rec + o, sizeof rec - o, " ; n=a note");
	parse(rec, &k);
	assert_true(k.valid);
	assert_int_equal(k.bits, 2048);
}

static void ed25519(void **state)
{
	dr_dkim_key k;
	char *r;

	(void)state;
	r = rec_with("v=DKIM1; k=ed25519; p=%s", ed_raw);
	parse(r, &k);
	assert_true(k.valid);
	assert_string_equal(k.k, "ed25519");
	assert_int_equal(k.bits, 256);
	free(r);
	/* RFC 8463: the raw key, not a SubjectPublicKeyInfo */
	r = rec_with("v=DKIM1; k=ed25519; p=%s", ed_spki);
	parse(r, &k);
	assert_false(k.valid);
	assert_non_null(strstr(k.error, "32-byte"));
	free(r);
	/* an Ed25519 key under k=rsa (the default) is not an RSA key */
	r = rec_with("v=DKIM1; p=%s", ed_spki);
	parse(r, &k);
	assert_false(k.valid);
	assert_non_null(strstr(k.error, "not RSA"));
	free(r);
	r = rec_with("v=DKIM1; p=%s", ec_spki);
	parse(r, &k);
	assert_false(k.valid);
	assert_non_null(strstr(k.error, "not RSA"));
	free(r);
}

static void flags(void **state)
{
	dr_dkim_key k;
	char *r;

	(void)state;
	r = rec_with("v=DKIM1; h=sha1; t=y:s; p=%s", rsa2048);
	parse(r, &k);
	assert_true(k.valid);
	assert_true(k.sha1_only);
	assert_true(k.testing);
	free(r);
	r = rec_with("v=DKIM1; h=sha1 : sha256; t=s; s=email; p=%s", rsa2048);
	parse(r, &k);
	assert_true(k.valid);
	assert_false(k.sha1_only);
	assert_false(k.testing);
	free(r);
	r = rec_with("v=DKIM1; s=*; p=%s", rsa2048);
	parse(r, &k);
	assert_true(k.valid);
	free(r);
	r = rec_with("v=DKIM1; s=other; p=%s", rsa2048);
	parse(r, &k);
	assert_false(k.valid);
	assert_non_null(strstr(k.error, "s= does not allow email"));
	free(r);
}

static void invalid_records(void **state)
{
	static const struct {
		const char *fmt; /* %s: the 2048-bit key */
		const char *error;
		bool revoked;
	} rows[] = {
	    {"v=DKIM1; k=rsa; p=", "revoked", true},
	    {"v=DKIM1; p= ;", "revoked", true},
	    {"v=DKIM1; k=rsa", "no p=", false},
	    {"", "no p=", false},
	    {"v=DKIM2; p=%s", "not DKIM1", false},
	    {"k=rsa; v=DKIM1; p=%s", "not the first tag", false},
	    {"v=DKIM1; k=dsa; p=%s", "unknown key type", false},
	    {"v=DKIM1; p=%s; p=%s", "appears twice", false},
	    {"v=DKIM1; k=rsa; k=rsa; p=%s", "appears twice", false},
	    {"v=DKIM1; p=MIIB$$$", "not base64", false},
	    {"v=DKIM1; p=QUJD=QUJD", "not base64", false},
	    {"v=DKIM1; p=QUJDR", "not base64", false},
	    {"v=DKIM1; p=QUJD", "not an RSA public key", false},
	    {"v=DKIM1; k=ed25519; p=QUJD", "32-byte", false},
	    {"v=DKIM1; =x; p=%s", "malformed tag list", false},
	    {"v=DKIM1; p %s", "malformed tag list", false},
	};
	dr_dkim_key k;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char rec[1200];

		snprintf(rec, sizeof rec, rows[i].fmt, rsa2048, rsa2048);
		parse(rec, &k);
		if (k.valid || strstr(k.error, rows[i].error) == NULL ||
		    k.revoked != rows[i].revoked)
			fail_msg("row %zu \"%s\": valid %d error \"%s\"", i,
			         rows[i].fmt, k.valid, k.error);
	}
	/* a truncated key (a TXT string lost) is not a key */
	{
		char rec[1200];

		snprintf(rec, sizeof rec, "v=DKIM1; p=%.256s", rsa2048);
		parse(rec, &k);
		assert_false(k.valid);
		assert_int_equal(k.bits, 0);
	}
	dr_dkim_key_parse(NULL, 0, &k);
	assert_false(k.valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rsa_sizes),
	    cmocka_unit_test(whitespace_in_p),
	    cmocka_unit_test(ed25519),
	    cmocka_unit_test(flags),
	    cmocka_unit_test(invalid_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

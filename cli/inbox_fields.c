/*
 * inbox_fields.c - the settings of an inbox as the user writes them, shared
 * by `inbox add`, `inbox set` (options) and `inbox import` (CSV columns):
 * one parser and one validator, so every way in gives the same errors.
 */
#define _XOPEN_SOURCE 700
#include "cli_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "smtp/smtp.h"

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? cs_xstrdup(v) : NULL;
}

bool cli_valid_key(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-@+", s[i]))
			return false;
	return true;
}

bool cli_valid_email(const char *a)
{
	return cs_email_check(a, NULL) == 0;
}

/* "host:port" or "[v6]:port". */
static int parse_hostport(const char *field, const char *v, char **host,
                          int *port, cs_err *err)
{
	const char *colon;
	char *end;
	long p;
	size_t hl;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL || close[1] != ':')
			goto bad;
		colon = close + 1;
		hl = (size_t)(close - v - 1);
		v++;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - v);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (hl == 0 || *end != '\0' || errno || p < 1 || p > 65535 ||
	    colon[1] == '\0')
		goto bad;
	free(*host);
	*host = cs_xstrndup(v, hl);
	for (end = *host; *end; end++)
		if (isspace((unsigned char)*end) || *end == '/')
			goto bad;
	*port = (int)p;
	return 0;
bad:
	return cs_err_set(err, CS_EINVAL,
	                  "%s: \"%s\" is not HOST:PORT (e.g. "
	                  "smtp.example.com:587)",
	                  field, v);
}

static int parse_tls(const char *field, const char *v, char **dst, cs_err *err)
{
	if (strcasecmp(v, "tls") == 0 || strcasecmp(v, "ssl") == 0)
		set_str(dst, "tls");
	else if (strcasecmp(v, "starttls") == 0)
		set_str(dst, "starttls");
	else if (strcasecmp(v, "none") == 0)
		set_str(dst, "none");
	else
		return cs_err_set(err, CS_EINVAL,
		                  "%s: \"%s\" is not tls or starttls", field,
		                  v);
	return 0;
}

static int one_line(const char *field, const char *v, size_t max, cs_err *err)
{
	const char *p;

	for (p = v; *p; p++)
		if ((unsigned char)*p < 0x20)
			return cs_err_set(err, CS_EINVAL,
			                  "%s contains a line break or control "
			                  "character",
			                  field);
	if (strlen(v) > max)
		return cs_err_set(err, CS_EINVAL, "%s is longer than %zu bytes",
		                  field, max);
	return 0;
}

/* path holds at least one PEM certificate (what the TLS code loads as the
 * trusted CA); else an error naming the file. */
static int check_ca_file(const char *path, cs_err *err)
{
	FILE *f = fopen(path, "r");
	X509 *cert;

	if (f == NULL)
		return cs_err_set(err, CS_EINVAL, "ca-file: cannot read %s: %s",
		                  path, strerror(errno));
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (cert == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "ca-file: %s holds no PEM certificate (a "
		                  "\"-----BEGIN CERTIFICATE-----\" block)",
		                  path);
	X509_free(cert);
	return 0;
}

int cli_inbox_field(db_inbox *in, const char *field, const char *v, cs_err *err)
{
	char *end;
	long n;
	int rc;

	if (strcmp(field, "name") == 0) {
		if (!cli_valid_key(v))
			return cs_err_set(
			    err, CS_EINVAL,
			    "name: \"%s\" must be 1-64 letters, digits "
			    "or . _ - @ +",
			    v);
		set_str(&in->name, v);
	} else if (strcmp(field, "email") == 0) {
		if (!cli_valid_email(v))
			return cs_err_set(
			    err, CS_EINVAL,
			    "email: \"%s\" is not an email address", v);
		set_str(&in->email, v);
	} else if (strcmp(field, "smtp") == 0) {
		return parse_hostport("smtp", v, &in->smtp_host, &in->smtp_port,
		                      err);
	} else if (strcmp(field, "imap") == 0) {
		return parse_hostport("imap", v, &in->imap_host, &in->imap_port,
		                      err);
	} else if (strcmp(field, "smtp-tls") == 0) {
		return parse_tls("smtp-tls", v, &in->smtp_tls, err);
	} else if (strcmp(field, "imap-tls") == 0) {
		return parse_tls("imap-tls", v, &in->imap_tls, err);
	} else if (strcmp(field, "user") == 0) {
		if ((rc = one_line("user", v, 254, err)) != 0)
			return rc;
		set_str(&in->username, *v ? v : NULL);
	} else if (strcmp(field, "ca-file") == 0) {
		char real[PATH_MAX];

		if (*v == '\0') {
			set_str(&in->ca_file, NULL);
			return 0;
		}
		if (access(v, R_OK) != 0 || realpath(v, real) == NULL)
			return cs_err_set(err, CS_EINVAL,
			                  "ca-file: cannot read %s: %s", v,
			                  strerror(errno));
		if ((rc = check_ca_file(real, err)) != 0)
			return rc;
		set_str(&in->ca_file, real);
	} else if (strcmp(field, "display-name") == 0) {
		/* the builder's own check too (DEL), so no inbox can hold
		 * a From name sending would refuse */
		if ((rc = one_line("display-name", v, 200, err)) != 0 ||
		    (rc = smtp_check_header_text("display-name", v,
		                                 SMTP_HEADER_MAX, err)) != 0)
			return rc;
		set_str(&in->display_name, *v ? v : NULL);
	} else if (strcmp(field, "signature-file") == 0) {
		cs_buf b = CS_BUF_INIT;

		if (cs_read_file(v, 16384, &b, err) != 0) {
			cs_buf_free(&b);
			return cs_err_prefix(err, "signature-file");
		}
		if (memchr(b.data ? b.data : "", '\0', b.len)) {
			cs_buf_free(&b);
			return cs_err_set(
			    err, CS_EINVAL,
			    "signature-file: %s is not a text file", v);
		}
		free(in->signature);
		in->signature = cs_buf_detach(&b, NULL);
	} else if (strcmp(field, "timezone") == 0) {
		if (!cs_tz_valid(v))
			return cs_err_set(
			    err, CS_EINVAL,
			    "timezone: \"%s\" is not an IANA time zone "
			    "(e.g. Europe/Berlin)",
			    v);
		set_str(&in->timezone, v);
	} else if (strcmp(field, "daily-cap") == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end || errno || n < 1 || n > 10000)
			return cs_err_set(
			    err, CS_EINVAL,
			    "daily-cap: \"%s\" is not a number from 1 "
			    "to 10000",
			    v);
		in->daily_cap = (int)n;
	} else if (strcmp(field, "sent-copy") == 0) {
		if (!db_sent_copy_parse(v, &in->sent_copy))
			return cs_err_set(
			    err, CS_EINVAL,
			    "sent-copy: \"%s\" is not auto, always or "
			    "never",
			    v);
	} else if (strcmp(field, "provider") == 0) {
		if (cs_provider_find(v) == NULL)
			return cs_err_set(
			    err, CS_EINVAL,
			    "provider: \"%s\" is not generic, google or "
			    "microsoft",
			    v);
		in->provider = cs_provider_find(v)->id;
	} else if (strcmp(field, "auth") == 0) {
		if (!db_auth_kind_parse(v, &in->auth))
			return cs_err_set(
			    err, CS_EINVAL,
			    "auth: \"%s\" is not password or oauth2", v);
	} else if (strcmp(field, "limit") == 0) {
		const char *eq = strchr(v, '=');
		char name[40];
		long long lim = -1;

		if (eq == NULL || (size_t)(eq - v) >= sizeof name)
			return cs_err_set(err, CS_EINVAL,
			                  "limit: \"%s\" is not NAME=N (N: a "
			                  "number, 0: off, default: the "
			                  "provider's); the limits: %s",
			                  v, cs_limit_names());
		memcpy(name, v, (size_t)(eq - v));
		name[eq - v] = '\0';
		if (strcmp(eq + 1, "default") != 0) {
			errno = 0;
			lim = strtoll(eq + 1, &end, 10);
			if (eq[1] == '\0' || *end || errno || lim < 0 ||
			    lim > 100000000)
				return cs_err_set(
				    err, CS_EINVAL,
				    "limit: \"%s\" is not NAME=N (N: a "
				    "number from 0 to 100000000, 0: off, "
				    "default: the provider's)",
				    v);
		}
		if (cs_limits_edit(&in->limits, name, lim, err) != 0)
			return cs_err_prefix(err, "limit");
	} else if (strcmp(field, "trial") == 0) {
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "1") == 0)
			in->trial = true;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
		         strcmp(v, "0") == 0 || *v == '\0')
			in->trial = false;
		else
			return cs_err_set(err, CS_EINVAL,
			                  "trial: \"%s\" is not yes or no", v);
	} else if (strcmp(field, "tenant") == 0) {
		if (*v && !cli_valid_key(v))
			return cs_err_set(
			    err, CS_EINVAL,
			    "tenant: \"%s\" must be 1-64 letters, "
			    "digits or . _ - @ +",
			    v);
		set_str(&in->tenant, *v ? v : NULL);
	} else if (strcmp(field, "hard-cap") == 0) {
		/* the old per-day hard cap: now the rolling messages_24h
		 * limit (0: the provider's, as it always meant) */
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end || errno || n < 0 || n > 100000)
			return cs_err_set(
			    err, CS_EINVAL,
			    "hard-cap: \"%s\" is not a number from 0 to "
			    "100000 (0: the provider's limit; same as "
			    "--limit messages_24h=N)",
			    v);
		if ((rc = cs_limits_edit(&in->limits, "messages_24h",
		                         n ? n : -1, err)) != 0)
			return rc;
	} else if (strcmp(field, "domain-hourly-cap") == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v == '\0' || *end || errno || n < 0 || n > 100000)
			return cs_err_set(err, CS_EINVAL,
			                  "%s: \"%s\" is not a number from 0 "
			                  "to 100000 (0: none)",
			                  field, v);
		in->domain_hourly_cap = (int)n;
	} else if (strcmp(field, "min-gap") == 0) {
		cs_buf canon = CS_BUF_INIT;
		const db_config_def *def = db_config_find("inbox.min_interval");
		int prc = db_config_parse(def, v, &canon, err);

		if (prc == 0)
			in->min_gap = atoi(canon.data);
		cs_buf_free(&canon);
		if (prc)
			return cs_err_set(err, CS_EINVAL,
			                  "min-gap: \"%s\" is not a duration "
			                  "such as 90s, 2m or 1h (0: config "
			                  "inbox.min_interval)",
			                  v);
	} else if (strcmp(field, "ramp") == 0) {
		int a = 0, b = 0;
		char extra;

		if (strcmp(v, "off") != 0 &&
		    (sscanf(v, "%d,%d%c", &a, &b, &extra) != 2 || a < 1 ||
		     a > 10000 || b < 0 || b > 10000))
			return cs_err_set(
			    err, CS_EINVAL,
			    "ramp: \"%s\" is not START,STEP (e.g. "
			    "5,2: 5 a day, 2 more each day, up to "
			    "the daily cap) or off",
			    v);
		in->ramp_start = a;
		in->ramp_step = b;
	} else if (strcmp(field, "tag") == 0) {
		const char *p;

		if (*v == '\0' || strlen(v) > 64)
			return cs_err_set(err, CS_EINVAL,
			                  "tag: \"%s\" is empty or "
			                  "too long",
			                  v);
		for (p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("._:-", *p))
				return cs_err_set(
				    err, CS_EINVAL,
				    "tag: \"%s\" may only hold letters, "
				    "digits and . _ : -",
				    v);
		in->tags =
		    cs_xrealloc(in->tags, (in->ntags + 1) * sizeof *in->tags);
		in->tags[in->ntags++] = cs_xstrdup(v);
	} else {
		return cs_err_set(err, CS_EINVAL,
		                  "unknown inbox setting \"%s\"", field);
	}
	return 0;
}

void cli_inbox_preset(db_inbox *in)
{
	const cs_provider *p = cs_provider_get(in->provider);

	if (in->smtp_host == NULL && p->smtp_host) {
		set_str(&in->smtp_host, p->smtp_host);
		in->smtp_port = p->smtp_port;
		set_str(&in->smtp_tls, p->smtp_tls);
	}
	if (in->imap_host == NULL && p->imap_host) {
		set_str(&in->imap_host, p->imap_host);
		in->imap_port = p->imap_port;
		set_str(&in->imap_tls, p->imap_tls);
	}
}

int cli_inbox_finish(db_inbox *in, cs_err *err)
{
	if (in->name == NULL)
		return cs_err_set(err, CS_EINVAL, "name is missing");
	if (in->email == NULL)
		return cs_err_set(err, CS_EINVAL, "email is missing (--email)");
	if (in->smtp_host == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "smtp server is missing (--smtp HOST:PORT)");
	if (in->imap_host == NULL)
		return cs_err_set(err, CS_EINVAL,
		                  "imap server is missing (--imap HOST:PORT)");
	if (in->smtp_tls == NULL)
		set_str(&in->smtp_tls,
		        in->smtp_port == 465 ? "tls" : "starttls");
	if (in->imap_tls == NULL)
		set_str(&in->imap_tls,
		        in->imap_port == 993 ? "tls" : "starttls");
	/* plaintext exists for loopback tests and benchmarks only */
	if ((strcmp(in->smtp_tls, "none") == 0 &&
	     !cs_is_loopback_host(in->smtp_host)) ||
	    (strcmp(in->imap_tls, "none") == 0 &&
	     !cs_is_loopback_host(in->imap_host)))
		return cs_err_set(
		    err, CS_EINVAL,
		    "TLS mode none is only allowed for servers on "
		    "loopback (tests)");
	if (in->timezone == NULL)
		set_str(&in->timezone, "UTC");
	/* sent_copy auto, provider generic, auth password, status active:
	 * the enums' first values */

	return 0;
}

char *cli_read_secret_stdin(cs_err *err)
{
	cs_buf b = CS_BUF_INIT;
	int c;

	while ((c = getchar()) != EOF && c != '\n') {
		if (b.len > 4096) {
			cs_buf_wipe(&b);
			cs_err_set(err, CS_EINVAL,
			           "the password on stdin is too "
			           "long");
			return NULL;
		}
		cs_buf_putc(&b, (char)c);
	}
	if (b.len && b.data[b.len - 1] == '\r')
		cs_buf_truncate(&b, b.len - 1);
	if (b.len == 0) {
		cs_buf_free(&b);
		cs_err_set(err, CS_EINVAL, "no password on stdin");
		return NULL;
	}
	return cs_buf_detach(&b, NULL);
}

void cli_uuid_v4(char out[37])
{
	unsigned char r[16];

	cs_random_bytes(r, sizeof r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(
	    out, 37,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x"
	    "%02x",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
	    r[11], r[12], r[13], r[14], r[15]);
}

const char *cli_basic_auth_warning(const db_inbox *in)
{
	if (in->provider == CS_PROVIDER_MICROSOFT &&
	    in->auth == DB_AUTH_PASSWORD)
		return "Microsoft is retiring Basic authentication for SMTP "
		       "AUTH; connect with --auth oauth2 ('coldseq inbox "
		       "connect microsoft')";
	return NULL;
}

/*
 * err.c - the caller-provided error (code + one human sentence).
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

/* Format in full, redact, then cut to fit: a secret cut in half by the
 * limit would otherwise escape redaction. */
static void store(cs_err *err, const char *fmt, va_list ap)
{
	cs_buf raw = CS_BUF_INIT, red = CS_BUF_INIT;
	size_t n;

	cs_buf_vprintf(&raw, fmt, ap);
	cs_redact(raw.data, raw.len, &red);
	n = red.len < sizeof err->msg - 1 ? red.len : sizeof err->msg - 1;
	memcpy(err->msg, cs_buf_str(&red), n);
	err->msg[n] = '\0';
	cs_buf_wipe(&raw);
	cs_buf_free(&red);
}

static void store_fmt(cs_err *err, const char *fmt, ...) CS_PRINTF(2, 3);
static void store_fmt(cs_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	store(err, fmt, ap);
	va_end(ap);
}

int cs_err_set(cs_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	store(err, fmt, ap);
	va_end(ap);
	return code;
}

int cs_err_prefix(cs_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof err->msg];
	va_list ap;

	if (err == NULL)
		return CS_EINVAL;
	va_start(ap, fmt);
	/* clang-analyzer 14 misreads va_start here (false positive) */
	vsnprintf(pre, sizeof pre, fmt, ap); // NOLINT(clang-analyzer-valist.*)
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	store_fmt(err, "%s: %s", pre, old);
	return err->code;
}

void cs_err_clear(cs_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *cs_err_name(int code)
{
	switch (code) {
	case CS_OK: return "success";
	case CS_EINVAL: return "invalid input";
	case CS_EIO: return "input/output error";
	case CS_ENOTFOUND: return "not found";
	case CS_EEXIST: return "already exists";
	case CS_ECRYPTO: return "decryption failed";
	case CS_EDB: return "database error";
	case CS_EVERSION: return "unsupported version";
	case CS_EUSAGE: return "usage error";
	case CS_ENET: return "network error";
	case CS_ETEMP: return "temporary failure";
	case CS_ECONFLICT: return "state conflict";
	case CS_EAUTH: return "authorization refused";
	case CS_EREFUSED: return "credentials refused";
	default: return "unknown error";
	}
}

/*
 * log.c - leveled log lines to stderr, a file, or journald's stderr.
 *
 * One line per call, written with a single write(2) so lines from several
 * threads never interleave.  Every line goes through cs_redact() first, and
 * CR/LF inside a message are escaped so a hostile peer reply cannot forge a
 * log line.  Logging never fails the caller: a write error is ignored.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set once by cs_log_init before threads start; read-only afterwards
 * except the level, which is a plain int read racily by design (a level
 * change may take a line to be seen). */
static struct {
	int fd;
	bool own_fd;
	bool journal;
	volatile int level;
} lg = {2, false, false, CS_LOG_INFO};

static const char *const names[] = {"error", "warn", "info", "debug"};
static const int syslog_prio[] = {3, 4, 6, 7};

int cs_log_level_parse(const char *s, cs_log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (cs_log_level)i;
			return 0;
		}
	if (strcmp(s, "warning") == 0) {
		*out = CS_LOG_WARN;
		return 0;
	}
	return CS_EINVAL;
}

int cs_log_init(cs_log_level level, const char *file, cs_err *err)
{
	cs_log_close();
	lg.level = level;
	lg.journal = false;
	if (file) {
		int fd =
		    open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0)
			return cs_err_set(err, CS_EIO,
			                  "cannot open log file %s: %s", file,
			                  strerror(errno));
		lg.fd = fd;
		lg.own_fd = true;
	} else {
		lg.fd = 2;
		lg.journal = getenv("JOURNAL_STREAM") != NULL;
	}
	return 0;
}

void cs_log_set_level(cs_log_level level)
{
	lg.level = level;
}

cs_log_level cs_log_get_level(void)
{
	return (cs_log_level)lg.level;
}

void cs_log_close(void)
{
	if (lg.own_fd)
		close(lg.fd);
	lg.fd = 2;
	lg.own_fd = false;
}

void cs_escape_ctl(const char *s, size_t n, bool keep_lines, cs_buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			cs_buf_putc(out, keep_lines ? '\t' : ' ');
		else if (c == '\n')
			cs_buf_puts(out, keep_lines ? "\n" : "\\n");
		else if (c == '\r')
			cs_buf_puts(out, "\\r");
		else if (c < 0x20 || c == 0x7f)
			cs_buf_printf(out, "\\x%02x", c);
		else
			cs_buf_putc(out, (char)c);
	}
}

void cs_log(cs_log_level level, const char *fmt, ...)
{
	cs_buf raw = CS_BUF_INIT, red = CS_BUF_INIT, line = CS_BUF_INIT;
	va_list ap;
	int saved = errno;

	if ((int)level > lg.level)
		return;
	va_start(ap, fmt);
	cs_buf_vprintf(&raw, fmt, ap);
	va_end(ap);
	cs_redact(cs_buf_str(&raw), raw.len, &red);
	cs_buf_wipe(&raw);

	if (lg.journal && !lg.own_fd) {
		cs_buf_printf(&line, "<%d>", syslog_prio[level]);
	} else {
		char ts[40];

		cs_time_iso8601(cs_clock_now(NULL), ts, sizeof ts);
		cs_buf_printf(&line, "%s %-5s ", ts, names[level]);
	}
	cs_escape_ctl(cs_buf_str(&red), red.len, false, &line);
	cs_buf_putc(&line, '\n');
	if (write(lg.fd, line.data, line.len) < 0) {
		/* nowhere left to report it */
	}
	cs_buf_free(&red);
	cs_buf_free(&line);
	errno = saved;
}

/*
 * test_log.c - log lines: levels, timestamps, journald priorities,
 * escaping of control characters, redaction of secrets.
 */
#include "unit.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/core.h"

/* Run fn with fd 2 redirected into a temp file; return what was written. */
static char *capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/coldseq-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	cs_buf out = CS_BUF_INIT;

	assert_true(fd >= 0);
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(cs_read_file(path, 1 << 20, &out, NULL), 0);
	unlink(path);
	return cs_buf_detach(&out, NULL);
}

static void emit_levels(void)
{
	cs_log_init(CS_LOG_INFO, NULL, NULL);
	cs_log_debug("hidden %d", 1);
	cs_log_info("shown %d", 2);
	cs_log_error("bad\nnews\r");
}

static void levels_and_timestamps(void **state)
{
	char *s;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	s = capture_stderr(emit_levels);
	assert_null(strstr(s, "hidden"));
	assert_non_null(strstr(s, "info  shown 2\n"));
	/* one line per call: embedded CR/LF escaped */
	assert_non_null(strstr(s, "error bad\\nnews\\r\n"));
	/* ISO-8601 UTC timestamp first */
	assert_true(strlen(s) > 24);
	assert_int_equal(s[4], '-');
	assert_int_equal(s[10], 'T');
	assert_int_equal(s[23], 'Z');
	free(s);
}

static void levels_journal(void)
{
	cs_log_init(CS_LOG_DEBUG, NULL, NULL);
	cs_log_warn("careful");
	cs_log_debug("detail");
}

static void journald_prefixes(void **state)
{
	char *s;

	(void)state;
	setenv("JOURNAL_STREAM", "8:1234", 1);
	s = capture_stderr(levels_journal);
	unsetenv("JOURNAL_STREAM");
	assert_string_equal(s, "<4>careful\n<7>detail\n");
	free(s);
}

static cs_secret *the_secret;

static void leak_attempt(void)
{
	cs_log_init(CS_LOG_DEBUG, NULL, NULL);
	cs_log_info("AUTH with password=%s", cs_secret_value(the_secret));
}

static void secrets_never_logged(void **state)
{
	char *s;

	(void)state;
	unsetenv("JOURNAL_STREAM");
	the_secret = cs_secret_new("s3cr3t-Pa55", 11);
	s = capture_stderr(leak_attempt);
	assert_null(strstr(s, "s3cr3t"));
	assert_non_null(strstr(s, "password=[redacted]"));
	free(s);
	cs_secret_free(the_secret);
}

static void log_file_appends(void **state)
{
	char *dir = unit_tmpdir();
	char *path = cs_xasprintf("%s/coldseq.log", dir);
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;

	(void)state;
	setenv("JOURNAL_STREAM", "8:1", 1); /* ignored for a file */
	assert_int_equal(cs_log_init(CS_LOG_INFO, path, &err), 0);
	cs_log_info("first");
	cs_log_close();
	assert_int_equal(cs_log_init(CS_LOG_INFO, path, &err), 0);
	cs_log_info("second");
	cs_log_close();
	unsetenv("JOURNAL_STREAM");
	assert_int_equal(cs_read_file(path, 1 << 20, &b, &err), 0);
	assert_non_null(strstr(cs_buf_str(&b), "info  first\n"));
	assert_non_null(strstr(cs_buf_str(&b), "info  second\n"));
	assert_null(strstr(cs_buf_str(&b), "<6>"));
	assert_int_equal(cs_log_init(CS_LOG_INFO, "/nonexistent/x.log", &err),
	                 CS_EIO);
	assert_non_null(strstr(err.msg, "/nonexistent/x.log"));
	cs_buf_free(&b);
	unit_rmrf(dir);
	free(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(levels_and_timestamps),
	    cmocka_unit_test(journald_prefixes),
	    cmocka_unit_test(secrets_never_logged),
	    cmocka_unit_test(log_file_appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

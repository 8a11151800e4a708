/*
 * seq_status.c - whether the service runs on a data directory, by the lock
 * it holds on DATA_DIR/coldseq.pid (see seq.h for the convention).
 *
 * A pid in the file proves nothing by itself (the service may have died
 * and the pid been reused); the flock does: the kernel drops it when the
 * holder exits, however it exits.  The file is opened read-only and never
 * created, written or removed here.
 */
#define _DEFAULT_SOURCE
#include "seq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid written in the file: decimal digits and a newline; 0 when the
 * file holds anything else (the service may not have written it yet). */
static long read_pid(int fd)
{
	char buf[32];
	ssize_t n;
	long pid = 0;
	size_t i;

	do
		n = pread(fd, buf, sizeof buf - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	for (i = 0; i < (size_t)n && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (pid > 99999999L) /* far beyond any pid_max */
			return 0;
		pid = pid * 10 + (buf[i] - '0');
	}
	if (i == 0 || (i < (size_t)n && buf[i] != '\n'))
		return 0;
	return pid;
}

int seq_service_probe(const char *data_dir, seq_service_state *out, cs_err *err)
{
	char *path = cs_xasprintf("%s/%s", data_dir, SEQ_PID_FILE);
	int fd, rc = 0;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			rc = cs_err_set(err, CS_EIO, "cannot open %s: %s", path,
			                strerror(errno));
		free(path);
		return rc;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		(void)flock(fd, LOCK_UN); /* nobody holds it: a stale file */
	else if (errno == EWOULDBLOCK) {
		out->running = true;
		out->pid = read_pid(fd);
	} else
		rc = cs_err_set(err, CS_EIO, "cannot probe the lock on %s: %s",
		                path, strerror(errno));
	close(fd);
	free(path);
	return rc;
}

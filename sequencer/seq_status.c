/*
 * seq_status.c - the data directory's lock on DATA_DIR/coldseq.pid: taken
 * by the service and by a vault rekey, probed by `status` and the CLI (see
 * seq.h for the convention).
 *
 * A pid in the file proves nothing by itself (the holder may have died
 * and the pid been reused); the flock does: the kernel drops it when the
 * holder exits, however it exits.  The file is never removed: a taker
 * that opened it before the holder stopped waits on the inode the next
 * taker will open, so two takers can never each lock their own file.  A
 * taker still checks, once it holds the lock, that the path names the
 * inode it locked (the file removed by hand, or by an older coldseq that
 * removed it at exit) and starts over when it does not.
 */
#define _DEFAULT_SOURCE
#include "seq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REKEY_TAG " vault-rekey"

struct seq_lock {
	int fd;
	bool exclusive;
};

/* The holder written in the file: decimal digits, then a newline (a
 * service) or REKEY_TAG and a newline (a rekey).  pid 0 when the file
 * holds anything else (the holder may not have written it yet). */
static void read_holder(int fd, long *pid, bool *rekey)
{
	char buf[48];
	ssize_t n;
	long v = 0;
	size_t i, tag = strlen(REKEY_TAG);

	*pid = 0;
	*rekey = false;
	do
		n = pread(fd, buf, sizeof buf - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return;
	for (i = 0; i < (size_t)n && buf[i] >= '0' && buf[i] <= '9'; i++) {
		if (v > 99999999L) /* far beyond any pid_max */
			return;
		v = v * 10 + (buf[i] - '0');
	}
	if (i == 0 || i == (size_t)n)
		return;
	if (buf[i] == '\n') {
		*pid = v;
		return;
	}
	if ((size_t)n - i > tag && memcmp(buf + i, REKEY_TAG, tag) == 0 &&
	    buf[i + tag] == '\n') {
		*pid = v;
		*rekey = true;
	}
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
		read_holder(fd, &out->pid, &out->rekey);
		out->running = !out->rekey;
	} else
		rc = cs_err_set(err, CS_EIO, "cannot probe the lock on %s: %s",
		                path, strerror(errno));
	close(fd);
	free(path);
	return rc;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Whom the lock on fd belongs to, for the refusal: the holder may have
 * locked the file and not written it yet; give it a moment.  Still
 * nobody: it may have let the lock go meanwhile (emptying the file), and
 * unless last, 1 asks the caller to try the lock again. */
static int refuse(const char *data_dir, int fd, bool last,
                  seq_service_state *holder, cs_err *err)
{
	seq_service_state st;
	int i;

	memset(&st, 0, sizeof st);
	for (i = 0; i < 20; i++) {
		read_holder(fd, &st.pid, &st.rekey);
		if (st.pid > 0)
			break;
		nap_ms(10);
	}
	if (st.pid == 0 && !last)
		return 1;
	st.running = !st.rekey;
	if (holder)
		*holder = st;
	if (st.rekey)
		return cs_err_set(
		    err, CS_EEXIST,
		    "a vault rekey is in progress on %s (pid %ld)", data_dir,
		    st.pid);
	return cs_err_set(err, CS_EEXIST,
	                  "coldseq is already running for %s (pid %ld)",
	                  data_dir, st.pid);
}

/* Whether the path still names the inode fd has locked. */
static bool same_file(const char *path, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int seq_lock_take(const char *data_dir, seq_lock_kind kind, seq_lock **out,
                  seq_service_state *holder, cs_err *err)
{
	char *path = cs_xasprintf("%s/%s", data_dir, SEQ_PID_FILE), buf[48];
	bool excl = kind != SEQ_LOCK_SHARED;
	int fd = -1, tries = 0, swaps = 0, unknown = 0, rc;
	size_t len;

	*out = NULL;
	if (holder)
		memset(holder, 0, sizeof *holder);
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
		if (fd < 0) {
			rc = cs_err_set(err, CS_EIO, "cannot open %s: %s", path,
			                strerror(errno));
			goto out;
		}
		if (flock(fd, (excl ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
			if (errno != EWOULDBLOCK) {
				rc = cs_err_set(err, CS_EIO,
				                "cannot lock %s: %s", path,
				                strerror(errno));
				goto out;
			}
			/* a probe holds a shared lock for an instant */
			if (excl && ++tries <= 10) {
				close(fd);
				nap_ms(50);
				continue;
			}
			rc = refuse(data_dir, fd, !excl || ++unknown > 3,
			            holder, err);
			if (rc == 1) {
				close(fd);
				continue;
			}
			goto out;
		}
		if (same_file(path, fd))
			break;
		/* we locked a file that is no longer the lock file */
		close(fd);
		fd = -1;
		if (++swaps > 100) {
			rc = cs_err_set(err, CS_EIO,
			                "%s keeps being removed or replaced "
			                "while coldseq locks it",
			                path);
			goto out;
		}
	}
	if (excl) {
		snprintf(buf, sizeof buf, "%ld%s\n", (long)getpid(),
		         kind == SEQ_LOCK_REKEY ? REKEY_TAG : "");
		len = strlen(buf);
		if (ftruncate(fd, 0) != 0 ||
		    pwrite(fd, buf, len, 0) != (ssize_t)len) {
			rc = cs_err_set(err, CS_EIO, "cannot write %s: %s",
			                path, strerror(errno));
			goto out;
		}
	}
	*out = cs_xcalloc(1, sizeof **out);
	(*out)->fd = fd;
	(*out)->exclusive = excl;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

void seq_lock_release(seq_lock *l)
{
	if (l == NULL)
		return;
	/* no stale pid left for a reader that does not probe the lock */
	if (l->exclusive && ftruncate(l->fd, 0) != 0) {
		/* nothing to undo: the lock goes all the same */
	}
	close(l->fd);
	free(l);
}

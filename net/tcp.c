/*
 * tcp.c - TCP connect with a timeout, and scrubbing of peer text.
 */
#define _POSIX_C_SOURCE 200809L
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int connect_one(const struct addrinfo *ai, int64_t deadline_ms, int *fd,
                       int *err_no)
{
	int s, rc, so_err = 0;
	socklen_t len = sizeof so_err;
	struct pollfd p;

	s = socket(ai->ai_family,
	           ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	           ai->ai_protocol);
	if (s < 0) {
		*err_no = errno;
		return -1;
	}
	rc = connect(s, ai->ai_addr, ai->ai_addrlen);
	if (rc != 0 && errno != EINPROGRESS) {
		*err_no = errno;
		close(s);
		return -1;
	}
	if (rc != 0) {
		int left = (int)(deadline_ms - cs_mono_ms());

		p.fd = s;
		p.events = POLLOUT;
		do {
			rc = poll(&p, 1, left > 0 ? left : 0);
		} while (rc < 0 && errno == EINTR);
		if (rc == 0) {
			*err_no = ETIMEDOUT;
			close(s);
			return -1;
		}
		if (getsockopt(s, SOL_SOCKET, SO_ERROR, &so_err, &len) != 0 ||
		    so_err != 0) {
			*err_no = so_err ? so_err : errno;
			close(s);
			return -1;
		}
	}
	*fd = s;
	return 0;
}

int net_tcp_connect(const char *host, int port, int timeout_ms, int *fd,
                    cs_err *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int rc, err_no = 0;
	int64_t deadline = cs_mono_ms() + timeout_ms;

	*fd = -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(portstr, sizeof portstr, "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
		return cs_err_set(err, CS_ENET, "cannot resolve %s: %s", host,
		                  gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		if (cs_mono_ms() >= deadline) {
			err_no = ETIMEDOUT;
			break;
		}
		if (connect_one(ai, deadline, fd, &err_no) == 0)
			break;
	}
	freeaddrinfo(res);
	if (*fd >= 0)
		return 0;
	if (err_no == ETIMEDOUT)
		return cs_err_set(
		    err, CS_ENET,
		    "cannot connect to %s:%d: no answer within %d s", host,
		    port, timeout_ms / 1000);
	return cs_err_set(err, CS_ENET, "cannot connect to %s:%d: %s", host,
	                  port, strerror(err_no));
}

void net_scrub(const char *s, size_t n, size_t cap, cs_buf *out)
{
	size_t i, lim = n < cap ? n : cap;

	for (i = 0; i < lim; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n' || c == '\t')
			cs_buf_putc(out, ' ');
		else if (c < 0x20 || c >= 0x7f)
			cs_buf_putc(out, '?');
		else
			cs_buf_putc(out, (char)c);
	}
	if (n > cap)
		cs_buf_puts(out, "...");
	/* drop trailing spaces left by the line end */
	while (out->len && out->data[out->len - 1] == ' ')
		cs_buf_truncate(out, out->len - 1);
}

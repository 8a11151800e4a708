/*
 * util.c - small helpers: edit distance, mkdir -p, trimming, whole-file
 * reads, the one UTF-8 decoder (cs_utf8_seq) with its checker and
 * cleaners, and the loopback host test.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cs_edit_distance(const char *a, const char *b, int max)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int *prev2, *prev, *cur, d;

	if (la > 64 || lb > 64)
		return max + 1;
	prev2 = cs_xcalloc(lb + 1, sizeof *prev2);
	prev = cs_xcalloc(lb + 1, sizeof *prev);
	cur = cs_xcalloc(lb + 1, sizeof *cur);
	for (j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (i = 1; i <= la; i++) {
		int *t;

		cur[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	d = prev[lb];
	free(prev2);
	free(prev);
	free(cur);
	return d > max ? max + 1 : d;
}

int cs_mkdir_p(const char *path, int mode, cs_err *err)
{
	char *p = cs_xstrdup(path), *s;
	struct stat st;
	int rc = 0;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			rc = cs_err_set(err, CS_EIO,
			                "cannot create directory %s: %s", p,
			                strerror(errno));
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, (mode_t)mode) != 0) {
		if (errno != EEXIST) {
			rc = cs_err_set(err, CS_EIO,
			                "cannot create directory %s: %s", p,
			                strerror(errno));
			goto out;
		}
		if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			rc = cs_err_set(err, CS_EIO,
			                "%s exists and is not a directory", p);
	}
out:
	free(p);
	return rc;
}

char *cs_trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	s[n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	if (i)
		memmove(s, s + i, n - i + 1);
	return s;
}

int cs_read_file(const char *path, size_t max, cs_buf *out, cs_err *err)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0)
		return cs_err_set(err, errno == ENOENT ? CS_ENOTFOUND : CS_EIO,
		                  "cannot open %s: %s", path, strerror(errno));
	while ((r = read(fd, chunk, sizeof chunk)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return cs_err_set(err, CS_EIO, "cannot read %s: %s",
			                  path, strerror(errno));
		}
		if (out->len + (size_t)r > max) {
			close(fd);
			return cs_err_set(
			    err, CS_EINVAL,
			    "%s is larger than the limit of %zu bytes", path,
			    max);
		}
		cs_buf_append(out, chunk, (size_t)r);
	}
	close(fd);
	return 0;
}

size_t cs_utf8_seq(const char *s, size_t n, uint32_t *cp_out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, i;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		len = 1, cp = p[0];
		goto out;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
out:
	if (cp_out)
		*cp_out = cp;
	return len;
}

bool cs_utf8_valid(const char *s, size_t n, size_t *bad)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k;

		/* plain ASCII, eight bytes at a time */
		while (i + 8 <= n) {
			uint64_t w;

			memcpy(&w, p + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		if (p[i] < 0x80) { /* the tail of a short ASCII run */
			i++;
			continue;
		}
		k = cs_utf8_seq(s + i, n - i, NULL);
		if (k == 0) {
			*bad = i;
			return false;
		}
		i += k;
	}
	return true;
}

/* Append the n bytes at s to out as valid UTF-8, each byte that starts no
 * valid sequence as U+FFFD; with ctl_to_space, C0 controls and DEL too
 * become spaces. */
static void utf8_copy(const char *s, size_t n, bool ctl_to_space, cs_buf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k = cs_utf8_seq(s + i, n - i, NULL);

		if (k == 0) {
			cs_buf_puts(out, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
		} else if (k == 1 && ctl_to_space &&
		           (p[i] < 0x20 || p[i] == 0x7f)) {
			cs_buf_putc(out, ' ');
			i++;
		} else {
			cs_buf_append(out, p + i, k);
			i += k;
		}
	}
}

void cs_utf8_clean(const char *s, size_t max, cs_buf *out)
{
	size_t n = strlen(s);

	utf8_copy(s, n > max ? max : n, true, out);
}

void cs_utf8_repair(const char *s, size_t n, cs_buf *out)
{
	utf8_copy(s, n, false, out);
}

bool cs_is_loopback_host(const char *h)
{
	struct in_addr a4;
	struct in6_addr a6;

	/* IP literals only: a name such as 127.0.0.1.example.com is not */
	if (h == NULL)
		return false;
	if (strcmp(h, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

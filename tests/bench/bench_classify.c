/*
 * bench_classify.c - classifier throughput: messages per second on one
 * core, parse included, over every file of a corpus directory.
 *
 *   bench_classify SECONDS DIR
 *
 * Reads every file of DIR into memory first (file I/O is not measured),
 * then classifies them round-robin until SECONDS have passed and prints
 * "classify: N msgs/s (M files)" with N on its own as the second word.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls.h"

int main(int argc, char **argv)
{
	cs_buf *msgs = NULL;
	size_t n = 0, runs = 0, i;
	double secs;
	int64_t t0, dt;
	DIR *d;
	struct dirent *e;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_classify SECONDS DIR\n");
		return 2;
	}
	secs = atof(argv[1]);
	d = opendir(argv[2]);
	if (d == NULL) {
		perror(argv[2]);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		char *path;
		cs_buf b = CS_BUF_INIT;

		if (e->d_name[0] == '.')
			continue;
		path = cs_xasprintf("%s/%s", argv[2], e->d_name);
		if (cs_read_file(path, CLS_MAX_SCAN, &b, NULL) == 0) {
			msgs = cs_xrealloc(msgs, (n + 1) * sizeof *msgs);
			msgs[n++] = b;
		} else {
			cs_buf_free(&b);
		}
		free(path);
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "no files in %s\n", argv[2]);
		return 1;
	}
	t0 = cs_mono_ms();
	do {
		for (i = 0; i < n; i++) {
			cls_class c;

			cls_classify(cs_buf_str(&msgs[i]), msgs[i].len, &c,
			             NULL);
			cls_class_free(&c);
		}
		runs += n;
		dt = cs_mono_ms() - t0;
	} while (dt < (int64_t)(secs * 1000));
	printf("classify: %.0f msgs/s (%zu files)\n",
	       (double)runs * 1000.0 / (double)(dt ? dt : 1), n);
	for (i = 0; i < n; i++)
		cs_buf_free(&msgs[i]);
	free(msgs);
	return 0;
}

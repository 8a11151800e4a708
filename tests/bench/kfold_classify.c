/*
 * kfold_classify.c - the classifier built with its test-only phrase
 * registry (classify/cls_int.h, CLS_KFOLD), for the group-wise k-fold
 * measurement of tests/classify/kfold.py and the pattern listing of
 * tests/classify/test_patterns.py.  Never part of coldseq.
 *
 *   kfold_classify FILE...
 *
 * Classifies each file and prints, tab-separated, one line per result:
 *
 *   R FILE KIND RECIPIENT HARD REASON STATUS   (RECIPIENT "-" when none)
 *
 * With CLS_KFOLD_STATS set in the environment, also one line per phrase
 * that occurred in a text the classifier searched for it:
 *
 *   H FILE ID
 *
 * and at the end one line per phrase of every list:  P ID.  Phrases
 * whose ids are listed in the file CLS_KFOLD_DISABLE names are left out
 * of the classifier's tables.  Exit status 1 when a file cannot be read.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify/cls_int.h"

/* s with tabs and line ends made spaces (a field of the output) */
static void put_field(const char *s)
{
	putchar('\t');
	if (s == NULL || *s == '\0') {
		putchar('-');
		return;
	}
	for (; *s; s++)
		putchar(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

static void print_hit(const char *id, void *arg)
{
	printf("H\t%s\t%s\n", (const char *)arg, id);
}

static void print_id(const char *id, void *arg)
{
	(void)arg;
	printf("P\t%s\n", id);
}

int main(int argc, char **argv)
{
	bool stats = getenv("CLS_KFOLD_STATS") != NULL;
	int i, rc = 0;

	for (i = 1; i < argc; i++) {
		cs_buf b = CS_BUF_INIT;
		cls_class c;
		size_t k;

		if (cs_read_file(argv[i], CLS_MAX_SCAN, &b, NULL) != 0) {
			fprintf(stderr, "kfold_classify: cannot read %s\n",
			        argv[i]);
			cs_buf_free(&b);
			rc = 1;
			continue;
		}
		(void)cls_classify(cs_buf_str(&b), b.len, &c, NULL);
		for (k = 0; k < c.nrcpts || (k == 0 && c.nrcpts == 0); k++) {
			const cls_rcpt *r = c.nrcpts ? &c.rcpts[k] : NULL;

			printf("R");
			put_field(argv[i]);
			put_field(cls_kind_name(c.kind));
			put_field(r ? r->addr : NULL);
			put_field(r && r->hard ? "1" : "0");
			put_field(r ? r->reason : NULL);
			put_field(r ? r->status : NULL);
			putchar('\n');
		}
		if (stats)
			cls_kfold_hits(print_hit, argv[i]);
		cls_class_free(&c);
		cs_buf_free(&b);
	}
	if (stats)
		cls_kfold_all(print_id, NULL);
	return rc;
}

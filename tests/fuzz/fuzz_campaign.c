/*
 * fuzz_campaign.c - libFuzzer target for campaign files: the YAML parser
 * (libyaml) and every check against the database (inboxes, tags, lists,
 * templates, time zones, windows, delays).  A private database with one
 * inbox (tag t), one list and two templates is made on the first run; the
 * input is parsed and checked, never stored.  It must end with 0 or
 * CS_EINVAL and, on CS_EINVAL, at least one "FILE:LINE:" error line.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "sequencer/seq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static db *d;

static void setup(void)
{
	char tmpl[] = "/tmp/coldseq-fuzz-camp.XXXXXX", path[128];
	cs_err err = CS_ERR_INIT;
	db_inbox in;
	char *tags[1] = {"t"};
	int version;
	bool unchanged;
	db_import *im = NULL;
	db_import_row r;
	db_import_counts k;
	size_t first;
	const char *why;

	if (mkdtemp(tmpl) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/c.db", tmpl);
	if (db_open(path, DB_OPEN_CREATE, &d, &err) != 0)
		abort();
	memset(&in, 0, sizeof in);
	in.uuid = "u1";
	in.name = "user1";
	in.email = "user1@example.test";
	in.smtp_host = in.imap_host = "127.0.0.1";
	in.smtp_port = 587;
	in.imap_port = 993;
	in.timezone = "UTC";
	in.daily_cap = 30;
	in.tags = tags;
	in.ntags = 1;
	if (db_inbox_add(d, &in, NULL, 0, &err) != 0 ||
	    db_template_add(d, "a", "Subject: A\n\nHi.\n", NULL, true, false, 0,
	                    &version, &unchanged, &err) != 0 ||
	    db_template_add(d, "b", "\nAgain.\n", NULL, false, false, 0,
	                    &version, &unchanged, &err) != 0 ||
	    db_import_open(d, tmpl, &im, &err) != 0)
		abort();
	memset(&r, 0, sizeof r);
	r.email = "ann@example.com";
	if (db_import_check(im, r.email, 2, &first, &why) != DB_IMP_NEW ||
	    db_import_stage(im, 2, false, &r, &err) != 0 ||
	    db_import_commit(im, "l", NULL, 0, false, 0, NULL, NULL, &k,
	                     &err) != 0)
		abort();
	db_import_free(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	db_campaign c;
	cs_buf errors = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	int rc;

	if (d == NULL)
		setup();
	rc = seq_campaign_parse(d, "f.yaml", (const char *)data, size, &c,
	                        &errors, &err);
	if (rc == 0)
		db_campaign_free(&c);
	else if (rc != CS_EINVAL || strncmp(cs_buf_str(&errors), "f.yaml:", 7))
		abort();
	cs_buf_free(&errors);
	return 0;
}

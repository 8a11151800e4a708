/*
 * dr_report.c - the doctor's check list and report: adding lines, the
 * worst status, the failing "check.defect" words of an inbox, and
 * storing each inbox's verdict (db_doctor_verdict_set).
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"pass", "warn", "fail"};

const char *dr_status_name(dr_status s)
{
	return cs_enum_name(status_names, CS_NNAMES(status_names), (int)s);
}

/* The most bytes of one text a check keeps: records are echoed, and a
 * hostile zone's 64 KB TXT must not become a 64 KB report line (an SPF
 * record should fit in 450 bytes, RFC 7208 section 3.4). */
#define DR_TEXT_MAX 2000

void dr_clean_text(const char *s, size_t n, cs_buf *out)
{
	size_t i = 0, k;
	uint32_t cp;

	while (i < n && i < DR_TEXT_MAX) {
		k = cs_utf8_seq(s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			cs_buf_putc(out, '?');
			i += k ? k : 1;
		} else {
			cs_buf_append(out, s + i, k);
			i += k;
		}
	}
	if (i < n)
		cs_buf_puts(out, "...");
}

/* A check's text as it is kept: DNS data reaches every field (a record,
 * a name in it, a tag value quoted in why), and the fields go to a
 * terminal and into JSON, so no control character (C0, DEL, C1) and no
 * invalid UTF-8 survive. */
static char *clean_dup(const char *s)
{
	cs_buf b = CS_BUF_INIT;

	dr_clean_text(s, strlen(s), &b);
	cs_buf_puts(&b, "");
	return cs_buf_detach(&b, NULL);
}

static char *dup_or_null(const char *s)
{
	return s ? clean_dup(s) : NULL;
}

void dr_list_add(dr_list *l, const char *check, const char *defect,
                 dr_status status, const char *subject, const char *found,
                 const char *why, const char *fix)
{
	dr_check *c;

	l->v = cs_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	c = &l->v[l->n++];
	memset(c, 0, sizeof *c);
	snprintf(c->check, sizeof c->check, "%s", check);
	snprintf(c->defect, sizeof c->defect, "%s", defect ? defect : "");
	c->status = status;
	c->subject = clean_dup(subject ? subject : "");
	c->found = dup_or_null(found);
	c->why = clean_dup(why ? why : "");
	c->fix = status == DR_PASS ? NULL : dup_or_null(fix);
}

dr_status dr_list_worst(const dr_list *l)
{
	dr_status w = DR_PASS;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].status > w)
			w = l->v[i].status;
	return w;
}

void dr_list_free(dr_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->v[i].subject);
		free(l->v[i].found);
		free(l->v[i].why);
		free(l->v[i].fix);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void dr_report_free(dr_report *rep)
{
	size_t i, j;

	if (rep == NULL)
		return;
	for (i = 0; i < rep->ndomains; i++) {
		dr_domain_report *d = &rep->domains[i];

		free(d->domain);
		for (j = 0; j < d->ninboxes; j++)
			free(d->inboxes[j]);
		free(d->inboxes);
		dr_list_free(&d->checks);
	}
	free(rep->domains);
	for (i = 0; i < rep->ninboxes; i++) {
		free(rep->inboxes[i].name);
		free(rep->inboxes[i].email);
		dr_list_free(&rep->inboxes[i].checks);
	}
	free(rep->inboxes);
	memset(rep, 0, sizeof *rep);
}

const dr_domain_report *dr_report_domain(const dr_report *rep,
                                         const dr_inbox_report *in)
{
	size_t i;

	for (i = 0; i < rep->ndomains; i++)
		if (strcmp(rep->domains[i].domain, in->domain) == 0)
			return &rep->domains[i];
	return NULL;
}

static void add_failing(cs_buf *b, const dr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		char word[64];
		const char *s = cs_buf_str(b);
		size_t n;

		if (l->v[i].status != DR_FAIL)
			continue;
		n = (size_t)snprintf(word, sizeof word, "%s.%s", l->v[i].check,
		                     l->v[i].defect);
		/* each word once: look for it between commas */
		for (;;) {
			const char *hit = strstr(s, word);

			if (hit == NULL)
				break;
			if ((hit == cs_buf_str(b) || hit[-1] == ',') &&
			    (hit[n] == ',' || hit[n] == '\0'))
				goto next;
			s = hit + 1;
		}
		if (b->len)
			cs_buf_putc(b, ',');
		cs_buf_puts(b, word);
	next:;
	}
}

char *dr_report_failing(const dr_report *rep, const dr_inbox_report *in)
{
	const dr_domain_report *d = dr_report_domain(rep, in);
	cs_buf b = CS_BUF_INIT;

	if (d)
		add_failing(&b, &d->checks);
	add_failing(&b, &in->checks);
	cs_buf_puts(&b, "");
	return cs_buf_detach(&b, NULL);
}

int dr_report_store(db *d, const dr_report *rep, int64_t now, cs_err *err)
{
	size_t i;
	int rc;

	/* one transaction: hundreds of inboxes, one commit */
	if ((rc = db_begin(d, err)) != 0)
		return rc;
	for (i = 0; i < rep->ninboxes; i++) {
		const dr_inbox_report *in = &rep->inboxes[i];
		char *failing = dr_report_failing(rep, in);

		rc = db_doctor_verdict_set(
		    d, in->id, dr_status_name(in->verdict), failing, now, err);
		free(failing);
		if (rc != 0) {
			db_rollback(d);
			return rc;
		}
	}
	return db_commit(d, err);
}

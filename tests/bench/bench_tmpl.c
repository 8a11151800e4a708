/*
 * bench_tmpl.c - template render throughput: a realistic step (subject
 * spintax, fallbacks, a conditional, sender fields, an HTML part) rendered
 * for distinct contacts for N seconds on one core.  Prints
 * "render: MSGS_PER_SECOND".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/tmpl.h"

static const char src[] =
    "Subject: {Quick question|A thought|Idea} for {{company|your team}}\n"
    "\n"
    "{Hi|Hello|Hey} {{first_name|there}},\n\n"
    "{{#if company}}I saw what {{company}} is doing with {{Industry|your "
    "market}}.{{else}}I came across your profile.{{/if}} {We help|Our "
    "team helps} {teams like yours|companies like {{company|yours}}} "
    "{cut|reduce} {their|the} {cost of|time spent on} outreach.\n\n"
    "{Would|Could} a {short|quick} call on {{day_of_week}} {work|make "
    "sense}?\n\n{{sender.first_name}}\n{{sender.signature}}\n\n"
    "Not interested? {{unsubscribe_url}}\n"
    "--- html ---\n"
    "<style>p { margin: 0 0 1em 0; }</style>\n"
    "<p>{Hi|Hello|Hey} {{first_name|there}},</p>\n"
    "<p>{{#if company}}{{company}}{{else}}Your team{{/if}} {could|might} "
    "{save|gain} {hours|days}.</p>\n<p>{{sender.signature}}</p>\n";

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	tmpl *t = NULL;
	tmpl_out o = TMPL_OUT_INIT;
	tmpl_vars v;
	tmpl_field f[8];
	tmpl_field sender[2] = {{"first_name", "Sam"},
	                        {"signature", "Sam Sender\nExample Ltd"}};
	cs_err err = CS_ERR_INIT;
	char email[64], first[32], company[32];
	long long n = 0;
	int64_t t0, t1;

	if (tmpl_parse("bench", src, sizeof src - 1, &t, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	memset(&v, 0, sizeof v);
	f[0].name = "email";
	f[0].value = email;
	f[1].name = "first_name";
	f[1].value = first;
	f[2].name = "company";
	f[2].value = company;
	f[3].name = "Industry";
	f[3].value = "logistics";
	v.fields = f;
	v.nfields = 4;
	v.sender = sender;
	v.nsender = 2;
	v.unsubscribe_url = "https://u.example/unsub?t=QdfJKzECBVEVO4UKakYIOP";
	v.timezone = NULL; /* UTC: day_of_week still goes through ICU */
	v.now_ms = 1795723200000LL;
	t0 = cs_mono_ms();
	do {
		int k;

		for (k = 0; k < 1000; k++, n++) {
			snprintf(email, sizeof email, "user%lld@example.com",
			         n);
			snprintf(first, sizeof first, "F%lld", n);
			snprintf(company, sizeof company,
			         n % 3 ? "Co %lld" : "", n);
			v.seed = email;
			v.step = (int)(n % 4) + 1;
			if (tmpl_render(t, &v, &o, &err) != 0) {
				fprintf(stderr, "%s\n", err.msg);
				return 1;
			}
		}
		t1 = cs_mono_ms();
	} while ((double)(t1 - t0) < secs * 1000.0);
	printf("render: %.0f\n", (double)n * 1000.0 / (double)(t1 - t0));
	tmpl_out_free(&o);
	tmpl_free(t);
	return 0;
}

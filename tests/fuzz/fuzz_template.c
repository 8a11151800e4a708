/*
 * fuzz_template.c - libFuzzer target for the template parser and renderer.
 *
 * Any input is parsed; a refusal must carry a "name:line:column" message,
 * and an accepted template is rendered twice for the same contact and step,
 * which must give the same bytes (spintax is deterministic).  The
 * import checks (sender names, Subject length) run on it and a refusal
 * names the place as well.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "templates/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const tmpl_field fields[] = {
	    {"first_name", "Ann"}, {"company", "A&B"}, {"x", ""}};
	static const tmpl_field sender[] = {{"first_name", "Sam"}};
	static const char *const known[] = {"first_name", "email", NULL};
	tmpl *t = NULL;
	tmpl_out a = TMPL_OUT_INIT, b = TMPL_OUT_INIT;
	tmpl_vars v;
	cs_err err = CS_ERR_INIT;
	int ra, rb;

	if (tmpl_parse("f", (const char *)data, size, &t, &err) != 0) {
		if (strncmp(err.msg, "f:", 2) != 0)
			abort();
		return 0;
	}
	/* the import checks: a refusal names the place too */
	if ((tmpl_check_sender(t, known, &err) != 0 ||
	     tmpl_check_subject(t, 900, &err) != 0) &&
	    strncmp(err.msg, "f:", 2) != 0)
		abort();
	memset(&v, 0, sizeof v);
	v.fields = fields;
	v.nfields = 3;
	v.sender = sender;
	v.nsender = 1;
	v.unsubscribe_url = "https://u.example/t";
	v.timezone = "Europe/Berlin";
	v.now_ms = 1795723200000LL;
	v.seed = "ann@example.com";
	v.step = 2;
	ra = tmpl_render(t, &v, &a, NULL);
	rb = tmpl_render(t, &v, &b, NULL);
	if (ra != rb ||
	    (ra == 0 && (a.text.len != b.text.len ||
	                 memcmp(cs_buf_str(&a.text), cs_buf_str(&b.text),
	                        a.text.len) != 0)))
		abort();
	tmpl_out_free(&a);
	tmpl_out_free(&b);
	tmpl_free(t);
	return 0;
}

/*
 * test_tmpl.c - the template language, table-driven: what renders, and
 * where each refusal points (file:line:column and the caret).
 */
#include "unit.h"

#include "templates/tmpl.h"

static const tmpl_field contact[] = {
    {"email", "ann@example.com"}, {"first_name", "Ann"}, {"last_name", NULL},
    {"company", "A&B <Co>"},      {"Shoe Size", "42"},   {"title", "   "},
};
static const tmpl_field sender[] = {
    {"first_name", "Sam"},
    {"signature", "Sam\nExample Ltd"},
    {"title", ""},       /* given empty (an inbox without signature) */
    {"last_name", NULL}, /* not known */
};

static void vars(tmpl_vars *v, int step)
{
	memset(v, 0, sizeof *v);
	v->fields = contact;
	v->nfields = sizeof contact / sizeof contact[0];
	v->sender = sender;
	v->nsender = sizeof sender / sizeof sender[0];
	v->unsubscribe_url = "https://u.example/x?a=1&b=2";
	v->timezone = "Asia/Tokyo";
	/* 2026-11-26T20:00:00Z: Thursday in UTC, Friday in Tokyo */
	v->now_ms = 1795723200000LL;
	v->seed = "ann@example.com";
	v->step = step;
}

/* Render body text of "Subject: s\n\n" + body. */
static int render(const char *body, cs_buf *out, cs_err *err)
{
	cs_buf src = CS_BUF_INIT;
	tmpl *t = NULL;
	tmpl_out o = TMPL_OUT_INIT;
	tmpl_vars v;
	int rc;

	cs_buf_printf(&src, "Subject: s\n\n%s", body);
	rc = tmpl_parse("t.txt", src.data, src.len, &t, err);
	if (rc == 0) {
		vars(&v, 1);
		rc = tmpl_render(t, &v, &o, err);
		if (rc == 0)
			cs_buf_append(out, o.text.data, o.text.len);
	}
	tmpl_free(t);
	tmpl_out_free(&o);
	cs_buf_free(&src);
	return rc;
}

static void renders(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"Hi {{first_name}}", "Hi Ann"},
	    {"Hi {{ first_name }}", "Hi Ann"},
	    {"Hi {{FIRST-NAME}}", "Hi Ann"},
	    {"{{last_name|friend}}", "friend"},
	    {"{{title|no title}}", "no title"}, /* blank counts as missing */
	    {"{{shoe_size}} {{Shoe Size}}", "42 42"},
	    {"{{sender.first_name}}", "Sam"},
	    {"{{sender.signature}}", "Sam\nExample Ltd"},
	    {"{{unsubscribe_url}}", "https://u.example/x?a=1&b=2"},
	    {"{{day_of_week}}", "Friday"},
	    {"{{#if company}}yes{{else}}no{{/if}}", "yes"},
	    {"{{#if last_name}}yes{{else}}no{{/if}}", "no"},
	    {"{{#if last_name}}{{last_name}}{{/if}}.", "."},
	    {"a {b} c", "a {b} c"},
	    {"p { color: red; }", "p { color: red; }"},
	    {"\\{a|b\\}", "{a|b}"},
	    {"x|y}", "x|y}"},
	    {"{a}", "{a}"},
	    {"{{{first_name}}|{{first_name}}}", "Ann"},
	    {"{{missing|}}x", "x"},
	    {"line1\r\nline2\r\n", "line1\nline2\n"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cs_buf out = CS_BUF_INIT;
		cs_err err = CS_ERR_INIT;

		if (render(cases[i].in, &out, &err) != 0)
			fail_msg("case %zu %s: %s", i, cases[i].in, err.msg);
		if (strcmp(cs_buf_str(&out), cases[i].want) != 0)
			fail_msg("case %zu %s: got \"%s\" want \"%s\"", i,
			         cases[i].in, cs_buf_str(&out), cases[i].want);
		cs_buf_free(&out);
	}
}

static void refusals(void **state)
{
	static const struct {
		const char *src, *want;
	} cases[] = {
	    {"Subject: s\n\nHi {{first_name\n", "t.txt:3:4: unclosed '{{'"},
	    {"Subject: s\n\nHi {{#each x}}{{/each}}\n",
	     "t.txt:3:6: unknown helper '#each'"},
	    {"Subject: s\n\n{{/each}}\n", "t.txt:3:3: unknown helper '/each'"},
	    {"Subject: s\n\nok\n  {Hi|Hello there\n",
	     "t.txt:4:3: unbalanced spintax"},
	    {"Subject: s\nHello there\n\nbody\n",
	     "t.txt:2:1: a header line without a colon"},
	    {"Subject: s\n\n{{#if company}}x\n",
	     "t.txt:3:1: {{#if company}} is never closed"},
	    {"Subject: s\n\n{{else}}\n", "t.txt:3:1: {{else}} without"},
	    {"Subject: s\n\n{{/if}}\n", "t.txt:3:1: {{/if}} without"},
	    {"Subject: s\n\n{{}}\n", "t.txt:3:1: empty tag"},
	    {"Subject: s\n\n{{a:b}}\n", "t.txt:3:3: 'a:b' is not a field"},
	    {"Subject: {{x\n\nbody\n", "t.txt:1:10: unclosed '{{'"},
	    {"From: me\n\nbody\n", "t.txt:1:1: unknown header 'From'"},
	    {"Subject: s\n\n  \n", "t.txt:3:1: the template has no body"},
	    {"Subject: s\n\n{{#if x}}{a|b{{/if}}}\n",
	     "t.txt:3:10: unbalanced spintax"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		tmpl *t = NULL;
		cs_err err = CS_ERR_INIT;

		if (tmpl_parse("t.txt", cases[i].src, strlen(cases[i].src), &t,
		               &err) == 0) {
			tmpl_free(t);
			fail_msg("case %zu parsed: %s", i, cases[i].src);
		}
		if (strncmp(err.msg, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: got \"%s\" want \"%s...\"", i,
			         err.msg, cases[i].want);
	}
}

static void caret_under_the_place(void **state)
{
	const char *src = "Subject: s\n\n\tHi {{first_name\n";
	tmpl *t = NULL;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(tmpl_parse("f.txt", src, strlen(src), &t, &err),
	                 CS_EINVAL);
	assert_string_equal(err.msg, "f.txt:3:5: unclosed '{{': a tag ends "
	                             "with '}}' on the same line\n"
	                             "    \tHi {{first_name\n"
	                             "    \t   ^");
}

static void missing_field_fails(void **state)
{
	cs_buf out = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(render("Hi\n{{last_name}}", &out, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "missing field last_name (t.txt:4:1"));
	assert_int_equal(render("{{sender.phone}}", &out, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "missing field sender.phone"));
	cs_buf_free(&out);
}

/* A sender field given as "" is an empty value (the inbox has no
 * signature), not a missing field; NULL stays missing, and a blank
 * contact field too ("Hi ," must not go out). */
static void empty_sender_field_is_a_value(void **state)
{
	cs_buf out = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(render("A{{sender.title}}B\n", &out, &err), 0);
	assert_string_equal(out.data, "AB\n");
	cs_buf_clear(&out);
	assert_int_equal(render("{{sender.title|x}}\n", &out, &err), 0);
	assert_string_equal(out.data, "x\n");
	cs_buf_clear(&out);
	assert_int_equal(
	    render("{{#if sender.title}}y{{else}}n{{/if}}\n", &out, &err), 0);
	assert_string_equal(out.data, "n\n");
	assert_int_equal(render("{{sender.last_name}}", &out, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "missing field sender.last_name"));
	assert_int_equal(render("{{title}}", &out, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "missing field title"));
	cs_buf_free(&out);
}

static void spintax_deterministic_per_contact_and_step(void **state)
{
	const char *src = "Subject: {A|B|C|D}\n\n{a|b|c|d|e|f|g|h} "
	                  "{1|{2|3}|4}\n";
	tmpl *t = NULL;
	tmpl_out o1 = TMPL_OUT_INIT, o2 = TMPL_OUT_INIT;
	tmpl_vars v;
	cs_err err = CS_ERR_INIT;
	int step, differ = 0;
	bool seen[8] = {false};

	(void)state;
	assert_int_equal(tmpl_parse("s", src, strlen(src), &t, &err), 0);
	for (step = 1; step <= 40; step++) {
		vars(&v, step);
		assert_int_equal(tmpl_render(t, &v, &o1, &err), 0);
		assert_int_equal(tmpl_render(t, &v, &o2, &err), 0);
		assert_string_equal(o1.text.data, o2.text.data);
		assert_string_equal(o1.subject.data, o2.subject.data);
		seen[o1.text.data[0] - 'a'] = true;
		v.seed = "bob@example.com";
		assert_int_equal(tmpl_render(t, &v, &o2, &err), 0);
		differ += strcmp(o1.text.data, o2.text.data) != 0;
	}
	for (step = 0; step < 8; step++)
		assert_true(seen[step]); /* every option comes up */
	assert_true(differ > 20);        /* contacts differ */
	tmpl_free(t);
	tmpl_out_free(&o1);
	tmpl_out_free(&o2);
}

static void html_part_escapes_values(void **state)
{
	const char *src = "Subject: {{company}}\n\ntext {{company}}\n"
	                  "--- html ---\n<p>{{company}} {{sender.signature}} "
	                  "<a href=\"{{unsubscribe_url}}\">x</a> "
	                  "{{nope|<b>hi</b>}}</p>\n";
	tmpl *t = NULL;
	tmpl_out o = TMPL_OUT_INIT;
	tmpl_vars v;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(tmpl_parse("h", src, strlen(src), &t, &err), 0);
	assert_true(tmpl_has_html(t));
	vars(&v, 1);
	assert_int_equal(tmpl_render(t, &v, &o, &err), 0);
	assert_string_equal(o.subject.data, "A&B <Co>");
	assert_string_equal(o.text.data, "text A&B <Co>\n");
	assert_string_equal(o.html.data,
	                    "<p>A&amp;B &lt;Co&gt; Sam<br>\nExample Ltd <a "
	                    "href=\"https://u.example/x?a=1&amp;b=2\">x</a> "
	                    "<b>hi</b></p>\n");
	tmpl_free(t);
	tmpl_out_free(&o);
}

static int count(const char *name, void *arg)
{
	(void)name;
	(*(int *)arg)++;
	return 0;
}

static void no_subject_is_follow_up_and_fields_listed(void **state)
{
	const char *src = "\nJust {{first_name}} {{First Name}} "
	                  "{{#if company}}{{sender.first_name}}{{/if}}\n";
	tmpl *t = NULL;
	cs_err err = CS_ERR_INIT;
	int n = 0;

	(void)state;
	assert_int_equal(tmpl_parse("f", src, strlen(src), &t, &err), 0);
	assert_false(tmpl_has_subject(t));
	assert_int_equal(tmpl_foreach_field(t, count, &n), 0);
	assert_int_equal(n, 3);
	tmpl_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(renders),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(caret_under_the_place),
	    cmocka_unit_test(missing_field_fails),
	    cmocka_unit_test(empty_sender_field_is_a_value),
	    cmocka_unit_test(spintax_deterministic_per_contact_and_step),
	    cmocka_unit_test(html_part_escapes_values),
	    cmocka_unit_test(no_subject_is_follow_up_and_fields_listed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

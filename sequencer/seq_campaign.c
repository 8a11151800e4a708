/*
 * seq_campaign.c - campaign files (YAML through libyaml): parse, check
 * against the database, and turn into a db_campaign.
 *
 * Every problem is reported, not only the first, each as "FILE:LINE:
 * what", so a user fixes a file in one round.  Nothing is stored here:
 * the caller stores the result only when the whole file is good.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

typedef struct pctx {
	db *d;
	const char *file;
	yaml_document_t doc;
	cs_buf *errors;
	int nerr;
	int first_line;
} pctx;

static void perr(pctx *p, const yaml_node_t *n, const char *fmt, ...)
    CS_PRINTF(3, 4);

static void perr(pctx *p, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int line = n ? (int)n->start_mark.line + 1 : 1;

	if (p->nerr++ == 0)
		p->first_line = line;
	cs_buf_printf(p->errors, "%s:%d: ", p->file, line);
	va_start(ap, fmt);
	cs_buf_vprintf(p->errors, fmt, ap);
	va_end(ap);
	cs_buf_putc(p->errors, '\n');
}

static yaml_node_t *node(pctx *p, int id)
{
	return yaml_document_get_node(&p->doc, id);
}

/* The scalar's text, or NULL (with an error naming key) when n is not a
 * scalar. */
static const char *scalar(pctx *p, yaml_node_t *n, const char *key)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE) {
		perr(p, n, "%s: expected a single value", key);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

static bool get_bool(pctx *p, yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", NULL};
	static const char *const no[] = {"false", "no", "off", NULL};
	const char *v = scalar(p, n, key);
	int i;

	if (v == NULL)
		return false;
	for (i = 0; yes[i]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return *out = true;
	for (i = 0; no[i]; i++)
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	perr(p, n, "%s: \"%s\" is not true or false", key, v);
	return false;
}

static bool get_int(pctx *p, yaml_node_t *n, const char *key, long lo, long hi,
                    int *out)
{
	const char *v = scalar(p, n, key);
	char *end;
	long x;

	if (v == NULL)
		return false;
	errno = 0;
	x = strtol(v, &end, 10);
	if (*v == '\0' || *end || errno || x < lo || x > hi) {
		perr(p, n, "%s: \"%s\" is not a number from %ld to %ld", key, v,
		     lo, hi);
		return false;
	}
	*out = (int)x;
	return true;
}

/* "HH:MM" into minutes after midnight; "24:00" allowed as an end. */
static bool get_hhmm(pctx *p, yaml_node_t *n, const char *key, int *out)
{
	const char *v = scalar(p, n, key);
	int h, m;

	if (v == NULL)
		return false;
	if (strlen(v) != 5 || !isdigit((unsigned char)v[0]) ||
	    !isdigit((unsigned char)v[1]) || v[2] != ':' ||
	    !isdigit((unsigned char)v[3]) || !isdigit((unsigned char)v[4]))
		goto bad;
	h = (v[0] - '0') * 10 + (v[1] - '0');
	m = (v[3] - '0') * 10 + (v[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		goto bad;
	*out = h * 60 + m;
	return true;
bad:
	perr(p, n, "%s: \"%s\" is not a time HH:MM (e.g. 09:00)", key, v);
	return false;
}

/* Suggest the nearest of words for an unknown key. */
static void unknown_key(pctx *p, yaml_node_t *k, const char *key,
                        const char *const *words)
{
	const char *best = NULL;
	int bd = 4, i;

	for (i = 0; words[i]; i++) {
		int dd = cs_edit_distance(key, words[i], 3);

		if (dd >= 0 && dd < bd) {
			bd = dd;
			best = words[i];
		}
	}
	if (best)
		perr(p, k, "unknown key '%s' (did you mean '%s'?)", key, best);
	else
		perr(p, k, "unknown key '%s'", key);
}

int seq_delay_parse(const char *s, int *amount, const char **unit)
{
	static const struct {
		const char *word, *unit;
	} units[] = {
	    {"minute", "minutes"},
	    {"minutes", "minutes"},
	    {"hour", "hours"},
	    {"hours", "hours"},
	    {"day", "days"},
	    {"days", "days"},
	    {"business day", "business_days"},
	    {"business days", "business_days"},
	};
	char *end;
	long n;
	size_t i;

	errno = 0;
	n = strtol(s, &end, 10);
	if (end == s || errno || n < 0 || n > 3650 || *end != ' ')
		return CS_EINVAL;
	while (*end == ' ')
		end++;
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(end, units[i].word) == 0) {
			*amount = (int)n;
			*unit = units[i].unit;
			return 0;
		}
	return CS_EINVAL;
}

static void parse_window(pctx *p, yaml_node_t *n, db_campaign *c)
{
	static const char *const keys[] = {"days", "from", "to", NULL};
	static const char *const wd[] = {"sun", "mon", "tue", "wed",
	                                 "thu", "fri", "sat"};
	yaml_node_pair_t *pr;

	if (n->type != YAML_MAPPING_NODE) {
		perr(p, n,
		     "window: expected {days: [...], from: HH:MM, to: "
		     "HH:MM}");
		return;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = node(p, pr->key), *v = node(p, pr->value);
		const char *key = scalar(p, k, "window key");

		if (key == NULL)
			continue;
		if (strcmp(key, "days") == 0) {
			yaml_node_item_t *it;

			if (v->type != YAML_SEQUENCE_NODE) {
				perr(p, v,
				     "window.days: expected a list such "
				     "as [mon, tue, wed, thu, fri]");
				continue;
			}
			c->window_days = 0;
			for (it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				yaml_node_t *dn = node(p, *it);
				const char *dv = scalar(p, dn, "window.days");
				int w;

				if (dv == NULL)
					continue;
				for (w = 0; w < 7; w++)
					if (strncasecmp(dv, wd[w], 3) == 0 &&
					    strlen(dv) >= 3)
						break;
				if (w == 7)
					perr(p, dn,
					     "window.days: \"%s\" is not a day "
					     "(mon, tue, wed, thu, fri, sat, "
					     "sun)",
					     dv);
				else
					c->window_days |= 1 << w;
			}
			if (c->window_days == 0)
				perr(p, v, "window.days: no day given");
		} else if (strcmp(key, "from") == 0)
			get_hhmm(p, v, "window.from", &c->window_from);
		else if (strcmp(key, "to") == 0)
			get_hhmm(p, v, "window.to", &c->window_to);
		else
			unknown_key(p, k, key, keys);
	}
	if (c->window_from >= c->window_to)
		perr(p, n, "window: 'from' must be before 'to'");
}

/* One inbox selector: a name, tag:T or all. */
static void check_selector(pctx *p, yaml_node_t *n, const char *sel)
{
	cs_err err = CS_ERR_INIT;

	if (strcmp(sel, "all") == 0)
		return;
	if (strncmp(sel, "tag:", 4) == 0) {
		db_inbox *list = NULL;
		size_t k = 0;

		if (db_inbox_list(p->d, sel + 4, &list, &k, &err) != 0)
			perr(p, n, "inboxes: %s", err.msg);
		else if (k == 0)
			perr(p, n, "inboxes: no inbox has the tag '%s'",
			     sel + 4);
		db_inbox_list_free(list, k);
		return;
	}
	{
		db_inbox in;

		memset(&in, 0, sizeof in);
		if (db_inbox_get(p->d, sel, &in, &err) != 0)
			perr(p, n,
			     "inboxes: no inbox named '%s' (see 'coldseq "
			     "inbox list'; tags are written tag:NAME)",
			     sel);
		db_inbox_free(&in);
	}
}

static void parse_inboxes(pctx *p, yaml_node_t *n, db_campaign *c)
{
	cs_buf sel = CS_BUF_INIT;

	if (n->type == YAML_SCALAR_NODE) {
		const char *v = (const char *)n->data.scalar.value;

		check_selector(p, n, v);
		cs_buf_puts(&sel, v);
	} else if (n->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it;

		for (it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			yaml_node_t *in = node(p, *it);
			const char *v = scalar(p, in, "inboxes");

			if (v == NULL)
				continue;
			if (strchr(v, ' ')) {
				perr(p, in, "inboxes: \"%s\" has a space", v);
				continue;
			}
			check_selector(p, in, v);
			if (sel.len)
				cs_buf_putc(&sel, ' ');
			cs_buf_puts(&sel, v);
		}
	} else
		perr(p, n,
		     "inboxes: expected a list of inbox names, tag:NAME "
		     "or all");
	if (sel.len == 0)
		perr(p, n, "inboxes: no inbox given");
	free(c->inboxes);
	c->inboxes = cs_buf_detach(&sel, NULL);
}

static void add_variant(pctx *p, yaml_node_t *n, db_step *s, bool need_subj,
                        const char *why)
{
	const char *name = scalar(p, n, "template");
	db_template t;
	cs_err err = CS_ERR_INIT;

	if (name == NULL)
		return;
	if (db_template_get(p->d, name, 0, &t, &err) != 0) {
		perr(p, n,
		     "step %d: no template named '%s' (import it with "
		     "'coldseq template import FILE')",
		     s->step, name);
		return;
	}
	if (need_subj && !t.has_subject)
		perr(p, n, "step %d: template '%s' has no Subject: %s", s->step,
		     name, why);
	s->variants =
	    cs_xrealloc(s->variants, (s->nvariants + 1) * sizeof *s->variants);
	s->variants[s->nvariants].template_version_id = t.version_id;
	s->variants[s->nvariants].template_name = cs_xstrdup(t.name);
	s->variants[s->nvariants].assigned = 0;
	s->nvariants++;
	db_template_free(&t);
}

static void parse_step(pctx *p, yaml_node_t *n, db_campaign *c)
{
	static const char *const keys[] = {"template", "delay", "new_thread",
	                                   NULL};
	yaml_node_t *tn = NULL, *dn = NULL, *nt = NULL;
	yaml_node_pair_t *pr;
	db_step *s;

	c->steps = cs_xrealloc(c->steps, (c->nsteps + 1) * sizeof *c->steps);
	s = &c->steps[c->nsteps++];
	memset(s, 0, sizeof *s);
	s->step = (int)c->nsteps;
	s->delay_unit = cs_xstrdup("days");
	if (n->type != YAML_MAPPING_NODE) {
		perr(p, n, "step %d: expected {template: NAME, delay: ...}",
		     s->step);
		return;
	}
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = node(p, pr->key), *v = node(p, pr->value);
		const char *key = scalar(p, k, "step key");

		if (key == NULL)
			continue;
		if (strcmp(key, "template") == 0)
			tn = v;
		else if (strcmp(key, "delay") == 0)
			dn = v;
		else if (strcmp(key, "new_thread") == 0)
			nt = v;
		else
			unknown_key(p, k, key, keys);
	}
	if (nt)
		get_bool(p, nt, "new_thread", &s->new_thread);
	if (s->step == 1 && nt && s->new_thread)
		perr(p, nt, "step 1: new_thread applies to follow-up steps");
	if (dn) {
		const char *v = scalar(p, dn, "delay");
		const char *unit;

		if (s->step == 1)
			perr(p, dn,
			     "step 1 has no delay: it goes when the "
			     "contact is enrolled");
		else if (v && seq_delay_parse(v, &s->delay_amount, &unit) != 0)
			perr(p, dn,
			     "step %d: delay \"%s\" is not like \"3 days\", "
			     "\"2 business days\", \"4 hours\" or \"30 "
			     "minutes\"",
			     s->step, v);
		else if (v) {
			free(s->delay_unit);
			s->delay_unit = cs_xstrdup(unit);
		}
	} else if (s->step > 1)
		perr(p, n, "step %d: no delay (e.g. delay: 3 days)", s->step);
	if (tn == NULL) {
		perr(p, n, "step %d: no template", s->step);
		return;
	}
	{
		bool need = s->step == 1 || s->new_thread;
		const char *why = s->step == 1
		                      ? "the first step starts the thread"
		                      : "a new thread needs its own subject";

		if (tn->type == YAML_SEQUENCE_NODE) {
			yaml_node_item_t *it;

			for (it = tn->data.sequence.items.start;
			     it < tn->data.sequence.items.top; it++)
				add_variant(p, node(p, *it), s, need, why);
			if (tn->data.sequence.items.top ==
			    tn->data.sequence.items.start)
				perr(p, tn, "step %d: empty template list",
				     s->step);
		} else
			add_variant(p, tn, s, need, why);
	}
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64 || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static void parse_root(pctx *p, yaml_node_t *root, db_campaign *c)
{
	static const char *const keys[] = {"name",
	                                   "list",
	                                   "inboxes",
	                                   "timezone",
	                                   "window",
	                                   "send_in_contact_timezone",
	                                   "new_contacts_per_day",
	                                   "esp_match",
	                                   "stop_on_auto_reply",
	                                   "stop_company_on_reply",
	                                   "allow_parallel",
	                                   "steps",
	                                   NULL};
	yaml_node_pair_t *pr;
	bool have_inboxes = false, have_steps = false;

	for (pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(p, pr->key), *v = node(p, pr->value);
		const char *key = scalar(p, k, "key"), *s;

		if (key == NULL)
			continue;
		if (strcmp(key, "name") == 0) {
			if ((s = scalar(p, v, "name")) == NULL)
				continue;
			if (!valid_name(s))
				perr(p, v,
				     "name: \"%s\" must be 1-64 letters, "
				     "digits, '.', '_' or '-'",
				     s);
			free(c->name);
			c->name = cs_xstrdup(s);
		} else if (strcmp(key, "list") == 0) {
			bool ok = false;
			cs_err err = CS_ERR_INIT;

			if ((s = scalar(p, v, "list")) == NULL)
				continue;
			if (db_list_exists(p->d, s, &ok, &err) != 0 || !ok)
				perr(p, v,
				     "list: no contact list named '%s' "
				     "(import contacts with --list %s)",
				     s, s);
			free(c->list);
			c->list = cs_xstrdup(s);
		} else if (strcmp(key, "inboxes") == 0) {
			have_inboxes = true;
			parse_inboxes(p, v, c);
		} else if (strcmp(key, "timezone") == 0) {
			if ((s = scalar(p, v, "timezone")) == NULL)
				continue;
			if (!cs_tz_valid(s))
				perr(p, v,
				     "timezone: \"%s\" is not an IANA time "
				     "zone (e.g. Europe/Berlin)",
				     s);
			free(c->timezone);
			c->timezone = cs_xstrdup(s);
		} else if (strcmp(key, "window") == 0)
			parse_window(p, v, c);
		else if (strcmp(key, "send_in_contact_timezone") == 0)
			get_bool(p, v, key, &c->contact_tz);
		else if (strcmp(key, "new_contacts_per_day") == 0)
			get_int(p, v, key, 1, 100000, &c->new_per_day);
		else if (strcmp(key, "esp_match") == 0)
			get_bool(p, v, key, &c->esp_match);
		else if (strcmp(key, "stop_on_auto_reply") == 0)
			get_bool(p, v, key, &c->stop_on_auto_reply);
		else if (strcmp(key, "stop_company_on_reply") == 0)
			get_bool(p, v, key, &c->stop_company);
		else if (strcmp(key, "allow_parallel") == 0)
			get_bool(p, v, key, &c->allow_parallel);
		else if (strcmp(key, "steps") == 0) {
			yaml_node_item_t *it;

			have_steps = true;
			if (v->type != YAML_SEQUENCE_NODE) {
				perr(p, v, "steps: expected a list of steps");
				continue;
			}
			for (it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++)
				parse_step(p, node(p, *it), c);
			if (c->nsteps == 0)
				perr(p, v, "steps: the list is empty");
		} else
			unknown_key(p, k, key, keys);
	}
	if (c->name == NULL)
		perr(p, root, "no name (e.g. name: q1-founders)");
	if (!have_inboxes)
		perr(p, root,
		     "no inboxes (e.g. inboxes: [sales1, tag:clientA] or "
		     "inboxes: all)");
	if (!have_steps)
		perr(p, root, "no steps");
}

/* Every mapping at every level (root, window, steps, ...): a key given
 * twice is an error naming both lines, where libyaml would keep both
 * and the parser would silently take the last. */
static void check_dup_keys(pctx *p, yaml_node_t *n, int depth)
{
	yaml_node_pair_t *a, *b;
	yaml_node_item_t *it;

	if (n == NULL || depth > 64)
		return;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++)
			check_dup_keys(p, node(p, *it), depth + 1);
		return;
	}
	if (n->type != YAML_MAPPING_NODE)
		return;
	for (a = n->data.mapping.pairs.start; a < n->data.mapping.pairs.top;
	     a++) {
		yaml_node_t *ka = node(p, a->key);

		check_dup_keys(p, node(p, a->value), depth + 1);
		if (ka == NULL || ka->type != YAML_SCALAR_NODE)
			continue;
		for (b = n->data.mapping.pairs.start; b < a; b++) {
			yaml_node_t *kb = node(p, b->key);

			if (kb && kb->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)ka->data.scalar.value,
			           (const char *)kb->data.scalar.value) == 0) {
				perr(p, ka,
				     "'%s' is given twice (lines %d and %d); "
				     "give it once",
				     (const char *)ka->data.scalar.value,
				     (int)kb->start_mark.line + 1,
				     (int)ka->start_mark.line + 1);
				break;
			}
		}
	}
}

/* The first line (1-based) up to `last` whose indentation holds a tab,
 * or 0.  YAML forbids tabs there, and libyaml's own words for it ("found
 * character that cannot start any token") do not say so. */
static int tab_indent_line(const char *src, size_t len, size_t last)
{
	size_t i = 0, line = 0;

	while (i < len && line <= last) {
		for (; i < len && (src[i] == ' ' || src[i] == '\t'); i++)
			if (src[i] == '\t')
				return (int)line + 1;
		while (i < len && src[i] != '\n')
			i++;
		i++;
		line++;
	}
	return 0;
}

int seq_campaign_parse(db *d, const char *file, const char *src, size_t len,
                       db_campaign *out, cs_buf *errors, cs_err *err)
{
	yaml_parser_t parser;
	pctx p;
	yaml_node_t *root;
	cs_buf tz = CS_BUF_INIT;
	int rc;

	memset(out, 0, sizeof *out);
	memset(&p, 0, sizeof p);
	p.d = d;
	p.file = file;
	p.errors = errors;
	if ((rc = db_config_get(d, "general.timezone", &tz, NULL, err)) != 0)
		return rc;
	out->timezone = cs_buf_detach(&tz, NULL);
	out->window_days = 0x3e; /* mon-fri */
	out->window_from = 9 * 60;
	out->window_to = 17 * 60;
	out->contact_tz = true;
	out->new_per_day = 50;
	out->source = cs_xstrndup(src, len);
	out->file = cs_xstrdup(file);
	if (memchr(src, '\0', len)) {
		db_campaign_free(out);
		cs_buf_printf(
		    errors, "%s:1: holds a NUL byte: not a text file\n", file);
		return cs_err_set(err, CS_EINVAL,
		                  "%s:1: holds a NUL byte: not a text file",
		                  file);
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)src, len);
	if (!yaml_parser_load(&parser, &p.doc)) {
		int tab = tab_indent_line(src, len, parser.problem_mark.line);

		if (tab)
			rc = cs_err_set(err, CS_EINVAL,
			                "%s:%d: tabs are not allowed for "
			                "indentation (line %d): indent with "
			                "spaces",
			                file, tab, tab);
		else
			rc = cs_err_set(err, CS_EINVAL, "%s:%zu: YAML: %s%s%s",
			                file, parser.problem_mark.line + 1,
			                parser.problem ? parser.problem
			                               : "syntax error",
			                parser.context ? " " : "",
			                parser.context ? parser.context : "");
		cs_buf_printf(errors, "%s\n", err->msg);
		yaml_parser_delete(&parser);
		db_campaign_free(out);
		return rc;
	}
	yaml_parser_delete(&parser);
	root = yaml_document_get_root_node(&p.doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE)
		perr(&p, root,
		     "a campaign file is a mapping (name: ..., steps: ...)");
	else {
		check_dup_keys(&p, root, 0);
		parse_root(&p, root, out);
	}
	yaml_document_delete(&p.doc);
	if (p.nerr) {
		/* the first problem in err; every problem in errors */
		const char *nl = strchr(errors->data, '\n');

		rc = cs_err_set(
		    err, CS_EINVAL, "%.*s%s",
		    (int)(nl ? nl - errors->data : (long)errors->len),
		    errors->data, p.nerr > 1 ? " (and more problems)" : "");
		db_campaign_free(out);
		return rc;
	}
	return 0;
}

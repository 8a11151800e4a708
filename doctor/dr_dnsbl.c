/*
 * dr_dnsbl.c - DNS block lists: the table of lists (built in, or a file
 * named by config doctor.blocklists), and what a list's answers mean.
 *
 * A question: IPv4 a.b.c.d -> d.c.b.a.ZONE A; a domain -> DOMAIN.ZONE A.
 * An answer in 127.0.0.0/8 is a listing whose last octets say why (each
 * list's codes); NXDOMAIN is "not listed".  Before believing a list we
 * ask its test entry (always listed) and a never-listed entry: a list
 * that does not list the first, lists the second, or answers in
 * 127.255.255.0/24 (Spamhaus' error codes: 252 typo, 254 query through a
 * public resolver, 255 too many queries) is "list_unusable" from this
 * resolver, never "listed".
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries no list has: an IP list never lists 127.0.0.1 (RFC 5782 5),
 * and no domain list lists a name under the reserved .invalid. */
#define NEG_IP     "127.0.0.1"
#define NEG_DOMAIN "never-listed.invalid"

/* pairs of (code, meaning); a long meaning is two literals joined */
/* NOLINTBEGIN(bugprone-suspicious-missing-comma) */
static const char *const zen_codes[] = {
    "127.0.0.2",
    "SBL: a spam source or spam operation (Spamhaus Block List)",
    "127.0.0.3",
    "SBL CSS: a source of low-reputation snowshoe mail",
    "127.0.0.4",
    "XBL: a hijacked or infected machine (exploits, CBL)",
    "127.0.0.5",
    "XBL: a hijacked or infected machine",
    "127.0.0.6",
    "XBL: a hijacked or infected machine",
    "127.0.0.7",
    "XBL: a hijacked or infected machine",
    "127.0.0.9",
    "SBL DROP: a hijacked network (Don't Route Or Peer)",
    "127.0.0.10",
    "PBL (ISP): an address that should not send direct to MX; "
    "relay through your provider's smarthost",
    "127.0.0.11",
    "PBL (Spamhaus): an address that should not send direct "
    "to MX; relay through a smarthost",
    NULL};
/* NOLINTEND(bugprone-suspicious-missing-comma) */
static const char *const dbl_codes[] = {
    "127.0.1.2",   "spam domain",
    "127.0.1.4",   "phishing domain",
    "127.0.1.5",   "malware domain",
    "127.0.1.6",   "botnet command-and-control domain",
    "127.0.1.102", "abused legitimate domain (spam)",
    "127.0.1.103", "abused legitimate redirector (spam)",
    "127.0.1.104", "abused legitimate domain (phishing)",
    "127.0.1.105", "abused legitimate domain (malware)",
    "127.0.1.106", "abused legitimate domain (botnet C&C)",
    NULL};
static const char *const listed_codes[] = {"127.0.0.2", "listed", NULL};

static const struct {
	const char *zone;
	dr_bl_kind kind;
	const char *test;
	const char *const *codes;
} builtin[] = {
    {"zen.spamhaus.org", DR_BL_IP, "127.0.0.2", zen_codes},
    {"dbl.spamhaus.org", DR_BL_DOMAIN, "dbltest.com", dbl_codes},
    {"bl.spamcop.net", DR_BL_IP, "127.0.0.2", listed_codes},
    {"b.barracudacentral.org", DR_BL_IP, "127.0.0.2", listed_codes},
    {"psbl.surriel.com", DR_BL_IP, "127.0.0.2", listed_codes},
};

static void add_code(dr_blocklist *l, const char *code, const char *meaning)
{
	l->codes = cs_xrealloc(l->codes, (l->ncodes + 1) * sizeof *l->codes);
	l->codes[l->ncodes].code = cs_xstrdup(code);
	l->codes[l->ncodes].meaning = cs_xstrdup(meaning);
	l->ncodes++;
}

static dr_blocklist *add_list(dr_blocklists *b, const char *zone,
                              dr_bl_kind kind, const char *test)
{
	dr_blocklist *l;

	b->v = cs_xrealloc(b->v, (b->n + 1) * sizeof *b->v);
	l = &b->v[b->n++];
	memset(l, 0, sizeof *l);
	l->zone = cs_xstrdup(zone);
	l->kind = kind;
	l->test = cs_xstrdup(test);
	return l;
}

void dr_blocklists_default(dr_blocklists *out)
{
	size_t i, j;

	memset(out, 0, sizeof *out);
	for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
		dr_blocklist *l = add_list(out, builtin[i].zone,
		                           builtin[i].kind, builtin[i].test);

		for (j = 0; builtin[i].codes[j]; j += 2)
			add_code(l, builtin[i].codes[j],
			         builtin[i].codes[j + 1]);
	}
}

void dr_blocklists_free(dr_blocklists *b)
{
	size_t i, j;

	if (b == NULL)
		return;
	for (i = 0; i < b->n; i++) {
		for (j = 0; j < b->v[i].ncodes; j++) {
			free(b->v[i].codes[j].code);
			free(b->v[i].codes[j].meaning);
		}
		free(b->v[i].codes);
		free(b->v[i].zone);
		free(b->v[i].test);
	}
	free(b->v);
	memset(b, 0, sizeof *b);
}

static bool is_ip4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

/* A DNS name: labels of letters, digits, '-' and '_', 1..63 each. */
static bool is_name(const char *s)
{
	size_t label = 0, total = strlen(s);
	const char *p;

	if (total == 0 || total > 253 || s[0] == '.' || s[total - 1] == '.')
		return false;
	for (p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (isalnum((unsigned char)*p) || *p == '-' ||
		           *p == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* One line of a lists file into b: 0, or CS_EINVAL with why. */
static int parse_line(char *line, dr_blocklists *b, char *why, size_t cap)
{
	char *save = NULL, *zone, *kind, *test, *tok;
	dr_blocklist *l;
	cs_buf meaning = CS_BUF_INIT;
	char *code = NULL;
	dr_bl_kind k;

	zone = strtok_r(line, " \t", &save);
	kind = strtok_r(NULL, " \t", &save);
	test = strtok_r(NULL, " \t", &save);
	if (zone == NULL)
		return 0;
	if (kind == NULL || test == NULL) {
		snprintf(
		    why, cap,
		    "want \"ZONE ip|domain TEST-ENTRY [CODE=MEANING ...]\"");
		return CS_EINVAL;
	}
	lower(zone);
	lower(test);
	if (!is_name(zone)) {
		snprintf(why, cap, "'%.64s' is not a DNS zone name", zone);
		return CS_EINVAL;
	}
	if (strcmp(kind, "ip") == 0)
		k = DR_BL_IP;
	else if (strcmp(kind, "domain") == 0)
		k = DR_BL_DOMAIN;
	else {
		snprintf(why, cap, "'%.32s' is neither ip nor domain", kind);
		return CS_EINVAL;
	}
	if (k == DR_BL_IP ? !is_ip4(test) : !is_name(test)) {
		snprintf(why, cap, "test entry '%.64s' is not %s", test,
		         k == DR_BL_IP ? "an IPv4 address" : "a domain");
		return CS_EINVAL;
	}
	l = add_list(b, zone, k, test);
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		char *eq = strchr(tok, '=');

		if (eq) {
			if (code)
				add_code(l, code, cs_buf_str(&meaning));
			*eq = '\0';
			if (!is_ip4(tok) || strncmp(tok, "127.", 4) != 0) {
				snprintf(why, cap,
				         "code '%.32s' is not an address in "
				         "127.0.0.0/8",
				         tok);
				cs_buf_free(&meaning);
				return CS_EINVAL;
			}
			code = tok;
			cs_buf_clear(&meaning);
			cs_buf_puts(&meaning, eq + 1);
		} else if (code) {
			if (meaning.len)
				cs_buf_putc(&meaning, ' ');
			cs_buf_puts(&meaning, tok);
		} else {
			snprintf(why, cap, "'%.32s' is not CODE=MEANING", tok);
			cs_buf_free(&meaning);
			return CS_EINVAL;
		}
	}
	if (code)
		add_code(l, code, cs_buf_str(&meaning));
	cs_buf_free(&meaning);
	return 0;
}

int dr_blocklists_load(const char *path, dr_blocklists *out, cs_err *err)
{
	cs_buf text = CS_BUF_INIT;
	char *p, *nl;
	int lineno = 0;

	memset(out, 0, sizeof *out);
	if (cs_read_file(path, 1 << 20, &text, err) != 0)
		return cs_err_prefix(err, "doctor.blocklists");
	for (p = text.data; p && *p; p = nl ? nl + 1 : NULL) {
		char why[160];
		char *hash;

		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		if ((hash = strchr(p, '#')) != NULL)
			*hash = '\0';
		if (strchr(p, '\r'))
			*strchr(p, '\r') = '\0';
		if (parse_line(p, out, why, sizeof why) != 0) {
			cs_buf_free(&text);
			dr_blocklists_free(out);
			return cs_err_set(err, CS_EINVAL,
			                  "%s:%d: %s (doctor.blocklists)", path,
			                  lineno, why);
		}
	}
	cs_buf_free(&text);
	if (out->n == 0)
		return cs_err_set(err, CS_EINVAL,
		                  "%s: no block list in it (doctor.blocklists)",
		                  path);
	return 0;
}

/* The question for subject on zone: "d.c.b.a.ZONE" or "DOMAIN.ZONE". */
static char *qname(dr_bl_kind kind, const char *subject, const char *zone)
{
	unsigned a, b, c, d;

	if (kind == DR_BL_IP) {
		if (!is_ip4(subject) ||
		    sscanf(subject, "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
			return NULL;
		return cs_xasprintf("%u.%u.%u.%u.%s", d, c, b, a, zone);
	}
	return cs_xasprintf("%s.%s", subject, zone);
}

static void noop(void *arg, const net_dns_answer *a)
{
	(void)arg;
	(void)a;
}

static void ask_async(net_dns *r, dr_bl_kind kind, const char *subject,
                      const char *zone, bool txt)
{
	char *q = qname(kind, subject, zone);

	if (q == NULL)
		return;
	net_dns_query(r, q, NET_DNS_A, noop, NULL);
	if (txt)
		net_dns_query(r, q, NET_DNS_TXT, noop, NULL);
	free(q);
}

void dr_dnsbl_prefetch(net_dns *r, const dr_blocklists *b, dr_bl_kind kind,
                       const char *subject)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		const dr_blocklist *l = &b->v[i];

		if (l->kind != kind)
			continue;
		ask_async(r, kind, l->test, l->zone, false);
		ask_async(r, kind, kind == DR_BL_IP ? NEG_IP : NEG_DOMAIN,
		          l->zone, false);
		ask_async(r, kind, subject, l->zone, false);
	}
}

typedef enum {
	BL_NOT_LISTED,
	BL_LISTED,
	BL_UNUSABLE /* why in the text */
} bl_state;

/* Ask subject on l: the state, the answer's first code into code. */
static bl_state lookup(net_dns *r, const dr_blocklist *l, const char *subject,
                       char *code, size_t cap, char *why, size_t wcap)
{
	char *q = qname(l->kind, subject, l->zone);
	net_dns_answer *a;
	bl_state st = BL_NOT_LISTED;
	size_t i;

	code[0] = '\0';
	if (q == NULL) {
		snprintf(why, wcap, "%s is not an address", subject);
		return BL_UNUSABLE;
	}
	a = net_dns_query_sync(r, q, NET_DNS_A);
	if (a->status == NET_DNS_ERROR) {
		snprintf(why, wcap, "%s: %s", q, a->error);
		st = BL_UNUSABLE;
	} else if (a->status == NET_DNS_OK) {
		for (i = 0; i < a->n; i++) {
			const char *t = a->rr[i].text;

			if (strncmp(t, "127.255.255.", 12) == 0 ||
			    strncmp(t, "127.", 4) != 0) {
				snprintf(code, cap, "%s", t);
				snprintf(why, wcap,
				         "%s answered %s, an error code (%s)",
				         q, t,
				         strncmp(t, "127.", 4) != 0
				             ? "not in 127.0.0.0/8"
				             : "the list refuses this resolver "
				               "or its query volume");
				st = BL_UNUSABLE;
				break;
			}
			if (st == BL_NOT_LISTED) {
				snprintf(code, cap, "%s", t);
				st = BL_LISTED;
			}
		}
	}
	net_dns_answer_unref(a);
	free(q);
	return st;
}

static const char *meaning_of(const dr_blocklist *l, const char *code)
{
	size_t i;

	for (i = 0; i < l->ncodes; i++)
		if (strcmp(l->codes[i].code, code) == 0)
			return l->codes[i].meaning;
	return NULL;
}

/* Whether l answers as a working list from this resolver: its test entry
 * listed, the never-listed entry not, no error codes; else why. */
static bool usable(net_dns *r, const dr_blocklist *l, char *why, size_t cap)
{
	char code[64];
	bl_state st;

	st = lookup(r, l, l->test, code, sizeof code, why, cap);
	if (st == BL_UNUSABLE)
		return false;
	if (st != BL_LISTED) {
		snprintf(why, cap, "its test entry %s is not listed", l->test);
		return false;
	}
	st = lookup(r, l, l->kind == DR_BL_IP ? NEG_IP : NEG_DOMAIN, code,
	            sizeof code, why, cap);
	if (st == BL_UNUSABLE)
		return false;
	if (st == BL_LISTED) {
		snprintf(why, cap, "it lists %s, which no list lists (%s)",
		         l->kind == DR_BL_IP ? NEG_IP : NEG_DOMAIN, code);
		return false;
	}
	return true;
}

static const char unusable_fix[] =
    "ask through your own recursive resolver (not a public one such as "
    "8.8.8.8, and not a shared cloud resolver), set it with 'coldseq "
    "config set dns.servers', or use the list's paid or registered "
    "access (e.g. a Spamhaus DQS key: a blocklists file, 'coldseq config "
    "set doctor.blocklists FILE')";

void dr_dnsbl_check(net_dns *r, const dr_blocklists *b, dr_bl_kind kind,
                    const char *subject, dr_list *out)
{
	cs_buf clean = CS_BUF_INIT;
	size_t i;
	bool any = false;

	if (kind == DR_BL_IP && !is_ip4(subject))
		return;
	for (i = 0; i < b->n; i++) {
		const dr_blocklist *l = &b->v[i];
		char why[256], code[64], *subj;
		bl_state st;

		if (l->kind != kind)
			continue;
		any = true;
		subj = cs_xasprintf("%s on %s", subject, l->zone);
		if (!usable(r, l, why, sizeof why)) {
			char *w = cs_xasprintf(
			    "the list %s gives no usable answer from this "
			    "resolver: %s; a listing there would go unseen",
			    l->zone, why);

			dr_list_add(out, "blocklist", "list_unusable", DR_WARN,
			            subj, NULL, w, unusable_fix);
			free(w);
			free(subj);
			continue;
		}
		st = lookup(r, l, subject, code, sizeof code, why, sizeof why);
		if (st == BL_UNUSABLE) {
			char *w =
			    cs_xasprintf("no usable answer from %s for %s: %s",
			                 l->zone, subject, why);

			dr_list_add(out, "blocklist", "list_unusable", DR_WARN,
			            subj, code[0] ? code : NULL, w,
			            unusable_fix);
			free(w);
		} else if (st == BL_LISTED) {
			const char *m = meaning_of(l, code);
			char *q = qname(kind, subject, l->zone);
			net_dns_answer *t =
			    net_dns_query_sync(r, q, NET_DNS_TXT);
			cs_buf found = CS_BUF_INIT;
			char *w, *fix;

			cs_buf_printf(&found, "%s", code);
			if (t->status == NET_DNS_OK && t->n > 0) {
				cs_buf clean_txt = CS_BUF_INIT;

				cs_utf8_clean(t->rr[0].text, 300, &clean_txt);
				cs_buf_printf(&found, " \"%s\"",
				              cs_buf_str(&clean_txt));
				cs_buf_free(&clean_txt);
			}
			w = cs_xasprintf(
			    "%s is listed on %s (%s): receivers that consult "
			    "it refuse or junk its mail",
			    subject, l->zone, m ? m : "listed");
			fix = cs_xasprintf(
			    "find why on the list's site (the reason above), "
			    "stop the cause, then request removal from %s%s",
			    l->zone,
			    kind == DR_BL_IP
			        ? "; until then send through another host"
			        : "");
			dr_list_add(out, "blocklist", "listed", DR_FAIL, subj,
			            cs_buf_str(&found), w, fix);
			free(w);
			free(fix);
			free(q);
			cs_buf_free(&found);
			net_dns_answer_unref(t);
		} else {
			if (clean.len)
				cs_buf_puts(&clean, ", ");
			cs_buf_puts(&clean, l->zone);
		}
		free(subj);
	}
	if (any && clean.len) {
		char *subj =
		    cs_xasprintf("%s on %s", subject, cs_buf_str(&clean));

		dr_list_add(out, "blocklist", "", DR_PASS, subj, NULL,
		            "a listed address or domain has its mail refused "
		            "or junked by receivers that consult the list",
		            NULL);
		free(subj);
	}
	cs_buf_free(&clean);
}

/*
 * dr_spf.c - check_host() of RFC 7208: record selection (4.5), the whole
 * record parsed before anything is evaluated (4.6, 12), mechanisms and
 * modifiers (5, 6), macros (7), and the limits of 4.6.4: 10 DNS-querying
 * terms over the whole evaluation, 2 void lookups, 10 names from one mx
 * or ptr.
 *
 * Results: dr_spf_out says the result, why in words, the counters, the
 * domains visited and the qualifier of the "all" ending the first
 * domain's record.  A DNS error is temperror, never a guess.  The
 * evaluation is sequential (each answer decides the next question); the
 * resolver's cache makes repeated names free.
 */
#define _POSIX_C_SOURCE 200809L
#include "doctor/doctor_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define SPF_MAX_LOOKUPS 10 /* 4.6.4 */
#define SPF_MAX_VOIDS   2  /* 4.6.4 */
#define SPF_MAX_NAMES   10 /* per mx, per ptr (4.6.4) */

static const char *const result_names[] = {
    "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"};

const char *dr_spf_result_name(dr_spf_result r)
{
	return cs_enum_name(result_names, CS_NNAMES(result_names), (int)r);
}

/* ---- the client address -------------------------------------------------- */

/* IPv4, IPv6, and IPv4-mapped IPv6 as IPv4 (RFC 7208 5: "::ffff:" is
 * evaluated as the IPv4 address). */
bool dr_spf_ip_parse(const char *s, dr_spf_ip *ip)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
	                                         0, 0, 0, 0, 0xff, 0xff};

	memset(ip, 0, sizeof *ip);
	if (s == NULL)
		return false;
	if (inet_pton(AF_INET, s, ip->a) == 1) {
		ip->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, ip->a) != 1)
		return false;
	ip->family = AF_INET6;
	if (memcmp(ip->a, mapped, 12) == 0) {
		memmove(ip->a, ip->a + 12, 4);
		memset(ip->a + 4, 0, 12);
		ip->family = AF_INET;
	}
	return true;
}

static bool prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* ---- evaluation context
 * ------------------------------------------------------ */

static net_dns_answer *ask(dr_spf_ctx *c, const char *name, int type)
{
	return c->src->query(c->src->arg, name, type);
}

static void drop(dr_spf_ctx *c, net_dns_answer *a)
{
	c->src->release(c->src->arg, a);
}

static void reason(dr_spf_ctx *c, const char *fmt, ...) CS_PRINTF(2, 3);
static void reason(dr_spf_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(c->out->reason, sizeof c->out->reason, fmt, ap);
	va_end(ap);
}

/* RFC 4.3: labels of 1..63 octets, 253 in all, at least two labels. */
static bool domain_ok(const char *d)
{
	size_t n = strlen(d), lab = 0, i;
	bool dot = false;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		if (d[i] == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			dot = true;
		} else if (++lab > 63) {
			return false;
		}
	}
	return lab > 0 && dot;
}

/* ---- mechanisms (5)
 * ---------------------------------------------------------- */

typedef enum {
	T_NOMATCH,
	T_MATCH,
	T_ERROR /* the result is set (permerror, temperror) */
} term_res;

static bool rr_in(const dr_spf_ctx *c, const net_dns_rr *rr, int cidr4,
                  int cidr6)
{
	int bits;

	if (rr->family != c->ip.family)
		return false;
	if (c->ip.family == AF_INET)
		bits = cidr4 < 0 ? 32 : cidr4;
	else
		bits = cidr6 < 0 ? 128 : cidr6;
	return prefix_eq(rr->addr, c->ip.a, bits);
}

static int addr_type(const dr_spf_ctx *c)
{
	return c->ip.family == AF_INET ? NET_DNS_A : NET_DNS_AAAA;
}

/* The reverse name of the client ("3.2.0.192.in-addr.arpa"). */
static void reverse_name(const dr_spf_ip *ip, cs_buf *out)
{
	int i;

	if (ip->family == AF_INET) {
		cs_buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", ip->a[3],
		              ip->a[2], ip->a[1], ip->a[0]);
		return;
	}
	for (i = 15; i >= 0; i--)
		cs_buf_printf(out, "%x.%x.", ip->a[i] & 0xf, ip->a[i] >> 4);
	cs_buf_puts(out, "ip6.arpa");
}

static bool name_under(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (n == t)
		return strcasecmp(name, target) == 0;
	return n > t && name[n - t - 1] == '.' &&
	       strcasecmp(name + n - t, target) == 0;
}

/*
 * The validated names of the client (5.5): PTR names (at most 10) whose
 * A/AAAA include the client.  A DNS error drops a name.  Returns the
 * PTR answer's status (for the void count); names into *v (caller
 * frees each and the array).
 */
static net_dns_status validated_names(dr_spf_ctx *c, char ***v, size_t *nv)
{
	cs_buf rev = CS_BUF_INIT;
	net_dns_answer *a;
	net_dns_status st;
	size_t i, j;

	*v = NULL;
	*nv = 0;
	reverse_name(&c->ip, &rev);
	a = ask(c, cs_buf_str(&rev), NET_DNS_PTR);
	cs_buf_free(&rev);
	st = a->status;
	for (i = 0; st == NET_DNS_OK && i < a->n && i < SPF_MAX_NAMES; i++) {
		net_dns_answer *f = ask(c, a->rr[i].text, addr_type(c));

		for (j = 0; f->status == NET_DNS_OK && j < f->n; j++) {
			if (rr_in(c, &f->rr[j], -1, -1)) {
				*v = cs_xrealloc(*v, (*nv + 1) * sizeof **v);
				(*v)[(*nv)++] = cs_xstrdup(a->rr[i].text);
				break;
			}
		}
		drop(c, f);
	}
	drop(c, a);
	return st;
}

static void names_free(char **v, size_t nv)
{
	size_t i;

	for (i = 0; i < nv; i++)
		free(v[i]);
	free(v);
}

/* %{p} (7.3): a validated name under the domain if any, else any
 * validated name, else "unknown".  Without a DNS source: "unknown". */
const char *dr_spf_ptr_macro(dr_spf_ctx *c, const char *domain)
{
	char **v;
	size_t nv, i;

	if (c->ptr_name != NULL)
		return c->ptr_name;
	if (c->src == NULL)
		return "unknown";
	validated_names(c, &v, &nv);
	for (i = 0; i < nv && c->ptr_name == NULL; i++)
		if (name_under(v[i], domain))
			c->ptr_name = cs_xstrdup(v[i]);
	if (c->ptr_name == NULL)
		c->ptr_name = cs_xstrdup(nv > 0 ? v[0] : "unknown");
	names_free(v, nv);
	return c->ptr_name;
}

static const char *nth(int n)
{
	return n == 1 ? "st" : n == 2 ? "nd" : n == 3 ? "rd" : "th";
}

/* A void lookup (4.6.4): the third one is permerror. */
static bool count_void(dr_spf_ctx *c, const dr_spf_term *t, const char *domain)
{
	c->out->voids++;
	if (c->out->voids <= SPF_MAX_VOIDS)
		return true;
	c->out->result = DR_SPF_PERMERROR;
	reason(c, "%d%s void lookup, %.*s at %s (limit %d)", c->out->voids,
	       nth(c->out->voids), (int)t->text_len, t->text, domain,
	       SPF_MAX_VOIDS);
	return false;
}

static term_res dns_error(dr_spf_ctx *c, const net_dns_answer *a,
                          const char *what)
{
	c->out->result = DR_SPF_TEMPERROR;
	reason(c, "DNS error on %s %s: %s", what, a->name ? a->name : "?",
	       a->error[0] ? a->error : "no answer");
	return T_ERROR;
}

static dr_spf_result check_host(dr_spf_ctx *c, const char *domain, bool top);

static term_res term_eval(dr_spf_ctx *c, const dr_spf_term *t,
                          const char *domain)
{
	cs_buf target = CS_BUF_INIT;
	char why[160];
	net_dns_answer *a = NULL;
	term_res res = T_NOMATCH;
	size_t i, j;

	switch (t->kind) {
	case DR_SPF_M_ALL: return T_MATCH;
	case DR_SPF_M_IP4:
	case DR_SPF_M_IP6:
		if ((t->kind == DR_SPF_M_IP4) != (c->ip.family == AF_INET))
			return T_NOMATCH;
		return prefix_eq(t->net, c->ip.a,
		                 t->kind == DR_SPF_M_IP4
		                     ? (t->cidr4 < 0 ? 32 : t->cidr4)
		                     : (t->cidr6 < 0 ? 128 : t->cidr6))
		           ? T_MATCH
		           : T_NOMATCH;
	default: break;
	}
	/* a DNS-querying term (4.6.4) */
	if (++c->out->lookups > SPF_MAX_LOOKUPS) {
		c->out->result = DR_SPF_PERMERROR;
		reason(c, "%d%s DNS-querying term %.*s at %s (limit %d)",
		       c->out->lookups, nth(c->out->lookups), (int)t->text_len,
		       t->text, domain, SPF_MAX_LOOKUPS);
		return T_ERROR;
	}
	if (t->spec == NULL) {
		cs_buf_puts(&target, domain);
	} else if (dr_spf_macro_expand(c, t->spec, t->spec_len, domain, false,
	                               &target, why, sizeof why) < 0) {
		c->out->result = DR_SPF_PERMERROR;
		reason(c, "%.*s at %s: %s", (int)t->text_len, t->text, domain,
		       why);
		return T_ERROR;
	}
	if (t->kind == DR_SPF_M_INCLUDE) {
		dr_spf_result r;

		c->depth++;
		r = check_host(c, cs_buf_str(&target), false);
		c->depth--;
		switch (r) {
		case DR_SPF_PASS: res = T_MATCH; break;
		case DR_SPF_FAIL:
		case DR_SPF_SOFTFAIL:
		case DR_SPF_NEUTRAL: res = T_NOMATCH; break;
		case DR_SPF_NONE:
			c->out->result = DR_SPF_PERMERROR;
			reason(c, "%.*s at %s: %s has no SPF record",
			       (int)t->text_len, t->text, domain,
			       cs_buf_str(&target));
			res = T_ERROR;
			break;
		default: /* temperror, permerror: reason already set */
			c->out->result = r;
			res = T_ERROR;
		}
		cs_buf_free(&target);
		return res;
	}
	if (t->kind == DR_SPF_M_PTR) {
		char **v;
		size_t nv;
		net_dns_status st = validated_names(c, &v, &nv);

		if ((st == NET_DNS_NXDOMAIN || st == NET_DNS_NODATA) &&
		    !count_void(c, t, domain))
			res = T_ERROR;
		for (i = 0; res == T_NOMATCH && i < nv; i++)
			if (name_under(v[i], cs_buf_str(&target)))
				res = T_MATCH;
		names_free(v, nv);
		cs_buf_free(&target);
		return res;
	}
	if (!domain_ok(cs_buf_str(&target))) {
		/* an expanded name no server holds: a void lookup */
		res = count_void(c, t, domain) ? T_NOMATCH : T_ERROR;
		cs_buf_free(&target);
		return res;
	}
	a = ask(c, cs_buf_str(&target),
	        t->kind == DR_SPF_M_MX       ? NET_DNS_MX
	        : t->kind == DR_SPF_M_EXISTS ? NET_DNS_A
	                                     : addr_type(c));
	cs_buf_free(&target);
	if (a->status == NET_DNS_ERROR) {
		res =
		    dns_error(c, a, t->kind == DR_SPF_M_MX ? "MX" : "address");
	} else if (a->status != NET_DNS_OK || a->n == 0) {
		res = count_void(c, t, domain) ? T_NOMATCH : T_ERROR;
	} else if (t->kind == DR_SPF_M_EXISTS) {
		res = T_MATCH;
	} else if (t->kind == DR_SPF_M_A) {
		for (i = 0; i < a->n && res == T_NOMATCH; i++)
			if (rr_in(c, &a->rr[i], t->cidr4, t->cidr6))
				res = T_MATCH;
	} else { /* DR_SPF_M_MX */
		if (a->n > SPF_MAX_NAMES) {
			c->out->result = DR_SPF_PERMERROR;
			reason(c,
			       "%.*s at %s: %zu MX names, more than %d "
			       "(RFC 7208 4.6.4)",
			       (int)t->text_len, t->text, domain, a->n,
			       SPF_MAX_NAMES);
			res = T_ERROR;
		}
		for (i = 0; i < a->n && res == T_NOMATCH; i++) {
			net_dns_answer *x;

			if (a->rr[i].text == NULL || a->rr[i].text[0] == '\0')
				continue; /* a null MX (RFC 7505) */
			x = ask(c, a->rr[i].text, addr_type(c));
			if (x->status == NET_DNS_ERROR)
				res = dns_error(c, x, "address");
			for (j = 0; x->status == NET_DNS_OK && j < x->n &&
			            res == T_NOMATCH;
			     j++)
				if (rr_in(c, &x->rr[j], t->cidr4, t->cidr6))
					res = T_MATCH;
			drop(c, x);
		}
	}
	drop(c, a);
	return res;
}

static void add_domain(dr_spf_out *o, const char *d)
{
	o->domains =
	    cs_xrealloc(o->domains, (o->ndomains + 1) * sizeof(char *));
	o->domains[o->ndomains++] = cs_xstrdup(d);
}

static dr_spf_result qual_result(char q)
{
	switch (q) {
	case '-': return DR_SPF_FAIL;
	case '~': return DR_SPF_SOFTFAIL;
	case '?': return DR_SPF_NEUTRAL;
	default: return DR_SPF_PASS;
	}
}

/*
 * check_host(ip, domain, sender) (4).  top: domain is the first domain
 * or reached from it by redirect= (its "all" is the one reported).  On
 * temperror/permerror the reason is already in c->out.
 */
static dr_spf_result check_host(dr_spf_ctx *c, const char *domain, bool top)
{
	net_dns_answer *a;
	const net_dns_rr *rec = NULL;
	dr_spf_result res = DR_SPF_NEUTRAL;
	char why[160];
	char *dom;
	dr_spf_rec r;
	size_t i, nrec = 0;

	if (!domain_ok(domain)) {
		reason(c, "%s is not a domain name", domain);
		return DR_SPF_NONE;
	}
	dom = cs_xstrdup(domain);
	if (dom[strlen(dom) - 1] == '.')
		dom[strlen(dom) - 1] = '\0';
	add_domain(c->out, dom);
	a = ask(c, dom, NET_DNS_TXT);
	if (a->status == NET_DNS_ERROR) {
		dns_error(c, a, "TXT");
		drop(c, a);
		free(dom);
		return DR_SPF_TEMPERROR;
	}
	for (i = 0; a->status == NET_DNS_OK && i < a->n; i++) {
		if (dr_spf_is_record(a->rr[i].text, a->rr[i].len)) {
			if (nrec++ == 0)
				rec = &a->rr[i];
		}
	}
	if (nrec == 0) {
		reason(c, "no v=spf1 record at %s", dom);
		res = DR_SPF_NONE;
		goto out;
	}
	if (c->depth == 0 && c->out->record == NULL)
		c->out->record = cs_xstrndup(rec->text, rec->len);
	if (nrec > 1) {
		reason(c, "%zu v=spf1 records at %s (RFC 7208 4.5 allows one)",
		       nrec, dom);
		res = DR_SPF_PERMERROR;
		goto out;
	}
	if (memchr(rec->text, '\0', rec->len) != NULL ||
	    dr_spf_rec_parse(rec->text, rec->len, &r, why, sizeof why) < 0) {
		reason(c, "syntax error in the record at %s: %s", dom,
		       memchr(rec->text, '\0', rec->len) ? "a NUL byte" : why);
		res = DR_SPF_PERMERROR;
		goto out;
	}
	if (top && r.all >= 0 && c->out->all_qualifier == 0)
		c->out->all_qualifier = r.t[r.all].qual;
	for (i = 0; i < r.n; i++) {
		term_res tr = term_eval(c, &r.t[i], dom);

		if (tr == T_ERROR) {
			res = c->out->result;
			break;
		}
		if (tr == T_MATCH) {
			res = qual_result(r.t[i].qual);
			reason(c, "matched %.*s at %s", (int)r.t[i].text_len,
			       r.t[i].text, dom);
			break;
		}
	}
	if (i == r.n) {
		if (r.redirect != NULL && r.all < 0) {
			cs_buf target = CS_BUF_INIT;

			if (++c->out->lookups > SPF_MAX_LOOKUPS) {
				reason(
				    c,
				    "%d%s DNS-querying term redirect=%.*s at "
				    "%s (limit %d)",
				    c->out->lookups, nth(c->out->lookups),
				    (int)r.redirect_len, r.redirect, dom,
				    SPF_MAX_LOOKUPS);
				res = DR_SPF_PERMERROR;
			} else if (dr_spf_macro_expand(
			               c, r.redirect, r.redirect_len, dom,
			               false, &target, why, sizeof why) < 0) {
				reason(c, "redirect= at %s: %s", dom, why);
				res = DR_SPF_PERMERROR;
			} else {
				c->depth++;
				res = check_host(c, cs_buf_str(&target), top);
				c->depth--;
				if (res == DR_SPF_NONE) {
					reason(
					    c,
					    "redirect=%s at %s: %s has no SPF "
					    "record",
					    cs_buf_str(&target), dom,
					    cs_buf_str(&target));
					res = DR_SPF_PERMERROR;
				}
			}
			cs_buf_free(&target);
		} else {
			reason(c,
			       "no term matched at %s (the default is "
			       "neutral)",
			       dom);
		}
	}
	dr_spf_rec_free(&r);
out:
	drop(c, a);
	free(dom);
	c->out->result = res;
	return res;
}

int dr_spf_check_src(const dr_dns_src *src, const char *ip, const char *domain,
                     const char *sender, const char *helo, dr_spf_out *out,
                     cs_err *err)
{
	dr_spf_ctx c;

	memset(&c, 0, sizeof c);
	if (!dr_spf_ip_parse(ip, &c.ip))
		return cs_err_set(err, CS_EINVAL, "%s is not an IP address",
		                  ip ? ip : "(null)");
	if (domain == NULL || *domain == '\0')
		return cs_err_set(err, CS_EINVAL, "no domain to check");
	memset(out, 0, sizeof *out);
	c.src = src;
	c.out = out;
	dr_spf_ctx_sender(&c, sender, domain);
	c.helo = helo && *helo ? helo : domain;
	out->result = check_host(&c, domain, true);
	free(c.sender);
	free(c.ptr_name);
	return 0;
}

static net_dns_answer *net_query(void *arg, const char *name, int type)
{
	return net_dns_query_sync(arg, name, type);
}

static void net_release(void *arg, net_dns_answer *a)
{
	(void)arg;
	net_dns_answer_unref(a);
}

dr_dns_src dr_dns_src_net(net_dns *r)
{
	dr_dns_src src = {net_query, net_release, r};

	return src;
}

int dr_spf_check(net_dns *r, const char *ip, const char *domain,
                 const char *sender, const char *helo, dr_spf_out *out,
                 cs_err *err)
{
	dr_dns_src src = dr_dns_src_net(r);

	return dr_spf_check_src(&src, ip, domain, sender, helo, out, err);
}

void dr_spf_out_free(dr_spf_out *o)
{
	size_t i;

	if (o == NULL)
		return;
	free(o->record);
	for (i = 0; i < o->ndomains; i++)
		free(o->domains[i]);
	free(o->domains);
	memset(o, 0, sizeof *o);
}

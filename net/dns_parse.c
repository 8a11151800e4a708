/*
 * dns_parse.c - a DNS answer (the bytes a server sent) into a
 * net_dns_answer, and the time to keep it; reverse names.
 *
 * c-ares 1.18 has no parser that gives TTLs for MX, TXT, PTR or SOA, so the
 * answer is walked here.  The bytes come from the network: every length
 * and count is checked against the end of the buffer, a compressed name
 * may jump at most a bounded number of times (a loop is malformed), a name
 * is at most 255 octets, a TXT may hold any byte (NULs too: the rr's len
 * says how long it is).  Anything that does not fit is the error answer
 * "malformed answer", never a partial one.
 *
 * Names come out lower-cased, without the trailing dot, with a byte that
 * would make the text ambiguous or unprintable ('.', '\\', space, controls,
 * non-ASCII) written as \DDD, as zone files do.
 */
#define _POSIX_C_SOURCE 200809L
#include "net_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define HDR_LEN       12
#define RR_FIXED      10
#define MAX_JUMPS     64
#define MAX_CHAIN     16
#define NEG_TTL_NONE  60
#define NAME_TEXT_MAX 1024 /* 255 octets, each at most \DDD */

typedef struct rr_ref {
	char owner[NAME_TEXT_MAX];
	int type, cls;
	uint32_t ttl;
	size_t rdata, rdlen; /* offset into the packet */
} rr_ref;

/* Expand the (possibly compressed) name at *off into out (text form).
 * *off moves past the name as it sits at *off.  false: malformed. */
static bool read_name(const unsigned char *p, size_t len, size_t *off,
                      char *out)
{
	size_t pos = *off, end_of_first = 0, o = 0, wire = 0;
	int jumps = 0;
	bool jumped = false;

	out[0] = '\0';
	for (;;) {
		unsigned c;

		if (pos >= len)
			return false;
		c = p[pos];
		if ((c & 0xC0) == 0xC0) {
			size_t target;

			if (pos + 1 >= len || ++jumps > MAX_JUMPS)
				return false;
			target = ((c & 0x3F) << 8) | p[pos + 1];
			if (!jumped) {
				end_of_first = pos + 2;
				jumped = true;
			}
			if (target >= len)
				return false;
			pos = target;
			continue;
		}
		if (c & 0xC0) /* 0x40, 0x80: extended label types */
			return false;
		pos++;
		if (c == 0)
			break;
		if (pos + c > len || (wire += c + 1) > 254)
			return false;
		if (o > 0)
			out[o++] = '.';
		for (unsigned i = 0; i < c; i++) {
			unsigned char b = p[pos + i];

			if (b >= 'A' && b <= 'Z')
				b = (unsigned char)(b - 'A' + 'a');
			if (b <= 0x20 || b >= 0x7f || b == '.' || b == '\\') {
				snprintf(out + o, 5, "\\%03u", b);
				o += 4;
			} else
				out[o++] = (char)b;
		}
		pos += c;
	}
	out[o] = '\0';
	*off = jumped ? end_of_first : pos;
	return true;
}

net_dns_answer *net_dns_answer_error(const char *qname, int qtype,
                                     const char *why)
{
	net_dns_answer *a = cs_xcalloc(1, sizeof *a);

	a->status = NET_DNS_ERROR;
	snprintf(a->error, sizeof a->error, "%s", why);
	a->name = cs_xstrdup(qname ? qname : "");
	a->type = qtype;
	a->refs = 1;
	return a;
}

net_dns_answer *net_dns_answer_ref(net_dns_answer *a)
{
	a->refs++;
	return a;
}

void net_dns_answer_unref(net_dns_answer *a)
{
	size_t i;

	if (a == NULL || --a->refs > 0)
		return;
	for (i = 0; i < a->n; i++)
		free(a->rr[i].text);
	free(a->rr);
	free(a->name);
	free(a->cname);
	free(a);
}

net_dns_answer *net_dns_answer_copy(const net_dns_answer *a)
{
	net_dns_answer *c = cs_xmalloc(sizeof *c);
	size_t i;

	*c = *a;
	c->refs = 1;
	c->name = cs_xstrdup(a->name);
	c->cname = a->cname ? cs_xstrdup(a->cname) : NULL;
	c->rr = a->n ? cs_xcalloc(a->n, sizeof *c->rr) : NULL;
	for (i = 0; i < a->n; i++) {
		c->rr[i] = a->rr[i];
		c->rr[i].text = cs_xmalloc(a->rr[i].len + 1);
		memcpy(c->rr[i].text, a->rr[i].text, a->rr[i].len + 1);
	}
	return c;
}

static uint32_t rd32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static unsigned rd16(const unsigned char *p)
{
	return ((unsigned)p[0] << 8) | p[1];
}

/* Read count RRs from *off into v (may be NULL: skip). */
static bool read_rrs(const unsigned char *p, size_t len, size_t *off,
                     unsigned count, rr_ref *v)
{
	rr_ref tmp;

	memset(&tmp, 0, sizeof tmp);
	for (unsigned i = 0; i < count; i++) {
		rr_ref *r = v ? &v[i] : &tmp;

		if (!read_name(p, len, off, r->owner) || *off + RR_FIXED > len)
			return false;
		r->type = (int)rd16(p + *off);
		r->cls = (int)rd16(p + *off + 2);
		r->ttl = rd32(p + *off + 4);
		if (r->ttl > 0x7fffffffu) /* RFC 2181 8: treat as zero */
			r->ttl = 0;
		r->rdlen = rd16(p + *off + 8);
		r->rdata = *off + RR_FIXED;
		if (r->rdata + r->rdlen > len)
			return false;
		*off = r->rdata + r->rdlen;
	}
	return true;
}

/* Turn one RR of the type asked into out.  false: its rdata is malformed. */
static bool decode_rr(const unsigned char *p, size_t len, const rr_ref *r,
                      net_dns_rr *out)
{
	const unsigned char *d = p + r->rdata;
	char name[NAME_TEXT_MAX];
	size_t off, end = r->rdata + r->rdlen;

	memset(out, 0, sizeof *out);
	out->type = r->type;
	out->ttl = r->ttl;
	switch (r->type) {
	case NET_DNS_A:
	case NET_DNS_AAAA: {
		char txt[INET6_ADDRSTRLEN];
		size_t want = r->type == NET_DNS_A ? 4 : 16;

		if (r->rdlen != want)
			return false;
		out->family = r->type == NET_DNS_A ? AF_INET : AF_INET6;
		memcpy(out->addr, d, want);
		inet_ntop(out->family, d, txt, sizeof txt);
		out->text = cs_xstrdup(txt);
		out->len = strlen(txt);
		return true;
	}
	case NET_DNS_MX:
		if (r->rdlen < 3)
			return false;
		out->pref = (int)rd16(d);
		off = r->rdata + 2;
		if (!read_name(p, len, &off, name) || off != end)
			return false;
		break;
	case NET_DNS_CNAME:
	case NET_DNS_PTR:
	case NET_DNS_NS:
		off = r->rdata;
		if (!read_name(p, len, &off, name) || off != end)
			return false;
		break;
	case NET_DNS_TXT: {
		cs_buf b = CS_BUF_INIT;

		if (r->rdlen == 0)
			return false;
		off = r->rdata;
		while (off < end) {
			size_t n = p[off];

			if (off + 1 + n > end) {
				cs_buf_free(&b);
				return false;
			}
			cs_buf_append(&b, p + off + 1, n);
			off += 1 + n;
		}
		cs_buf_reserve(&b, 1);
		out->len = b.len;
		out->text = cs_buf_detach(&b, NULL);
		if (out->text == NULL)
			out->text = cs_xstrdup("");
		return true;
	}
	default: { /* SOA and others: the rdata's length only */
		out->text = cs_xasprintf("\\# %zu", r->rdlen);
		out->len = strlen(out->text);
		return true;
	}
	}
	out->text = cs_xstrdup(name);
	out->len = strlen(name);
	return true;
}

/* The negative TTL from the authority section's SOA (RFC 2308 5: the
 * smaller of the SOA RR's TTL and its MINIMUM).  false: malformed. */
static bool soa_ttl(const unsigned char *p, size_t len, const rr_ref *v,
                    unsigned n, uint32_t *ttl)
{
	char name[NAME_TEXT_MAX];

	for (unsigned i = 0; i < n; i++) {
		size_t off = v[i].rdata, end = v[i].rdata + v[i].rdlen;
		uint32_t min;

		if (v[i].type != NET_DNS_SOA)
			continue;
		for (int k = 0; k < 2; k++) /* MNAME, RNAME */
			if (!read_name(p, len, &off, name))
				return false;
		if (off + 20 != end)
			return false;
		min = rd32(p + off + 16);
		*ttl = v[i].ttl < min ? v[i].ttl : min;
		return true;
	}
	*ttl = NEG_TTL_NONE;
	return true;
}

static uint32_t clamp_ttl(uint32_t t)
{
	if (t < NET_DNS_TTL_MIN)
		return NET_DNS_TTL_MIN;
	return t > NET_DNS_TTL_MAX ? NET_DNS_TTL_MAX : t;
}

static net_dns_answer *malformed(const char *qname, int qtype, uint32_t *ttl)
{
	*ttl = NET_DNS_ERROR_TTL;
	return net_dns_answer_error(qname, qtype, "malformed answer");
}

net_dns_answer *net_dns_parse(const unsigned char *p, size_t len,
                              const char *qname, int qtype, uint32_t *ttl_s)
{
	unsigned qd, an, ns, rcode, i, hops;
	size_t off = HDR_LEN;
	rr_ref *v = NULL;
	net_dns_answer *a = NULL;
	char cur[NAME_TEXT_MAX], tmp[NAME_TEXT_MAX];
	uint32_t min_ttl = UINT32_MAX;
	size_t cap;

	if (p == NULL || len < HDR_LEN)
		return malformed(qname, qtype, ttl_s);
	qd = rd16(p + 4);
	an = rd16(p + 6);
	ns = rd16(p + 8);
	rcode = p[3] & 0xF;
	if (!(p[2] & 0x80)) /* not a response */
		return malformed(qname, qtype, ttl_s);
	if (rcode != 0 && rcode != 3) {
		static const char *const why[] = {[1] = "format error",
		                                  [2] = "server failure",
		                                  [4] = "not implemented",
		                                  [5] = "refused"};
		char buf[32];

		*ttl_s = NET_DNS_ERROR_TTL;
		if (rcode < sizeof why / sizeof why[0] && why[rcode])
			return net_dns_answer_error(qname, qtype, why[rcode]);
		snprintf(buf, sizeof buf, "rcode %u", rcode);
		return net_dns_answer_error(qname, qtype, buf);
	}
	/* each question takes at least 5 octets, each RR at least 11: a
	 * count the packet cannot hold is malformed before anything is
	 * allocated for it */
	if ((size_t)qd * 5 + (size_t)(an + ns) * 11 > len - HDR_LEN)
		return malformed(qname, qtype, ttl_s);
	for (i = 0; i < qd; i++) {
		if (!read_name(p, len, &off, tmp) || off + 4 > len)
			return malformed(qname, qtype, ttl_s);
		off += 4;
	}
	cap = (size_t)an + ns;
	v = cs_xcalloc(cap ? cap : 1, sizeof *v);
	if (!read_rrs(p, len, &off, an, v) ||
	    !read_rrs(p, len, &off, ns, v + an))
		goto bad;

	a = cs_xcalloc(1, sizeof *a);
	a->refs = 1;
	a->name = cs_xstrdup(qname);
	a->type = qtype;

	/* follow the CNAME chain from the name asked, in any order */
	snprintf(cur, sizeof cur, "%s", qname);
	for (hops = 0; qtype != NET_DNS_CNAME; hops++) {
		bool moved = false;

		for (i = 0; i < an; i++) {
			size_t o = v[i].rdata;

			if (v[i].type != NET_DNS_CNAME || v[i].cls != 1 ||
			    strcmp(v[i].owner, cur) != 0)
				continue;
			if (!read_name(p, len, &o, tmp) ||
			    o != v[i].rdata + v[i].rdlen)
				goto bad;
			if (hops >= MAX_CHAIN)
				goto bad; /* a CNAME loop */
			if (v[i].ttl < min_ttl)
				min_ttl = v[i].ttl;
			snprintf(cur, sizeof cur, "%s", tmp);
			moved = true;
			break;
		}
		if (!moved)
			break;
	}
	if (strcmp(cur, qname) != 0)
		a->cname = cs_xstrdup(cur);

	for (i = 0; i < an; i++)
		if (v[i].type == qtype && v[i].cls == 1 &&
		    strcmp(v[i].owner, cur) == 0)
			a->n++;
	if (a->n) {
		size_t k = 0;

		a->rr = cs_xcalloc(a->n, sizeof *a->rr);
		for (i = 0; i < an; i++) {
			if (v[i].type != qtype || v[i].cls != 1 ||
			    strcmp(v[i].owner, cur) != 0)
				continue;
			if (!decode_rr(p, len, &v[i], &a->rr[k]))
				goto bad;
			k++;
			if (v[i].ttl < min_ttl)
				min_ttl = v[i].ttl;
		}
	}
	if (rcode == 3)
		a->status = NET_DNS_NXDOMAIN;
	else
		a->status = a->n ? NET_DNS_OK : NET_DNS_NODATA;
	if (a->status != NET_DNS_OK) {
		uint32_t neg;

		for (i = 0; i < a->n; i++)
			free(a->rr[i].text);
		free(a->rr);
		a->rr = NULL;
		a->n = 0;
		if (!soa_ttl(p, len, v + an, ns, &neg))
			goto bad;
		if (neg < min_ttl)
			min_ttl = neg;
	}
	*ttl_s = clamp_ttl(min_ttl);
	free(v);
	return a;
bad:
	free(v);
	if (a) {
		/* rr entries not decoded yet are zeroed: free(NULL) */
		for (i = 0; i < a->n; i++)
			free(a->rr[i].text);
		a->n = 0;
		net_dns_answer_unref(a);
	}
	return malformed(qname, qtype, ttl_s);
}

/* ---- reverse names ------------------------------------------------------ */

int net_dns_reverse_name(const char *ip, cs_buf *out, cs_err *err)
{
	unsigned char b[16];
	static const char hex[] = "0123456789abcdef";
	int i;

	if (ip && inet_pton(AF_INET, ip, b) == 1) {
		cs_buf_printf(out, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1],
		              b[0]);
		return 0;
	}
	if (ip && inet_pton(AF_INET6, ip, b) == 1) {
		for (i = 15; i >= 0; i--) {
			cs_buf_putc(out, hex[b[i] & 0xF]);
			cs_buf_putc(out, '.');
			cs_buf_putc(out, hex[b[i] >> 4]);
			cs_buf_putc(out, '.');
		}
		cs_buf_puts(out, "ip6.arpa");
		return 0;
	}
	return cs_err_set(err, CS_EINVAL, "\"%s\" is not an IP address",
	                  ip ? ip : "");
}

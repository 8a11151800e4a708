/*
 * test_dns_parse.c - the DNS answer parser (net/dns_parse.c) on crafted
 * packets: what each record type gives, CNAME chains, negative answers
 * and their TTL, rcodes, and malformed input (compression loops, lengths
 * past the end, impossible counts, bad rdata); the TTL cache
 * (net/dns_cache.c); reverse names.
 */
#include "unit.h"

#include "net/net_int.h"

/* ---- a packet builder --------------------------------------------------- */

typedef struct pkt {
	unsigned char b[2048];
	size_t n;
} pkt;

static void put(pkt *p, const void *d, size_t n)
{
	assert_true(p->n + n <= sizeof p->b);
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void u8(pkt *p, unsigned v)
{
	unsigned char c = (unsigned char)v;

	put(p, &c, 1);
}

static void u16(pkt *p, unsigned v)
{
	u8(p, v >> 8);
	u8(p, v & 0xFF);
}

static void u32(pkt *p, uint32_t v)
{
	u16(p, v >> 16);
	u16(p, v & 0xFFFF);
}

/* "a.b" as labels (no compression). */
static void name(pkt *p, const char *s)
{
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t n = dot ? (size_t)(dot - s) : strlen(s);

		u8(p, (unsigned)n);
		put(p, s, n);
		s += n + (dot ? 1 : 0);
	}
	u8(p, 0);
}

/* Header with rcode and counts, then the question (qname, qtype). */
static void head(pkt *p, unsigned rcode, unsigned an, unsigned ns,
                 const char *qname, unsigned qtype)
{
	p->n = 0;
	u16(p, 0x1234);
	u8(p, 0x81);
	u8(p, 0x80 | rcode);
	u16(p, 1);
	u16(p, an);
	u16(p, ns);
	u16(p, 0);
	name(p, qname);
	u16(p, qtype);
	u16(p, 1);
}

/* An RR's fixed part; the caller adds rdlen bytes of rdata. */
static void rr(pkt *p, const char *owner, unsigned type, uint32_t ttl,
               unsigned rdlen)
{
	name(p, owner);
	u16(p, type);
	u16(p, 1);
	u32(p, ttl);
	u16(p, rdlen);
}

static net_dns_answer *parse(pkt *p, const char *q, int type, uint32_t *ttl)
{
	return net_dns_parse(p->b, p->n, q, type, ttl);
}

static void assert_malformed(pkt *p, const char *q, int type)
{
	uint32_t ttl = 0;
	net_dns_answer *a = parse(p, q, type, &ttl);

	assert_int_equal(a->status, NET_DNS_ERROR);
	assert_string_equal(a->error, "malformed answer");
	assert_int_equal(a->n, 0);
	assert_int_equal(ttl, NET_DNS_ERROR_TTL);
	net_dns_answer_unref(a);
}

/* ---- tests -------------------------------------------------------------- */

static void txt_strings_joined_nul_kept(void **state)
{
	pkt p;
	uint32_t ttl;
	net_dns_answer *a;

	(void)state;
	head(&p, 0, 2, 0, "a.test", NET_DNS_TXT);
	rr(&p, "A.Test", NET_DNS_TXT, 300, 1 + 6 + 1 + 5);
	u8(&p, 6);
	put(&p, "v=spf1", 6);
	u8(&p, 5);
	put(&p, " -all", 5);
	rr(&p, "a.test", NET_DNS_TXT, 120, 4);
	u8(&p, 3);
	put(&p, "x\0y", 3);
	a = parse(&p, "a.test", NET_DNS_TXT, &ttl);
	assert_int_equal(a->status, NET_DNS_OK);
	assert_int_equal(a->n, 2);
	assert_string_equal(a->rr[0].text, "v=spf1 -all");
	assert_int_equal(a->rr[0].ttl, 300);
	assert_int_equal(a->rr[1].len, 3);
	assert_memory_equal(a->rr[1].text, "x\0y", 4);
	assert_int_equal(ttl, 120); /* the RRset's smallest */
	assert_null(a->cname);
	net_dns_answer_unref(a);
}

static void mx_a_aaaa_ptr(void **state)
{
	pkt p;
	uint32_t ttl;
	net_dns_answer *a;
	static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

	(void)state;
	head(&p, 0, 1, 0, "a.test", NET_DNS_MX);
	/* the exchange compressed against the question's "a.test" */
	rr(&p, "a.test", NET_DNS_MX, 600, 2 + 4 + 2);
	u16(&p, 10);
	u8(&p, 3);
	put(&p, "MX1", 3);
	u16(&p, 0xC00C);
	a = parse(&p, "a.test", NET_DNS_MX, &ttl);
	assert_int_equal(a->status, NET_DNS_OK);
	assert_int_equal(a->rr[0].pref, 10);
	assert_string_equal(a->rr[0].text, "mx1.a.test");
	assert_int_equal(ttl, 600);
	net_dns_answer_unref(a);

	head(&p, 0, 1, 0, "h.test", NET_DNS_AAAA);
	rr(&p, "h.test", NET_DNS_AAAA, 60, 16);
	put(&p, v6, 16);
	a = parse(&p, "h.test", NET_DNS_AAAA, &ttl);
	assert_string_equal(a->rr[0].text, "2001:db8::1");
	assert_memory_equal(a->rr[0].addr, v6, 16);
	net_dns_answer_unref(a);

	head(&p, 0, 1, 0, "h.test", NET_DNS_A);
	rr(&p, "h.test", NET_DNS_A, 0, 4); /* TTL 0: kept the floor */
	put(&p, "\xc0\x00\x02\x01", 4);
	a = parse(&p, "h.test", NET_DNS_A, &ttl);
	assert_string_equal(a->rr[0].text, "192.0.2.1");
	assert_int_equal(ttl, NET_DNS_TTL_MIN);
	net_dns_answer_unref(a);

	head(&p, 0, 1, 0, "1.2.0.192.in-addr.arpa", NET_DNS_PTR);
	rr(&p, "1.2.0.192.in-addr.arpa", NET_DNS_PTR, 999999999, 8);
	name(&p, "h.test");
	a = parse(&p, "1.2.0.192.in-addr.arpa", NET_DNS_PTR, &ttl);
	assert_string_equal(a->rr[0].text, "h.test");
	assert_int_equal(ttl, NET_DNS_TTL_MAX); /* capped */
	net_dns_answer_unref(a);
}

static void cname_chain_out_of_order(void **state)
{
	pkt p;
	uint32_t ttl;
	net_dns_answer *a;

	(void)state;
	/* the TXT first, then the second hop, then the first */
	head(&p, 0, 3, 0, "s._domainkey.a.test", NET_DNS_TXT);
	rr(&p, "k.b.test", NET_DNS_TXT, 500, 4);
	u8(&p, 3);
	put(&p, "key", 3);
	rr(&p, "hop.a.test", NET_DNS_CNAME, 40, 10);
	name(&p, "k.b.test");
	rr(&p, "s._domainkey.a.test", NET_DNS_CNAME, 300, 12);
	name(&p, "hop.a.test");
	a = parse(&p, "s._domainkey.a.test", NET_DNS_TXT, &ttl);
	assert_int_equal(a->status, NET_DNS_OK);
	assert_string_equal(a->cname, "k.b.test");
	assert_int_equal(a->n, 1);
	assert_string_equal(a->rr[0].text, "key");
	assert_int_equal(ttl, 40); /* the chain's TTLs count */
	net_dns_answer_unref(a);

	/* a TXT for another owner is not the answer: NODATA */
	head(&p, 0, 1, 0, "x.test", NET_DNS_TXT);
	rr(&p, "y.test", NET_DNS_TXT, 500, 2);
	u8(&p, 1);
	put(&p, "z", 1);
	a = parse(&p, "x.test", NET_DNS_TXT, &ttl);
	assert_int_equal(a->status, NET_DNS_NODATA);
	assert_int_equal(ttl, 60); /* no SOA */
	net_dns_answer_unref(a);

	/* a CNAME loop */
	head(&p, 0, 2, 0, "x.test", NET_DNS_TXT);
	rr(&p, "x.test", NET_DNS_CNAME, 5, 8);
	name(&p, "y.test");
	rr(&p, "y.test", NET_DNS_CNAME, 5, 8);
	name(&p, "x.test");
	assert_malformed(&p, "x.test", NET_DNS_TXT);
}

static void negative_answers_use_the_soa(void **state)
{
	pkt p;
	uint32_t ttl;
	net_dns_answer *a;
	int rcode;

	(void)state;
	for (rcode = 0; rcode <= 3; rcode += 3) {
		head(&p, (unsigned)rcode, 0, 1, "n.a.test", NET_DNS_A);
		rr(&p, "a.test", NET_DNS_SOA, 900, 8 + 12 + 20);
		name(&p, "ns.test");
		name(&p, "hm.a.test");
		u32(&p, 1);
		u32(&p, 3600);
		u32(&p, 600);
		u32(&p, 86400);
		u32(&p, 45); /* MINIMUM < the SOA's TTL: it wins */
		a = parse(&p, "n.a.test", NET_DNS_A, &ttl);
		assert_int_equal(a->status,
		                 rcode ? NET_DNS_NXDOMAIN : NET_DNS_NODATA);
		assert_int_equal(a->n, 0);
		assert_int_equal(ttl, 45);
		net_dns_answer_unref(a);
	}
	/* an SOA whose rdata is short */
	head(&p, 3, 0, 1, "n.a.test", NET_DNS_A);
	rr(&p, "a.test", NET_DNS_SOA, 900, 8 + 12 + 4);
	name(&p, "ns.test");
	name(&p, "hm.a.test");
	u32(&p, 1);
	assert_malformed(&p, "n.a.test", NET_DNS_A);
}

static void rcodes_are_errors(void **state)
{
	static const struct {
		unsigned rcode;
		const char *why;
	} t[] = {{1, "format error"},
	         {2, "server failure"},
	         {4, "not implemented"},
	         {5, "refused"},
	         {9, "rcode 9"}};
	pkt p;
	uint32_t ttl;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		net_dns_answer *a;

		head(&p, t[i].rcode, 0, 0, "a.test", NET_DNS_A);
		a = parse(&p, "a.test", NET_DNS_A, &ttl);
		assert_int_equal(a->status, NET_DNS_ERROR);
		assert_string_equal(a->error, t[i].why);
		assert_int_equal(ttl, NET_DNS_ERROR_TTL);
		net_dns_answer_unref(a);
	}
}

static void malformed_packets(void **state)
{
	pkt p;
	size_t keep;

	(void)state;
	/* shorter than a header; a query, not a response */
	p.n = 5;
	memset(p.b, 0, 5);
	assert_malformed(&p, "a.test", NET_DNS_A);
	head(&p, 0, 0, 0, "a.test", NET_DNS_A);
	p.b[2] = 0x01;
	assert_malformed(&p, "a.test", NET_DNS_A);

	/* a compression pointer to itself (in the answer's owner) */
	head(&p, 0, 1, 0, "a.test", NET_DNS_A);
	keep = p.n;
	u16(&p, 0xC000 | (unsigned)keep);
	u16(&p, NET_DNS_A);
	u16(&p, 1);
	u32(&p, 5);
	u16(&p, 4);
	put(&p, "\1\2\3\4", 4);
	assert_malformed(&p, "a.test", NET_DNS_A);

	/* two pointers to each other */
	head(&p, 0, 1, 0, "a.test", NET_DNS_A);
	keep = p.n;
	u16(&p, 0xC000 | (unsigned)(keep + 2));
	u16(&p, 0xC000 | (unsigned)keep);
	assert_malformed(&p, "a.test", NET_DNS_A);

	/* a pointer past the end */
	head(&p, 0, 1, 0, "a.test", NET_DNS_A);
	u16(&p, 0xC000 | 0x3FFF);
	assert_malformed(&p, "a.test", NET_DNS_A);

	/* rdlength past the end */
	head(&p, 0, 1, 0, "a.test", NET_DNS_TXT);
	rr(&p, "a.test", NET_DNS_TXT, 5, 200);
	u8(&p, 3);
	put(&p, "abc", 3);
	assert_malformed(&p, "a.test", NET_DNS_TXT);

	/* a TXT string longer than its rdata */
	head(&p, 0, 1, 0, "a.test", NET_DNS_TXT);
	rr(&p, "a.test", NET_DNS_TXT, 5, 3);
	u8(&p, 9);
	put(&p, "ab", 2);
	u8(&p, 0); /* bytes after the RR, so only rdlen can catch it */
	assert_malformed(&p, "a.test", NET_DNS_TXT);

	/* an A with 5 bytes; an MX with no exchange */
	head(&p, 0, 1, 0, "a.test", NET_DNS_A);
	rr(&p, "a.test", NET_DNS_A, 5, 5);
	put(&p, "\1\2\3\4\5", 5);
	assert_malformed(&p, "a.test", NET_DNS_A);
	head(&p, 0, 1, 0, "a.test", NET_DNS_MX);
	rr(&p, "a.test", NET_DNS_MX, 5, 2);
	u16(&p, 10);
	assert_malformed(&p, "a.test", NET_DNS_MX);

	/* counts the packet cannot hold */
	head(&p, 0, 0xFFFF, 0xFFFF, "a.test", NET_DNS_A);
	assert_malformed(&p, "a.test", NET_DNS_A);

	/* a label type that does not exist (0x40) */
	head(&p, 0, 1, 0, "a.test", NET_DNS_A);
	u8(&p, 0x41);
	put(&p, "x", 1);
	assert_malformed(&p, "a.test", NET_DNS_A);
}

static void long_and_odd_names(void **state)
{
	pkt p;
	uint32_t ttl;
	net_dns_answer *a;
	char big[300];
	int i;

	(void)state;
	/* a name of 5 labels of 63: over 255 octets */
	head(&p, 0, 1, 0, "a.test", NET_DNS_PTR);
	rr(&p, "a.test", NET_DNS_PTR, 5, 5 * 64 + 1);
	for (i = 0; i < 5; i++) {
		u8(&p, 63);
		memset(big, 'x', 63);
		put(&p, big, 63);
	}
	u8(&p, 0);
	assert_malformed(&p, "a.test", NET_DNS_PTR);

	/* a label with a dot, a space and a control byte: escaped */
	head(&p, 0, 1, 0, "a.test", NET_DNS_PTR);
	rr(&p, "a.test", NET_DNS_PTR, 5, 1 + 4 + 6);
	u8(&p, 4);
	put(&p, "a. \x01", 4);
	name(&p, "test");
	a = parse(&p, "a.test", NET_DNS_PTR, &ttl);
	assert_int_equal(a->status, NET_DNS_OK);
	assert_string_equal(a->rr[0].text, "a\\046\\032\\001.test");
	net_dns_answer_unref(a);
}

static void cache_ttl_and_bound(void **state)
{
	net_dns_cache *c = net_dns_cache_new(3);
	net_dns_answer *a, *g;
	char nm[16];
	int i;

	(void)state;
	a = net_dns_answer_error("a.test", NET_DNS_TXT, "timeout");
	net_dns_cache_put(c, a, 2, 1000);
	g = net_dns_cache_get(c, "a.test", NET_DNS_TXT, 2999);
	assert_ptr_equal(g, a);
	net_dns_answer_unref(g);
	assert_null(net_dns_cache_get(c, "a.test", NET_DNS_A, 2999));
	assert_null(net_dns_cache_get(c, "a.test", NET_DNS_TXT, 3000));
	assert_int_equal(net_dns_cache_size(c), 0);
	/* full: the expired go first, then the oldest */
	for (i = 0; i < 3; i++) {
		snprintf(nm, sizeof nm, "n%d.test", i);
		net_dns_cache_put(c, net_dns_answer_error(nm, NET_DNS_A, "x"),
		                  i == 1 ? 1 : 100, 0);
	}
	net_dns_cache_put(c, net_dns_answer_error("n3.test", NET_DNS_A, "x"),
	                  100, 5000);
	assert_int_equal(net_dns_cache_size(c), 3);
	assert_null(net_dns_cache_get(c, "n1.test", NET_DNS_A, 5000));
	net_dns_answer_unref(
	    g = net_dns_cache_get(c, "n0.test", NET_DNS_A, 5000));
	assert_non_null(g);
	net_dns_cache_put(c, net_dns_answer_error("n4.test", NET_DNS_A, "x"),
	                  100, 5000);
	assert_int_equal(net_dns_cache_size(c), 3);
	assert_null(net_dns_cache_get(c, "n0.test", NET_DNS_A, 5000));
	net_dns_cache_free(c);
}

static void reverse_names(void **state)
{
	cs_buf b = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;

	(void)state;
	assert_int_equal(net_dns_reverse_name("192.0.2.10", &b, &err), 0);
	assert_string_equal(cs_buf_str(&b), "10.2.0.192.in-addr.arpa");
	cs_buf_clear(&b);
	assert_int_equal(net_dns_reverse_name("2001:db8::1", &b, &err), 0);
	assert_string_equal(cs_buf_str(&b),
	                    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8."
	                    "b.d.0.1.0.0.2.ip6.arpa");
	cs_buf_clear(&b);
	assert_int_equal(net_dns_reverse_name("mail.test", &b, &err),
	                 CS_EINVAL);
	assert_non_null(strstr(err.msg, "mail.test"));
	cs_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(txt_strings_joined_nul_kept),
	    cmocka_unit_test(mx_a_aaaa_ptr),
	    cmocka_unit_test(cname_chain_out_of_order),
	    cmocka_unit_test(negative_answers_use_the_soa),
	    cmocka_unit_test(rcodes_are_errors),
	    cmocka_unit_test(malformed_packets),
	    cmocka_unit_test(long_and_odd_names),
	    cmocka_unit_test(cache_ttl_and_bound),
	    cmocka_unit_test(reverse_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_dns_answer.c - libFuzzer target for what a DNS server sends
 * coldseq: the answer parser (net/dns_parse.c, reached through
 * net/net_int.h).
 *
 * The first byte picks the type asked; the rest is the packet, parsed as
 * the answer to "a.test".  Whatever the bytes, the answer must keep its
 * promises: OK has records of the type asked, each text NUL-terminated at
 * its length; other statuses have none; the time to keep it is within the
 * bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {NET_DNS_A,   NET_DNS_AAAA, NET_DNS_MX,
	                            NET_DNS_TXT, NET_DNS_PTR,  NET_DNS_CNAME,
	                            NET_DNS_NS,  NET_DNS_SOA};
	net_dns_answer *a, *c;
	uint32_t ttl = 0;
	int type;
	size_t i;

	if (size == 0)
		return 0;
	type = types[data[0] % (sizeof types / sizeof types[0])];
	a = net_dns_parse(data + 1, size - 1, "a.test", type, &ttl);
	if (a == NULL || a->refs != 1 || strcmp(a->name, "a.test") != 0)
		abort();
	if ((a->status == NET_DNS_OK) != (a->n > 0))
		abort();
	if (a->status == NET_DNS_ERROR && a->error[0] == '\0')
		abort();
	if (ttl < NET_DNS_TTL_MIN || ttl > NET_DNS_TTL_MAX)
		abort();
	for (i = 0; i < a->n; i++)
		if (a->rr[i].type != type || a->rr[i].text == NULL ||
		    a->rr[i].text[a->rr[i].len] != '\0')
			abort();
	c = net_dns_answer_copy(a);
	net_dns_answer_unref(a);
	net_dns_answer_unref(c);
	return 0;
}

/*
 * dr_spf_macro.c - SPF macros (RFC 7208 7): the letters, the
 * transformers (keep count, reverse, delimiters), the escapes and URL
 * escaping, the 253-octet cut of an expanded domain; and the sender the
 * macros read.  dr_spf.c evaluates; %{p} asks DNS through it
 * (dr_spf_ptr_macro).
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

static void ip_text(const dr_spf_ip *ip, bool dotted_v6, cs_buf *v)
{
	char b[INET6_ADDRSTRLEN];
	int i;

	if (ip->family == AF_INET || !dotted_v6) {
		inet_ntop(ip->family, ip->a, b, sizeof b);
		cs_buf_puts(v, b);
		return;
	}
	for (i = 0; i < 16; i++)
		cs_buf_printf(v, "%s%x.%x", i ? "." : "", ip->a[i] >> 4,
		              ip->a[i] & 0xf);
}

static void macro_value(dr_spf_ctx *c, char letter, const char *domain,
                        cs_buf *v)
{
	switch (letter) {
	case 's': cs_buf_puts(v, c->sender); break;
	case 'l': cs_buf_append(v, c->local, c->local_len); break;
	case 'o': cs_buf_puts(v, c->sdomain); break;
	case 'd': cs_buf_puts(v, domain); break;
	case 'i': ip_text(&c->ip, true, v); break;
	case 'p': cs_buf_puts(v, dr_spf_ptr_macro(c, domain)); break;
	case 'v':
		cs_buf_puts(v, c->ip.family == AF_INET ? "in-addr" : "ip6");
		break;
	case 'h': cs_buf_puts(v, c->helo); break;
	case 'c': ip_text(&c->ip, false, v); break;
	case 'r': cs_buf_puts(v, "unknown"); break;
	case 't': cs_buf_printf(v, "%lld", (long long)time(NULL)); break;
	}
}

static void url_escape(const char *s, size_t n, cs_buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' ||
		    ch == '~')
			cs_buf_putc(out, (char)ch);
		else
			cs_buf_printf(out, "%%%02X", ch);
	}
}

/* Split v on the delimiters, reverse if asked, keep the rightmost keep
 * parts (0: all), join with '.' (7.3). */
static void transform(const char *v, size_t vn, int keep, bool rev,
                      const char *dl, size_t ndl, cs_buf *out)
{
	const char **part = cs_xmalloc((vn + 1) * sizeof *part);
	size_t *plen = cs_xmalloc((vn + 1) * sizeof *plen);
	size_t np = 0, i, b = 0, first;

	for (i = 0; i <= vn; i++) {
		bool cut;

		if (i == vn)
			cut = true;
		else if (ndl == 0)
			cut = v[i] == '.';
		else
			cut = memchr(dl, v[i], ndl) != NULL;
		if (cut) {
			part[np] = v + b;
			plen[np++] = i - b;
			b = i + 1;
		}
	}
	if (rev) {
		for (i = 0; i < np / 2; i++) {
			const char *tp = part[i];
			size_t tl = plen[i];

			part[i] = part[np - 1 - i];
			plen[i] = plen[np - 1 - i];
			part[np - 1 - i] = tp;
			plen[np - 1 - i] = tl;
		}
	}
	first = keep > 0 && (size_t)keep < np ? np - (size_t)keep : 0;
	for (i = first; i < np; i++) {
		if (i > first)
			cs_buf_putc(out, '.');
		cs_buf_append(out, part[i], plen[i]);
	}
	free(part);
	free(plen);
}

int dr_spf_macro_expand(dr_spf_ctx *c, const char *s, size_t n,
                        const char *domain, bool exp, cs_buf *out, char *why,
                        size_t cap)
{
	size_t i = 0;

	cs_buf_clear(out);
	if (dr_spf_spec_check(s, n, false, exp, why, cap) < 0)
		return -1;
	while (i < n) {
		cs_buf v = CS_BUF_INIT, t = CS_BUF_INIT;
		const char *dl;
		size_t len, ndl;
		char letter;
		int keep;
		bool rev;

		if (s[i] != '%') {
			cs_buf_putc(out, s[i++]);
			continue;
		}
		switch (s[i + 1]) {
		case '%':
			cs_buf_putc(out, '%');
			i += 2;
			continue;
		case '_':
			cs_buf_putc(out, ' ');
			i += 2;
			continue;
		case '-':
			cs_buf_puts(out, "%20");
			i += 2;
			continue;
		}
		(void)dr_spf_macro_parse(s + i, n - i, exp, &len, &letter,
		                         &keep, &rev, &dl, &ndl, why, cap);
		macro_value(c, (char)tolower((unsigned char)letter), domain,
		            &v);
		transform(v.data ? v.data : "", v.len, keep, rev, dl, ndl, &t);
		if (isupper((unsigned char)letter))
			url_escape(t.data ? t.data : "", t.len, out);
		else
			cs_buf_append(out, t.data ? t.data : "", t.len);
		cs_buf_free(&v);
		cs_buf_free(&t);
		i += len;
	}
	if (!exp) {
		/* 7.3: over 253 octets, drop labels from the left */
		while (out->len > 253) {
			const char *dot = memchr(out->data, '.', out->len);
			size_t cut;

			if (dot == NULL)
				break;
			cut = (size_t)(dot - out->data) + 1;
			memmove(out->data, out->data + cut, out->len - cut);
			cs_buf_truncate(out, out->len - cut);
		}
		if (out->len > 0 && out->data[out->len - 1] == '.')
			cs_buf_truncate(out, out->len - 1);
	}
	return 0;
}

void dr_spf_ctx_sender(dr_spf_ctx *c, const char *sender, const char *domain)
{
	const char *at;

	if (sender == NULL || *sender == '\0')
		c->sender = cs_xasprintf("postmaster@%s", domain);
	else if ((at = strrchr(sender, '@')) == NULL)
		c->sender = cs_xasprintf("postmaster@%s", sender);
	else if (at == sender)
		c->sender = cs_xasprintf("postmaster%s", sender);
	else
		c->sender = cs_xstrdup(sender);
	at = strrchr(c->sender, '@');
	c->local = c->sender;
	c->local_len = (size_t)(at - c->sender);
	c->sdomain = at + 1;
}

int dr_spf_expand(const char *spec, size_t n, const char *ip,
                  const char *sender, const char *domain, const char *helo,
                  bool exp, cs_buf *out, char *why, size_t cap)
{
	dr_spf_ctx c;
	dr_spf_out o;
	int rc;

	memset(&c, 0, sizeof c);
	memset(&o, 0, sizeof o);
	c.out = &o;
	if (!dr_spf_ip_parse(ip, &c.ip))
		return dr_spf_fail_why(why, cap, "%s is not an IP address",
		                       ip ? ip : "(null)");
	dr_spf_ctx_sender(&c, sender, domain);
	c.helo = helo ? helo : domain;
	rc = dr_spf_macro_expand(&c, spec, n, domain, exp, out, why, cap);
	free(c.sender);
	free(c.ptr_name);
	return rc;
}

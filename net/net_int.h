/*
 * net_int.h - declarations shared by the files of net/ only.
 */
#ifndef COLDSEQ_NET_INT_H
#define COLDSEQ_NET_INT_H

#include "net.h"

/* Append s percent-encoded (RFC 3986 unreserved characters kept). */
void net_oauth_pct_encode(cs_buf *b, const char *s);
/* Append "key=value" (value percent-encoded), '&'-separated, to a form or
 * query string. */
void net_oauth_form_add(cs_buf *b, const char *key, const char *value);

#endif

/*
 * imap_session_int.h - the session struct, shared by the files of imap/
 * only (session.c, fetch.c, modify.c).
 */
#ifndef COLDSEQ_IMAP_SESSION_INT_H
#define COLDSEQ_IMAP_SESSION_INT_H

#include <libetpan/libetpan.h>

#include "imap.h"

struct imap_session {
	mailimap *imap;
	char *host;
	int port;
	bool tls_up;
	net_tls_info tls;
	cs_buf caps;
};

/* err = "what: host:port answered ..." or "... closed the connection";
 * returns CS_ENET. */
int imap_session_fail(imap_session *s, int r, const char *what, cs_err *err);

#endif

/*
 * seq_sentcopy.c - IMAP settings of an inbox, and the copy of a sent
 * message in its Sent folder.
 *
 * Generic servers keep no copy of what SMTP sends, so coldseq APPENDs the
 * exact bytes it sent, with \Seen, to the folder marked \Sent (SPECIAL-USE)
 * or by its usual name.  Gmail and Microsoft 365 file their own copy: with
 * sent_copy "auto" they are skipped.  A failed copy never turns a sent
 * message into a failure: it is reported and logged.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <string.h>

#include "imap/imap.h"

int seq_inbox_imap(db *d, cs_vault *v, const db_inbox *in, imap_server *srv,
                   imap_auth *auth, cs_secret **secret, cs_err *err)
{
	smtp_server ssrv;
	smtp_auth sauth;
	long long t = 60;
	int rc;

	/* the same secret and credentials as SMTP */
	if ((rc = seq_inbox_smtp(d, v, in, &ssrv, &sauth, secret, err)) != 0)
		return rc;
	if ((rc = db_config_get_int(d, "smtp.connect_timeout", &t, err)) != 0)
		return rc;
	memset(srv, 0, sizeof *srv);
	memset(auth, 0, sizeof *auth);
	srv->host = in->imap_host;
	srv->port = in->imap_port;
	srv->tls = strcmp(in->imap_tls, "tls") == 0        ? IMAP_TLS_IMPLICIT
	           : strcmp(in->imap_tls, "starttls") == 0 ? IMAP_TLS_STARTTLS
	                                                   : IMAP_TLS_NONE;
	srv->tls_opts.ca_file = in->ca_file;
	srv->tls_opts.insecure = in->insecure_tls;
	srv->timeout_ms = (int)t * 1000;
	auth->kind =
	    in->auth == DB_AUTH_OAUTH2 ? IMAP_AUTH_XOAUTH2 : IMAP_AUTH_PASSWORD;
	auth->user = in->username ? in->username : in->email;
	auth->secret = *secret;
	if (*secret == NULL && srv->tls != IMAP_TLS_NONE)
		return cs_err_set(err, CS_EINVAL,
		                  "inbox '%s' has no password stored",
		                  in->name);
	return 0;
}

bool seq_wants_sent_copy(const db_inbox *in)
{
	if (in->sent_copy == DB_SENT_COPY_ALWAYS)
		return true;
	if (in->sent_copy == DB_SENT_COPY_NEVER)
		return false;
	return !cs_provider_get(in->provider)->keeps_sent_copy;
}

int seq_sent_copy_to(const imap_server *srv, const imap_auth *auth,
                     const char *inbox_name, const char *raw, size_t len,
                     char **folder, cs_err *err)
{
	imap_session *s = NULL;
	imap_folders f;
	int rc;

	*folder = NULL;
	memset(&f, 0, sizeof f);
	if ((rc = imap_open(srv, auth, &s, err)) != 0 ||
	    (rc = imap_find_folders(s, &f, err)) != 0)
		goto out;
	if (f.sent == NULL) {
		rc = cs_err_set(
		    err, CS_ENOTFOUND,
		    "inbox '%s' has no Sent folder (none marked \\Sent "
		    "and none with a usual name)",
		    inbox_name);
		goto out;
	}
	if ((rc = imap_append(s, f.sent, raw, len, true, err)) == 0)
		*folder = cs_xstrdup(f.sent);
out:
	imap_folders_free(&f);
	imap_close(s);
	return rc;
}

int seq_sent_find(const imap_server *srv, const imap_auth *auth,
                  const char *message_id, bool *found, cs_err *err)
{
	imap_session *s = NULL;
	imap_folders f;
	int rc;

	*found = false;
	memset(&f, 0, sizeof f);
	if ((rc = imap_open(srv, auth, &s, err)) != 0 ||
	    (rc = imap_find_folders(s, &f, err)) != 0)
		goto out;
	if (f.sent == NULL)
		goto out; /* no Sent folder: not found */
	rc = imap_find_message_id(s, f.sent, message_id, found, err);
out:
	imap_folders_free(&f);
	imap_close(s);
	return rc;
}

int seq_sent_copy(db *d, cs_vault *v, const db_inbox *in, const char *raw,
                  size_t len, char **folder, cs_err *err)
{
	imap_server srv;
	imap_auth auth;
	cs_secret *secret = NULL;
	int rc;

	*folder = NULL;
	if ((rc = seq_inbox_imap(d, v, in, &srv, &auth, &secret, err)) == 0)
		rc = seq_sent_copy_to(&srv, &auth, in->name, raw, len, folder,
		                      err);
	cs_secret_free(secret);
	return rc;
}

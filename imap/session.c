/*
 * session.c - an IMAP client session over libetpan: connect, TLS through
 * net/ (OpenSSL, verified), STARTTLS, LOGIN or XOAUTH2, folder discovery
 * by SPECIAL-USE, APPEND.
 *
 * Credentials go only over TLS (or the loopback-only test mode, which
 * sends none).  Server text in errors is capped and scrubbed (net_scrub).
 * A session belongs to one thread at a time and never touches the
 * database.
 */
#define _POSIX_C_SOURCE 200809L
#include "imap.h"
#include "imap_session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

/* "what: the server said ..." or "the connection was lost". */
int imap_session_fail(imap_session *s, int r, const char *what, cs_err *err)
{
	const char *resp = s->imap ? s->imap->imap_response : NULL;
	cs_buf t = CS_BUF_INIT;
	int rc;

	if (r == MAILIMAP_ERROR_STREAM ||
	    r == MAILIMAP_ERROR_CONNECTION_REFUSED)
		rc = cs_err_set(err, CS_ENET, "%s: %s:%d %s", what, s->host,
		                s->port,
		                s->imap && net_timed_out(s->imap->imap_stream)
		                    ? "did not answer within the timeout"
		                    : "closed the connection");
	else {
		if (resp)
			net_scrub(resp, strlen(resp), 300, &t);
		rc = cs_err_set(err, CS_ENET, "%s: %s:%d answered: %s", what,
		                s->host, s->port,
		                t.len ? cs_buf_str(&t) : "(no text)");
	}
	cs_buf_free(&t);
	return rc;
}

static void save_caps(imap_session *s)
{
	struct mailimap_capability_data *caps = NULL;
	clistiter *it;

	cs_buf_clear(&s->caps);
	if (mailimap_capability(s->imap, &caps) != MAILIMAP_NO_ERROR || !caps)
		return;
	for (it = clist_begin(caps->cap_list); it; it = clist_next(it)) {
		struct mailimap_capability *c = clist_content(it);
		const char *name = c->cap_type == MAILIMAP_CAPABILITY_NAME
		                       ? c->cap_data.cap_name
		                       : c->cap_data.cap_auth_type;
		cs_buf scrubbed = CS_BUF_INIT;

		net_scrub(name, strlen(name), 64, &scrubbed);
		cs_buf_printf(
		    &s->caps, "%s%s%s", s->caps.len ? " " : "",
		    c->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE ? "AUTH=" : "",
		    cs_buf_str(&scrubbed));
		cs_buf_free(&scrubbed);
	}
	mailimap_capability_data_free(caps);
}

/* AUTHENTICATE PLAIN when offered (Cyrus SASL underneath), else LOGIN
 * unless the server disabled it.  Only ever called over TLS. */
static int password_login(imap_session *s, const char *host,
                          const imap_auth *auth)
{
	struct mailimap_capability_data *caps = NULL;
	int r;

	if (mailimap_capability(s->imap, &caps) == MAILIMAP_NO_ERROR && caps)
		mailimap_capability_data_free(caps);
	if (mailimap_has_authentication(s->imap, "PLAIN")) {
		r = mailimap_authenticate(s->imap, "PLAIN", host, NULL, NULL,
		                          auth->user, auth->user,
		                          cs_secret_value(auth->secret), NULL);
		/* a local SASL failure (no PLAIN plugin): try LOGIN */
		if (r != MAILIMAP_ERROR_SASL)
			return r;
	}
	if (mailimap_has_extension(s->imap, "LOGINDISABLED"))
		return MAILIMAP_ERROR_LOGIN;
	return mailimap_login(s->imap, auth->user,
	                      cs_secret_value(auth->secret));
}

int imap_open(const imap_server *srv, const imap_auth *auth, imap_session **out,
              cs_err *err)
{
	int timeout = srv->timeout_ms ? srv->timeout_ms : 60000;
	imap_session *s;
	mailstream_low *low = NULL;
	mailstream *stream;
	net_tls_opts tls_opts = srv->tls_opts;
	int fd, r;

	tls_opts.mode_option = "--imap-tls";
	*out = NULL;
	s = cs_xcalloc(1, sizeof *s);
	s->host = cs_xstrdup(srv->host);
	s->port = srv->port;
	if (net_tcp_connect(srv->host, srv->port, timeout, &fd, err) != 0)
		goto fail;
	if (srv->tls == IMAP_TLS_IMPLICIT) {
		if (net_tls_low(fd, srv->host, &tls_opts, timeout, &low,
		                &s->tls, err) != 0) {
			close(fd);
			goto fail;
		}
		s->tls_up = true;
	} else {
		/* an implicit-TLS port says nothing: tell it apart fast */
		if (net_await_greeting(fd, srv->host, srv->port, &tls_opts,
		                       timeout, err) != 0) {
			close(fd);
			goto fail;
		}
		low = net_plain_low(fd, timeout);
	}
	stream = mailstream_new(low, 8192);
	if (stream == NULL)
		cs_fatal("mailstream_new failed");
	s->imap = mailimap_new(0, NULL);
	if (s->imap == NULL)
		cs_fatal("mailimap_new failed");
	r = mailimap_connect(s->imap, stream);
	if (r != MAILIMAP_NO_ERROR &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		imap_session_fail(s, r, "IMAP greeting", err);
		goto fail;
	}
	if (srv->tls == IMAP_TLS_STARTTLS) {
		r = mailimap_starttls(s->imap);
		if (r != MAILIMAP_NO_ERROR) {
			imap_session_fail(s, r, "STARTTLS", err);
			goto fail;
		}
		if (net_starttls(s->imap->imap_stream, srv->host,
		                 &srv->tls_opts, timeout, &s->tls, err) != 0)
			goto fail;
		s->tls_up = true;
	}
	if (srv->tls != IMAP_TLS_NONE) {
		if (auth->kind == IMAP_AUTH_XOAUTH2)
			r = mailimap_oauth2_authenticate(
			    s->imap, auth->user, cs_secret_value(auth->secret));
		else
			r = password_login(s, srv->host, auth);
		if (r != MAILIMAP_NO_ERROR) {
			imap_session_fail(
			    s, r,
			    auth->kind == IMAP_AUTH_XOAUTH2
			        ? "IMAP authentication (XOAUTH2) failed"
			        : "IMAP authentication failed",
			    err);
			/* the server answered: it refused the credentials */
			if (err && r != MAILIMAP_ERROR_STREAM &&
			    r != MAILIMAP_ERROR_CONNECTION_REFUSED)
				err->code = CS_EREFUSED;
			goto fail;
		}
	}
	save_caps(s);
	*out = s;
	return 0;
fail:
	imap_close(s);
	return err && err->code ? err->code : CS_ENET;
}

const net_tls_info *imap_tls(const imap_session *s)
{
	return s->tls_up ? &s->tls : NULL;
}

const char *imap_capabilities(const imap_session *s)
{
	return cs_buf_str(&s->caps);
}

/* Attribute name ("Sent") of an LIST oflag, without the backslash. */
static const char *oflag_name(const struct mailimap_mbx_list_oflag *o)
{
	if (o->of_type != MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT || !o->of_flag_ext)
		return "";
	return o->of_flag_ext[0] == '\\' ? o->of_flag_ext + 1 : o->of_flag_ext;
}

static void take(char **slot, const char *name)
{
	if (*slot == NULL)
		*slot = cs_xstrdup(name);
}

int imap_find_folders(imap_session *s, imap_folders *out, cs_err *err)
{
	clist *list = NULL;
	clistiter *it;
	imap_folders byname;
	int r;

	memset(out, 0, sizeof *out);
	memset(&byname, 0, sizeof byname);
	r = mailimap_list(s->imap, "", "*", &list);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "LIST", err);
	for (it = clist_begin(list); it; it = clist_next(it)) {
		struct mailimap_mailbox_list *mb = clist_content(it);
		const char *name = mb->mb_name;
		clistiter *f;

		if (name == NULL)
			continue;
		if (mb->mb_flag && mb->mb_flag->mbf_oflags)
			for (f = clist_begin(mb->mb_flag->mbf_oflags); f;
			     f = clist_next(f)) {
				const char *a = oflag_name(clist_content(f));

				if (strcasecmp(a, "Sent") == 0)
					take(&out->sent, name);
				else if (strcasecmp(a, "Junk") == 0)
					take(&out->junk, name);
				else if (strcasecmp(a, "Drafts") == 0)
					take(&out->drafts, name);
				else if (strcasecmp(a, "Trash") == 0)
					take(&out->trash, name);
				else if (strcasecmp(a, "Archive") == 0)
					take(&out->archive, name);
				else if (strcasecmp(a, "All") == 0)
					take(&out->all, name);
			}
		if (cs_provider_folder_is(CS_FOLDER_SENT, name))
			take(&byname.sent, name);
		if (cs_provider_folder_is(CS_FOLDER_JUNK, name))
			take(&byname.junk, name);
	}
	mailimap_list_result_free(list);
	out->by_attribute = out->sent != NULL || out->junk != NULL;
	if (out->sent == NULL) {
		out->sent = byname.sent;
		byname.sent = NULL;
	}
	if (out->junk == NULL) {
		out->junk = byname.junk;
		byname.junk = NULL;
	}
	imap_folders_free(&byname);
	return 0;
}

void imap_folders_free(imap_folders *f)
{
	free(f->sent);
	free(f->junk);
	free(f->drafts);
	free(f->trash);
	free(f->archive);
	free(f->all);
	memset(f, 0, sizeof *f);
}

int imap_append(imap_session *s, const char *folder, const char *msg,
                size_t len, bool seen, cs_err *err)
{
	struct mailimap_flag_list *flags = mailimap_flag_list_new_empty();
	int r;

	if (seen)
		mailimap_flag_list_add(flags, mailimap_flag_new_seen());
	r = mailimap_append(s->imap, folder, flags, NULL, msg, len);
	mailimap_flag_list_free(flags);
	if (r != MAILIMAP_NO_ERROR)
		return imap_session_fail(s, r, "APPEND", err);
	return 0;
}

void imap_close(imap_session *s)
{
	if (s == NULL)
		return;
	if (s->imap) {
		if (s->imap->imap_stream) {
			net_set_timeout(s->imap->imap_stream, 5000);
			mailimap_logout(s->imap);
		}
		mailimap_free(s->imap);
	}
	cs_buf_free(&s->caps);
	free(s->host);
	free(s);
}

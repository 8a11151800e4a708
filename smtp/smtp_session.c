/*
 * smtp_session.c - one SMTP client session over libetpan: connect, TLS
 * (net/), EHLO, STARTTLS, AUTH, then MAIL/RCPT/DATA per message with RSET
 * in between.
 *
 * States: CLOSED -> CONNECTED (greeting read) -> READY (EHLO, TLS, AUTH
 * done) -> READY after each message, or DEAD after a lost connection or an
 * uncertain DATA.  A DEAD session sends nothing more.
 *
 * AUTH XOAUTH2 is written here (xoauth2_auth: the error challenge of RFC
 * 7628 3.2.2 is answered with an empty line and its status kept).
 *
 * Every outcome goes through smtp_policy(); every reply text is capped and
 * scrubbed (net_scrub) before it reaches a result, a log line or storage.
 * Credentials are only ever sent after TLS is up and verified (or the
 * inbox explicitly chose insecure TLS); SMTP_TLS_NONE sends no AUTH.
 */
#define _POSIX_C_SOURCE 200809L
#include "smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libetpan/libetpan.h>
#include <openssl/evp.h>

#define REPLY_CAP 400

struct smtp_session {
	mailsmtp *smtp;
	char *host;
	int port;
	int command_ms, data_end_ms;
	bool tls_up, used, dead;
	net_tls_info tls;
	cs_buf caps;
};

static void fill(smtp_result *res, smtp_phase phase, int code, const char *raw,
                 const char *fmt, ...) CS_PRINTF(5, 6);
static void fill_note(smtp_result *res, smtp_phase phase, int code,
                      const char *raw, const char *note, const char *fmt, ...)
    CS_PRINTF(6, 7);

/* Record what happened and what it means.  note (may be NULL) is added
 * to the text the policy reads, not to res->text: what the server said
 * elsewhere in the exchange (the XOAUTH2 challenge's status). */
static void vfill(smtp_result *res, smtp_phase phase, int code, const char *raw,
                  const char *note, const char *fmt, va_list ap)
{
	cs_buf t = CS_BUF_INIT;

	res->phase = phase;
	res->code = code;
	res->text[0] = '\0';
	res->enhanced[0] = '\0';
	if (raw) {
		net_scrub(raw, strlen(raw), REPLY_CAP, &t);
		snprintf(res->text, sizeof res->text, "%s", cs_buf_str(&t));
		smtp_parse_enhanced(res->text, res->enhanced);
	}
	if (note) {
		cs_buf_clear(&t);
		cs_buf_printf(&t, "%s %s", res->text, note);
	}
	smtp_policy(phase, code, res->enhanced,
	            note ? cs_buf_str(&t) : res->text, &res->verdict);
	cs_buf_free(&t);
	/* clang-analyzer 14 misreads va_start here (false positive) */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vsnprintf(res->detail, sizeof res->detail, fmt, ap);
	cs_redact_inplace(res->detail);
}

static void fill(smtp_result *res, smtp_phase phase, int code, const char *raw,
                 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfill(res, phase, code, raw, NULL, fmt, ap);
	va_end(ap);
}

static void fill_note(smtp_result *res, smtp_phase phase, int code,
                      const char *raw, const char *note, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfill(res, phase, code, raw, note, fmt, ap);
	va_end(ap);
}

/* The reply to the last command, or code 0 when the stream failed. */
static void reply_of(smtp_session *s, int r, smtp_result *res, smtp_phase phase,
                     const char *what)
{
	mailstream *st = s->smtp->stream;

	if (r == MAILSMTP_ERROR_STREAM ||
	    r == MAILSMTP_ERROR_CONNECTION_REFUSED ||
	    s->smtp->response == NULL) {
		s->dead = true;
		if (net_timed_out(st))
			fill(res, phase, 0, NULL,
			     "%s: no reply from %s:%d within the timeout", what,
			     s->host, s->port);
		else
			fill(res, phase, 0, NULL,
			     "%s: the connection to %s:%d was lost", what,
			     s->host, s->port);
		return;
	}
	fill(res, phase, s->smtp->response_code, s->smtp->response,
	     "%s: %s:%d answered %d", what, s->host, s->port,
	     s->smtp->response_code);
	if (s->smtp->response_code == 421)
		s->dead = true; /* the server closes the channel (RFC 5321) */
	/* append the server's words to the sentence */
	if (res->text[0]) {
		size_t n = strlen(res->detail);

		snprintf(res->detail + n, sizeof res->detail - n, " %s",
		         res->text);
	}
}

static void save_caps(smtp_session *s)
{
	const char *r = s->smtp->response;

	cs_buf_clear(&s->caps);
	if (r)
		net_scrub(r, strlen(r), 2000, &s->caps);
}

static int xoauth2_auth(smtp_session *s, const smtp_auth *auth,
                        smtp_result *res);

static int fail_open(smtp_session *s, int rc)
{
	smtp_close(s);
	return rc;
}

int smtp_open(const smtp_server *srv, const smtp_auth *auth, smtp_session **out,
              smtp_result *res)
{
	int connect_ms =
	    srv->connect_timeout_ms ? srv->connect_timeout_ms : 60000;
	smtp_session *s;
	mailstream_low *low = NULL;
	mailstream *stream;
	cs_err err = CS_ERR_INIT;
	net_tls_opts tls_opts = srv->tls_opts;
	int fd, r;

	tls_opts.mode_option = "--smtp-tls";
	*out = NULL;
	memset(res, 0, sizeof *res);
	if (srv->tls == SMTP_TLS_NONE && auth->kind != SMTP_AUTH_NONE) {
		fill(res, SMTP_PH_CONNECT, 0, NULL,
		     "refusing to send credentials to %s:%d without TLS",
		     srv->host, srv->port);
		res->verdict.outcome = SMTP_INBOX_FAILURE;
		return -1;
	}
	s = cs_xcalloc(1, sizeof *s);
	s->host = cs_xstrdup(srv->host);
	s->port = srv->port;
	s->command_ms =
	    srv->command_timeout_ms ? srv->command_timeout_ms : 300000;
	s->data_end_ms =
	    srv->data_end_timeout_ms ? srv->data_end_timeout_ms : 600000;
	if (net_tcp_connect(srv->host, srv->port, connect_ms, &fd, &err) != 0) {
		fill(res, SMTP_PH_CONNECT, 0, NULL, "%s", err.msg);
		return fail_open(s, -1);
	}
	if (srv->tls == SMTP_TLS_IMPLICIT) {
		if (net_tls_low(fd, srv->host, &tls_opts, connect_ms, &low,
		                &s->tls, &err) != 0) {
			close(fd);
			fill(res, SMTP_PH_TLS, 0, NULL, "%s", err.msg);
			return fail_open(s, -1);
		}
		s->tls_up = true;
	} else {
		/* an implicit-TLS port says nothing: tell it apart fast */
		if (net_await_greeting(fd, srv->host, srv->port, &tls_opts,
		                       s->command_ms, &err) != 0) {
			close(fd);
			fill(res, SMTP_PH_GREETING, 0, NULL, "%s", err.msg);
			return fail_open(s, -1);
		}
		low = net_plain_low(fd, s->command_ms);
	}
	stream = mailstream_new(low, 8192);
	if (stream == NULL)
		cs_fatal("mailstream_new failed");
	net_set_timeout(stream, s->command_ms);
	s->smtp = mailsmtp_new(0, NULL);
	if (s->smtp == NULL)
		cs_fatal("mailsmtp_new failed");
	r = mailsmtp_connect(s->smtp, stream);
	if (r != MAILSMTP_NO_ERROR) {
		reply_of(s, r, res, SMTP_PH_GREETING, "greeting");
		return fail_open(s, -1);
	}
	r = mailesmtp_ehlo(s->smtp);
	if (r != MAILSMTP_NO_ERROR) {
		reply_of(s, r, res, SMTP_PH_EHLO, "EHLO");
		return fail_open(s, -1);
	}
	save_caps(s);
	if (srv->tls == SMTP_TLS_STARTTLS) {
		if (!(s->smtp->esmtp & MAILSMTP_ESMTP_STARTTLS)) {
			fill(res, SMTP_PH_STARTTLS, 0, NULL,
			     "%s:%d does not offer STARTTLS; refusing to go on "
			     "without TLS",
			     s->host, s->port);
			res->verdict.outcome = SMTP_INBOX_FAILURE;
			return fail_open(s, -1);
		}
		r = mailesmtp_starttls(s->smtp);
		if (r != MAILSMTP_NO_ERROR) {
			reply_of(s, r, res, SMTP_PH_STARTTLS, "STARTTLS");
			return fail_open(s, -1);
		}
		if (net_starttls(s->smtp->stream, srv->host, &srv->tls_opts,
		                 connect_ms, &s->tls, &err) != 0) {
			s->dead = true;
			fill(res, SMTP_PH_TLS, 0, NULL, "%s", err.msg);
			return fail_open(s, -1);
		}
		net_set_timeout(s->smtp->stream, s->command_ms);
		s->tls_up = true;
		r = mailesmtp_ehlo(s->smtp);
		if (r != MAILSMTP_NO_ERROR) {
			reply_of(s, r, res, SMTP_PH_EHLO,
			         "EHLO after STARTTLS");
			return fail_open(s, -1);
		}
		save_caps(s);
	}
	if (auth->kind == SMTP_AUTH_XOAUTH2) {
		if (xoauth2_auth(s, auth, res) != 0)
			return fail_open(s, -1);
	} else if (auth->kind == SMTP_AUTH_PASSWORD) {
		const char *mech = s->smtp->auth & MAILSMTP_AUTH_PLAIN ? "PLAIN"
		                   : s->smtp->auth & MAILSMTP_AUTH_LOGIN
		                       ? "LOGIN"
		                       : NULL;
		int before = s->smtp->response_code;

		if (mech == NULL) {
			fill(res, SMTP_PH_AUTH, 0, NULL,
			     "%s:%d offers neither AUTH PLAIN nor AUTH LOGIN",
			     s->host, s->port);
			res->verdict.outcome = SMTP_INBOX_FAILURE;
			return fail_open(s, -1);
		}
		r = mailesmtp_auth_sasl(s->smtp, mech, s->host, NULL, NULL,
		                        auth->user, auth->user,
		                        cs_secret_value(auth->secret), NULL);
		if (r != MAILSMTP_NO_ERROR) {
			if (s->smtp->response_code == before &&
			    r != MAILSMTP_ERROR_STREAM) {
				/* nothing was sent: Cyrus SASL has no plugin */
				fill(res, SMTP_PH_AUTH, 0, NULL,
				     "AUTH %s is not available on this machine "
				     "(install libsasl2-modules)",
				     mech);
				res->verdict.outcome = SMTP_INBOX_FAILURE;
			} else {
				reply_of(s, r, res, SMTP_PH_AUTH,
				         "authentication failed");
			}
			return fail_open(s, -1);
		}
	}
	fill(res, SMTP_PH_AUTH, 235, NULL, "session ready");
	res->verdict.outcome = SMTP_SENT;
	*out = s;
	return 0;
}

/* Write n bytes of a command and flush; -1 when the stream failed. */
static int write_cmd(smtp_session *s, const char *data, size_t n)
{
	mailsmtp *m = s->smtp;

	if (mailstream_write(m->stream, data, n) < 0 ||
	    mailstream_flush(m->stream) == -1)
		return -1;
	return 0;
}

/* Read one reply as libetpan reads one (multi-line "250-", last line
 * "250 "), into the session's response and response_code that
 * reply_of() reads.  Returns the code, 0 when the stream failed. */
static int read_reply(smtp_session *s)
{
	mailsmtp *m = s->smtp;
	int code = 0;
	bool more;

	mmap_string_assign(m->response_buffer, "");
	do {
		char *line =
		    mailstream_read_line_remove_eol(m->stream, m->line_buffer);
		char *rest;

		if (line == NULL) {
			code = 0;
			break;
		}
		code = (int)strtol(line, &rest, 10);
		more = *rest == '-';
		mmap_string_append(m->response_buffer,
		                   *rest == ' ' || *rest == '-' ? rest + 1
		                                                : rest);
		mmap_string_append_c(m->response_buffer, '\n');
	} while (more);
	m->response = m->response_buffer->str;
	m->response_code = code;
	return code;
}

/* MAIL FROM:<from> BODY=8BITMIME.  libetpan has no call that sends the
 * BODY parameter, so the command is written here and the reply read with
 * read_reply. */
static int mail_8bitmime(smtp_session *s, const char *from)
{
	cs_buf cmd = CS_BUF_INIT;
	int code, w;

	cs_buf_printf(&cmd, "MAIL FROM:<%s> BODY=8BITMIME\r\n", from);
	w = write_cmd(s, cmd.data, cmd.len);
	cs_buf_free(&cmd);
	if (w != 0)
		return MAILSMTP_ERROR_STREAM;
	code = read_reply(s);
	if (code == 0)
		return MAILSMTP_ERROR_STREAM;
	return code == 250 ? MAILSMTP_NO_ERROR : MAILSMTP_ERROR_UNEXPECTED_CODE;
}

/* Wipe and free a buffer that held a credential. */
static void buf_wipe(cs_buf *b)
{
	if (b->data)
		cs_memwipe(b->data, b->cap);
	cs_buf_free(b);
}

/* The XOAUTH2 error challenge b64 (RFC 7628 3.2.2; Google sends
 * {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"})
 * decoded: its status and scope, scrubbed, into status and scope ("" when
 * absent or not JSON).  Nothing of the token is in it. */
static void challenge_of(const char *b64, char status[16], char scope[160])
{
	size_t n = strcspn(b64, " \r\n");
	unsigned char *raw;
	cJSON *j;
	int len;

	status[0] = scope[0] = '\0';
	if (n == 0 || n % 4 != 0 || n > 4096)
		return;
	raw = cs_xcalloc(1, n / 4 * 3 + 1);
	len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
	while (len > 0 && raw[len - 1] == '\0') /* the padding's zeros */
		len--;
	j = len > 0 ? cJSON_ParseWithLength((const char *)raw, (size_t)len)
	            : NULL;
	if (j) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
		const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scope");
		cs_buf t = CS_BUF_INIT;

		if (cJSON_IsString(st))
			net_scrub(st->valuestring, strlen(st->valuestring), 15,
			          &t);
		else if (cJSON_IsNumber(st))
			cs_buf_printf(&t, "%d", st->valueint);
		snprintf(status, 16, "%s", cs_buf_str(&t));
		cs_buf_clear(&t);
		if (cJSON_IsString(sc))
			net_scrub(sc->valuestring, strlen(sc->valuestring), 150,
			          &t);
		snprintf(scope, 160, "%s", cs_buf_str(&t));
		cs_buf_free(&t);
		cJSON_Delete(j);
	}
	free(raw);
}

/* AUTH XOAUTH2 with the initial response.  On an error challenge (334
 * and base64 JSON) the client must send an empty line and then read the
 * final reply (RFC 7628 3.2.2): that reply's code decides, and the
 * challenge's status goes with its text to the policy ("[xoauth2
 * status=401]": a refused token) and into res->detail.  Written here, not
 * with mailsmtp_oauth2_authenticate: that one cuts the command at 512
 * octets (a Microsoft token is longer) and drops the challenge.  0 when
 * the server took the token. */
static int xoauth2_auth(smtp_session *s, const smtp_auth *auth,
                        smtp_result *res)
{
	cs_buf ir = CS_BUF_INIT, cmd = CS_BUF_INIT, note = CS_BUF_INIT;
	char status[16], scope[160];
	unsigned char *b64;
	size_t b64cap;
	int code, w;

	cs_buf_printf(&ir, "user=%s\001auth=Bearer %s\001\001", auth->user,
	              cs_secret_value(auth->secret));
	b64cap = (ir.len + 2) / 3 * 4 + 1;
	b64 = cs_xcalloc(1, b64cap);
	EVP_EncodeBlock(b64, (const unsigned char *)ir.data, (int)ir.len);
	cs_buf_printf(&cmd, "AUTH XOAUTH2 %s\r\n", (const char *)b64);
	w = write_cmd(s, cmd.data, cmd.len);
	cs_memwipe(b64, b64cap);
	free(b64);
	buf_wipe(&ir);
	buf_wipe(&cmd);
	if (w != 0 || (code = read_reply(s)) == 0) {
		reply_of(s, MAILSMTP_ERROR_STREAM, res, SMTP_PH_AUTH,
		         "authentication (XOAUTH2)");
		return -1;
	}
	if (code == 235)
		return 0;
	if (code != 334) {
		reply_of(s, MAILSMTP_ERROR_UNEXPECTED_CODE, res, SMTP_PH_AUTH,
		         "authentication (XOAUTH2) failed");
		return -1;
	}
	challenge_of(s->smtp->response, status, scope);
	if (write_cmd(s, "\r\n", 2) != 0 || (code = read_reply(s)) == 0) {
		reply_of(s, MAILSMTP_ERROR_STREAM, res, SMTP_PH_AUTH,
		         "authentication (XOAUTH2), after its error challenge");
		return -1;
	}
	if (code == 235) /* a challenge that was not an error after all */
		return 0;
	if (status[0])
		cs_buf_printf(&note, "[xoauth2 status=%s]", status);
	fill_note(res, SMTP_PH_AUTH, code, s->smtp->response,
	          note.len ? note.data : NULL,
	          "authentication (XOAUTH2) failed: %s:%d answered %d "
	          "(its XOAUTH2 challenge said status %s%s%s)",
	          s->host, s->port, code, status[0] ? status : "-",
	          scope[0] ? ", scope " : "", scope);
	cs_buf_free(&note);
	if (code == 421)
		s->dead = true;
	if (res->text[0]) {
		size_t n = strlen(res->detail);

		snprintf(res->detail + n, sizeof res->detail - n, " %s",
		         res->text);
	}
	return -1;
}

int smtp_send(smtp_session *s, const char *from, const char *rcpt,
              const char *data, size_t len, smtp_result *res)
{
	cs_buf qp = CS_BUF_INIT;
	bool eight = smtp_has_8bit(data, len);
	int r;

	memset(res, 0, sizeof *res);
	if (s->dead) {
		fill(res, SMTP_PH_MAIL, 0, NULL,
		     "the session with %s:%d is closed", s->host, s->port);
		return -1;
	}
	net_set_timeout(s->smtp->stream, s->command_ms);
	if (s->used) {
		r = mailsmtp_reset(s->smtp);
		if (r != MAILSMTP_NO_ERROR) {
			reply_of(s, r, res, SMTP_PH_RSET, "RSET");
			s->dead = true;
			return -1;
		}
	}
	s->used = true;
	if (eight && (s->smtp->esmtp & MAILSMTP_ESMTP_8BITMIME))
		r = mail_8bitmime(s, from);
	else
		r = mailsmtp_mail(s->smtp, from);
	if (r != MAILSMTP_NO_ERROR) {
		reply_of(s, r, res, SMTP_PH_MAIL, "MAIL FROM");
		return -1;
	}
	if (eight && !(s->smtp->esmtp & MAILSMTP_ESMTP_8BITMIME)) {
		/* RFC 6152 3: no 8bit data to a server that did not ask for
		 * it; 8bit parts go as quoted-printable */
		smtp_downgrade_8bit(data, len, &qp);
		data = qp.data;
		len = qp.len;
	}
	r = mailsmtp_rcpt(s->smtp, rcpt);
	if (r != MAILSMTP_NO_ERROR) {
		reply_of(s, r, res, SMTP_PH_RCPT, "RCPT TO");
		cs_buf_free(&qp);
		return -1;
	}
	r = mailsmtp_data(s->smtp);
	if (r != MAILSMTP_NO_ERROR) {
		reply_of(s, r, res, SMTP_PH_DATA, "DATA");
		cs_buf_free(&qp);
		return -1;
	}
	net_set_timeout(s->smtp->stream, s->data_end_ms);
	/* libetpan ends the data with CRLF "." CRLF whatever it ends with:
	 * a final CRLF of our own would arrive as one more empty line */
	if (len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n')
		len -= 2;
	r = mailsmtp_data_message(s->smtp, data, len);
	cs_buf_free(&qp);
	reply_of(s, r, res, SMTP_PH_DATA_END, "end of data");
	if (res->verdict.outcome == SMTP_UNCERTAIN) {
		s->dead = true;
		snprintf(res->detail, sizeof res->detail,
		         "the connection to %s:%d was lost after the message "
		         "was sent and before the server answered: the message "
		         "may be sent more than once if retried",
		         s->host, s->port);
	}
	return res->verdict.outcome == SMTP_SENT ? 0 : -1;
}

bool smtp_alive(const smtp_session *s)
{
	return s && !s->dead;
}

const net_tls_info *smtp_tls(const smtp_session *s)
{
	return s->tls_up ? &s->tls : NULL;
}

const char *smtp_capabilities(const smtp_session *s)
{
	return cs_buf_str(&s->caps);
}

void smtp_close(smtp_session *s)
{
	if (s == NULL)
		return;
	if (s->smtp) {
		if (!s->dead && s->smtp->stream) {
			net_set_timeout(s->smtp->stream, 5000);
			mailsmtp_quit(s->smtp);
		}
		mailsmtp_free(s->smtp);
	}
	cs_buf_free(&s->caps);
	free(s->host);
	free(s);
}

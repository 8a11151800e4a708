/*
 * cmd_inbox_test.c - `coldseq inbox test NAME`: connect to the inbox's
 * SMTP and IMAP servers, verify TLS, authenticate, and show what was found
 * (TLS version, certificate, capabilities, Sent and Junk folders).
 * Nothing is sent and no mail is read or changed.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "imap/imap.h"
#include "net/net.h"
#include "sequencer/seq.h"
#include "smtp/smtp.h"

static cJSON *tls_json(const net_tls_info *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "version", t->version);
	cJSON_AddStringToObject(o, "cipher", t->cipher);
	cJSON_AddStringToObject(o, "subject", t->subject);
	cJSON_AddStringToObject(o, "issuer", t->issuer);
	cJSON_AddBoolToObject(o, "verified", t->verified);
	return o;
}

static void print_tls(FILE *out, const char *what, const net_tls_info *t)
{
	if (t == NULL) {
		fprintf(out, "%s TLS:         none (loopback test mode)\n",
		        what);
		return;
	}
	fprintf(out, "%s TLS:         %s, %s, certificate %s\n", what,
	        t->version, t->cipher,
	        t->verified ? "verified" : "NOT verified (insecure-tls)");
	fprintf(out, "%s certificate: %s (issuer %s)\n", what, t->subject,
	        t->issuer);
}

static int run_test(cli_ctx *ctx, const cli_args *a)
{
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	smtp_server srv;
	smtp_auth sauth;
	smtp_session *ss = NULL;
	smtp_result res;
	imap_server isrv;
	imap_auth iauth;
	imap_session *is = NULL;
	imap_folders folders;
	cs_secret *secret = NULL, *isecret = NULL;
	cJSON *doc = a->json ? cJSON_CreateObject() : NULL;
	bool refreshed = false;
	int rc = CLI_EXIT_FAIL;

	memset(&folders, 0, sizeof folders);
	if (db_inbox_get(ctx->db, a->pos[0], &in, &err) != 0) {
		cli_error("inbox test: %s", err.msg);
		cJSON_Delete(doc);
		return CLI_EXIT_FAIL;
	}
	if (seq_inbox_smtp(ctx->db, ctx->vault, &in, &srv, &sauth, &secret,
	                   &err) != 0) {
		cli_error("inbox test: %s", err.msg);
		goto out;
	}
	/* an OAuth2 token the server refuses is refreshed once
	 * (seq_auth_refresh_once), for SMTP and IMAP together */
	if (seq_smtp_login(ctx->db, ctx->vault, &in, &srv, &sauth, &secret, &ss,
	                   &res, &refreshed, &err) != 0) {
		if (doc) {
			cJSON_AddStringToObject(doc, "smtp_error", err.msg);
			cJSON_AddStringToObject(
			    doc, "outcome",
			    smtp_outcome_name(res.verdict.outcome));
		}
		cli_error("inbox test %s: SMTP %s:%d: %s", in.name,
		          in.smtp_host, in.smtp_port, err.msg);
		goto out;
	}
	if (doc) {
		cJSON *o = cJSON_CreateObject();

		if (smtp_tls(ss))
			cJSON_AddItemToObject(o, "tls", tls_json(smtp_tls(ss)));
		cJSON_AddStringToObject(o, "capabilities",
		                        smtp_capabilities(ss));
		cJSON_AddItemToObject(doc, "smtp", o);
	} else {
		fprintf(
		    ctx->out, "SMTP %s:%d: connected and authenticated as %s\n",
		    in.smtp_host, in.smtp_port, sauth.user ? sauth.user : "-");
		print_tls(ctx->out, "SMTP", smtp_tls(ss));
		fprintf(ctx->out, "SMTP capabilities: %s\n",
		        smtp_capabilities(ss));
	}
	smtp_close(ss);
	ss = NULL;
	if (seq_inbox_imap(ctx->db, ctx->vault, &in, &isrv, &iauth, &isecret,
	                   &err) != 0 ||
	    seq_imap_login(ctx->db, ctx->vault, &in, &isrv, &iauth, &isecret,
	                   &is, &refreshed, &err) != 0) {
		if (doc)
			cJSON_AddStringToObject(doc, "imap_error", err.msg);
		cli_error("inbox test %s: IMAP %s:%d: %s", in.name,
		          in.imap_host, in.imap_port, err.msg);
		goto out;
	}
	if (imap_find_folders(is, &folders, &err) != 0) {
		cli_error("inbox test %s: IMAP: %s", in.name, err.msg);
		goto out;
	}
	if (doc) {
		cJSON *o = cJSON_CreateObject();

		if (imap_tls(is))
			cJSON_AddItemToObject(o, "tls", tls_json(imap_tls(is)));
		cJSON_AddStringToObject(o, "capabilities",
		                        imap_capabilities(is));
		if (folders.sent)
			cJSON_AddStringToObject(o, "sent", folders.sent);
		if (folders.junk)
			cJSON_AddStringToObject(o, "junk", folders.junk);
		cJSON_AddBoolToObject(o, "special_use", folders.by_attribute);
		cJSON_AddItemToObject(doc, "imap", o);
	} else {
		fprintf(ctx->out, "IMAP %s:%d: connected and logged in\n",
		        in.imap_host, in.imap_port);
		print_tls(ctx->out, "IMAP", imap_tls(is));
		fprintf(ctx->out, "IMAP capabilities: %s\n",
		        imap_capabilities(is));
		fprintf(ctx->out, "Sent folder: %s\nJunk folder: %s%s\n",
		        folders.sent ? folders.sent : "(none found)",
		        folders.junk ? folders.junk : "(none found)",
		        folders.by_attribute ? " (by SPECIAL-USE)"
		                             : " (by name)");
	}
	rc = CLI_EXIT_OK;
out:
	if (doc) {
		cJSON_AddStringToObject(doc, "inbox", in.name);
		cJSON_AddBoolToObject(doc, "ok", rc == CLI_EXIT_OK);
		cli_print_json(ctx, doc);
	}
	imap_folders_free(&folders);
	imap_close(is);
	smtp_close(ss);
	cs_secret_free(secret);
	cs_secret_free(isecret);
	db_inbox_free(&in);
	return rc;
}

const cli_cmd cli_cmds_inbox_test[] = {
    {"inbox", "test", "NAME", "connect, verify TLS and log in to SMTP and IMAP",
     "Connects to the inbox's SMTP and IMAP servers, verifies their\n"
     "certificates, authenticates, and prints the TLS version, the\n"
     "certificate subject, the capabilities, and the Sent and Junk folders\n"
     "found.  Sends nothing and reads no mail.  Exit 1 names the precise\n"
     "problem (wrong password, untrusted certificate and why, connection\n"
     "refused, timeout).  An OAuth2 access token a server refuses is\n"
     "refreshed once; if the provider refuses that, the inbox becomes\n"
     "auth_failed and the reconnect command is shown; if the server\n"
     "refuses the fresh token too, the error names the mailbox setting\n"
     "to fix (SMTP AUTH or IMAP disabled, a missing scope).\n\n"
     "--json prints {\"inbox\", \"ok\", \"smtp\": {\"tls\", "
     "\"capabilities\"},\n"
     "\"imap\": {\"tls\", \"capabilities\", \"sent\", \"junk\", "
     "\"special_use\"},\n\"smtp_error\", \"imap_error\"}.\n\n"
     "Example:\n  coldseq inbox test sales1",
     1, 1, CLI_NEEDS_VAULT, NULL, run_test},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

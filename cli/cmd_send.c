/*
 * cmd_send.c - `coldseq send-test`: send one message now from an inbox.
 *
 * Output contract: the first line is "Message-ID: <...>", then the
 * server's final reply.  The message is recorded (purpose "test") and
 * counts toward the inbox's daily cap; at the cap nothing is sent.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sequencer/seq.h"
#include "smtp/smtp.h"

static const cli_opt send_opts[] = {
    {"from", 0, "NAME", false, "the inbox to send from"},
    {"to", 0, "ADDR", false, "recipient address"},
    {"subject", 0, "S", false, "subject (default: coldseq test message)"},
    {"body", 0, "TEXT", false, "body text"},
    {"body-file", 0, "F", false, "read the body from a file"},
    {NULL, 0, NULL, false, NULL},
};

/* List-Unsubscribe values for this recipient; strings into bufs. */
static int unsub_headers(cli_ctx *ctx, const db_inbox *in, const char *to,
                         cs_buf *mailto, cs_buf *url, cs_err *err)
{
	char token[23];
	cs_buf tmpl = CS_BUF_INIT;
	bool set = false;
	int rc;

	if ((rc = seq_unsub_token(ctx->db, ctx->vault, to, "test", token,
	                          err)) != 0)
		return rc;
	cs_buf_printf(mailto, "mailto:%s?subject=unsubscribe%%20%s", in->email,
	              token);
	rc = db_config_get(ctx->db, "unsubscribe.url_template", &tmpl, &set,
	                   err);
	if (rc == 0 && set && tmpl.len) {
		const char *p = strstr(tmpl.data, "{token}");

		if (p) {
			cs_buf_append(url, tmpl.data, (size_t)(p - tmpl.data));
			cs_buf_puts(url, token);
			cs_buf_puts(url, p + 7);
		}
	}
	cs_buf_free(&tmpl);
	return rc;
}

static int run_send(cli_ctx *ctx, const cli_args *a)
{
	const char *from = cli_opt_value(a, "from"),
	           *to = cli_opt_value(a, "to");
	const char *body = cli_opt_value(a, "body");
	const char *body_file = cli_opt_value(a, "body-file");
	cs_buf text = CS_BUF_INIT, raw = CS_BUF_INIT, mailto = CS_BUF_INIT,
	       url = CS_BUF_INIT;
	cs_err err = CS_ERR_INIT;
	db_inbox in;
	smtp_msg_spec m;
	seq_sent sent;
	cs_clock *clock = NULL;
	char *copy_folder = NULL, copy_error[512] = "";
	int rc = CLI_EXIT_FAIL, src;

	memset(&in, 0, sizeof in);
	memset(&sent, 0, sizeof sent);
	if (from == NULL || to == NULL) {
		cli_error("send-test needs --from NAME and --to ADDR.\nSee "
		          "'coldseq send-test --help'.");
		return CLI_EXIT_USAGE;
	}
	if (body && body_file) {
		cli_error("send-test takes --body or --body-file, not both.");
		return CLI_EXIT_USAGE;
	}
	if (!cli_valid_email(to)) {
		cli_error("send-test: --to \"%s\" is not an email address", to);
		return CLI_EXIT_USAGE;
	}
	if (body_file) {
		if (cs_read_file(body_file, 1 << 20, &text, &err) != 0)
			goto fail;
	} else {
		cs_buf_puts(&text, body ? body
		                        : "This is a test message sent by "
		                          "coldseq.\n");
	}
	if (db_inbox_get(ctx->db, from, &in, &err) != 0)
		goto fail;
	if (in.signature) {
		cs_buf_puts(&text, "\n-- \n");
		cs_buf_puts(&text, in.signature);
	}
	if (unsub_headers(ctx, &in, to, &mailto, &url, &err) != 0)
		goto fail;
	memset(&m, 0, sizeof m);
	m.from_name = in.display_name;
	m.from_addr = in.email;
	m.to_addr = to;
	m.subject = cli_opt_value(a, "subject");
	if (m.subject == NULL)
		m.subject = "coldseq test message";
	m.text = cs_buf_str(&text);
	m.list_unsubscribe_mailto = cs_buf_str(&mailto);
	m.list_unsubscribe_url = url.len ? cs_buf_str(&url) : NULL;
	clock = cs_clock_new_real();
	src = seq_send_now(ctx->db, ctx->vault, clock, &in, &m, DB_PURPOSE_TEST,
	                   &raw, &sent, &err);
	if (src == 0 && seq_wants_sent_copy(&in)) {
		cs_err cerr = CS_ERR_INIT;

		if (seq_sent_copy(ctx->db, ctx->vault, &in, raw.data, raw.len,
		                  &copy_folder, &cerr) != 0) {
			/* the message went out; only the copy is missing */
			snprintf(copy_error, sizeof copy_error, "%s", cerr.msg);
			cs_log_warn(
			    "send-test: %s was sent but no copy was kept "
			    "in Sent: %s",
			    sent.message_id, cerr.msg);
		}
	}
	if (a->json) {
		cJSON *o = cJSON_CreateObject();

		if (sent.message_id)
			cJSON_AddStringToObject(o, "message_id",
			                        sent.message_id);
		cJSON_AddStringToObject(o, "inbox", in.name);
		cJSON_AddStringToObject(o, "to", to);
		cJSON_AddStringToObject(
		    o, "outcome",
		    src == 0 ? "sent"
		    : sent.message_id
		        ? smtp_outcome_name(sent.smtp.verdict.outcome)
		        : "not_sent");
		if (sent.smtp.code)
			cJSON_AddNumberToObject(o, "code", sent.smtp.code);
		if (sent.smtp.text[0])
			cJSON_AddStringToObject(o, "reply", sent.smtp.text);
		if (src != 0)
			cJSON_AddStringToObject(o, "error", err.msg);
		if (copy_folder)
			cJSON_AddStringToObject(o, "sent_copy", copy_folder);
		else if (copy_error[0])
			cJSON_AddStringToObject(o, "sent_copy_error",
			                        copy_error);
		cli_print_json(ctx, o);
	} else if (sent.message_id) {
		fprintf(ctx->out, "Message-ID: %s\n", sent.message_id);
		if (sent.smtp.code)
			fprintf(ctx->out, "%d %s\n", sent.smtp.code,
			        sent.smtp.text);
		if (copy_folder)
			fprintf(ctx->out, "Copy kept in: %s\n", copy_folder);
		else if (copy_error[0])
			cli_error(
			    "send-test: sent, but no copy kept in Sent: %s",
			    copy_error);
	}
	if (src != 0) {
		if (!a->json)
			cli_error("send-test: %s", err.msg);
		goto out;
	}
	rc = CLI_EXIT_OK;
	goto out;
fail:
	cli_error("send-test: %s", err.msg);
out:
	cs_clock_free(clock);
	free(copy_folder);
	free(sent.message_id);
	db_inbox_free(&in);
	cs_buf_free(&text);
	cs_buf_free(&raw);
	cs_buf_free(&mailto);
	cs_buf_free(&url);
	return rc;
}

const cli_cmd cli_cmds_send[] = {
    {NULL, "send-test", NULL, "send one message now from an inbox",
     "Sends over the inbox's SMTP server at once.  The first output line\n"
     "is 'Message-ID: <...>', then the server's final reply.  The message\n"
     "is recorded and counts toward the inbox's daily cap (checked and\n"
     "recorded at once, so a running service or other send-tests cannot\n"
     "take it past); when the cap is reached nothing is sent.  An OAuth2\n"
     "token the server refuses is refreshed once.  Exit 1 when the server\n"
     "did not accept it.\n"
     "\n"
     "--json prints {\"message_id\", \"inbox\", \"to\", \"outcome\", "
     "\"code\",\n\"reply\", \"error\", \"sent_copy\" (the folder), "
     "\"sent_copy_error\"}.\n\n"
     "Example:\n"
     "  coldseq send-test --from sales1 --to me@example.org --subject Hi",
     0, 0, CLI_NEEDS_VAULT, send_opts, run_send},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

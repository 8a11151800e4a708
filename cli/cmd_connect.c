/*
 * cmd_connect.c - `coldseq inbox connect microsoft|google`: sign an inbox
 * in with OAuth2 and store its tokens; `--pending` walks the inboxes that
 * `inbox import` created without a connection.
 *
 * Microsoft: the device-code grant (the user opens a URL anywhere and
 * types a code).  Google: the authorization code grant with PKCE and
 * state, redirected to a listener on 127.0.0.1 at a port the system
 * picks; the browser is opened with xdg-open when there is a display.
 * With or without a browser coldseq also reads stdin, so on a headless
 * server (--no-browser) the user opens the URL elsewhere and pastes the
 * address the browser ended on (which does not load there); its state is
 * checked before the code is used.
 *
 * The inbox gets the provider's servers unless --smtp/--imap say
 * otherwise.  A connect of an inbox that exists (same name, or same email
 * when no --name is given) reconnects it: new tokens, settings kept.
 * Tokens go straight into the vault; nothing here prints or logs them.
 * Prompts go to stdout (stderr with --json, which keeps stdout for the
 * result).
 */
#define _POSIX_C_SOURCE 200809L
#include "cli_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "net/net.h"
#include "sequencer/seq.h"

#define HTTP_TIMEOUT_MS 30000  /* the CLI may wait longer than the loop */
#define BROWSER_WAIT_MS 600000 /* the user signs in within 10 minutes */
#define PASTE_MAX       8192

extern char **environ;

typedef struct connect_req {
	cli_ctx *ctx;
	const cli_args *a;
	cs_provider_id provider;
	const char *tenant;
	bool no_browser;
	FILE *say;  /* prompts: stdout, or stderr with --json */
	cJSON *arr; /* --pending --json: every inbox's result, printed once */
} connect_req;

static bool valid_tenant(const char *t)
{
	size_t n = strlen(t), i;

	if (n == 0 || n > 100)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

/* ---- Microsoft: device code -------------------------------------------- */

static int device_flow(connect_req *r, const seq_oauth_cfg *cfg,
                       const char *email, net_oauth_tokens *out, cs_err *err)
{
	net_oauth_device dev;
	int rc;

	if ((rc = net_oauth_device_start(&cfg->client,
	                                 cs_buf_str(&cfg->device_url),
	                                 cfg->scope, &dev, err)) != 0)
		return rc;
	fprintf(r->say,
	        "To connect %s, open %s\nand enter the code %s\n"
	        "(sign in as %s; the code expires in %d minutes)\n",
	        email, dev.verification_uri, dev.user_code, email,
	        (dev.expires_in_s + 59) / 60);
	fflush(r->say);
	rc = net_oauth_device_wait(&cfg->client, &dev, out, err);
	net_oauth_device_free(&dev);
	return rc;
}

/* ---- Google: authorization code, PKCE, loopback ----------------------- */

static void open_browser(const char *url)
{
	const char *disp = getenv("DISPLAY"), *way = getenv("WAYLAND_DISPLAY");
	posix_spawn_file_actions_t fa;
	char *argv[3];
	pid_t pid;

	if ((disp == NULL || *disp == '\0') && (way == NULL || *way == '\0'))
		return;
	argv[0] = (char *)"xdg-open";
	argv[1] = (char *)url;
	argv[2] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	/* not waited for: xdg-open may outlive us; init reaps it */
	if (posix_spawnp(&pid, "xdg-open", &fa, NULL, argv, environ) != 0)
		pid = 0;
	posix_spawn_file_actions_destroy(&fa);
}

/* Read what is on stdin into line; true when a whole line is there. *eof
 * when stdin ended. */
static bool read_paste(cs_buf *line, bool *eof)
{
	char buf[512];
	ssize_t n = read(0, buf, sizeof buf);
	char *nl;

	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			*eof = true;
		return *eof && line->len > 0;
	}
	if (line->len + (size_t)n > PASTE_MAX) {
		cs_buf_clear(line);
		return false;
	}
	cs_buf_append(line, buf, (size_t)n);
	cs_memwipe(buf, sizeof buf);
	nl = memchr(line->data, '\n', line->len);
	if (nl)
		*nl = '\0';
	return nl != NULL;
}

static int browser_flow(connect_req *r, const seq_oauth_cfg *cfg,
                        const char *email, net_oauth_tokens *out, cs_err *err)
{
	net_oauth_listener l;
	net_oauth_pkce pk;
	cs_buf url = CS_BUF_INIT, line = CS_BUF_INIT;
	cs_secret *code = NULL;
	int64_t end = cs_mono_ms() + BROWSER_WAIT_MS;
	bool stdin_open = true, done = false;
	int rc;

	net_oauth_pkce_new(&pk);
	if ((rc = net_oauth_listen(&l, err)) != 0) {
		net_oauth_pkce_free(&pk);
		return rc;
	}
	cs_buf_reserve(&line, PASTE_MAX + 512); /* never moves: wiped */
	if ((rc = net_oauth_auth_url(cs_buf_str(&cfg->auth_url),
	                             cfg->client.client_id, l.redirect_uri,
	                             cfg->scope, email, &pk, &url, err)) != 0)
		goto out;
	fprintf(r->say,
	        "To connect %s, open this address in a browser and sign in "
	        "as %s:\n%s\n",
	        email, email, url.data);
	if (r->no_browser)
		fprintf(r->say,
		        "After you allow access the browser goes to an address "
		        "starting with %s\n(it does not load on another "
		        "machine): paste that whole address here and press "
		        "Enter.\n",
		        l.redirect_uri);
	else
		fprintf(r->say,
		        "Waiting for the browser to come back to %s\n(or "
		        "paste the address it ended on here).\n",
		        l.redirect_uri);
	fflush(r->say);
	if (!r->no_browser)
		open_browser(url.data);
	while (!done) {
		struct pollfd p[2] = {{l.fd, POLLIN, 0},
		                      {stdin_open ? 0 : -1, POLLIN, 0}};
		int left = (int)(end - cs_mono_ms());

		if (left <= 0) {
			rc = cs_err_set(err, CS_EAUTH,
			                "no sign-in within %d minutes: run the "
			                "command again",
			                BROWSER_WAIT_MS / 60000);
			break;
		}
		if (poll(p, 2, left) < 0 && errno != EINTR) {
			rc = cs_err_set(err, CS_EIO, "poll: %s",
			                strerror(errno));
			break;
		}
		if (p[0].revents & POLLIN) {
			rc = net_oauth_listener_take(&l, pk.state, &code, &done,
			                             err);
			if (done)
				break;
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			bool eof = false;

			if (read_paste(&line, &eof)) {
				char *pasted = cs_trim(line.data);

				if (*pasted) {
					rc = net_oauth_parse_redirect(
					    pasted, pk.state, &code, err);
					if (rc != CS_EINVAL) {
						done = true;
						break;
					}
					fprintf(r->say,
					        "coldseq: %s\nPaste the whole "
					        "address again:\n",
					        err ? err->msg : "not that");
					fflush(r->say);
					cs_err_clear(err);
				}
				cs_memwipe(line.data, line.cap);
				cs_buf_clear(&line);
			}
			if (eof)
				stdin_open = false;
		}
	}
	if (rc == 0 && code)
		rc = net_oauth_exchange(&cfg->client, code, pk.verifier,
		                        l.redirect_uri, out, err);
out:
	cs_secret_free(code);
	net_oauth_listener_close(&l);
	net_oauth_pkce_free(&pk);
	cs_buf_free(&url);
	cs_buf_wipe(&line);
	return rc;
}

/* ---- the inbox --------------------------------------------------------- */

/* The inbox to connect: the one named (or with this email), else a new
 * one; *is_new says which. */
static int find_inbox(cli_ctx *ctx, const char *name, const char *email,
                      db_inbox *out, bool *is_new, cs_err *err)
{
	db_inbox *list;
	size_t n, i;
	int rc;

	*is_new = false;
	memset(out, 0, sizeof *out);
	if (name) {
		rc = db_inbox_get(ctx->db, name, out, err);
		if (rc != CS_ENOTFOUND)
			return rc;
		cs_err_clear(err);
	}
	if ((rc = db_inbox_list(ctx->db, NULL, &list, &n, err)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if (strcasecmp(list[i].email, email) == 0)
			break;
	if (i < n && name == NULL) {
		rc = db_inbox_get(ctx->db, list[i].name, out, err);
		db_inbox_list_free(list, n);
		return rc;
	}
	db_inbox_list_free(list, n);
	*is_new = true;
	return 0;
}

/* Apply the server options of `inbox add` that were given. */
static int server_opts(const cli_args *a, db_inbox *in, cs_err *err)
{
	static const char *const opts[] = {"smtp",     "imap",    "smtp-tls",
	                                   "imap-tls", "ca-file", NULL};
	int i, rc;

	for (i = 0; opts[i]; i++) {
		const char *v = cli_opt_value(a, opts[i]);

		if (v && (rc = cli_inbox_field(in, opts[i], v, err)) != 0)
			return rc;
	}
	return 0;
}

/* Seal both tokens for in and store them with the inbox, in one
 * transaction; *expires gets the access token's expiry (real ms). */
static int store(cli_ctx *ctx, db_inbox *in, bool is_new, const char *tenant,
                 const net_oauth_tokens *t, int64_t *expires, cs_err *err)
{
	cs_buf ablob = CS_BUF_INIT, rblob = CS_BUF_INIT;
	int64_t now = cs_clock_now(NULL);
	bool resume = !is_new && in->auth_state == DB_AUTH_FAILED &&
	              in->status == DB_INBOX_PAUSED;
	db_token_set set;
	db_inbox got;
	int rc;

	memset(&got, 0, sizeof got);
	*expires = now + (t->expires_in > 0 ? t->expires_in : 3600) * 1000;
	if ((rc = cs_vault_seal(ctx->vault, "inboxes", "secret", in->uuid,
	                        cs_secret_value(t->access),
	                        cs_secret_len(t->access), &ablob, err)) != 0 ||
	    (rc = cs_vault_seal(ctx->vault, "oauth_tokens", "refresh_token",
	                        in->uuid, cs_secret_value(t->refresh),
	                        cs_secret_len(t->refresh), &rblob, err)) != 0)
		goto out;
	if ((rc = db_begin(ctx->db, err)) != 0)
		goto out;
	if ((rc = is_new ? db_inbox_add(ctx->db, in, ablob.data, ablob.len, err)
	                 : db_inbox_update(ctx->db, in, err)) != 0 ||
	    (rc = db_inbox_get(ctx->db, in->name, &got, err)) != 0)
		goto fail;
	memset(&set, 0, sizeof set);
	set.inbox_id = got.id;
	set.provider = in->provider;
	set.tenant = tenant;
	set.access = ablob.data;
	set.access_len = ablob.len;
	set.refresh = rblob.data;
	set.refresh_len = rblob.len;
	set.expires_at = *expires;
	set.now = now;
	if ((rc = db_token_connect(ctx->db, &set, err)) != 0)
		goto fail;
	/* paused by the failed authentication: the user fixed it */
	if (resume &&
	    (rc = db_inbox_set_status(ctx->db, in->name, DB_INBOX_ACTIVE, NULL,
	                              0, now, err)) != 0)
		goto fail;
	rc = db_commit(ctx->db, err);
	if (rc == 0)
		goto out;
fail:
	db_rollback(ctx->db);
out:
	db_inbox_free(&got);
	cs_buf_free(&ablob);
	cs_buf_free(&rblob);
	return rc;
}

/* Sign in and store one inbox.  base: the stored inbox (a reconnect or a
 * pending import) or a new one. */
static int connect_one(connect_req *r, db_inbox *in, bool is_new, cs_err *err)
{
	seq_oauth_cfg cfg;
	net_oauth_tokens t;
	int64_t expires = 0;
	char until[32];
	int rc;

	memset(&t, 0, sizeof t);
	if ((rc = seq_oauth_cfg_load(r->ctx->db, r->ctx->vault, r->provider,
	                             r->tenant, HTTP_TIMEOUT_MS, &cfg, err)) !=
	    0)
		return rc;
	rc = r->provider == CS_PROVIDER_MICROSOFT
	         ? device_flow(r, &cfg, in->email, &t, err)
	         : browser_flow(r, &cfg, in->email, &t, err);
	if (rc == 0 && t.refresh == NULL)
		rc = cs_err_set(err, CS_EINVAL,
		                "the provider gave no refresh token, so the "
		                "inbox would stop working within the hour (the "
		                "app must be allowed offline access: see the "
		                "README)");
	if (rc == 0)
		rc = store(r->ctx, in, is_new, r->tenant, &t, &expires, err);
	net_oauth_tokens_free(&t);
	seq_oauth_cfg_free(&cfg);
	if (rc)
		return rc;
	cs_time_iso8601(expires, until, sizeof until);
	if (r->a->json) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", in->name);
		cJSON_AddStringToObject(o, "email", in->email);
		cJSON_AddStringToObject(o, "provider",
		                        cs_provider_get(in->provider)->name);
		cJSON_AddBoolToObject(o, "connected", true);
		cJSON_AddBoolToObject(o, "new", is_new);
		cJSON_AddStringToObject(o, "access_expires_at", until);
		if (r->arr)
			cJSON_AddItemToArray(r->arr, o);
		else
			cli_print_json(r->ctx, o);
	} else if (!r->a->quiet) {
		fprintf(r->ctx->out,
		        "%s inbox %s <%s> (%s): smtp %s:%d (%s), imap %s:%d "
		        "(%s); access token valid until %s, renewed "
		        "automatically\n",
		        is_new ? "Connected" : "Reconnected", in->name,
		        in->email, cs_provider_get(in->provider)->name,
		        in->smtp_host, in->smtp_port, in->smtp_tls,
		        in->imap_host, in->imap_port, in->imap_tls, until);
		fflush(r->ctx->out);
	}
	return 0;
}

static int run_pending(connect_req *r)
{
	db_inbox *list;
	size_t n, i, npending = 0, failed = 0;
	cs_err err = CS_ERR_INIT;

	if (db_inbox_list(r->ctx->db, NULL, &list, &n, &err) != 0) {
		cli_error("inbox connect: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	for (i = 0; i < n; i++) {
		db_inbox *in = &list[i];

		if (in->auth_state != DB_AUTH_PENDING)
			continue;
		npending++;
		r->provider = in->provider;
		fprintf(r->say, "\nInbox %s (%s, %s): %zu of the pending\n",
		        in->name, in->email,
		        cs_provider_get(in->provider)->name, npending);
		fflush(r->say);
		cs_err_clear(&err);
		if (connect_one(r, in, false, &err) != 0) {
			cli_error("inbox connect %s: %s", in->name, err.msg);
			failed++;
			if (r->arr) {
				cJSON *o = cJSON_CreateObject();

				cJSON_AddStringToObject(o, "name", in->name);
				cJSON_AddStringToObject(o, "email", in->email);
				cJSON_AddStringToObject(
				    o, "provider",
				    cs_provider_get(in->provider)->name);
				cJSON_AddBoolToObject(o, "connected", false);
				cJSON_AddStringToObject(o, "error", err.msg);
				cJSON_AddItemToArray(r->arr, o);
			}
		}
	}
	db_inbox_list_free(list, n);
	if (r->arr) {
		cli_print_json(r->ctx, r->arr);
		r->arr = NULL;
	}
	if (npending == 0 && !r->a->quiet && !r->a->json)
		fprintf(r->ctx->out, "No inbox is waiting to be connected.\n");
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int run_connect(cli_ctx *ctx, const cli_args *a)
{
	connect_req r;
	db_inbox in;
	cs_err err = CS_ERR_INIT;
	const char *email = cli_opt_value(a, "email");
	const char *name = cli_opt_value(a, "name");
	bool is_new = false;
	int rc;

	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.a = a;
	r.no_browser = cli_opt_flag(a, "no-browser");
	r.tenant = cli_opt_value(a, "tenant");
	r.say = a->json ? stderr : ctx->out;
	if (r.tenant && !valid_tenant(r.tenant)) {
		cli_error(
		    "inbox connect: --tenant \"%s\" is not a tenant id or "
		    "domain",
		    r.tenant);
		return CLI_EXIT_USAGE;
	}
	if (cli_opt_flag(a, "pending")) {
		if (a->npos || email || name) {
			cli_error("inbox connect --pending takes no provider, "
			          "--email or --name: it walks the imported "
			          "inboxes");
			return CLI_EXIT_USAGE;
		}
		if (a->json)
			r.arr = cJSON_CreateArray();
		return run_pending(&r);
	}
	if (a->npos != 1 || cs_provider_find(a->pos[0]) == NULL ||
	    !cs_provider_find(a->pos[0])->oauth) {
		cli_error(
		    "inbox connect: say microsoft or google (or --pending)."
		    "\nSee 'coldseq inbox connect --help'.");
		return CLI_EXIT_USAGE;
	}
	r.provider = cs_provider_find(a->pos[0])->id;
	if (email == NULL || !cli_valid_email(email)) {
		cli_error("inbox connect: --email ADDR is required (the "
		          "mailbox to connect)");
		return CLI_EXIT_USAGE;
	}
	if (r.tenant && r.provider != CS_PROVIDER_MICROSOFT) {
		cli_error("inbox connect: --tenant is for microsoft only");
		return CLI_EXIT_USAGE;
	}
	if (find_inbox(ctx, name, email, &in, &is_new, &err) != 0) {
		cli_error("inbox connect: %s", err.msg);
		return CLI_EXIT_FAIL;
	}
	if (is_new) {
		long long cap = 30;

		if (db_config_get_int(ctx->db, "inbox.daily_cap", &cap, &err) !=
		    0) {
			cli_error("inbox connect: %s", err.msg);
			return CLI_EXIT_FAIL;
		}
		in.daily_cap = (int)cap;
		if (cli_inbox_field(&in, "name", name ? name : email, &err) !=
		    0)
			goto usage;
		in.uuid = cs_xcalloc(1, 37);
		cli_uuid_v4(in.uuid);
	}
	if (cli_inbox_field(&in, "email", email, &err) != 0 ||
	    cli_inbox_field(&in, "provider", cs_provider_get(r.provider)->name,
	                    &err) != 0 ||
	    cli_inbox_field(&in, "auth", "oauth2", &err) != 0 ||
	    server_opts(a, &in, &err) != 0)
		goto usage;
	cli_inbox_preset(&in);
	if (cli_inbox_finish(&in, &err) != 0)
		goto usage;
	rc = connect_one(&r, &in, is_new, &err) == 0 ? CLI_EXIT_OK
	                                             : CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK)
		cli_error("inbox connect: %s", err.msg);
	db_inbox_free(&in);
	return rc;
usage:
	cli_error("inbox connect: %s", err.msg);
	db_inbox_free(&in);
	return CLI_EXIT_USAGE;
}

static const cli_opt connect_opts[] = {
    {"email", 0, "ADDR", false, "the mailbox to connect (From)"},
    {"name", 0, "NAME", false, "the inbox's name (default: the email)"},
    {"tenant", 0, "T", false,
     "microsoft: directory (tenant) id or domain (default: common)"},
    {"no-browser", 0, NULL, false,
     "google: do not open a browser; paste the final address back"},
    {"pending", 0, NULL, false,
     "connect, one by one, the inboxes 'inbox import' left pending"},
    {"smtp", 0, "HOST:PORT", false, "SMTP server (default: the provider's)"},
    {"imap", 0, "HOST:PORT", false, "IMAP server (default: the provider's)"},
    {"smtp-tls", 0, "MODE", false, "tls or starttls"},
    {"imap-tls", 0, "MODE", false, "tls or starttls"},
    {"ca-file", 0, "PEM", false, "trust this CA for the servers"},
    {NULL, 0, NULL, false, NULL},
};

const cli_cmd cli_cmds_connect[] = {
    {"inbox", "connect", "[microsoft|google]",
     "sign an inbox in with OAuth2 (Microsoft 365, Google)",
     "microsoft: prints a URL and a code; sign in anywhere with them (the\n"
     "device-code flow).  Servers: smtp.office365.com:587 (STARTTLS) and\n"
     "outlook.office365.com:993.  The mailbox needs SMTP AUTH enabled.\n"
     "google: prints a URL (and opens it when there is a display); after\n"
     "sign-in the browser returns to a listener on 127.0.0.1.  With\n"
     "--no-browser, open the URL on any machine and paste the address the\n"
     "browser ends on.  Servers: smtp.gmail.com:587 and imap.gmail.com:993.\n"
     "\n"
     "Needs config oauth.PROVIDER.client_id (and oauth.google.client_secret)\n"
     "first: see the README.  Tokens are stored encrypted and renewed\n"
     "automatically; they are never printed.  An existing inbox (same\n"
     "--name, or same email) is reconnected and keeps its settings.\n"
     "--pending connects, one after the other, the OAuth inboxes that\n"
     "'inbox import' created.\n\n"
     "--json prints {\"name\", \"email\", \"provider\", \"connected\", "
     "\"new\",\n\"access_expires_at\"} (prompts then go to stderr); with "
     "--pending an\narray of them, one per pending inbox ({\"name\", "
     "\"email\", \"provider\",\n\"connected\": false, \"error\"} for "
     "one that failed; [] when none waits).\n\n"
     "Examples:\n"
     "  coldseq config set oauth.microsoft.client_id 0b5f...\n"
     "  coldseq inbox connect microsoft --email ann@contoso.com --name ann\n"
     "  coldseq inbox connect google --email bob@example.com --no-browser\n"
     "  coldseq inbox connect --pending",
     0, 1, CLI_NEEDS_VAULT, connect_opts, run_connect},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, 0, NULL, NULL},
};

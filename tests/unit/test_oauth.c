/*
 * test_oauth.c - the OAuth2 pieces that need no provider: token answers,
 * redirects and their state, endpoint URLs, PKCE, the authorization URL,
 * and the loopback listener.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "net/net.h"

typedef struct token_case {
	long status;
	const char *body;
	int rc;
	const char *oauth_error;
	const char *access, *refresh; /* NULL: none expected */
	int64_t expires_in;
} token_case;

static const token_case token_cases[] = {
    {200,
     "{\"access_token\":\"at-1\",\"token_type\":\"Bearer\",\"expires_in\":"
     "3599,\"refresh_token\":\"rt-1\",\"scope\":\"a b\"}",
     0, "", "at-1", "rt-1", 3599},
    /* expires_in as a string, no refresh token, type in other case */
    {200,
     "{\"access_token\":\"at-2\",\"token_type\":\"bearer\",\"expires_in\":"
     "\"60\"}",
     0, "", "at-2", NULL, 60},
    {200, "{\"access_token\":\"at-3\"}", 0, "", "at-3", NULL, 0},
    {400,
     "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been "
     "expired or revoked.\"}",
     CS_EAUTH, "invalid_grant", NULL, NULL, 0},
    {400, "{\"error\":\"access_denied\"}", CS_EAUTH, "access_denied", NULL,
     NULL, 0},
    {400, "{\"error\":\"expired_token\"}", CS_EAUTH, "expired_token", NULL,
     NULL, 0},
    {400, "{\"error\":\"authorization_pending\"}", CS_ETEMP,
     "authorization_pending", NULL, NULL, 0},
    {400, "{\"error\":\"slow_down\"}", CS_ETEMP, "slow_down", NULL, NULL, 0},
    {401, "{\"error\":\"invalid_client\"}", CS_EINVAL, "invalid_client", NULL,
     NULL, 0},
    /* a hostile error code is cut down to printable characters */
    {400, "{\"error\":\"bad \\\"x\\\"\\n\\u0001code\"}", CS_EINVAL, "badxcode",
     NULL, NULL, 0},
    {503, "<html>down</html>", CS_ETEMP, "", NULL, NULL, 0},
    {429, "", CS_ETEMP, "", NULL, NULL, 0},
    {200, "not json", CS_EINVAL, "", NULL, NULL, 0},
    {200, "{\"token_type\":\"Bearer\"}", CS_EINVAL, "", NULL, NULL, 0},
    {200, "{\"access_token\":\"at-4\",\"token_type\":\"mac\"}", CS_EINVAL, "",
     NULL, NULL, 0},
    {200, "[\"access_token\"]", CS_EINVAL, "", NULL, NULL, 0},
};

static void token_answers(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof token_cases / sizeof token_cases[0]; i++) {
		const token_case *c = &token_cases[i];
		net_oauth_tokens t;
		char oerr[64];
		cs_err err = CS_ERR_INIT;
		int rc = net_oauth_parse_token(c->status, c->body,
		                               strlen(c->body), &t, oerr, &err);

		if (rc != c->rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, c->rc,
			         err.msg);
		assert_string_equal(oerr, c->oauth_error);
		if (c->access) {
			assert_string_equal(cs_secret_value(t.access),
			                    c->access);
			assert_int_equal(t.expires_in, c->expires_in);
		} else {
			assert_null(t.access);
			assert_true(err.msg[0] != '\0');
		}
		if (c->refresh)
			assert_string_equal(cs_secret_value(t.refresh),
			                    c->refresh);
		else
			assert_null(t.refresh);
		net_oauth_tokens_free(&t);
	}
}

static void tokens_are_redacted_while_held(void **state)
{
	static const char body[] = "{\"access_token\":\"at-secret-value\","
	                           "\"refresh_token\":\"rt-secret-value\"}";
	net_oauth_tokens t;
	char oerr[64];
	cs_buf out = CS_BUF_INIT;
	static const char text[] = "a at-secret-value b rt-secret-value";

	(void)state;
	assert_int_equal(
	    net_oauth_parse_token(200, body, strlen(body), &t, oerr, NULL), 0);
	cs_redact(text, strlen(text), &out);
	assert_string_equal(cs_buf_str(&out), "a [redacted] b [redacted]");
	net_oauth_tokens_free(&t);
	cs_buf_free(&out);
}

typedef struct redirect_case {
	const char *url;
	int rc;
	const char *code;
} redirect_case;

static const redirect_case redirect_cases[] = {
    {"http://127.0.0.1:5000/?code=abc&state=S1", 0, "abc"},
    {"/?state=S1&scope=x&code=a%2Fb%20c+d", 0, "a/b c d"},
    {"http://127.0.0.1:5000/?code=abc&state=S1#frag", 0, "abc"},
    {"http://127.0.0.1:5000/?code=abc&state=S2", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?code=abc&state=S", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?code=abc&state=S1x", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?code=abc", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?state=S1", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?state=S1&code=", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?state=S1&code=a%00b", CS_EINVAL, NULL},
    {"http://127.0.0.1:5000/?error=access_denied&state=S1", CS_EAUTH, NULL},
    /* an error without our state is not believed */
    {"http://127.0.0.1:5000/?error=access_denied&state=X", CS_EINVAL, NULL},
    {"just a code", CS_EINVAL, NULL},
    {"", CS_EINVAL, NULL},
};

static void redirects_and_state(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof redirect_cases / sizeof redirect_cases[0]; i++) {
		const redirect_case *c = &redirect_cases[i];
		cs_secret *code = NULL;
		cs_err err = CS_ERR_INIT;
		int rc = net_oauth_parse_redirect(c->url, "S1", &code, &err);

		if (rc != c->rc)
			fail_msg("case %zu (%s): rc %d, want %d (%s)", i,
			         c->url, rc, c->rc, err.msg);
		if (c->code)
			assert_string_equal(cs_secret_value(code), c->code);
		else
			assert_null(code);
		cs_secret_free(code);
	}
}

static void endpoint_urls(void **state)
{
	static const struct {
		const char *url;
		int rc;
	} cases[] = {
	    {"https://login.microsoftonline.com/common/oauth2/v2.0/token", 0},
	    {"https://oauth2.googleapis.com/token", 0},
	    {"http://127.0.0.1:8080/token", 0},
	    {"http://127.9.9.9/token", 0},
	    {"http://localhost/token", 0},
	    {"http://[::1]:9/token", 0},
	    {"http://example.com/token", CS_EINVAL},
	    {"http://127.0.0.1.example.com/token", CS_EINVAL},
	    {"https://user:pw@example.com/token", CS_EINVAL},
	    {"http://u@127.0.0.1/token", CS_EINVAL},
	    {"ftp://127.0.0.1/token", CS_EINVAL},
	    {"file:///etc/passwd", CS_EINVAL},
	    {"", CS_EINVAL},
	    {"not a url", CS_EINVAL},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cs_err err = CS_ERR_INIT;
		int rc = net_oauth_check_url("t", cases[i].url, &err);

		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", cases[i].url, rc,
			         cases[i].rc, err.msg);
	}
}

static void b64url(const unsigned char *p, size_t n, char *out)
{
	size_t o = (size_t)EVP_EncodeBlock((unsigned char *)out, p, (int)n);

	while (o && out[o - 1] == '=')
		out[--o] = '\0';
	for (; o; o--)
		if (out[o - 1] == '+')
			out[o - 1] = '-';
		else if (out[o - 1] == '/')
			out[o - 1] = '_';
}

static void pkce_and_auth_url(void **state)
{
	net_oauth_pkce a, b;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char want[64];
	cs_buf url = CS_BUF_INIT;
	const char *v;
	size_t i;

	(void)state;
	net_oauth_pkce_new(&a);
	net_oauth_pkce_new(&b);
	v = cs_secret_value(a.verifier);
	assert_int_equal(strlen(v), 43); /* RFC 7636 4.1: 43..128 */
	for (i = 0; v[i]; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		                       "nopqrstuvwxyz0123456789-_",
		                       v[i]));
	assert_int_equal(
	    EVP_Digest(v, strlen(v), md, &mdlen, EVP_sha256(), NULL), 1);
	b64url(md, mdlen, want);
	assert_string_equal(a.challenge, want);
	assert_int_equal(strlen(a.state), 22);
	assert_string_not_equal(a.state, b.state);
	assert_string_not_equal(v, cs_secret_value(b.verifier));
	assert_int_equal(net_oauth_auth_url("https://id.example/auth?x=1",
	                                    "cid", "http://127.0.0.1:5/",
	                                    "https://mail.google.com/",
	                                    "a+b@example.com", &a, &url, NULL),
	                 0);
	assert_non_null(strstr(url.data, "https://id.example/auth?x=1&"));
	assert_non_null(strstr(url.data, "code_challenge_method=S256"));
	assert_non_null(strstr(url.data, a.challenge));
	assert_non_null(strstr(url.data, a.state));
	assert_non_null(
	    strstr(url.data, "redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2F"));
	assert_non_null(strstr(url.data, "login_hint=a%2Bb%40example.com"));
	assert_null(strstr(url.data, v)); /* the verifier never leaves */
	assert_int_equal(net_oauth_auth_url("http://id.example/auth", "cid",
	                                    "http://127.0.0.1:5/", "s", NULL,
	                                    &a, &url, NULL),
	                 CS_EINVAL);
	net_oauth_pkce_free(&a);
	net_oauth_pkce_free(&b);
	cs_buf_free(&url);
}

/* Send req to the listener, let it serve, return what it answered. */
static int ask(net_oauth_listener *l, const char *req, const char *state,
               cs_secret **code, bool *done, char *answer, size_t cap)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
	ssize_t n;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)l->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	unit_sleep_ms(20);
	rc = net_oauth_listener_take(l, state, code, done, NULL);
	n = read(fd, answer, cap - 1);
	answer[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

static void loopback_listener(void **state)
{
	net_oauth_listener l;
	cs_secret *code = NULL;
	cs_err err = CS_ERR_INIT;
	char answer[2048], uri[64];
	bool done = true;

	(void)state;
	assert_int_equal(net_oauth_listen(&l, &err), 0);
	assert_true(l.port > 0);
	snprintf(uri, sizeof uri, "http://127.0.0.1:%d/", l.port);
	assert_string_equal(l.redirect_uri, uri);
	/* a browser's side request: not the redirect, keep waiting */
	assert_int_equal(ask(&l, "GET /favicon.ico HTTP/1.1\r\n\r\n", "S1",
	                     &code, &done, answer, sizeof answer),
	                 0);
	assert_false(done);
	assert_non_null(strstr(answer, "HTTP/1.1 404"));
	/* another attempt's redirect (wrong state): refused, keep waiting */
	assert_int_equal(ask(&l, "GET /?code=zz&state=S9 HTTP/1.1\r\n\r\n",
	                     "S1", &code, &done, answer, sizeof answer),
	                 0);
	assert_false(done);
	assert_null(code);
	assert_non_null(strstr(answer, "HTTP/1.1 400"));
	assert_int_equal(ask(&l, "GET /?code=c%2D1&state=S1 HTTP/1.1\r\n\r\n",
	                     "S1", &code, &done, answer, sizeof answer),
	                 0);
	assert_true(done);
	assert_string_equal(cs_secret_value(code), "c-1");
	assert_non_null(strstr(answer, "HTTP/1.1 200"));
	assert_null(strstr(answer, "c-1")); /* nothing reflected */
	cs_secret_free(code);
	net_oauth_listener_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(token_answers),
	    cmocka_unit_test(tokens_are_redacted_while_held),
	    cmocka_unit_test(redirects_and_state),
	    cmocka_unit_test(endpoint_urls),
	    cmocka_unit_test(pkce_and_auth_url),
	    cmocka_unit_test(loopback_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

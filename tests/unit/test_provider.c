/*
 * test_provider.c - the provider table (core/provider.c): names, caps,
 * presets, the own Sent copy, folder names, OAuth2 facts, MX patterns,
 * well-known and free mail domains, and that the config defaults are the
 * table's endpoints.
 */
#include "unit.h"

#include <string.h>

#include "core/core.h"
#include "db/db.h"

static void names_round_trip(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < CS_PROVIDER_COUNT; i++) {
		const cs_provider *p = cs_provider_get((cs_provider_id)i);

		assert_int_equal(p->id, i);
		assert_ptr_equal(cs_provider_find(p->name), p);
		assert_int_equal(cs_provider_id_of(p->name), i);
	}
	assert_null(cs_provider_find("yahoo"));
	assert_null(cs_provider_find("Google")); /* the stored word exactly */
	assert_null(cs_provider_find(NULL));
	assert_int_equal(cs_provider_id_of("yahoo"), CS_PROVIDER_GENERIC);
	assert_int_equal(cs_provider_get((cs_provider_id)99)->id,
	                 CS_PROVIDER_GENERIC);
}

static void caps_and_sent_copy(void **state)
{
	(void)state;
	assert_int_equal(
	    cs_provider_hard_cap(CS_PROVIDER_GOOGLE, "a@gmail.com"), 500);
	assert_int_equal(
	    cs_provider_hard_cap(CS_PROVIDER_GOOGLE, "a@GoogleMail.com"), 500);
	assert_int_equal(
	    cs_provider_hard_cap(CS_PROVIDER_GOOGLE, "a@contoso.com"), 2000);
	/* Microsoft counts recipients (10000) and messages a minute (30),
	 * not messages a day: no messages_24h (test_limits.c) */
	assert_int_equal(
	    cs_provider_hard_cap(CS_PROVIDER_MICROSOFT, "a@contoso.com"), 0);
	assert_int_equal(
	    cs_provider_hard_cap(CS_PROVIDER_MICROSOFT, "a@gmail.com"), 0);
	assert_int_equal(
	    cs_provider_hard_cap(CS_PROVIDER_GENERIC, "a@gmail.com"), 0);
	assert_int_equal(cs_provider_hard_cap(CS_PROVIDER_GOOGLE, NULL), 2000);
	assert_true(cs_provider_get(CS_PROVIDER_GOOGLE)->keeps_sent_copy);
	assert_true(cs_provider_get(CS_PROVIDER_MICROSOFT)->keeps_sent_copy);
	assert_false(cs_provider_get(CS_PROVIDER_GENERIC)->keeps_sent_copy);
}

static void presets(void **state)
{
	const cs_provider *m = cs_provider_get(CS_PROVIDER_MICROSOFT);
	const cs_provider *g = cs_provider_get(CS_PROVIDER_GOOGLE);

	(void)state;
	assert_string_equal(m->smtp_host, "smtp.office365.com");
	assert_int_equal(m->smtp_port, 587);
	assert_string_equal(m->smtp_tls, "starttls");
	assert_string_equal(m->imap_host, "outlook.office365.com");
	assert_int_equal(m->imap_port, 993);
	assert_string_equal(m->imap_tls, "tls");
	assert_string_equal(g->smtp_host, "smtp.gmail.com");
	assert_string_equal(g->imap_host, "imap.gmail.com");
	assert_null(cs_provider_get(CS_PROVIDER_GENERIC)->smtp_host);
}

static void folders(void **state)
{
	(void)state;
	assert_true(cs_provider_folder_is(CS_FOLDER_SENT, "[Gmail]/Sent Mail"));
	assert_true(cs_provider_folder_is(CS_FOLDER_SENT, "sent items"));
	assert_true(cs_provider_folder_is(CS_FOLDER_SENT, "INBOX.Sent"));
	assert_true(cs_provider_folder_is(CS_FOLDER_JUNK, "[Gmail]/Spam"));
	assert_true(cs_provider_folder_is(CS_FOLDER_JUNK, "Junk E-mail"));
	assert_true(cs_provider_folder_is(CS_FOLDER_JUNK, "junk"));
	assert_false(cs_provider_folder_is(CS_FOLDER_JUNK, "Sent"));
	assert_false(cs_provider_folder_is(CS_FOLDER_SENT, "Junk"));
	assert_false(cs_provider_folder_is(CS_FOLDER_SENT, "Archive"));
}

static void oauth(void **state)
{
	const cs_provider *m = cs_provider_get(CS_PROVIDER_MICROSOFT);
	const cs_provider *g = cs_provider_get(CS_PROVIDER_GOOGLE);
	const db_config_def *d;

	(void)state;
	assert_false(cs_provider_get(CS_PROVIDER_GENERIC)->oauth);
	assert_true(m->oauth && g->oauth);
	assert_non_null(m->oauth_device_url);
	assert_null(m->oauth_auth_url);
	assert_non_null(g->oauth_auth_url);
	assert_null(g->oauth_device_url);
	assert_non_null(strstr(m->oauth_scope, "offline_access"));
	assert_string_equal(g->oauth_scope, "https://mail.google.com/");
	assert_true(m->oauth_scope_on_refresh);
	assert_false(g->oauth_scope_on_refresh);
	assert_true(g->oauth_secret);
	assert_false(m->oauth_secret);
	assert_int_equal(m->refresh_idle_days, 90);
	assert_int_equal(g->refresh_idle_days, 180);
	/* the config defaults are the table's */
	assert_non_null(d = db_config_find("oauth.microsoft.token_url"));
	assert_string_equal(d->def, m->oauth_token_url);
	assert_non_null(d = db_config_find("oauth.microsoft.device_code_url"));
	assert_string_equal(d->def, m->oauth_device_url);
	assert_non_null(d = db_config_find("oauth.google.token_url"));
	assert_string_equal(d->def, g->oauth_token_url);
	assert_non_null(d = db_config_find("oauth.google.auth_url"));
	assert_string_equal(d->def, g->oauth_auth_url);
}

static void mx_and_domains(void **state)
{
	cs_provider_id id = CS_PROVIDER_GENERIC;

	(void)state;
	assert_int_equal(cs_provider_by_mx_host("aspmx.l.google.com"),
	                 CS_PROVIDER_GOOGLE);
	assert_int_equal(
	    cs_provider_by_mx_host("alt1.gmail-smtp-in.l.GOOGLE.com"),
	    CS_PROVIDER_GOOGLE);
	assert_int_equal(
	    cs_provider_by_mx_host("contoso-com.mail.protection.outlook.com"),
	    CS_PROVIDER_MICROSOFT);
	/* a label boundary, not a substring */
	assert_int_equal(cs_provider_by_mx_host("mx.notgoogle.com"),
	                 CS_PROVIDER_GENERIC);
	assert_int_equal(cs_provider_by_mx_host("mx.example.org"),
	                 CS_PROVIDER_GENERIC);
	assert_true(cs_provider_by_domain("hotmail.co.uk", &id));
	assert_int_equal(id, CS_PROVIDER_MICROSOFT);
	assert_true(cs_provider_by_domain("GMAIL.com", &id));
	assert_int_equal(id, CS_PROVIDER_GOOGLE);
	assert_false(cs_provider_by_domain("hotmail.fr", &id));
	assert_false(cs_provider_by_domain("example.com", &id));
	/* free mail is wider than the providers' own domains */
	assert_true(cs_provider_is_freemail("hotmail.fr"));
	assert_true(cs_provider_is_freemail("yahoo.com"));
	assert_true(cs_provider_is_freemail("gmail.com"));
	assert_false(cs_provider_is_freemail("contoso.com"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names_round_trip),
	    cmocka_unit_test(caps_and_sent_copy),
	    cmocka_unit_test(presets),
	    cmocka_unit_test(folders),
	    cmocka_unit_test(oauth),
	    cmocka_unit_test(mx_and_domains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_vault.c - AES-256-GCM vault: round trip, binding to the row,
 * tampering, wrong key, key file checks.
 */
#include "unit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

typedef struct fx {
	char *dir, *key;
	cs_vault *v;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof *f);
	cs_err err = CS_ERR_INIT;

	f->dir = unit_tmpdir();
	f->key = cs_xasprintf("%s/vault.key", f->dir);
	assert_int_equal(cs_vault_create_key(f->key, &err), 0);
	assert_int_equal(cs_vault_load(f->key, &f->v, &err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	cs_vault_free(f->v);
	unit_rmrf(f->dir);
	free(f->dir);
	free(f->key);
	free(f);
	return 0;
}

static void key_file_is_private_and_32_bytes(void **state)
{
	fx *f = *state;
	struct stat st;
	cs_err err = CS_ERR_INIT;

	assert_int_equal(stat(f->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, CS_VAULT_KEY_LEN);
	/* never overwrites an existing key */
	assert_int_equal(cs_vault_create_key(f->key, &err), CS_EEXIST);
}

static void round_trip(void **state)
{
	fx *f = *state;
	cs_buf blob = CS_BUF_INIT;
	cs_secret *s = NULL;
	cs_err err = CS_ERR_INIT;
	const char *pw = "correct horse battery staple";

	assert_int_equal(cs_vault_seal(f->v, "inboxes", "secret", "uuid-1", pw,
	                               strlen(pw), &blob, &err),
	                 0);
	assert_int_equal(blob.len, strlen(pw) + CS_VAULT_OVERHEAD);
	assert_null(memmem(blob.data, blob.len, "horse", 5));
	assert_int_equal(cs_vault_open(f->v, "inboxes", "secret", "uuid-1",
	                               blob.data, blob.len, &s, &err),
	                 0);
	assert_int_equal(cs_secret_len(s), strlen(pw));
	assert_string_equal(cs_secret_value(s), pw);
	cs_secret_free(s);
	cs_buf_free(&blob);
}

static void nonce_differs_each_time(void **state)
{
	fx *f = *state;
	cs_buf a = CS_BUF_INIT, b = CS_BUF_INIT;

	assert_int_equal(
	    cs_vault_seal(f->v, "t", "c", "k", "same", 4, &a, NULL), 0);
	assert_int_equal(
	    cs_vault_seal(f->v, "t", "c", "k", "same", 4, &b, NULL), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_not_equal(a.data + 4, b.data + 4, 12);
	cs_buf_free(&a);
	cs_buf_free(&b);
}

static void tamper_and_move_detected(void **state)
{
	fx *f = *state;
	cs_buf blob = CS_BUF_INIT;
	cs_secret *s = NULL;
	cs_err err = CS_ERR_INIT;
	size_t i;

	assert_int_equal(cs_vault_seal(f->v, "inboxes", "secret", "uuid-1",
	                               "pw123456", 8, &blob, &err),
	                 0);
	/* moved to another row, column or table */
	assert_int_equal(cs_vault_open(f->v, "inboxes", "secret", "uuid-2",
	                               blob.data, blob.len, &s, &err),
	                 CS_ECRYPTO);
	assert_null(s);
	assert_non_null(strstr(err.msg, "uuid-2"));
	assert_int_equal(cs_vault_open(f->v, "inboxes", "token", "uuid-1",
	                               blob.data, blob.len, &s, &err),
	                 CS_ECRYPTO);
	/* any flipped bit anywhere fails */
	for (i = 0; i < blob.len; i++) {
		blob.data[i] ^= 0x01;
		assert_int_equal(cs_vault_open(f->v, "inboxes", "secret",
		                               "uuid-1", blob.data, blob.len,
		                               &s, NULL),
		                 CS_ECRYPTO);
		assert_null(s);
		blob.data[i] ^= 0x01;
	}
	/* truncated */
	assert_int_equal(cs_vault_open(f->v, "inboxes", "secret", "uuid-1",
	                               blob.data, 10, &s, &err),
	                 CS_ECRYPTO);
	cs_buf_free(&blob);
}

static void wrong_key_fails_cleanly(void **state)
{
	fx *f = *state;
	char *k2 = cs_xasprintf("%s/other.key", f->dir);
	cs_vault *v2 = NULL;
	cs_buf blob = CS_BUF_INIT;
	cs_secret *s = NULL;
	cs_err err = CS_ERR_INIT;

	assert_int_equal(cs_vault_create_key(k2, &err), 0);
	assert_int_equal(cs_vault_load(k2, &v2, &err), 0);
	assert_int_equal(
	    cs_vault_seal(f->v, "t", "c", "row", "topsecret", 9, &blob, &err),
	    0);
	assert_int_equal(
	    cs_vault_open(v2, "t", "c", "row", blob.data, blob.len, &s, &err),
	    CS_ECRYPTO);
	assert_null(s);
	assert_non_null(strstr(err.msg, "another vault key"));
	assert_null(strstr(err.msg, "topsecret"));
	cs_vault_free(v2);
	cs_buf_free(&blob);
	free(k2);
}

static void bad_key_files_refused(void **state)
{
	fx *f = *state;
	char *p = cs_xasprintf("%s/short.key", f->dir);
	cs_vault *v = NULL;
	cs_err err = CS_ERR_INIT;
	int fd;

	assert_int_equal(cs_vault_load("/nonexistent/vault.key", &v, &err),
	                 CS_ENOTFOUND);
	assert_non_null(strstr(err.msg, "missing"));
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(cs_vault_load(p, &v, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "32 bytes"));
	chmod(f->key, 0644);
	assert_int_equal(cs_vault_load(f->key, &v, &err), CS_EINVAL);
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_null(v);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(key_file_is_private_and_32_bytes,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(nonce_differs_each_time, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(tamper_and_move_detected, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(wrong_key_fails_cleanly, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(bad_key_files_refused, setup,
	                                    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

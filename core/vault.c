/*
 * vault.c - secrets at rest: AES-256-GCM under a key file.
 *
 * Blob layout (see core.h): magic "CSV1", nonce (12), ciphertext, tag (16).
 * Associated data: "coldseq-vault-v1" NUL table NUL column NUL rowkey, so a
 * blob authenticates only in the place it was sealed for.
 * Errors never include key material or plaintext.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define MAGIC     "CSV1"
#define NONCE_LEN 12
#define TAG_LEN   16

struct cs_vault {
	unsigned char key[CS_VAULT_KEY_LEN];
};

void cs_random_bytes(void *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		cs_fatal("no random bytes from OpenSSL");
}

int cs_vault_create_key(const char *path, cs_err *err)
{
	unsigned char key[CS_VAULT_KEY_LEN];
	int fd, rc = 0;

	if (RAND_bytes(key, sizeof key) != 1)
		return cs_err_set(err, CS_ECRYPTO,
		                  "cannot get random bytes for the vault key");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		cs_memwipe(key, sizeof key);
		if (errno == EEXIST)
			return cs_err_set(err, CS_EEXIST,
			                  "vault key file %s already exists",
			                  path);
		return cs_err_set(err, CS_EIO,
		                  "cannot create vault key file %s: %s", path,
		                  strerror(errno));
	}
	if (fchmod(fd, 0600) != 0 ||
	    write(fd, key, sizeof key) != (ssize_t)sizeof key ||
	    fsync(fd) != 0) {
		rc = cs_err_set(err, CS_EIO,
		                "cannot write vault key file %s: %s", path,
		                strerror(errno));
		unlink(path);
	}
	close(fd);
	cs_memwipe(key, sizeof key);
	return rc;
}

int cs_vault_load(const char *path, cs_vault **out, cs_err *err)
{
	unsigned char buf[CS_VAULT_KEY_LEN + 1];
	struct stat st;
	ssize_t n;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return cs_err_set(
			    err, CS_ENOTFOUND,
			    "vault key file %s is missing: the stored "
			    "secrets cannot be read without it (restore "
			    "it, or point --key-file / COLDSEQ_KEY_FILE "
			    "at it)",
			    path);
		return cs_err_set(err, CS_EIO,
		                  "cannot open vault key file %s: %s", path,
		                  strerror(errno));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cs_err_set(err, CS_EIO,
		                  "vault key file %s is not a regular file",
		                  path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return cs_err_set(
		    err, CS_EINVAL,
		    "vault key file %s is readable by other users "
		    "(mode %04o); run: chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n != CS_VAULT_KEY_LEN) {
		cs_memwipe(buf, sizeof buf);
		return cs_err_set(err, CS_EINVAL,
		                  "vault key file %s is damaged: it must hold "
		                  "exactly %d bytes",
		                  path, CS_VAULT_KEY_LEN);
	}
	*out = cs_xmalloc(sizeof **out);
	memcpy((*out)->key, buf, CS_VAULT_KEY_LEN);
	cs_memwipe(buf, sizeof buf);
	return 0;
}

void cs_vault_free(cs_vault *v)
{
	if (v) {
		cs_memwipe(v->key, sizeof v->key);
		free(v);
	}
}

static void build_aad(cs_buf *aad, const char *table, const char *column,
                      const char *rowkey)
{
	cs_buf_append(aad, "coldseq-vault-v1", 17); /* with its NUL */
	cs_buf_append(aad, table, strlen(table) + 1);
	cs_buf_append(aad, column, strlen(column) + 1);
	cs_buf_append(aad, rowkey, strlen(rowkey));
}

int cs_vault_seal(cs_vault *v, const char *table, const char *column,
                  const char *rowkey, const void *plain, size_t n, cs_buf *out,
                  cs_err *err)
{
	unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
	cs_buf aad = CS_BUF_INIT;
	EVP_CIPHER_CTX *ctx;
	size_t start = out->len;
	int len, ok;

	if (n > (size_t)INT32_MAX)
		return cs_err_set(err, CS_EINVAL, "secret too large");
	if (RAND_bytes(nonce, sizeof nonce) != 1)
		return cs_err_set(err, CS_ECRYPTO, "cannot get random bytes");
	build_aad(&aad, table, column, rowkey);
	cs_buf_reserve(out, CS_VAULT_OVERHEAD + n + 16);
	cs_buf_append(out, MAGIC, 4);
	cs_buf_append(out, nonce, sizeof nonce);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		cs_fatal("EVP_CIPHER_CTX_new failed");
	ok =
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ==
	        1 &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, v->key, nonce) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad.data,
	                      (int)aad.len) == 1 &&
	    EVP_EncryptUpdate(ctx, (unsigned char *)out->data + out->len, &len,
	                      plain, (int)n) == 1;
	if (ok) {
		out->len += (size_t)len;
		ok = EVP_EncryptFinal_ex(ctx,
		                         (unsigned char *)out->data + out->len,
		                         &len) == 1 &&
		     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
		                         tag) == 1;
		if (ok) {
			out->len += (size_t)len;
			cs_buf_append(out, tag, TAG_LEN);
		}
	}
	EVP_CIPHER_CTX_free(ctx);
	cs_buf_free(&aad);
	if (!ok) {
		cs_buf_truncate(out, start);
		return cs_err_set(err, CS_ECRYPTO, "encryption failed");
	}
	return 0;
}

int cs_vault_open(cs_vault *v, const char *table, const char *column,
                  const char *rowkey, const void *blob, size_t n,
                  cs_secret **out, cs_err *err)
{
	const unsigned char *b = blob;
	cs_buf aad = CS_BUF_INIT, plain = CS_BUF_INIT;
	unsigned char tag[TAG_LEN];
	EVP_CIPHER_CTX *ctx;
	size_t clen;
	int len, ok;

	*out = NULL;
	if (n < CS_VAULT_OVERHEAD || memcmp(b, MAGIC, 4) != 0)
		return cs_err_set(
		    err, CS_ECRYPTO,
		    "stored secret (%s.%s of '%s') is not a coldseq "
		    "vault value",
		    table, column, rowkey);
	clen = n - CS_VAULT_OVERHEAD;
	memcpy(tag, b + n - TAG_LEN, TAG_LEN);
	build_aad(&aad, table, column, rowkey);
	cs_buf_reserve(&plain, clen + 16);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		cs_fatal("EVP_CIPHER_CTX_new failed");
	ok =
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ==
	        1 &&
	    EVP_DecryptInit_ex(ctx, NULL, NULL, v->key, b + 4) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad.data,
	                      (int)aad.len) == 1 &&
	    EVP_DecryptUpdate(ctx, (unsigned char *)plain.data, &len,
	                      b + 4 + NONCE_LEN, (int)clen) == 1;
	if (ok) {
		plain.len = (size_t)len;
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
		                         tag) == 1 &&
		     EVP_DecryptFinal_ex(
		         ctx, (unsigned char *)plain.data + plain.len, &len) ==
		         1;
		if (ok)
			plain.len += (size_t)len;
	}
	EVP_CIPHER_CTX_free(ctx);
	cs_buf_free(&aad);
	if (ok)
		*out = cs_secret_new(plain.data, plain.len);
	cs_buf_wipe(&plain);
	if (!ok)
		return cs_err_set(err, CS_ECRYPTO,
		                  "stored secret (%s.%s of '%s') failed "
		                  "authentication: it was sealed under another "
		                  "vault key, or altered or moved",
		                  table, column, rowkey);
	return 0;
}

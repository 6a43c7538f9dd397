#include "pack_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "message.h"
#include "file_read.h"
#include "pack_internal.h"

#define ED25519_RAW_LEN 32
#define ED25519_SIG_LEN 64

struct trusted_key {
	uint8_t id[32];
	EVP_PKEY *key;
};

struct sluice_trust {
	bool require_signed;
	struct trusted_key *keys;
	size_t count;
};

/* OpenSSL's reason for the last failure, for messages; clears its queue so
 * one failure is not blamed on the next call. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (!e) {
		snprintf(buf, len, "unknown reason");
	} else {
		ERR_error_string_n(e, buf, len);
	}
	ERR_clear_error();
	return buf;
}

static int key_id_of(EVP_PKEY *key, uint8_t id[32])
{
	uint8_t raw[ED25519_RAW_LEN];
	size_t n = sizeof(raw);

	if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1 || n != sizeof(raw))
		return -1;
	return sluice_sha256(raw, n, id);
}

static EVP_PKEY *read_key(const char *path, bool private_key, char *err, size_t err_len)
{
	char why[256];
	EVP_PKEY *key;
	FILE *f = sluice_file_fopen_regular(path, why, sizeof(why));

	if (!f) {
		sluice_set_err(err, err_len, "%s: %s", path, why);
		return NULL;
	}
	key = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
			  : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!key) {
		sluice_set_err(err, err_len, "%s: not a PEM %s key (%s)", path,
			       private_key ? "private" : "public", ssl_reason(why, sizeof(why)));
		return NULL;
	}
	if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
		sluice_set_err(err, err_len,
			       "%s: not an Ed25519 key; make one with 'sluice-pack keygen'", path);
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

struct sluice_trust *sluice_trust_new(bool require_signed)
{
	struct sluice_trust *t = calloc(1, sizeof(*t));

	if (t)
		t->require_signed = require_signed;
	return t;
}

int sluice_trust_add_key(struct sluice_trust *trust, const char *public_key_pem_path, char *err,
			 size_t err_len)
{
	uint8_t id[32];
	EVP_PKEY *key = read_key(public_key_pem_path, false, err, err_len);

	if (!key)
		return -1;
	if (key_id_of(key, id) != 0) {
		sluice_set_err(err, err_len, "%s: cannot read the public key's bytes",
			       public_key_pem_path);
		EVP_PKEY_free(key);
		return -1;
	}
	for (size_t i = 0; i < trust->count; i++) {
		if (memcmp(trust->keys[i].id, id, 32) == 0) {
			EVP_PKEY_free(key);
			return 0;
		}
	}
	struct trusted_key *k = realloc(trust->keys, (trust->count + 1) * sizeof(*k));
	if (!k) {
		sluice_set_err(err, err_len, "%s: out of memory", public_key_pem_path);
		EVP_PKEY_free(key);
		return -1;
	}
	trust->keys = k;
	memcpy(k[trust->count].id, id, 32);
	k[trust->count].key = key;
	trust->count++;
	return 0;
}

size_t sluice_trust_key_count(const struct sluice_trust *trust)
{
	return trust ? trust->count : 0;
}

void sluice_trust_free(struct sluice_trust *trust)
{
	if (!trust)
		return;
	for (size_t i = 0; i < trust->count; i++)
		EVP_PKEY_free(trust->keys[i].key);
	free(trust->keys);
	free(trust);
}

/* ---- verifying ---- */

/* Checks the trailer of an image whose envelope is intact and signed.
 * Returns 0 when a trusted key made the signature. */
static int check_signature(const char *path, const uint8_t *img, size_t len,
			   const struct sluice_trust *trust, char key_hex[65], char *err,
			   size_t err_len)
{
	const uint8_t *trailer = img + len - SLUICE_PACK_SIG_LEN;
	const uint8_t *id = trailer + 8;
	const uint8_t *sig = trailer + 40;
	char hex[65];

	sluice_to_hex(id, 32, hex);
	if (key_hex)
		memcpy(key_hex, hex, 65);
	for (size_t i = 0; trust && i < trust->count; i++) {
		if (memcmp(trust->keys[i].id, id, 32) != 0)
			continue;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		int ok =
		    ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, trust->keys[i].key) == 1 &&
		    EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, img, SLUICE_PACK_HEADER_LEN) == 1;
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		if (!ok) {
			sluice_set_err(
			    err, err_len,
			    "%s: bad signature: the signature by key %s does not verify; the "
			    "pack was altered after signing",
			    path, hex);
			return -1;
		}
		return 0;
	}
	sluice_set_err(
	    err, err_len,
	    "%s: signed by unknown key %s; add that key's public key to the trusted keys, or "
	    "sign the pack with a trusted key",
	    path, hex);
	return -1;
}

int sluice_pack_verify(const char *pack_path, const struct sluice_trust *trust, char key_id_hex[65],
		       char *err, size_t err_len)
{
	uint8_t *img;
	size_t len;
	bool is_signed;
	int rc = -1;

	if (key_id_hex)
		key_id_hex[0] = '\0';
	if (sluice_read_file(pack_path, NULL, &img, &len, err, err_len) != 0)
		return -1;
	if (sluice_pack_check_envelope(pack_path, img, len, &is_signed, err, err_len) != 0)
		goto out;
	if (!is_signed) {
		sluice_set_err(err, err_len, "%s: pack is not signed", pack_path);
		goto out;
	}
	rc = check_signature(pack_path, img, len, trust, key_id_hex, err, err_len);
out:
	free(img);
	return rc;
}

int sluice_pack_read_trusted(const char *path, const struct sluice_trust *trust,
			     const struct sluice_load_limits *limits, struct sluice_pack **out,
			     char *err, size_t err_len)
{
	uint8_t *img;
	size_t len;
	bool is_signed;
	int rc = -1;

	*out = NULL;
	if (sluice_read_file(path, limits, &img, &len, err, err_len) != 0)
		return -1;
	if (sluice_pack_check_envelope(path, img, len, &is_signed, err, err_len) != 0)
		goto out;
	if (trust != NULL && !is_signed && trust->require_signed) {
		sluice_set_err(err, err_len,
			       "%s: pack is not signed and this daemon requires signed packs",
			       path);
		goto out;
	}
	if (trust != NULL && is_signed && (trust->count || trust->require_signed) &&
	    check_signature(path, img, len, trust, NULL, err, err_len) != 0)
		goto out;
	rc = sluice_pack_parse_image(path, img, len, limits, out, err, err_len);
out:
	free(img);
	return rc;
}

bool sluice_trust_requires_signed(const struct sluice_trust *trust)
{
	return trust != NULL && trust->require_signed;
}

/* ---- signing ---- */

static int write_file_atomic(const char *path, mode_t mode, const uint8_t *a, size_t alen,
			     const uint8_t *b, size_t blen, char *err, size_t err_len)
{
	char *tmp;
	int fd;

	/* Written aside and renamed, so a control plane watching the path never
	 * reads half a pack. */
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		sluice_set_err(err, err_len, "%s: out of memory", path);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		sluice_set_err(err, err_len, "%s: cannot create %s: %s", path, tmp,
			       strerror(errno));
		free(tmp);
		return -1;
	}
	bool ok = fchmod(fd, mode) == 0;
	for (int part = 0; part < 2 && ok; part++) {
		const uint8_t *p = part ? b : a;
		size_t n = part ? blen : alen;
		while (n && ok) {
			ssize_t w = write(fd, p, n);
			if (w < 0 && errno == EINTR)
				continue;
			ok = w > 0;
			if (ok) {
				p += w;
				n -= (size_t)w;
			}
		}
	}
	ok = ok && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = false;
	if (!ok || rename(tmp, path) != 0) {
		sluice_set_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int sluice_pack_sign(const char *pack_path, const char *private_key_pem_path, const char *out_path,
		     char *err, size_t err_len)
{
	uint8_t trailer[SLUICE_PACK_SIG_LEN];
	uint8_t *img = NULL;
	size_t len, sig_len = ED25519_SIG_LEN;
	bool is_signed;
	EVP_PKEY *key;
	EVP_MD_CTX *ctx = NULL;
	char why[256];
	int rc = -1;

	key = read_key(private_key_pem_path, true, err, err_len);
	if (!key)
		return -1;
	if (sluice_read_file(pack_path, NULL, &img, &len, err, err_len) != 0)
		goto out;
	if (sluice_pack_check_envelope(pack_path, img, len, &is_signed, err, err_len) != 0)
		goto out;
	if (is_signed)
		len -= SLUICE_PACK_SIG_LEN;

	memcpy(trailer, SLUICE_PACK_SIG_MAGIC, 8);
	if (key_id_of(key, trailer + 8) != 0) {
		sluice_set_err(err, err_len, "%s: cannot read the key's public half",
			       private_key_pem_path);
		goto out;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, trailer + 40, &sig_len, img, SLUICE_PACK_HEADER_LEN) != 1 ||
	    sig_len != ED25519_SIG_LEN) {
		sluice_set_err(err, err_len, "%s: signing failed: %s", pack_path,
			       ssl_reason(why, sizeof(why)));
		goto out;
	}
	rc = write_file_atomic(out_path, 0644, img, len, trailer, sizeof(trailer), err, err_len);
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	free(img);
	return rc;
}

/* ---- keys ---- */

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, bool private_key, char *err,
		     size_t err_len)
{
	char why[256];
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc;

	if (!bio) {
		sluice_set_err(err, err_len, "%s: out of memory", path);
		return -1;
	}
	if ((private_key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_bio_PUBKEY(bio, key)) != 1) {
		sluice_set_err(err, err_len, "%s: cannot encode the key: %s", path,
			       ssl_reason(why, sizeof(why)));
		BIO_free(bio);
		return -1;
	}
	n = BIO_get_mem_data(bio, &data);
	rc = write_file_atomic(path, mode, (const uint8_t *)data, (size_t)n, NULL, 0, err, err_len);
	BIO_free(bio);
	return rc;
}

int sluice_keygen(const char *private_out, const char *public_out, char *err, size_t err_len)
{
	char why[256];
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	int rc;

	if (!key) {
		sluice_set_err(err, err_len, "%s: cannot make a key: %s", private_out,
			       ssl_reason(why, sizeof(why)));
		return -1;
	}
	/* 0600 from the first byte: the temporary file is created 0600 by
	 * mkstemp and only renamed into place. */
	rc = write_pem(private_out, 0600, key, true, err, err_len);
	if (rc == 0)
		rc = write_pem(public_out, 0644, key, false, err, err_len);
	EVP_PKEY_free(key);
	return rc;
}

int sluice_key_id(const char *pem_path, char key_id_hex[65], char *err, size_t err_len)
{
	uint8_t id[32];
	EVP_PKEY *key;
	char why[256];
	FILE *f = sluice_file_fopen_regular(pem_path, why, sizeof(why));
	bool is_private = false;

	if (!f) {
		sluice_set_err(err, err_len, "%s: %s", pem_path, why);
		return -1;
	}
	char line[64] = "";
	if (fgets(line, sizeof(line), f))
		is_private = strstr(line, "PRIVATE") != NULL;
	fclose(f);
	key = read_key(pem_path, is_private, err, err_len);
	if (!key)
		return -1;
	if (key_id_of(key, id) != 0) {
		sluice_set_err(err, err_len, "%s: cannot read the key's public half", pem_path);
		EVP_PKEY_free(key);
		return -1;
	}
	EVP_PKEY_free(key);
	sluice_to_hex(id, 32, key_id_hex);
	return 0;
}

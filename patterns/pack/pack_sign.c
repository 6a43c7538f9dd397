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

struct key_id {
	uint8_t id[32];
};

struct sluice_trust {
	bool require_signed;
	unsigned required; /* distinct trusted keys that must have signed */
	struct trusted_key *keys;
	size_t count;
	struct key_id *revoked;
	size_t revoked_count;
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

	if (t) {
		t->require_signed = require_signed;
		t->required = 1;
	}
	return t;
}

static const struct trusted_key *trusted(const struct sluice_trust *trust, const uint8_t id[32])
{
	for (size_t i = 0; trust && i < trust->count; i++)
		if (memcmp(trust->keys[i].id, id, 32) == 0)
			return &trust->keys[i];
	return NULL;
}

static bool revoked(const struct sluice_trust *trust, const uint8_t id[32])
{
	for (size_t i = 0; trust && i < trust->revoked_count; i++)
		if (memcmp(trust->revoked[i].id, id, 32) == 0)
			return true;
	return false;
}

static void both_trusted_and_revoked(const char *what, const uint8_t id[32], char *err,
				     size_t err_len)
{
	char hex[65];

	sluice_to_hex(id, 32, hex);
	sluice_set_err(err, err_len,
		       "%s: key %s is both trusted and revoked; remove it from the trusted keys",
		       what, hex);
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
	if (revoked(trust, id)) {
		both_trusted_and_revoked(public_key_pem_path, id, err, err_len);
		EVP_PKEY_free(key);
		return -1;
	}
	if (trusted(trust, id) != NULL) {
		EVP_PKEY_free(key);
		return 0;
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

/* A key id written out: exactly 64 hex digits. */
static bool parse_key_id(const char *text, uint8_t id[32])
{
	if (strlen(text) != 64 || strspn(text, "0123456789abcdefABCDEF") != 64)
		return false;
	for (size_t i = 0; i < 32; i++) {
		char byte[3] = {text[2 * i], text[2 * i + 1], '\0'};
		id[i] = (uint8_t)strtoul(byte, NULL, 16);
	}
	return true;
}

static int pem_key_id(const char *pem_path, uint8_t id[32], char *err, size_t err_len);

int sluice_trust_revoke(struct sluice_trust *trust, const char *key, char *err, size_t err_len)
{
	uint8_t id[32];

	/* By id first: the revoked private key may be lost, and its public
	 * half with it; a file that happens to be named like an id is unlikely
	 * enough. */
	if (!parse_key_id(key, id)) {
		char why[512];
		if (pem_key_id(key, id, why, sizeof(why)) != 0) {
			sluice_set_err(
			    err, err_len,
			    "revoked key '%s' is not a key id (64 hex digits) and cannot "
			    "be read as a key file: %s",
			    key, why);
			return -1;
		}
	}
	if (trusted(trust, id) != NULL) {
		both_trusted_and_revoked(key, id, err, err_len);
		return -1;
	}
	if (revoked(trust, id))
		return 0;
	struct key_id *r = realloc(trust->revoked, (trust->revoked_count + 1) * sizeof(*r));
	if (!r) {
		sluice_set_err(err, err_len, "%s: out of memory", key);
		return -1;
	}
	trust->revoked = r;
	memcpy(r[trust->revoked_count++].id, id, 32);
	return 0;
}

int sluice_trust_set_required(struct sluice_trust *trust, unsigned n, char *err, size_t err_len)
{
	if (n == 0 || n > SLUICE_PACK_MAX_SIGS) {
		sluice_set_err(err, err_len,
			       "%u signatures required: a pack carries 1 to %d signatures", n,
			       SLUICE_PACK_MAX_SIGS);
		return -1;
	}
	if (n > trust->count) {
		sluice_set_err(err, err_len,
			       "%u signatures by trusted keys required, but only %zu distinct "
			       "key%s trusted: no pack could load",
			       n, trust->count, trust->count == 1 ? " is" : "s are");
		return -1;
	}
	trust->required = n;
	return 0;
}

size_t sluice_trust_key_count(const struct sluice_trust *trust)
{
	return trust ? trust->count : 0;
}

size_t sluice_trust_revoked_count(const struct sluice_trust *trust)
{
	return trust ? trust->revoked_count : 0;
}

unsigned sluice_trust_required(const struct sluice_trust *trust)
{
	return trust ? trust->required : 0;
}

void sluice_trust_free(struct sluice_trust *trust)
{
	if (!trust)
		return;
	for (size_t i = 0; i < trust->count; i++)
		EVP_PKEY_free(trust->keys[i].key);
	free(trust->keys);
	free(trust->revoked);
	free(trust);
}

/* ---- verifying ---- */

const char *sluice_sig_key_name(enum sluice_sig_key key)
{
	return key == SLUICE_SIG_TRUSTED   ? "trusted"
	       : key == SLUICE_SIG_REVOKED ? "revoked"
					   : "unknown";
}

const char *sluice_sig_check_name(enum sluice_sig_check check)
{
	return check == SLUICE_SIG_VALID     ? "valid"
	       : check == SLUICE_SIG_INVALID ? "invalid"
					     : "unchecked";
}

static bool signature_verifies(EVP_PKEY *key, const uint8_t *sig, const uint8_t *header)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		  EVP_DigestVerify(ctx, sig, ED25519_SIG_LEN, header, SLUICE_PACK_HEADER_LEN) == 1;

	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

/* "KEY, KEY" of the signatures whose key is of kind, or "" (for messages). */
static size_t list_keys(const struct sluice_verify_report *r, enum sluice_sig_key kind, char *buf,
			size_t cap)
{
	size_t n = 0, used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < r->count; i++) {
		if (r->sigs[i].key != kind)
			continue;
		int w = snprintf(buf + used, cap - used, "%s%s", n ? ", " : "", r->sigs[i].key_id);
		if (w > 0 && (size_t)w < cap - used)
			used += (size_t)w;
		n++;
	}
	return n;
}

/* Says why a pack whose signatures were all checked does not meet the
 * policy: a revoked signer first (the operator's explicit word), then a
 * signature that does not verify (an altered file), then too few. */
static int policy_refusal(const char *path, const struct sluice_verify_report *r, bool count_them,
			  char *err, size_t err_len)
{
	char trusted_keys[SLUICE_PACK_MAX_SIGS * 66], unknown_keys[SLUICE_PACK_MAX_SIGS * 66];

	for (size_t i = 0; i < r->count; i++) {
		if (r->sigs[i].key == SLUICE_SIG_REVOKED) {
			sluice_set_err(err, err_len,
				       "%s: signed by revoked key %s; a pack a revoked key signed "
				       "is refused whatever other signatures it carries: sign it "
				       "again without that key ('sluice-pack sign --replace', then "
				       "co-sign)",
				       path, r->sigs[i].key_id);
			return -1;
		}
	}
	for (size_t i = 0; i < r->count; i++) {
		if (r->sigs[i].check == SLUICE_SIG_INVALID) {
			sluice_set_err(
			    err, err_len,
			    "%s: bad signature: the signature by key %s does not verify; the "
			    "pack was altered after signing",
			    path, r->sigs[i].key_id);
			return -1;
		}
	}
	if (!count_them || r->valid_trusted >= r->required)
		return 0;
	size_t unknown = list_keys(r, SLUICE_SIG_UNKNOWN, unknown_keys, sizeof(unknown_keys));
	if (r->valid_trusted == 0 && r->required == 1) {
		sluice_set_err(err, err_len,
			       "%s: signed by unknown key%s %s; add that key's public key to the "
			       "trusted keys, or sign the pack with a trusted key",
			       path, unknown == 1 ? "" : "s", unknown_keys);
		return -1;
	}
	size_t trusted_n = list_keys(r, SLUICE_SIG_TRUSTED, trusted_keys, sizeof(trusted_keys));
	char who[sizeof(trusted_keys) + sizeof(unknown_keys) + 64];
	snprintf(who, sizeof(who), "%s%s%s%s",
		 trusted_n == 0	  ? "no trusted key"
		 : trusted_n == 1 ? "trusted key "
				  : "trusted keys ",
		 trusted_keys,
		 unknown == 0	? ""
		 : unknown == 1 ? "; not counted: unknown key "
				: "; not counted: unknown keys ",
		 unknown_keys);
	sluice_set_err(err, err_len,
		       "%s: %zu of the %u required signatures by trusted keys (signed by %s); have "
		       "another trusted key co-sign it ('sluice-pack sign PACK --key KEY')",
		       path, r->valid_trusted, r->required, who);
	return -1;
}

static void report_init(struct sluice_verify_report *r, const struct sluice_trust *trust)
{
	memset(r, 0, sizeof(*r));
	r->required = trust != NULL ? trust->required : 1; /* no trust: nothing counts */
}

/* Checks every signature of an image whose envelope is intact (the last
 * count trailers) against trust, fills r (report_init()ed), and applies the
 * policy (the required count only when count_them). */
static int judge(const char *path, const uint8_t *img, size_t len, size_t count,
		 const struct sluice_trust *trust, bool count_them, struct sluice_verify_report *r,
		 char *err, size_t err_len)
{
	const uint8_t *first = img + len - count * SLUICE_PACK_SIG_LEN;

	r->count = count;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *id = first + i * SLUICE_PACK_SIG_LEN + 8;
		struct sluice_sig_status *st = &r->sigs[i];
		const struct trusted_key *k = trusted(trust, id);

		sluice_to_hex(id, 32, st->key_id);
		if (revoked(trust, id)) {
			st->key = SLUICE_SIG_REVOKED;
		} else if (k != NULL) {
			st->key = SLUICE_SIG_TRUSTED;
			st->check = signature_verifies(k->key, id + 32, img) ? SLUICE_SIG_VALID
									     : SLUICE_SIG_INVALID;
			r->valid_trusted += st->check == SLUICE_SIG_VALID;
		}
	}
	return policy_refusal(path, r, count_them, err, err_len);
}

int sluice_pack_verify(const char *pack_path, const struct sluice_trust *trust,
		       struct sluice_verify_report *report, char *err, size_t err_len)
{
	struct sluice_verify_report local;
	uint8_t *img;
	size_t len, count;
	int rc = -1;

	if (!report)
		report = &local;
	report_init(report, trust);
	if (sluice_read_file(pack_path, NULL, &img, &len, err, err_len) != 0)
		return -1;
	if (sluice_pack_check_envelope(pack_path, img, len, &count, err, err_len) != 0)
		goto out;
	if (count == 0)
		sluice_set_err(err, err_len, "%s: pack is not signed", pack_path);
	else
		rc = judge(pack_path, img, len, count, trust, true, report, err, err_len);
out:
	free(img);
	return rc;
}

int sluice_pack_read_trusted(const char *path, const struct sluice_trust *trust,
			     const struct sluice_load_limits *limits, struct sluice_pack **out,
			     char *err, size_t err_len)
{
	struct sluice_verify_report report;
	uint8_t *img;
	size_t len, count;
	int rc = -1;

	*out = NULL;
	if (sluice_read_file(path, limits, &img, &len, err, err_len) != 0)
		return -1;
	if (sluice_pack_check_envelope(path, img, len, &count, err, err_len) != 0)
		goto out;
	if (trust != NULL && count == 0 && trust->require_signed) {
		sluice_set_err(err, err_len,
			       "%s: pack is not signed and this daemon requires signed packs",
			       path);
		goto out;
	}
	/* With no keys and signatures optional, signatures are not judged,
	 * but a revoked key's are still refused. */
	report_init(&report, trust);
	if (trust != NULL && count != 0 &&
	    judge(path, img, len, count, trust, trust->count || trust->require_signed, &report, err,
		  err_len) != 0)
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

/* Makes this key's trailer for the image's header. */
static int make_trailer(const char *pack_path, const char *key_path, EVP_PKEY *key,
			const uint8_t *img, uint8_t trailer[SLUICE_PACK_SIG_LEN], char *err,
			size_t err_len)
{
	size_t sig_len = ED25519_SIG_LEN;
	char why[256];
	int rc = -1;

	memcpy(trailer, SLUICE_PACK_SIG_MAGIC, 8);
	if (key_id_of(key, trailer + 8) != 0) {
		sluice_set_err(err, err_len, "%s: cannot read the key's public half", key_path);
		return -1;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(ctx, trailer + 40, &sig_len, img, SLUICE_PACK_HEADER_LEN) != 1 ||
	    sig_len != ED25519_SIG_LEN)
		sluice_set_err(err, err_len, "%s: signing failed: %s", pack_path,
			       ssl_reason(why, sizeof(why)));
	else
		rc = 0;
	EVP_MD_CTX_free(ctx);
	return rc;
}

int sluice_pack_sign(const char *pack_path, const char *private_key_pem_path, const char *out_path,
		     enum sluice_sign_mode mode, struct sluice_sign_result *result, char *err,
		     size_t err_len)
{
	struct sluice_sign_result local;
	uint8_t trailer[SLUICE_PACK_SIG_LEN];
	uint8_t *img = NULL;
	size_t len, count;
	EVP_PKEY *key;
	int rc = -1;

	if (!result)
		result = &local;
	memset(result, 0, sizeof(*result));
	key = read_key(private_key_pem_path, true, err, err_len);
	if (!key)
		return -1;
	if (sluice_read_file(pack_path, NULL, &img, &len, err, err_len) != 0 ||
	    sluice_pack_check_envelope(pack_path, img, len, &count, err, err_len) != 0 ||
	    make_trailer(pack_path, private_key_pem_path, key, img, trailer, err, err_len) != 0)
		goto out;
	if (mode == SLUICE_SIGN_REPLACE) {
		len -= count * SLUICE_PACK_SIG_LEN;
		count = 0;
	}
	uint8_t *first = img + len - count * SLUICE_PACK_SIG_LEN;
	for (size_t i = 0; i < count && !result->already_signed; i++) {
		uint8_t *t = first + i * SLUICE_PACK_SIG_LEN;
		if (memcmp(t + 8, trailer + 8, 32) == 0) {
			/* In its place, so co-signers' order is kept. */
			memcpy(t, trailer, sizeof(trailer));
			result->already_signed = true;
		}
	}
	if (!result->already_signed && count == SLUICE_PACK_MAX_SIGS) {
		sluice_set_err(err, err_len,
			       "%s: already carries %d signatures, the most a pack may hold; "
			       "sign it with --replace to start again",
			       pack_path, SLUICE_PACK_MAX_SIGS);
		goto out;
	}
	result->signatures = count + !result->already_signed;
	rc = write_file_atomic(out_path, 0644, img, len, trailer,
			       result->already_signed ? 0 : sizeof(trailer), err, err_len);
out:
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

/* The id of a PEM file holding either half of a key. */
static int pem_key_id(const char *pem_path, uint8_t id[32], char *err, size_t err_len)
{
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
	int rc = key_id_of(key, id);
	if (rc != 0)
		sluice_set_err(err, err_len, "%s: cannot read the key's public half", pem_path);
	EVP_PKEY_free(key);
	return rc;
}

int sluice_key_id(const char *pem_path, char key_id_hex[65], char *err, size_t err_len)
{
	uint8_t id[32];

	if (pem_key_id(pem_path, id, err, err_len) != 0)
		return -1;
	sluice_to_hex(id, 32, key_id_hex);
	return 0;
}

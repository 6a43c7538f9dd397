/* libFuzzer harness: the pack loader (patterns/pack_sign.h), and its promise
 * that no byte reaches hs_deserialize_database() before it is authenticated.
 *
 * Feeds: input[0] is the mode: bit 0: the trust requires signed packs (else
 * it only holds the harness's key); bit 1: "fix up" the image first (set the
 * header's body length and SHA-256 from the bytes, and re-sign an image that
 * has a trailer with the harness key), so that mutations reach the body parser
 * instead of dying at the hash check; bit 2: load through
 * sluice_pack_load_within() with max_bytes = 256 << (input[0] >> 4), else
 * sluice_pack_load_trusted(). The rest is the pack file, written to one path
 * in a private temporary directory. An input that does not start with the
 * pack magic while signatures are optional would be compiled as a rule file,
 * which is fuzz_rule_file's work: it is skipped.
 *
 * The Ed25519 key pair is made at start-up with sluice_keygen(); so are signed
 * seeds: LLVMFuzzerInitialize() compiles the two rule files of tests/fuzz/rules and writes
 * each pack, unsigned and signed with that key, in every mode, into the first
 * corpus directory on the command line (run-fuzz.sh's fresh copy).
 *
 * Oracle (each violation calls abort(), which libFuzzer reports as a crash):
 * - the harness links with -Wl,--wrap=hs_deserialize_database, and
 *   __wrap_hs_deserialize_database() aborts unless the bytes it is given lie
 *   within the body of an image the harness authenticated itself, with
 *   OpenSSL and the layout of docs/pack-format.md (header, body length, body
 *   SHA-256; then an Ed25519 signature by the harness key over the header, or,
 *   when signatures are optional, no trailer at all); then it calls
 *   __real_hs_deserialize_database();
 * - a load that succeeds was of such an image, and the pack's sha256 is the
 *   body's; a refusal returns no pack and a message that starts with the
 *   file's path;
 * - no leak, no crash, whatever the bytes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hs/hs.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pack.h"
#include "pack_sign.h"
#include "pack_source.h"

#ifndef SLUICE_FUZZ_DIR
#define SLUICE_FUZZ_DIR "tests/fuzz"
#endif

#define HEADER_LEN  56
#define TRAILER_LEN 104

#define DIR_MAX 1024

static char dir[DIR_MAX];
static char pack_path[DIR_MAX + 16];
static EVP_PKEY *private_key, *public_key;
static uint8_t key_id[32];
static struct sluice_trust *trust_required, *trust_optional;

/* What the current input was found to be, for the wrapper. */
static bool loading, authentic;
static const uint8_t *auth_body;
static size_t auth_body_len;

hs_error_t __real_hs_deserialize_database(const char *bytes, const size_t length,
					  hs_database_t **db);
hs_error_t __wrap_hs_deserialize_database(const char *bytes, const size_t length,
					  hs_database_t **db);

hs_error_t __wrap_hs_deserialize_database(const char *bytes, const size_t length,
					  hs_database_t **db)
{
	if (!loading || !authentic) {
		fprintf(stderr, "fuzz_pack_loader: unauthenticated bytes reached "
				"hs_deserialize_database\n");
		abort();
	}
	if (length > auth_body_len || memmem(auth_body, auth_body_len, bytes, length) == NULL) {
		fprintf(stderr,
			"fuzz_pack_loader: hs_deserialize_database got %zu bytes that "
			"are not in the authenticated body\n",
			length);
		abort();
	}
	return __real_hs_deserialize_database(bytes, length, db);
}

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_pack_loader: %s: %s\n", what, why);
	exit(1);
}

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned len = 32;
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
		abort();
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static bool has_trailer(const uint8_t *img, size_t len)
{
	return len >= HEADER_LEN + TRAILER_LEN &&
	       memcmp(img + len - TRAILER_LEN, SLUICE_PACK_SIG_MAGIC, 8) == 0;
}

static void sign_header(const uint8_t *img, uint8_t trailer[TRAILER_LEN])
{
	size_t sig_len = 64;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	memcpy(trailer, SLUICE_PACK_SIG_MAGIC, 8);
	memcpy(trailer + 8, key_id, 32);
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, private_key) != 1 ||
	    EVP_DigestSign(ctx, trailer + 40, &sig_len, img, HEADER_LEN) != 1 || sig_len != 64)
		abort();
	EVP_MD_CTX_free(ctx);
}

/* Makes the header agree with the bytes and re-signs a trailer, in place. */
static void fix_up(uint8_t *img, size_t len)
{
	if (len < HEADER_LEN)
		return;
	bool trailer = has_trailer(img, len);
	size_t body_len = len - HEADER_LEN - (trailer ? TRAILER_LEN : 0);
	put_le64(img + 16, body_len);
	sha256(img + HEADER_LEN, body_len, img + 24);
	if (trailer)
		sign_header(img, img + len - TRAILER_LEN);
}

/* The harness's own judgement of an image, from docs/pack-format.md: true
 * when the loader may parse its body. */
static bool authenticate(const uint8_t *img, size_t len, bool require_signed)
{
	if (len < HEADER_LEN || memcmp(img, SLUICE_PACK_MAGIC, 8) != 0 ||
	    le32(img + 8) < SLUICE_PACK_FORMAT_OLDEST ||
	    le32(img + 8) > SLUICE_PACK_FORMAT_VERSION || le32(img + 12) != 0)
		return false;
	uint64_t body_len = le64(img + 16);
	if (body_len > len - HEADER_LEN)
		return false;
	bool is_signed;
	if (len - HEADER_LEN == body_len)
		is_signed = false;
	else if (len - HEADER_LEN - body_len == TRAILER_LEN && has_trailer(img, len))
		is_signed = true;
	else
		return false;
	uint8_t digest[32];
	sha256(img + HEADER_LEN, (size_t)body_len, digest);
	if (memcmp(digest, img + 24, 32) != 0)
		return false;
	auth_body = img + HEADER_LEN;
	auth_body_len = (size_t)body_len;
	if (!is_signed)
		return !require_signed;
	/* The trust holds one key, so any signature must be by it and verify. */
	const uint8_t *trailer = img + len - TRAILER_LEN;
	if (memcmp(trailer + 8, key_id, 32) != 0)
		return false;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, public_key) == 1 &&
		  EVP_DigestVerify(ctx, trailer + 40, 64, img, HEADER_LEN) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static EVP_PKEY *read_pem(const char *path, bool private_part)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		die(path, strerror(errno));
	EVP_PKEY *key = private_part ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
				     : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		die(path, "cannot read the key");
	return key;
}

static void remove_dir(void)
{
	char cmd[DIR_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_pack_loader: could not remove %s\n", dir);
}

/* Under $TMPDIR when it is set: run-fuzz.sh points it into the run's own
 * directory, which it removes, so a harness that stops at a crash (and runs
 * no exit handler) leaves nothing behind. */
static int make_dir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0' || strchr(tmp, '\'') != NULL ||
	    strlen(tmp) > DIR_MAX - 64)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/sluice-fuzz-%s-XXXXXX", tmp, tag);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static void write_file(const char *path, const uint8_t *a, size_t alen, const uint8_t *b,
		       size_t blen)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
	    fclose(f) != 0) {
		fprintf(stderr, "fuzz_pack_loader: %s: %s\n", path, strerror(errno));
		abort();
	}
}

/* Writes name's pack, unsigned and signed with the harness key, in every
 * mode, as seeds into corpus. */
static void write_seeds(const char *corpus, const char *name)
{
	char path[4096], err[2048] = "";
	const char *fuzz_dir = getenv("SLUICE_FUZZ_DIR");
	struct sluice_pack *pack = NULL;
	uint8_t *img = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/rules/%s", fuzz_dir ? fuzz_dir : SLUICE_FUZZ_DIR, name);
	if (sluice_pack_load(path, &pack, err, sizeof(err)) != 0 ||
	    sluice_pack_serialize(pack, &img, &len, NULL, err, sizeof(err)) != 0)
		die(path, err);
	uint8_t trailer[TRAILER_LEN];
	sign_header(img, trailer);
	for (unsigned mode = 0; mode < 8; mode++) {
		uint8_t m = (uint8_t)(mode | 0xf0); /* the largest max_bytes */
		for (int signed_copy = 0; signed_copy < 2; signed_copy++) {
			snprintf(path, sizeof(path), "%s/startup-%s-%u-%s", corpus, name, mode,
				 signed_copy ? "signed" : "unsigned");
			FILE *f = fopen(path, "wb");
			if (f == NULL || fwrite(&m, 1, 1, f) != 1 ||
			    fwrite(img, 1, len, f) != len ||
			    (signed_copy &&
			     fwrite(trailer, 1, sizeof(trailer), f) != sizeof(trailer)) ||
			    fclose(f) != 0)
				die(path, strerror(errno));
		}
	}
	free(img);
	sluice_pack_free(pack);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char priv[DIR_MAX + 32], pub[DIR_MAX + 32], err[2048] = "";

	if (make_dir("pack") != 0)
		die("mkdtemp", strerror(errno));
	atexit(remove_dir);
	snprintf(pack_path, sizeof(pack_path), "%s/input.pack", dir);
	snprintf(priv, sizeof(priv), "%s/harness.key", dir);
	snprintf(pub, sizeof(pub), "%s/harness.pub", dir);
	if (sluice_keygen(priv, pub, err, sizeof(err)) != 0)
		die("keygen", err);
	private_key = read_pem(priv, true);
	public_key = read_pem(pub, false);
	uint8_t raw[32];
	size_t raw_len = sizeof(raw);
	if (EVP_PKEY_get_raw_public_key(public_key, raw, &raw_len) != 1 || raw_len != 32)
		die(pub, "not an Ed25519 key");
	sha256(raw, raw_len, key_id);

	trust_required = sluice_trust_new(true);
	trust_optional = sluice_trust_new(false);
	if (trust_required == NULL || trust_optional == NULL ||
	    sluice_trust_add_key(trust_required, pub, err, sizeof(err)) != 0 ||
	    sluice_trust_add_key(trust_optional, pub, err, sizeof(err)) != 0)
		die("trust", err);

	/* The first directory argument is the corpus libFuzzer reads next. */
	for (int i = 1; i < *argc; i++) {
		struct stat st;
		const char *arg = (*argv)[i];
		if (arg[0] == '-' || stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		write_seeds(arg, "urgent.yaml");
		write_seeds(arg, "main.yaml");
		break;
	}
	return 0;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	uint8_t mode = data[0];
	bool require_signed = (mode & 1) != 0;
	size_t len = size - 1;
	if (!require_signed && (len < 8 || memcmp(data + 1, SLUICE_PACK_MAGIC, 8) != 0))
		return -1;

	uint8_t *img = malloc(len ? len : 1);
	if (img == NULL)
		abort();
	memcpy(img, data + 1, len);
	if (mode & 2)
		fix_up(img, len);
	write_file(pack_path, img, len, NULL, 0);

	authentic = authenticate(img, len, require_signed);
	const struct sluice_trust *trust = require_signed ? trust_required : trust_optional;
	struct sluice_pack *pack = NULL;
	char err[2048] = "";
	int rc;
	loading = true;
	if (mode & 4) {
		struct sluice_load_limits limits = {.max_bytes = (size_t)256 << (mode >> 4)};
		rc = sluice_pack_load_within(pack_path, trust, &limits, &pack, err, sizeof(err));
	} else {
		rc = sluice_pack_load_trusted(pack_path, trust, &pack, err, sizeof(err));
	}
	loading = false;

	if (rc == 0) {
		char want[65];
		if (!authentic || pack == NULL)
			abort();
		uint8_t digest[32];
		sha256(auth_body, auth_body_len, digest);
		hex(digest, 32, want);
		if (strcmp(pack->sha256_hex, want) != 0)
			abort();
	} else if (pack != NULL || strncmp(err, pack_path, strlen(pack_path)) != 0) {
		abort(); /* a refusal hands nothing back, and says why, file first */
	}
	sluice_pack_free(pack);
	free(img);
	authentic = false;
	auth_body = NULL;
	auth_body_len = 0;
	return 0;
}

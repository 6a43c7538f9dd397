/* libFuzzer harness: the pack loader (patterns/pack_sign.h), and its promise
 * that no byte reaches hs_deserialize_database() before it is authenticated.
 *
 * Feeds: input[0] is the mode: bit 0: the trust requires signed packs (else
 * it only holds the harness's key A); bit 1: "fix up" the image first (set the
 * header's body length and SHA-256 from the bytes, and re-sign the trailers
 * at the end: the last with A, the one before with B), so that mutations
 * reach the body parser instead of dying at the hash check; bit 2: load
 * through sluice_pack_load_within() with max_bytes = 256 << (input[0] >> 4),
 * else sluice_pack_load_trusted(); bit 3: two-person approval: the trust
 * holds A and B, requires both and signed packs, and revokes C (by id). The
 * rest is the pack file, written to one path in a private temporary
 * directory. An input that does not start with the pack magic while
 * signatures are optional would be compiled as a rule file, which is
 * fuzz_rule_file's work: it is skipped.
 *
 * The Ed25519 key pairs A, B, C are made at start-up with sluice_keygen(); so
 * are signed seeds: LLVMFuzzerInitialize() compiles the two rule files of
 * tests/fuzz/rules and writes each pack unsigned, signed by A, by A and B, and
 * by A, B and C, in every mode, into the first corpus directory on the
 * command line (run-fuzz.sh's fresh copy).
 *
 * Oracle (each violation calls abort(), which libFuzzer reports as a crash):
 * - the harness links with -Wl,--wrap=hs_deserialize_database, and
 *   __wrap_hs_deserialize_database() aborts unless the bytes it is given lie
 *   within the body of an image the harness authenticated itself, with
 *   OpenSSL and the layout and policy of docs/pack-format.md (header, body
 *   length, 0 to 8 whole trailers each with its magic and no key twice, body
 *   SHA-256; then no trailer naming a revoked key, every trailer by a trusted
 *   key an Ed25519 signature of the header that verifies, and as many
 *   trusted signers as the policy requires, or, when signatures are
 *   optional, no trailer at all); then it calls
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
#define MAX_SIGS    8

#define DIR_MAX 1024

static char dir[DIR_MAX];
static char pack_path[DIR_MAX + 16];
/* A and B are trusted (B only by the two-person trust), C is revoked there. */
enum { KEY_A, KEY_B, KEY_C, KEYS };
static EVP_PKEY *private_key[KEYS], *public_key[KEYS];
static uint8_t key_id[KEYS][32];
static struct sluice_trust *trust_required, *trust_optional, *trust_two;

/* The policy of one trust, as the harness reads docs/pack-format.md. */
struct model {
	bool require_signed;
	unsigned trusted[KEYS]; /* key indexes */
	size_t trusted_count;
	int revoked; /* key index, or -1 */
	size_t required;
};

static const struct model model_required = {true, {KEY_A}, 1, -1, 1};
static const struct model model_optional = {false, {KEY_A}, 1, -1, 1};
static const struct model model_two = {true, {KEY_A, KEY_B}, 2, KEY_C, 2};

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

/* How many 104-byte blocks at the end start with the trailer magic (at
 * most MAX_SIGS, never into the header): the trailers fix_up() re-signs. */
static size_t trailing_trailers(const uint8_t *img, size_t len)
{
	size_t n = 0;
	while (n < MAX_SIGS && len >= HEADER_LEN + (n + 1) * TRAILER_LEN &&
	       memcmp(img + len - (n + 1) * TRAILER_LEN, SLUICE_PACK_SIG_MAGIC, 8) == 0)
		n++;
	return n;
}

static void sign_header(const uint8_t *img, unsigned key, uint8_t trailer[TRAILER_LEN])
{
	size_t sig_len = 64;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	memcpy(trailer, SLUICE_PACK_SIG_MAGIC, 8);
	memcpy(trailer + 8, key_id[key], 32);
	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, private_key[key]) != 1 ||
	    EVP_DigestSign(ctx, trailer + 40, &sig_len, img, HEADER_LEN) != 1 || sig_len != 64)
		abort();
	EVP_MD_CTX_free(ctx);
}

/* Makes the header agree with the bytes and re-signs the last trailers (A,
 * then B before it), in place. */
static void fix_up(uint8_t *img, size_t len)
{
	if (len < HEADER_LEN)
		return;
	size_t trailers = trailing_trailers(img, len);
	size_t body_len = len - HEADER_LEN - trailers * TRAILER_LEN;
	put_le64(img + 16, body_len);
	sha256(img + HEADER_LEN, body_len, img + 24);
	for (size_t i = 0; i < trailers && i < 2; i++)
		sign_header(img, i == 0 ? KEY_A : KEY_B, img + len - (i + 1) * TRAILER_LEN);
}

static int key_of(const uint8_t id[32])
{
	for (int k = 0; k < KEYS; k++)
		if (memcmp(id, key_id[k], 32) == 0)
			return k;
	return -1;
}

/* The harness's own judgement of an image, from docs/pack-format.md: true
 * when the loader may parse its body. */
static bool authenticate(const uint8_t *img, size_t len, const struct model *m)
{
	if (len < HEADER_LEN || memcmp(img, SLUICE_PACK_MAGIC, 8) != 0 ||
	    le32(img + 8) < SLUICE_PACK_FORMAT_OLDEST ||
	    le32(img + 8) > SLUICE_PACK_FORMAT_VERSION || le32(img + 12) != 0)
		return false;
	uint64_t body_len = le64(img + 16);
	if (body_len > len - HEADER_LEN || (len - HEADER_LEN - body_len) % TRAILER_LEN != 0)
		return false;
	size_t count = (len - HEADER_LEN - body_len) / TRAILER_LEN;
	const uint8_t *first = img + HEADER_LEN + body_len;
	if (count > MAX_SIGS)
		return false;
	for (size_t i = 0; i < count; i++) {
		if (memcmp(first + i * TRAILER_LEN, SLUICE_PACK_SIG_MAGIC, 8) != 0)
			return false;
		for (size_t j = 0; j < i; j++)
			if (memcmp(first + j * TRAILER_LEN + 8, first + i * TRAILER_LEN + 8, 32) ==
			    0)
				return false;
	}
	uint8_t digest[32];
	sha256(img + HEADER_LEN, (size_t)body_len, digest);
	if (memcmp(digest, img + 24, 32) != 0)
		return false;
	auth_body = img + HEADER_LEN;
	auth_body_len = (size_t)body_len;
	if (count == 0)
		return !m->require_signed;
	size_t valid = 0;
	for (size_t i = 0; i < count; i++) {
		const uint8_t *t = first + i * TRAILER_LEN;
		int k = key_of(t + 8);
		if (k >= 0 && k == m->revoked)
			return false;
		bool is_trusted = false;
		for (size_t j = 0; j < m->trusted_count; j++)
			is_trusted |= k >= 0 && m->trusted[j] == (unsigned)k;
		if (!is_trusted)
			continue; /* a stranger: neither counted nor checked */
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		bool ok = ctx != NULL &&
			  EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, public_key[k]) == 1 &&
			  EVP_DigestVerify(ctx, t + 40, 64, img, HEADER_LEN) == 1;
		EVP_MD_CTX_free(ctx);
		if (!ok)
			return false;
		valid++;
	}
	return valid >= m->required;
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

/* Writes name's pack unsigned, signed by A, by A and B, and by A, B and C,
 * in every mode, as seeds into corpus. */
static void write_seeds(const char *corpus, const char *name)
{
	static const char *const variants[] = {"unsigned", "a", "ab", "abc"};
	char path[4096], err[2048] = "";
	const char *fuzz_dir = getenv("SLUICE_FUZZ_DIR");
	struct sluice_pack *pack = NULL;
	uint8_t *img = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/rules/%s", fuzz_dir ? fuzz_dir : SLUICE_FUZZ_DIR, name);
	if (sluice_pack_load(path, &pack, err, sizeof(err)) != 0 ||
	    sluice_pack_serialize(pack, &img, &len, NULL, err, sizeof(err)) != 0)
		die(path, err);
	uint8_t trailers[KEYS * TRAILER_LEN];
	for (unsigned k = 0; k < KEYS; k++)
		sign_header(img, k, trailers + k * TRAILER_LEN);
	for (unsigned mode = 0; mode < 16; mode++) {
		uint8_t m = (uint8_t)(mode | 0xf0); /* the largest max_bytes */
		for (size_t signers = 0; signers <= KEYS; signers++) {
			snprintf(path, sizeof(path), "%s/startup-%s-%u-%s", corpus, name, mode,
				 variants[signers]);
			FILE *f = fopen(path, "wb");
			if (f == NULL || fwrite(&m, 1, 1, f) != 1 ||
			    fwrite(img, 1, len, f) != len ||
			    (signers && fwrite(trailers, TRAILER_LEN, signers, f) != signers) ||
			    fclose(f) != 0)
				die(path, strerror(errno));
		}
	}
	free(img);
	sluice_pack_free(pack);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char priv[KEYS][DIR_MAX + 32], pub[KEYS][DIR_MAX + 32], err[2048] = "";

	if (make_dir("pack") != 0)
		die("mkdtemp", strerror(errno));
	atexit(remove_dir);
	snprintf(pack_path, sizeof(pack_path), "%s/input.pack", dir);
	for (unsigned k = 0; k < KEYS; k++) {
		snprintf(priv[k], sizeof(priv[k]), "%s/harness-%c.key", dir, 'a' + k);
		snprintf(pub[k], sizeof(pub[k]), "%s/harness-%c.pub", dir, 'a' + k);
		if (sluice_keygen(priv[k], pub[k], err, sizeof(err)) != 0)
			die("keygen", err);
		private_key[k] = read_pem(priv[k], true);
		public_key[k] = read_pem(pub[k], false);
		uint8_t raw[32];
		size_t raw_len = sizeof(raw);
		if (EVP_PKEY_get_raw_public_key(public_key[k], raw, &raw_len) != 1 || raw_len != 32)
			die(pub[k], "not an Ed25519 key");
		sha256(raw, raw_len, key_id[k]);
	}

	trust_required = sluice_trust_new(true);
	trust_optional = sluice_trust_new(false);
	trust_two = sluice_trust_new(true);
	if (trust_required == NULL || trust_optional == NULL || trust_two == NULL ||
	    sluice_trust_add_key(trust_required, pub[KEY_A], err, sizeof(err)) != 0 ||
	    sluice_trust_add_key(trust_optional, pub[KEY_A], err, sizeof(err)) != 0 ||
	    sluice_trust_add_key(trust_two, pub[KEY_A], err, sizeof(err)) != 0 ||
	    sluice_trust_add_key(trust_two, pub[KEY_B], err, sizeof(err)) != 0 ||
	    sluice_trust_set_required(trust_two, 2, err, sizeof(err)) != 0)
		die("trust", err);
	char c_id[65];
	hex(key_id[KEY_C], 32, c_id);
	if (sluice_trust_revoke(trust_two, c_id, err, sizeof(err)) != 0)
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	uint8_t mode = data[0];
	bool two = (mode & 8) != 0;
	const struct model *m = two ? &model_two : mode & 1 ? &model_required : &model_optional;
	const struct sluice_trust *trust = two	      ? trust_two
					   : mode & 1 ? trust_required
						      : trust_optional;
	size_t len = size - 1;
	if (!m->require_signed && (len < 8 || memcmp(data + 1, SLUICE_PACK_MAGIC, 8) != 0))
		return -1;

	uint8_t *img = malloc(len ? len : 1);
	if (img == NULL)
		abort();
	memcpy(img, data + 1, len);
	if (mode & 2)
		fix_up(img, len);
	write_file(pack_path, img, len, NULL, 0);

	authentic = authenticate(img, len, m);
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

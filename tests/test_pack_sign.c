/* Pack signatures: a signed pack loads only with a trusted key; an unsigned,
 * foreign-signed or tampered pack is refused before any byte of its body is
 * parsed. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "pack.h"
#include "pack_source.h"
#include "pack_sign.h"

struct keys {
	char *dir;
	char *priv, *pub;	      /* trusted */
	char *other_priv, *other_pub; /* not trusted */
	char *pack;		      /* unsigned pack */
	char *signed_pack;
};

static char *in_dir(const char *dir, const char *name)
{
	char *p;

	cr_assert_neq(asprintf(&p, "%s/%s", dir, name), -1);
	return p;
}

static void setup(struct keys *k)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	char *yaml, err[2048] = "";
	struct sluice_pack *pack = NULL;

	k->dir = strdup("/tmp/sluice-test-sign-XXXXXX");
	cr_assert_not_null(mkdtemp(k->dir));
	k->priv = in_dir(k->dir, "team.key");
	k->pub = in_dir(k->dir, "team.pub");
	k->other_priv = in_dir(k->dir, "other.key");
	k->other_pub = in_dir(k->dir, "other.pub");
	k->pack = in_dir(k->dir, "rules.pack");
	k->signed_pack = in_dir(k->dir, "rules.signed.pack");
	cr_assert_eq(sluice_keygen(k->priv, k->pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_keygen(k->other_priv, k->other_pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(
	    asprintf(&yaml, "%s/tests/data/rules/lang_mixed.yaml", root && *root ? root : "."), -1);
	cr_assert_eq(sluice_pack_load(yaml, &pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_write(pack, k->pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_sign(k->pack, k->priv, k->signed_pack, err, sizeof(err)), 0, "%s",
		     err);
	sluice_pack_free(pack);
	free(yaml);
}

static void teardown(struct keys *k)
{
	char *files[] = {k->priv, k->pub, k->other_priv, k->other_pub, k->pack, k->signed_pack};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		unlink(files[i]);
		free(files[i]);
	}
	rmdir(k->dir);
	free(k->dir);
}

static struct sluice_trust *trust_of(const char *pub, bool required)
{
	struct sluice_trust *t = sluice_trust_new(required);
	char err[1024] = "";

	cr_assert_not_null(t);
	if (pub)
		cr_assert_eq(sluice_trust_add_key(t, pub, err, sizeof(err)), 0, "%s", err);
	return t;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len);
	cr_assert_eq(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void write_all(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static char *key_id(const char *pem)
{
	char hex[65], err[1024] = "";

	cr_assert_eq(sluice_key_id(pem, hex, err, sizeof(err)), 0, "%s", err);
	return strdup(hex);
}

/* Loads path with trust and expects a refusal whose message is exactly want
 * (want may be NULL to only check it failed). */
static void expect_refused(const char *path, const struct sluice_trust *t, const char *want)
{
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[2048] = "";

	cr_assert_eq(sluice_pack_load_trusted(path, t, &pack, err, sizeof(err)), -1,
		     "%s was accepted", path);
	cr_assert_null(pack);
	if (want)
		cr_expect_str_eq(err, want);
}

Test(sign, signed_pack_loads_with_the_right_key_and_verifies)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = trust_of(k.pub, true);
	struct sluice_pack *pack = NULL;
	char err[2048] = "", hex[65];
	char *id = key_id(k.pub);
	size_t plain_len, signed_len;
	uint8_t *plain = read_all(k.pack, &plain_len);
	uint8_t *sig = read_all(k.signed_pack, &signed_len);

	cr_expect_eq(signed_len, plain_len + SLUICE_PACK_SIG_LEN);
	cr_expect_eq(memcmp(plain, sig, plain_len), 0, "signing only appends the trailer");
	cr_expect_eq(memcmp(sig + plain_len, "SLUICESG", 8), 0);

	cr_assert_eq(sluice_pack_load_trusted(k.signed_pack, t, &pack, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_str_eq(pack->name, "mixed");
	cr_expect_eq(pack->db_count, 4, "literal, regex, anchored and regex-ends");
	sluice_pack_free(pack);

	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, hex, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(hex, id);
	cr_expect_eq(strlen(hex), 64);

	/* A plain read accepts the trailer without judging it. */
	cr_assert_eq(sluice_pack_read(k.signed_pack, &pack, err, sizeof(err)), 0, "%s", err);
	sluice_pack_free(pack);
	free(plain);
	free(sig);
	free(id);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, pack_signed_by_another_key_is_refused_naming_it)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = trust_of(k.other_pub, false);
	char *id = key_id(k.pub), *want, err[2048] = "", hex[65];

	cr_assert_neq(asprintf(&want,
			       "%s: signed by unknown key %s; add that key's public key to the "
			       "trusted keys, or sign the pack with a trusted key",
			       k.signed_pack, id),
		      -1);
	expect_refused(k.signed_pack, t, want);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, hex, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
	cr_expect_str_eq(hex, id, "the signer is named even when untrusted");
	free(want);
	free(id);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, unsigned_pack_is_refused_only_when_signatures_are_required)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *required = trust_of(k.pub, true);
	struct sluice_trust *optional = trust_of(k.pub, false);
	struct sluice_pack *pack = NULL;
	char *want, err[2048] = "", hex[65];

	cr_assert_neq(
	    asprintf(&want, "%s: pack is not signed and this daemon requires signed packs", k.pack),
	    -1);
	expect_refused(k.pack, required, want);
	cr_expect_eq(sluice_pack_load_trusted(k.pack, optional, &pack, err, sizeof(err)), 0, "%s",
		     err);
	sluice_pack_free(pack);
	cr_expect_eq(sluice_pack_load_trusted(k.pack, NULL, &pack, err, sizeof(err)), 0, "%s", err);
	sluice_pack_free(pack);

	cr_expect_eq(sluice_pack_verify(k.pack, optional, hex, err, sizeof(err)), -1);
	cr_expect_str_eq(hex, "");
	free(want);
	cr_assert_neq(asprintf(&want, "%s: pack is not signed", k.pack), -1);
	cr_expect_str_eq(err, want);
	free(want);
	sluice_trust_free(required);
	sluice_trust_free(optional);
	teardown(&k);
}

Test(sign, yaml_rule_file_is_refused_when_signatures_are_required)
{
	struct keys k;
	setup(&k);
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	char *yaml, *want;
	struct sluice_trust *t = trust_of(k.pub, true);

	cr_assert_neq(
	    asprintf(&yaml, "%s/tests/data/rules/lang_mixed.yaml", root && *root ? root : "."), -1);
	cr_assert_neq(asprintf(&want,
			       "%s: not a compiled pack; this daemon requires signed packs, so "
			       "rule files cannot be loaded: compile and sign the pack first",
			       yaml),
		      -1);
	expect_refused(yaml, t, want);
	free(want);
	free(yaml);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, one_flipped_byte_anywhere_is_refused)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = trust_of(k.pub, true);
	size_t len;
	uint8_t *orig = read_all(k.signed_pack, &len);
	char *path = in_dir(k.dir, "tampered.pack");
	size_t trailer = len - SLUICE_PACK_SIG_LEN;
	const struct {
		size_t at;
		const char *word;
	} flips[] = {
	    {0, "not a compiled pack"}, /* then it would be a rule file */
	    {12, "reserved field is not zero"},
	    {16, "length mismatch"},
	    {30, "SHA-256 mismatch"},
	    {SLUICE_PACK_HEADER_LEN, "SHA-256 mismatch"},
	    {len / 2, "SHA-256 mismatch"},
	    {trailer - 1, "SHA-256 mismatch"},
	    {trailer, "not a signature trailer"},   /* trailer magic */
	    {trailer + 8, "signed by unknown key"}, /* key id */
	    {trailer + 40, "bad signature"},	    /* first signature byte */
	    {trailer + 70, "bad signature"},	    /* inside the signature */
	    {len - 1, "bad signature"},		    /* last byte of the file */
	};

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		struct sluice_pack *pack = (struct sluice_pack *)0x1;
		char err[2048] = "";
		uint8_t *img = malloc(len);
		memcpy(img, orig, len);
		img[flips[i].at] ^= 0x01;
		write_all(path, img, len);
		cr_expect_eq(sluice_pack_load_trusted(path, t, &pack, err, sizeof(err)), -1,
			     "flip at %zu accepted", flips[i].at);
		cr_expect_null(pack);
		cr_expect_not_null(strstr(err, flips[i].word),
				   "flip at %zu: expected \"%s\" in \"%s\"", flips[i].at,
				   flips[i].word, err);
		cr_expect_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
		free(img);
	}
	/* Cutting the trailer short is neither a pack nor a signed pack. */
	write_all(path, orig, len - 1);
	expect_refused(path, t, NULL);
	unlink(path);
	free(path);
	free(orig);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, altered_body_with_a_fixed_hash_fails_the_signature_before_parsing)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = trust_of(k.pub, true);
	size_t len;
	uint8_t *img = read_all(k.signed_pack, &len);
	char *path = in_dir(k.dir, "resealed.pack");
	char *id = key_id(k.pub), *want;
	size_t body = len - SLUICE_PACK_HEADER_LEN - SLUICE_PACK_SIG_LEN;
	unsigned int n = 0;

	/* Garbage in the first rule, and the header's hash recomputed to
	 * match, as an attacker would: only the signature can tell. If the body
	 * were parsed first, the error would be "malformed pack body". */
	uint8_t *id0 = memmem(img + SLUICE_PACK_HEADER_LEN, body, "\x06\x00\x00\x00wechat", 10);
	cr_assert_not_null(id0, "rule 0's id");
	memset(id0 + 10, 0xff, 4); /* its category's length */
	cr_assert_eq(
	    EVP_Digest(img + SLUICE_PACK_HEADER_LEN, body, img + 24, &n, EVP_sha256(), NULL), 1);
	write_all(path, img, len);
	cr_assert_neq(asprintf(&want,
			       "%s: bad signature: the signature by key %s does not verify; the "
			       "pack was altered after signing",
			       path, id),
		      -1);
	expect_refused(path, t, want);

	/* Without a trust, the same file gets as far as the body. */
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[2048] = "";
	cr_expect_eq(sluice_pack_load_trusted(path, NULL, &pack, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "malformed pack body"), "%s", err);

	unlink(path);
	free(path);
	free(want);
	free(id);
	free(img);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, signing_again_replaces_the_signature)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *mine = trust_of(k.pub, true);
	struct sluice_trust *theirs = trust_of(k.other_pub, true);
	char err[2048] = "", hex[65];
	char *other_id = key_id(k.other_pub);
	size_t before, after;
	free(read_all(k.signed_pack, &before));

	cr_assert_eq(sluice_pack_sign(k.signed_pack, k.other_priv, k.signed_pack, err, sizeof(err)),
		     0, "%s", err);
	free(read_all(k.signed_pack, &after));
	cr_expect_eq(after, before, "one trailer, not two");
	cr_expect_eq(sluice_pack_verify(k.signed_pack, theirs, hex, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_str_eq(hex, other_id);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, mine, hex, err, sizeof(err)), -1);
	free(other_id);
	sluice_trust_free(mine);
	sluice_trust_free(theirs);
	teardown(&k);
}

Test(sign, keygen_writes_a_private_key_only_its_owner_can_read)
{
	struct keys k;
	setup(&k);
	struct stat st;
	char *a = key_id(k.priv), *b = key_id(k.pub), *c = key_id(k.other_pub);

	cr_assert_eq(stat(k.priv, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(stat(k.pub, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0644);
	cr_expect_str_eq(a, b, "a private key's id is its public key's id");
	cr_expect_str_neq(b, c);
	free(a);
	free(b);
	free(c);
	teardown(&k);
}

Test(sign, wrong_key_files_are_refused_with_the_path)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = sluice_trust_new(true);
	char err[2048] = "", *want;

	/* A private key where a public one belongs, and a missing file. */
	cr_expect_eq(sluice_trust_add_key(t, k.pack, err, sizeof(err)), -1);
	cr_expect_eq(strncmp(err, k.pack, strlen(k.pack)), 0, "%s", err);
	cr_expect_not_null(strstr(err, "not a PEM public key"), "%s", err);
	cr_expect_eq(sluice_trust_add_key(t, "/nonexistent.pub", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "/nonexistent.pub: cannot open: No such file or directory");
	cr_expect_eq(sluice_trust_key_count(t), 0);
	cr_expect_eq(sluice_trust_add_key(t, k.pub, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sluice_trust_add_key(t, k.pub, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sluice_trust_key_count(t), 1, "the same key twice counts once");

	cr_expect_eq(sluice_pack_sign(k.pack, k.pub, k.signed_pack, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "not a PEM private key"), "%s", err);
	cr_assert_neq(asprintf(&want, "%s: ", k.pub), -1);
	cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	free(want);
	sluice_trust_free(t);
	teardown(&k);
}

/* Pack signatures: a signed pack loads only when enough trusted keys signed
 * it and no revoked one did; an unsigned, foreign-signed, under-signed,
 * revoked or tampered pack is refused before any byte of its body is parsed.
 * Co-signing adds trailers; the file stays header + body + whole trailers. */
#include <criterion/criterion.h>

#include <ctype.h>
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
	char *third_priv, *third_pub; /* a third signer, for policies */
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
	k->third_priv = in_dir(k->dir, "third.key");
	k->third_pub = in_dir(k->dir, "third.pub");
	k->pack = in_dir(k->dir, "rules.pack");
	k->signed_pack = in_dir(k->dir, "rules.signed.pack");
	cr_assert_eq(sluice_keygen(k->priv, k->pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_keygen(k->other_priv, k->other_pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_keygen(k->third_priv, k->third_pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(
	    asprintf(&yaml, "%s/tests/data/rules/lang_mixed.yaml", root && *root ? root : "."), -1);
	cr_assert_eq(sluice_pack_load(yaml, &pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_write(pack, k->pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_sign(k->pack, k->priv, k->signed_pack, SLUICE_SIGN_ADD, NULL, err,
				      sizeof(err)),
		     0, "%s", err);
	sluice_pack_free(pack);
	free(yaml);
}

static void teardown(struct keys *k)
{
	char *files[] = {k->priv,	k->pub,	      k->other_priv, k->other_pub,
			 k->third_priv, k->third_pub, k->pack,	     k->signed_pack};

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
	struct sluice_verify_report rep;
	char err[2048] = "";
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

	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, &rep, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rep.count, 1);
	cr_expect_str_eq(rep.sigs[0].key_id, id);
	cr_expect_eq(rep.sigs[0].key, SLUICE_SIG_TRUSTED);
	cr_expect_eq(rep.sigs[0].check, SLUICE_SIG_VALID);
	cr_expect_eq(rep.valid_trusted, 1);
	cr_expect_eq(rep.required, 1);

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
	char *id = key_id(k.pub), *want, err[2048] = "";
	struct sluice_verify_report rep;

	cr_assert_neq(asprintf(&want,
			       "%s: signed by unknown key %s; add that key's public key to the "
			       "trusted keys, or sign the pack with a trusted key",
			       k.signed_pack, id),
		      -1);
	expect_refused(k.signed_pack, t, want);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, &rep, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
	cr_expect_eq(rep.count, 1);
	cr_expect_str_eq(rep.sigs[0].key_id, id, "the signer is named even when untrusted");
	cr_expect_eq(rep.sigs[0].key, SLUICE_SIG_UNKNOWN);
	cr_expect_eq(rep.sigs[0].check, SLUICE_SIG_UNCHECKED);
	cr_expect_eq(rep.valid_trusted, 0);
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
	struct sluice_verify_report rep;
	char *want, err[2048] = "";

	cr_assert_neq(
	    asprintf(&want, "%s: pack is not signed and this daemon requires signed packs", k.pack),
	    -1);
	expect_refused(k.pack, required, want);
	cr_expect_eq(sluice_pack_load_trusted(k.pack, optional, &pack, err, sizeof(err)), 0, "%s",
		     err);
	sluice_pack_free(pack);
	cr_expect_eq(sluice_pack_load_trusted(k.pack, NULL, &pack, err, sizeof(err)), 0, "%s", err);
	sluice_pack_free(pack);

	cr_expect_eq(sluice_pack_verify(k.pack, optional, &rep, err, sizeof(err)), -1);
	cr_expect_eq(rep.count, 0);
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

Test(sign, signing_a_signed_pack_adds_a_signature_and_replace_starts_again)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *mine = trust_of(k.pub, true);
	struct sluice_trust *theirs = trust_of(k.other_pub, true);
	struct sluice_sign_result res;
	struct sluice_verify_report rep;
	char err[2048] = "";
	char *id = key_id(k.pub), *other_id = key_id(k.other_pub);
	size_t before, after;
	free(read_all(k.signed_pack, &before));

	cr_assert_eq(sluice_pack_sign(k.signed_pack, k.other_priv, k.signed_pack, SLUICE_SIGN_ADD,
				      &res, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(res.signatures, 2);
	cr_expect_not(res.already_signed);
	free(read_all(k.signed_pack, &after));
	cr_expect_eq(after, before + SLUICE_PACK_SIG_LEN, "a second trailer");
	/* Either signer alone meets a one-key policy. */
	cr_expect_eq(sluice_pack_verify(k.signed_pack, mine, &rep, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rep.count, 2);
	cr_expect_str_eq(rep.sigs[0].key_id, id, "the first signer stays first");
	cr_expect_str_eq(rep.sigs[1].key_id, other_id);
	cr_expect_eq(rep.sigs[1].key, SLUICE_SIG_UNKNOWN);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, theirs, &rep, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(rep.sigs[1].key, SLUICE_SIG_TRUSTED);
	cr_expect_eq(rep.sigs[1].check, SLUICE_SIG_VALID);

	cr_assert_eq(sluice_pack_sign(k.signed_pack, k.other_priv, k.signed_pack,
				      SLUICE_SIGN_REPLACE, &res, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(res.signatures, 1);
	free(read_all(k.signed_pack, &after));
	cr_expect_eq(after, before, "one trailer, not two");
	cr_expect_eq(sluice_pack_verify(k.signed_pack, theirs, &rep, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(rep.count, 1);
	cr_expect_str_eq(rep.sigs[0].key_id, other_id);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, mine, &rep, err, sizeof(err)), -1);
	free(id);
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

	cr_expect_eq(
	    sluice_pack_sign(k.pack, k.pub, k.signed_pack, SLUICE_SIGN_ADD, NULL, err, sizeof(err)),
	    -1);
	cr_expect_not_null(strstr(err, "not a PEM private key"), "%s", err);
	cr_assert_neq(asprintf(&want, "%s: ", k.pub), -1);
	cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	free(want);
	sluice_trust_free(t);
	teardown(&k);
}

/* ---- several signatures, the policy, revocation ---- */

/* Signs in with key into out (co-signing), asserting it works. */
static struct sluice_sign_result sign(const char *in, const char *key, const char *out)
{
	struct sluice_sign_result res;
	char err[2048] = "";

	cr_assert_eq(sluice_pack_sign(in, key, out, SLUICE_SIGN_ADD, &res, err, sizeof(err)), 0,
		     "%s", err);
	return res;
}

/* A trust requiring signatures: the keys (NULL-terminated), then required. */
static struct sluice_trust *policy_of(unsigned required, const char *const *pubs)
{
	struct sluice_trust *t = trust_of(NULL, true);
	char err[1024] = "";

	for (size_t i = 0; pubs[i]; i++)
		cr_assert_eq(sluice_trust_add_key(t, pubs[i], err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_trust_set_required(t, required, err, sizeof(err)), 0, "%s", err);
	return t;
}

/* Loads path with t and expects a refusal containing want, the path first. */
static void expect_refused_saying(const char *path, const struct sluice_trust *t, const char *want)
{
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[2048] = "";

	cr_expect_eq(sluice_pack_load_trusted(path, t, &pack, err, sizeof(err)), -1,
		     "%s was accepted", path);
	cr_expect_null(pack);
	cr_expect_not_null(strstr(err, want), "expected \"%s\" in \"%s\"", want, err);
	cr_expect_eq(strncmp(err, path, strlen(path)), 0, "%s", err);
}

static void expect_loads(const char *path, const struct sluice_trust *t)
{
	struct sluice_pack *pack = NULL;
	char err[2048] = "";

	cr_expect_eq(sluice_pack_load_trusted(path, t, &pack, err, sizeof(err)), 0, "%s: %s", path,
		     err);
	sluice_pack_free(pack);
}

Test(sign, two_of_three_loads_with_two_signatures_and_not_with_one)
{
	struct keys k;
	setup(&k);
	const char *pubs[] = {k.pub, k.other_pub, k.third_pub, NULL};
	struct sluice_trust *t = policy_of(2, pubs);
	struct sluice_verify_report rep;
	char *id = key_id(k.pub), *third = key_id(k.third_pub), *want, err[2048] = "";

	cr_assert_neq(asprintf(&want,
			       "%s: 1 of the 2 required signatures by trusted keys (signed by "
			       "trusted key %s); have another trusted key co-sign it "
			       "('sluice-pack sign PACK --key KEY')",
			       k.signed_pack, id),
		      -1);
	expect_refused(k.signed_pack, t, want);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, &rep, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
	cr_expect_eq(rep.valid_trusted, 1);
	cr_expect_eq(rep.required, 2);

	struct sluice_sign_result res = sign(k.signed_pack, k.third_priv, k.signed_pack);
	cr_expect_eq(res.signatures, 2);
	expect_loads(k.signed_pack, t);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, &rep, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rep.count, 2);
	cr_expect_eq(rep.valid_trusted, 2);
	cr_expect_str_eq(rep.sigs[1].key_id, third);
	cr_expect_eq(rep.sigs[1].check, SLUICE_SIG_VALID);

	/* The same pack under three of three: two are not enough, and both
	 * signers are named. */
	struct sluice_trust *all = policy_of(3, pubs);
	free(want);
	cr_assert_neq(asprintf(&want,
			       "%s: 2 of the 3 required signatures by trusted keys (signed by "
			       "trusted keys %s, %s); have another",
			       k.signed_pack, id, third),
		      -1);
	expect_refused_saying(k.signed_pack, all, want);
	free(want);
	free(id);
	free(third);
	sluice_trust_free(all);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, co_signing_order_does_not_matter)
{
	struct keys k;
	setup(&k);
	const char *pubs[] = {k.pub, k.other_pub, NULL};
	struct sluice_trust *t = policy_of(2, pubs);
	char *ab = in_dir(k.dir, "ab.pack"), *ba = in_dir(k.dir, "ba.pack");
	size_t ab_len, ba_len;

	sign(k.pack, k.priv, ab);
	sign(ab, k.other_priv, ab);
	sign(k.pack, k.other_priv, ba);
	sign(ba, k.priv, ba);
	expect_loads(ab, t);
	expect_loads(ba, t);
	uint8_t *x = read_all(ab, &ab_len), *y = read_all(ba, &ba_len);
	size_t base = ab_len - 2 * SLUICE_PACK_SIG_LEN;
	cr_assert_eq(ab_len, ba_len);
	cr_expect_eq(memcmp(x, y, base), 0, "header and body are the same");
	/* The same two trailers, in the other order: each signs the header
	 * alone, not the trailers before it. */
	cr_expect_eq(memcmp(x + base, y + base + SLUICE_PACK_SIG_LEN, SLUICE_PACK_SIG_LEN), 0);
	cr_expect_eq(memcmp(x + base + SLUICE_PACK_SIG_LEN, y + base, SLUICE_PACK_SIG_LEN), 0);
	free(x);
	free(y);
	unlink(ab);
	unlink(ba);
	free(ab);
	free(ba);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, signing_again_with_the_same_key_changes_nothing)
{
	struct keys k;
	setup(&k);
	char *copy = in_dir(k.dir, "again.pack");
	size_t len, again_len;

	sign(k.signed_pack, k.other_priv, k.signed_pack);
	uint8_t *before = read_all(k.signed_pack, &len);
	struct sluice_sign_result res = sign(k.signed_pack, k.priv, copy);
	cr_expect(res.already_signed);
	cr_expect_eq(res.signatures, 2);
	uint8_t *after = read_all(copy, &again_len);
	cr_assert_eq(again_len, len, "no third trailer");
	cr_expect_eq(memcmp(before, after, len), 0, "byte for byte the same file");
	free(after);

	/* A signature by that key that was damaged is made again in its place. */
	before[len - 2 * SLUICE_PACK_SIG_LEN + 50] ^= 0x01;
	write_all(copy, before, len);
	res = sign(copy, k.priv, copy);
	cr_expect(res.already_signed);
	after = read_all(copy, &again_len);
	before[len - 2 * SLUICE_PACK_SIG_LEN + 50] ^= 0x01;
	cr_expect_eq(memcmp(before, after, len), 0);
	free(after);
	free(before);
	unlink(copy);
	free(copy);
	teardown(&k);
}

Test(sign, unknown_signers_are_not_counted_and_are_named)
{
	struct keys k;
	setup(&k);
	const char *pubs[] = {k.pub, k.third_pub, NULL};
	struct sluice_trust *one = policy_of(1, pubs), *two = policy_of(2, pubs);
	struct sluice_verify_report rep;
	char *id = key_id(k.pub), *other = key_id(k.other_pub), *want, err[2048] = "";
	char *foreign = in_dir(k.dir, "foreign.pack");

	/* Trusted + unknown: enough for one, and the stranger is harmless. */
	sign(k.signed_pack, k.other_priv, k.signed_pack);
	expect_loads(k.signed_pack, one);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, one, &rep, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rep.sigs[1].key, SLUICE_SIG_UNKNOWN);
	cr_expect_eq(rep.sigs[1].check, SLUICE_SIG_UNCHECKED);
	cr_expect_eq(rep.valid_trusted, 1);
	/* ... but it does not make up a second approval. */
	cr_assert_neq(asprintf(&want,
			       "%s: 1 of the 2 required signatures by trusted keys (signed by "
			       "trusted key %s; not counted: unknown key %s); have another",
			       k.signed_pack, id, other),
		      -1);
	expect_refused_saying(k.signed_pack, two, want);
	free(want);

	/* Unknown keys alone. */
	sign(k.pack, k.other_priv, foreign);
	cr_assert_neq(asprintf(&want,
			       "%s: 0 of the 2 required signatures by trusted keys (signed by no "
			       "trusted key; not counted: unknown key %s); have another",
			       foreign, other),
		      -1);
	expect_refused_saying(foreign, two, want);
	free(want);
	cr_assert_neq(asprintf(&want,
			       "%s: signed by unknown key %s; add that key's public key to the "
			       "trusted keys, or sign the pack with a trusted key",
			       foreign, other),
		      -1);
	expect_refused(foreign, one, want);
	free(want);

	/* An unknown key's signature is not checked: damage to it does not
	 * decide anything (nothing of it is trusted), and verify says so. */
	size_t len;
	uint8_t *img = read_all(k.signed_pack, &len);
	img[len - 1] ^= 0x01;
	write_all(foreign, img, len);
	expect_loads(foreign, one);
	free(img);

	unlink(foreign);
	free(foreign);
	free(id);
	free(other);
	sluice_trust_free(one);
	sluice_trust_free(two);
	teardown(&k);
}

Test(sign, a_tampered_signature_among_valid_ones_is_refused)
{
	struct keys k;
	setup(&k);
	const char *pubs[] = {k.pub, k.other_pub, k.third_pub, NULL};
	struct sluice_trust *t = policy_of(2, pubs);
	struct sluice_verify_report rep;
	char *other = key_id(k.other_pub), *path = in_dir(k.dir, "tampered.pack"), *want;
	char err[2048] = "";
	size_t len;

	sign(k.signed_pack, k.other_priv, k.signed_pack);
	sign(k.signed_pack, k.third_priv, k.signed_pack);
	expect_loads(k.signed_pack, t);
	uint8_t *img = read_all(k.signed_pack, &len);
	/* The second signer's signature: two others still verify, which would
	 * meet the policy; the file was altered all the same. */
	img[len - 2 * SLUICE_PACK_SIG_LEN + 40 + 7] ^= 0x80;
	write_all(path, img, len);
	cr_assert_neq(asprintf(&want,
			       "%s: bad signature: the signature by key %s does not verify; the "
			       "pack was altered after signing",
			       path, other),
		      -1);
	expect_refused(path, t, want);
	cr_expect_eq(sluice_pack_verify(path, t, &rep, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
	cr_expect_eq(rep.count, 3);
	cr_expect_eq(rep.sigs[0].check, SLUICE_SIG_VALID);
	cr_expect_eq(rep.sigs[1].check, SLUICE_SIG_INVALID);
	cr_expect_eq(rep.sigs[2].check, SLUICE_SIG_VALID);
	cr_expect_eq(rep.valid_trusted, 2);
	unlink(path);
	free(path);
	free(want);
	free(img);
	free(other);
	sluice_trust_free(t);
	teardown(&k);
}

/* Writes img[0..len) followed by extra[0..extra_len) to path. */
static void write_with(const char *path, const uint8_t *img, size_t len, const uint8_t *extra,
		       size_t extra_len)
{
	uint8_t *buf = malloc(len + extra_len + 1);

	memcpy(buf, img, len);
	if (extra_len)
		memcpy(buf + len, extra, extra_len);
	write_all(path, buf, len + extra_len);
	free(buf);
}

Test(sign, trailers_that_are_not_whole_or_not_trailers_are_refused)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = trust_of(k.pub, true);
	char *path = in_dir(k.dir, "trailers.pack"), *id = key_id(k.pub), want[512];
	size_t plain_len, len;
	uint8_t *plain = read_all(k.pack, &plain_len);
	uint8_t *img = read_all(k.signed_pack, &len);
	const uint8_t *trailer = img + plain_len;
	uint8_t junk[10 * SLUICE_PACK_SIG_LEN];
	unsigned long long body = plain_len - SLUICE_PACK_HEADER_LEN;

	/* Cut short, or a byte appended: not whole trailers. */
	const char *fmt = ": length mismatch: the header says the body is %llu bytes, which leaves "
			  "%d bytes after it, not a whole number of 104-byte signature trailers; "
			  "the pack is truncated or corrupt";
	write_all(path, img, len - 1);
	snprintf(want, sizeof(want), fmt, body, SLUICE_PACK_SIG_LEN - 1);
	expect_refused_saying(path, t, want);
	write_with(path, img, len, (const uint8_t *)"x", 1);
	snprintf(want, sizeof(want), fmt, body, SLUICE_PACK_SIG_LEN + 1);
	expect_refused_saying(path, t, want);

	/* 104 zero bytes after an unsigned pack, and a second trailer without
	 * its magic. */
	memset(junk, 0, sizeof(junk));
	write_with(path, plain, plain_len, junk, SLUICE_PACK_SIG_LEN);
	expect_refused_saying(path, t,
			      ": the 104 bytes of trailer 1 of 1 after the body are not a "
			      "signature trailer (no SLUICESG magic); the pack is corrupt");
	write_with(path, img, len, junk, SLUICE_PACK_SIG_LEN);
	expect_refused_saying(path, t, ": the 104 bytes of trailer 2 of 2 after the body");

	/* One trailer twice. */
	write_with(path, img, len, trailer, SLUICE_PACK_SIG_LEN);
	snprintf(want, sizeof(want),
		 ": signature trailers 1 and 2 are both by key %s; a key signs a pack once, so "
		 "the pack is corrupt",
		 id);
	expect_refused_saying(path, t, want);

	/* Nine trailers by nine key ids: more than a pack may carry. */
	for (int i = 0; i < 9; i++) {
		memcpy(junk + i * SLUICE_PACK_SIG_LEN, trailer, SLUICE_PACK_SIG_LEN);
		junk[i * SLUICE_PACK_SIG_LEN + 8] ^= (uint8_t)(i + 1);
	}
	write_with(path, plain, plain_len, junk, 9 * SLUICE_PACK_SIG_LEN);
	expect_refused_saying(path, t,
			      ": 9 signature trailers after the body, more than the 8 a pack may "
			      "carry; the pack is corrupt");

	/* The plain reader, which judges no signature, holds to the same
	 * layout. */
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[2048] = "";
	cr_expect_eq(sluice_pack_read(path, &pack, err, sizeof(err)), -1);
	cr_expect_null(pack);
	cr_expect_not_null(strstr(err, "more than the 8 a pack may carry"), "%s", err);

	unlink(path);
	free(path);
	free(id);
	free(plain);
	free(img);
	sluice_trust_free(t);
	teardown(&k);
}

Test(sign, at_most_eight_signatures)
{
	struct keys k;
	setup(&k);
	char err[2048] = "", name[32];
	char *keys[8];

	/* setup's key signed once; seven more make eight. */
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "k%d.key", i);
		keys[i] = in_dir(k.dir, name);
		snprintf(name, sizeof(name), "k%d.pub", i);
		char *pub = in_dir(k.dir, name);
		cr_assert_eq(sluice_keygen(keys[i], pub, err, sizeof(err)), 0, "%s", err);
		unlink(pub);
		free(pub);
	}
	for (int i = 0; i < 7; i++)
		cr_expect_eq(sign(k.signed_pack, keys[i], k.signed_pack).signatures, (size_t)i + 2);
	cr_expect_eq(sluice_pack_sign(k.signed_pack, keys[7], k.signed_pack, SLUICE_SIGN_ADD, NULL,
				      err, sizeof(err)),
		     -1);
	char want[1024];
	snprintf(want, sizeof(want),
		 "%s: already carries 8 signatures, the most a pack may hold; sign it with "
		 "--replace to start again",
		 k.signed_pack);
	cr_expect_str_eq(err, want);
	/* A key already there may still sign again (nothing changes). */
	cr_expect(sign(k.signed_pack, keys[3], k.signed_pack).already_signed);
	struct sluice_trust *t = trust_of(k.pub, true);
	expect_loads(k.signed_pack, t);
	sluice_trust_free(t);
	for (int i = 0; i < 8; i++) {
		unlink(keys[i]);
		free(keys[i]);
	}
	teardown(&k);
}

Test(sign, a_revoked_key_is_refused_whatever_else_signed)
{
	struct keys k;
	setup(&k);
	const char *pubs[] = {k.pub, k.third_pub, NULL};
	struct sluice_trust *t = policy_of(1, pubs);
	struct sluice_verify_report rep;
	char *other = key_id(k.other_pub), *want, err[2048] = "", upper[65];

	sign(k.signed_pack, k.third_priv, k.signed_pack);
	sign(k.signed_pack, k.other_priv, k.signed_pack);
	expect_loads(k.signed_pack, t);

	/* By id, in either case: two valid trusted signatures do not help. */
	for (size_t i = 0; i < 65; i++)
		upper[i] = (char)toupper((unsigned char)other[i]);
	cr_assert_eq(sluice_trust_revoke(t, upper, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_trust_revoke(t, other, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sluice_trust_revoked_count(t), 1, "one key revoked twice counts once");
	cr_assert_neq(asprintf(&want,
			       "%s: signed by revoked key %s; a pack a revoked key signed is "
			       "refused whatever other signatures it carries: sign it again "
			       "without that key ('sluice-pack sign --replace', then co-sign)",
			       k.signed_pack, other),
		      -1);
	expect_refused(k.signed_pack, t, want);
	cr_expect_eq(sluice_pack_verify(k.signed_pack, t, &rep, err, sizeof(err)), -1);
	cr_expect_str_eq(err, want);
	cr_expect_eq(rep.sigs[2].key, SLUICE_SIG_REVOKED);
	cr_expect_eq(rep.sigs[2].check, SLUICE_SIG_UNCHECKED);
	cr_expect_eq(rep.valid_trusted, 2);
	sluice_trust_free(t);

	/* By its public or its private key file, and with signatures optional
	 * and no key trusted: revocation still applies, nothing else does. */
	const char *files[] = {k.other_pub, k.other_priv};
	for (int i = 0; i < 2; i++) {
		struct sluice_trust *loose = trust_of(NULL, false);
		cr_assert_eq(sluice_trust_revoke(loose, files[i], err, sizeof(err)), 0, "%s", err);
		expect_refused(k.signed_pack, loose, want);
		expect_loads(k.pack, loose);
		sluice_trust_free(loose);
	}
	struct sluice_trust *loose = trust_of(NULL, false);
	cr_assert_eq(sluice_trust_revoke(loose, other, err, sizeof(err)), 0, "%s", err);
	sign(k.pack, k.third_priv, k.signed_pack);
	expect_loads(k.signed_pack, loose);
	sluice_trust_free(loose);
	free(want);
	free(other);
	teardown(&k);
}

Test(sign, policies_that_no_pack_could_meet_are_refused)
{
	struct keys k;
	setup(&k);
	struct sluice_trust *t = trust_of(k.pub, true);
	char *id = key_id(k.pub), err[2048] = "", want[1024];

	/* The same key from two files is one key. */
	cr_assert_eq(sluice_trust_add_key(t, k.pub, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sluice_trust_set_required(t, 2, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "2 signatures by trusted keys required, but only 1 distinct key is "
			      "trusted: no pack could load");
	cr_expect_eq(sluice_trust_set_required(t, 0, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "0 signatures required: a pack carries 1 to 8 signatures");
	cr_expect_eq(sluice_trust_set_required(t, 9, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "9 signatures required: a pack carries 1 to 8 signatures");
	cr_expect_eq(sluice_trust_required(t), 1, "the refused values changed nothing");

	/* Trusted, then revoked: refused; revoked, then trusted: refused. */
	cr_expect_eq(sluice_trust_revoke(t, id, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "%s: key %s is both trusted and revoked; remove it from the trusted keys", id, id);
	cr_expect_str_eq(err, want);
	cr_expect_eq(sluice_trust_revoke(t, k.priv, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "is both trusted and revoked"), "%s", err);
	struct sluice_trust *r = trust_of(NULL, true);
	cr_assert_eq(sluice_trust_revoke(r, k.pub, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(sluice_trust_add_key(r, k.pub, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "%s: key %s is both trusted and revoked; remove it from the trusted keys", k.pub,
		 id);
	cr_expect_str_eq(err, want);
	cr_expect_eq(sluice_trust_key_count(r), 0);

	/* Neither an id nor a key file. */
	cr_expect_eq(sluice_trust_revoke(r, "abc123", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "revoked key 'abc123' is not a key id (64 hex digits) and cannot "
			      "be read as a key file: abc123: cannot open: No such file or "
			      "directory");
	cr_expect_eq(sluice_trust_revoke(r, k.pack, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "not a PEM public key"), "%s", err);
	sluice_trust_free(r);
	free(id);
	sluice_trust_free(t);
	teardown(&k);
}

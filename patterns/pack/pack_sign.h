/* Pack signatures: who vouches for a pack, and how many must.
 *
 * A signed pack file is header + body + 1 to SLUICE_PACK_MAX_SIGS (8)
 * trailers of 104 bytes, one per signer:
 *
 *   0   8  magic "SLUICESG"
 *   8  32  key id: SHA-256 of the signer's raw 32-byte Ed25519 public key
 *  40  64  Ed25519 signature of the 56-byte header
 *
 * Every signature is of the same header, which holds the SHA-256 of the body,
 * so each covers every byte of the pack and their order does not matter; the
 * trailers themselves are covered by being checked: a file is exactly header
 * + body + whole trailers, each with its magic, no key twice, anything else
 * is refused. A file with one trailer is the format from before co-signing,
 * unchanged.
 *
 * A trust holds the trusted public keys, the revoked key ids and a policy:
 * how many distinct trusted keys must have signed (default 1). A pack meets
 * it when
 * - no signature names a revoked key (valid or not, and whatever the other
 *   signatures: a revoked key's approval is withdrawn, and a revoked key may
 *   be known by its id alone, so its signature cannot always be checked);
 * - every signature by a trusted key verifies (one that does not means the
 *   file was altered);
 * - at least the required number of trusted keys signed. Signatures by keys
 *   neither trusted nor revoked are not counted and not checked (their
 *   public key is not known); they do not stop a pack that has enough
 *   others, and are named when it has not.
 *
 * Contract:
 * - Nothing of a pack's body is parsed before its length and hash have been
 *   checked and, when the trust holds keys or requires signatures, its
 *   signatures judged: hs_deserialize_database() is not safe on crafted
 *   bytes.
 * - Keys are PEM files: private keys PKCS#8 (from sluice_keygen() or
 *   `openssl genpkey -algorithm ed25519`), public keys SubjectPublicKeyInfo.
 *   Only Ed25519 keys are accepted. A revoked key is given by its id (64 hex
 *   digits) or a PEM file of either half.
 * - Every message starts with the file it is about and names key ids in full
 *   hex.
 */
#ifndef SLUICE_PACK_PACK_SIGN_H
#define SLUICE_PACK_PACK_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "pack.h"

struct sluice_trust;

/* A set of trusted public keys, requiring one signature. With
 * require_signed, unsigned packs and YAML rule files are refused by
 * sluice_pack_load_trusted(). NULL when out of memory. */
struct sluice_trust *sluice_trust_new(bool require_signed);

/* Adds a public key (PEM); a key already present is accepted once, a revoked
 * one is refused. */
int sluice_trust_add_key(struct sluice_trust *trust, const char *public_key_pem_path, char *err,
			 size_t err_len);

/* Revokes a key: key is its id (64 hex digits, either case) or the path of a
 * PEM file holding either half of it. A key already revoked is accepted
 * once, a trusted one is refused (a key cannot be both). */
int sluice_trust_revoke(struct sluice_trust *trust, const char *key, char *err, size_t err_len);

/* Sets how many distinct trusted keys must have signed a pack. Refused when
 * n is 0, more than SLUICE_PACK_MAX_SIGS, or more than the keys trusted so
 * far (no pack could load): call it once the keys are added. */
int sluice_trust_set_required(struct sluice_trust *trust, unsigned n, char *err, size_t err_len);

/* Number of distinct keys trusted, of keys revoked, of signatures required. */
size_t sluice_trust_key_count(const struct sluice_trust *trust);
size_t sluice_trust_revoked_count(const struct sluice_trust *trust);
unsigned sluice_trust_required(const struct sluice_trust *trust);

void sluice_trust_free(struct sluice_trust *trust);

enum sluice_sign_mode {
	SLUICE_SIGN_ADD,     /* co-sign: keep the signatures already there */
	SLUICE_SIGN_REPLACE, /* this key's signature alone */
};

struct sluice_sign_result {
	size_t signatures;   /* on the pack written */
	bool already_signed; /* the key had signed it: its signature made again, in place */
};

/* Signs pack_path with the private key and writes the signed pack to out_path
 * (which may be pack_path). SLUICE_SIGN_ADD appends this key's signature to
 * those there; a key that already signed has its signature made again in its
 * place (idempotent: Ed25519 signatures are deterministic, so an intact pack
 * comes out byte for byte the same); a pack with SLUICE_PACK_MAX_SIGS
 * signatures by other keys is refused. The pack's envelope is checked first
 * (length, trailers, hash): a damaged pack is never signed. Signatures by
 * other keys are kept without being checked (their keys are not known here).
 * result may be NULL. */
int sluice_pack_sign(const char *pack_path, const char *private_key_pem_path, const char *out_path,
		     enum sluice_sign_mode mode, struct sluice_sign_result *result, char *err,
		     size_t err_len);

/* What a trust makes of one signature. */
enum sluice_sig_key { SLUICE_SIG_UNKNOWN, SLUICE_SIG_TRUSTED, SLUICE_SIG_REVOKED };
enum sluice_sig_check {
	SLUICE_SIG_UNCHECKED, /* the key is not trusted: its public half is not known */
	SLUICE_SIG_VALID,
	SLUICE_SIG_INVALID,
};

struct sluice_sig_status {
	char key_id[65];
	enum sluice_sig_key key;
	enum sluice_sig_check check;
};

struct sluice_verify_report {
	size_t count; /* signatures on the pack, in file order */
	struct sluice_sig_status sigs[SLUICE_PACK_MAX_SIGS];
	size_t valid_trusted; /* distinct trusted keys whose signature verifies */
	unsigned required;
};

/* 0 when pack_path is intact, signed, and meets trust's policy (above).
 * report (may be NULL) gets every signature whenever the envelope is intact,
 * even when the policy is not met; count 0 for an unsigned pack. */
int sluice_pack_verify(const char *pack_path, const struct sluice_trust *trust,
		       struct sluice_verify_report *report, char *err, size_t err_len);

/* "trusted", "unknown", "revoked"; "valid", "invalid", "unchecked". */
const char *sluice_sig_key_name(enum sluice_sig_key key);
const char *sluice_sig_check_name(enum sluice_sig_check check);

/* Reads a pack file for a daemon that trusts only some signers: length,
 * trailers and hash, then the signatures, are checked before any byte is
 * parsed, and limits (NULL: none) before each costly step (pack.h). An
 * unsigned pack is refused when signatures are required. When the trust
 * holds keys or requires signatures, a signed pack must meet its policy
 * (above), even when signatures are not required: a signature that does not
 * verify means the file was altered. With no keys and signatures optional,
 * only revocation applies. trust may be NULL (no signature checks). Rule
 * files are language/pack_source.h's. */
int sluice_pack_read_trusted(const char *path, const struct sluice_trust *trust,
			     const struct sluice_load_limits *limits, struct sluice_pack **out,
			     char *err, size_t err_len);

/* Whether trust refuses unsigned packs (and so rule files). */
bool sluice_trust_requires_signed(const struct sluice_trust *trust);

/* Makes a new Ed25519 key pair: private key PEM to private_out (mode 0600),
 * public key PEM to public_out (0644). Existing files are replaced. */
int sluice_keygen(const char *private_out, const char *public_out, char *err, size_t err_len);

/* The key id (hex SHA-256 of the raw public key) of a PEM public or private
 * key file. */
int sluice_key_id(const char *pem_path, char key_id_hex[65], char *err, size_t err_len);

#endif

/* Pack signatures: who vouches for a pack.
 *
 * A signed pack file is header + body + a 104-byte trailer:
 *
 *   0   8  magic "SLUICESG"
 *   8  32  key id: SHA-256 of the signer's raw 32-byte Ed25519 public key
 *  40  64  Ed25519 signature of the 56-byte header
 *
 * The header holds the SHA-256 of the body, so signing the header covers every
 * byte of the pack; the trailer itself is covered by being checked: a file is
 * exactly header + body or header + body + trailer, anything else is refused.
 *
 * Contract:
 * - Nothing of a pack's body is parsed before its length and hash have been
 *   checked and, when the trust requires or holds keys, its signature has
 *   been verified: hs_deserialize_database() is not safe on crafted bytes.
 * - Keys are PEM files: private keys PKCS#8 (from sluice_keygen() or
 *   `openssl genpkey -algorithm ed25519`), public keys SubjectPublicKeyInfo.
 *   Only Ed25519 keys are accepted.
 * - Every message starts with the file it is about and names key ids in hex.
 */
#ifndef SLUICE_PACK_PACK_SIGN_H
#define SLUICE_PACK_PACK_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "pack.h"

struct sluice_trust;

/* A set of trusted public keys. With require_signed, unsigned packs and YAML
 * rule files are refused by sluice_pack_load_trusted(). NULL when out of
 * memory. */
struct sluice_trust *sluice_trust_new(bool require_signed);

/* Adds a public key (PEM); a key already present is accepted once. */
int sluice_trust_add_key(struct sluice_trust *trust, const char *public_key_pem_path, char *err,
			 size_t err_len);

/* Number of keys added. */
size_t sluice_trust_key_count(const struct sluice_trust *trust);

void sluice_trust_free(struct sluice_trust *trust);

/* Signs pack_path with the private key and writes the signed pack to out_path
 * (which may be pack_path); a signature already there is replaced. The pack's
 * length and hash are checked first: a damaged pack is never signed. */
int sluice_pack_sign(const char *pack_path, const char *private_key_pem_path, const char *out_path,
		     char *err, size_t err_len);

/* 0 when pack_path is intact and signed by a key of trust. key_id_hex (if not
 * NULL) gets the signer's key id whenever the pack is signed, trusted or not,
 * and "" when it is not signed. */
int sluice_pack_verify(const char *pack_path, const struct sluice_trust *trust, char key_id_hex[65],
		       char *err, size_t err_len);

/* Reads a pack file for a daemon that trusts only some signers: length,
 * header and hash, then (when trust has keys or requires signatures) the
 * signature, are checked before any byte is parsed, and limits (NULL: none)
 * before each costly step (pack.h). An unsigned pack is refused when
 * signatures are required; a pack signed by an unknown key, or with a bad
 * signature, is refused naming the key id (even when signatures are not
 * required: a signature that does not verify means the file was altered).
 * trust may be NULL (no signature checks). Rule files are
 * language/pack_source.h's. */
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

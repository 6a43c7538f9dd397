/* Pack file format version 4 (docs/pack-format.md has the table); version 3,
 * the same without views (its databases are on the folded text when it has a
 * folding table), and version 2, without the folding table, are still read.
 *
 * Header (56 bytes, see pack.h): magic, format version, reserved, body length,
 * SHA-256 of the body. Then the body, then optionally the 104-byte signature
 * trailer (pack_sign.h), which this file only recognises.
 *
 * Body, all integers little-endian, every string a u32 byte length followed
 * by that many bytes (no terminator, no NUL inside):
 *
 *   str  name
 *   str  version
 *   str  Hyperscan version (hs_version() of the writer)
 *   u32  platform tune          (hs_populate_platform() of the writer)
 *   u64  platform cpu_features
 *   u32  rule count N
 *   N times:
 *     str  id
 *     str  category
 *     u8   action (0 for allow rules, else 1 flag, 2 mask, 3 block)
 *     u8   kind (0 pattern, 1 literal, 2 list, 3 combination)
 *     u8   severity (1 low .. 4 critical)
 *     u8   bits: 0 quiet, 1 allow, 2 raw (normalize: false; version 4),
 *          3 homophones, 6 digit_words, 7 separators (opt-ins, version 4; the
 *          rule's patterns are widened already), 4-5 whole_word edges checked
 *          by the match path
 *     u32  flags (bit 0 caseless, 1 dotall, 2 multiline, 3 whole_word)
 *     i64  expires_at (Unix seconds, 0: never)
 *     i64  starts_at (Unix seconds, 0: always; version 5)
 *     u32  literal count
 *     u32  combination program offset, u32 length (0 for other kinds)
 *     str  description
 *     str  pattern (the body as written)
 *   str  owner
 *   str  description
 *   u32  program length L; L times: u8 opcode, u32 argument
 *   u64  folding table length F (version 3; 0: none), then F bytes
 *        (fold_table.c: sluice_fold_table_serialize())
 *   u32  database count D (1..10)
 *   D times:
 *     u8   kind (1 literal, 2 regex, 3 logic: no longer written, 4 anchored, 5 regex-ends,
 *          6 span: a reader without it refuses the pack, naming the kind)
 *     u8   view (version 4: 0 raw, 1 folded; each (kind, view) at most once)
 *     u32  expressions compiled into it
 *     u32  id count M; M times: u32 rule, u32 length (see pack.h)
 *     u64  database length B
 *     B    hs_serialize_database() bytes
 *   (the last database ends exactly at the end of the body)
 */
#include "pack.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "file_read.h"
#include "message.h"

#include "pack_internal.h"

/* A pack is read whole into memory before it is verified; bound that. */
#define PACK_MAX_BYTES (2ull << 30)
/* No legitimate string field comes near this; a larger length means a
 * corrupt body even if the hash somehow matched. */
#define PACK_MAX_STRING (1u << 20)
/* Smallest encoding of one rule: three empty strings, action and flags. */
#define PACK_MIN_RULE_BYTES (4 * 4 + 4 + 4 + 8 + 4 + 8)

void sluice_to_hex(const uint8_t *bytes, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	hex[2 * n] = '\0';
}

int sluice_sha256(const uint8_t *data, size_t len, uint8_t digest[32])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, digest, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return -1;
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* ---- writing ---- */

struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	bool failed;
};

static uint8_t *wbuf_grow(struct wbuf *b, size_t n)
{
	if (b->failed)
		return NULL;
	if (n > SIZE_MAX - b->len) {
		b->failed = true;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	uint8_t *at = b->p + b->len;
	b->len += n;
	return at;
}

static void put_u8(struct wbuf *b, uint8_t v)
{
	uint8_t *p = wbuf_grow(b, 1);
	if (p)
		*p = v;
}

static void put_u32(struct wbuf *b, uint32_t v)
{
	uint8_t *p = wbuf_grow(b, 4);
	if (p)
		put_le32(p, v);
}

static void put_u64(struct wbuf *b, uint64_t v)
{
	uint8_t *p = wbuf_grow(b, 8);
	if (p)
		put_le64(p, v);
}

static void put_bytes(struct wbuf *b, const void *data, size_t n)
{
	uint8_t *p = wbuf_grow(b, n);
	if (p && n)
		memcpy(p, data, n);
}

static void put_str(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (n > PACK_MAX_STRING) {
		b->failed = true;
		return;
	}
	put_u32(b, (uint32_t)n);
	put_bytes(b, s, n);
}

static void put_i64(struct wbuf *b, int64_t v)
{
	put_u64(b, (uint64_t)v);
}

static int serialize(const struct sluice_pack *pack, const char *who, uint8_t **image,
		     size_t *image_len, char hex[65], char *err, size_t err_len)
{
	struct wbuf b = {0};
	hs_platform_info_t plat;
	uint8_t digest[32];

	*image = NULL;
	*image_len = 0;
	if (pack->db_count == 0 || pack->db_count > 4) {
		sluice_set_err(err, err_len, "%s: pack has no database", who);
		return -1;
	}
	if (pack->rule_count == 0 || pack->rule_count > UINT32_MAX ||
	    pack->logic_len > UINT32_MAX) {
		sluice_set_err(err, err_len, "%s: too many rules for the pack format", who);
		return -1;
	}
	if (hs_populate_platform(&plat) != HS_SUCCESS) {
		sluice_set_err(err, err_len, "%s: Hyperscan cannot describe this platform", who);
		return -1;
	}

	wbuf_grow(&b, SLUICE_PACK_HEADER_LEN);
	put_str(&b, pack->name);
	put_str(&b, pack->version);
	put_str(&b, hs_version());
	put_u32(&b, plat.tune);
	put_u64(&b, plat.cpu_features);
	put_u32(&b, (uint32_t)pack->rule_count);
	for (size_t i = 0; i < pack->rule_count; i++) {
		const struct sluice_pack_rule *r = &pack->rules[i];
		put_str(&b, r->id);
		put_str(&b, r->category);
		put_u8(&b, (uint8_t)r->action);
		put_u8(&b, (uint8_t)r->kind);
		put_u8(&b, (uint8_t)r->severity);
		put_u8(&b, (uint8_t)((r->quiet ? 1 : 0) | (r->allow ? 2 : 0) | (r->raw ? 4 : 0) |
				     ((r->optin & 1) << 3) | ((r->edge_check & 3) << 4) |
				     ((r->optin & 6) << 5)));
		put_u32(&b, r->flags);
		put_i64(&b, r->expires_at);
		put_i64(&b, r->starts_at);
		put_u32(&b, r->literal_count);
		put_u32(&b, r->logic_off);
		put_u32(&b, r->logic_len);
		put_str(&b, r->description ? r->description : "");
		put_str(&b, r->pattern);
	}
	put_str(&b, pack->owner ? pack->owner : "");
	put_str(&b, pack->description ? pack->description : "");
	put_u32(&b, (uint32_t)pack->logic_len);
	for (size_t i = 0; i < pack->logic_len; i++) {
		put_u8(&b, (uint8_t)pack->logic[i].op);
		put_u32(&b, pack->logic[i].arg);
	}
	if (pack->fold == NULL) {
		put_u64(&b, 0);
	} else {
		uint8_t *fold;
		size_t fold_len;
		if (sluice_fold_table_serialize(pack->fold, &fold, &fold_len) != 0) {
			sluice_set_err(err, err_len, "%s: out of memory", who);
			free(b.p);
			return -1;
		}
		put_u64(&b, fold_len);
		put_bytes(&b, fold, fold_len);
		free(fold);
	}
	put_u32(&b, (uint32_t)pack->db_count);
	for (size_t d = 0; d < pack->db_count && !b.failed; d++) {
		const struct sluice_pack_db *db = &pack->dbs[d];
		char *bytes = NULL;
		size_t len = 0;

		if (hs_serialize_database(db->db, &bytes, &len) != HS_SUCCESS) {
			sluice_set_err(err, err_len,
				       "%s: Hyperscan could not serialize the %s database", who,
				       sluice_db_kind_name(db->kind));
			free(b.p);
			return -1;
		}
		put_u8(&b, (uint8_t)db->kind);
		put_u8(&b, (uint8_t)db->view);
		put_u32(&b, db->patterns);
		put_u32(&b, db->id_count);
		for (uint32_t k = 0; k < db->id_count; k++) {
			put_u32(&b, db->map[k].rule);
			put_u32(&b, db->map[k].len);
		}
		put_u64(&b, len);
		put_bytes(&b, bytes, len);
		/* hs_serialize_database() allocates with Hyperscan's misc
		 * allocator, which is malloc unless someone installs another. */
		free(bytes);
	}

	if (b.failed) {
		sluice_set_err(err, err_len,
			       "%s: out of memory (or a field too long) building the pack", who);
		free(b.p);
		return -1;
	}

	size_t body_len = b.len - SLUICE_PACK_HEADER_LEN;
	if (sluice_sha256(b.p + SLUICE_PACK_HEADER_LEN, body_len, digest) != 0) {
		sluice_set_err(err, err_len, "%s: SHA-256 failed", who);
		free(b.p);
		return -1;
	}
	memcpy(b.p, SLUICE_PACK_MAGIC, 8);
	put_le32(b.p + 8, SLUICE_PACK_FORMAT_VERSION);
	put_le32(b.p + 12, 0);
	put_le64(b.p + 16, body_len);
	memcpy(b.p + 24, digest, 32);
	if (hex)
		sluice_to_hex(digest, 32, hex);
	*image = b.p;
	*image_len = b.len;
	return 0;
}

int sluice_pack_serialize(const struct sluice_pack *pack, uint8_t **image, size_t *image_len,
			  char hex[65], char *err, size_t err_len)
{
	return serialize(pack, pack->source ? pack->source : "(pack)", image, image_len, hex, err,
			 err_len);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int sluice_pack_write(const struct sluice_pack *pack, const char *path, char *err, size_t err_len)
{
	uint8_t *image;
	size_t len;
	char *tmp;
	int fd;

	if (serialize(pack, path, &image, &len, NULL, err, err_len) != 0)
		return -1;

	/* Written aside and renamed, so a control plane watching the path never
	 * reads half a pack. */
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		sluice_set_err(err, err_len, "%s: out of memory", path);
		free(image);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		sluice_set_err(err, err_len, "%s: cannot create %s: %s", path, tmp,
			       strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0644) != 0 || write_all(fd, image, len) != 0 || fsync(fd) != 0) {
		sluice_set_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		goto fail;
	}
	if (close(fd) != 0) {
		sluice_set_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		sluice_set_err(err, err_len, "%s: cannot rename %s into place: %s", path, tmp,
			       strerror(errno));
		unlink(tmp);
		goto fail;
	}
	free(tmp);
	free(image);
	return 0;
fail:
	free(tmp);
	free(image);
	return -1;
}

/* ---- reading ---- */

struct rbuf {
	const uint8_t *p;
	size_t left;
	const char *path;
	char *err;
	size_t err_len;
	size_t max_db_bytes; /* 0: no limit */
	uint32_t format;     /* the file's format version */
};

static int short_body(struct rbuf *r, const char *field)
{
	sluice_set_err(r->err, r->err_len,
		       "%s: malformed pack body: %s runs past the end of the body", r->path, field);
	return -1;
}

static int get_u8(struct rbuf *r, const char *field, uint8_t *v)
{
	if (r->left < 1)
		return short_body(r, field);
	*v = r->p[0];
	r->p += 1;
	r->left -= 1;
	return 0;
}

static int get_u32(struct rbuf *r, const char *field, uint32_t *v)
{
	if (r->left < 4)
		return short_body(r, field);
	*v = get_le32(r->p);
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int get_u64(struct rbuf *r, const char *field, uint64_t *v)
{
	if (r->left < 8)
		return short_body(r, field);
	*v = get_le64(r->p);
	r->p += 8;
	r->left -= 8;
	return 0;
}

static int get_str(struct rbuf *r, const char *field, bool allow_empty, char **out)
{
	uint32_t n;

	*out = NULL;
	if (get_u32(r, field, &n) != 0)
		return -1;
	if (n > r->left)
		return short_body(r, field);
	if (n > PACK_MAX_STRING || (!allow_empty && n == 0) || memchr(r->p, '\0', n)) {
		sluice_set_err(r->err, r->err_len,
			       "%s: malformed pack body: %s is not a valid string", r->path, field);
		return -1;
	}
	*out = strndup((const char *)r->p, n);
	if (!*out) {
		sluice_set_err(r->err, r->err_len, "%s: out of memory", r->path);
		return -1;
	}
	r->p += n;
	r->left -= n;
	return 0;
}

static const char *hs_error_name(hs_error_t e)
{
	switch (e) {
	case HS_INVALID:
		return "invalid database";
	case HS_NOMEM:
		return "out of memory";
	case HS_DB_VERSION_ERROR:
		return "database built by another Hyperscan version";
	case HS_DB_PLATFORM_ERROR:
		return "database needs CPU features this machine lacks";
	case HS_DB_MODE_ERROR:
		return "database is not a block-mode database";
	case HS_BAD_ALIGN:
		return "misaligned database";
	case HS_BAD_ALLOC:
		return "allocator returned misaligned memory";
	default:
		return "unexpected error";
	}
}

int sluice_read_file(const char *path, const struct sluice_load_limits *limits, uint8_t **out,
		     size_t *out_len, char *err, size_t err_len)
{
	char why[256];
	char *buf;
	uint64_t limit = PACK_MAX_BYTES;
	const char *what = "pack";
	if (limits != NULL && limits->max_bytes != 0 && limits->max_bytes < limit) {
		limit = limits->max_bytes;
		what = "pack within the memory cap's free room";
	}
	if (sluice_file_read_all(path, limit, what, &buf, out_len, why, sizeof(why)) != 0) {
		sluice_set_err(err, err_len, "%s: %s", path, why);
		return -1;
	}
	*out = (uint8_t *)buf;
	return 0;
}

/* The trailers after the body: each starts with the magic, and no key signs
 * twice (sluice-pack sign never writes that, so such a file was put
 * together by hand or damaged). */
static int check_trailers(const char *path, const uint8_t *first, size_t count, char *err,
			  size_t err_len)
{
	for (size_t i = 0; i < count; i++) {
		const uint8_t *t = first + i * SLUICE_PACK_SIG_LEN;
		if (memcmp(t, SLUICE_PACK_SIG_MAGIC, 8) != 0) {
			sluice_set_err(err, err_len,
				       "%s: the %d bytes of trailer %zu of %zu after the body are "
				       "not a signature trailer (no %s magic); the pack is corrupt",
				       path, SLUICE_PACK_SIG_LEN, i + 1, count,
				       SLUICE_PACK_SIG_MAGIC);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (memcmp(first + j * SLUICE_PACK_SIG_LEN + 8, t + 8, 32) == 0) {
				char hex[65];
				sluice_to_hex(t + 8, 32, hex);
				sluice_set_err(
				    err, err_len,
				    "%s: signature trailers %zu and %zu are both by key "
				    "%s; a key signs a pack once, so the pack is corrupt",
				    path, j + 1, i + 1, hex);
				return -1;
			}
		}
	}
	return 0;
}

int sluice_pack_check_envelope(const char *path, const uint8_t *buf, size_t len, size_t *sig_count,
			       char *err, size_t err_len)
{
	uint8_t digest[32];
	char want[65], got[65];

	if (sig_count)
		*sig_count = 0;
	if (len < SLUICE_PACK_HEADER_LEN) {
		sluice_set_err(err, err_len,
			       "%s: truncated pack: %zu bytes, shorter than the %d-byte header",
			       path, len, SLUICE_PACK_HEADER_LEN);
		return -1;
	}
	if (memcmp(buf, SLUICE_PACK_MAGIC, 8) != 0) {
		sluice_set_err(err, err_len,
			       "%s: not a Sluice pack (the file does not start with %s)", path,
			       SLUICE_PACK_MAGIC);
		return -1;
	}
	uint32_t format = get_le32(buf + 8);
	if (format == 1) {
		sluice_set_err(
		    err, err_len,
		    "%s: pack format version 1 is not supported; this build reads versions %d "
		    "to %d (several databases, the full rule language): compile the rules "
		    "again with this version of sluice-pack",
		    path, SLUICE_PACK_FORMAT_OLDEST, SLUICE_PACK_FORMAT_VERSION);
		return -1;
	}
	if (format < SLUICE_PACK_FORMAT_OLDEST || format > SLUICE_PACK_FORMAT_VERSION) {
		sluice_set_err(err, err_len,
			       "%s: pack format version %u is not supported; this build reads "
			       "versions %d to %d",
			       path, format, SLUICE_PACK_FORMAT_OLDEST, SLUICE_PACK_FORMAT_VERSION);
		return -1;
	}
	if (get_le32(buf + 12) != 0) {
		sluice_set_err(err, err_len, "%s: corrupt pack header: reserved field is not zero",
			       path);
		return -1;
	}
	uint64_t body_len = get_le64(buf + 16);
	size_t after = len - SLUICE_PACK_HEADER_LEN;
	/* A file is exactly header + body + whole signature trailers: anything
	 * else means it was cut short or something was appended. */
	if (body_len > after) {
		sluice_set_err(
		    err, err_len,
		    "%s: length mismatch: the header says the body is %llu bytes but the file "
		    "has %zu after the header; the pack is truncated or corrupt",
		    path, (unsigned long long)body_len, after);
		return -1;
	}
	size_t extra = after - (size_t)body_len;
	if (extra % SLUICE_PACK_SIG_LEN != 0) {
		sluice_set_err(err, err_len,
			       "%s: length mismatch: the header says the body is %llu bytes, "
			       "which leaves %zu bytes after it, not a whole number of %d-byte "
			       "signature trailers; the pack is truncated or corrupt",
			       path, (unsigned long long)body_len, extra, SLUICE_PACK_SIG_LEN);
		return -1;
	}
	size_t sigs = extra / SLUICE_PACK_SIG_LEN;
	if (sigs > SLUICE_PACK_MAX_SIGS) {
		sluice_set_err(err, err_len,
			       "%s: %zu signature trailers after the body, more than the %d a "
			       "pack may carry; the pack is corrupt",
			       path, sigs, SLUICE_PACK_MAX_SIGS);
		return -1;
	}
	if (check_trailers(path, buf + len - extra, sigs, err, err_len) != 0)
		return -1;
	if (sluice_sha256(buf + SLUICE_PACK_HEADER_LEN, (size_t)body_len, digest) != 0) {
		sluice_set_err(err, err_len, "%s: SHA-256 failed", path);
		return -1;
	}
	if (memcmp(digest, buf + 24, 32) != 0) {
		sluice_to_hex(digest, 32, got);
		sluice_to_hex(buf + 24, 32, want);
		sluice_set_err(
		    err, err_len,
		    "%s: SHA-256 mismatch: the body hashes to %s but the header says %s; the "
		    "pack is corrupt or was altered",
		    path, got, want);
		return -1;
	}
	if (sig_count)
		*sig_count = sigs;
	return 0;
}

static int bad_body(struct rbuf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad_body(struct rbuf *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sluice_set_err(r->err, r->err_len, "%s: malformed pack body: %s", r->path, msg);
	return -1;
}

static int parse_rules(struct rbuf *r, struct sluice_pack *pack)
{
	uint32_t count;

	if (get_u32(r, "rule count", &count) != 0)
		return -1;
	if (count == 0 || count > r->left / PACK_MIN_RULE_BYTES)
		return bad_body(r, "rule count %u does not fit", count);
	pack->rules = calloc(count, sizeof(*pack->rules));
	if (!pack->rules) {
		sluice_set_err(r->err, r->err_len, "%s: out of memory", r->path);
		return -1;
	}
	pack->rule_count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct sluice_pack_rule *rule = &pack->rules[i];
		uint8_t action, kind, severity, bits;
		uint32_t flags, lits;
		uint64_t expires, starts = 0;

		if (get_str(r, "rule id", false, &rule->id) != 0 ||
		    get_str(r, "rule category", false, &rule->category) != 0 ||
		    get_u8(r, "rule action", &action) != 0 || get_u8(r, "rule kind", &kind) != 0 ||
		    get_u8(r, "rule severity", &severity) != 0 ||
		    get_u8(r, "rule bits", &bits) != 0 || get_u32(r, "rule flags", &flags) != 0 ||
		    get_u64(r, "rule expiry", &expires) != 0 ||
		    (r->format >= 5 && get_u64(r, "rule start", &starts) != 0) ||
		    get_u32(r, "rule literal count", &lits) != 0 ||
		    get_u32(r, "rule program offset", &rule->logic_off) != 0 ||
		    get_u32(r, "rule program length", &rule->logic_len) != 0 ||
		    get_str(r, "rule description", true, &rule->description) != 0 ||
		    get_str(r, "rule pattern", false, &rule->pattern) != 0)
			return -1;
		bool allow = bits & 2;
		if ((allow ? action != SLUICE_ACTION_NONE
			   : (action < SLUICE_ACTION_FLAG || action >= SLUICE_ACTION_COUNT)) ||
		    kind > SLUICE_RULE_COMBINATION || severity < SLUICE_SEVERITY_LOW ||
		    severity > SLUICE_SEVERITY_CRITICAL ||
		    (bits & ~(r->format >= 4 ? 0xffu : 0x33u)) || (flags & ~SLUICE_RULE_FLAG_MASK))
			return bad_body(r,
					"rule %s has action %u, kind %u, severity %u, bits %u, "
					"flags %u",
					rule->id, action, kind, severity, bits, flags);
		if ((kind == SLUICE_RULE_COMBINATION) != (rule->logic_len != 0) ||
		    ((kind == SLUICE_RULE_LITERAL || kind == SLUICE_RULE_LIST) != (lits != 0)))
			return bad_body(r, "rule %s: its kind does not fit its contents", rule->id);
		rule->action = (enum sluice_action)action;
		rule->kind = (enum sluice_rule_kind)kind;
		rule->severity = (enum sluice_severity)severity;
		rule->quiet = bits & 1;
		rule->allow = allow;
		rule->raw = bits & 4;
		rule->optin = (uint8_t)(((bits >> 3) & 1) | ((bits >> 5) & 6));
		rule->edge_check = (uint8_t)((bits >> 4) & 3);
		rule->flags = flags;
		rule->caseless = (flags & SLUICE_RULE_CASELESS) != 0;
		rule->expires_at = (int64_t)expires;
		rule->starts_at = (int64_t)starts;
		rule->literal_count = lits;
	}
	return 0;
}

/* Combination programs: every one well formed, over non-combination rules,
 * within the program array. What the match path relies on. */
static int parse_logic(struct rbuf *r, struct sluice_pack *pack)
{
	uint32_t n, combos = 0;

	if (get_u32(r, "program length", &n) != 0)
		return -1;
	if (n > r->left / 5)
		return bad_body(r, "program length %u does not fit", n);
	pack->logic = calloc(n ? n : 1, sizeof(*pack->logic));
	pack->combinations = calloc(pack->rule_count, sizeof(*pack->combinations));
	if (!pack->logic || !pack->combinations) {
		sluice_set_err(r->err, r->err_len, "%s: out of memory", r->path);
		return -1;
	}
	pack->logic_len = n;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t op;
		if (get_u8(r, "program", &op) != 0 ||
		    get_u32(r, "program", &pack->logic[i].arg) != 0)
			return -1;
		pack->logic[i].op = op;
	}
	for (size_t i = 0; i < pack->rule_count; i++) {
		struct sluice_pack_rule *rule = &pack->rules[i];
		if (rule->kind != SLUICE_RULE_COMBINATION)
			continue;
		if (rule->logic_off > n || rule->logic_len > n - rule->logic_off ||
		    !sluice_logic_check(pack->logic + rule->logic_off, rule->logic_len,
					pack->rule_count))
			return bad_body(r, "rule %s has an invalid combination program", rule->id);
		for (uint32_t k = 0; k < rule->logic_len; k++) {
			const struct sluice_logic_op *op = &pack->logic[rule->logic_off + k];
			if (op->op != SLUICE_LOGIC_RULE)
				continue;
			if (pack->rules[op->arg].kind == SLUICE_RULE_COMBINATION ||
			    pack->rules[op->arg].allow)
				return bad_body(r, "rule %s has an invalid operand", rule->id);
			pack->rules[op->arg].operand = true;
		}
		pack->combinations[combos++] = (uint32_t)i;
	}
	pack->combination_count = combos;
	return 0;
}

static int parse_fold(struct rbuf *r, struct sluice_pack *pack)
{
	uint64_t len;
	if (get_u64(r, "folding table length", &len) != 0)
		return -1;
	if (len == 0)
		return 0;
	if (len > r->left)
		return short_body(r, "folding table");
	char why[160];
	pack->fold = calloc(1, sizeof(*pack->fold));
	if (pack->fold == NULL) {
		sluice_set_err(r->err, r->err_len, "%s: out of memory", r->path);
		return -1;
	}
	if (sluice_fold_table_parse(pack->fold, r->p, (size_t)len, why, sizeof(why)) != 0) {
		free(pack->fold);
		pack->fold = NULL;
		return bad_body(r, "%s", why);
	}
	r->p += len;
	r->left -= len;
	return 0;
}

/* Every regex whose start is found afterwards names a pair of its view's
 * span database that stands for the same rule (match.c relies on it). */
static int check_span_pairs(struct rbuf *r, struct sluice_pack *pack)
{
	sluice_pack_link_spans(pack);
	for (size_t d = 0; d < pack->db_count; d++) {
		const struct sluice_pack_db *db = &pack->dbs[d];
		const struct sluice_pack_db *span =
		    db->span_index == SLUICE_NO_SPAN ? NULL : &pack->dbs[db->span_index];
		for (uint32_t k = 0; k < db->id_count; k++) {
			const struct sluice_pack_pattern *p = &db->map[k];
			if (!sluice_pat_span_later(p->len))
				continue;
			uint64_t pair = p->len - SLUICE_PAT_SPAN_LATER;
			if (span == NULL || 2 * pair + 1 >= span->id_count ||
			    span->map[2 * pair].rule != p->rule ||
			    span->map[2 * pair + 1].rule != p->rule)
				return bad_body(r,
						"the %s database's id %u finds its start with a "
						"span pattern that is not there",
						sluice_db_kind_name(db->kind), k);
		}
	}
	return 0;
}

static int parse_databases(struct rbuf *r, struct sluice_pack *pack)
{
	uint32_t count;
	bool seen[SLUICE_VIEW_COUNT][SLUICE_DB_KIND_MAX + 1] = {{false}};

	if (get_u32(r, "database count", &count) != 0)
		return -1;
	if (count == 0 || count > 5 * (r->format >= 4 ? SLUICE_VIEW_COUNT : 1))
		return bad_body(r, "database count %u", count);
	pack->dbs = calloc(count, sizeof(*pack->dbs));
	if (!pack->dbs) {
		sluice_set_err(r->err, r->err_len, "%s: out of memory", r->path);
		return -1;
	}
	for (uint32_t d = 0; d < count; d++) {
		struct sluice_pack_db *db = &pack->dbs[d];
		uint8_t kind, view;
		uint32_t ids;
		uint64_t db_len;
		hs_error_t e;

		/* Version 3 had no views: a pack with a folding table scanned
		 * everything folded. */
		view = pack->fold != NULL ? SLUICE_VIEW_FOLDED : SLUICE_VIEW_RAW;
		if (get_u8(r, "database kind", &kind) != 0 ||
		    (r->format >= 4 && get_u8(r, "database view", &view) != 0) ||
		    get_u32(r, "database expressions", &db->patterns) != 0 ||
		    get_u32(r, "database id count", &ids) != 0)
			return -1;
		if (kind < SLUICE_DB_LITERAL || kind > SLUICE_DB_KIND_MAX ||
		    view >= SLUICE_VIEW_COUNT || seen[view][kind])
			return bad_body(r, "database %u has kind %u, view %u", d, kind, view);
		if (view == SLUICE_VIEW_FOLDED && pack->fold == NULL)
			return bad_body(r,
					"database %u is scanned folded, but there is no folding "
					"table",
					d);
		seen[view][kind] = true;
		db->kind = (enum sluice_db_kind)kind;
		db->view = (enum sluice_text_view)view;
		if (ids == 0 || ids > r->left / 8)
			return bad_body(r, "database id count %u does not fit", ids);
		db->map = calloc(ids, sizeof(*db->map));
		if (!db->map) {
			sluice_set_err(r->err, r->err_len, "%s: out of memory", r->path);
			return -1;
		}
		db->id_count = ids;
		pack->db_count = d + 1;
		for (uint32_t k = 0; k < ids; k++) {
			struct sluice_pack_pattern *p = &db->map[k];
			if (get_u32(r, "database id map", &p->rule) != 0 ||
			    get_u32(r, "database id map", &p->len) != 0)
				return -1;
			if (p->rule >= pack->rule_count)
				return bad_body(r, "database id %u names rule %u of %zu", k,
						p->rule, pack->rule_count);
			bool combo = pack->rules[p->rule].kind == SLUICE_RULE_COMBINATION;
			bool ok =
			    kind == SLUICE_DB_LOGIC ? (p->len == SLUICE_PAT_COMBO) == combo &&
							  (combo || p->len == SLUICE_PAT_QUIET)
			    : kind == SLUICE_DB_SPAN
				? !combo
				: !combo && p->len != SLUICE_PAT_COMBO &&
				      p->len != SLUICE_PAT_QUIET &&
				      (kind == SLUICE_DB_REGEX || kind == SLUICE_DB_ANCHORED ||
				       kind == SLUICE_DB_REGEX_ENDS ||
				       (p->len != SLUICE_PAT_SOM &&
					!sluice_pat_span_later(p->len)));
			if (!ok)
				return bad_body(r, "database id %u does not fit rule %s", k,
						pack->rules[p->rule].id);
		}
		if (get_u64(r, "database length", &db_len) != 0)
			return -1;
		if (db_len == 0 || db_len > r->left || (d + 1 == count && db_len != r->left))
			return bad_body(r, "database length %llu, but %zu bytes remain",
					(unsigned long long)db_len, r->left);

		if (r->max_db_bytes != 0) {
			size_t need = 0;
			if (hs_serialized_database_size((const char *)r->p, (size_t)db_len,
							&need) != HS_SUCCESS)
				return bad_body(r, "the %s database cannot be sized",
						sluice_db_kind_name(db->kind));
			if (pack->db_bytes + need > r->max_db_bytes) {
				sluice_set_err(
				    r->err, r->err_len,
				    "%s: the databases need more than the %zu bytes the memory "
				    "cap leaves free; refused before deserializing them",
				    r->path, r->max_db_bytes);
				return -1;
			}
		}
		e = hs_deserialize_database((const char *)r->p, (size_t)db_len, &db->db);
		if (e != HS_SUCCESS) {
			db->db = NULL;
			sluice_set_err(r->err, r->err_len,
				       "%s: Hyperscan refused the %s database: %s (error %d)",
				       r->path, sluice_db_kind_name(db->kind), hs_error_name(e), e);
			return -1;
		}
		if (hs_database_size(db->db, &db->bytes) != HS_SUCCESS) {
			sluice_set_err(r->err, r->err_len, "%s: cannot size the %s database",
				       r->path, sluice_db_kind_name(db->kind));
			return -1;
		}
		pack->db_bytes += db->bytes;
		r->p += db_len;
		r->left -= db_len;
	}
	return check_span_pairs(r, pack);
}

static int parse_body(const char *path, const uint8_t *buf, size_t len, size_t max_db_bytes,
		      struct sluice_pack *pack, char *err, size_t err_len)
{
	struct rbuf r = {.p = buf + SLUICE_PACK_HEADER_LEN,
			 .left = (size_t)get_le64(buf + 16),
			 .path = path,
			 .err = err,
			 .err_len = err_len,
			 .max_db_bytes = max_db_bytes,
			 .format = get_le32(buf + 8)};
	char *hs_ver = NULL;
	uint32_t tune;
	uint64_t features;
	hs_error_t e;

	if (r.left > len - SLUICE_PACK_HEADER_LEN)
		return bad_body(&r, "body length");
	if (get_str(&r, "name", false, &pack->name) != 0 ||
	    get_str(&r, "version", false, &pack->version) != 0 ||
	    get_str(&r, "Hyperscan version", false, &hs_ver) != 0)
		return -1;
	/* Checked before anything else in the body is interpreted: a database
	 * from another Hyperscan must never reach hs_deserialize_database(). */
	if (strcmp(hs_ver, hs_version()) != 0) {
		sluice_set_err(err, err_len, "%s: pack built with Hyperscan %s, this is %s", path,
			       hs_ver, hs_version());
		free(hs_ver);
		return -1;
	}
	free(hs_ver);

	if (get_u32(&r, "platform tune", &tune) != 0 ||
	    get_u64(&r, "platform features", &features) != 0)
		return -1;
	/* A database for CPU features this machine lacks deserializes fine and
	 * fails at the first scan, on a worker; refuse it here, naming both. */
	hs_platform_info_t host;
	if (hs_populate_platform(&host) == HS_SUCCESS && (features & ~host.cpu_features) != 0) {
		sluice_set_err(
		    err, err_len,
		    "%s: the pack needs CPU features 0x%llx (tune %u) but this machine has "
		    "0x%llx; compile the pack on a machine like this one",
		    path, (unsigned long long)features, tune,
		    (unsigned long long)host.cpu_features);
		return -1;
	}
	if (parse_rules(&r, pack) != 0 || get_str(&r, "owner", true, &pack->owner) != 0 ||
	    get_str(&r, "description", true, &pack->description) != 0 ||
	    parse_logic(&r, pack) != 0 || (r.format >= 3 && parse_fold(&r, pack) != 0) ||
	    parse_databases(&r, pack) != 0)
		return -1;

	/* Derived, not stored: what the match path looks up per message. */
	if (sluice_pack_derive(pack) != 0) {
		sluice_set_err(err, err_len, "%s: out of memory", path);
		return -1;
	}

	/* A trial scratch for every database, so one Hyperscan cannot use is
	 * refused now, on the control thread, never on a worker. */
	hs_scratch_t *scratch = NULL;
	e = sluice_pack_alloc_scratch(pack, &scratch);
	if (e != HS_SUCCESS) {
		sluice_set_err(err, err_len,
			       "%s: Hyperscan cannot use the databases: %s (error %d)", path,
			       hs_error_name(e), e);
		return -1;
	}
	hs_free_scratch(scratch);
	return 0;
}

int sluice_pack_parse_image(const char *path, const uint8_t *image, size_t len,
			    const struct sluice_load_limits *limits, struct sluice_pack **out,
			    char *err, size_t err_len)
{
	struct sluice_pack *pack;

	*out = NULL;
	pack = calloc(1, sizeof(*pack));
	if (!pack || !(pack->source = strdup(path))) {
		sluice_set_err(err, err_len, "%s: out of memory", path);
		free(pack);
		return -1;
	}
	if (parse_body(path, image, len, limits != NULL ? limits->max_bytes : 0, pack, err,
		       err_len) != 0) {
		sluice_pack_free(pack);
		return -1;
	}
	sluice_to_hex(image + 24, 32, pack->sha256_hex);
	*out = pack;
	return 0;
}

int sluice_pack_read(const char *path, struct sluice_pack **out, char *err, size_t err_len)
{
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	if (sluice_read_file(path, NULL, &buf, &len, err, err_len) != 0)
		return -1;
	rc = sluice_pack_check_envelope(path, buf, len, NULL, err, err_len);
	if (rc == 0)
		rc = sluice_pack_parse_image(path, buf, len, NULL, out, err, err_len);
	free(buf);
	return rc;
}

/* One length-prefixed string of the body at *off, copied with a NUL. */
static int peek_str(const uint8_t *body, size_t body_len, size_t *off, char *out, size_t cap)
{
	if (body_len - *off < 4)
		return -1;
	uint32_t n = get_le32(body + *off);
	*off += 4;
	if (n > body_len - *off || n >= cap || memchr(body + *off, '\0', n) != NULL)
		return -1;
	memcpy(out, body + *off, n);
	out[n] = '\0';
	*off += n;
	return 0;
}

int sluice_pack_identity(const char *path, const uint8_t *image, size_t len, char *name,
			 size_t name_cap, char *version, size_t version_cap, char *err,
			 size_t err_len)
{
	if (sluice_pack_check_envelope(path, image, len, NULL, err, err_len) != 0)
		return -1;
	size_t body_len = (size_t)get_le64(image + 16), off = 0;
	const uint8_t *body = image + SLUICE_PACK_HEADER_LEN;
	if (peek_str(body, body_len, &off, name, name_cap) != 0 ||
	    peek_str(body, body_len, &off, version, version_cap) != 0) {
		sluice_set_err(err, err_len, "%s: corrupt pack body: no name and version", path);
		return -1;
	}
	return 0;
}

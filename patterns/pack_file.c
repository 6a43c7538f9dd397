/* Pack file format version 1.
 *
 * Header (56 bytes, see pack.h): magic, format version, reserved, body length,
 * SHA-256 of the body. Body, all integers little-endian, every string a u32
 * byte length followed by that many bytes (no terminator, no NUL inside):
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
 *     u8   action (1 flag, 2 mask, 3 block)
 *     u8   flags (bit 0: caseless; other bits 0)
 *     str  pattern
 *   u64  database length D
 *   D    hs_serialize_database() bytes, ending exactly at the end of the body
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

/* A pack is read whole into memory before it is verified; bound that. */
#define PACK_MAX_BYTES (2ull << 30)
/* No legitimate string field comes near this; a larger length means a
 * corrupt body even if the hash somehow matched. */
#define PACK_MAX_STRING (1u << 20)
/* Smallest encoding of one rule: three empty strings, action and flags. */
#define PACK_MIN_RULE_BYTES (3 * 4 + 2)

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static void to_hex(const uint8_t *bytes, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0xf];
	}
	hex[2 * n] = '\0';
}

static int sha256(const uint8_t *data, size_t len, uint8_t digest[32])
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

static int serialize(const struct sluice_pack *pack, const char *who, uint8_t **image,
		     size_t *image_len, char hex[65], char *err, size_t err_len)
{
	struct wbuf b = {0};
	hs_platform_info_t plat;
	char *db_bytes = NULL;
	size_t db_len = 0;
	uint8_t digest[32];

	*image = NULL;
	*image_len = 0;
	if (!pack->db) {
		set_err(err, err_len, "%s: pack has no database", who);
		return -1;
	}
	if (pack->rule_count > UINT32_MAX) {
		set_err(err, err_len, "%s: too many rules for the pack format", who);
		return -1;
	}
	if (hs_populate_platform(&plat) != HS_SUCCESS) {
		set_err(err, err_len, "%s: Hyperscan cannot describe this platform", who);
		return -1;
	}
	if (hs_serialize_database(pack->db, &db_bytes, &db_len) != HS_SUCCESS) {
		set_err(err, err_len, "%s: Hyperscan could not serialize the database", who);
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
		put_u8(&b, r->caseless ? 1 : 0);
		put_str(&b, r->pattern);
	}
	put_u64(&b, db_len);
	put_bytes(&b, db_bytes, db_len);
	/* hs_serialize_database() allocates with Hyperscan's misc allocator,
	 * which is malloc unless someone installs another. */
	free(db_bytes);

	if (b.failed) {
		set_err(err, err_len, "%s: out of memory (or a field too long) building the pack",
			who);
		free(b.p);
		return -1;
	}

	size_t body_len = b.len - SLUICE_PACK_HEADER_LEN;
	if (sha256(b.p + SLUICE_PACK_HEADER_LEN, body_len, digest) != 0) {
		set_err(err, err_len, "%s: SHA-256 failed", who);
		free(b.p);
		return -1;
	}
	memcpy(b.p, SLUICE_PACK_MAGIC, 8);
	put_le32(b.p + 8, SLUICE_PACK_FORMAT_VERSION);
	put_le32(b.p + 12, 0);
	put_le64(b.p + 16, body_len);
	memcpy(b.p + 24, digest, 32);
	if (hex)
		to_hex(digest, 32, hex);
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
		set_err(err, err_len, "%s: out of memory", path);
		free(image);
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		set_err(err, err_len, "%s: cannot create %s: %s", path, tmp, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0644) != 0 || write_all(fd, image, len) != 0 || fsync(fd) != 0) {
		set_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		goto fail;
	}
	if (close(fd) != 0) {
		set_err(err, err_len, "%s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		set_err(err, err_len, "%s: cannot rename %s into place: %s", path, tmp,
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
};

static int short_body(struct rbuf *r, const char *field)
{
	set_err(r->err, r->err_len, "%s: malformed pack body: %s runs past the end of the body",
		r->path, field);
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
		set_err(r->err, r->err_len, "%s: malformed pack body: %s is not a valid string",
			r->path, field);
		return -1;
	}
	*out = strndup((const char *)r->p, n);
	if (!*out) {
		set_err(r->err, r->err_len, "%s: out of memory", r->path);
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

static int read_file(const char *path, uint8_t **out, size_t *out_len, char *err, size_t err_len)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, err_len, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((unsigned long long)st.st_size > PACK_MAX_BYTES) {
		set_err(err, err_len, "%s: %lld bytes is larger than any pack this build reads",
			path, (long long)st.st_size);
		close(fd);
		return -1;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		set_err(err, err_len, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	/* Read what is there rather than trusting st_size, so a file that
	 * changes underneath is caught by the length check, not overrun. */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_err(err, err_len, "%s: cannot read: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*out_len = got;
	return 0;
}

/* Checks everything that can be checked without interpreting the body: after
 * this returns 0 the body is exactly the bytes the writer hashed. */
static int verify_envelope(const char *path, const uint8_t *buf, size_t len, char *err,
			   size_t err_len)
{
	uint8_t digest[32];
	char want[65], got[65];

	if (len < SLUICE_PACK_HEADER_LEN) {
		set_err(err, err_len,
			"%s: truncated pack: %zu bytes, shorter than the %d-byte header", path, len,
			SLUICE_PACK_HEADER_LEN);
		return -1;
	}
	if (memcmp(buf, SLUICE_PACK_MAGIC, 8) != 0) {
		set_err(err, err_len, "%s: not a Sluice pack (the file does not start with %s)",
			path, SLUICE_PACK_MAGIC);
		return -1;
	}
	uint32_t format = get_le32(buf + 8);
	if (format != SLUICE_PACK_FORMAT_VERSION) {
		set_err(err, err_len,
			"%s: pack format version %u is not supported; this build reads version %d",
			path, format, SLUICE_PACK_FORMAT_VERSION);
		return -1;
	}
	if (get_le32(buf + 12) != 0) {
		set_err(err, err_len, "%s: corrupt pack header: reserved field is not zero", path);
		return -1;
	}
	uint64_t body_len = get_le64(buf + 16);
	if (body_len != len - SLUICE_PACK_HEADER_LEN) {
		set_err(err, err_len,
			"%s: length mismatch: the header says the body is %llu bytes but the file "
			"has %zu after the header; the pack is truncated or corrupt",
			path, (unsigned long long)body_len, len - SLUICE_PACK_HEADER_LEN);
		return -1;
	}
	if (sha256(buf + SLUICE_PACK_HEADER_LEN, (size_t)body_len, digest) != 0) {
		set_err(err, err_len, "%s: SHA-256 failed", path);
		return -1;
	}
	if (memcmp(digest, buf + 24, 32) != 0) {
		to_hex(digest, 32, got);
		to_hex(buf + 24, 32, want);
		set_err(err, err_len,
			"%s: SHA-256 mismatch: the body hashes to %s but the header says %s; the "
			"pack is corrupt or was altered",
			path, got, want);
		return -1;
	}
	return 0;
}

static int parse_body(const char *path, const uint8_t *buf, size_t len, struct sluice_pack *pack,
		      char *err, size_t err_len)
{
	struct rbuf r = {.p = buf + SLUICE_PACK_HEADER_LEN,
			 .left = len - SLUICE_PACK_HEADER_LEN,
			 .path = path,
			 .err = err,
			 .err_len = err_len};
	char *hs_ver = NULL;
	uint32_t tune, count;
	uint64_t features, db_len;
	hs_error_t e;

	if (get_str(&r, "name", false, &pack->name) != 0 ||
	    get_str(&r, "version", false, &pack->version) != 0 ||
	    get_str(&r, "Hyperscan version", false, &hs_ver) != 0)
		return -1;
	/* Checked before anything else in the body is interpreted: a database
	 * from another Hyperscan must never reach hs_deserialize_database(). */
	if (strcmp(hs_ver, hs_version()) != 0) {
		set_err(err, err_len, "%s: pack built with Hyperscan %s, this is %s", path, hs_ver,
			hs_version());
		free(hs_ver);
		return -1;
	}
	free(hs_ver);

	if (get_u32(&r, "platform tune", &tune) != 0 ||
	    get_u64(&r, "platform features", &features) != 0 ||
	    get_u32(&r, "rule count", &count) != 0)
		return -1;
	if (count == 0 || count > r.left / PACK_MIN_RULE_BYTES) {
		set_err(err, err_len, "%s: malformed pack body: rule count %u does not fit", path,
			count);
		return -1;
	}
	pack->rules = calloc(count, sizeof(*pack->rules));
	if (!pack->rules) {
		set_err(err, err_len, "%s: out of memory", path);
		return -1;
	}
	pack->rule_count = count;
	for (uint32_t i = 0; i < count; i++) {
		struct sluice_pack_rule *rule = &pack->rules[i];
		uint8_t action, flags;

		if (get_str(&r, "rule id", false, &rule->id) != 0 ||
		    get_str(&r, "rule category", false, &rule->category) != 0 ||
		    get_u8(&r, "rule action", &action) != 0 ||
		    get_u8(&r, "rule flags", &flags) != 0 ||
		    get_str(&r, "rule pattern", false, &rule->pattern) != 0)
			return -1;
		if (action < SLUICE_ACTION_FLAG || action >= SLUICE_ACTION_COUNT || flags > 1) {
			set_err(err, err_len,
				"%s: malformed pack body: rule %s has action %u, flags %u", path,
				rule->id, action, flags);
			return -1;
		}
		rule->action = (enum sluice_action)action;
		rule->caseless = flags & 1;
	}

	if (get_u64(&r, "database length", &db_len) != 0)
		return -1;
	if (db_len != r.left || db_len == 0) {
		set_err(err, err_len,
			"%s: malformed pack body: database length %llu, but %zu bytes remain", path,
			(unsigned long long)db_len, r.left);
		return -1;
	}

	e = hs_deserialize_database((const char *)r.p, (size_t)db_len, &pack->db);
	if (e != HS_SUCCESS) {
		pack->db = NULL;
		set_err(err, err_len, "%s: Hyperscan refused the database: %s (error %d)", path,
			hs_error_name(e), e);
		return -1;
	}

	/* A database for a CPU with more features than this one deserializes
	 * fine and fails at the first scan, on a worker; find out here. */
	hs_scratch_t *scratch = NULL;
	e = hs_alloc_scratch(pack->db, &scratch);
	if (e != HS_SUCCESS) {
		hs_platform_info_t host;
		if (e == HS_DB_PLATFORM_ERROR && hs_populate_platform(&host) == HS_SUCCESS)
			set_err(err, err_len,
				"%s: the database needs CPU features 0x%llx (tune %u) but this "
				"machine has 0x%llx; compile the pack on a machine like this one",
				path, (unsigned long long)features, tune,
				(unsigned long long)host.cpu_features);
		else
			set_err(err, err_len,
				"%s: Hyperscan cannot use the database: %s (error %d)", path,
				hs_error_name(e), e);
		return -1;
	}
	hs_free_scratch(scratch);

	if (hs_database_size(pack->db, &pack->db_bytes) != HS_SUCCESS) {
		set_err(err, err_len, "%s: cannot size the database", path);
		return -1;
	}
	return 0;
}

int sluice_pack_read(const char *path, struct sluice_pack **out, char *err, size_t err_len)
{
	struct sluice_pack *pack;
	uint8_t *buf;
	size_t len;

	*out = NULL;
	if (read_file(path, &buf, &len, err, err_len) != 0)
		return -1;
	if (verify_envelope(path, buf, len, err, err_len) != 0) {
		free(buf);
		return -1;
	}
	pack = calloc(1, sizeof(*pack));
	if (!pack || !(pack->source = strdup(path))) {
		set_err(err, err_len, "%s: out of memory", path);
		free(pack);
		free(buf);
		return -1;
	}
	if (parse_body(path, buf, len, pack, err, err_len) != 0) {
		sluice_pack_free(pack);
		free(buf);
		return -1;
	}
	to_hex(buf + 24, 32, pack->sha256_hex);
	free(buf);
	*out = pack;
	return 0;
}

int sluice_pack_load(const char *path, struct sluice_pack **out, char *err, size_t err_len)
{
	char magic[8];
	size_t got = 0;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f) {
		set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (got == sizeof(magic) && memcmp(magic, SLUICE_PACK_MAGIC, sizeof(magic)) == 0)
		return sluice_pack_read(path, out, err, err_len);

	struct sluice_rule_list rules;
	if (sluice_rule_file_load(path, &rules, err, err_len) != 0)
		return -1;
	int rc = sluice_pack_compile(&rules, out, err, err_len);
	sluice_rule_list_free(&rules);
	return rc;
}

/* Packs: compiling, the file format's integrity checks, and scanning. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "match.h"
#include "pack.h"
#include "pack_compile.h"
#include "pack_source.h"
#include "rule_file.h"

/* ---- helpers ---- */

static const char *source_root(void)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");

	return root && *root ? root : ".";
}

static char *fixture(const char *name)
{
	char *path;

	cr_assert_neq(asprintf(&path, "%s/tests/data/rules/%s", source_root(), name), -1);
	return path;
}

static char *bundled(const char *name)
{
	char *path;

	cr_assert_neq(asprintf(&path, "%s/patterns/rules/%s", source_root(), name), -1);
	return path;
}

/* Criterion runs tests in parallel processes: every test gets its own file. */
static char *temp_path(void)
{
	char *path = strdup("/tmp/sluice-test-pack-XXXXXX");
	int fd;

	cr_assert_not_null(path);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	return path;
}

static struct sluice_pack *compile_file(const char *path)
{
	struct sluice_rule_list rules;
	struct sluice_pack *pack = NULL;
	char err[1024] = "";

	cr_assert_eq(sluice_rule_file_load(path, &rules, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_compile(&rules, &pack, err, sizeof(err)), 0, "%s", err);
	sluice_rule_list_free(&rules);
	cr_assert_not_null(pack);
	return pack;
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_bytes(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Makes a tampered image self-consistent again (length and hash), as an
 * attacker or a buggy tool could, so only the checks past the hash see it. */
static void reseal(uint8_t *img, size_t len)
{
	uint64_t body = len - SLUICE_PACK_HEADER_LEN;
	unsigned int n = 0;

	for (int i = 0; i < 8; i++)
		img[16 + i] = (uint8_t)(body >> (8 * i));
	cr_assert_eq(
	    EVP_Digest(img + SLUICE_PACK_HEADER_LEN, body, img + 24, &n, EVP_sha256(), NULL), 1);
	cr_assert_eq(n, 32);
}

/* Offset in the image of the u32 length of the Hyperscan version string,
 * which follows the name and version strings at the start of the body. */
static size_t hs_version_field(const uint8_t *img)
{
	size_t at = SLUICE_PACK_HEADER_LEN;

	at += 4 + le32(img + at); /* name */
	at += 4 + le32(img + at); /* version */
	return at;
}

/* Writes the default pack to a fresh temp file; returns its path. */
static char *write_default_pack(struct sluice_pack **compiled)
{
	char *yaml = bundled("default.yaml");
	struct sluice_pack *pack = compile_file(yaml);
	char *path = temp_path();
	char err[1024] = "";

	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	free(yaml);
	if (compiled)
		*compiled = pack;
	else
		sluice_pack_free(pack);
	return path;
}

static void expect_read_error(const char *path, const char *word1, const char *word2)
{
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[1024] = "";

	cr_assert_eq(sluice_pack_read(path, &pack, err, sizeof(err)), -1,
		     "a damaged pack was accepted");
	cr_assert_null(pack);
	cr_assert_eq(strncmp(err, path, strlen(path)), 0, "message must start with the path: %s",
		     err);
	cr_assert_not_null(strstr(err, word1), "expected \"%s\" in \"%s\"", word1, err);
	if (word2)
		cr_assert_not_null(strstr(err, word2), "expected \"%s\" in \"%s\"", word2, err);
}

struct scan_result {
	struct sluice_match matches[64];
	struct sluice_match_set set;
};

/* Room to fold one message, for packs that normalise (match.h). */
static struct sluice_norm_space *norm_space(void)
{
	static struct sluice_norm_space space;
	if (space.cap == 0)
		cr_assert_eq(sluice_norm_space_init(&space, 1 << 16, &sluice_libc_allocator), 0);
	return &space;
}

static void scan(const struct sluice_pack *pack, const char *text, uint32_t capacity,
		 struct scan_result *res)
{
	hs_scratch_t *scratch = NULL;

	cr_assert_leq(capacity, 64);
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	sluice_match_set_init(&res->set, res->matches, capacity, pack);
	res->set.norm = norm_space();
	cr_assert_eq(sluice_scan_message(pack, scratch, text, strlen(text), &res->set), HS_SUCCESS);
	hs_free_scratch(scratch);
}

static long rule_index(const struct sluice_pack *pack, const char *id)
{
	for (size_t i = 0; i < pack->rule_count; i++) {
		if (strcmp(pack->rules[i].id, id) == 0)
			return (long)i;
	}
	return -1;
}

/* True if some match of rule `id` covers exactly [from, to). */
static bool has_span(const struct sluice_pack *pack, const struct scan_result *res, const char *id,
		     uint32_t from, uint32_t to)
{
	long rule = rule_index(pack, id);

	for (uint32_t i = 0; i < res->set.count; i++) {
		const struct sluice_match *m = &res->set.matches[i];
		if ((long)m->rule == rule && m->from == from && m->to == to)
			return true;
	}
	return false;
}

static bool rule_matched(const struct sluice_pack *pack, const struct scan_result *res,
			 const char *id)
{
	long rule = rule_index(pack, id);

	for (uint32_t i = 0; i < res->set.count; i++) {
		if ((long)res->set.matches[i].rule == rule)
			return true;
	}
	return false;
}

/* ---- compiling ---- */

Test(pack, default_yaml_compiles_with_the_required_rules)
{
	static const struct {
		const char *id;
		enum sluice_action action;
		const char *category;
	} want[] = {
	    {"phone-cn-mobile", SLUICE_ACTION_MASK, "contact"},
	    {"wechat-id-lure", SLUICE_ACTION_MASK, "contact"},
	    {"qq-number-lure", SLUICE_ACTION_MASK, "contact"},
	    {"gambling-invite", SLUICE_ACTION_BLOCK, "gambling"},
	    {"drug-sale", SLUICE_ACTION_BLOCK, "drugs"},
	    {"sexual-solicit", SLUICE_ACTION_BLOCK, "sexual"},
	    {"collectible-resale", SLUICE_ACTION_FLAG, "digital_collectibles"},
	    {"private-chat-lure", SLUICE_ACTION_FLAG, "minors"},
	    {"unlabelled-ai", SLUICE_ACTION_FLAG, "ai_content"},
	    {"copyright-notice-example", SLUICE_ACTION_BLOCK, "copyright"},
	};
	char *yaml = bundled("default.yaml");
	struct sluice_pack *pack = compile_file(yaml);

	cr_assert_str_eq(pack->name, "sluice-default");
	cr_assert_str_eq(pack->version, "2026.11.23-1");
	cr_assert_str_eq(pack->source, yaml);
	cr_assert_geq(pack->rule_count, 10);
	cr_assert_leq(pack->rule_count, 14);
	cr_assert_not_null(pack->dbs[0].db);
	cr_assert_gt(pack->db_bytes, 0);
	cr_assert_eq(strlen(pack->sha256_hex), 64);
	cr_assert_eq(strspn(pack->sha256_hex, "0123456789abcdef"), 64);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		long r = rule_index(pack, want[i].id);
		cr_assert_geq(r, 0, "rule %s missing", want[i].id);
		cr_assert_eq(pack->rules[r].action, want[i].action, "rule %s", want[i].id);
		cr_assert_str_eq(pack->rules[r].category, want[i].category, "rule %s", want[i].id);
	}
	sluice_pack_free(pack);
	free(yaml);
}

Test(pack, default_rules_each_catch_their_example_and_spare_benign_text)
{
	static const struct {
		const char *text;
		const char *id;
		enum sluice_action verdict;
	} cases[] = {
	    {"电话13812345678", "phone-cn-mobile", SLUICE_ACTION_MASK},
	    {"加微信: abc_12345 详聊", "wechat-id-lure", SLUICE_ACTION_MASK},
	    {"vx abcdef1", "wechat-id-lure", SLUICE_ACTION_MASK},
	    {"QQ：123456789", "qq-number-lure", SLUICE_ACTION_MASK},
	    {"扣扣 98765", "qq-number-lure", SLUICE_ACTION_MASK},
	    {"来网上赌场玩", "gambling-invite", SLUICE_ACTION_BLOCK},
	    {"best ONLINE Casino here", "gambling-invite", SLUICE_ACTION_BLOCK},
	    {"出售冰毒", "drug-sale", SLUICE_ACTION_BLOCK},
	    {"有K粉", "drug-sale", SLUICE_ACTION_BLOCK},
	    {"同城约炮", "sexual-solicit", SLUICE_ACTION_BLOCK},
	    {"数字藏品低价入手，明天转卖", "collectible-resale", SLUICE_ACTION_FLAG},
	    {"小妹妹私聊我", "private-chat-lure", SLUICE_ACTION_FLAG},
	    {"作为一个AI语言模型，我不能", "unlabelled-ai", SLUICE_ACTION_FLAG},
	    {"As an AI language model, I", "unlabelled-ai", SLUICE_ACTION_FLAG},
	    {"星河铁道2047 全集下载", "copyright-notice-example", SLUICE_ACTION_BLOCK},
	};
	static const char *const benign[] = {
	    "今天天气不错，晚上一起吃饭吧", "the meeting is at 10:30 in room 4",
	    "订单号 2023 已发货",	    "我喜欢这个数字藏品的设计",
	    "星河铁道2047 真好看",
	};
	char *yaml = bundled("default.yaml");
	struct sluice_pack *pack = compile_file(yaml);
	struct scan_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scan(pack, cases[i].text, 64, &res);
		cr_assert(rule_matched(pack, &res, cases[i].id), "%s did not match \"%s\"",
			  cases[i].id, cases[i].text);
		cr_assert_eq(res.set.verdict, cases[i].verdict, "verdict for \"%s\"",
			     cases[i].text);
	}
	for (size_t i = 0; i < sizeof(benign) / sizeof(benign[0]); i++) {
		scan(pack, benign[i], 64, &res);
		cr_assert_eq(res.set.count, 0, "\"%s\" matched rule %s", benign[i],
			     res.set.count ? pack->rules[res.set.matches[0].rule].id : "");
		cr_assert_eq(res.set.verdict, SLUICE_ACTION_NONE);
	}
	sluice_pack_free(pack);
	free(yaml);
}

Test(pack, phone_mask_covers_exactly_the_number)
{
	char *yaml = bundled("default.yaml");
	struct sluice_pack *pack = compile_file(yaml);
	struct scan_result res;

	/* "电话" is 6 bytes; the 11 digits follow. */
	scan(pack, "电话13812345678。", 64, &res);
	cr_assert(has_span(pack, &res, "phone-cn-mobile", 6, 17));
	sluice_pack_free(pack);
	free(yaml);
}

Test(pack, flag_phones_pack_flags_the_same_rule_id)
{
	char *yaml = bundled("flag-phones.yaml");
	struct sluice_pack *pack = compile_file(yaml);
	struct scan_result res;

	cr_assert_str_eq(pack->name, "sluice-flag-phones");
	cr_assert_str_eq(pack->version, "2026.11.23-2");
	scan(pack, "call 13812345678", 64, &res);
	cr_assert(has_span(pack, &res, "phone-cn-mobile", 5, 16));
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_FLAG);
	sluice_pack_free(pack);
	free(yaml);
}

Test(pack, hyperscan_rejected_pattern_names_file_line_col_and_rule)
{
	struct sluice_rule_list rules;
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[1024] = "";
	char *path = fixture("hs_reject.yaml");
	char *want;

	cr_assert_eq(sluice_rule_file_load(path, &rules, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_compile(&rules, &pack, err, sizeof(err)), -1);
	cr_assert_null(pack);
	/* Line 10 holds the pattern 'a(?<=b)'; column 16 is its "(?<=". */
	cr_assert_neq(asprintf(&want,
			       "%s:10:16: rule lookbehind: pattern rejected by Hyperscan: a "
			       "lookbehind '(?<=' is not supported; ",
			       path),
		      -1);
	cr_assert_eq(strncmp(err, want, strlen(want)), 0, "got \"%s\"", err);
	cr_assert_gt(strlen(err), strlen(want), "the advice is missing");
	sluice_rule_list_free(&rules);
	free(want);
	free(path);
}

Test(pack, pattern_matching_empty_string_is_rejected_with_location)
{
	struct sluice_rule r = {.id = "empty-ok",
				.pattern = "a*",
				.category = "test",
				.action = SLUICE_ACTION_FLAG,
				.line = 7,
				.column = 3};
	struct sluice_rule_list rules = {
	    .source = "inline.yaml", .name = "x", .version = "1", .rules = &r, .count = 1};
	struct sluice_pack *pack;
	char err[1024] = "";

	cr_assert_eq(sluice_pack_compile(&rules, &pack, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "inline.yaml:7:3: rule empty-ok: pattern can match the empty string, "
			      "so it would match every message; make at least one character "
			      "required (for example 'a+' instead of 'a*')");
}

/* ---- pack files ---- */

Test(pack, write_then_read_round_trips_rules_hash_and_matches)
{
	struct sluice_pack *compiled, *read = NULL;
	char *path = write_default_pack(&compiled);
	char err[1024] = "";
	static const char *const texts[] = {
	    "电话13812345678 加我微信:abc_12345",
	    "QQ：123456789 网上赌场 online casino",
	    "数字藏品 高价 转卖，星河铁道2047 全集",
	    "nothing to see here",
	};

	cr_assert_eq(sluice_pack_read(path, &read, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(read->name, compiled->name);
	cr_assert_str_eq(read->version, compiled->version);
	cr_assert_str_eq(read->source, path);
	cr_assert_str_eq(read->sha256_hex, compiled->sha256_hex,
			 "the hash after compile must be the hash of the written body");
	cr_assert_eq(read->db_bytes, compiled->db_bytes);
	cr_assert_eq(read->rule_count, compiled->rule_count);
	for (size_t i = 0; i < read->rule_count; i++) {
		cr_assert_str_eq(read->rules[i].id, compiled->rules[i].id);
		cr_assert_str_eq(read->rules[i].category, compiled->rules[i].category);
		cr_assert_str_eq(read->rules[i].pattern, compiled->rules[i].pattern);
		cr_assert_eq(read->rules[i].action, compiled->rules[i].action);
		cr_assert_eq(read->rules[i].caseless, compiled->rules[i].caseless);
	}

	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		struct scan_result a, b;
		scan(compiled, texts[t], 64, &a);
		scan(read, texts[t], 64, &b);
		cr_assert_eq(a.set.count, b.set.count, "\"%s\"", texts[t]);
		cr_assert_eq(a.set.verdict, b.set.verdict, "\"%s\"", texts[t]);
		for (uint32_t i = 0; i < a.set.count; i++) {
			cr_assert_eq(a.matches[i].rule, b.matches[i].rule);
			cr_assert_eq(a.matches[i].from, b.matches[i].from);
			cr_assert_eq(a.matches[i].to, b.matches[i].to);
		}
	}

	/* The file's length is exactly header + body, the body's hash is in the
	 * header, and the hex form is that hash. */
	size_t len;
	uint8_t *img = read_bytes(path, &len);
	uint64_t body = 0;
	for (int i = 7; i >= 0; i--)
		body = body << 8 | img[16 + i];
	cr_assert_eq(memcmp(img, SLUICE_PACK_MAGIC, 8), 0);
	cr_assert_eq(le32(img + 8), SLUICE_PACK_FORMAT_VERSION);
	cr_assert_eq(le32(img + 12), 0);
	cr_assert_eq(body, len - SLUICE_PACK_HEADER_LEN);
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", img[24 + i]);
	cr_assert_str_eq(hex, compiled->sha256_hex);

	free(img);
	sluice_pack_free(read);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

Test(pack, a_folding_table_travels_in_the_pack_and_is_checked_on_the_way_in)
{
	struct sluice_pack *compiled;
	char *path = write_default_pack(&compiled);
	char err[256];
	/* The compiler's table (a rule file normalises) replaced by a small
	 * one whose every mapping is known. */
	cr_assert_not_null(compiled->fold);
	sluice_fold_table_free(compiled->fold);
	free(compiled->fold);
	compiled->fold = calloc(1, sizeof(*compiled->fold));
	cr_assert_eq(sluice_fold_table_init(compiled->fold), 0);
	static const uint8_t v[] = "v", q[] = "q";
	cr_assert_eq(sluice_fold_table_set(compiled->fold, 0xff36, v, 1), 0); /* Ｖ */
	cr_assert_eq(sluice_fold_table_set(compiled->fold, 0x24e0, q, 1), 0); /* ⓠ */
	cr_assert_eq(sluice_fold_table_set(compiled->fold, 0x200b, NULL, 0), 0);
	snprintf(compiled->fold->versions, sizeof(compiled->fold->versions), "test data 1");
	cr_assert_eq(sluice_pack_write(compiled, path, err, sizeof(err)), 0, "%s", err);

	struct sluice_pack *read = NULL;
	cr_assert_eq(sluice_pack_read(path, &read, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(read->fold);
	cr_assert_str_eq(read->fold->versions, "test data 1");
	cr_assert_eq(read->fold->mapped, 2);
	cr_assert_eq(read->fold->dropped, 1);
	uint32_t e = sluice_fold_entry_of(read->fold, 0xff36);
	cr_assert_eq(read->fold->entry[e].len, 1);
	cr_assert_eq(read->fold->bytes[read->fold->entry[e].off], 'v');
	cr_assert_eq(sluice_fold_entry_of(read->fold, 'V'), 0);
	cr_assert_str_neq(read->sha256_hex, "", "the table is under the hash");
	sluice_pack_free(read);

	/* The same rules without a table write another body. */
	char hex_with[65], hex_without[65];
	uint8_t *img;
	size_t len;
	cr_assert_eq(sluice_pack_serialize(compiled, &img, &len, hex_with, err, sizeof(err)), 0);
	free(img);
	sluice_fold_table_free(compiled->fold);
	free(compiled->fold);
	compiled->fold = NULL;
	cr_assert_eq(sluice_pack_serialize(compiled, &img, &len, hex_without, err, sizeof(err)), 0);
	free(img);
	cr_assert_str_neq(hex_with, hex_without);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

Test(pack, serialize_matches_the_written_file)
{
	struct sluice_pack *compiled;
	char *path = write_default_pack(&compiled);
	uint8_t *image;
	size_t image_len, file_len;
	char hex[65], err[1024] = "";

	cr_assert_eq(sluice_pack_serialize(compiled, &image, &image_len, hex, err, sizeof(err)), 0,
		     "%s", err);
	uint8_t *file = read_bytes(path, &file_len);
	cr_assert_eq(image_len, file_len);
	cr_assert_eq(memcmp(image, file, file_len), 0);
	cr_assert_str_eq(hex, compiled->sha256_hex);
	free(file);
	free(image);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

/* Name and version without Hyperscan (what `sluicectl fleet publish` reads),
 * only from an image whose envelope holds. */
Test(pack, identity_reads_name_and_version_from_a_sound_envelope_only)
{
	struct sluice_pack *compiled;
	char *path = write_default_pack(&compiled);
	size_t len;
	uint8_t *file = read_bytes(path, &len);
	char name[128], version[128], err[1024] = "";
	cr_assert_eq(sluice_pack_identity(path, file, len, name, sizeof(name), version,
					  sizeof(version), err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(name, compiled->name);
	cr_assert_str_eq(version, compiled->version);
	/* Too small a buffer for the name: refused, not cut. */
	char tiny[4];
	cr_assert_neq(sluice_pack_identity(path, file, len, tiny, sizeof(tiny), version,
					   sizeof(version), err, sizeof(err)),
		      0);
	cr_assert(strstr(err, "corrupt pack body: no name and version") != NULL, "%s", err);
	/* A flipped body byte: the envelope's hash refuses it first. */
	file[SLUICE_PACK_HEADER_LEN + 2] ^= 1;
	cr_assert_neq(sluice_pack_identity(path, file, len, name, sizeof(name), version,
					   sizeof(version), err, sizeof(err)),
		      0);
	cr_assert(strstr(err, "SHA-256") != NULL || strstr(err, "hash") != NULL, "%s", err);
	cr_assert_neq(sluice_pack_identity(path, file, 20, name, sizeof(name), version,
					   sizeof(version), err, sizeof(err)),
		      0);
	cr_assert(strstr(err, "truncated pack") != NULL, "%s", err);
	free(file);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

Test(pack, flipped_byte_anywhere_is_refused_by_length_or_hash)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *orig = read_bytes(path, &len);
	const struct {
		size_t at;
		const char *word;
	} flips[] = {
	    {16, "length mismatch"},			  /* body length, low byte */
	    {23, "length mismatch"},			  /* body length, high byte */
	    {24, "SHA-256 mismatch"},			  /* stored hash, first byte */
	    {55, "SHA-256 mismatch"},			  /* stored hash, last byte */
	    {SLUICE_PACK_HEADER_LEN, "SHA-256 mismatch"}, /* body start */
	    {SLUICE_PACK_HEADER_LEN + 4, "SHA-256 mismatch"},
	    {len / 2, "SHA-256 mismatch"}, /* middle, inside the database */
	    {len - 1, "SHA-256 mismatch"}, /* last byte */
	};

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		uint8_t *img = malloc(len);
		memcpy(img, orig, len);
		img[flips[i].at] ^= 0x01;
		write_bytes(path, img, len);
		expect_read_error(path, flips[i].word, NULL);
		free(img);
	}
	free(orig);
	unlink(path);
	free(path);
}

Test(pack, damaged_magic_version_or_reserved_header_is_refused)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *orig = read_bytes(path, &len);
	const struct {
		size_t at;
		const char *word;
	} flips[] = {
	    {0, "not a Sluice pack"},
	    {7, "not a Sluice pack"},
	    {9, "format version 261 is not supported"}, /* 5 with bit 8 flipped */
	    {13, "reserved"},
	};

	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		uint8_t *img = malloc(len);
		memcpy(img, orig, len);
		img[flips[i].at] ^= 0x01;
		write_bytes(path, img, len);
		expect_read_error(path, flips[i].word, NULL);
		free(img);
	}
	free(orig);
	unlink(path);
	free(path);
}

Test(pack, truncated_pack_is_refused)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *orig = read_bytes(path, &len);
	const size_t cuts[] = {0,
			       8,
			       SLUICE_PACK_HEADER_LEN - 1,
			       SLUICE_PACK_HEADER_LEN,
			       SLUICE_PACK_HEADER_LEN + 10,
			       len / 2,
			       len - 1};

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		write_bytes(path, orig, cuts[i]);
		if (cuts[i] < SLUICE_PACK_HEADER_LEN)
			expect_read_error(path, "truncated", "56-byte header");
		else
			expect_read_error(path, "length mismatch", "truncated");
	}
	/* Extra bytes after the body are as wrong as missing ones. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, orig, len);
	longer[len] = 0;
	write_bytes(path, longer, len + 1);
	expect_read_error(path, "length mismatch", NULL);

	free(longer);
	free(orig);
	unlink(path);
	free(path);
}

Test(pack, other_hyperscan_version_is_refused_naming_both)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *img = read_bytes(path, &len);
	size_t field = hs_version_field(img);
	uint32_t n = le32(img + field);
	char *mine = strndup((const char *)img + field + 4, n);
	char *want;

	cr_assert_str_eq(mine, hs_version(), "the pack records the writer's hs_version()");
	/* Same length, so only the hash needs fixing. */
	img[field + 4] = img[field + 4] == '9' ? '8' : '9';
	char *theirs = strndup((const char *)img + field + 4, n);
	reseal(img, len);
	write_bytes(path, img, len);

	cr_assert_neq(asprintf(&want, "%s: pack built with Hyperscan %s, this is %s", path, theirs,
			       hs_version()),
		      -1);
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[1024] = "";
	cr_assert_eq(sluice_pack_read(path, &pack, err, sizeof(err)), -1);
	cr_assert_null(pack);
	cr_assert_str_eq(err, want);

	free(want);
	free(theirs);
	free(mine);
	free(img);
	unlink(path);
	free(path);
}

Test(pack, longer_hyperscan_version_string_is_refused_naming_both)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *img = read_bytes(path, &len);
	size_t field = hs_version_field(img);
	uint32_t n = le32(img + field);
	static const char suffix[] = "-vectorscan";
	size_t extra = sizeof(suffix) - 1;
	uint8_t *out = malloc(len + extra);

	/* Splice a longer version string in; everything after it shifts. */
	memcpy(out, img, field + 4 + n);
	memcpy(out + field + 4 + n, suffix, extra);
	memcpy(out + field + 4 + n + extra, img + field + 4 + n, len - (field + 4 + n));
	uint32_t m = n + (uint32_t)extra;
	for (int i = 0; i < 4; i++)
		out[field + i] = (uint8_t)(m >> (8 * i));
	reseal(out, len + extra);
	write_bytes(path, out, len + extra);

	char *theirs;
	cr_assert_neq(
	    asprintf(&theirs, "Hyperscan %s%s, this is %s", hs_version(), suffix, hs_version()),
	    -1);
	expect_read_error(path, "pack built with", theirs);

	free(theirs);
	free(out);
	free(img);
	unlink(path);
	free(path);
}

Test(pack, resealed_body_with_impossible_rule_count_is_refused)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *img = read_bytes(path, &len);
	size_t at = hs_version_field(img);

	at += 4 + le32(img + at); /* Hyperscan version */
	at += 4 + 8;		  /* platform */
	memset(img + at, 0xff, 4);
	reseal(img, len);
	write_bytes(path, img, len);
	expect_read_error(path, "malformed pack body", "rule count");

	free(img);
	unlink(path);
	free(path);
}

Test(pack, resealed_body_with_short_database_is_refused)
{
	char *path = write_default_pack(NULL);
	size_t len;
	uint8_t *img = read_bytes(path, &len);

	/* Drop the database's last bytes but keep its recorded length. */
	reseal(img, len - 16);
	write_bytes(path, img, len - 16);
	expect_read_error(path, "malformed pack body", "database length");

	free(img);
	unlink(path);
	free(path);
}

Test(pack, reading_a_yaml_file_as_a_pack_is_refused)
{
	char *path = fixture("valid.yaml");

	expect_read_error(path, "not a Sluice pack", NULL);
	free(path);
}

Test(pack, reading_a_missing_pack_reports_cannot_open)
{
	expect_read_error("/nonexistent/dir/x.pack", "cannot open", "No such file");
}

Test(pack, write_to_unwritable_path_names_the_path)
{
	char *yaml = bundled("flag-phones.yaml");
	struct sluice_pack *pack = compile_file(yaml);
	char err[1024] = "";

	cr_assert_eq(sluice_pack_write(pack, "/nonexistent/dir/x.pack", err, sizeof(err)), -1);
	cr_assert_eq(strncmp(err, "/nonexistent/dir/x.pack: ", 25), 0, "got \"%s\"", err);
	sluice_pack_free(pack);
	free(yaml);
}

Test(pack, load_accepts_yaml_and_pack_files_alike)
{
	struct sluice_pack *compiled, *from_pack = NULL, *from_yaml = NULL;
	char *path = write_default_pack(&compiled);
	char *yaml = bundled("default.yaml");
	char err[1024] = "";
	struct scan_result a, b;

	cr_assert_eq(sluice_pack_load(path, &from_pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_load(yaml, &from_yaml, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(from_pack->sha256_hex, compiled->sha256_hex);
	cr_assert_str_eq(from_yaml->sha256_hex, compiled->sha256_hex);
	cr_assert_str_eq(from_pack->source, path);
	cr_assert_str_eq(from_yaml->source, yaml);

	scan(from_pack, "加我QQ 123456", 64, &a);
	scan(from_yaml, "加我QQ 123456", 64, &b);
	cr_assert_eq(a.set.verdict, SLUICE_ACTION_MASK);
	cr_assert_eq(a.set.verdict, b.set.verdict);
	cr_assert_eq(a.set.count, b.set.count);

	struct sluice_pack *refused = (struct sluice_pack *)0x1;
	char *bad = fixture("bad_action.yaml");
	cr_assert_eq(sluice_pack_load(bad, &refused, err, sizeof(err)), -1);
	cr_assert_null(refused);
	cr_assert_not_null(strstr(err, "unknown action"), "got \"%s\"", err);
	cr_assert_eq(sluice_pack_load("/nonexistent.pack", &refused, err, sizeof(err)), -1);
	cr_assert_null(refused);
	cr_assert_not_null(strstr(err, "/nonexistent.pack: cannot open"), "got \"%s\"", err);

	free(bad);
	sluice_pack_free(from_pack);
	sluice_pack_free(from_yaml);
	sluice_pack_free(compiled);
	free(yaml);
	unlink(path);
	free(path);
}

/* ---- match.c ---- */

static struct sluice_pack *match_pack(void)
{
	char *path = fixture("match_rules.yaml");
	struct sluice_pack *pack = compile_file(path);

	free(path);
	return pack;
}

Test(match, overlapping_spans_of_one_rule_merge)
{
	struct sluice_pack *pack = match_pack();
	struct scan_result res;

	/* \d{11} ends at 11, 12 and 13: three overlapping hits, one span. */
	scan(pack, "1234567890123", 64, &res);
	cr_assert_eq(res.set.count, 1);
	cr_assert(has_span(pack, &res, "eleven-digits", 0, 13));
	cr_assert_eq(res.set.overflow, false);
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_MASK);
	sluice_pack_free(pack);
}

Test(match, separate_spans_of_one_rule_stay_separate)
{
	struct sluice_pack *pack = match_pack();
	struct scan_result res;

	scan(pack, "12345678901 and 10987654321", 64, &res);
	cr_assert_eq(res.set.count, 2);
	cr_assert(has_span(pack, &res, "eleven-digits", 0, 11));
	cr_assert(has_span(pack, &res, "eleven-digits", 16, 27));
	sluice_pack_free(pack);
}

Test(match, chinese_match_offsets_are_bytes)
{
	struct sluice_pack *pack = match_pack();
	struct scan_result res;

	/* "加我" is 6 bytes of UTF-8; "微信" the next 6. */
	scan(pack, "加我微信", 64, &res);
	cr_assert_eq(res.set.count, 1);
	cr_assert(has_span(pack, &res, "wechat-word", 6, 12));
	sluice_pack_free(pack);
}

Test(match, verdict_is_the_strongest_action)
{
	struct sluice_pack *pack = match_pack();
	struct scan_result res;

	scan(pack, "x 微信 FORBIDDEN 12345678901", 64, &res);
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_BLOCK);
	cr_assert(rule_matched(pack, &res, "letter-x"));
	cr_assert(rule_matched(pack, &res, "wechat-word"));
	cr_assert(rule_matched(pack, &res, "forbidden"), "caseless rule must match upper case");
	cr_assert(rule_matched(pack, &res, "eleven-digits"));

	scan(pack, "x 微信", 64, &res);
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_FLAG);
	scan(pack, "nothing", 64, &res);
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_NONE);
	cr_assert_eq(res.set.count, 0);
	sluice_pack_free(pack);
}

Test(match, overflow_is_flagged_and_verdict_still_counts_dropped_matches)
{
	struct sluice_pack *pack = match_pack();
	struct scan_result res;

	/* Three separate x spans fill a 2-entry set before "forbidden" ends. */
	scan(pack, "x-x-x forbidden", 2, &res);
	cr_assert_eq(res.set.count, 2);
	cr_assert_eq(res.set.overflow, true);
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_BLOCK);
	cr_assert_not(rule_matched(pack, &res, "forbidden"));

	/* The next message starts clean. */
	hs_scratch_t *scratch = NULL;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	cr_assert_eq(sluice_scan_message(pack, scratch, "x", 1, &res.set), HS_SUCCESS);
	cr_assert_eq(res.set.count, 1);
	cr_assert_eq(res.set.overflow, false);
	cr_assert_eq(res.set.verdict, SLUICE_ACTION_FLAG);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
}

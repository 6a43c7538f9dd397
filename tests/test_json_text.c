/* JSON member text: extraction, mapping back and masking (dataplane/wire/json_text.h). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "utf8.h"

#define CAP 4096

struct run {
	uint8_t *json;
	uint32_t len;
	struct sluice_json_text t;
	enum sluice_json_outcome outcome;
};

static void members_of(struct sluice_json_members *m, const char *list)
{
	char err[128];

	memset(m, 0, sizeof(*m));
	cr_assert_eq(sluice_json_members_parse(m, list, err, sizeof(err)), 0, "%s", err);
}

/* Extracts from an exactly sized copy of json into exactly sized buffers, so
 * that ASan reports a read or write past either end. */
static void run_with(struct run *r, const void *json, size_t len, const char *list, uint32_t cap)
{
	struct sluice_json_members m;

	members_of(&m, list);
	r->json = malloc(len ? len : 1);
	r->t.text = malloc(cap ? cap : 1);
	r->t.raw_at = malloc((cap ? cap : 1) * sizeof(uint32_t));
	cr_assert(r->json && r->t.text && r->t.raw_at);
	memcpy(r->json, json, len);
	r->len = (uint32_t)len;
	r->t.cap = cap;
	r->t.len = 12345;
	r->t.values = 12345;
	r->outcome = sluice_json_extract(r->json, r->len, &m, &r->t);
}

static void run_json(struct run *r, const char *json)
{
	run_with(r, json, strlen(json), "text,content", CAP);
}

static void run_free(struct run *r)
{
	free(r->json);
	free(r->t.text);
	free(r->t.raw_at);
}

static uint32_t separators(const struct sluice_json_text *t)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->len; i++)
		if (t->raw_at[i] == SLUICE_JSON_NO_RAW) {
			cr_assert_eq(t->text[i], '\n', "separator %u is not a newline", i);
			n++;
		}
	return n;
}

static void expect_text_n(const char *json, const char *list, const void *want, size_t want_len,
			  uint32_t want_values)
{
	struct run r;

	run_with(&r, json, strlen(json), list, CAP);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES, "%s: outcome %d", json, r.outcome);
	cr_assert_eq(r.t.len, want_len, "%s: decoded %u bytes, want %zu", json, r.t.len, want_len);
	cr_assert_arr_eq(r.t.text, want, want_len, "%s: decoded \"%.*s\"", json, (int)r.t.len,
			 r.t.text);
	cr_assert_eq(r.t.values, want_values, "%s: %u values", json, r.t.values);
	cr_assert_eq(separators(&r.t), want_values, "%s", json);
	cr_assert(sluice_utf8_valid(r.t.text, r.t.len), "%s: decoded text is not UTF-8", json);
	run_free(&r);
}

/* want is a string literal; it may hold NUL bytes. */
#define expect_text(json, want, values)                                                            \
	expect_text_n(json, "text,content", want, sizeof(want) - 1, values)
#define expect_text_m(json, list, want, values)                                                    \
	expect_text_n(json, list, want, sizeof(want) - 1, values)

static void expect_outcome_n(const void *json, size_t len, enum sluice_json_outcome want,
			     const char *name)
{
	struct run r;

	run_with(&r, json, len, "text,content", CAP);
	cr_assert_eq(r.outcome, want, "%s: outcome %d, want %d", name, r.outcome, want);
	cr_assert_eq(r.t.len, 0, "%s", name);
	cr_assert_eq(r.t.values, 0, "%s", name);
	run_free(&r);
}

static void expect_outcome(const char *json, enum sluice_json_outcome want)
{
	expect_outcome_n(json, strlen(json), want, json);
}

/* ---- extraction ---- */

Test(json_text, plain_values)
{
	expect_text("{\"type\":\"chat\",\"uid\":13800138000,\"ts\":1733390000,"
		    "\"data\":{\"text\":\"加我微信 abc123\",\"content\":\"hi\"}}",
		    "加我微信 abc123\nhi\n", 2);
	expect_text("{\"text\":\"a\"}", "a\n", 1);
	expect_text("{\"text\":\"\"}", "\n", 1);
	expect_text("{\"content\":\"b\",\"text\":\"a\"}", "b\na\n", 2);
	expect_text("{\"text\":\"a\",\"text\":\"b\"}", "a\nb\n", 2);
}

Test(json_text, other_members_and_member_names_as_values_are_ignored)
{
	expect_text("{\"type\":\"text\",\"textx\":\"no\",\"tex\":\"no\",\"Text\":\"no\"}", "", 0);
	expect_text("[\"text\",\"content\"]", "", 0);
	expect_text("{\"list\":[\"text\",\"content\"]}", "", 0);
	expect_text("{}", "", 0);
	expect_text("[]", "", 0);
}

Test(json_text, raw_at_maps_plain_ascii_and_multibyte_characters)
{
	/* {"text":"a加b"}: the value starts at offset 9. */
	struct run r;

	run_json(&r, "{\"text\":\"a加b\"}");
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.len, 6);
	cr_assert_eq(r.t.raw_at[0], 9);
	cr_assert_eq(r.t.raw_at[1], 10);
	cr_assert_eq(r.t.raw_at[2], 10);
	cr_assert_eq(r.t.raw_at[3], 10);
	cr_assert_eq(r.t.raw_at[4], 13);
	cr_assert_eq(r.t.raw_at[5], SLUICE_JSON_NO_RAW);
	run_free(&r);
}

Test(json_text, nested_members_at_any_depth)
{
	expect_text("{\"a\":[{\"b\":{\"text\":\"deep\"}}],\"content\":\"top\"}", "deep\ntop\n", 2);
	expect_text("[[[{\"x\":{\"y\":{\"content\":\"z\"}}}]]]", "z\n", 1);
	expect_text("{\"text\":{\"content\":\"inner\",\"other\":\"no\"}}", "inner\n", 1);
	expect_text("{\"text\":{\"text\":{\"text\":\"t\"}}}", "t\n", 1);
}

Test(json_text, no_members_extracts_nothing)
{
	struct sluice_json_members m;
	struct sluice_json_text t;
	uint8_t text[16];
	uint32_t raw_at[16];
	const char *json = "{\"text\":\"a\",\"x\":[1,{\"y\":\"z\"}]}";

	memset(&m, 0, sizeof(m));
	t.text = text;
	t.raw_at = raw_at;
	t.cap = 16;
	cr_assert_eq(sluice_json_extract((const uint8_t *)json, (uint32_t)strlen(json), &m, &t),
		     SLUICE_JSON_VALUES);
	cr_assert_eq(t.len, 0);
	cr_assert_eq(t.values, 0);
	cr_assert_eq(sluice_json_extract((const uint8_t *)"{\"a\":}", 6, &m, &t),
		     SLUICE_JSON_MALFORMED);
}

Test(json_text, escaped_keys_match_by_decoded_name)
{
	expect_text(
	    "{\"te\\u0078t\":\"a\",\"\\u0063ontent\":\"b\",\"\\u0074\\u0065\\u0078\\u0074\":"
	    "\"c\",\"t\\u0065xt\":\"d\"}",
	    "a\nb\nc\nd\n", 4);
	/* Escapes that decode to something else are other names. */
	expect_text(
	    "{\"te\\\\xt\":\"no\",\"text\\u0000\":\"no\",\"tex\\t\":\"no\",\"\\/text\":\"no\"}", "",
	    0);
	expect_text_m("{\"\\u6587\\u672c\":\"x\",\"文本\":\"y\"}", "文本", "x\ny\n", 2);
	expect_text_m("{\"a\\/b\":\"x\"}", "a/b", "x\n", 1);
}

Test(json_text, member_names_up_to_the_limit)
{
	const char *n32 = "abcdefghijklmnopqrstuvwxyz012345";

	cr_assert_eq(strlen(n32), SLUICE_JSON_MAX_NAME);
	expect_text_m("{\"abcdefghijklmnopqrstuvwxyz012345\":\"hit\"}",
		      "abcdefghijklmnopqrstuvwxyz012345", "hit\n", 1);
	/* A longer key is parsed but matches nothing, whatever it starts with. */
	expect_text_m("{\"abcdefghijklmnopqrstuvwxyz0123456\":\"miss\",\"text\":\"t\"}",
		      "abcdefghijklmnopqrstuvwxyz012345,text", "t\n", 1);
	expect_text("{\"text_and_a_very_long_name_of_more_than_32_bytes\\u0041\":\"miss\"}", "", 0);
	/* A key that decodes to a member name and then more. */
	expect_text_m("{\"abcdefghijklmnopqrstuvwxyz012345\\u0041\":\"miss\","
		      "\"abcdefghijklmnopqrstuvwxyz012345\\n\":\"miss\","
		      "\"abcdefghijklmnopqrstuvwxyz012345\\ud83d\\ude00\":\"miss\"}",
		      "abcdefghijklmnopqrstuvwxyz012345", "", 0);
}

Test(json_text, every_simple_escape)
{
	struct run r;

	/* {"text":"\"\\\/\b\f\n\r\t"}: escape k starts at 9 + 2k. */
	expect_text("{\"text\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "\"\\/\b\f\n\r\t\n", 1);
	run_json(&r, "{\"text\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}");
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	for (uint32_t k = 0; k < 8; k++)
		cr_assert_eq(r.t.raw_at[k], 9 + 2 * k, "escape %u", k);
	run_free(&r);
}

Test(json_text, unicode_escapes)
{
	struct run r;

	expect_text("{\"text\":\"\\u0041\\u00e9\\u4e2d\\u4E2D\\uFFFF\"}",
		    "A\xc3\xa9中中\xef\xbf\xbf\n", 1);
	expect_text("{\"text\":\"a\\u0000b\"}", "a\0b\n", 1);
	expect_text("{\"text\":\"\\u002a\\u0022\\u005c\"}", "*\"\\\n", 1);
	/* All three bytes of 中 map to the backslash of its escape. */
	run_json(&r, "{\"text\":\"x\\u4e2dy\"}");
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.len, 6);
	cr_assert_eq(r.t.raw_at[0], 9);
	cr_assert_eq(r.t.raw_at[1], 10);
	cr_assert_eq(r.t.raw_at[2], 10);
	cr_assert_eq(r.t.raw_at[3], 10);
	cr_assert_eq(r.t.raw_at[4], 16);
	run_free(&r);
}

Test(json_text, surrogate_pairs)
{
	struct run r;

	expect_text("{\"text\":\"\\ud83d\\ude00\"}", "😀\n", 1);
	expect_text("{\"text\":\"\\uD83D\\uDE00\\ud800\\udc00\\udbff\\udfff\"}",
		    "😀\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\n", 1);
	run_json(&r, "{\"text\":\"a\\ud83d\\ude00b\"}");
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.len, 7);
	for (uint32_t i = 1; i < 5; i++)
		cr_assert_eq(r.t.raw_at[i], 10);
	cr_assert_eq(r.t.raw_at[5], 22);
	run_free(&r);
}

Test(json_text, lone_and_reversed_surrogates_become_replacement_characters)
{
	struct run r;

	expect_text("{\"text\":\"\\ud83dx\"}", "\xef\xbf\xbdx\n", 1);
	expect_text("{\"text\":\"\\ud83d\"}", "\xef\xbf\xbd\n", 1);
	expect_text("{\"text\":\"\\ude00\"}", "\xef\xbf\xbd\n", 1);
	expect_text("{\"text\":\"\\ude00\\ud83d\"}", "\xef\xbf\xbd\xef\xbf\xbd\n", 1);
	expect_text("{\"text\":\"\\ud83d\\u0041\"}",
		    "\xef\xbf\xbd"
		    "A\n",
		    1);
	expect_text("{\"text\":\"\\ud83d\\ud83d\\ude00\"}", "\xef\xbf\xbd😀\n", 1);
	expect_text("{\"text\":\"\\ud83d\\n\"}", "\xef\xbf\xbd\n\n", 1);
	/* A reversed pair is two sequences of six raw bytes each. */
	run_json(&r, "{\"text\":\"\\ude00\\ud83d\"}");
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.raw_at[0], 9);
	cr_assert_eq(r.t.raw_at[2], 9);
	cr_assert_eq(r.t.raw_at[3], 15);
	cr_assert_eq(r.t.raw_at[5], 15);
	run_free(&r);
}

Test(json_text, non_string_member_values_are_not_extracted)
{
	expect_text("{\"text\":1,\"content\":true,\"text\":null,\"text\":false,\"text\":-1.5e3,"
		    "\"text\":{},\"text\":[],\"text\":{\"x\":\"no\"}}",
		    "", 0);
	/* The members of an object value are still searched. */
	expect_text("{\"text\":{\"content\":\"yes\"}}", "yes\n", 1);
}

Test(json_text, array_values_of_a_member_extract_every_string_element)
{
	expect_text(
	    "{\"text\":[\"a\",1,\"b\",[\"c\",[\"d\"]],{\"x\":\"no\",\"text\":\"e\"},null,\"\"]}",
	    "a\nb\nc\nd\ne\n\n", 6);
	/* An array that is not a matching member's value gives nothing. */
	expect_text("{\"x\":[\"a\",[\"b\"]],\"text\":[]}", "", 0);
	/* Arrays after a matching array are not extracted. */
	expect_text("{\"text\":[\"a\"],\"y\":[\"b\"]}", "a\n", 1);
	expect_text("[{\"text\":[\"a\"]},\"b\",[\"c\"]]", "a\n", 1);
}

Test(json_text, whitespace_between_tokens)
{
	expect_text("  \r\n\t{ \"text\" : \"a\" , \"content\"\n:\t\"b\" ,\"x\" : [ 1 , 2 ] , "
		    "\"text\" : [ \"c\" , \" d \" ] }\n \t\r",
		    "a\nb\nc\n d \n", 4);
	expect_text("[ ]", "", 0);
	expect_text("{ }", "", 0);
}

Test(json_text, numbers_and_literals)
{
	expect_text("[0,-0,1,-1,12345678901234567890,0.5,-0.5,1e5,1E5,1e+5,1e-5,1.5E-07,-0.0e0,"
		    "true,false,null]",
		    "", 0);
	expect_text("{\"a\":0,\"text\":\"t\",\"b\":true}", "t\n", 1);
}

Test(json_text, bytes_allowed_in_strings)
{
	/* DEL, '*', '/', high code points and the UTF-8 BOM are plain string bytes. */
	expect_text("{\"text\":\"\x7f*/\xef\xbb\xbf\xf4\x8f\xbf\xbf\"}",
		    "\x7f*/\xef\xbb\xbf\xf4\x8f\xbf\xbf\n", 1);
}

Test(json_text, invalid_utf8_input_maps_byte_by_byte)
{
	/* Outside the contract, but extraction and masking must still agree: an
	 * overlong form is four one-byte sequences, a valid 中 one sequence. */
	const char *json = "{\"text\":\"a\xf0\x80\x80\x80中\xe4\"}";
	struct run r;

	run_json(&r, json);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.len, 10);
	for (uint32_t i = 1; i < 5; i++)
		cr_assert_eq(r.t.raw_at[i], 9 + i);
	cr_assert_eq(r.t.raw_at[7], 14);
	cr_assert_eq(r.t.raw_at[8], 17);
	cr_assert_eq(sluice_json_mask(r.json, r.len, &r.t, 2, 3), 1);
	cr_assert_eq(sluice_json_mask(r.json, r.len, &r.t, 6, 9), 4);
	cr_assert_arr_eq(r.json, "{\"text\":\"a\xf0*\x80\x80****\"}", r.len);
	run_free(&r);
}

Test(json_text, special_bytes_at_every_alignment)
{
	/* Long plain runs with one special byte at each position, for the eight-byte scan. */
	for (uint32_t at = 0; at < 40; at++) {
		char json[128], want[128];
		uint32_t n = 0, w = 0;
		struct run r;

		n += (uint32_t)sprintf(json, "{\"text\":\"");
		for (uint32_t i = 0; i < 40; i++) {
			if (i == at) {
				n += (uint32_t)sprintf(json + n, "\\\"");
				want[w++] = '"';
			} else {
				json[n++] = (char)('a' + i % 26);
				want[w++] = (char)('a' + i % 26);
			}
		}
		n += (uint32_t)sprintf(json + n, "\"}");
		want[w++] = '\n';
		run_with(&r, json, n, "text", CAP);
		cr_assert_eq(r.outcome, SLUICE_JSON_VALUES, "escape at %u", at);
		cr_assert_eq(r.t.len, w, "escape at %u", at);
		cr_assert_arr_eq(r.t.text, want, w, "escape at %u", at);
		cr_assert_eq(r.t.raw_at[at], 9 + at);
		run_free(&r);

		/* The same with a raw control character: malformed. */
		memset(json, 'x', sizeof(json));
		memcpy(json, "{\"text\":\"", 9);
		json[9 + at] = '\x1f';
		memcpy(json + 49, "\"}", 2);
		expect_outcome_n(json, 51, SLUICE_JSON_MALFORMED, "control byte");
		/* A quote that closes the string early, after multi-byte characters:
		 * what follows it is not ',' or '}'. */
		memset(json + 9, 'x', 40);
		for (uint32_t i = 0; i + 3 <= at; i += 3)
			memcpy(json + 9 + i, "中", 3);
		json[9 + at] = '"';
		expect_outcome_n(json, 51, SLUICE_JSON_MALFORMED, "early quote");
		json[9 + at] = 'x';
		run_with(&r, json, 51, "text", CAP);
		cr_assert_eq(r.outcome, SLUICE_JSON_VALUES, "no early quote at %u", at);
		cr_assert_eq(r.t.len, 41);
		cr_assert_arr_eq(r.t.text, json + 9, 40);
		run_free(&r);
	}
}

/* ---- outcomes ---- */

Test(json_text, not_json)
{
	expect_outcome("hello 13800138000", SLUICE_JSON_NOT_JSON);
	expect_outcome("", SLUICE_JSON_NOT_JSON);
	expect_outcome(" \t\r\n ", SLUICE_JSON_NOT_JSON);
	expect_outcome("123", SLUICE_JSON_NOT_JSON);
	expect_outcome("\"text\"", SLUICE_JSON_NOT_JSON);
	expect_outcome("true", SLUICE_JSON_NOT_JSON);
	expect_outcome("null", SLUICE_JSON_NOT_JSON);
	expect_outcome("\xef\xbb\xbf{\"text\":\"a\"}", SLUICE_JSON_NOT_JSON); /* BOM */
	expect_outcome("加我微信 {\"text\":\"a\"}", SLUICE_JSON_NOT_JSON);
	expect_outcome("\f{}", SLUICE_JSON_NOT_JSON); /* form feed is not JSON whitespace */
}

Test(json_text, not_json_with_no_buffer)
{
	struct sluice_json_members m;
	struct sluice_json_text t = {NULL, NULL, 0, 7, 7};

	members_of(&m, "text");
	cr_assert_eq(sluice_json_extract(NULL, 0, &m, &t), SLUICE_JSON_NOT_JSON);
	cr_assert_eq(t.len, 0);
	cr_assert_eq(t.values, 0);
}

Test(json_text, malformed)
{
	static const char *const bad[][2] = {
	    {"unterminated string", "{\"text\":\"abc"},
	    {"unterminated key", "{\"tex"},
	    {"backslash at the end", "{\"text\":\"abc\\"},
	    {"unknown escape", "{\"text\":\"a\\xb\"}"},
	    {"escaped single quote", "{\"text\":\"a\\'b\"}"},
	    {"uppercase U escape", "{\"text\":\"\\U0041\"}"},
	    {"bad hex digit", "{\"text\":\"\\u12G4\"}"},
	    {"short \\u escape", "{\"text\":\"\\u12\"}"},
	    {"\\u escape cut by the end", "{\"text\":\"\\u00"},
	    {"bad hex in the low half of a pair", "{\"text\":\"\\ud83d\\udeZ0\"}"},
	    {"bad escape in a key", "{\"te\\qt\":1}"},
	    {"bad escape in an ignored value", "{\"x\":\"\\a\"}"},
	    {"raw newline in a string", "{\"text\":\"a\nb\"}"},
	    {"raw tab in a string", "{\"text\":\"a\tb\"}"},
	    {"raw NUL in a string", "{\"x\":\"a\0b\"}"},
	    {"trailing garbage", "{\"text\":\"a\"} x"},
	    {"second top-level value", "{}{}"},
	    {"trailing comma after the top level", "[1],"},
	    {"unclosed object", "{\"text\":\"a\""},
	    {"unclosed array", "[1,2"},
	    {"just an open brace", "{"},
	    {"just an open bracket", "  [  "},
	    {"mismatched close of an object", "{\"a\":1]"},
	    {"mismatched close of an array", "[1}"},
	    {"close without open", "[]]"},
	    {"missing colon", "{\"a\" 1}"},
	    {"missing value", "{\"a\":}"},
	    {"missing value at the end", "{\"a\":"},
	    {"missing comma in an object", "{\"a\":1 \"b\":2}"},
	    {"missing comma in an array", "[1 2]"},
	    {"trailing comma in an object", "{\"a\":1,}"},
	    {"trailing comma in an array", "[1,]"},
	    {"leading comma", "[,1]"},
	    {"double comma", "[1,,2]"},
	    {"non-string key", "{1:2}"},
	    {"bare key", "{text:\"a\"}"},
	    {"single-quoted string", "{'text':'a'}"},
	    {"leading zero", "[01]"},
	    {"leading plus", "[+1]"},
	    {"lone minus", "[-]"},
	    {"minus without digits", "[-a]"},
	    {"fraction without digits", "[1.]"},
	    {"fraction without integer", "[.5]"},
	    {"exponent without digits", "[1e]"},
	    {"signed exponent without digits", "[1e+]"},
	    {"hex number", "[0x10]"},
	    {"number cut by the end", "[1"},
	    {"NaN", "[NaN]"},
	    {"Infinity", "[-Infinity]"},
	    {"truncated true", "[tru]"},
	    {"truncated null at the end", "[nul"},
	    {"capitalised literal", "[True]"},
	    {"literal with a tail", "[nulll]"},
	    {"literal joined to a word", "[falsey]"},
	    {"comment", "[1 /* c */]"},
	    {"non-breaking space as whitespace", "[1,\xc2\xa0 2]"},
	    {"form feed as whitespace", "[1,\f2]"},
	};
	size_t lens[sizeof(bad) / sizeof(bad[0])];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		lens[i] = strlen(bad[i][1]);
	lens[14] = 10; /* the one with a NUL byte */
	cr_assert_eq(memcmp(bad[14][1], "{\"x\":\"a", 7), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_outcome_n(bad[i][1], lens[i], SLUICE_JSON_MALFORMED, bad[i][0]);
}

/* n nested arrays (objects when obj), with a text member in the innermost one. */
static size_t nest(char *buf, uint32_t n, bool obj)
{
	const char *open = obj ? "{\"a\":" : "[";
	size_t len = 0;

	for (uint32_t i = 0; i < n; i++) {
		memcpy(buf + len, open, strlen(open));
		len += strlen(open);
	}
	memcpy(buf + len, "{\"text\":\"x\"}", 12);
	len += 12;
	memset(buf + len, obj ? '}' : ']', n);
	return len + n;
}

Test(json_text, depth_limit)
{
	char buf[1024];
	struct run r;

	/* The innermost object is level n + 1. */
	for (int obj = 0; obj <= 1; obj++) {
		size_t len = nest(buf, SLUICE_JSON_MAX_DEPTH - 1, obj);

		run_with(&r, buf, len, "text", CAP);
		cr_assert_eq(r.outcome, SLUICE_JSON_VALUES, "depth %d, obj %d",
			     SLUICE_JSON_MAX_DEPTH, obj);
		cr_assert_eq(r.t.len, 2);
		run_free(&r);
		len = nest(buf, SLUICE_JSON_MAX_DEPTH, obj);
		expect_outcome_n(buf, len, SLUICE_JSON_TOO_DEEP, obj ? "objects" : "arrays");
	}
	/* Empty containers count too. */
	memset(buf, '[', SLUICE_JSON_MAX_DEPTH);
	memset(buf + SLUICE_JSON_MAX_DEPTH, ']', SLUICE_JSON_MAX_DEPTH);
	expect_outcome_n(buf, 2 * SLUICE_JSON_MAX_DEPTH, SLUICE_JSON_VALUES, "32 empty arrays");
	memset(buf, '[', SLUICE_JSON_MAX_DEPTH + 1);
	memset(buf + SLUICE_JSON_MAX_DEPTH + 1, ']', SLUICE_JSON_MAX_DEPTH + 1);
	expect_outcome_n(buf, 2 * SLUICE_JSON_MAX_DEPTH + 2, SLUICE_JSON_TOO_DEEP,
			 "33 empty arrays");
	/* Sibling containers do not add up. */
	expect_text("[[[]],[[]],[[[]]],{\"a\":{\"text\":\"s\"}}]", "s\n", 1);
	/* The first error in document order wins. */
	memset(buf, '[', 40);
	memcpy(buf, "[1 ", 3);
	expect_outcome_n(buf, 40, SLUICE_JSON_MALFORMED, "malformed before too deep");
	memset(buf, '[', 40);
	memcpy(buf + 40, "1 2", 3);
	expect_outcome_n(buf, 43, SLUICE_JSON_TOO_DEEP, "too deep before malformed");
}

Test(json_text, output_capacity)
{
	struct run r;
	/* Decoded: "abc\n" + "😀中\n" = 4 + 8 = 12 bytes. */
	const char *json = "{\"text\":\"abc\",\"content\":\"\\ud83d\\ude00中\"}";

	run_with(&r, json, strlen(json), "text,content", 12);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.len, 12);
	cr_assert_eq(r.t.values, 2);
	run_free(&r);
	for (uint32_t cap = 0; cap < 12; cap++) {
		run_with(&r, json, strlen(json), "text,content", cap);
		cr_assert_eq(r.outcome, SLUICE_JSON_TOO_LONG, "cap %u", cap);
		cr_assert_eq(r.t.len, 0);
		cr_assert_eq(r.t.values, 0);
		run_free(&r);
	}
	/* A document with nothing to extract needs no room. */
	run_with(&r, "{\"x\":\"abc\"}", 11, "text", 0);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	run_free(&r);
	/* Only the separator of an empty value. */
	run_with(&r, "{\"text\":\"\"}", 11, "text", 1);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.len, 1);
	run_free(&r);
	run_with(&r, "{\"text\":\"\"}", 11, "text", 0);
	cr_assert_eq(r.outcome, SLUICE_JSON_TOO_LONG);
	run_free(&r);
	/* A structural error after the overflow wins over TOO_LONG. */
	run_with(&r, "{\"text\":\"abcdef\",x}", 19, "text", 2);
	cr_assert_eq(r.outcome, SLUICE_JSON_MALFORMED);
	run_free(&r);
}

/* ---- member lists ---- */

Test(json_text, members_add)
{
	struct sluice_json_members m;
	const char *n32 = "abcdefghijklmnopqrstuvwxyz012345";

	memset(&m, 0, sizeof(m));
	cr_assert_eq(sluice_json_members_add(&m, "text", 4), 0);
	cr_assert_eq(sluice_json_members_add(&m, "text", 4), 0); /* duplicate */
	cr_assert_eq(m.count, 1);
	cr_assert_eq(m.len[0], 4);
	cr_assert_str_eq(m.name[0], "text");
	cr_assert_eq(sluice_json_members_add(&m, "tex", 3), 0); /* a prefix is another name */
	cr_assert_eq(sluice_json_members_add(&m, n32, 32), 0);
	cr_assert_eq(sluice_json_members_add(&m, "文本", strlen("文本")), 0);
	cr_assert_eq(m.count, 4);
	cr_assert_eq(sluice_json_members_add(&m, "", 0), -1);
	cr_assert_eq(sluice_json_members_add(&m, "abcdefghijklmnopqrstuvwxyz0123456", 33), -1);
	cr_assert_eq(sluice_json_members_add(&m, "a\"b", 3), -1);
	cr_assert_eq(sluice_json_members_add(&m, "a\\b", 3), -1);
	cr_assert_eq(sluice_json_members_add(&m, "a\nb", 3), -1);
	cr_assert_eq(sluice_json_members_add(&m, "a\0b", 3), -1);
	cr_assert_eq(sluice_json_members_add(&m, "a\x7f", 2), -1);
	cr_assert_eq(sluice_json_members_add(&m, "a\xff", 2), -1);
	cr_assert_eq(sluice_json_members_add(&m, "\xe4\xb8", 2), -1); /* truncated 中 */
	cr_assert_eq(m.count, 4);
	cr_assert_eq(sluice_json_members_add(&m, "e", 1), 0);
	cr_assert_eq(sluice_json_members_add(&m, "f", 1), 0);
	cr_assert_eq(sluice_json_members_add(&m, "g", 1), 0);
	cr_assert_eq(sluice_json_members_add(&m, "h", 1), 0);
	cr_assert_eq(m.count, SLUICE_JSON_MAX_MEMBERS);
	cr_assert_eq(sluice_json_members_add(&m, "i", 1), -1); /* full */
	cr_assert_eq(sluice_json_members_add(&m, "h", 1), 0);  /* full, but a duplicate */
	cr_assert_eq(m.count, SLUICE_JSON_MAX_MEMBERS);
}

Test(json_text, members_parse_good_lists)
{
	struct sluice_json_members m;
	char err[128];

	memset(&m, 0, sizeof(m));
	cr_assert_eq(sluice_json_members_parse(&m, "text,content", err, sizeof(err)), 0);
	cr_assert_eq(m.count, 2);
	cr_assert_arr_eq(m.name[0], "text", 4);
	cr_assert_eq(m.len[0], 4);
	cr_assert_arr_eq(m.name[1], "content", 7);
	cr_assert_eq(m.len[1], 7);
	cr_assert_eq(sluice_json_members_parse(&m, " text ,\tcontent\t", err, sizeof(err)), 0);
	cr_assert_eq(m.count, 2);
	cr_assert_eq(m.len[0], 4);
	cr_assert_eq(m.len[1], 7);
	cr_assert_eq(sluice_json_members_parse(&m, "msg", err, sizeof(err)), 0);
	cr_assert_eq(m.count, 1); /* replaced, not appended */
	cr_assert_eq(sluice_json_members_parse(&m, "a,b,a,b", err, sizeof(err)), 0);
	cr_assert_eq(m.count, 2);
	cr_assert_eq(sluice_json_members_parse(&m, "a,b,c,d,e,f,g,h,a", NULL, 0), 0);
	cr_assert_eq(m.count, 8);
	cr_assert_eq(sluice_json_members_parse(&m, "文本, text body", err, sizeof(err)), 0);
	cr_assert_eq(m.count, 2);
	cr_assert_eq(m.len[1], 9);
}

Test(json_text, members_parse_bad_lists)
{
	static const char *const bad[][2] = {
	    {"", "member name 1 is empty"},
	    {"  ", "member name 1 is empty"},
	    {",", "member name 1 is empty"},
	    {"text,", "member name 2 is empty"},
	    {",text", "member name 1 is empty"},
	    {"a,,b", "member name 2 is empty"},
	    {"a, ,b", "member name 2 is empty"},
	    {"a,abcdefghijklmnopqrstuvwxyz0123456", "member name 2 is longer than 32 bytes"},
	    {"te\"xt", "member name 1 is not valid UTF-8"},
	    {"te\\xt", "member name 1 is not valid UTF-8"},
	    {"a,te\nxt", "member name 2 is not valid UTF-8"},
	    {"\xff", "member name 1 is not valid UTF-8"},
	    {"a,b,c,d,e,f,g,h,i", "member name 9 is one more than the 8 allowed"},
	};
	struct sluice_json_members m;
	char err[128];

	memset(&m, 0, sizeof(m));
	cr_assert_eq(sluice_json_members_parse(&m, "keep", err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(sluice_json_members_parse(&m, bad[i][0], err, sizeof(err)), -1,
			     "list \"%s\"", bad[i][0]);
		cr_assert(strncmp(err, bad[i][1], strlen(bad[i][1])) == 0, "list \"%s\": \"%s\"",
			  bad[i][0], err);
		/* m is unchanged */
		cr_assert_eq(m.count, 1);
		cr_assert_arr_eq(m.name[0], "keep", 5);
	}
	cr_assert_eq(sluice_json_members_parse(&m, "", NULL, 0), -1);
	cr_assert_eq(sluice_json_members_parse(&m, "a,,b", err, 4), -1);
	cr_assert_str_eq(err, "mem"); /* truncated, terminated */
}

/* ---- masking ---- */

/* Masks decoded [from, to) of json; checks the JSON, the count, and that it
 * still extracts with the same number of values. */
static void expect_mask(const char *json, uint32_t from, uint32_t to, const char *want,
			uint32_t want_changed)
{
	struct run r, again;
	uint32_t changed;

	run_json(&r, json);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES, "%s", json);
	changed = sluice_json_mask(r.json, r.len, &r.t, from, to);
	cr_assert_eq(strlen(want), r.len);
	cr_assert_arr_eq(r.json, want, r.len, "%s [%u,%u): got %.*s", json, from, to, (int)r.len,
			 r.json);
	cr_assert_eq(changed, want_changed, "%s [%u,%u): changed %u", json, from, to, changed);
	run_with(&again, r.json, r.len, "text,content", CAP);
	cr_assert_eq(again.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(again.t.values, r.t.values);
	/* Masking again changes nothing. */
	cr_assert_eq(sluice_json_mask(r.json, r.len, &r.t, from, to), 0);
	run_free(&again);
	run_free(&r);
}

Test(json_text, mask_plain_span)
{
	expect_mask("{\"text\":\"call 13800138000 now\"}", 5, 16,
		    "{\"text\":\"call *********** now\"}", 11);
	expect_mask("{\"text\":\"abc\"}", 0, 0, "{\"text\":\"abc\"}", 0);
	expect_mask("{\"text\":\"abc\"}", 2, 1, "{\"text\":\"abc\"}", 0);
	expect_mask("{\"text\":\"abc\"}", 1, 1000, "{\"text\":\"a**\"}", 2); /* to is clamped */
	expect_mask("{\"text\":\"a*c\"}", 0, 3, "{\"text\":\"***\"}", 2);    /* '*' is unchanged */
}

Test(json_text, mask_span_inside_an_escape)
{
	/* Decoded "a中b\n": byte 2 is the middle of 中, from \u4e2d. */
	expect_mask("{\"text\":\"a\\u4e2db\"}", 2, 3, "{\"text\":\"a******b\"}", 6);
	expect_mask("{\"text\":\"a\\nb\"}", 1, 2, "{\"text\":\"a**b\"}", 2);
	/* Byte 2 of the 4-byte emoji from a surrogate pair: all twelve raw bytes. */
	expect_mask("{\"text\":\"x\\ud83d\\ude00y\"}", 3, 4, "{\"text\":\"x************y\"}", 12);
	/* A lone surrogate: its six bytes only. */
	expect_mask("{\"text\":\"\\ude00\\ud83d\"}", 4, 5, "{\"text\":\"\\ude00******\"}", 6);
	expect_mask("{\"text\":\"a\\u0000b\"}", 1, 2, "{\"text\":\"a******b\"}", 6);
	expect_mask("{\"text\":\"a\\\"b\"}", 1, 2, "{\"text\":\"a**b\"}", 2);
}

Test(json_text, mask_span_across_escapes)
{
	/* Decoded "ab\ncd\n": [1,4) is b, the newline escape, c. */
	expect_mask("{\"text\":\"ab\\ncd\"}", 1, 4, "{\"text\":\"a****d\"}", 4);
	expect_mask("{\"text\":\"1\\u00333\\/8\"}", 0, 5, "{\"text\":\"***********\"}", 11);
	expect_mask("{\"text\":\"\\\\\\\\\"}", 0, 1, "{\"text\":\"**\\\\\"}", 2);
}

Test(json_text, mask_span_across_a_cjk_character)
{
	/* Decoded "x加我y\n": 加 is bytes 1-3, 我 bytes 4-6. */
	expect_mask("{\"text\":\"x加我y\"}", 1, 2, "{\"text\":\"x***我y\"}", 3);
	expect_mask("{\"text\":\"x加我y\"}", 3, 5, "{\"text\":\"x******y\"}", 6);
	expect_mask("{\"text\":\"x加我y\"}", 0, 2, "{\"text\":\"****我y\"}", 4);
	expect_mask("{\"text\":\"x😀y\"}", 2, 3, "{\"text\":\"x****y\"}", 4);
}

Test(json_text, mask_span_across_two_values)
{
	/* Decoded "abc\ndef\n": the separator is byte 3. */
	expect_mask("{\"text\":\"abc\",\"content\":\"def\"}", 1, 6,
		    "{\"text\":\"a**\",\"content\":\"**f\"}", 4);
	expect_mask("{\"text\":\"abc\",\"content\":\"def\"}", 3, 4,
		    "{\"text\":\"abc\",\"content\":\"def\"}", 0);
	expect_mask("{\"text\":\"abc\",\"content\":\"def\"}", 0, 8,
		    "{\"text\":\"***\",\"content\":\"***\"}", 6);
	expect_mask("{\"text\":[\"a\\n\",\"\",\"b\"]}", 0, 6, "{\"text\":[\"***\",\"\",\"*\"]}", 4);
}

Test(json_text, blank_values)
{
	struct run r, again;
	const char *json = "{\"text\":\"a\\\"b\",\"n\":\"keep\",\"content\":[\"x\\u4e2d\",\"\",1],"
			   "\"uid\":123,\"data\":{\"text\":\"加\\ud83d\\ude00\"}}";
	const char *want = "{\"text\":\"****\",\"n\":\"keep\",\"content\":[\"*******\",\"\",1],"
			   "\"uid\":123,\"data\":{\"text\":\"***************\"}}";

	run_json(&r, json);
	cr_assert_eq(r.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(r.t.values, 4);
	cr_assert_eq(sluice_json_blank_values(r.json, r.len, &r.t), 4 + 7 + 15);
	cr_assert_arr_eq(r.json, want, r.len, "got %.*s", (int)r.len, r.json);
	run_with(&again, r.json, r.len, "text,content", CAP);
	cr_assert_eq(again.outcome, SLUICE_JSON_VALUES);
	cr_assert_eq(again.t.len, 4 + 1 + 7 + 1 + 1 + 15 + 1);
	run_free(&again);
	cr_assert_eq(sluice_json_blank_values(r.json, r.len, &r.t), 0);
	run_free(&r);
}

/* ---- randomized property test ---- */

#define GJ	16384
#define NO_SEQ	UINT32_MAX
#define MAX_SEQ GJ

/* A generated document and what extracting it must give. */
struct gen {
	uint64_t rng;
	uint32_t max_depth;
	uint8_t json[GJ];
	uint32_t len;
	uint8_t text[GJ];
	uint32_t raw_at[GJ];
	uint32_t seq_of[GJ]; /* sequence of each decoded byte, NO_SEQ for separators */
	uint32_t tlen, values;
	struct {
		uint32_t raw, rawlen, dec, declen;
	} seq[MAX_SEQ];
	uint32_t nseq;
	uint32_t vstart[GJ], vend[GJ]; /* raw value bytes between the quotes */
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return n ? (uint32_t)((g->rng >> 11) % n) : 0;
}

static void put(struct gen *g, const void *s, uint32_t n)
{
	cr_assert(g->len + n <= GJ, "generated document too long");
	memcpy(g->json + g->len, s, n);
	g->len += n;
}

static void puts_(struct gen *g, const char *s)
{
	put(g, s, (uint32_t)strlen(s));
}

static void ws(struct gen *g)
{
	static const char w[] = " \t\n\r";

	while (rnd(g, 4) == 0)
		put(g, &w[rnd(g, 4)], 1);
}

static uint32_t utf8_encode(uint32_t cp, uint8_t *b)
{
	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (uint8_t)(0xC0 | cp >> 6);
		b[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (uint8_t)(0xE0 | cp >> 12);
		b[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		b[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (uint8_t)(0xF0 | cp >> 18);
	b[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
	b[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
	b[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* Records one raw sequence [raw, g->len) decoding to dec[0..declen). */
static void seq(struct gen *g, bool extract, uint32_t raw, const uint8_t *dec, uint32_t declen)
{
	if (!extract)
		return;
	cr_assert(g->nseq < MAX_SEQ && g->tlen + declen <= GJ);
	g->seq[g->nseq].raw = raw;
	g->seq[g->nseq].rawlen = g->len - raw;
	g->seq[g->nseq].dec = g->tlen;
	g->seq[g->nseq].declen = declen;
	for (uint32_t i = 0; i < declen; i++) {
		g->text[g->tlen] = dec[i];
		g->raw_at[g->tlen] = raw;
		g->seq_of[g->tlen] = g->nseq;
		g->tlen++;
	}
	g->nseq++;
}

static void put_u(struct gen *g, uint32_t unit)
{
	char b[8];

	snprintf(b, sizeof(b), rnd(g, 2) ? "\\u%04x" : "\\u%04X", unit);
	puts_(g, b);
}

static void gen_string(struct gen *g, bool extract)
{
	static const char simple[][2] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},	 {'b', '\b'},
					 {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};
	static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};
	uint32_t pieces = rnd(g, 13), start;
	bool after_lone_high = false;

	puts_(g, "\"");
	start = g->len;
	for (uint32_t k = 0; k < pieces; k++) {
		uint32_t raw = g->len, type = rnd(g, 12), cp, n;
		uint8_t b[4];
		bool lone_high = false;

		if (type == 6 && after_lone_high)
			type = 0; /* a low half right after a lone high half would pair */
		switch (type) {
		case 0:
		case 1:
			n = 1 + rnd(g, 20);
			for (uint32_t j = 0; j < n; j++) {
				do
					b[0] = (uint8_t)(0x20 + rnd(g, 95));
				while (b[0] == '"' || b[0] == '\\');
				raw = g->len;
				put(g, b, 1);
				seq(g, extract, raw, b, 1);
			}
			break;
		case 2: {
			uint32_t e = rnd(g, 8);

			b[0] = '\\';
			b[1] = (uint8_t)simple[e][0];
			put(g, b, 2);
			b[0] = (uint8_t)simple[e][1];
			seq(g, extract, raw, b, 1);
			break;
		}
		case 3:
			switch (rnd(g, 4)) {
			case 0:
				cp = rnd(g, 0x80);
				break;
			case 1:
				cp = 0x80 + rnd(g, 0x780);
				break;
			case 2:
				cp = 0x4E00 + rnd(g, 0x5200);
				break;
			default:
				do
					cp = 0x800 + rnd(g, 0xF800);
				while (cp >= 0xD800 && cp <= 0xDFFF);
			}
			put_u(g, cp);
			seq(g, extract, raw, b, utf8_encode(cp, b));
			break;
		case 4:
			cp = 0x10000 + rnd(g, 0x100000);
			put_u(g, 0xD800 + ((cp - 0x10000) >> 10));
			put_u(g, 0xDC00 + ((cp - 0x10000) & 0x3FF));
			seq(g, extract, raw, b, utf8_encode(cp, b));
			break;
		case 5:
			put_u(g, 0xD800 + rnd(g, 0x400));
			seq(g, extract, raw, fffd, 3);
			lone_high = true;
			break;
		case 6:
			put_u(g, 0xDC00 + rnd(g, 0x400));
			seq(g, extract, raw, fffd, 3);
			break;
		case 7:
		case 8:
			n = utf8_encode(0x4E00 + rnd(g, 0x5200), b); /* CJK */
			put(g, b, n);
			seq(g, extract, raw, b, n);
			break;
		case 9:
			n = utf8_encode(0x1F300 + rnd(g, 0x300), b); /* emoji */
			put(g, b, n);
			seq(g, extract, raw, b, n);
			break;
		case 10:
			n = utf8_encode(0xA0 + rnd(g, 0x700), b);
			put(g, b, n);
			seq(g, extract, raw, b, n);
			break;
		default:
			if (rnd(g, 2)) {
				puts_(g, "*");
				b[0] = '*';
			} else {
				puts_(g, "\\u0000");
				b[0] = 0;
			}
			seq(g, extract, raw, b, 1);
		}
		after_lone_high = lone_high;
	}
	if (extract) {
		cr_assert(g->tlen < GJ);
		g->vstart[g->values] = start;
		g->vend[g->values] = g->len;
		g->values++;
		g->text[g->tlen] = '\n';
		g->raw_at[g->tlen] = SLUICE_JSON_NO_RAW;
		g->seq_of[g->tlen] = NO_SEQ;
		g->tlen++;
	}
	puts_(g, "\"");
}

static void gen_value(struct gen *g, uint32_t depth, bool extract, int force);

static void gen_object(struct gen *g, uint32_t depth)
{
	static const char *const hit[] = {"\"text\"", "\"content\"", "\"te\\u0078t\"",
					  "\"\\u0063ontent\"", "\"\\u0074\\u0065\\u0078\\u0074\""};
	static const char *const miss[] = {
	    "\"uid\"",	    "\"ts\"",
	    "\"data\"",	    "\"type\"",
	    "\"textx\"",    "\"tex\"",
	    "\"\"",	    "\"Text\"",
	    "\"te\\\\xt\"", "\"\\u6587\\u672c\"",
	    "\"text\\n\"",  "\"a_key_longer_than_thirty_two_bytes_text\""};
	uint32_t n = rnd(g, 7);

	puts_(g, "{");
	ws(g);
	for (uint32_t i = 0; i < n && g->len < GJ / 2; i++) {
		bool match = rnd(g, 2) == 0;

		if (i) {
			puts_(g, ",");
			ws(g);
		}
		if (match)
			puts_(g, hit[rnd(g, 5)]);
		else if (rnd(g, 4) == 0)
			gen_string(g, false); /* a random key */
		else
			puts_(g, miss[rnd(g, 12)]);
		ws(g);
		puts_(g, ":");
		ws(g);
		gen_value(g, depth + 1, match, -1);
		ws(g);
	}
	puts_(g, "}");
}

static void gen_array(struct gen *g, uint32_t depth, bool extract)
{
	uint32_t n = rnd(g, 5);

	puts_(g, "[");
	ws(g);
	for (uint32_t i = 0; i < n && g->len < GJ / 2; i++) {
		if (i) {
			puts_(g, ",");
			ws(g);
		}
		gen_value(g, depth + 1, extract, -1);
		ws(g);
	}
	puts_(g, "]");
}

/* force: -1 any value, 0 an object, 1 an array. */
static void gen_value(struct gen *g, uint32_t depth, bool extract, int force)
{
	static const char *const scalars[] = {"0",    "-0",	"13800138000", "1733390000",
					      "3.14", "-1.5e3", "2E+10",       "1e-7",
					      "0.0",  "true",	"false",       "null"};
	uint32_t r = force >= 0 ? (uint32_t)force : rnd(g, depth < 3 ? 5 : 10);

	if (depth >= g->max_depth && r < 2)
		r = 5;
	if (r == 0)
		gen_object(g, depth);
	else if (r == 1)
		gen_array(g, depth, extract);
	else if (r < 8)
		gen_string(g, extract);
	else
		puts_(g, scalars[rnd(g, 12)]);
}

static void gen_document(struct gen *g, uint64_t seed)
{
	g->rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	g->len = g->tlen = g->values = g->nseq = 0;
	g->max_depth = 1 + rnd(g, 8);
	ws(g);
	gen_value(g, 0, false, rnd(g, 4) == 0); /* mostly objects */
	ws(g);
}

static void extract_exact(const uint8_t *json, uint32_t len, uint32_t cap,
			  enum sluice_json_outcome want, struct run *r)
{
	run_with(r, json, len, "text,content", cap);
	cr_assert_eq(r->outcome, want, "outcome %d, want %d for %.*s", r->outcome, want, (int)len,
		     json);
}

/* Extracting g must give exactly the model's text, map and values. */
static void check_extraction(struct gen *g, uint64_t seed)
{
	struct run r;

	extract_exact(g->json, g->len, g->tlen, SLUICE_JSON_VALUES, &r);
	cr_assert_eq(r.t.len, g->tlen, "seed %lu", (unsigned long)seed);
	cr_assert_eq(r.t.values, g->values, "seed %lu", (unsigned long)seed);
	cr_assert_arr_eq(r.t.text, g->text, g->tlen, "seed %lu", (unsigned long)seed);
	cr_assert_arr_eq(r.t.raw_at, g->raw_at, g->tlen * sizeof(uint32_t), "seed %lu",
			 (unsigned long)seed);
	cr_assert(sluice_utf8_valid(r.t.text, r.t.len), "seed %lu", (unsigned long)seed);
	run_free(&r);
	if (g->tlen > 0) {
		extract_exact(g->json, g->len, g->tlen - 1, SLUICE_JSON_TOO_LONG, &r);
		run_free(&r);
	}
}

static uint32_t differing(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	uint32_t d = 0;

	for (uint32_t i = 0; i < n; i++)
		d += a[i] != b[i];
	return d;
}

/* Re-extracting the masked JSON must give the model with every masked
 * sequence replaced by one '*' per raw byte, each mapped to itself. */
static void check_masked_extraction(struct gen *g, const uint8_t *masked, uint64_t seed)
{
	static uint8_t text[GJ];
	static uint32_t raw_at[GJ];
	uint32_t n = 0;
	struct run r;

	for (uint32_t i = 0; i < g->tlen; i++) {
		uint32_t s = g->seq_of[i], raw, rawlen;
		bool starred = true;

		if (s == NO_SEQ) {
			text[n] = '\n';
			raw_at[n++] = SLUICE_JSON_NO_RAW;
			continue;
		}
		if (g->seq[s].dec != i)
			continue;
		raw = g->seq[s].raw;
		rawlen = g->seq[s].rawlen;
		for (uint32_t k = raw; k < raw + rawlen; k++)
			starred = starred && masked[k] == '*';
		if (starred) {
			for (uint32_t k = raw; k < raw + rawlen; k++) {
				text[n] = '*';
				raw_at[n++] = k;
			}
		} else {
			for (uint32_t k = 0; k < g->seq[s].declen; k++) {
				text[n] = g->text[i + k];
				raw_at[n++] = raw;
			}
		}
	}
	extract_exact(masked, g->len, n, SLUICE_JSON_VALUES, &r);
	cr_assert_eq(r.t.values, g->values, "seed %lu", (unsigned long)seed);
	cr_assert_eq(r.t.len, n, "seed %lu", (unsigned long)seed);
	cr_assert_arr_eq(r.t.text, text, n, "seed %lu", (unsigned long)seed);
	cr_assert_arr_eq(r.t.raw_at, raw_at, n * sizeof(uint32_t), "seed %lu", (unsigned long)seed);
	cr_assert(sluice_utf8_valid(r.t.text, r.t.len), "seed %lu", (unsigned long)seed);
	/* The raw values keep their places and lengths. */
	for (uint32_t v = 0; v < g->values; v++) {
		cr_assert_eq(masked[g->vstart[v] - 1], '"');
		cr_assert_eq(masked[g->vend[v]], '"');
	}
	run_free(&r);
}

static void check_masks(struct gen *g, uint64_t seed)
{
	static uint8_t want[GJ], before[GJ];
	struct run r;
	uint32_t spans = 1 + rnd(g, 3);

	extract_exact(g->json, g->len, g->tlen, SLUICE_JSON_VALUES, &r);
	memcpy(want, g->json, g->len);
	for (uint32_t s = 0; s < spans; s++) {
		uint32_t from = rnd(g, g->tlen + 1), to = from + rnd(g, g->tlen - from + 1),
			 changed;

		if (rnd(g, 8) == 0)
			to = from + rnd(g, 5); /* short spans, sometimes past the end */
		for (uint32_t i = from; i < to && i < g->tlen; i++) {
			uint32_t q = g->seq_of[i];

			if (q != NO_SEQ)
				memset(want + g->seq[q].raw, '*', g->seq[q].rawlen);
		}
		memcpy(before, r.json, g->len);
		changed = sluice_json_mask(r.json, r.len, &r.t, from, to);
		cr_assert_arr_eq(r.json, want, g->len, "seed %lu span %u [%u,%u)",
				 (unsigned long)seed, s, from, to);
		cr_assert_eq(changed, differing(before, r.json, g->len), "seed %lu",
			     (unsigned long)seed);
	}
	cr_assert(sluice_utf8_valid(r.json, r.len), "seed %lu", (unsigned long)seed);
	check_masked_extraction(g, r.json, seed);

	/* Blanking: every raw value byte, nothing else. */
	memcpy(r.json, g->json, g->len);
	memcpy(want, g->json, g->len);
	for (uint32_t v = 0; v < g->values; v++)
		memset(want + g->vstart[v], '*', g->vend[v] - g->vstart[v]);
	cr_assert_eq(sluice_json_blank_values(r.json, r.len, &r.t),
		     differing(g->json, want, g->len));
	cr_assert_arr_eq(r.json, want, g->len, "seed %lu", (unsigned long)seed);
	check_masked_extraction(g, r.json, seed);
	run_free(&r);
}

/* Any proper prefix that ends before the closing bracket is malformed. */
static void check_truncation(struct gen *g, uint64_t seed)
{
	uint32_t last = g->len, first = 0, cut;
	struct run r;

	while (last > 0 && (g->json[last - 1] == ' ' || g->json[last - 1] == '\t' ||
			    g->json[last - 1] == '\n' || g->json[last - 1] == '\r'))
		last--;
	while (g->json[first] != '{' && g->json[first] != '[')
		first++;
	cut = rnd(g, last);
	extract_exact(g->json, cut, GJ, cut > first ? SLUICE_JSON_MALFORMED : SLUICE_JSON_NOT_JSON,
		      &r);
	(void)seed;
	run_free(&r);
}

Test(json_text, random_documents, .timeout = 60)
{
	struct gen *g = calloc(1, sizeof(*g));
	uint32_t total_values = 0, total_seqs = 0, total_len = 0;

	cr_assert_not_null(g);
	for (uint64_t seed = 1; seed <= 3000; seed++) {
		gen_document(g, seed);
		cr_assert(sluice_utf8_valid(g->json, g->len));
		check_extraction(g, seed);
		check_masks(g, seed);
		check_truncation(g, seed);
		total_values += g->values;
		total_seqs += g->nseq;
		total_len += g->len;
	}
	/* The generator must exercise something. */
	cr_assert_gt(total_values, 2 * 3000, "%u values", total_values);
	cr_assert_gt(total_seqs, 30 * 3000, "%u sequences", total_seqs);
	cr_assert_gt(total_len, 100 * 3000, "%u bytes of JSON", total_len);
	free(g);
}

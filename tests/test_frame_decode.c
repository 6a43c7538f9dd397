/* Decoding the frames of one UDP payload (dataplane/frame_decode.h): good
 * payloads, each malformed case with its reason, and how many good frames came
 * before it. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "frame_decode.h"
#include "test_support.h"
#include "wire_format.h"

#define BUF_CAP 16384
#define BASE	62 /* payload offset of a VLAN-less IPv6 datagram */

struct payload {
	uint8_t bytes[BUF_CAP];
	uint32_t len;
};

static void add_frame(struct payload *p, uint64_t id, const char *text)
{
	struct sluice_wire_message m = ts_msg(id, text);
	size_t n = sluice_wire_frame_write(p->bytes + p->len, BUF_CAP - p->len, &m);

	cr_assert_gt(n, 0);
	p->len += (uint32_t)n;
}

static void add_bytes(struct payload *p, const void *bytes, uint32_t n)
{
	cr_assert_leq(p->len + n, BUF_CAP);
	memcpy(p->bytes + p->len, bytes, n);
	p->len += n;
}

/* Decodes p from a buffer of exactly its size, so ASan reports a read past it. */
static enum sluice_bad_reason decode(const struct payload *p, uint32_t len, uint32_t base,
				     struct sluice_frame_ref *frames, uint32_t max, uint32_t *count)
{
	uint8_t *exact = malloc(len ? len : 1);
	enum sluice_bad_reason r;

	cr_assert_not_null(exact);
	memcpy(exact, p->bytes, len);
	*count = 0xdeadbeef;
	r = sluice_frames_decode(exact, len, base, frames, max, count);
	free(exact);
	return r;
}

Test(frame_decode, one_frame_fills_payload)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "电话 13812345678");
	cr_assert_eq(p.len, 32 + 18);
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_NONE);
	cr_assert_eq(count, 1);
	cr_assert_eq(frames[0].offset, BASE);
	cr_assert_eq(frames[0].text_len, 18);
}

Test(frame_decode, several_frames_back_to_back_with_base_relative_offsets)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[8];
	uint32_t count;

	add_frame(&p, 1, "hello");
	add_frame(&p, 2, "");
	add_frame(&p, 3, "你好");
	add_frame(&p, 4, "x");
	cr_assert_eq(decode(&p, p.len, BASE, frames, 8, &count), SLUICE_BAD_NONE);
	cr_assert_eq(count, 4);
	cr_assert_eq(frames[0].offset, BASE + 0);
	cr_assert_eq(frames[0].text_len, 5);
	cr_assert_eq(frames[1].offset, BASE + 37);
	cr_assert_eq(frames[1].text_len, 0);
	cr_assert_eq(frames[2].offset, BASE + 69);
	cr_assert_eq(frames[2].text_len, 6);
	cr_assert_eq(frames[3].offset, BASE + 107);
	cr_assert_eq(frames[3].text_len, 1);
	cr_assert_eq(frames[3].offset - BASE + 32 + 1, p.len);
}

Test(frame_decode, base_zero_gives_payload_offsets)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[2];
	uint32_t count;

	add_frame(&p, 1, "ab");
	add_frame(&p, 2, "cd");
	cr_assert_eq(decode(&p, p.len, 0, frames, 2, &count), SLUICE_BAD_NONE);
	cr_assert_eq(count, 2);
	cr_assert_eq(frames[0].offset, 0);
	cr_assert_eq(frames[1].offset, 34);
}

Test(frame_decode, empty_payload_is_empty_payload)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[1];
	uint32_t count;

	cr_assert_eq(decode(&p, 0, BASE, frames, 1, &count), SLUICE_BAD_EMPTY_PAYLOAD);
	cr_assert_eq(count, 0);
}

Test(frame_decode, wrong_magic_in_first_frame_is_bad_magic)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "hello");
	add_frame(&p, 2, "world");
	p.bytes[0] = 'X';
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_MAGIC);
	cr_assert_eq(count, 0);
}

Test(frame_decode, wrong_second_magic_byte_is_bad_magic)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "hello");
	p.bytes[1] = 'N';
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_MAGIC);
	cr_assert_eq(count, 0);
}

Test(frame_decode, wrong_magic_in_second_frame_is_bad_magic_after_one_good)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "hello");
	add_frame(&p, 2, "world");
	add_frame(&p, 3, "again");
	p.bytes[37] = 'X';
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_MAGIC);
	cr_assert_eq(count, 1);
	cr_assert_eq(frames[0].offset, BASE);
	cr_assert_eq(frames[0].text_len, 5);
}

Test(frame_decode, wrong_version_is_bad_version)
{
	static const uint8_t versions[] = {0, 2, 0xff};

	for (size_t i = 0; i < sizeof(versions); i++) {
		struct payload p = {.len = 0};
		struct sluice_frame_ref frames[4];
		uint32_t count;

		add_frame(&p, 1, "hello");
		add_frame(&p, 2, "world");
		p.bytes[37 + SLUICE_WIRE_OFF_VERSION] = versions[i];
		cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_VERSION,
			     "version %u", versions[i]);
		cr_assert_eq(count, 1);
	}
}

Test(frame_decode, text_length_past_payload_is_bad_text_length)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "hello");
	add_frame(&p, 2, "world");
	sluice_be16_store(p.bytes + 37 + SLUICE_WIRE_OFF_TEXT_LEN, 6);
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_TEXT_LENGTH);
	cr_assert_eq(count, 1);

	sluice_be16_store(p.bytes + 37 + SLUICE_WIRE_OFF_TEXT_LEN, 0xffff);
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_TEXT_LENGTH);
	cr_assert_eq(count, 1);
}

Test(frame_decode, text_length_past_payload_in_first_frame_counts_none)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "hello");
	sluice_be16_store(p.bytes + SLUICE_WIRE_OFF_TEXT_LEN, 6);
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_TEXT_LENGTH);
	cr_assert_eq(count, 0);
}

Test(frame_decode, shorter_text_length_leaves_trailing_bytes)
{
	/* A text length one short makes the last text byte a 1-byte tail that does
	 * not start like a frame. */
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "hello");
	sluice_be16_store(p.bytes + SLUICE_WIRE_OFF_TEXT_LEN, 4);
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_TRAILING_BYTES);
	cr_assert_eq(count, 1);
	cr_assert_eq(frames[0].text_len, 4);
}

Test(frame_decode, truncated_header_after_a_frame_is_truncated_header)
{
	/* 1 to 31 bytes of a header ("S", "SM", "SM\x01" ...) after a good frame. */
	for (uint32_t cut = 1; cut < SLUICE_WIRE_HEADER_LEN; cut++) {
		struct payload p = {.len = 0};
		struct sluice_frame_ref frames[4];
		uint32_t count;

		add_frame(&p, 1, "hello");
		add_frame(&p, 2, "");
		p.len -= SLUICE_WIRE_HEADER_LEN - cut;
		cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count),
			     SLUICE_BAD_TRUNCATED_HEADER, "cut %u", cut);
		cr_assert_eq(count, 1, "cut %u", cut);
	}
}

Test(frame_decode, truncated_header_alone_is_truncated_header)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "");
	cr_assert_eq(decode(&p, 31, BASE, frames, 4, &count), SLUICE_BAD_TRUNCATED_HEADER);
	cr_assert_eq(count, 0);
	cr_assert_eq(decode(&p, 2, BASE, frames, 4, &count), SLUICE_BAD_TRUNCATED_HEADER);
	cr_assert_eq(count, 0);
	cr_assert_eq(decode(&p, 1, BASE, frames, 4, &count), SLUICE_BAD_TRUNCATED_HEADER);
	cr_assert_eq(count, 0);
}

Test(frame_decode, trailing_non_frame_bytes_are_trailing_bytes)
{
	static const char *tails[] = {"\0", "\0\0\0", "zz", "S?", "MS", "hello, world"};
	static const uint32_t lens[] = {1, 3, 2, 2, 2, 12};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct payload p = {.len = 0};
		struct sluice_frame_ref frames[4];
		uint32_t count;

		add_frame(&p, 1, "hello");
		add_frame(&p, 2, "world");
		add_bytes(&p, tails[i], lens[i]);
		cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_TRAILING_BYTES,
			     "tail %zu", i);
		cr_assert_eq(count, 2, "tail %zu", i);
	}
}

Test(frame_decode, short_non_frame_payload_is_trailing_bytes_with_no_frames)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_bytes(&p, "hello", 5);
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_TRAILING_BYTES);
	cr_assert_eq(count, 0);
}

Test(frame_decode, max_frames_empty_frames_are_accepted)
{
	static struct payload p;
	static struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
	uint32_t count;

	p.len = 0;
	for (uint32_t i = 0; i < SLUICE_MAX_FRAMES; i++)
		add_frame(&p, i, "");
	cr_assert_eq(decode(&p, p.len, BASE, frames, SLUICE_MAX_FRAMES, &count), SLUICE_BAD_NONE);
	cr_assert_eq(count, SLUICE_MAX_FRAMES);
	cr_assert_eq(frames[SLUICE_MAX_FRAMES - 1].offset,
		     BASE + (SLUICE_MAX_FRAMES - 1) * SLUICE_WIRE_HEADER_LEN);
}

Test(frame_decode, one_more_than_max_frames_is_too_many_frames)
{
	static struct payload p;
	static struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
	uint32_t count;

	p.len = 0;
	for (uint32_t i = 0; i < SLUICE_MAX_FRAMES + 1; i++)
		add_frame(&p, i, "");
	cr_assert_eq(p.len, (SLUICE_MAX_FRAMES + 1) * SLUICE_WIRE_HEADER_LEN);
	cr_assert_eq(decode(&p, p.len, BASE, frames, SLUICE_MAX_FRAMES, &count),
		     SLUICE_BAD_TOO_MANY_FRAMES);
	cr_assert_eq(count, SLUICE_MAX_FRAMES);
}

Test(frame_decode, max_argument_bounds_frames_written)
{
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[3];
	uint32_t count;

	memset(frames, 0xa5, sizeof(frames));
	add_frame(&p, 1, "a");
	add_frame(&p, 2, "b");
	add_frame(&p, 3, "c");
	cr_assert_eq(decode(&p, p.len, BASE, frames, 2, &count), SLUICE_BAD_TOO_MANY_FRAMES);
	cr_assert_eq(count, 2);
	cr_assert_eq(frames[2].offset, 0xa5a5a5a5);
}

Test(frame_decode, first_problem_wins_over_later_ones)
{
	/* Bad version in frame 2, bad magic in frame 3: the version is reported. */
	struct payload p = {.len = 0};
	struct sluice_frame_ref frames[4];
	uint32_t count;

	add_frame(&p, 1, "a");
	add_frame(&p, 2, "b");
	add_frame(&p, 3, "c");
	p.bytes[33 + SLUICE_WIRE_OFF_VERSION] = 7;
	p.bytes[66] = 0;
	cr_assert_eq(decode(&p, p.len, BASE, frames, 4, &count), SLUICE_BAD_VERSION);
	cr_assert_eq(count, 1);
}

Test(frame_decode, every_prefix_of_a_good_payload_has_its_exact_reason)
{
	struct payload p = {.len = 0};
	const char *texts[] = {"hello", "", "电话 13812345678", "xyz"};
	uint32_t bounds[5] = {0};

	for (int i = 0; i < 4; i++) {
		add_frame(&p, (uint64_t)i, texts[i]);
		bounds[i + 1] = p.len;
	}
	for (uint32_t len = 0; len <= p.len; len++) {
		struct sluice_frame_ref frames[4];
		uint32_t count, k = 0;

		while (k < 4 && bounds[k + 1] <= len)
			k++;
		uint32_t rem = len - bounds[k];
		enum sluice_bad_reason want;
		if (len == 0)
			want = SLUICE_BAD_EMPTY_PAYLOAD;
		else if (rem == 0)
			want = SLUICE_BAD_NONE;
		else if (rem < SLUICE_WIRE_HEADER_LEN)
			want = SLUICE_BAD_TRUNCATED_HEADER;
		else
			want = SLUICE_BAD_TEXT_LENGTH;
		cr_assert_eq(decode(&p, len, BASE, frames, 4, &count), want, "len %u", len);
		cr_assert_eq(count, k, "len %u", len);
		for (uint32_t i = 0; i < k; i++)
			cr_assert_eq(frames[i].offset, BASE + bounds[i]);
	}
}

/* Applying verdicts to a datagram in place (dataplane/verdict_apply.h): masking,
 * flagging and removing frames, then fixing lengths and checksums, over IPv4,
 * IPv6 and both with a VLAN tag.
 *
 * Most tests compare the rewritten packet with one built from scratch carrying
 * the expected messages: same bytes means same lengths, same untouched frames
 * and a checksum equal to a freshly computed one. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "inet_checksum.h"
#include "test_support.h"
#include "utf8.h"
#include "verdict_apply.h"
#include "wire_format.h"

#define PORT	   7700
#define PKT_CAP	   4096
#define MAX_FRAMES 8

struct dgram {
	uint8_t pkt[PKT_CAP];
	uint32_t len;
	struct sluice_packet_view view;
	struct sluice_frame_ref frames[MAX_FRAMES];
	uint32_t count;
};

static struct sluice_wire_message msg(uint64_t id, uint8_t flags, const char *text)
{
	struct sluice_wire_message m = ts_msg(id, text);

	m.flags = flags;
	return m;
}

static void parse(struct dgram *d)
{
	enum sluice_bad_reason why;

	cr_assert_eq(sluice_packet_classify(d->pkt, d->len, PORT, &d->view, &why),
		     SLUICE_PKT_MESSAGE);
	cr_assert_eq(sluice_frames_decode(d->pkt + d->view.payload_off, d->view.payload_len,
					  d->view.payload_off, d->frames, MAX_FRAMES, &d->count),
		     SLUICE_BAD_NONE);
}

static void build(struct dgram *d, bool ipv6, bool vlan, const struct sluice_wire_message *msgs,
		  unsigned n)
{
	memset(d, 0, sizeof(*d));
	d->len = (uint32_t)ts_build_datagram(d->pkt, PKT_CAP, ipv6, vlan, msgs, n);
	cr_assert_gt(d->len, 0);
	parse(d);
	cr_assert_eq(d->count, n);
	cr_assert(ts_checksums_valid(d->pkt, d->len));
}

/* The IP and UDP length fields describe a datagram that ends at end. */
static void expect_lengths(const struct dgram *d, uint32_t end)
{
	const uint8_t *ip = d->pkt + d->view.l3_off;
	const uint8_t *udp = d->pkt + d->view.l4_off;

	cr_assert_eq(sluice_be16_load(udp + 4), end - d->view.l4_off);
	cr_assert_eq(d->view.payload_off + d->view.payload_len, end);
	if (d->view.ipv6)
		cr_assert_eq(sluice_be16_load(ip + 4), end - d->view.l3_off - 40);
	else
		cr_assert_eq(sluice_be16_load(ip + 2), end - d->view.l3_off);
}

/* The rewritten packet is byte for byte the one built with msgs. */
static void expect_packet(const struct dgram *d, uint32_t len, bool ipv6, bool vlan,
			  const struct sluice_wire_message *msgs, unsigned n)
{
	struct dgram want;

	build(&want, ipv6, vlan, msgs, n);
	cr_assert_eq(len, want.len);
	cr_assert_arr_eq(d->pkt, want.pkt, want.len);
	cr_assert(ts_checksums_valid(d->pkt, len));
	expect_lengths(d, len);
}

/* Frame i of a is byte for byte frame j of b. */
static void expect_same_frame(const struct dgram *a, uint32_t i, const struct dgram *b, uint32_t j)
{
	cr_assert_eq(a->frames[i].text_len, b->frames[j].text_len);
	cr_assert_arr_eq(a->pkt + a->frames[i].offset, b->pkt + b->frames[j].offset,
			 SLUICE_WIRE_HEADER_LEN + a->frames[i].text_len);
}

static uint8_t flags_of(const struct dgram *d, uint32_t i)
{
	return d->pkt[d->frames[i].offset + SLUICE_WIRE_OFF_FLAGS];
}

static const uint8_t *text_of(const struct dgram *d, uint32_t i)
{
	return d->pkt + d->frames[i].offset + SLUICE_WIRE_HEADER_LEN;
}

/* The folded UDP checksum sum of the datagram: 0xffff when valid. */
static uint16_t udp_verify(const struct dgram *d)
{
	return sluice_udp_checksum_verify(d->pkt + d->view.l3_off, d->view.ipv6,
					  d->pkt + d->view.l4_off, d->view.payload_len + 8);
}

/* One test per encapsulation for a scenario fn(ipv6, vlan). */
#define FOR_EACH_ENCAP(name)                                                                       \
	Test(verdict_apply, name##_ipv4)                                                           \
	{                                                                                          \
		name(false, false);                                                                \
	}                                                                                          \
	Test(verdict_apply, name##_ipv6)                                                           \
	{                                                                                          \
		name(true, false);                                                                 \
	}                                                                                          \
	Test(verdict_apply, name##_vlan_ipv4)                                                      \
	{                                                                                          \
		name(false, true);                                                                 \
	}                                                                                          \
	Test(verdict_apply, name##_vlan_ipv6)                                                      \
	{                                                                                          \
		name(true, true);                                                                  \
	}

/* ---- masking ---- */

static void mask_ascii_span(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[3] = {msg(1, 0, "hello"), msg(2, 0, "call 13812345678 now"),
					    msg(3, 0, "bye")};
	struct sluice_wire_message out[3] = {
	    in[0], msg(2, SLUICE_WIRE_FLAG_MASKED, "call *********** now"), in[2]};
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 3);
	orig = d;
	sluice_frame_mask(d.pkt, &d.view, &d.frames[1], 5, 16, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);

	cr_assert_eq(flags_of(&d, 1), SLUICE_WIRE_FLAG_MASKED);
	cr_assert_arr_eq(text_of(&d, 1), "call *********** now", 20);
	expect_same_frame(&d, 0, &orig, 0);
	expect_same_frame(&d, 2, &orig, 2);
	expect_packet(&d, d.len, ipv6, vlan, out, 3);
}
FOR_EACH_ENCAP(mask_ascii_span)

static void mask_widens_to_whole_code_points(bool ipv6, bool vlan)
{
	/* 电 0..3, 话 3..6, 号 6..9, 码 9..12, 😀 12..16, "end" 16..19. The span
	 * [4, 14) starts inside 话 and ends inside 😀: [3, 16) is masked. The
	 * frame arrives with a reserved bit and the flagged bit set. */
	struct sluice_wire_message in[2] = {msg(1, 0x81, "电话号码😀end"), msg(2, 0, "next")};
	struct sluice_wire_message out[2] = {
	    msg(1, 0x81 | SLUICE_WIRE_FLAG_MASKED, "电*************end"), in[1]};
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 2);
	orig = d;
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 4, 14, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);

	cr_assert_eq(flags_of(&d, 0), 0x83);
	cr_assert_eq(d.frames[0].text_len, 19);
	cr_assert_eq(sluice_be16_load(d.pkt + d.frames[0].offset + SLUICE_WIRE_OFF_TEXT_LEN), 19);
	cr_assert_arr_eq(text_of(&d, 0), "电*************end", 19);
	cr_assert(sluice_utf8_valid(text_of(&d, 0), 19));
	expect_same_frame(&d, 1, &orig, 1);
	expect_packet(&d, d.len, ipv6, vlan, out, 2);
}
FOR_EACH_ENCAP(mask_widens_to_whole_code_points)

static void mask_of_one_chinese_byte_masks_three(bool ipv6, bool vlan)
{
	/* The middle byte of 中 alone: the whole character becomes "***". */
	struct sluice_wire_message in[1] = {msg(5, 0, "a中b")};
	struct sluice_wire_message out[1] = {msg(5, SLUICE_WIRE_FLAG_MASKED, "a***b")};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 1);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 2, 3, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, d.len, ipv6, vlan, out, 1);
}
FOR_EACH_ENCAP(mask_of_one_chinese_byte_masks_three)

static void mask_after_odd_length_frame(bool ipv6, bool vlan)
{
	/* Frame 1 starts 35 bytes into the payload: its text is at an odd offset
	 * from the UDP header, and the checksum must pair its bytes accordingly. */
	struct sluice_wire_message in[2] = {msg(1, 0, "odd"), msg(2, 0, "x 13812345678")};
	struct sluice_wire_message out[2] = {in[0],
					     msg(2, SLUICE_WIRE_FLAG_MASKED, "x ***********")};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 2);
	cr_assert_eq((d.frames[1].offset - d.view.l4_off) & 1, 1);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[1], 2, 13, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, d.len, ipv6, vlan, out, 2);
}
FOR_EACH_ENCAP(mask_after_odd_length_frame)

static void mask_overlapping_spans_twice(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[1] = {msg(1, 0, "abcdefghij")};
	struct sluice_wire_message out[1] = {msg(1, SLUICE_WIRE_FLAG_MASKED, "a******hij")};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 1);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 1, 5, &rw);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 3, 7, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, d.len, ipv6, vlan, out, 1);
}
FOR_EACH_ENCAP(mask_overlapping_spans_twice)

static void mask_end_past_text_is_clamped(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "abc😀"), msg(2, 0, "zz")};
	struct sluice_wire_message out[2] = {msg(1, SLUICE_WIRE_FLAG_MASKED, "ab*****"), in[1]};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 2);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 2, 1000, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, d.len, ipv6, vlan, out, 2);
}
FOR_EACH_ENCAP(mask_end_past_text_is_clamped)

static void mask_on_frame_that_arrived_masked(bool ipv6, bool vlan)
{
	/* A frame already marked masked (by a Sluice upstream) with a new span to
	 * mask: the flags byte does not change, the text does. */
	struct sluice_wire_message in[1] = {msg(1, SLUICE_WIRE_FLAG_MASKED, "call 13812345678")};
	struct sluice_wire_message out[1] = {msg(1, SLUICE_WIRE_FLAG_MASKED, "call ***********")};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 1);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 5, 16, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_arr_eq(text_of(&d, 0), "call ***********", 16);
	cr_assert(ts_checksums_valid(d.pkt, d.len), "UDP checksum not updated for the masked text");
	expect_packet(&d, d.len, ipv6, vlan, out, 1);
}
FOR_EACH_ENCAP(mask_on_frame_that_arrived_masked)

Test(verdict_apply, empty_mask_span_changes_nothing)
{
	struct sluice_wire_message in[1] = {msg(1, 0, "hello")};
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};

	build(&d, false, false, in, 1);
	orig = d;
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 3, 3, &rw);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 4, 2, &rw);
	cr_assert_not(rw.changed);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_arr_eq(d.pkt, orig.pkt, orig.len);
}

/* ---- flags ---- */

static void set_flagged_bit(bool ipv6, bool vlan)
{
	/* Frame 2 arrives with a reserved bit; it is kept. */
	struct sluice_wire_message in[3] = {msg(1, 0, "a"), msg(2, 0, "bb"), msg(3, 0x04, "ccc")};
	struct sluice_wire_message out[3] = {in[0], in[1],
					     msg(3, 0x04 | SLUICE_WIRE_FLAG_FLAGGED, "ccc")};
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 3);
	orig = d;
	cr_assert_eq((d.frames[2].offset + SLUICE_WIRE_OFF_FLAGS - d.view.l4_off) & 1, 0);
	sluice_frame_set_flags(d.pkt, &d.view, &d.frames[2], SLUICE_WIRE_FLAG_FLAGGED, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_eq(flags_of(&d, 2), 0x05);
	cr_assert_arr_eq(text_of(&d, 2), "ccc", 3);
	expect_same_frame(&d, 0, &orig, 0);
	expect_same_frame(&d, 1, &orig, 1);
	expect_packet(&d, d.len, ipv6, vlan, out, 3);
}
FOR_EACH_ENCAP(set_flagged_bit)

static void set_flagged_bit_at_odd_offset(bool ipv6, bool vlan)
{
	/* Frame 0's flags byte is 8 + 3 = 11 bytes into the UDP datagram. */
	struct sluice_wire_message in[2] = {msg(1, 0, "x"), msg(2, 0, "y")};
	struct sluice_wire_message out[2] = {msg(1, SLUICE_WIRE_FLAG_FLAGGED, "x"), in[1]};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 2);
	cr_assert_eq((d.frames[0].offset + SLUICE_WIRE_OFF_FLAGS - d.view.l4_off) & 1, 1);
	sluice_frame_set_flags(d.pkt, &d.view, &d.frames[0], SLUICE_WIRE_FLAG_FLAGGED, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, d.len, ipv6, vlan, out, 2);
}
FOR_EACH_ENCAP(set_flagged_bit_at_odd_offset)

Test(verdict_apply, setting_a_bit_already_set_changes_nothing)
{
	struct sluice_wire_message in[1] = {msg(1, SLUICE_WIRE_FLAG_FLAGGED, "hello")};
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};

	build(&d, true, true, in, 1);
	orig = d;
	sluice_frame_set_flags(d.pkt, &d.view, &d.frames[0], SLUICE_WIRE_FLAG_FLAGGED, &rw);
	cr_assert_not(rw.changed);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_arr_eq(d.pkt, orig.pkt, orig.len);
}

/* ---- removing frames ---- */

/* Removes the frames in mask `which` (bit i = frame i) from a datagram of msgs
 * and checks the result against a datagram of the rest. */
static void remove_and_expect(bool ipv6, bool vlan, const struct sluice_wire_message *msgs,
			      unsigned n, uint64_t which)
{
	struct sluice_wire_message rest[MAX_FRAMES];
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};
	unsigned kept = 0;

	for (unsigned i = 0; i < n; i++) {
		if (!((which >> i) & 1))
			rest[kept++] = msgs[i];
	}
	build(&d, ipv6, vlan, msgs, n);
	orig = d;
	uint32_t len =
	    sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, d.count, &which, &rw);
	cr_assert_neq(len, 0);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, len, ipv6, vlan, rest, kept);

	/* Each surviving frame is its original bytes, moved up. */
	d.len = len;
	parse(&d);
	cr_assert_eq(d.count, kept);
	for (unsigned i = 0, j = 0; i < n; i++) {
		if (!((which >> i) & 1))
			expect_same_frame(&d, j++, &orig, i);
	}
}

static const struct sluice_wire_message *three_msgs(void)
{
	static struct sluice_wire_message m[3];

	m[0] = msg(1, 0, "first message");
	m[1] = msg(2, 0x01, "第二条");
	m[2] = msg(3, 0, "third");
	return m;
}

static void remove_first_frame(bool ipv6, bool vlan)
{
	remove_and_expect(ipv6, vlan, three_msgs(), 3, 0x1);
}
FOR_EACH_ENCAP(remove_first_frame)

static void remove_middle_frame(bool ipv6, bool vlan)
{
	remove_and_expect(ipv6, vlan, three_msgs(), 3, 0x2);
}
FOR_EACH_ENCAP(remove_middle_frame)

static void remove_last_frame(bool ipv6, bool vlan)
{
	remove_and_expect(ipv6, vlan, three_msgs(), 3, 0x4);
}
FOR_EACH_ENCAP(remove_last_frame)

static void remove_first_and_last_frames(bool ipv6, bool vlan)
{
	remove_and_expect(ipv6, vlan, three_msgs(), 3, 0x5);
}
FOR_EACH_ENCAP(remove_first_and_last_frames)

static const struct sluice_wire_message *odd_even_msgs(void)
{
	static struct sluice_wire_message m[4];

	m[0] = msg(1, 0, "odd");     /* 3 */
	m[1] = msg(2, 0, "even");    /* 4 */
	m[2] = msg(3, 0, "seven77"); /* 7 */
	m[3] = msg(4, 0, "x");	     /* 1 */
	return m;
}

static void remove_odd_length_frame(bool ipv6, bool vlan)
{
	/* Frames after it move by 35 bytes: their bytes change pairing. */
	remove_and_expect(ipv6, vlan, odd_even_msgs(), 4, 0x1);
}
FOR_EACH_ENCAP(remove_odd_length_frame)

static void remove_even_length_frame(bool ipv6, bool vlan)
{
	remove_and_expect(ipv6, vlan, odd_even_msgs(), 4, 0x2);
}
FOR_EACH_ENCAP(remove_even_length_frame)

static void remove_frames_leaving_odd_payload(bool ipv6, bool vlan)
{
	/* Keeps "odd" and "x" (35 + 33 bytes; 36 + 39 removed), then "seven77"
	 * alone: 39 bytes, an odd UDP length. */
	remove_and_expect(ipv6, vlan, odd_even_msgs(), 4, 0x6);
	remove_and_expect(ipv6, vlan, odd_even_msgs(), 4, 0xb);
}
FOR_EACH_ENCAP(remove_frames_leaving_odd_payload)

static void remove_all_frames_returns_zero(bool ipv6, bool vlan)
{
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0x7;

	build(&d, ipv6, vlan, three_msgs(), 3);
	cr_assert_eq(sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, d.count, &which, &rw),
		     0);
	cr_assert_eq(d.view.payload_len, 0);
}
FOR_EACH_ENCAP(remove_all_frames_returns_zero)

Test(verdict_apply, remove_all_of_one_frame_returns_zero)
{
	struct sluice_wire_message in[1] = {msg(1, 0, "only")};
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 1;

	build(&d, false, false, in, 1);
	cr_assert_eq(sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 1, &which, &rw), 0);
}

Test(verdict_apply, remove_nothing_returns_datagram_end_unchanged)
{
	struct dgram d, orig;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0;

	build(&d, true, false, three_msgs(), 3);
	orig = d;
	cr_assert_eq(sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 3, &which, &rw),
		     orig.len);
	cr_assert_not(rw.changed);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_arr_eq(d.pkt, orig.pkt, orig.len);
}

Test(verdict_apply, remove_frame_beyond_64_uses_second_bitmap_word)
{
	static struct sluice_wire_message m[70];
	struct sluice_frame_ref frames[70];
	uint64_t which[2] = {0, 1ull << (66 - 64)};
	struct sluice_rewrite rw = {0};
	struct sluice_packet_view view;
	enum sluice_bad_reason why;
	static char texts[70][8];
	static uint8_t pkt[PKT_CAP], want[PKT_CAP];
	uint32_t count;

	for (int i = 0; i < 70; i++) {
		snprintf(texts[i], sizeof(texts[i]), "m%d", i);
		m[i] = msg((uint64_t)i, 0, texts[i]);
	}
	size_t len = ts_build_datagram(pkt, PKT_CAP, false, false, m, 70);
	cr_assert_gt(len, 0);
	cr_assert_eq(sluice_packet_classify(pkt, (uint32_t)len, PORT, &view, &why),
		     SLUICE_PKT_MESSAGE);
	cr_assert_eq(sluice_frames_decode(pkt + view.payload_off, view.payload_len,
					  view.payload_off, frames, 70, &count),
		     SLUICE_BAD_NONE);
	uint32_t new_len = sluice_datagram_remove_frames(pkt, &view, frames, count, which, &rw);
	sluice_datagram_finish(pkt, &view, &rw);

	memmove(&m[66], &m[67], 3 * sizeof(m[0]));
	size_t want_len = ts_build_datagram(want, PKT_CAP, false, false, m, 69);
	cr_assert_eq(new_len, want_len);
	cr_assert_arr_eq(pkt, want, want_len);
}

static void mask_then_remove_in_one_rewrite(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[3] = {msg(1, 0, "drop me"), msg(2, 0, "keep"),
					    msg(3, 0, "电话 13812345678")};
	struct sluice_wire_message out[2] = {in[1],
					     msg(3, SLUICE_WIRE_FLAG_MASKED, "电话 ***********")};
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0x1;

	build(&d, ipv6, vlan, in, 3);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[2], 7, 18, &rw);
	uint32_t len = sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 3, &which, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	expect_packet(&d, len, ipv6, vlan, out, 2);
}
FOR_EACH_ENCAP(mask_then_remove_in_one_rewrite)

static void remove_drops_ethernet_padding(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "a"), msg(2, 0, "b")};
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0x2;

	build(&d, ipv6, vlan, in, 2);
	uint32_t unpadded = d.len;
	memset(d.pkt + d.len, 0, 24);
	d.len += 24;
	parse(&d);
	uint32_t len = sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 2, &which, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_eq(len, unpadded - 33);
	expect_packet(&d, len, ipv6, vlan, in, 1);
}
FOR_EACH_ENCAP(remove_drops_ethernet_padding)

static void mask_keeps_ethernet_padding_outside_checksum(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[1] = {msg(1, 0, "x 13812345678")};
	struct sluice_wire_message out[1] = {msg(1, SLUICE_WIRE_FLAG_MASKED, "x ***********")};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 1);
	uint32_t unpadded = d.len;
	memset(d.pkt + d.len, 0xee, 16);
	d.len += 16;
	parse(&d);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 2, 13, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert(ts_checksums_valid(d.pkt, d.len));
	expect_packet(&d, unpadded, ipv6, vlan, out, 1);
	for (uint32_t i = unpadded; i < d.len; i++)
		cr_assert_eq(d.pkt[i], 0xee);
}
FOR_EACH_ENCAP(mask_keeps_ethernet_padding_outside_checksum)

Test(verdict_apply, remove_after_ipv6_extension_header_sets_payload_length)
{
	/* A hop-by-hop header between IPv6 and UDP: the payload length counts it. */
	static const uint8_t hbh[8] = {17, 0, 0x01, 0x04, 0, 0, 0, 0};
	struct sluice_wire_message in[2] = {msg(1, 0, "gone"), msg(2, 0, "stays")};
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0x1;

	memset(&d, 0, sizeof(d));
	d.len = (uint32_t)ts_build_datagram(d.pkt, PKT_CAP, true, false, in, 2);
	memmove(d.pkt + 62, d.pkt + 54, d.len - 54);
	memcpy(d.pkt + 54, hbh, 8);
	d.pkt[20] = 0;
	sluice_be16_store(d.pkt + 18, (uint16_t)(sluice_be16_load(d.pkt + 18) + 8));
	d.len += 8;
	parse(&d);
	cr_assert_eq(d.view.l4_off, 62);
	cr_assert_eq(udp_verify(&d), 0xffff);

	uint32_t len = sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 2, &which, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_eq(len, 62 + 8 + 32 + 5);
	cr_assert_eq(sluice_be16_load(d.pkt + 18), 8 + 8 + 32 + 5);
	cr_assert_eq(sluice_be16_load(d.pkt + 62 + 4), 8 + 32 + 5);
	cr_assert_eq(udp_verify(&d), 0xffff);
	cr_assert_arr_eq(d.pkt + 70 + 32, "stays", 5);
}

/* ---- checksums: "none" stays none, wrong stays wrong ---- */

static void build_without_udp_checksum(struct dgram *d, bool vlan,
				       const struct sluice_wire_message *msgs, unsigned n)
{
	uint8_t payload[PKT_CAP];
	size_t used = 0;
	struct sluice_endpoints ep;

	for (unsigned i = 0; i < n; i++)
		used += sluice_wire_frame_write(payload + used, sizeof(payload) - used, &msgs[i]);
	sluice_endpoints_default(&ep, false);
	ep.vlan = vlan;
	ep.vlan_id = 42;
	ep.no_udp_checksum = true;
	memset(d, 0, sizeof(*d));
	d->len = (uint32_t)sluice_udp_packet_build(d->pkt, PKT_CAP, &ep, payload, used);
	cr_assert_gt(d->len, 0);
	parse(d);
	cr_assert_eq(sluice_be16_load(d->pkt + d->view.l4_off + 6), 0);
}

static void ipv4_header_checksum_valid(const struct dgram *d)
{
	const uint8_t *ip = d->pkt + d->view.l3_off;

	cr_assert_eq(sluice_csum_fold(sluice_csum_add(0, ip, 20, false)), 0xffff);
}

Test(verdict_apply, ipv4_udp_checksum_zero_stays_zero_after_mask)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		struct sluice_wire_message in[2] = {msg(1, 0, "x 13812345678"), msg(2, 0, "y")};
		struct dgram d;
		struct sluice_rewrite rw = {0};

		build_without_udp_checksum(&d, vlan, in, 2);
		sluice_frame_mask(d.pkt, &d.view, &d.frames[0], 2, 13, &rw);
		sluice_datagram_finish(d.pkt, &d.view, &rw);
		cr_assert_eq(sluice_be16_load(d.pkt + d.view.l4_off + 6), 0);
		cr_assert_arr_eq(text_of(&d, 0), "x ***********", 13);
		cr_assert_eq(flags_of(&d, 0), SLUICE_WIRE_FLAG_MASKED);
		ipv4_header_checksum_valid(&d);
		cr_assert(ts_checksums_valid(d.pkt, d.len));
	}
}

Test(verdict_apply, ipv4_udp_checksum_zero_stays_zero_after_removal)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		struct sluice_wire_message in[3] = {msg(1, 0, "one"), msg(2, 0, "two"),
						    msg(3, 0, "three")};
		struct dgram d, want;
		struct sluice_rewrite rw = {0};
		uint64_t which = 0x2;

		build_without_udp_checksum(&d, vlan, in, 3);
		uint32_t len =
		    sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 3, &which, &rw);
		sluice_datagram_finish(d.pkt, &d.view, &rw);
		in[1] = in[2];
		build_without_udp_checksum(&want, vlan, in, 2);
		cr_assert_eq(len, want.len);
		cr_assert_arr_eq(d.pkt, want.pkt, want.len);
		cr_assert_eq(sluice_be16_load(d.pkt + d.view.l4_off + 6), 0);
		ipv4_header_checksum_valid(&d);
		expect_lengths(&d, len);
	}
}

static void corrupt_udp_checksum(struct dgram *d)
{
	uint8_t *c = d->pkt + d->view.l4_off + 6;

	sluice_be16_store(c, (uint16_t)(sluice_be16_load(c) ^ 0x1234));
	cr_assert_not(ts_checksums_valid(d->pkt, d->len));
}

static void wrong_udp_checksum_stays_wrong_after_mask(bool ipv6, bool vlan)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "hi"), msg(2, 0, "call 13812345678")};
	struct dgram d;
	struct sluice_rewrite rw = {0};

	build(&d, ipv6, vlan, in, 2);
	corrupt_udp_checksum(&d);
	uint16_t error_before = udp_verify(&d);
	sluice_frame_mask(d.pkt, &d.view, &d.frames[1], 5, 16, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_arr_eq(text_of(&d, 1), "call ***********", 16);
	cr_assert_not(ts_checksums_valid(d.pkt, d.len));
	cr_assert_eq(udp_verify(&d), error_before);
}
FOR_EACH_ENCAP(wrong_udp_checksum_stays_wrong_after_mask)

static void wrong_udp_checksum_stays_wrong_after_removal(bool ipv6, bool vlan)
{
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0x1;

	build(&d, ipv6, vlan, odd_even_msgs(), 4);
	corrupt_udp_checksum(&d);
	uint16_t error_before = udp_verify(&d);
	uint32_t len = sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 4, &which, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_eq(len, d.len - 35);
	expect_lengths(&d, len);
	cr_assert_not(ts_checksums_valid(d.pkt, len));
	cr_assert_eq(udp_verify(&d), error_before);
}
FOR_EACH_ENCAP(wrong_udp_checksum_stays_wrong_after_removal)

Test(verdict_apply, wrong_ipv4_header_checksum_stays_wrong_after_removal)
{
	struct dgram d;
	struct sluice_rewrite rw = {0};
	uint64_t which = 0x4;
	uint8_t *hc;

	build(&d, false, true, three_msgs(), 3);
	hc = d.pkt + d.view.l3_off + 10;
	sluice_be16_store(hc, (uint16_t)(sluice_be16_load(hc) + 1));
	uint16_t error_before =
	    sluice_csum_fold(sluice_csum_add(0, d.pkt + d.view.l3_off, 20, false));
	cr_assert_neq(error_before, 0xffff);
	sluice_datagram_remove_frames(d.pkt, &d.view, d.frames, 3, &which, &rw);
	sluice_datagram_finish(d.pkt, &d.view, &rw);
	cr_assert_eq(sluice_csum_fold(sluice_csum_add(0, d.pkt + d.view.l3_off, 20, false)),
		     error_before);
	cr_assert_eq(udp_verify(&d), 0xffff);
}

/* The stream store: bytes by sequence number, first wins, chunks back on
 * acknowledgement; and one direction's hold and release (tcp_half): judged
 * bytes only, in order, written from the store with checksums that stay
 * right. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "inet_checksum.h"
#include "stream_store.h"
#include "tcp_half.h"
#include "wire_format.h"

static struct sluice_chunk_pool pool;

static void pool_setup(void)
{
	cr_assert_eq(sluice_chunk_pool_init(&pool, 64, &sluice_libc_allocator), 0);
}

static void pool_teardown(void)
{
	sluice_chunk_pool_fini(&pool);
}

TestSuite(stream_store, .init = pool_setup, .fini = pool_teardown);

static void expect_bytes(const struct sluice_stream_store *s, uint32_t seq, const char *want)
{
	size_t len = strlen(want);
	uint8_t got[256];
	cr_assert(sluice_store_has(s, seq, (uint32_t)len), "bytes at %u missing", seq);
	sluice_store_read(s, &pool, seq, got, (uint32_t)len);
	cr_assert(memcmp(got, want, len) == 0, "at %u: '%.*s', want '%s'", seq, (int)len, got,
		  want);
}

static enum sluice_store_result put(struct sluice_stream_store *s, uint32_t seq, const char *text,
				    uint32_t *conflicts)
{
	return sluice_store_write(s, &pool, seq, (const uint8_t *)text, (uint32_t)strlen(text),
				  1u << 20, conflicts);
}

Test(stream_store, in_order_bytes_read_back_and_pool_pays_for_them)
{
	struct sluice_stream_store s;
	sluice_store_init(&s, 1000);
	cr_assert_eq(put(&s, 1000, "hello ", NULL), SLUICE_STORE_OK);
	cr_assert_eq(put(&s, 1006, "world", NULL), SLUICE_STORE_OK);
	cr_assert_eq(s.contig, 1011);
	expect_bytes(&s, 1000, "hello world");
	cr_assert_eq(pool.free, 63);
	sluice_store_clear(&s, &pool);
	cr_assert_eq(pool.free, 64);
	cr_assert_eq(s.base, 1011);
}

Test(stream_store, first_bytes_win_and_conflicts_are_counted)
{
	struct sluice_stream_store s;
	uint32_t conflicts = 0;
	sluice_store_init(&s, 0);
	cr_assert_eq(put(&s, 0, "good text", &conflicts), SLUICE_STORE_OK);
	/* An overlap that disagrees in three bytes and extends the stream. */
	cr_assert_eq(put(&s, 5, "BADt more", &conflicts), SLUICE_STORE_OK);
	cr_assert_eq(conflicts, 3);
	expect_bytes(&s, 0, "good text more");
}

Test(stream_store, out_of_order_ranges_join_when_the_gap_fills)
{
	struct sluice_stream_store s;
	sluice_store_init(&s, 100);
	cr_assert_eq(put(&s, 110, "KLMNO", NULL), SLUICE_STORE_OK);
	cr_assert_eq(put(&s, 120, "UVW", NULL), SLUICE_STORE_OK);
	cr_assert_eq(s.contig, 100);
	cr_assert_eq(s.ooo_count, 2);
	cr_assert(!sluice_store_has(&s, 100, 1));
	cr_assert(sluice_store_has(&s, 111, 3));
	cr_assert_eq(put(&s, 100, "ABCDEFGHIJ", NULL), SLUICE_STORE_OK);
	cr_assert_eq(s.contig, 115);
	cr_assert_eq(s.ooo_count, 1);
	cr_assert_eq(put(&s, 115, "PQRST", NULL), SLUICE_STORE_OK);
	cr_assert_eq(s.contig, 123);
	cr_assert_eq(s.ooo_count, 0);
	expect_bytes(&s, 100, "ABCDEFGHIJKLMNOPQRSTUVW");
}

Test(stream_store, a_fifth_out_of_order_range_is_refused_whole)
{
	struct sluice_stream_store s;
	sluice_store_init(&s, 0);
	for (uint32_t i = 1; i <= SLUICE_STORE_MAX_OOO; i++)
		cr_assert_eq(put(&s, i * 10, "x", NULL), SLUICE_STORE_OK);
	uint32_t free_before = pool.free;
	cr_assert_eq(put(&s, 100, "y", NULL), SLUICE_STORE_OOO_LIMIT);
	cr_assert(!sluice_store_has(&s, 100, 1));
	cr_assert_eq(pool.free, free_before);
	/* Filling a gap instead is fine: it merges ranges. */
	cr_assert_eq(put(&s, 11, "abcdefghi", NULL), SLUICE_STORE_OK);
	cr_assert_eq(s.ooo_count, SLUICE_STORE_MAX_OOO - 1);
}

Test(stream_store, the_byte_limit_and_an_empty_pool_refuse_without_change)
{
	struct sluice_stream_store s;
	uint8_t big[SLUICE_CHUNK_BYTES * 3];
	memset(big, 'a', sizeof(big));
	sluice_store_init(&s, 0);
	cr_assert_eq(sluice_store_write(&s, &pool, 0, big, 100, 64, NULL), SLUICE_STORE_TOO_FAR);
	cr_assert_eq(sluice_store_write(&s, &pool, 0, big, 64, 64, NULL), SLUICE_STORE_OK);
	cr_assert_eq(sluice_store_write(&s, &pool, 64, big, 1, 64, NULL), SLUICE_STORE_TOO_FAR);

	struct sluice_chunk_pool small;
	cr_assert_eq(sluice_chunk_pool_init(&small, 2, &sluice_libc_allocator), 0);
	struct sluice_stream_store t;
	sluice_store_init(&t, 5);
	cr_assert_eq(sluice_store_write(&t, &small, 5, big, sizeof(big), 1u << 20, NULL),
		     SLUICE_STORE_NO_MEMORY);
	cr_assert_eq(small.free, 2);
	cr_assert_eq(t.contig, 5);
	cr_assert_eq(sluice_store_write(&t, &small, 5, big, 2 * SLUICE_CHUNK_BYTES, 1u << 20, NULL),
		     SLUICE_STORE_OK);
	cr_assert_eq(small.free, 0);
	sluice_store_clear(&t, &small);
	cr_assert_eq(small.free, 2);
	sluice_chunk_pool_fini(&small);
}

Test(stream_store, acknowledged_chunks_return_and_old_bytes_are_ignored)
{
	struct sluice_stream_store s;
	uint8_t data[SLUICE_CHUNK_BYTES * 3];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)('a' + i % 26);
	sluice_store_init(&s, 7);
	cr_assert_eq(sluice_store_write(&s, &pool, 7, data, sizeof(data), 1u << 20, NULL),
		     SLUICE_STORE_OK);
	cr_assert_eq(s.chunks, 3);
	sluice_store_ack(&s, &pool, 7 + SLUICE_CHUNK_BYTES + 10);
	cr_assert_eq(s.chunks, 2);
	cr_assert_eq(s.base, 7 + SLUICE_CHUNK_BYTES);
	cr_assert(!sluice_store_has(&s, 7, 1));
	/* A retransmission of acknowledged bytes with other content changes nothing. */
	uint32_t conflicts = 0;
	cr_assert_eq(
	    sluice_store_write(&s, &pool, 7, (const uint8_t *)"ZZZZ", 4, 1u << 20, &conflicts),
	    SLUICE_STORE_OK);
	cr_assert_eq(conflicts, 0);
	uint8_t back[8];
	sluice_store_read(&s, &pool, 7 + SLUICE_CHUNK_BYTES, back, 8);
	cr_assert(memcmp(back, data + SLUICE_CHUNK_BYTES, 8) == 0);
	/* A chunk with bytes not yet acknowledged stays. */
	sluice_store_ack(&s, &pool, 7 + 3 * SLUICE_CHUNK_BYTES - 1);
	cr_assert_eq(s.chunks, 1);
	cr_assert(sluice_store_has(&s, 7 + 3 * SLUICE_CHUNK_BYTES - 1, 1));
	/* Nothing beyond contig is freed, whatever the acknowledgement says:
	 * an out-of-order byte keeps its chunk. */
	uint32_t far = 7 + 3 * SLUICE_CHUNK_BYTES + 100;
	cr_assert_eq(sluice_store_write(&s, &pool, far, data, 1, 1u << 20, NULL), SLUICE_STORE_OK);
	sluice_store_ack(&s, &pool, 7 + 10 * SLUICE_CHUNK_BYTES);
	cr_assert_eq(s.chunks, 1);
	cr_assert(sluice_store_has(&s, far, 1));
	cr_assert_eq(s.base, 7 + 3 * SLUICE_CHUNK_BYTES);
}

Test(stream_store, sequence_numbers_wrap)
{
	struct sluice_stream_store s;
	sluice_store_init(&s, UINT32_MAX - 3);
	cr_assert_eq(put(&s, UINT32_MAX - 3, "abcdef", NULL), SLUICE_STORE_OK);
	cr_assert_eq(put(&s, 6, "ghij", NULL), SLUICE_STORE_OK); /* out of order, past 0 */
	cr_assert_eq(s.ooo_count, 1);
	cr_assert_eq(put(&s, 2, "XXXX", NULL), SLUICE_STORE_OK);
	cr_assert_eq(s.contig, 10);
	expect_bytes(&s, UINT32_MAX - 3, "abcdefXXXXghij");
}

/* ---- one direction: hold, judge, release ---- */

#define HDR 4 /* checksum field and two bytes, then the payload */

struct pkt {
	uint8_t data[HDR + 1500];
	struct sluice_tcp_segment seg;
};

static uint16_t sum_of(const uint8_t *data, uint32_t len)
{
	return sluice_csum_fold(sluice_csum_add(0, data, len, false));
}

static void make_pkt(struct pkt *p, uint32_t seq, const char *payload, uint8_t flags)
{
	uint32_t len = (uint32_t)strlen(payload);
	memset(p, 0, sizeof(*p));
	memcpy(p->data + HDR, payload, len);
	p->data[2] = 0x12;
	p->data[3] = 0x34;
	/* The checksum covers the header and payload: valid when the sum is 0xffff. */
	sluice_be16_store(p->data, (uint16_t)~sum_of(p->data, HDR + len));
	p->seg = (struct sluice_tcp_segment){.pkt = p,
					     .data = p->data,
					     .seq = seq,
					     .payload_len = len,
					     .payload_off = HDR,
					     .csum_off = 0,
					     .flags = flags | SLUICE_TCP_ACK};
}

static bool checksum_ok(const struct sluice_tcp_segment *seg)
{
	return sum_of(seg->data, HDR + seg->payload_len) == 0xffff;
}

struct half_fixture {
	struct sluice_tcp_half h;
	struct sluice_held_pool held;
};

static struct half_fixture hf;

static void half_setup(void)
{
	pool_setup();
	cr_assert_eq(sluice_held_pool_init(&hf.held, 16, &sluice_libc_allocator), 0);
	sluice_tcp_half_init(&hf.h, 5000);
}

static void half_teardown(void)
{
	sluice_held_pool_fini(&hf.held);
	pool_teardown();
}

TestSuite(tcp_half, .init = half_setup, .fini = half_teardown);

static enum sluice_seg_action accept(struct pkt *p, enum sluice_seg_refusal *why)
{
	uint32_t conflicts = 0;
	return sluice_tcp_half_accept(&hf.h, &pool, &hf.held, &p->seg, 1u << 20, 1, why,
				      &conflicts);
}

Test(tcp_half, nothing_leaves_before_it_is_judged_then_all_leaves_in_order)
{
	static struct pkt a, b, c;
	enum sluice_seg_refusal why;
	make_pkt(&a, 5000, "{\"text\":\"call me", 0);
	make_pkt(&b, 5016, " at 13800138000\"}", 0);
	make_pkt(&c, 5033, "next", 0);
	cr_assert_eq(accept(&b, &why), SLUICE_SEG_HELD); /* out of order */
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	cr_assert_eq(accept(&c, &why), SLUICE_SEG_HELD);
	struct sluice_tcp_segment out[4];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 4), 0);

	/* The application masks across the segment boundary, then judges the
	 * first message. */
	const char *mask = "*****************"; /* "me at 13800138000" */
	sluice_store_overwrite(&hf.h.store, &pool, 5014, (const uint8_t *)mask, 17);
	sluice_tcp_half_judge(&hf.h, 5033);
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 4), 2);
	cr_assert_eq(out[0].pkt, &a);
	cr_assert_eq(out[1].pkt, &b);
	cr_assert(memcmp(a.data + HDR, "{\"text\":\"call **", 16) == 0);
	cr_assert(memcmp(b.data + HDR, "***************\"}", 17) == 0);
	cr_assert(checksum_ok(&a.seg) && checksum_ok(&b.seg));
	cr_assert_eq(hf.h.released, 5033);
	cr_assert_eq(hf.h.held_count, 1);
	sluice_tcp_half_judge(&hf.h, 5037);
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 4), 1);
	cr_assert_eq(out[0].pkt, &c);
}

Test(tcp_half, a_retransmission_of_released_bytes_carries_the_rewrite)
{
	static struct pkt a, again;
	enum sluice_seg_refusal why;
	make_pkt(&a, 5000, "secret word here", 0);
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	sluice_store_overwrite(&hf.h.store, &pool, 5007, (const uint8_t *)"****", 4);
	sluice_tcp_half_judge(&hf.h, 5016);
	struct sluice_tcp_segment out[2];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 2), 1);

	/* The sender never saw the rewrite: it sends its original bytes again,
	 * repacketised. */
	make_pkt(&again, 5004, "et word he", 0);
	cr_assert_eq(accept(&again, &why), SLUICE_SEG_FORWARD);
	cr_assert_eq(sluice_tcp_half_normalise(&hf.h, &pool, &again.seg), 4);
	cr_assert(memcmp(again.data + HDR, "et **** he", 10) == 0);
	cr_assert(checksum_ok(&again.seg));

	/* Once the receiver acknowledges, the bytes are gone from the store and
	 * a late copy passes as it is (the receiver discards it). */
	sluice_tcp_half_ack(&hf.h, &pool, 5016);
	cr_assert_eq(hf.h.acked, 5016);
	cr_assert_eq(hf.h.store.chunks, 1); /* less than a chunk acknowledged */
}

Test(tcp_half, bytes_in_custody_stay_owed_until_the_receiver_acknowledges_them)
{
	static struct pkt a, b;
	enum sluice_seg_refusal why;
	make_pkt(&a, 5000, "{\"text\":\"call me", 0);
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	cr_assert(!sluice_tcp_half_in_custody(&hf.h));
	/* The sender resends the held segment: Sluice acknowledges it. */
	cr_assert_eq(sluice_tcp_half_take_custody(&hf.h), 5016);
	cr_assert(sluice_tcp_half_in_custody(&hf.h));
	uint32_t from, end;
	cr_assert(!sluice_tcp_half_owed(&hf.h, 5000, &from, &end), "nothing left Sluice yet");

	make_pkt(&b, 5016, " at 13800138000\"}", 0);
	cr_assert_eq(accept(&b, &why), SLUICE_SEG_HELD);
	sluice_store_overwrite(&hf.h.store, &pool, 5022, (const uint8_t *)"***********", 11);
	sluice_tcp_half_judge(&hf.h, 5033);
	struct sluice_tcp_segment out[2];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 2), 2);
	/* Only what Sluice acknowledged is its to resend; the rest is the
	 * sender's. */
	cr_assert(sluice_tcp_half_owed(&hf.h, 5000, &from, &end));
	cr_assert_eq(from, 5000);
	cr_assert_eq(end, 5016);
	sluice_tcp_half_ack(&hf.h, &pool, 5010);
	cr_assert(sluice_tcp_half_owed(&hf.h, 5010, &from, &end));
	cr_assert_eq(from, 5010);
	cr_assert(!sluice_tcp_half_owed(&hf.h, 5004, &from, &end), "an old ACK asks nothing");
	uint8_t bytes[6];
	sluice_store_read(&hf.h.store, &pool, from, bytes, end - from);
	cr_assert(memcmp(bytes, "all me", 6) == 0, "the store keeps them");
	sluice_tcp_half_ack(&hf.h, &pool, 5033);
	cr_assert(!sluice_tcp_half_in_custody(&hf.h));
	cr_assert(!sluice_tcp_half_owed(&hf.h, 5033, &from, &end));
	/* Taking custody again with nothing held acknowledges nothing new. */
	cr_assert_eq(sluice_tcp_half_take_custody(&hf.h), 5033);
	cr_assert(!sluice_tcp_half_in_custody(&hf.h));
}

Test(tcp_half, a_conflicting_overlap_is_sent_as_first_stored)
{
	static struct pkt a, evil;
	enum sluice_seg_refusal why;
	make_pkt(&a, 5000, "hello friend", 0);
	make_pkt(&evil, 5006, "WECHAT", 0); /* the same range, other bytes */
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	uint32_t conflicts = 0;
	cr_assert_eq(sluice_tcp_half_accept(&hf.h, &pool, &hf.held, &evil.seg, 1u << 20, 1, &why,
					    &conflicts),
		     SLUICE_SEG_DROP);
	cr_assert_eq(why, SLUICE_SEG_DUPLICATE);
	cr_assert_eq(conflicts, 0); /* refused before it reached the store */

	/* A partial overlap is held and normalised to the first bytes. */
	static struct pkt over;
	make_pkt(&over, 5006, "FRIEND!!", 0);
	cr_assert_eq(sluice_tcp_half_accept(&hf.h, &pool, &hf.held, &over.seg, 1u << 20, 1, &why,
					    &conflicts),
		     SLUICE_SEG_HELD);
	cr_assert_eq(conflicts, 6);
	sluice_tcp_half_judge(&hf.h, 5014);
	struct sluice_tcp_segment out[2];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 2), 2);
	cr_assert(memcmp(over.data + HDR, "friend!!", 8) == 0);
	cr_assert(checksum_ok(&over.seg));
}

Test(tcp_half, a_bad_checksum_stays_bad_after_a_rewrite)
{
	static struct pkt a;
	enum sluice_seg_refusal why;
	make_pkt(&a, 5000, "mask me", 0);
	a.data[0] ^= 0x01;
	uint16_t bad_sum = sum_of(a.data, HDR + a.seg.payload_len);
	cr_assert_neq(bad_sum, 0xffff);
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	sluice_store_overwrite(&hf.h.store, &pool, 5005, (const uint8_t *)"**", 2);
	sluice_tcp_half_judge(&hf.h, 5007);
	struct sluice_tcp_segment out[1];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 1), 1);
	cr_assert(memcmp(a.data + HDR, "mask **", 7) == 0);
	/* An incremental update keeps the sum over the segment: still as wrong
	 * as it arrived. */
	cr_assert_eq(sum_of(a.data, HDR + a.seg.payload_len), bad_sum);
}

Test(tcp_half, fin_waits_for_the_bytes_before_it_and_data_after_it_is_refused)
{
	static struct pkt a, fin, late;
	enum sluice_seg_refusal why;
	make_pkt(&a, 5000, "last words", 0);
	make_pkt(&fin, 5010, "", SLUICE_TCP_FIN);
	cr_assert_eq(accept(&fin, &why), SLUICE_SEG_HELD);
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	make_pkt(&late, 5010, "more", 0);
	cr_assert_eq(accept(&late, &why), SLUICE_SEG_DROP);
	cr_assert_eq(why, SLUICE_SEG_AFTER_FIN);
	sluice_tcp_half_judge(&hf.h, 5010);
	struct sluice_tcp_segment out[4];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 4), 2);
	cr_assert_eq(out[0].pkt, &a);
	cr_assert_eq(out[1].pkt, &fin);
	/* A retransmitted FIN after it went out passes. */
	static struct pkt fin2;
	make_pkt(&fin2, 5010, "", SLUICE_TCP_FIN);
	cr_assert_eq(accept(&fin2, &why), SLUICE_SEG_FORWARD);
}

Test(tcp_half, limits_refuse_by_reason_and_drop_held_returns_everything)
{
	static struct pkt p[20];
	enum sluice_seg_refusal why;
	uint32_t conflicts = 0;
	make_pkt(&p[0], 5000, "0123456789", 0);
	cr_assert_eq(
	    sluice_tcp_half_accept(&hf.h, &pool, &hf.held, &p[0].seg, 8, 1, &why, &conflicts),
	    SLUICE_SEG_DROP);
	cr_assert_eq(why, SLUICE_SEG_FLOW_BYTES);
	for (uint32_t i = 0; i < 16; i++) {
		make_pkt(&p[i], 5000 + i * 2, "ab", 0);
		cr_assert_eq(accept(&p[i], &why), SLUICE_SEG_HELD);
	}
	make_pkt(&p[16], 5032, "cd", 0);
	cr_assert_eq(accept(&p[16], &why), SLUICE_SEG_DROP);
	cr_assert_eq(why, SLUICE_SEG_NO_MEMORY); /* 16 held records */
	cr_assert_eq(hf.h.held_bytes, 32);

	struct sluice_tcp_segment out[10];
	uint32_t n = sluice_tcp_half_drop_held(&hf.h, &pool, &hf.held, out, 10);
	cr_assert_eq(n, 10);
	cr_assert_eq(pool.free, 63); /* still holding the rest */
	n = sluice_tcp_half_drop_held(&hf.h, &pool, &hf.held, out, 10);
	cr_assert_eq(n, 6);
	cr_assert_eq(out[5].pkt, &p[15]);
	cr_assert_eq(hf.held.free, 16);
	cr_assert_eq(pool.free, 64);
}

/* Random segmentation, duplication, reordering and conflicting copies of one
 * stream: what leaves is exactly the first copy of every byte (with the
 * rewrites), each leaving packet's checksum is valid, and nothing leaves
 * unjudged. */
Test(tcp_half, random_segments_leave_as_first_stored_and_judged)
{
	enum { LEN = 6000, SEGS = 400 };
	static uint8_t stream[LEN], seen_first[LEN], sent[LEN];
	static struct pkt pkts[SEGS];
	static bool have[LEN];
	srand(12345);
	sluice_held_pool_fini(&hf.held);
	cr_assert_eq(sluice_held_pool_init(&hf.held, SEGS, &sluice_libc_allocator), 0);
	for (int i = 0; i < LEN; i++)
		stream[i] = (uint8_t)('a' + rand() % 26);
	memset(have, 0, sizeof(have));
	memset(sent, 0, sizeof(sent));
	uint32_t judged = 0, outputs = 0;
	/* The stream cut in order, with retransmissions of nearby ranges
	 * (a quarter of their bytes different), then locally reordered. */
	uint32_t offs[SEGS], lens[SEGS], count = 0, pos = 0;
	while (count < SEGS && pos < LEN) {
		uint32_t len = 1 + (uint32_t)(rand() % 200);
		if (pos + len > LEN)
			len = LEN - pos;
		offs[count] = pos;
		lens[count++] = len;
		pos += len;
		if (count < SEGS && rand() % 3 == 0) {
			uint32_t back = (uint32_t)(rand() % 400);
			uint32_t o = pos > back ? pos - back : 0;
			uint32_t l = 1 + (uint32_t)(rand() % 300);
			offs[count] = o;
			lens[count++] = o + l > LEN ? LEN - o : l;
		}
	}
	for (uint32_t i = 0; i + 1 < count; i++)
		if (rand() % 4 == 0) {
			uint32_t t = offs[i];
			offs[i] = offs[i + 1];
			offs[i + 1] = t;
			t = lens[i];
			lens[i] = lens[i + 1];
			lens[i + 1] = t;
		}
	for (uint32_t k = 0; k < count; k++) {
		uint32_t off = offs[k], len = lens[k];
		char buf[301];
		for (uint32_t i = 0; i < len; i++)
			buf[i] = rand() % 4 == 0 ? 'X' : (char)stream[off + i]; /* conflicting */
		buf[len] = 0;
		make_pkt(&pkts[k], 5000 + off, buf, 0);
		enum sluice_seg_refusal why;
		uint32_t conflicts = 0;
		enum sluice_seg_action a = sluice_tcp_half_accept(
		    &hf.h, &pool, &hf.held, &pkts[k].seg, 1u << 20, k, &why, &conflicts);
		cr_assert(a != SLUICE_SEG_DROP || why == SLUICE_SEG_DUPLICATE ||
			      why == SLUICE_SEG_OOO_LIMIT,
			  "segment %u refused: %d", k, why);
		if (a == SLUICE_SEG_HELD)
			for (uint32_t i = 0; i < len; i++)
				if (!have[off + i]) {
					have[off + i] = true;
					seen_first[off + i] = (uint8_t)buf[i];
				}
		if (a == SLUICE_SEG_FORWARD) {
			sluice_tcp_half_normalise(&hf.h, &pool, &pkts[k].seg);
			cr_assert(checksum_ok(&pkts[k].seg));
		}
		/* Judge whatever is contiguous, now and then. */
		if (rand() % 3 == 0) {
			judged = hf.h.store.contig - 5000;
			sluice_tcp_half_judge(&hf.h, 5000 + judged);
		}
		struct sluice_tcp_segment out[SEGS];
		uint32_t n = sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, SEGS);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t o = out[i].seq - 5000;
			cr_assert(o + out[i].payload_len <= judged, "unjudged bytes left");
			cr_assert(checksum_ok(&out[i]));
			for (uint32_t j = 0; j < out[i].payload_len; j++) {
				cr_assert_eq(out[i].data[HDR + j], seen_first[o + j],
					     "byte %u left as %c, first stored %c", o + j,
					     out[i].data[HDR + j], seen_first[o + j]);
				sent[o + j] = 1;
			}
		}
		outputs += n;
	}
	/* Judge the rest: everything held leaves, and every byte left once at
	 * least. */
	sluice_tcp_half_judge(&hf.h, hf.h.store.contig);
	struct sluice_tcp_segment out[SEGS];
	outputs += sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, SEGS);
	cr_assert_eq(hf.h.held_count, 0);
	cr_assert_eq(hf.h.store.contig, 5000 + LEN);
	cr_assert_gt(outputs, count / 2);
}

/* A retransmission carries the sender's original bytes over bytes Sluice
 * masked: that is not a conflicting copy. */
Test(tcp_half, sluices_own_rewrites_are_not_counted_as_conflicts)
{
	static struct pkt a, again;
	enum sluice_seg_refusal why;
	uint32_t conflicts = 0;
	make_pkt(&a, 5000, "secret word", 0);
	cr_assert_eq(accept(&a, &why), SLUICE_SEG_HELD);
	sluice_store_overwrite(&hf.h.store, &pool, 5007, (const uint8_t *)"****", 4);
	sluice_tcp_half_judge(&hf.h, 5011);
	struct sluice_tcp_segment out[1];
	cr_assert_eq(sluice_tcp_half_release(&hf.h, &pool, &hf.held, out, 1), 1);
	/* Repacketised: the old bytes and three new ones, one of them not what
	 * a first copy said (there is none), so nothing conflicts. */
	make_pkt(&again, 5004, "et word abc", 0);
	cr_assert_eq(sluice_tcp_half_accept(&hf.h, &pool, &hf.held, &again.seg, 1u << 20, 1, &why,
					    &conflicts),
		     SLUICE_SEG_HELD);
	cr_assert_eq(conflicts, 0);
	/* A copy that differs in bytes not judged yet is counted. */
	static struct pkt evil;
	make_pkt(&evil, 5012, "xyzQQ", 0);
	cr_assert_eq(sluice_tcp_half_accept(&hf.h, &pool, &hf.held, &evil.seg, 1u << 20, 1, &why,
					    &conflicts),
		     SLUICE_SEG_HELD);
	cr_assert_eq(conflicts, 3); /* "abc" against "xyz" */
}

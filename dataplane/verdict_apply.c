#include "verdict_apply.h"

#include <string.h>

#include "inet_checksum.h"
#include "utf8.h"
#include "wire_format.h"

/* Odd offsets from the UDP header pair their bytes the other way round. */
static bool odd_in_udp(const struct sluice_packet_view *view, uint32_t pkt_off)
{
	return ((pkt_off - view->l4_off) & 1) != 0;
}

void sluice_frame_mask(uint8_t *pkt, const struct sluice_packet_view *view,
		       const struct sluice_frame_ref *frame, uint32_t from, uint32_t to,
		       struct sluice_rewrite *rw)
{
	uint32_t text_off = frame->offset + SLUICE_WIRE_HEADER_LEN;
	uint8_t *text = pkt + text_off;

	if (to > frame->text_len)
		to = frame->text_len;
	if (from >= to)
		return;
	sluice_utf8_widen(text, frame->text_len, &from, &to);
	bool odd = odd_in_udp(view, text_off + from);
	rw->old_sum = sluice_csum_add(rw->old_sum, text + from, to - from, odd);
	memset(text + from, '*', to - from);
	rw->new_sum = sluice_csum_add(rw->new_sum, text + from, to - from, odd);
	rw->changed = true;
	sluice_frame_set_flags(pkt, view, frame, SLUICE_WIRE_FLAG_MASKED, rw);
}

void sluice_frame_set_flags(uint8_t *pkt, const struct sluice_packet_view *view,
			    const struct sluice_frame_ref *frame, uint8_t bits,
			    struct sluice_rewrite *rw)
{
	uint32_t off = frame->offset + SLUICE_WIRE_OFF_FLAGS;
	uint8_t *flags = pkt + off;
	if ((*flags & bits) == bits)
		return;
	bool odd = odd_in_udp(view, off);
	rw->old_sum = sluice_csum_add(rw->old_sum, flags, 1, odd);
	*flags |= bits;
	rw->new_sum = sluice_csum_add(rw->new_sum, flags, 1, odd);
	rw->changed = true;
}

static bool is_removed(const uint64_t *removed, uint32_t i)
{
	return (removed[i / 64] >> (i % 64)) & 1;
}

uint32_t sluice_datagram_remove_frames(uint8_t *pkt, struct sluice_packet_view *view,
				       const struct sluice_frame_ref *frames, uint32_t count,
				       const uint64_t *removed, struct sluice_rewrite *rw)
{
	uint32_t first = count;
	for (uint32_t i = 0; i < count; i++) {
		if (is_removed(removed, i)) {
			first = i;
			break;
		}
	}
	uint32_t end = view->payload_off + view->payload_len;
	if (first == count)
		return end;

	/* Everything from the first removed frame on moves, so that tail is what the
	 * checksum has to be told about, as it was and as it becomes. */
	uint32_t start = frames[first].offset;
	bool odd = odd_in_udp(view, start);
	rw->old_sum = sluice_csum_add(rw->old_sum, pkt + start, end - start, odd);

	uint32_t write = start;
	for (uint32_t i = first; i < count; i++) {
		if (is_removed(removed, i))
			continue;
		uint32_t len = SLUICE_WIRE_HEADER_LEN + frames[i].text_len;
		memmove(pkt + write, pkt + frames[i].offset, len);
		write += len;
	}
	rw->new_sum = sluice_csum_add(rw->new_sum, pkt + start, write - start, odd);
	rw->changed = true;
	view->payload_len = write - view->payload_off;
	return view->payload_len == 0 ? 0 : write;
}

void sluice_datagram_finish(uint8_t *pkt, const struct sluice_packet_view *view,
			    struct sluice_rewrite *rw)
{
	if (!rw->changed)
		return;
	uint8_t *ip = pkt + view->l3_off;
	uint8_t *udp = pkt + view->l4_off;
	uint16_t old_udp_len = sluice_be16_load(udp + 4);
	uint16_t new_udp_len = (uint16_t)(view->payload_len + 8);

	if (new_udp_len != old_udp_len) {
		sluice_be16_store(udp + 4, new_udp_len);
		/* The length counts twice: in the pseudo-header and in the UDP header. */
		for (int i = 0; i < 2; i++) {
			rw->old_sum = sluice_csum_add_word(rw->old_sum, old_udp_len);
			rw->new_sum = sluice_csum_add_word(rw->new_sum, new_udp_len);
		}
		if (view->ipv6) {
			sluice_be16_store(
			    ip + 4, (uint16_t)(view->l4_off + new_udp_len - view->l3_off - 40));
		} else {
			uint16_t old_total = sluice_be16_load(ip + 2);
			uint16_t new_total = (uint16_t)(view->l4_off - view->l3_off + new_udp_len);
			sluice_be16_store(ip + 2, new_total);
			uint16_t hc = sluice_be16_load(ip + 10);
			sluice_be16_store(ip + 10, sluice_csum_update(hc, old_total, new_total));
		}
	}
	uint16_t uc = sluice_be16_load(udp + 6);
	if (!view->ipv6 && uc == 0)
		return; /* sender chose no checksum */
	uc = sluice_csum_update(uc, sluice_csum_fold(rw->old_sum), sluice_csum_fold(rw->new_sum));
	sluice_be16_store(udp + 6, uc == 0 ? 0xffff : uc);
	rw->changed = false;
}

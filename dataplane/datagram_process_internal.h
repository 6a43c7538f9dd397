/* The steps of sluice_packet_process(), shared with burst_process.c, which
 * validates the frames of a whole burst, scans them together and then applies
 * each frame's verdict with the same code.
 *
 * Contract: for one datagram, sluice_frame_text_check() then (unless bad) a
 * scan and sluice_frame_verdict() for each frame, in any order across frames
 * and datagrams, then sluice_datagram_settle() once with every frame's
 * outcome, all with the datagram's own struct sluice_rewrite.
 */
#ifndef SLUICE_DATAPLANE_DATAGRAM_PROCESS_INTERNAL_H
#define SLUICE_DATAPLANE_DATAGRAM_PROCESS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "datagram_process.h"
#include "verdict_apply.h"

enum sluice_frame_outcome {
	SLUICE_FRAME_KEPT = 0,
	SLUICE_FRAME_BLOCKED,
	SLUICE_FRAME_BAD,
};

/* Pushes an event; a full ring costs the event (counted), or with
 * --events-full wait a bounded wait first. */
void sluice_emit_event(struct sluice_packet_ctx *ctx, const struct sluice_event *ev);

/* Longest matched text whose hash is taken folded (longer: as written). */
#define SLUICE_EVENT_FOLD_MAX 1024u

/* Pushes a MATCH event after setting its text hash from text[from, to) (the
 * text as scanned; folded by the event's pack's table, up to
 * SLUICE_EVENT_FOLD_MAX bytes) and, with ctx->event_snippet, pushing that
 * text's first bytes, as written and cut before a character, in the slot
 * after it. */
void sluice_emit_match(struct sluice_packet_ctx *ctx, struct sluice_event *ev, const uint8_t *text,
		       uint32_t text_len);

/* One hit per span of set, in this worker's row. */
void sluice_count_hits(uint64_t *hits, const struct sluice_match_set *set);

/* Counts bad input and emits its event unless the policy is quiet. header is
 * the frame whose ids the event carries, or NULL when none could be read;
 * pkt (len bytes, classified into view) names the sender, or is NULL. */
void sluice_report_bad(struct sluice_packet_ctx *ctx, enum sluice_bad_reason reason,
		       const uint8_t *header, const uint8_t *pkt, uint32_t len,
		       const struct sluice_packet_view *view);

enum sluice_text_check {
	SLUICE_TEXT_OK,
	SLUICE_TEXT_REPAIRED, /* invalid, repaired under policy replace: report, then scan */
	SLUICE_TEXT_BAD,      /* invalid: report, and the frame is bad input */
};

/* Validates the frame's text as UTF-8, or repairs it under policy replace
 * (recording the change in rw). Reports nothing: the caller reports
 * invalid_utf8 when the answer is not OK, in the order its events need.
 * Unless BAD, *ascii says whether the text to scan is all ASCII. */
enum sluice_text_check sluice_frame_text_check(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					       const struct sluice_packet_view *view,
					       const struct sluice_frame_ref *frame,
					       struct sluice_rewrite *rw, bool *ascii);

/* Whether a scanned frame is one no pack acts on (nearly every frame): it is
 * kept as it is, nothing is reported, and a caller may count such frames in
 * bulk with sluice_count_unacted() instead of calling sluice_frame_verdict()
 * on each. */
static inline bool sluice_frame_unacted(const struct sluice_match_set *set,
					const struct sluice_match_set *urgent, hs_error_t rc)
{
	return rc == HS_SUCCESS && set->verdict == SLUICE_ACTION_NONE &&
	       (urgent == NULL || urgent->verdict == SLUICE_ACTION_NONE);
}

static inline void sluice_count_unacted(struct sluice_worker_stats *st, uint64_t frames,
					uint64_t text_bytes)
{
	st->messages += frames;
	st->bytes_scanned += text_bytes;
	st->verdicts[SLUICE_ACTION_NONE] += frames;
}

/* Counts the scanned frame, reports its matches and applies its combined
 * verdict (mask, flag) in place; removal is left to settle(). urgent is NULL
 * when the generation has no urgent pack; rc is the scan's result. */
enum sluice_frame_outcome sluice_frame_verdict(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					       const struct sluice_packet_view *view,
					       const struct sluice_frame_ref *frame,
					       const struct sluice_match_set *set,
					       const struct sluice_match_set *urgent, hs_error_t rc,
					       struct sluice_rewrite *rw);

/* Removes blocked and bad frames, finishes checksums and returns the fate. */
enum sluice_packet_fate sluice_datagram_settle(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					       uint32_t *len, struct sluice_packet_view *view,
					       const struct sluice_frame_ref *frames,
					       const uint8_t *outcome, uint32_t count,
					       struct sluice_rewrite *rw);

/* The header of the frame decoding stopped at, if all 32 bytes of it are there
 * and it starts like a frame, so a bad-input event can name its message. */
const uint8_t *sluice_failed_frame_header(const uint8_t *pkt, const struct sluice_decoded *d);

#endif

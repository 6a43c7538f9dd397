/* Wire format version 1 of chat/comment messages (docs/wire-format.md).
 *
 * A UDP datagram to the message port carries one or more frames back to back
 * that exactly fill its payload. All integers are big-endian. This header is
 * the single definition of the layout, shared by the decoder, the verdict code,
 * the traffic generator and the tests.
 */
#ifndef SLUICE_DATAPLANE_WIRE_FORMAT_H
#define SLUICE_DATAPLANE_WIRE_FORMAT_H

#include <stdint.h>

#define SLUICE_WIRE_MAGIC0	 0x53 /* 'S' */
#define SLUICE_WIRE_MAGIC1	 0x4D /* 'M' */
#define SLUICE_WIRE_VERSION	 1
#define SLUICE_WIRE_HEADER_LEN	 32
#define SLUICE_WIRE_FLAG_FLAGGED 0x01
#define SLUICE_WIRE_FLAG_MASKED	 0x02
#define SLUICE_WIRE_DEFAULT_PORT 7700

/* Offsets within a frame header. */
#define SLUICE_WIRE_OFF_MAGIC	   0
#define SLUICE_WIRE_OFF_VERSION	   2
#define SLUICE_WIRE_OFF_FLAGS	   3
#define SLUICE_WIRE_OFF_TEXT_LEN   4
#define SLUICE_WIRE_OFF_RESERVED   6
#define SLUICE_WIRE_OFF_MSG_ID	   8
#define SLUICE_WIRE_OFF_CHANNEL_ID 16
#define SLUICE_WIRE_OFF_USER_ID	   24

static inline uint16_t sluice_be16_load(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t sluice_be32_load(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void sluice_be32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint64_t sluice_be64_load(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static inline void sluice_be16_store(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void sluice_be64_store(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

#endif

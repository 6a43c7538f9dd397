/* The TCP options the stream layer reads and writes: the MSS and
 * SACK-permitted (on SYNs), SACK blocks, timestamps and the window scale.
 *
 * Contract: reads only opt[0..len); a malformed option list (a length below 2
 * or past the end) stops the walk and sets malformed, keeping what was read
 * before it.
 */
#ifndef SLUICE_WIRE_TCP_OPTIONS_H
#define SLUICE_WIRE_TCP_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

struct sluice_tcp_options {
	bool sack_permitted;
	bool timestamps;
	bool window_scale;
	bool malformed;
	uint8_t shift;	     /* window scale */
	uint8_t sack_blocks; /* in a SACK option */
	uint16_t mss;	     /* 0: no MSS option */
	uint32_t tsval, tsecr;
};

void sluice_tcp_options_parse(const uint8_t *opt, uint32_t len, struct sluice_tcp_options *out);

#endif

#include "tcp_options.h"

#include <string.h>

#include "wire_format.h"

void sluice_tcp_options_parse(const uint8_t *opt, uint32_t len, struct sluice_tcp_options *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t i = 0;
	while (i < len) {
		uint8_t kind = opt[i];
		if (kind == 0) /* end of options */
			return;
		if (kind == 1) { /* no-operation */
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len) {
			out->malformed = true;
			return;
		}
		uint8_t olen = opt[i + 1];
		if (kind == 2 && olen == 4) {
			out->mss = sluice_be16_load(opt + i + 2);
		} else if (kind == 3 && olen == 3) {
			out->window_scale = true;
			out->shift = opt[i + 2];
		} else if (kind == 4 && olen == 2) {
			out->sack_permitted = true;
		} else if (kind == 5 && olen >= 10 && (olen - 2) % 8 == 0) {
			out->sack_blocks = (uint8_t)((olen - 2) / 8);
		} else if (kind == 8 && olen == 10) {
			out->timestamps = true;
			out->tsval = sluice_be32_load(opt + i + 2);
			out->tsecr = sluice_be32_load(opt + i + 6);
		}
		i += olen;
	}
}

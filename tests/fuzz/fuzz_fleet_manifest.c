/* libFuzzer harness: the fleet's key-value values (fleet_store.h) as a
 * stranger with write access to the bucket, or a damaged store, may leave
 * them: a target manifest, which every gateway parses before it fetches a
 * pack, and a gateway's status, which sluicectl fleet parses.
 *
 * Feeds: byte 0 picks the parser (even: a target, odd: a status); the rest
 * is the value.
 *
 * Oracle (each violation calls abort()):
 * - a refusal says why (a non-empty message);
 * - what parses, formatted again and parsed again, is the same value, field
 *   for field: format and parse agree on every field a gateway acts on.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_store.h"
#include "strbuf.h"

static void round_trip_target(const char *data, size_t len)
{
	struct sluice_fleet_target t, again;
	char err[512] = "";
	if (sluice_fleet_target_parse(data, len, &t, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_fleet_target_format(&t, &sb);
	if (sb.failed || sluice_fleet_target_parse(sb.data, sb.len, &again, err, sizeof(err)) != 0)
		abort();
	if (memcmp(&t, &again, sizeof(t)) != 0)
		abort();
	sluice_strbuf_free(&sb);
}

static void round_trip_status(const char *data, size_t len)
{
	struct sluice_fleet_status s, again;
	char err[512] = "";
	if (sluice_fleet_status_parse(data, len, &s, err, sizeof(err)) != 0) {
		if (err[0] == '\0')
			abort();
		return;
	}
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_fleet_status_format(&s, &sb);
	if (sb.failed || sluice_fleet_status_parse(sb.data, sb.len, &again, err, sizeof(err)) != 0)
		abort();
	if (memcmp(&s, &again, sizeof(s)) != 0)
		abort();
	sluice_strbuf_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 16)
		return 0;
	if (data[0] % 2 == 0)
		round_trip_target((const char *)data + 1, size - 1);
	else
		round_trip_status((const char *)data + 1, size - 1);
	return 0;
}

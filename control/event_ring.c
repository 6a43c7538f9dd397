#include "event_ring.h"

#include <stdlib.h>
#include <string.h>

struct sluice_event_ring *sluice_event_ring_create(uint32_t capacity)
{
	if (capacity == 0 || (capacity & (capacity - 1)) != 0)
		return NULL;
	struct sluice_event_ring *ring = aligned_alloc(64, sizeof(*ring));
	if (ring == NULL)
		return NULL;
	memset(ring, 0, sizeof(*ring));
	ring->mask = capacity - 1;
	ring->slots = aligned_alloc(64, (size_t)capacity * sizeof(struct sluice_event));
	if (ring->slots == NULL) {
		free(ring);
		return NULL;
	}
	return ring;
}

void sluice_event_ring_free(struct sluice_event_ring *ring)
{
	if (ring == NULL)
		return;
	free(ring->slots);
	free(ring);
}

#include "event_ring.h"

struct sluice_event_ring *sluice_event_ring_create_from(uint32_t capacity,
							const struct sluice_allocator *alloc)
{
	if (capacity == 0 || (capacity & (capacity - 1)) != 0)
		return NULL;
	struct sluice_event_ring *ring = sluice_zalloc(alloc, sizeof(*ring));
	if (ring == NULL)
		return NULL;
	ring->alloc = alloc;
	ring->mask = capacity - 1;
	ring->slots = sluice_zalloc(alloc, (size_t)capacity * sizeof(struct sluice_event));
	if (ring->slots == NULL) {
		sluice_free(alloc, ring);
		return NULL;
	}
	return ring;
}

struct sluice_event_ring *sluice_event_ring_create(uint32_t capacity)
{
	return sluice_event_ring_create_from(capacity, &sluice_libc_allocator);
}

void sluice_event_ring_free(struct sluice_event_ring *ring)
{
	if (ring == NULL)
		return;
	const struct sluice_allocator *alloc = ring->alloc;
	sluice_free(alloc, ring->slots);
	sluice_free(alloc, ring);
}

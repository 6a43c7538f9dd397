/* A single-producer single-consumer ring of event records.
 *
 * One per worker: the worker pushes, the control thread pops. Pushing never
 * blocks and never allocates; when the ring is full the event is refused and the
 * worker counts it as dropped, so a slow sink can cost events but never stall
 * traffic. Producer and consumer indices live on separate cache lines, and each
 * side caches the other's index to touch the shared line only when it must.
 */
#ifndef SLUICE_CONTROL_EVENT_RING_H
#define SLUICE_CONTROL_EVENT_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "allocator.h"
#include "event.h"

struct sluice_event_ring {
	struct {
		uint64_t head; /* next slot to write; written by the producer */
		uint64_t cached_tail;
	} __attribute__((aligned(64))) prod;
	struct {
		uint64_t tail; /* next slot to read; written by the consumer */
		uint64_t cached_head;
	} __attribute__((aligned(64))) cons;
	uint64_t mask;
	struct sluice_event *slots;
	const struct sluice_allocator *alloc;
};

/* capacity must be a power of two. Returns NULL when out of memory. The ring
 * comes from alloc (the daemon's: the worker's NUMA node). */
struct sluice_event_ring *sluice_event_ring_create_from(uint32_t capacity,
							const struct sluice_allocator *alloc);

/* The same from the C library. */
struct sluice_event_ring *sluice_event_ring_create(uint32_t capacity);
void sluice_event_ring_free(struct sluice_event_ring *ring);

/* Whether n more slots are free past head (producer side). */
static inline bool sluice_event_ring_room(struct sluice_event_ring *ring, uint64_t head, unsigned n)
{
	if (head + n - ring->prod.cached_tail > ring->mask + 1) {
		ring->prod.cached_tail = __atomic_load_n(&ring->cons.tail, __ATOMIC_ACQUIRE);
		if (head + n - ring->prod.cached_tail > ring->mask + 1)
			return false;
	}
	return true;
}

static inline bool sluice_event_ring_push(struct sluice_event_ring *ring,
					  const struct sluice_event *ev)
{
	uint64_t head = ring->prod.head;
	if (!sluice_event_ring_room(ring, head, 1))
		return false;
	ring->slots[head & ring->mask] = *ev;
	__atomic_store_n(&ring->prod.head, head + 1, __ATOMIC_RELEASE);
	return true;
}

/* Pushes two slots, both or neither: the consumer never sees the first
 * without the second (an event and its snippet). */
static inline bool sluice_event_ring_push_pair(struct sluice_event_ring *ring,
					       const struct sluice_event *first,
					       const struct sluice_event *second)
{
	uint64_t head = ring->prod.head;
	if (!sluice_event_ring_room(ring, head, 2))
		return false;
	ring->slots[head & ring->mask] = *first;
	ring->slots[(head + 1) & ring->mask] = *second;
	__atomic_store_n(&ring->prod.head, head + 2, __ATOMIC_RELEASE);
	return true;
}

/* Consumer side: how many events have been pushed and not popped yet. */
static inline uint64_t sluice_event_ring_pending(const struct sluice_event_ring *ring)
{
	return __atomic_load_n(&ring->prod.head, __ATOMIC_ACQUIRE) - ring->cons.tail;
}

static inline bool sluice_event_ring_pop(struct sluice_event_ring *ring, struct sluice_event *ev)
{
	uint64_t tail = ring->cons.tail;
	if (tail == ring->cons.cached_head) {
		ring->cons.cached_head = __atomic_load_n(&ring->prod.head, __ATOMIC_ACQUIRE);
		if (tail == ring->cons.cached_head)
			return false;
	}
	*ev = ring->slots[tail & ring->mask];
	__atomic_store_n(&ring->cons.tail, tail + 1, __ATOMIC_RELEASE);
	return true;
}

#endif

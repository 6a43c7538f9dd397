/* Where long-lived working memory comes from. The packet path's per-worker
 * memory (its context, scan batches, event ring) must sit on the worker's
 * NUMA node: the daemon passes an allocator backed by rte_zmalloc_socket(),
 * while tests and tools, which have no EAL, use the C library's.
 *
 * Contract: zalloc returns zeroed memory aligned to a cache line, or NULL;
 * free takes what zalloc returned (or NULL). Used at setup only, never per
 * packet.
 */
#ifndef SLUICE_BASE_ALLOCATOR_H
#define SLUICE_BASE_ALLOCATOR_H

#include <stddef.h>

struct sluice_allocator {
	void *(*zalloc)(void *arg, size_t size);
	void (*free)(void *arg, void *p);
	void *arg;
};

/* calloc and free. */
extern const struct sluice_allocator sluice_libc_allocator;

static inline void *sluice_zalloc(const struct sluice_allocator *a, size_t size)
{
	return a->zalloc(a->arg, size);
}

static inline void sluice_free(const struct sluice_allocator *a, void *p)
{
	a->free(a->arg, p);
}

#endif

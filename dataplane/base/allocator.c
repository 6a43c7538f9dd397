#include "allocator.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64

static void *libc_zalloc(void *arg, size_t size)
{
	(void)arg;
	void *p = NULL;
	size_t rounded = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	if (posix_memalign(&p, CACHE_LINE, rounded ? rounded : CACHE_LINE) != 0)
		return NULL;
	memset(p, 0, rounded ? rounded : CACHE_LINE);
	return p;
}

static void libc_free(void *arg, void *p)
{
	(void)arg;
	free(p);
}

const struct sluice_allocator sluice_libc_allocator = {
    .zalloc = libc_zalloc, .free = libc_free, .arg = NULL};

#include "generation.h"

#include <stdio.h>
#include <stdlib.h>

struct sluice_generation *sluice_generation_create(const struct sluice_pack *pack,
						   unsigned worker_count, char *err, size_t err_len)
{
	struct sluice_generation *gen =
	    calloc(1, sizeof(*gen) + worker_count * sizeof(hs_scratch_t *));
	if (gen == NULL) {
		snprintf(err, err_len, "out of memory for a ruleset generation");
		return NULL;
	}
	gen->pack = pack;
	gen->worker_count = worker_count;

	hs_scratch_t *prototype = NULL;
	hs_error_t rc = sluice_pack_alloc_scratch(pack, &prototype);
	if (rc != HS_SUCCESS) {
		snprintf(err, err_len, "%s: cannot allocate Hyperscan scratch (error %d)",
			 pack->source, rc);
		free(gen);
		return NULL;
	}
	hs_scratch_size(prototype, &gen->scratch_bytes);
	for (unsigned i = 0; i < worker_count; i++) {
		rc = hs_clone_scratch(prototype, &gen->scratch[i]);
		if (rc != HS_SUCCESS) {
			snprintf(err, err_len, "%s: cannot clone scratch for worker %u (error %d)",
				 pack->source, i, rc);
			hs_free_scratch(prototype);
			sluice_generation_free(gen);
			return NULL;
		}
	}
	hs_free_scratch(prototype);
	return gen;
}

void sluice_generation_free(struct sluice_generation *gen)
{
	if (gen == NULL)
		return;
	for (unsigned i = 0; i < gen->worker_count; i++)
		hs_free_scratch(gen->scratch[i]);
	free(gen);
}

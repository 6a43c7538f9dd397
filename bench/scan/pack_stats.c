#include "pack_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "pack_source.h"

bool pack_file_is_compiled(const char *path)
{
	char magic[8];
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	size_t got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	return got == sizeof(magic) && memcmp(magic, SLUICE_PACK_MAGIC, sizeof(magic)) == 0;
}

/* VmRSS and VmHWM in KiB. */
static void read_memory(uint64_t *rss_kib, uint64_t *peak_kib)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*rss_kib = *peak_kib = 0;
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kib;
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			*rss_kib = kib;
		else if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
			*peak_kib = kib;
	}
	fclose(f);
}

int pack_stats_load(const char *path, struct sluice_pack **pack, struct pack_stats *stats,
		    char *err, size_t err_len)
{
	uint64_t unused;

	memset(stats, 0, sizeof(*stats));
	stats->compiled_here = !pack_file_is_compiled(path);
	read_memory(&stats->rss_before_kib, &unused);
	double start = sluice_mono_ms();
	if (sluice_pack_load(path, pack, err, err_len) != 0)
		return -1;
	stats->load_ms = sluice_mono_ms() - start;
	read_memory(&stats->rss_kib, &stats->peak_rss_kib);
	return 0;
}

int pack_stats_measure(const struct sluice_pack *pack, const hs_scratch_t *scratch,
		       struct pack_stats *stats, char *err, size_t err_len)
{
	uint8_t *image = NULL;
	size_t image_len = 0;

	if (sluice_pack_serialize(pack, &image, &image_len, NULL, err, err_len) != 0)
		return -1;
	free(image);
	stats->pack_bytes = image_len;
	hs_error_t rc = hs_scratch_size(scratch, &stats->scratch_bytes);
	if (rc != HS_SUCCESS) {
		snprintf(err, err_len, "hs_scratch_size failed: error %d", (int)rc);
		return -1;
	}
	return 0;
}

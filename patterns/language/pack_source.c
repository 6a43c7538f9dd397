#include "pack_source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "file_read.h"
#include "pack_compile.h"
#include "rule_file.h"

/* Whether path starts with the pack magic (rather than being a rule file). */
static int starts_like_pack(const char *path, bool *is_pack, char *err, size_t err_len)
{
	char why[256];
	char magic[8];
	ssize_t got;
	int fd = sluice_file_open_regular(path, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, why);
		return -1;
	}
	do
		got = read(fd, magic, sizeof(magic));
	while (got < 0 && errno == EINTR);
	close(fd);
	*is_pack = got == (ssize_t)sizeof(magic) && memcmp(magic, SLUICE_PACK_MAGIC, 8) == 0;
	return 0;
}

static int compile_rule_file(const char *path, struct sluice_pack **out, char *err, size_t err_len)
{
	struct sluice_rule_list rules;
	if (sluice_rule_file_load(path, &rules, err, err_len) != 0)
		return -1;
	int rc = sluice_pack_compile(&rules, out, err, err_len);
	sluice_rule_list_free(&rules);
	return rc;
}

int sluice_pack_load_within(const char *path, const struct sluice_trust *trust,
			    const struct sluice_load_limits *limits, struct sluice_pack **out,
			    char *err, size_t err_len)
{
	bool is_pack;

	*out = NULL;
	if (starts_like_pack(path, &is_pack, err, err_len) != 0)
		return -1;
	if (is_pack)
		return sluice_pack_read_trusted(path, trust, limits, out, err, err_len);
	if (sluice_trust_requires_signed(trust)) {
		snprintf(err, err_len,
			 "%s: not a compiled pack; this daemon requires signed packs, so "
			 "rule files cannot be loaded: compile and sign the pack first",
			 path);
		return -1;
	}
	return compile_rule_file(path, out, err, err_len);
}

int sluice_pack_load_trusted(const char *path, const struct sluice_trust *trust,
			     struct sluice_pack **out, char *err, size_t err_len)
{
	return sluice_pack_load_within(path, trust, NULL, out, err, err_len);
}

int sluice_pack_load(const char *path, struct sluice_pack **out, char *err, size_t err_len)
{
	return sluice_pack_load_within(path, NULL, NULL, out, err, err_len);
}

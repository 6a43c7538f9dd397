#include "match.h"

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	struct sluice_match_set *set = ctx;
	(void)flags;
	if (set->disabled != NULL && set->disabled[id])
		return 0;
	enum sluice_action action = set->pack->rules[id].action;

	if (action > set->verdict)
		set->verdict = action;

	/* Hyperscan reports in order of end offset, so a span of the same rule that
	 * this one extends is among the most recent few; looking further back
	 * would only merge what is left as a second, overlapping span. */
	uint32_t oldest = set->count > 16 ? set->count - 16 : 0;
	for (uint32_t i = set->count; i-- > oldest;) {
		struct sluice_match *m = &set->matches[i];
		if (m->rule == id && from <= m->to && m->from <= to) {
			if (from < m->from)
				m->from = (uint32_t)from;
			if (to > m->to)
				m->to = (uint32_t)to;
			return 0;
		}
	}
	if (set->count == set->capacity) {
		set->overflow = true;
		return 0;
	}
	set->matches[set->count++] =
	    (struct sluice_match){.rule = id, .from = (uint32_t)from, .to = (uint32_t)to};
	return 0;
}

hs_error_t sluice_scan_message(const struct sluice_pack *pack, hs_scratch_t *scratch,
			       const char *text, size_t len, struct sluice_match_set *set)
{
	sluice_match_set_reset(set);
	set->pack = pack;
	return hs_scan(pack->db, text, (unsigned int)len, 0, scratch, on_match, set);
}

#include "match.h"

#include <string.h>

#include "match_internal.h"

/* Marks a match for removal; compacted away before returning. */
#define GONE UINT32_MAX

/* Word edges are checked on the text the match was found in: in the folded
 * view, "ｖｘ" is the word "vx". */
static bool edges_ok(const struct sluice_view_text *v, uint8_t check, unsigned long long from,
		     unsigned long long to)
{
	const unsigned char *t = (const unsigned char *)v->text;

	if ((check & 1) && from > 0 && from < v->len && sluice_ascii_word(t[from]) &&
	    sluice_ascii_word(t[from - 1]))
		return false;
	if ((check & 2) && to > 0 && to < v->len && sluice_ascii_word(t[to - 1]) &&
	    sluice_ascii_word(t[to]))
		return false;
	return true;
}

static void record(struct sluice_match_set *set, uint32_t rule, uint32_t from, uint32_t to)
{
	/* Hyperscan reports in order of end offset, so a span of the same rule that
	 * this one extends is among the most recent few; looking further back
	 * would only merge what is left as a second, overlapping span. */
	uint32_t oldest = set->count > 16 ? set->count - 16 : 0;
	for (uint32_t i = set->count; i-- > oldest;) {
		struct sluice_match *m = &set->matches[i];
		if (m->rule == rule && from <= m->to && m->from <= to) {
			if (from < m->from)
				m->from = from;
			if (to > m->to)
				m->to = to;
			return;
		}
	}
	if (set->count == set->capacity) {
		set->overflow = true;
		return;
	}
	set->matches[set->count++] = (struct sluice_match){.rule = rule, .from = from, .to = to};
}

/* A match of rule [from, to) in view v, its start known: word edges, the
 * map back to the message's bytes, then the set. */
static void accept(struct sluice_scan_state *st, uint32_t r, struct sluice_view_text *v,
		   unsigned long long from, unsigned long long to)
{
	const struct sluice_pack_rule *rule = &st->pack->rules[r];

	if (rule->edge_check && !edges_ok(v, rule->edge_check, from, to)) {
		st->operand_dropped |= rule->operand;
		return;
	}
	if (v->src != NULL) {
		/* back to the message's own bytes (texts are under 4 GiB) */
		if (!v->mapped) {
			sluice_fold_map(st->fold, (const uint8_t *)st->text, (uint32_t)st->len,
					v->src);
			v->mapped = true;
		}
		uint32_t f = (uint32_t)from, t = (uint32_t)to;
		sluice_norm_map(v->src, (const uint8_t *)st->text, &f, &t);
		from = f;
		to = t;
	}
	st->operand_seen |= rule->operand;
	if (rule->allow)
		st->any_allow = true;
	else if (!rule->quiet && rule->action > st->seen)
		st->seen = rule->action;
	record(st->set, r, (uint32_t)from, (uint32_t)to);
}

/* Counts a match whose span will not be known: the set overflows, so its
 * verdict is the strongest action seen, exemptions ignored (match.h). */
static void span_unknown(struct sluice_scan_state *st, uint32_t r)
{
	const struct sluice_pack_rule *rule = &st->pack->rules[r];

	st->set->overflow = true;
	st->operand_seen |= rule->operand;
	if (!rule->allow && !rule->quiet && rule->action > st->seen)
		st->seen = rule->action;
}

/* A regex without start-of-match tracking ended at `to`: its starts are
 * found in sluice_scan_end(), when Hyperscan's scratch is free again. */
static void defer(struct sluice_scan_state *st, const struct sluice_pack_pattern *p,
		  unsigned long long to)
{
	uint32_t pair = p->len - SLUICE_PAT_SPAN_LATER, span = st->db->span_index;
	for (uint32_t i = 0; i < st->pending_count; i++) {
		struct sluice_span_pending *q = &st->pending[i];
		if (q->pair == pair && q->span == span) {
			q->last_to = (uint32_t)to;
			q->ends++;
			return;
		}
	}
	if (st->pending_count == SLUICE_SPAN_PENDING) {
		span_unknown(st, p->rule);
		return;
	}
	st->pending[st->pending_count++] =
	    (struct sluice_span_pending){.span = span,
					 .pair = pair,
					 .view = (uint32_t)(st->cur - st->view),
					 .first_to = (uint32_t)to,
					 .last_to = (uint32_t)to,
					 .ends = 1};
}

void sluice_scan_report(struct sluice_scan_state *st, unsigned int id, unsigned long long from,
			unsigned long long to)
{
	const struct sluice_pack_db *db = st->db;

	if (id >= db->id_count)
		return;
	const struct sluice_pack_pattern *p = &db->map[id];
	const struct sluice_pack_rule *rule = &st->pack->rules[p->rule];

	if (st->set->disabled && st->set->disabled[p->rule]) {
		st->operand_dropped |= rule->operand;
		return;
	}
	if (p->len == SLUICE_PAT_QUIET || p->len == SLUICE_PAT_COMBO)
		return; /* a logic database of an older pack: never scanned */
	if (sluice_pat_span_later(p->len)) {
		defer(st, p, to);
		return;
	}
	if (p->len != SLUICE_PAT_SOM)
		from = to >= p->len ? to - p->len : 0;
	accept(st, p->rule, st->cur, from, to);
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
		    unsigned int flags, void *ctx)
{
	(void)flags;
	sluice_scan_report(ctx, id, from, to);
	return 0;
}

/* Allow rules: an allow span exempts the overlapping spans of its category's
 * other rules. Combinations are not exempted by span (theirs covers the
 * message up to where they held); they are judged again on their operands. */
static void apply_allow(struct sluice_scan_state *st)
{
	struct sluice_match_set *set = st->set;
	const struct sluice_pack_rule *rules = st->pack->rules;

	for (uint32_t i = 0; i < set->count; i++) {
		struct sluice_match *m = &set->matches[i];
		const struct sluice_pack_rule *r = &rules[m->rule];

		if (r->allow || r->kind == SLUICE_RULE_COMBINATION)
			continue;
		for (uint32_t j = 0; j < set->count; j++) {
			const struct sluice_match *a = &set->matches[j];
			if (a->rule == GONE || !rules[a->rule].allow ||
			    rules[a->rule].category_index != r->category_index)
				continue;
			if (m->from < a->to && a->from < m->to) {
				if (set->exemption_count < set->exemption_cap)
					set->exemptions[set->exemption_count++] =
					    (struct sluice_exemption){.rule = m->rule,
								      .from = m->from,
								      .to = m->to,
								      .allow = a->rule,
								      .allow_from = a->from,
								      .allow_to = a->to};
				st->operand_dropped |= r->operand;
				m->rule = GONE;
				set->exempted++;
				break;
			}
		}
	}
}

static bool present(const void *ctx, uint32_t rule)
{
	const struct sluice_match_set *set = ctx;

	for (uint32_t i = 0; i < set->count; i++) {
		if (set->matches[i].rule == rule)
			return true;
	}
	return false;
}

/* The end of the last match of any operand of a combination. */
static uint32_t operands_end(const struct sluice_match_set *set, const struct sluice_logic_op *ops,
			     uint32_t n, size_t len)
{
	uint32_t end = 0;

	for (uint32_t k = 0; k < n; k++) {
		if (ops[k].op != SLUICE_LOGIC_RULE)
			continue;
		for (uint32_t i = 0; i < set->count; i++) {
			if (set->matches[i].rule == ops[k].arg && set->matches[i].to > end)
				end = set->matches[i].to;
		}
	}
	return end ? end : (uint32_t)len;
}

/* Judges every combination on the whole message, from its operands' matches
 * after expiry, word edges and allow exemptions. A combination that holds
 * spans [0, end of its operands' last match). */
static void judge_combinations(struct sluice_scan_state *st)
{
	struct sluice_match_set *set = st->set;
	const struct sluice_pack *pack = st->pack;

	for (size_t c = 0; c < pack->combination_count; c++) {
		uint32_t r = pack->combinations[c];
		const struct sluice_pack_rule *rule = &pack->rules[r];
		const struct sluice_logic_op *ops = pack->logic + rule->logic_off;

		if ((set->disabled && set->disabled[r]) ||
		    !sluice_logic_eval(ops, rule->logic_len, present, set))
			continue;
		if (!rule->quiet && rule->action > st->seen)
			st->seen = rule->action;
		if (set->count == set->capacity) {
			set->overflow = true;
			continue;
		}
		/* Before the new entry counts: it must not count as an operand. */
		uint32_t end = operands_end(set, ops, rule->logic_len, st->len);
		set->matches[set->count++] = (struct sluice_match){.rule = r, .from = 0, .to = end};
	}
}

static bool before(const struct sluice_match *a, const struct sluice_match *b)
{
	if (a->from != b->from)
		return a->from < b->from;
	if (a->to != b->to)
		return a->to < b->to;
	return a->rule < b->rule;
}

/* Removes what does not act (unless kept), compacts, sorts, and sets the
 * verdict. Sets are small (tens of matches): insertion sort. */
static void finish(struct sluice_scan_state *st)
{
	struct sluice_match_set *set = st->set;
	const struct sluice_pack_rule *rules = st->pack->rules;
	enum sluice_action verdict = SLUICE_ACTION_NONE;
	uint32_t w = 0;

	for (uint32_t i = 0; i < set->count; i++) {
		struct sluice_match m = set->matches[i];
		if (m.rule == GONE)
			continue;
		const struct sluice_pack_rule *r = &rules[m.rule];
		if (r->allow && !(set->keep & SLUICE_KEEP_ALLOW))
			continue;
		if (r->quiet && !(set->keep & SLUICE_KEEP_QUIET))
			continue;
		if (!r->allow && !r->quiet && r->action > verdict)
			verdict = r->action;
		uint32_t k = w++;
		while (k > 0 && before(&m, &set->matches[k - 1])) {
			set->matches[k] = set->matches[k - 1];
			k--;
		}
		set->matches[k] = m;
	}
	set->count = w;
	if (set->overflow && st->seen > verdict)
		verdict = st->seen;
	set->verdict = verdict;
}

void sluice_scan_begin(struct sluice_scan_state *st, const struct sluice_pack *pack,
		       struct sluice_match_set *set, const char *text, size_t len)
{
	/* Field by field: the pending array is read only up to pending_count,
	 * and zeroing it would cost every message. */
	st->set = set;
	st->pack = pack;
	st->fold = pack->fold;
	st->db = NULL;
	st->text = text;
	st->len = len;
	st->view[SLUICE_VIEW_RAW] = (struct sluice_view_text){.text = text, .len = len};
	_Static_assert(SLUICE_VIEW_COUNT == 2, "every view is set here");
	st->view[SLUICE_VIEW_FOLDED] = (struct sluice_view_text){0};
	st->cur = &st->view[SLUICE_VIEW_RAW];
	st->seen = SLUICE_ACTION_NONE;
	st->operand_dropped = st->operand_seen = st->any_allow = false;
	st->scratch = NULL;
	st->pending_count = 0;
	sluice_match_set_reset(set);
	set->pack = pack;
}

/* Candidate starts tried per regex and message, at most: a bounded
 * pattern's window is a few hundred bytes; an unbounded one gives up past
 * this (the set then overflows, its verdict stands). */
#define SPAN_TRIES 1024
/* Ends one search tells apart: as many as a message has bytes. */
#define SPAN_ENDS 65536

struct span_search {
	struct sluice_scan_state *st;
	const struct sluice_span_pending *q;
	uint32_t rule;
	unsigned id;	/* of the form scanned */
	uint32_t at, s; /* where the scan began, the candidate start */
	uint32_t found;
	uint64_t *claimed; /* ends whose leftmost start is known, from first_to */
};

/* Every end this candidate start reaches and no earlier one did is a match
 * from here: starts are tried leftmost first, as SOM_LEFTMOST reports. */
static int on_span_probe(unsigned int id, unsigned long long from, unsigned long long to,
			 unsigned int flags, void *ctx)
{
	struct span_search *x = ctx;
	(void)from;
	(void)flags;
	if (id != x->id)
		return 0;
	unsigned long long end = x->at + to;
	if (end < x->q->first_to || end > x->q->last_to)
		return 0;
	uint32_t bit = (uint32_t)(end - x->q->first_to);
	if (bit >= SPAN_ENDS || (x->claimed[bit / 64] >> (bit % 64)) & 1)
		return 0;
	x->claimed[bit / 64] |= 1ull << (bit % 64);
	accept(x->st, x->rule, &x->st->view[x->q->view], x->s, end);
	return ++x->found == x->q->ends; /* all found: stop */
}

static uint32_t utf8_len(uint8_t lead)
{
	return lead < 0x80 ? 1u : lead < 0xe0 ? 2u : lead < 0xf0 ? 3u : 4u;
}

/* The leftmost start of each end q reported, as Hyperscan's SOM_LEFTMOST
 * would give it: character starts are tried from the furthest a match can
 * reach back from the first end, each with the anchored pattern of the span
 * database, which reports every end reachable from there. From s > 0 the
 * pattern is scanned after the character before s, so \b and ^ see what
 * they would; the text goes two characters past the last end, so \b and $
 * there do too. */
static void find_starts(struct sluice_scan_state *st, const struct sluice_span_pending *q)
{
	/* The pack reader checked the pair is there (pack_file.c). */
	const struct sluice_pack_db *span = &st->pack->dbs[q->span];
	const struct sluice_view_text *v = &st->view[q->view];
	const uint8_t *t = (const uint8_t *)v->text;
	uint32_t len = (uint32_t)v->len, window = span->map[2 * q->pair].len;
	uint32_t lo = window != 0 && q->first_to > window ? q->first_to - window : 0;
	uint32_t end = q->last_to;
	for (int k = 0; k < 2 && end < len; k++)
		end += utf8_len(t[end]);
	if (end > len)
		end = len;
	uint64_t claimed[SPAN_ENDS / 64]; /* only the words the ends need are cleared */
	uint32_t spread = q->last_to - q->first_to + 1;
	memset(claimed, 0, ((spread < SPAN_ENDS ? spread : SPAN_ENDS) + 63) / 64 * 8);
	struct span_search x = {
	    .st = st, .q = q, .rule = span->map[2 * q->pair].rule, .claimed = claimed};
	uint32_t tries = 0;
	for (uint32_t s = lo; s < q->last_to && tries < SPAN_TRIES && x.found < q->ends; s++) {
		if ((t[s] & 0xc0) == 0x80)
			continue; /* inside a character */
		tries++;
		x.s = s;
		x.at = s;
		x.id = 2 * q->pair;
		if (s > 0) {
			do
				x.at--;
			while (x.at > 0 && (t[x.at] & 0xc0) == 0x80);
			x.id++;
		}
		hs_scan(span->db, v->text + x.at, end - x.at, 0, st->scratch, on_span_probe, &x);
	}
	if (x.found < q->ends)
		span_unknown(st, x.rule);
}

void sluice_scan_end(struct sluice_scan_state *st)
{
	for (uint32_t i = 0; i < st->pending_count; i++)
		find_starts(st, &st->pending[i]);
	if (st->any_allow)
		apply_allow(st);
	/* With no operand seen or dropped, every operand is absent, and only a
	 * combination that holds on nothing ("not a") can hold. */
	if (st->pack->combination_count &&
	    (st->operand_seen || st->operand_dropped || st->pack->combination_when_none))
		judge_combinations(st);
	finish(st);
}

hs_error_t sluice_scan_db(struct sluice_scan_state *st, const struct sluice_pack_db *db,
			  hs_scratch_t *scratch)
{
	st->db = db;
	st->cur = &st->view[db->view];
	st->scratch = scratch;
	return hs_scan(db->db, st->cur->text, (unsigned int)st->cur->len, 0, scratch, on_match, st);
}

hs_error_t sluice_scan_message(const struct sluice_pack *pack, hs_scratch_t *scratch,
			       const char *text, size_t len, struct sluice_match_set *set)
{
	struct sluice_scan_state st;

	sluice_scan_begin(&st, pack, set, text, len);
	if (pack->views & (1u << SLUICE_VIEW_FOLDED)) {
		struct sluice_norm_space *space = set->norm;
		struct sluice_norm_view v;
		if (space == NULL || len > space->cap)
			return HS_INVALID;
		sluice_fold(pack->fold, (const uint8_t *)text, (uint32_t)len, space->out, &v);
		st.view[SLUICE_VIEW_FOLDED] =
		    (struct sluice_view_text){.text = (const char *)v.text,
					      .len = v.len,
					      .src = v.identity ? NULL : space->src};
	}
	/* Literal databases first, then the rest in the pack's order: the order
	 * batch scanning hands reports in (batch_scan.h). logic: an older
	 * pack's; regex-ends: batch scanning's. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < pack->db_count; i++) {
			enum sluice_db_kind kind = pack->dbs[i].kind;
			if (kind == SLUICE_DB_LOGIC || kind == SLUICE_DB_REGEX_ENDS ||
			    kind == SLUICE_DB_SPAN || (kind == SLUICE_DB_LITERAL) != (pass == 0))
				continue;
			hs_error_t rc = sluice_scan_db(&st, &pack->dbs[i], scratch);
			if (rc != HS_SUCCESS)
				return rc;
		}
	}
	sluice_scan_end(&st);
	return HS_SUCCESS;
}

/* sluice-pack test --explain: why a message got its verdict, and what its
 * recipient gets.
 *
 * After the scan the command prints anyway (the matches that act), explain
 * adds: the text as the gateway forwards it (mask spans written as '*', whole
 * characters, as dataplane/verdict_apply.c does, or the whole text when the
 * match set overflowed) and the flag bits it sets, or that the message is
 * removed; each exemption (which allow rule's span exempted which span of
 * which rule); and each combination that holds or has an operand present,
 * with every operand's spans after exemptions and expiry. The operands come
 * from a second scan of the message that keeps quiet rules and allow rules
 * (set->keep), which acting matches and the verdict do not depend on.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "utf8.h"
#include "wire_format.h"

/* What the recipient of a message gets. */
struct delivery {
	bool removed;
	uint8_t flags; /* SLUICE_WIRE_FLAG_* set on the frame */
	char *text;    /* as forwarded (malloc'd), or NULL when removed */
	size_t len;
};

/* '*' over [from, to) of the delivered text, widened to whole characters. */
static void mask(struct delivery *d, uint32_t from, uint32_t to)
{
	sluice_utf8_widen((uint8_t *)d->text, (uint32_t)d->len, &from, &to);
	memset(d->text + from, '*', to - from);
}

static int deliver(const struct sluice_match_set *set, const char *text, size_t len,
		   struct delivery *d)
{
	*d = (struct delivery){.removed = set->verdict == SLUICE_ACTION_BLOCK};
	if (d->removed)
		return 0;
	d->text = malloc(len ? len : 1);
	if (d->text == NULL)
		return -1;
	memcpy(d->text, text, len);
	d->len = len;
	if (set->verdict == SLUICE_ACTION_FLAG)
		d->flags |= SLUICE_WIRE_FLAG_FLAGGED;
	if (set->verdict != SLUICE_ACTION_MASK)
		return 0;
	d->flags |= SLUICE_WIRE_FLAG_MASKED;
	if (set->overflow) {
		mask(d, 0, (uint32_t)len);
		return 0;
	}
	for (uint32_t i = 0; i < set->count; i++)
		if (sluice_match_masks(set, i))
			mask(d, set->matches[i].from, set->matches[i].to);
	return 0;
}

/* Whether rule r has a span in the kept set; its spans through fn. */
static bool operand_spans(const struct sluice_match_set *kept, uint32_t r,
			  void (*fn)(void *, const struct sluice_match *), void *arg)
{
	bool any = false;
	for (uint32_t i = 0; i < kept->count; i++) {
		if (kept->matches[i].rule != r)
			continue;
		any = true;
		if (fn)
			fn(arg, &kept->matches[i]);
	}
	return any;
}

/* Why operand r has no span: expired, exempted by an allow rule, or not
 * found. */
static const char *absence(const struct sp_scanner *sc, uint32_t r)
{
	if (sc->set.disabled != NULL && sc->set.disabled[r])
		return "expired";
	for (uint32_t i = 0; i < sc->set.exemption_count; i++)
		if (sc->set.exemptions[i].rule == r)
			return "exempted";
	return "not found";
}

/* Whether the combination at pack index c is worth showing: it holds, or
 * one of its operands is there. */
static bool combination_shown(const struct sluice_pack *pack, const struct sluice_match_set *kept,
			      uint32_t c)
{
	const struct sluice_pack_rule *rule = &pack->rules[c];
	if (operand_spans(kept, c, NULL, NULL))
		return true;
	for (uint32_t k = 0; k < rule->logic_len; k++) {
		const struct sluice_logic_op *op = &pack->logic[rule->logic_off + k];
		if (op->op == SLUICE_LOGIC_RULE && operand_spans(kept, op->arg, NULL, NULL))
			return true;
	}
	return false;
}

/* Scans text again keeping every match. */
static int scan_kept(struct sp_scanner *sc, struct sp_explain *x, const char *text, size_t len,
		     char *err, size_t err_len)
{
	sluice_match_set_init(&x->kept, x->storage, SP_MATCH_CAPACITY, sc->pack);
	x->kept.disabled = sc->set.disabled;
	x->kept.norm = &sc->norm;
	x->kept.keep = SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW;
	hs_error_t e = sluice_scan_message(sc->pack, sc->scratch, text, len, &x->kept);
	if (e != HS_SUCCESS) {
		snprintf(err, err_len, "%s: scan failed with Hyperscan error %d", sc->pack->source,
			 e);
		return -1;
	}
	return 0;
}

/* Both forms start here: the second scan, and what is delivered. */
static int explain_scan(struct sp_scanner *sc, struct sp_explain *x, const char *text, size_t len,
			struct delivery *d, char *err, size_t err_len)
{
	if (scan_kept(sc, x, text, len, err, err_len) != 0)
		return -1;
	if (deliver(&sc->set, text, len, d) != 0) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	return 0;
}

static const char *flag_names(uint8_t flags)
{
	switch (flags & (SLUICE_WIRE_FLAG_FLAGGED | SLUICE_WIRE_FLAG_MASKED)) {
	case SLUICE_WIRE_FLAG_FLAGGED:
		return "flagged";
	case SLUICE_WIRE_FLAG_MASKED:
		return "masked";
	case SLUICE_WIRE_FLAG_FLAGGED | SLUICE_WIRE_FLAG_MASKED:
		return "flagged, masked";
	default:
		return "none";
	}
}

/* ---- text ---- */

static void print_span(void *arg, const struct sluice_match *m)
{
	bool *first = arg;
	printf("%s%u..%u", *first ? " at " : ", ", m->from, m->to);
	*first = false;
}

static void text_combinations(const struct sp_scanner *sc, const struct sp_explain *x)
{
	const struct sluice_pack *pack = sc->pack;
	for (size_t c = 0; c < pack->combination_count; c++) {
		uint32_t r = pack->combinations[c];
		const struct sluice_pack_rule *rule = &pack->rules[r];
		if (!combination_shown(pack, &x->kept, r))
			continue;
		bool holds = operand_spans(&x->kept, r, NULL, NULL);
		printf("\n  combination %s '%s': %s", rule->id, rule->pattern,
		       holds ? "holds" : "does not hold");
		for (uint32_t k = 0; k < rule->logic_len; k++) {
			const struct sluice_logic_op *op = &pack->logic[rule->logic_off + k];
			if (op->op != SLUICE_LOGIC_RULE)
				continue;
			bool first = true;
			printf("; %s", pack->rules[op->arg].id);
			if (!operand_spans(&x->kept, op->arg, print_span, &first))
				printf(" absent (%s)", absence(sc, op->arg));
		}
	}
}

int sp_explain_text(struct sp_scanner *sc, struct sp_explain *x, const char *text, size_t len,
		    char *err, size_t err_len)
{
	struct delivery d;
	if (explain_scan(sc, x, text, len, &d, err, err_len) != 0)
		return -1;
	if (d.removed) {
		printf("\n  delivered: nothing (blocked: a datagram's frame is removed, a "
		       "WebSocket message blanked or its connection reset, per --stream-block)");
	} else {
		fputs("\n  delivered: ", stdout);
		sp_print_quoted(stdout, d.text, d.len, false);
		printf(" (flags: %s)", flag_names(d.flags));
	}
	free(d.text);
	for (uint32_t i = 0; i < sc->set.exemption_count; i++) {
		const struct sluice_exemption *e = &sc->set.exemptions[i];
		printf("\n  exempted: %s at %u..%u, by allow rule %s at %u..%u",
		       sc->pack->rules[e->rule].id, e->from, e->to, sc->pack->rules[e->allow].id,
		       e->allow_from, e->allow_to);
	}
	text_combinations(sc, x);
	return 0;
}

/* ---- JSON ---- */

static void json_span(void *arg, const struct sluice_match *m)
{
	struct sluice_json_writer *j = arg;
	sluice_jw_object(j, NULL);
	sluice_jw_uint(j, "from", m->from);
	sluice_jw_uint(j, "to", m->to);
	sluice_jw_end(j);
}

static void json_combinations(const struct sp_scanner *sc, const struct sp_explain *x,
			      struct sluice_json_writer *j)
{
	const struct sluice_pack *pack = sc->pack;
	sluice_jw_array(j, "combinations");
	for (size_t c = 0; c < pack->combination_count; c++) {
		uint32_t r = pack->combinations[c];
		const struct sluice_pack_rule *rule = &pack->rules[r];
		if (!combination_shown(pack, &x->kept, r))
			continue;
		sluice_jw_object(j, NULL);
		sluice_jw_string(j, "rule", rule->id);
		sluice_jw_string(j, "expression", rule->pattern);
		sluice_jw_bool(j, "holds", operand_spans(&x->kept, r, NULL, NULL));
		sluice_jw_array(j, "operands");
		for (uint32_t k = 0; k < rule->logic_len; k++) {
			const struct sluice_logic_op *op = &pack->logic[rule->logic_off + k];
			if (op->op != SLUICE_LOGIC_RULE)
				continue;
			sluice_jw_object(j, NULL);
			sluice_jw_string(j, "rule", pack->rules[op->arg].id);
			sluice_jw_array(j, "spans");
			bool present = operand_spans(&x->kept, op->arg, json_span, j);
			sluice_jw_end(j);
			sluice_jw_bool(j, "present", present);
			if (!present)
				sluice_jw_string(j, "absent", absence(sc, op->arg));
			sluice_jw_end(j);
		}
		sluice_jw_end(j);
		sluice_jw_end(j);
	}
	sluice_jw_end(j);
}

int sp_explain_json(struct sp_scanner *sc, struct sp_explain *x, struct sluice_json_writer *j,
		    const char *text, size_t len, char *err, size_t err_len)
{
	struct delivery d;
	if (explain_scan(sc, x, text, len, &d, err, err_len) != 0)
		return -1;
	sluice_jw_object(j, "explain");
	sluice_jw_bool(j, "removed", d.removed);
	if (!d.removed)
		sluice_jw_stringn(j, "delivered", d.text, d.len);
	sluice_jw_array(j, "flags");
	if (d.flags & SLUICE_WIRE_FLAG_FLAGGED)
		sluice_jw_string(j, NULL, "flagged");
	if (d.flags & SLUICE_WIRE_FLAG_MASKED)
		sluice_jw_string(j, NULL, "masked");
	sluice_jw_end(j);
	free(d.text);
	json_combinations(sc, x, j);
	sluice_jw_end(j);
	return 0;
}

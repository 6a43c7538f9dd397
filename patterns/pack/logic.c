#include "logic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum tok_kind { T_END, T_ID, T_AND, T_OR, T_NOT, T_LP, T_RP, T_BAD };

struct lexer {
	const char *s;
	size_t i;
	enum tok_kind kind;
	size_t at, len;
};

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static void next(struct lexer *lx)
{
	while (lx->s[lx->i] == ' ' || lx->s[lx->i] == '\t' || lx->s[lx->i] == '\n' ||
	       lx->s[lx->i] == '\r')
		lx->i++;
	lx->at = lx->i;
	char c = lx->s[lx->i];
	if (c == '\0') {
		lx->kind = T_END;
		lx->len = 0;
		return;
	}
	lx->len = 1;
	switch (c) {
	case '(':
		lx->kind = T_LP;
		lx->i++;
		return;
	case ')':
		lx->kind = T_RP;
		lx->i++;
		return;
	case '&':
		lx->kind = T_AND;
		lx->i++;
		if (lx->s[lx->i] == '&')
			lx->i++, lx->len++;
		return;
	case '|':
		lx->kind = T_OR;
		lx->i++;
		if (lx->s[lx->i] == '|')
			lx->i++, lx->len++;
		return;
	case '!':
		lx->kind = T_NOT;
		lx->i++;
		return;
	default:
		break;
	}
	if (!id_char(c)) {
		lx->kind = T_BAD;
		/* quote the whole UTF-8 character */
		unsigned char u = (unsigned char)c;
		lx->len = u >= 0xf0 ? 4 : u >= 0xe0 ? 3 : u >= 0xc0 ? 2 : 1;
		return;
	}
	while (id_char(lx->s[lx->i]))
		lx->i++;
	lx->len = lx->i - lx->at;
	const char *w = lx->s + lx->at;
	if (lx->len == 3 && strncasecmp(w, "and", 3) == 0)
		lx->kind = T_AND;
	else if (lx->len == 2 && strncasecmp(w, "or", 2) == 0)
		lx->kind = T_OR;
	else if (lx->len == 3 && strncasecmp(w, "not", 3) == 0)
		lx->kind = T_NOT;
	else
		lx->kind = T_ID;
}

struct parser {
	struct lexer lx;
	struct sluice_logic_expr *out;
	size_t cap;
	bool failed;
	size_t err_at;
	char *msg;
	size_t msg_len;
	unsigned depth;
};

static void fail(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct parser *p, size_t at, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->err_at = at;
	va_start(ap, fmt);
	vsnprintf(p->msg, p->msg_len, fmt, ap);
	va_end(ap);
}

static void emit(struct parser *p, uint32_t op, size_t at, size_t len)
{
	struct sluice_logic_expr *e = p->out;

	if (p->failed)
		return;
	if (e->count == SLUICE_LOGIC_MAX_OPS) {
		fail(p, at, "the expression is too long (more than %d terms); split it",
		     SLUICE_LOGIC_MAX_OPS);
		return;
	}
	if (e->count == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct sluice_logic_op *ops = realloc(e->ops, cap * sizeof(*ops));
		size_t *a = ops ? realloc(e->at, cap * sizeof(*a)) : NULL;
		size_t *l = a ? realloc(e->len, cap * sizeof(*l)) : NULL;
		if (ops)
			e->ops = ops;
		if (a)
			e->at = a;
		if (!l) {
			fail(p, at, "out of memory");
			return;
		}
		e->len = l;
		p->cap = cap;
	}
	e->ops[e->count] = (struct sluice_logic_op){.op = op, .arg = 0};
	e->at[e->count] = at;
	e->len[e->count] = len;
	e->count++;
}

static const char *tok_name(const struct lexer *lx)
{
	switch (lx->kind) {
	case T_END:
		return "the end of the combination";
	case T_AND:
		return "'and'";
	case T_OR:
		return "'or'";
	case T_NOT:
		return "'not'";
	case T_LP:
		return "'('";
	case T_RP:
		return "')'";
	default:
		return "this";
	}
}

static void parse_or(struct parser *p);

static void parse_factor(struct parser *p)
{
	struct lexer *lx = &p->lx;

	if (p->failed)
		return;
	switch (lx->kind) {
	case T_NOT: {
		size_t at = lx->at;
		next(lx);
		parse_factor(p);
		emit(p, SLUICE_LOGIC_NOT, at, 3);
		return;
	}
	case T_LP: {
		size_t at = lx->at;
		if (++p->depth > SLUICE_LOGIC_MAX_DEPTH / 2) {
			fail(p, at, "parentheses are nested too deeply; simplify the expression");
			return;
		}
		next(lx);
		parse_or(p);
		if (p->failed)
			return;
		if (lx->kind != T_RP) {
			fail(p, at,
			     "this '(' is not closed (found %s where ')' was expected); add "
			     "the missing ')'",
			     tok_name(lx));
			return;
		}
		p->depth--;
		next(lx);
		return;
	}
	case T_ID:
		emit(p, SLUICE_LOGIC_RULE, lx->at, lx->len);
		next(lx);
		return;
	case T_BAD:
		fail(p, lx->at,
		     "'%.*s' cannot appear in a combination; write rule ids joined by and, or, "
		     "not and parentheses",
		     (int)lx->len, lx->s + lx->at);
		return;
	default:
		fail(p, lx->at, "expected a rule id, 'not' or '(' but found %s", tok_name(lx));
		return;
	}
}

static void parse_and(struct parser *p)
{
	struct lexer *lx = &p->lx;

	parse_factor(p);
	while (!p->failed && lx->kind == T_AND) {
		size_t at = lx->at;
		next(lx);
		parse_factor(p);
		emit(p, SLUICE_LOGIC_AND, at, 3);
	}
}

static void parse_or(struct parser *p)
{
	struct lexer *lx = &p->lx;

	parse_and(p);
	while (!p->failed && lx->kind == T_OR) {
		size_t at = lx->at;
		next(lx);
		parse_and(p);
		emit(p, SLUICE_LOGIC_OR, at, 2);
	}
}

int sluice_logic_parse(const char *expr, struct sluice_logic_expr *out, size_t *err_at, char *msg,
		       size_t msg_len)
{
	struct parser p = {.lx = {.s = expr}, .out = out, .msg = msg, .msg_len = msg_len};

	memset(out, 0, sizeof(*out));
	next(&p.lx);
	if (p.lx.kind == T_END)
		fail(&p, 0, "the combination is empty; write an expression such as 'a and not b'");
	parse_or(&p);
	if (!p.failed && p.lx.kind == T_ID)
		fail(&p, p.lx.at,
		     "expected 'and' or 'or' before '%.*s'; join rule ids with and, or, not",
		     (int)p.lx.len, expr + p.lx.at);
	else if (!p.failed && p.lx.kind == T_RP)
		fail(&p, p.lx.at, "this ')' closes nothing; remove it or add a '('");
	else if (!p.failed && p.lx.kind != T_END)
		fail(&p, p.lx.at, "unexpected %s; join rule ids with and, or, not",
		     tok_name(&p.lx));
	if (p.failed) {
		*err_at = p.err_at;
		sluice_logic_expr_free(out);
		return -1;
	}
	return 0;
}

void sluice_logic_expr_free(struct sluice_logic_expr *e)
{
	free(e->ops);
	free(e->at);
	free(e->len);
	memset(e, 0, sizeof(*e));
}

bool sluice_logic_check(const struct sluice_logic_op *ops, size_t n, size_t rule_count)
{
	size_t depth = 0;

	if (n == 0 || n > SLUICE_LOGIC_MAX_OPS)
		return false;
	for (size_t i = 0; i < n; i++) {
		switch (ops[i].op) {
		case SLUICE_LOGIC_RULE:
			if (ops[i].arg >= rule_count || ++depth > SLUICE_LOGIC_MAX_DEPTH)
				return false;
			break;
		case SLUICE_LOGIC_NOT:
			if (depth < 1 || ops[i].arg != 0)
				return false;
			break;
		case SLUICE_LOGIC_AND:
		case SLUICE_LOGIC_OR:
			if (depth < 2 || ops[i].arg != 0)
				return false;
			depth--;
			break;
		default:
			return false;
		}
	}
	return depth == 1;
}

bool sluice_logic_eval(const struct sluice_logic_op *ops, size_t n,
		       bool (*present)(const void *ctx, uint32_t rule), const void *ctx)
{
	bool stack[SLUICE_LOGIC_MAX_DEPTH];
	size_t sp = 0;

	for (size_t i = 0; i < n; i++) {
		switch (ops[i].op) {
		case SLUICE_LOGIC_RULE:
			stack[sp++] = present(ctx, ops[i].arg);
			break;
		case SLUICE_LOGIC_NOT:
			stack[sp - 1] = !stack[sp - 1];
			break;
		case SLUICE_LOGIC_AND:
			sp--;
			stack[sp - 1] = stack[sp - 1] && stack[sp];
			break;
		default:
			sp--;
			stack[sp - 1] = stack[sp - 1] || stack[sp];
			break;
		}
	}
	return sp == 1 && stack[0];
}

bool sluice_logic_has_not(const struct sluice_logic_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ops[i].op == SLUICE_LOGIC_NOT)
			return true;
	}
	return false;
}

static bool none_present(const void *ctx, uint32_t rule)
{
	(void)ctx;
	(void)rule;
	return false;
}

bool sluice_logic_holds_when_none(const struct sluice_logic_op *ops, size_t n)
{
	return sluice_logic_eval(ops, n, none_present, NULL);
}

#include "diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Capacity is not stored: it is the next power of two at or above count,
 * which keeps appends amortised O(1) without a field callers would see. */
static int ensure_room(struct sluice_diag_list *list)
{
	size_t n = list->count, cap;

	if (n == 0)
		cap = 8;
	else if (n >= 8 && (n & (n - 1)) == 0)
		cap = n * 2;
	else
		return 0;
	struct sluice_diag *items = realloc(list->items, cap * sizeof(*items));
	if (!items)
		return -1;
	list->items = items;
	return 0;
}

int sluice_diag_vadd(struct sluice_diag_list *list, enum sluice_diag_level level, const char *file,
		     unsigned line, unsigned column, const char *rule_id, const char *code,
		     const char *fmt, va_list ap)
{
	struct sluice_diag d = {.level = level, .line = line, .column = column};

	if (!list || ensure_room(list) != 0)
		return -1;
	if (vasprintf(&d.message, fmt, ap) < 0)
		return -1;
	d.file = strdup(file ? file : "(rules)");
	d.code = strdup(code ? code : "error");
	d.rule_id = rule_id ? strdup(rule_id) : NULL;
	if (!d.file || !d.code || (rule_id && !d.rule_id)) {
		free(d.file);
		free(d.code);
		free(d.rule_id);
		free(d.message);
		return -1;
	}
	list->items[list->count++] = d;
	return 0;
}

int sluice_diag_add(struct sluice_diag_list *list, enum sluice_diag_level level, const char *file,
		    unsigned line, unsigned column, const char *rule_id, const char *code,
		    const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sluice_diag_vadd(list, level, file, line, column, rule_id, code, fmt, ap);
	va_end(ap);
	return rc;
}

size_t sluice_diag_errors(const struct sluice_diag_list *list)
{
	size_t n = 0;

	for (size_t i = 0; list && i < list->count; i++)
		n += list->items[i].level == SLUICE_DIAG_ERROR;
	return n;
}

void sluice_diag_format(const struct sluice_diag *d, char *buf, size_t len)
{
	const char *level = d->level == SLUICE_DIAG_ERROR ? "error" : "warning";

	if (!buf || !len)
		return;
	if (d->rule_id)
		snprintf(buf, len, "%s:%u:%u: %s: rule %s: %s", d->file, d->line, d->column, level,
			 d->rule_id, d->message);
	else
		snprintf(buf, len, "%s:%u:%u: %s: %s", d->file, d->line, d->column, level,
			 d->message);
}

void sluice_diag_format_short(const struct sluice_diag *d, char *buf, size_t len)
{
	if (!buf || !len)
		return;
	if (d->rule_id)
		snprintf(buf, len, "%s:%u:%u: rule %s: %s", d->file, d->line, d->column, d->rule_id,
			 d->message);
	else
		snprintf(buf, len, "%s:%u:%u: %s", d->file, d->line, d->column, d->message);
}

const struct sluice_diag *sluice_diag_first_error(const struct sluice_diag_list *list)
{
	for (size_t i = 0; list && i < list->count; i++) {
		if (list->items[i].level == SLUICE_DIAG_ERROR)
			return &list->items[i];
	}
	return NULL;
}

struct keyed {
	struct sluice_diag d;
	size_t file_rank;
	size_t seq;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->file_rank != y->file_rank)
		return x->file_rank < y->file_rank ? -1 : 1;
	if (x->d.line != y->d.line)
		return x->d.line < y->d.line ? -1 : 1;
	if (x->d.column != y->d.column)
		return x->d.column < y->d.column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void sluice_diag_sort(struct sluice_diag_list *list)
{
	const char **files;
	size_t nfiles = 0;
	struct keyed *k;

	if (!list || list->count < 2)
		return;
	k = calloc(list->count, sizeof(*k));
	files = calloc(list->count, sizeof(*files));
	if (!k || !files) {
		free(k);
		free(files);
		return;
	}
	for (size_t i = 0; i < list->count; i++) {
		size_t f = 0;

		/* Files rank by first appearance, which is the order they were
		 * loaded in; there are few of them. */
		while (f < nfiles && strcmp(files[f], list->items[i].file) != 0)
			f++;
		if (f == nfiles)
			files[nfiles++] = list->items[i].file;
		k[i].d = list->items[i];
		k[i].seq = i;
		k[i].file_rank = f;
	}
	qsort(k, list->count, sizeof(*k), cmp_keyed);
	for (size_t i = 0; i < list->count; i++)
		list->items[i] = k[i].d;
	free(files);
	free(k);
}

void sluice_diag_list_free(struct sluice_diag_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].file);
		free(list->items[i].rule_id);
		free(list->items[i].code);
		free(list->items[i].message);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

#include "operator_probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_client.h"
#include "soak_clock.h"

/* Requests a run may make beyond its nominal length: the settle phase. */
#define SLACK_REQUESTS 120

int soak_operator_init(struct soak_operator *op, const char *socket, double every_s, double run_s)
{
	memset(op, 0, sizeof(*op));
	op->socket = socket;
	op->every_s = every_s;
	atomic_init(&op->stop, false);
	op->capacity = (size_t)(run_s / every_s) + SLACK_REQUESTS;
	op->latency_ms = calloc(op->capacity, sizeof(double));
	op->asked_at = calloc(op->capacity, sizeof(double));
	return op->latency_ms != NULL && op->asked_at != NULL ? 0 : -1;
}

void *soak_operator_main(void *arg)
{
	struct soak_operator *op = arg;
	double next = sluice_mono_s();
	while (soak_sleep_until(next, &op->stop)) {
		next += op->every_s;
		struct daemon_status status;
		char err[sizeof(op->last_error)];
		double start = sluice_mono_s();
		int rc = control_read_status(op->socket, &status, err, sizeof(err));
		double took_ms = (sluice_mono_s() - start) * 1e3;
		op->asked++;
		if (rc != 0) {
			op->failures++;
			snprintf(op->last_error, sizeof(op->last_error), "%s", err);
			continue;
		}
		if (op->kept < op->capacity) {
			op->asked_at[op->kept] = start;
			op->latency_ms[op->kept++] = took_ms;
		}
	}
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void soak_operator_figures(const struct soak_operator *op, double *median_ms, double *max_ms)
{
	*median_ms = *max_ms = 0;
	if (op->kept == 0)
		return;
	double *sorted = malloc(op->kept * sizeof(double));
	if (sorted == NULL)
		return;
	memcpy(sorted, op->latency_ms, op->kept * sizeof(double));
	qsort(sorted, op->kept, sizeof(double), by_value);
	size_t n = op->kept;
	*median_ms = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	*max_ms = sorted[n - 1];
	free(sorted);
}

void soak_operator_free(struct soak_operator *op)
{
	free(op->latency_ms);
	free(op->asked_at);
	op->latency_ms = op->asked_at = NULL;
}

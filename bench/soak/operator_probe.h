/* The legitimate operator: asks the daemon `status` once a period through the
 * control socket, as `sluicectl status` would, while the socket is being
 * misused, and records how long each answer took.
 *
 * Contract: one request at a time, each bounded by the control client's
 * timeout; a request that fails (no answer, an error reply, a reply that is
 * not JSON) is counted with its reason and the thread goes on. The latency
 * array is allocated by soak_operator_init() for the run's length (requests
 * beyond it are counted but not kept); figures are complete once joined.
 */
#ifndef SLUICE_BENCH_SOAK_OPERATOR_PROBE_H
#define SLUICE_BENCH_SOAK_OPERATOR_PROBE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct soak_operator {
	const char *socket;
	double every_s;
	atomic_bool stop;
	double *latency_ms;
	double *asked_at; /* sluice_mono_s() when each kept request was made */
	size_t capacity, kept;
	uint64_t asked, failures;
	char last_error[256];
};

/* Returns 0, or -1 when out of memory. */
int soak_operator_init(struct soak_operator *op, const char *socket, double every_s, double run_s);

/* pthread entry point; arg is the struct soak_operator. */
void *soak_operator_main(void *arg);

/* Median and maximum of the kept latencies; 0 when none. */
void soak_operator_figures(const struct soak_operator *op, double *median_ms, double *max_ms);

void soak_operator_free(struct soak_operator *op);

#endif

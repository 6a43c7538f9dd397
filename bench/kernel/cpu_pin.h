/* Pinning the benchmark's threads: the scanner and the load generator each get
 * a core of their own when the process may use it, so that neither steals the
 * other's time and the scanner's figures are one core's work.
 */
#ifndef SLUICE_BENCH_KERNEL_CPU_PIN_H
#define SLUICE_BENCH_KERNEL_CPU_PIN_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the process's affinity mask includes cpu. */
bool cpu_pin_allowed(int cpu);

/* Pins the calling thread to cpu; cpu < 0 leaves it unpinned. Returns 0, or -1
 * with err (the thread then runs unpinned). */
int cpu_pin_self(int cpu, char *err, size_t err_len);

#endif

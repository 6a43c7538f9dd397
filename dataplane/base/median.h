/* The median of a benchmark's rounds: machines here are shared and noisy, so
 * every figure the benchmarks report is the median of interleaved rounds.
 */
#ifndef SLUICE_BASE_MEDIAN_H
#define SLUICE_BASE_MEDIAN_H

/* The median of v[0..n) (n >= 1, at most SLUICE_MEDIAN_MAX; v is left as it
 * is): the middle value, or the mean of the two middle ones when n is even. */
#define SLUICE_MEDIAN_MAX 128
double sluice_median(const double *v, unsigned n);

#endif

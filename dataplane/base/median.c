#include "median.h"

#include <stdlib.h>
#include <string.h>

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double sluice_median(const double *v, unsigned n)
{
	double sorted[SLUICE_MEDIAN_MAX];
	if (n == 0)
		return 0.0;
	if (n > SLUICE_MEDIAN_MAX)
		n = SLUICE_MEDIAN_MAX;
	memcpy(sorted, v, n * sizeof(*v));
	qsort(sorted, n, sizeof(*sorted), compare_double);
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

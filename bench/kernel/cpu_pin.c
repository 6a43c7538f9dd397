#include "cpu_pin.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

bool cpu_pin_allowed(int cpu)
{
	cpu_set_t set;
	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof(set), &set) != 0)
		return false;
	return CPU_ISSET(cpu, &set);
}

int cpu_pin_self(int cpu, char *err, size_t err_len)
{
	if (cpu < 0)
		return 0;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc != 0) {
		snprintf(err, err_len, "pinning to CPU %d: %s", cpu, strerror(rc));
		return -1;
	}
	return 0;
}

/* sluice-kernel-bench's command line.
 *
 * Contract: kernel_options_parse() fills every field (defaults included) and
 * checks every value; on a usage error or --help it has already printed what
 * it must (the error and the usage on stderr, or the usage on stdout), and the
 * program exits with *status.
 */
#ifndef SLUICE_BENCH_KERNEL_KERNEL_OPTIONS_H
#define SLUICE_BENCH_KERNEL_KERNEL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "datagram_process.h"

#define PROGRAM "sluice-kernel-bench"
/* Before each run's measured seconds; the help states it. */
#define WARMUP_SECONDS 0.5

struct kernel_options {
	const char *pcap;
	const char *pack;
	double seconds;
	uint16_t udp_port;
	uint32_t window;
	enum sluice_scan_mode scan_mode;
};

/* true: run with o; false: exit with *status. */
bool kernel_options_parse(int argc, char **argv, struct kernel_options *o, int *status);

#endif

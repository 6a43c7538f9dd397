/* sluice-gen's command line.
 *
 * Contract: gen_options_parse() fills every field (defaults included) and
 * checks every value and combination; on a usage error or --help it has
 * already printed what it must, and the program exits with *status.
 */
#ifndef SLUICE_GEN_OPTIONS_H
#define SLUICE_GEN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli_options.h"

/* SLUICE_MAX_FRAMES in frame_decode.h: more frames in one datagram are
 * too_many_frames. Not included from there, to keep sluice-gen's only inputs the
 * wire format and the packet builder. */
#define MAX_FRAMES_PER_DATAGRAM 256
#define MIN_MTU			256
#define MAX_MTU			9000

struct gen_options {
	const char *out_path;
	const char *text_out_path;
	uint64_t count;
	uint64_t seed;
	unsigned frames_min, frames_max;
	unsigned mtu;
	unsigned flows;
	uint16_t udp_port;
	double violations_pct, ipv6_pct, vlan_pct, other_pct;
	struct cli_list corpus_paths;
	const char *violations_from;
};

/* true: run with o; false: exit with *status. */
bool gen_options_parse(int argc, char **argv, struct gen_options *o, int *status);

void gen_options_free(struct gen_options *o);

#endif

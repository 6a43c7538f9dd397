#include "gen_options.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "wire_format.h"

/* "N" or "MIN-MAX", each within 1..MAX_FRAMES_PER_DATAGRAM. */
static bool parse_frames(const char *s, struct gen_options *o)
{
	char lo_s[32];
	const char *dash = strchr(s, '-');
	uint64_t lo, hi;

	if (!dash) {
		if (!cli_read_unsigned(s, true, 1, MAX_FRAMES_PER_DATAGRAM, &lo))
			return false;
		o->frames_min = o->frames_max = (unsigned)lo;
		return true;
	}
	if ((size_t)(dash - s) >= sizeof(lo_s))
		return false;
	memcpy(lo_s, s, (size_t)(dash - s));
	lo_s[dash - s] = '\0';
	if (!cli_read_unsigned(lo_s, true, 1, MAX_FRAMES_PER_DATAGRAM, &lo) ||
	    !cli_read_unsigned(dash + 1, true, 1, MAX_FRAMES_PER_DATAGRAM, &hi) || lo > hi)
		return false;
	o->frames_min = (unsigned)lo;
	o->frames_max = (unsigned)hi;
	return true;
}

static bool frames_range(const struct cli_option *opt, const char *value, void *target, char *err,
			 size_t err_len)
{
	(void)opt, (void)err, (void)err_len;
	return parse_frames(value, target);
}

static bool frames_per_datagram(const struct cli_option *opt, const char *value, void *target,
				char *err, size_t err_len)
{
	(void)opt, (void)err, (void)err_len;
	return strchr(value, '-') == NULL && parse_frames(value, target);
}

#define FRAMES_WANT "N or MIN-MAX within 1-256"

static const struct cli_option options[] = {
    {.name = "output",
     .short_name = 'o',
     .kind = CLI_STRING,
     CLI_FIELD(struct gen_options, out_path),
     .value_name = "FILE",
     .help = "pcap to write ('-' = stdout; required)"},
    {.name = "count",
     .short_name = 'n',
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct gen_options, count),
     .max = UINT64_MAX,
     .want = "a count",
     .value_name = "N",
     .help = "packets to write, message datagrams and\n"
	     "others together (default 10000)"},
    {.name = "seed",
     .short_name = 's',
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct gen_options, seed),
     .max = UINT64_MAX,
     .want = "an unsigned integer",
     .value_name = "N",
     .help = "random seed (default 1)"},
    {.name = "frames",
     .kind = CLI_STRING,
     .parse = frames_range,
     .want = FRAMES_WANT,
     .value_name = "MIN-MAX",
     .help = "frames per message datagram (default 1-3;\n"
	     "fewer when the next one would exceed --mtu)"},
    {.name = "frames-per-datagram",
     .kind = CLI_STRING,
     .parse = frames_per_datagram,
     .want = FRAMES_WANT,
     .value_name = "N",
     .help = "the same as --frames N-N"},
    {.name = "mtu",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct gen_options, mtu),
     .min = MIN_MTU,
     .max = MAX_MTU,
     .value_name = "N",
     .help = "IP MTU a datagram must fit (default 1500)"},
    {.name = "violations",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct gen_options, violations_pct),
     .high = 100,
     .low_included = true,
     .value_name = "PCT",
     .help = "share of messages carrying a snippet the\n"
	     "bundled rules catch (default 10)"},
    {.name = "violations-from",
     .kind = CLI_STRING,
     CLI_FIELD(struct gen_options, violations_from),
     .value_name = "FILE",
     .help = "draw those snippets from FILE, one per line,\n"
	     "instead (e.g. the output of 'sluice-pack\n"
	     "examples RULES.yaml' for the pack under test)"},
    {.name = "corpus",
     .kind = CLI_LIST,
     CLI_FIELD(struct gen_options, corpus_paths),
     .value_name = "FILE",
     .help = "text to cut messages from: one per line, or\n"
	     "fortune format ('%' lines); repeatable.\n"
	     "Default: /usr/share/games/fortunes/* (packages\n"
	     "fortunes, fortunes-zh), else\n"
	     "bench/data/chat-sample.txt"},
    {.name = "ipv6-share",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct gen_options, ipv6_pct),
     .high = 100,
     .low_included = true,
     .value_name = "PCT",
     .help = "share of packets over IPv6 (default 20)"},
    {.name = "vlan-share",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct gen_options, vlan_pct),
     .high = 100,
     .low_included = true,
     .value_name = "PCT",
     .help = "share of packets with an 802.1Q tag (default 10)"},
    {.name = "other-share",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct gen_options, other_pct),
     .high = 100,
     .low_included = true,
     .value_name = "PCT",
     .help = "share of non-message packets: ARP requests and\n"
	     "DNS queries to UDP port 53 (default 5)"},
    {.name = "flows",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct gen_options, flows),
     .min = 1,
     .max = 65535,
     .value_name = "N",
     .help = "client address/port pairs (default 64)"},
    {.name = "udp-port",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct gen_options, udp_port),
     .min = 1,
     .max = 65535,
     .want = "a port 1-65535",
     .value_name = "N",
     .help = "message port (default 7700)"},
    {.name = "text-out",
     .kind = CLI_STRING,
     CLI_FIELD(struct gen_options, text_out_path),
     .value_name = "FILE",
     .help = "also write each message as 'msg_id<TAB>text'"},
};

static const struct cli_program program = {
    .usage_head = "usage: sluice-gen -o OUT.pcap [options]\n"
		  "\n"
		  "Writes Ethernet frames (pcap, DLT_EN10MB) carrying wire-format v1 chat\n"
		  "messages over UDP, plus some traffic Sluice must pass untouched. The output\n"
		  "is the same for the same options, seed and corpus.\n"
		  "\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 31,
    .align_long_names = true,
    .c_notation = true,
    .getopt_complains = true,
    .wording =
	{
	    .unexpected_argument = "unexpected argument '%s'",
	    .bad_value = "--%s %s: expected %s",
	    .unsigned_range = "%" PRIu64 " to %" PRIu64,
	    .double_range = "a percentage %g-%g",
	},
};

bool gen_options_parse(int argc, char **argv, struct gen_options *o, int *status)
{
	*o = (struct gen_options){
	    .count = 10000,
	    .seed = 1,
	    .frames_min = 1,
	    .frames_max = 3,
	    .mtu = 1500,
	    .flows = 64,
	    .udp_port = SLUICE_WIRE_DEFAULT_PORT,
	    .violations_pct = 10,
	    .ipv6_pct = 20,
	    .vlan_pct = 10,
	    .other_pct = 5,
	};
	char err[512];
	*status = 2;
	switch (cli_parse(&program, argc, argv, o, NULL, err, sizeof(err))) {
	case CLI_RUN:
		break;
	case CLI_HELP:
		*status = 0;
		return false;
	case CLI_BAD_OPTION:
		/* getopt has said which; the usage says what there is. */
		cli_usage(&program, stderr);
		return false;
	case CLI_BAD_VALUE:
		fprintf(stderr, "sluice-gen: %s\n", err);
		return false;
	}
	if (!o->out_path) {
		fprintf(stderr, "sluice-gen: -o OUT.pcap is required (see --help)\n");
		return false;
	}
	if (o->text_out_path && !strcmp(o->out_path, "-") && !strcmp(o->text_out_path, "-")) {
		fprintf(stderr, "sluice-gen: -o - and --text-out - would share stdout\n");
		return false;
	}
	return true;
}

void gen_options_free(struct gen_options *o)
{
	cli_list_free(&o->corpus_paths);
}

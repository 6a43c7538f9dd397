/* The sluice daemon's options: defaults, the command line, the config file and
 * the exact wording of every error an operator can meet. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_check.h"
#include "options.h"
#include "pack_sign.h"
#include "test_support.h"

/* ---- helpers ---- */

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Parses {"sluice", ...} into a fresh, defaulted opt; returns the parse result. */
#define PARSE(opt, err, ...)                                                                       \
	({                                                                                         \
		const char *argv_[] = {"sluice", __VA_ARGS__};                                     \
		sluice_options_defaults(opt);                                                      \
		(err)[0] = '\0';                                                                   \
		sluice_options_parse(ARGC(argv_), (char **)argv_, opt, err, sizeof(err));          \
	})

/* Config files written by this test process, removed at exit even when an
 * assertion ends the test early. */
static char *written[8];
static unsigned written_count;

static void remove_written(void)
{
	for (unsigned i = 0; i < written_count; i++)
		unlink(written[i]);
}

static char *write_config(const char *text)
{
	char *path = strdup("/tmp/sluice-test-options-XXXXXX");
	int fd;
	FILE *f;

	cr_assert_not_null(path);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	if (written_count == 0)
		atexit(remove_written);
	if (written_count < sizeof(written) / sizeof(written[0]))
		written[written_count++] = strdup(path);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	return path;
}

static void expect_error(int rc, const char *err, const char *want)
{
	cr_assert_eq(rc, -1, "parse accepted the arguments; expected error \"%s\"", want);
	cr_assert_str_eq(err, want);
}

/* ---- defaults ---- */

Test(options_defaults, every_field_has_its_documented_default)
{
	struct sluice_options opt;

	sluice_options_defaults(&opt);
	cr_assert_null(opt.rules);
	cr_assert_eq(opt.port_a, 0);
	cr_assert_eq(opt.port_b, 1);
	cr_assert_eq(opt.udp_port, 7700);
	cr_assert_str_eq(opt.events, "-");
	cr_assert_str_eq(opt.control_socket, "/run/sluice/sluice.sock");
	cr_assert_null(opt.summary);
	cr_assert_eq(opt.burst, 32);
	cr_assert_eq(opt.mbufs, 0);
	cr_assert_eq(opt.rx_desc, 1024);
	cr_assert_eq(opt.tx_desc, 1024);
	cr_assert_eq(opt.event_ring, 65536);
	cr_assert_eq(opt.history, 8);
	cr_assert_eq(opt.offline, false);
	cr_assert_eq(opt.idle_ms, 500);
	cr_assert_eq(opt.duration_s, 0.0);
	cr_assert_eq(opt.stall_ms, 1000);
	cr_assert_eq(opt.help, false);
	for (unsigned r = 0; r < SLUICE_BAD_REASON_COUNT; r++)
		cr_assert_eq(opt.policy[r], SLUICE_POLICY_DROP, "reason %u", r);
	sluice_options_free(&opt);
}

Test(options_defaults, only_rules_given_leaves_every_other_default)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack"), 0, "%s", err);
	cr_assert_str_eq(opt.rules, "r.pack");
	cr_assert_eq(opt.udp_port, 7700);
	cr_assert_eq(opt.burst, 32);
	cr_assert_str_eq(opt.events, "-");
	cr_assert_eq(opt.offline, false);
	sluice_options_free(&opt);
}

/* ---- every option on the command line ---- */

Test(options_parse, every_long_option_is_parsed)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules", "/p/r.pack", "--port-a", "3", "--port-b", "5",
		       "--udp-port", "9000", "--events", "/tmp/ev.jsonl", "--control-socket",
		       "/tmp/s.sock", "--summary", "/tmp/sum.json", "--burst", "64", "--mbufs",
		       "16383", "--rx-desc", "512", "--tx-desc", "2048", "--event-ring", "1024",
		       "--history", "4", "--offline", "--idle-ms", "250", "--duration", "2.5",
		       "--stall-ms", "75", "--policy", "bad_magic=drop-quiet");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "/p/r.pack");
	cr_assert_eq(opt.port_a, 3);
	cr_assert_eq(opt.port_b, 5);
	cr_assert_eq(opt.udp_port, 9000);
	cr_assert_str_eq(opt.events, "/tmp/ev.jsonl");
	cr_assert_str_eq(opt.control_socket, "/tmp/s.sock");
	cr_assert_str_eq(opt.summary, "/tmp/sum.json");
	cr_assert_eq(opt.burst, 64);
	cr_assert_eq(opt.mbufs, 16383);
	cr_assert_eq(opt.rx_desc, 512);
	cr_assert_eq(opt.tx_desc, 2048);
	cr_assert_eq(opt.event_ring, 1024);
	cr_assert_eq(opt.history, 4);
	cr_assert_eq(opt.offline, true);
	cr_assert_eq(opt.idle_ms, 250);
	cr_assert_float_eq(opt.duration_s, 2.5, 1e-12);
	cr_assert_eq(opt.stall_ms, 75);
	cr_assert_eq(opt.policy[SLUICE_BAD_MAGIC], SLUICE_POLICY_DROP_QUIET);
	cr_assert_eq(opt.policy[SLUICE_BAD_VERSION], SLUICE_POLICY_DROP);
	cr_assert_eq(opt.help, false);
	sluice_options_free(&opt);
}

Test(options_parse, every_short_option_is_parsed)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "a.yaml", "-p", "7800", "-e", "-", "-s", "none", "-b", "8",
		       "-o", "-d", "10");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "a.yaml");
	cr_assert_eq(opt.udp_port, 7800);
	cr_assert_str_eq(opt.events, "-");
	cr_assert_str_eq(opt.control_socket, "none");
	cr_assert_eq(opt.burst, 8);
	cr_assert_eq(opt.offline, true);
	cr_assert_float_eq(opt.duration_s, 10.0, 1e-12);
	sluice_options_free(&opt);
}

Test(options_parse, short_c_reads_a_config_file)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = from-file.pack\nburst = 16\n");
	int rc = PARSE(&opt, err, "-c", path);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "from-file.pack");
	cr_assert_eq(opt.burst, 16);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_parse, long_option_with_equals_sign_takes_the_value)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules=x.pack", "--burst=128", "--policy=invalid_utf8=replace",
		       "--offline=false");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "x.pack");
	cr_assert_eq(opt.burst, 128);
	cr_assert_eq(opt.policy[SLUICE_BAD_INVALID_UTF8], SLUICE_POLICY_REPLACE);
	cr_assert_eq(opt.offline, false);
	sluice_options_free(&opt);
}

Test(options_parse, later_value_of_a_repeated_option_wins)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules", "first.pack", "--rules", "second.pack", "--burst", "4",
		       "--burst", "200");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "second.pack");
	cr_assert_eq(opt.burst, 200);
	sluice_options_free(&opt);
}

Test(options_parse, range_limits_are_inclusive)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--burst", "1", "--udp-port", "65535",
			   "--event-ring", "64", "--history", "64"),
		     0, "%s", err);
	cr_assert_eq(opt.burst, 1);
	cr_assert_eq(opt.udp_port, 65535);
	cr_assert_eq(opt.event_ring, 64);
	cr_assert_eq(opt.history, 64);
	sluice_options_free(&opt);
	cr_assert_eq(
	    PARSE(&opt, err, "-r", "x", "--burst", "256", "--port-a", "1023", "--port-b", "0"), 0,
	    "%s", err);
	cr_assert_eq(opt.burst, 256);
	cr_assert_eq(opt.port_a, 1023);
	cr_assert_eq(opt.port_b, 0);
	sluice_options_free(&opt);
}

Test(options_parse, help_needs_no_rules)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "--help"), 0, "%s", err);
	cr_assert_eq(opt.help, true);
	sluice_options_free(&opt);
	cr_assert_eq(PARSE(&opt, err, "-h"), 0, "%s", err);
	cr_assert_eq(opt.help, true);
	sluice_options_free(&opt);
}

/* ---- bad-input policies ---- */

Test(options_policy, invalid_utf8_replace_sets_only_that_reason)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--policy", "invalid_utf8=replace"), 0, "%s", err);
	for (unsigned r = 0; r < SLUICE_BAD_REASON_COUNT; r++)
		cr_assert_eq(opt.policy[r],
			     r == SLUICE_BAD_INVALID_UTF8 ? SLUICE_POLICY_REPLACE
							  : SLUICE_POLICY_DROP,
			     "reason %s", sluice_bad_reason_name(r));
	sluice_options_free(&opt);
}

Test(options_policy, all_drop_quiet_sets_every_reason)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--policy", "all=drop-quiet"), 0, "%s", err);
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++)
		cr_assert_eq(opt.policy[r], SLUICE_POLICY_DROP_QUIET, "reason %s",
			     sluice_bad_reason_name(r));
	sluice_options_free(&opt);
}

Test(options_policy, all_replace_sets_only_the_reason_that_allows_it)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(
	    PARSE(&opt, err, "-r", "x", "--policy", "all=drop-quiet", "--policy", "all=replace"), 0,
	    "%s", err);
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++)
		cr_assert_eq(opt.policy[r],
			     r == SLUICE_BAD_INVALID_UTF8 ? SLUICE_POLICY_REPLACE
							  : SLUICE_POLICY_DROP_QUIET,
			     "reason %s", sluice_bad_reason_name(r));
	sluice_options_free(&opt);
}

Test(options_policy, later_policy_for_one_reason_overrides_all)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--policy", "all=drop-quiet", "--policy",
			   "ip_fragment=drop"),
		     0, "%s", err);
	cr_assert_eq(opt.policy[SLUICE_BAD_IP_FRAGMENT], SLUICE_POLICY_DROP);
	cr_assert_eq(opt.policy[SLUICE_BAD_MAGIC], SLUICE_POLICY_DROP_QUIET);
	sluice_options_free(&opt);
}

Test(options_policy, replace_on_a_reason_other_than_invalid_utf8_is_refused)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--policy", "bad_magic=replace");

	expect_error(rc, err, "--policy 'bad_magic=replace': replace applies only to invalid_utf8");
	cr_assert_eq(opt.policy[SLUICE_BAD_MAGIC], SLUICE_POLICY_DROP);
	sluice_options_free(&opt);
}

Test(options_policy, unknown_reason_is_refused_with_the_list_of_reasons)
{
	struct sluice_options opt;
	char err[1024];
	int rc = PARSE(&opt, err, "-r", "x", "--policy", "bogus=drop");

	expect_error(rc, err,
		     "--policy 'bogus=drop': unknown reason 'bogus'; reasons: truncated_header "
		     "bad_magic bad_version bad_text_length trailing_bytes too_many_frames "
		     "empty_payload invalid_utf8 ip_fragment bad_ip_length multi_segment "
		     "scan_error vlan_depth ip_header_chain tcp_header");
	sluice_options_free(&opt);
}

Test(options_policy, unknown_action_is_refused_with_the_list_of_actions)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--policy", "bad_magic=explode");

	expect_error(rc, err,
		     "--policy 'bad_magic=explode': unknown action 'explode' (drop, drop-quiet, "
		     "replace)");
	sluice_options_free(&opt);
}

Test(options_policy, policy_without_equals_sign_is_refused)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--policy", "drop");

	expect_error(rc, err, "--policy 'drop': expected REASON=ACTION, e.g. invalid_utf8=replace");
	sluice_options_free(&opt);
}

/* ---- command-line errors ---- */

Test(options_errors, unknown_long_option)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--frobnicate", "1");

	expect_error(rc, err, "unknown option '--frobnicate' (see --help)");
	sluice_options_free(&opt);
}

Test(options_errors, unknown_short_option)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "-z");

	expect_error(rc, err, "unknown option '-z' (see --help)");
	sluice_options_free(&opt);
}

Test(options_errors, stray_argument)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "extra");

	expect_error(rc, err, "unexpected argument 'extra' (see --help)");
	sluice_options_free(&opt);
}

Test(options_errors, missing_value_at_the_end)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--burst");

	expect_error(rc, err, "--burst needs a value: --burst N");
	sluice_options_free(&opt);
}

Test(options_errors, missing_value_of_short_option_names_the_long_one)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r");

	expect_error(rc, err, "--rules needs a value: --rules FILE");
	sluice_options_free(&opt);
}

Test(options_errors, burst_zero_is_out_of_range)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--burst", "0");

	expect_error(rc, err, "--burst '0': expected a whole number from 1 to 256");
	sluice_options_free(&opt);
}

Test(options_errors, burst_above_maximum_is_out_of_range)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--burst", "257");

	expect_error(rc, err, "--burst '257': expected a whole number from 1 to 256");
	sluice_options_free(&opt);
}

Test(options_errors, udp_port_70000_is_out_of_range)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--udp-port", "70000");

	expect_error(rc, err, "--udp-port '70000': expected a whole number from 1 to 65535");
	cr_assert_eq(opt.udp_port, 7700);
	sluice_options_free(&opt);
}

Test(options_errors, udp_port_zero_is_out_of_range)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "-p", "0");

	expect_error(rc, err, "--udp-port '0': expected a whole number from 1 to 65535");
	sluice_options_free(&opt);
}

Test(options_errors, negative_and_non_numeric_numbers_are_refused)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--idle-ms", "-5");

	expect_error(rc, err, "--idle-ms '-5': expected a whole number from 1 to 3600000");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--history", "4x");
	expect_error(rc, err, "--history '4x': expected a whole number from 2 to 64");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--mbufs", "");
	expect_error(rc, err, "--mbufs '': expected a whole number from 1023 to 4194303");
	sluice_options_free(&opt);
}

Test(options_errors, negative_duration_is_refused)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--duration", "-1");

	expect_error(rc, err, "--duration '-1': expected a number of seconds >= 0");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "-d", "soon");
	expect_error(rc, err, "--duration 'soon': expected a number of seconds >= 0");
	sluice_options_free(&opt);
}

Test(options_errors, flag_with_bad_value_is_refused)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--offline=maybe");

	expect_error(rc, err, "offline = 'maybe': expected true or false");
	sluice_options_free(&opt);
}

Test(options_errors, missing_rules)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--offline", "--burst", "8");

	expect_error(rc, err, "no rules: give --rules FILE (a .pack or a .yaml rule file)");
	sluice_options_free(&opt);
}

Test(options_errors, same_port_a_and_port_b)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--port-a", "2", "--port-b", "2");

	expect_error(rc, err, "--port-a and --port-b are both 2: they must differ");
	sluice_options_free(&opt);
}

Test(options_errors, port_a_equal_to_default_port_b)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--port-a", "1");

	expect_error(rc, err, "--port-a and --port-b are both 1: they must differ");
	sluice_options_free(&opt);
}

Test(options_errors, event_ring_not_a_power_of_two)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--event-ring", "1000");

	expect_error(rc, err, "--event-ring 1000: must be a power of two");
	sluice_options_free(&opt);
}

Test(options_errors, event_ring_below_minimum_is_out_of_range)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--event-ring", "32");

	expect_error(rc, err, "--event-ring '32': expected a whole number from 64 to 16777216");
	sluice_options_free(&opt);
}

Test(options_parse, events_full_policy_and_its_wait)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x"), 0, "%s", err);
	cr_assert_eq(opt.events_full, SLUICE_EVENTS_DROP, "drop is the default");
	cr_assert_eq(opt.events_wait_us, 1000);
	sluice_options_free(&opt);
	cr_assert_eq(
	    PARSE(&opt, err, "-r", "x", "--events-full", "wait", "--events-wait-us", "250"), 0,
	    "%s", err);
	cr_assert_eq(opt.events_full, SLUICE_EVENTS_WAIT);
	cr_assert_eq(opt.events_wait_us, 250);
	sluice_options_free(&opt);
}

Test(options_errors, events_full_other_than_drop_or_wait)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--events-full", "block");

	expect_error(rc, err, "--events-full 'block': expected drop|wait");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-wait-us", "0");
	expect_error(rc, err, "--events-wait-us '0': expected a whole number from 1 to 10000000");
	sluice_options_free(&opt);
}

Test(options_parse, tcp_checksum_is_the_ports_unless_software_is_asked)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x"), 0, "%s", err);
	cr_assert_eq(opt.tcp_checksum, 0, "port is the default");
	sluice_options_free(&opt);
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--tcp-checksum", "software"), 0, "%s", err);
	cr_assert_eq(opt.tcp_checksum, 1);
	sluice_options_free(&opt);
	int rc = PARSE(&opt, err, "-r", "x", "--tcp-checksum", "hardware");
	expect_error(rc, err, "--tcp-checksum 'hardware': expected port|software");
	sluice_options_free(&opt);
}

Test(options_parse, event_review_options_and_their_defaults)
{
	struct sluice_options opt;
	struct sluice_event_filter filter;
	struct sluice_event_rotation rotation;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x"), 0, "%s", err);
	cr_assert_eq(opt.event_snippet, 0, "no snippet by default: privacy");
	cr_assert_null(opt.event_hash_key);
	sluice_options_event_sink(&opt, &filter, &rotation);
	cr_assert_eq(filter.actions, 0);
	cr_assert_null(filter.categories);
	cr_assert_eq(filter.min_severity, SLUICE_SEVERITY_LOW, "low: every event");
	cr_assert_eq(filter.flag_sample, 1);
	cr_assert_eq(rotation.max_bytes, 0, "no rotation by default");
	cr_assert_eq(rotation.keep, 5);
	sluice_options_free(&opt);

	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--event-snippet", "128", "--events-actions",
			   "block,flag", "--events-categories", "contact,gambling",
			   "--events-min-severity", "high", "--events-flag-sample", "100",
			   "--events-max-mb", "64", "--events-keep", "9"),
		     0, "%s", err);
	sluice_options_event_sink(&opt, &filter, &rotation);
	cr_assert_eq(opt.event_snippet, 128);
	cr_assert_eq(filter.actions, (1u << SLUICE_ACTION_BLOCK) | (1u << SLUICE_ACTION_FLAG));
	cr_assert_str_eq(filter.categories, "contact,gambling");
	cr_assert_eq(filter.min_severity, SLUICE_SEVERITY_HIGH);
	cr_assert_eq(filter.flag_sample, 100);
	cr_assert_eq(rotation.max_bytes, 64ull << 20);
	cr_assert_eq(rotation.keep, 9);
	sluice_options_free(&opt);
}

Test(options_errors, event_review_options_out_of_range_or_unknown)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "-r", "x", "--event-snippet", "129");

	expect_error(rc, err, "--event-snippet '129': expected a whole number from 0 to 128");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-actions", "mask,remove");
	expect_error(rc, err,
		     "--events-actions 'mask,remove': 'remove' is not flag, mask or block");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-min-severity", "severe");
	expect_error(rc, err, "--events-min-severity 'severe': expected low|medium|high|critical");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-flag-sample", "0");
	expect_error(rc, err,
		     "--events-flag-sample '0': expected a whole number from 1 to 1000000");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-keep", "0");
	expect_error(rc, err, "--events-keep '0': expected a whole number from 1 to 1000");
	sluice_options_free(&opt);
	/* Empty would filter out every match event, where leaving it out
	 * means all: refused, as an empty word is. */
	rc = PARSE(&opt, err, "-r", "x", "--events-categories", "");
	expect_error(rc, err,
		     "--events-categories '': expected a comma list of categories, none empty "
		     "(leave the option out for all)");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-categories", "contact,,gambling");
	expect_error(rc, err,
		     "--events-categories 'contact,,gambling': expected a comma list of "
		     "categories, none empty (leave the option out for all)");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-r", "x", "--events-categories", "contact, gambling");
	expect_error(rc, err,
		     "--events-categories 'contact, gambling': ' gambling' is not a category "
		     "name (letters, digits, '.', '_', '-')");
	sluice_options_free(&opt);
}

Test(options_errors, event_hash_key_file_must_hold_32_hex_digits)
{
	struct sluice_options opt;
	char err[512], *dir = ts_make_tmpdir("options"), path[512];
	uint64_t key[2];

	snprintf(path, sizeof(path), "%s/key", dir);
	FILE *f = fopen(path, "w");
	fputs("000102030405060708090a0b0c0d0e0f\n", f);
	fclose(f);
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--event-hash-key", path), 0, "%s", err);
	cr_assert_eq(sluice_options_hash_key(&opt, key, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(key[0], 0x0706050403020100ull);
	cr_assert_eq(key[1], 0x0f0e0d0c0b0a0908ull);
	f = fopen(path, "w");
	fputs("my secret\n", f);
	fclose(f);
	cr_assert_eq(sluice_options_hash_key(&opt, key, err, sizeof(err)), -1);
	char want[700];
	snprintf(want, sizeof(want),
		 "%s: event hash key: expected 32 hex digits (openssl rand -hex 16)", path);
	cr_assert_str_eq(err, want);
	sluice_options_free(&opt);
	snprintf(path, sizeof(path), "%s/missing", dir);
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--event-hash-key", path), 0, "%s", err);
	cr_assert_eq(sluice_options_hash_key(&opt, key, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/missing: event hash key: "), "%s", err);
	sluice_options_free(&opt);
	ts_rmtree(dir);
	free(dir);
}

Test(options, now_rehearses_a_day_or_a_utc_time)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "-r", "x"), 0, "%s", err);
	cr_assert_null(opt.now, "the clock by default");
	cr_assert_eq(opt.now_s, 0);
	sluice_options_free(&opt);
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--now", "2026-12-31"), 0, "%s", err);
	cr_assert_eq(opt.now_s, 1798675200, "the start of that day, UTC");
	sluice_options_free(&opt);
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--now", "2026-12-31T23:59:00Z"), 0, "%s", err);
	cr_assert_eq(opt.now_s, 1798761540);
	sluice_options_free(&opt);
}

Test(options_errors, now_that_is_no_date)
{
	static const char *const bad[] = {"2026-13-01",		  "2026-02-29", "2026-12-31 23:59",
					  "2026-12-31T24:00:00Z", "tomorrow",	"+026-12-31"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sluice_options opt;
		char err[512], want[256];
		int rc = PARSE(&opt, err, "-r", "x", "--now", bad[i]);
		snprintf(want, sizeof(want),
			 "--now '%s': write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), for "
			 "example 2026-12-31 or 2026-12-31T23:59:00Z",
			 bad[i]);
		expect_error(rc, err, want);
		sluice_options_free(&opt);
	}
}

Test(options_errors, a_misspelt_option_gets_did_you_mean_on_the_line_and_in_a_file)
{
	struct sluice_options opt;
	char err[512], want[512];
	int rc = PARSE(&opt, err, "-r", "x", "--histroy=3");

	expect_error(rc, err, "unknown option '--histroy' (did you mean 'history'?) (see --help)");
	sluice_options_free(&opt);
	char *path = write_config("rules = x\nevents-wiat-us = 5\n");
	rc = PARSE(&opt, err, "--config", path);
	snprintf(want, sizeof(want),
		 "%s:2: unknown option 'events-wiat-us' (did you mean 'events-wait-us'?) (see "
		 "sluice --help)",
		 path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
	cr_assert(sluice_options_is_known("--rules"));
	cr_assert(sluice_options_is_known("--udp-port=7701"));
	cr_assert_not(sluice_options_is_known("--no-huge"), "an EAL option");
	cr_assert_not(sluice_options_is_known("-r"), "short options clash with EAL's");
}

/* ---- config file ---- */

Test(options_config, values_are_applied)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = /etc/sluice/default.pack\n"
				  "udp-port = 7801\n"
				  "events = /var/log/sluice/events.jsonl\n"
				  "burst = 16\n"
				  "history = 3\n"
				  "offline = true\n"
				  "duration = 0.5\n"
				  "policy = invalid_utf8=replace\n"
				  "policy = ip_fragment=drop-quiet\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "/etc/sluice/default.pack");
	cr_assert_eq(opt.udp_port, 7801);
	cr_assert_str_eq(opt.events, "/var/log/sluice/events.jsonl");
	cr_assert_eq(opt.burst, 16);
	cr_assert_eq(opt.history, 3);
	cr_assert_eq(opt.offline, true);
	cr_assert_float_eq(opt.duration_s, 0.5, 1e-12);
	cr_assert_eq(opt.policy[SLUICE_BAD_INVALID_UTF8], SLUICE_POLICY_REPLACE);
	cr_assert_eq(opt.policy[SLUICE_BAD_IP_FRAGMENT], SLUICE_POLICY_DROP_QUIET);
	cr_assert_eq(opt.policy[SLUICE_BAD_MAGIC], SLUICE_POLICY_DROP);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, bare_flag_name_means_true_and_false_turns_it_off)
{
	struct sluice_options opt;
	char err[512];
	char *on = write_config("offline\n");
	char *off = write_config("offline = true\noffline = no\n");

	sluice_options_defaults(&opt);
	cr_assert_eq(sluice_options_load_file(on, &opt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(opt.offline, true);
	cr_assert_eq(sluice_options_load_file(off, &opt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(opt.offline, false);
	sluice_options_free(&opt);
	unlink(on);
	unlink(off);
	free(on);
	free(off);
}

Test(options_config, command_line_after_config_wins)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = file.pack\nburst = 16\nudp-port = 7801\n");
	int rc = PARSE(&opt, err, "--config", path, "--burst", "8", "--rules", "cli.pack");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(opt.burst, 8);
	cr_assert_str_eq(opt.rules, "cli.pack");
	cr_assert_eq(opt.udp_port, 7801, "a value only in the file is kept");
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

/* options.h: "A --config given there is read first" and "options on the command
 * line are applied after the file and win" - wherever --config stands. */
Test(options_config, command_line_before_config_still_wins)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = file.pack\nburst = 16\n");
	int rc = PARSE(&opt, err, "--burst", "8", "--config", path);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(opt.burst, 8, "the command line's --burst 8 must win over the file's 16");
	cr_assert_str_eq(opt.rules, "file.pack");
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, comments_blank_lines_and_spaces_are_ignored)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("# sluice config\n"
				  "\n"
				  "   \t\n"
				  "  rules=spaced.pack   # trailing comment\n"
				  "\tburst   =   12\t\n"
				  "# burst = 99\n"
				  "\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.rules, "spaced.pack");
	cr_assert_eq(opt.burst, 12);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, unknown_option_names_file_and_line)
{
	struct sluice_options opt;
	char err[512], want[600];
	char *path = write_config("# header\nrules = x.pack\n\nfrobnicate = 3\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:4: unknown option 'frobnicate' (see sluice --help)", path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, config_inside_config_is_an_unknown_option)
{
	struct sluice_options opt;
	char err[512], want[600];
	char *path = write_config("config = /etc/other.conf\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1: unknown option 'config' (see sluice --help)", path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, bad_value_names_file_and_line)
{
	struct sluice_options opt;
	char err[512], want[600];
	char *path = write_config("rules = x.pack\nburst = lots\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:2: --burst 'lots': expected a whole number from 1 to 256",
		 path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, bad_policy_names_file_and_line)
{
	struct sluice_options opt;
	char err[512], want[600];
	char *path = write_config("\n\npolicy = bad_version=replace\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	snprintf(want, sizeof(want),
		 "%s:3: --policy 'bad_version=replace': replace applies only to invalid_utf8",
		 path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, option_without_value_names_file_and_line)
{
	struct sluice_options opt;
	char err[512], want[600];
	char *path = write_config("burst\n");
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file(path, &opt, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:1: 'burst' needs a value: burst = N", path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, error_in_config_given_on_command_line_is_reported)
{
	struct sluice_options opt;
	char err[512], want[600];
	char *path = write_config("rules = x.pack\nudp-port = 70000\n");
	int rc = PARSE(&opt, err, "--config", path);

	snprintf(want, sizeof(want),
		 "%s:2: --udp-port '70000': expected a whole number from 1 to 65535", path);
	expect_error(rc, err, want);
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_config, missing_file)
{
	struct sluice_options opt;
	char err[512];
	int rc;

	sluice_options_defaults(&opt);
	rc = sluice_options_load_file("/nonexistent/sluice.conf", &opt, err, sizeof(err));
	expect_error(
	    rc, err,
	    "/nonexistent/sluice.conf: config file: cannot open: No such file or directory");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "-c", "/nonexistent/sluice.conf");
	expect_error(
	    rc, err,
	    "/nonexistent/sluice.conf: config file: cannot open: No such file or directory");
	sluice_options_free(&opt);
}

/* ---- usage ---- */

Test(options_usage, lists_every_option_and_every_reason)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const words[] = {
	    "usage: sluice [EAL options] -- [sluice options]",
	    "-c, --config FILE",
	    "-r, --rules FILE",
	    "--port-a N",
	    "--port-b N",
	    "-p, --udp-port N",
	    "-e, --events FILE",
	    "-s, --control-socket PATH",
	    "--summary FILE",
	    "-b, --burst N",
	    "--mbufs N",
	    "--rx-desc N",
	    "--tx-desc N",
	    "--event-ring N",
	    "--history N",
	    "-o, --offline",
	    "--idle-ms MS",
	    "-d, --duration SECONDS",
	    "--stall-ms MS",
	    "--policy REASON=ACTION",
	    "-h, --help",
	    "Bad-input reasons: truncated_header bad_magic bad_version bad_text_length "
	    "trailing_bytes too_many_frames empty_payload invalid_utf8 ip_fragment "
	    "bad_ip_length multi_segment scan_error vlan_depth ip_header_chain tcp_header\n",
	};

	cr_assert_not_null(f);
	sluice_options_usage(f, "sluice");
	fclose(f);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		cr_assert_not_null(strstr(text, words[i]), "usage lacks \"%s\":\n%s", words[i],
				   text);
	free(text);
}

/* ---- pack lifecycle options ---- */

Test(options_lifecycle, defaults_are_no_urgent_pack_no_cap_no_audit_log_no_group)
{
	struct sluice_options opt;

	sluice_options_defaults(&opt);
	cr_assert_null(opt.urgent_rules);
	cr_assert_eq(opt.memory_cap_mb, 0);
	cr_assert_null(opt.audit_log);
	cr_assert_null(opt.socket_group);
	sluice_options_free(&opt);
}

Test(options_lifecycle, every_lifecycle_option_is_parsed)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules", "r.pack", "--urgent-rules", "/p/urgent.pack",
		       "--memory-cap-mb", "2048", "--audit-log", "/var/log/sluice/audit.jsonl",
		       "--socket-group", "sluice");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.urgent_rules, "/p/urgent.pack");
	cr_assert_eq(opt.memory_cap_mb, 2048);
	cr_assert_str_eq(opt.audit_log, "/var/log/sluice/audit.jsonl");
	cr_assert_str_eq(opt.socket_group, "sluice");
	sluice_options_free(&opt);
}

Test(options_lifecycle, audit_log_dash_and_cap_zero_are_accepted)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack", "--audit-log", "-", "--memory-cap-mb=0"),
		     0, "%s", err);
	cr_assert_str_eq(opt.audit_log, "-");
	cr_assert_eq(opt.memory_cap_mb, 0);
	sluice_options_free(&opt);
}

Test(options_lifecycle, memory_cap_out_of_range_is_refused)
{
	struct sluice_options opt;
	char err[512];

	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--memory-cap-mb", "1048577"), err,
		     "--memory-cap-mb '1048577': expected a whole number from 0 to 1048576");
	sluice_options_free(&opt);
	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--memory-cap-mb", "-1"), err,
		     "--memory-cap-mb '-1': expected a whole number from 0 to 1048576");
	sluice_options_free(&opt);
}

Test(options_lifecycle, empty_socket_group_is_refused)
{
	struct sluice_options opt;
	char err[512];

	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--socket-group", ""), err,
		     "--socket-group: needs a group name");
	sluice_options_free(&opt);
}

Test(options_lifecycle, config_file_sets_the_lifecycle_options)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = main.pack\n"
				  "urgent-rules = urgent.pack\n"
				  "memory-cap-mb = 512\n"
				  "audit-log = /var/log/sluice/audit.jsonl\n"
				  "socket-group = sluice\n");

	cr_assert_eq(PARSE(&opt, err, "--config", path), 0, "%s", err);
	cr_assert_str_eq(opt.urgent_rules, "urgent.pack");
	cr_assert_eq(opt.memory_cap_mb, 512);
	cr_assert_str_eq(opt.audit_log, "/var/log/sluice/audit.jsonl");
	cr_assert_str_eq(opt.socket_group, "sluice");
	sluice_options_free(&opt);
	free(path);
}

Test(options_lifecycle, usage_lists_the_lifecycle_options)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	static const char *const words[] = {
	    "--urgent-rules FILE",
	    "--memory-cap-mb N",
	    "--audit-log FILE",
	    "--socket-group NAME",
	    "packs kept for rollback per slot",
	};

	cr_assert_not_null(f);
	sluice_options_usage(f, "sluice");
	fclose(f);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		cr_assert_not_null(strstr(text, words[i]), "usage lacks \"%s\":\n%s", words[i],
				   text);
	free(text);
}

/* ---- signatures ---- */

Test(options_signatures, trusted_key_is_repeatable_and_require_signed_is_a_flag)
{
	struct sluice_options opt;
	char err[512];

	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", "/etc/sluice/a.pub",
			   "--trusted-key", "/etc/sluice/b.pub", "--require-signed"),
		     0, "%s", err);
	cr_assert_eq(opt.trusted_key_count, 2);
	cr_assert_str_eq(opt.trusted_keys[0], "/etc/sluice/a.pub");
	cr_assert_str_eq(opt.trusted_keys[1], "/etc/sluice/b.pub");
	cr_assert_eq(opt.require_signed, true);
	sluice_options_free(&opt);
	cr_assert_eq(opt.trusted_key_count, 0);

	sluice_options_defaults(&opt);
	cr_assert_eq(opt.trusted_key_count, 0);
	cr_assert_eq(opt.require_signed, false);
	sluice_options_free(&opt);
}

Test(options_signatures, require_signed_without_a_key_is_refused)
{
	struct sluice_options opt;
	char err[512];

	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--require-signed"), err,
		     "--require-signed needs at least one --trusted-key: no pack could load");
	sluice_options_free(&opt);
}

Test(options_signatures, more_than_sixteen_keys_are_refused)
{
	struct sluice_options opt;
	char err[512];
	const char *argv[40] = {"sluice", "--rules", "r.pack"};
	int argc = 3;

	for (int i = 0; i < 17; i++) {
		argv[argc++] = "--trusted-key";
		argv[argc++] = "k.pub";
	}
	sluice_options_defaults(&opt);
	expect_error(sluice_options_parse(argc, (char **)argv, &opt, err, sizeof(err)), err,
		     "--trusted-key 'k.pub': at most 16 trusted keys");
	sluice_options_free(&opt);
}

Test(options_signatures, config_file_lines_add_keys)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = main.pack\n"
				  "trusted-key = /etc/sluice/release.pub\n"
				  "trusted-key = /etc/sluice/oncall.pub\n"
				  "require-signed = true\n");

	cr_assert_eq(PARSE(&opt, err, "--config", path, "--trusted-key", "/tmp/extra.pub"), 0, "%s",
		     err);
	cr_assert_eq(opt.trusted_key_count, 3);
	cr_assert_str_eq(opt.trusted_keys[0], "/etc/sluice/release.pub");
	cr_assert_str_eq(opt.trusted_keys[1], "/etc/sluice/oncall.pub");
	cr_assert_str_eq(opt.trusted_keys[2], "/tmp/extra.pub");
	cr_assert_eq(opt.require_signed, true);
	sluice_options_free(&opt);
	free(path);
}

Test(options_signatures, revoked_keys_and_signatures_required_from_both_places)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = main.pack\n"
				  "trusted-key = /etc/sluice/release.pub\n"
				  "trusted-key = /etc/sluice/oncall.pub\n"
				  "signatures-required = 2\n"
				  "revoked-key = /etc/sluice/old.pub\n"
				  "require-signed = true\n");

	cr_assert_eq(PARSE(&opt, err, "--config", path, "--revoked-key",
			   "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
		     0, "%s", err);
	cr_assert_eq(opt.signatures_required, 2);
	cr_assert_eq(opt.revoked_key_count, 2);
	cr_assert_str_eq(opt.revoked_keys[0], "/etc/sluice/old.pub");
	cr_assert_str_eq(opt.revoked_keys[1],
			 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
	cr_assert_eq(opt.trusted_key_count, 2, "revoked keys are not trusted ones");
	sluice_options_free(&opt);
	cr_assert_eq(opt.revoked_key_count, 0);
	free(path);

	sluice_options_defaults(&opt);
	cr_assert_eq(opt.signatures_required, 0, "not given: one signature");
	cr_assert_eq(opt.revoked_key_count, 0);
	sluice_options_free(&opt);
}

Test(options_signatures, a_policy_that_unsigned_packs_would_bypass_is_refused)
{
	struct sluice_options opt;
	char err[512];

	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", "a.pub",
			   "--trusted-key", "b.pub", "--signatures-required", "2"),
		     err,
		     "--signatures-required 2 needs --require-signed: without it an unsigned pack "
		     "would still load");
	sluice_options_free(&opt);
	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--signatures-required", "9"), err,
		     "--signatures-required '9': expected a whole number from 1 to 8");
	sluice_options_free(&opt);
	expect_error(PARSE(&opt, err, "--rules", "r.pack", "--signatures-required", "0"), err,
		     "--signatures-required '0': expected a whole number from 1 to 8");
	sluice_options_free(&opt);
}

/* The trust the daemon and --check-config build: what only the key files
 * can tell (how many distinct keys, which is which) is refused there. */
Test(options_signatures, trust_refuses_more_signatures_than_keys_and_a_key_both_ways)
{
	struct sluice_options opt;
	char err[1024], id[65];
	char *dir = ts_make_tmpdir("options");
	char a_key[512], a_pub[512], b_key[512], b_pub[512], want[1400];

	snprintf(a_key, sizeof(a_key), "%s/a.key", dir);
	snprintf(a_pub, sizeof(a_pub), "%s/a.pub", dir);
	snprintf(b_key, sizeof(b_key), "%s/b.key", dir);
	snprintf(b_pub, sizeof(b_pub), "%s/b.pub", dir);
	cr_assert_eq(sluice_keygen(a_key, a_pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_keygen(b_key, b_pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_key_id(a_pub, id, err, sizeof(err)), 0, "%s", err);

	/* One key given twice is one approver. */
	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", a_pub, "--trusted-key",
			   a_pub, "--signatures-required", "2", "--require-signed"),
		     0, "%s", err);
	cr_expect_null(sluice_options_trust(&opt, err, sizeof(err)));
	cr_expect_str_eq(err, "--signatures-required 2: 2 signatures by trusted keys required, but "
			      "only 1 distinct key is trusted: no pack could load");
	sluice_options_free(&opt);

	/* Two files, two keys: two of two is a policy. */
	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", a_pub, "--trusted-key",
			   b_pub, "--signatures-required", "2", "--require-signed"),
		     0, "%s", err);
	struct sluice_trust *t = sluice_options_trust(&opt, err, sizeof(err));
	cr_assert_not_null(t, "%s", err);
	cr_expect_eq(sluice_trust_required(t), 2);
	sluice_trust_free(t);
	sluice_options_free(&opt);

	/* Three required of two keys. */
	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", a_pub, "--trusted-key",
			   b_pub, "--signatures-required", "3", "--require-signed"),
		     0, "%s", err);
	cr_expect_null(sluice_options_trust(&opt, err, sizeof(err)));
	cr_expect_str_eq(err, "--signatures-required 3: 3 signatures by trusted keys required, but "
			      "only 2 distinct keys are trusted: no pack could load");
	sluice_options_free(&opt);

	/* A key both trusted and revoked, by id. */
	cr_assert_eq(
	    PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", a_pub, "--revoked-key", id), 0,
	    "%s", err);
	cr_expect_null(sluice_options_trust(&opt, err, sizeof(err)));
	snprintf(want, sizeof(want),
		 "%s: key %s is both trusted and revoked; remove it from the trusted keys", id, id);
	cr_expect_str_eq(err, want);
	sluice_options_free(&opt);

	/* ... or by its private key file; and a revoked key that is missing. */
	cr_assert_eq(
	    PARSE(&opt, err, "--rules", "r.pack", "--trusted-key", a_pub, "--revoked-key", a_key),
	    0, "%s", err);
	cr_expect_null(sluice_options_trust(&opt, err, sizeof(err)));
	cr_expect_not_null(strstr(err, "is both trusted and revoked"), "%s", err);
	sluice_options_free(&opt);
	cr_assert_eq(PARSE(&opt, err, "--rules", "r.pack", "--revoked-key", "/nonexistent.pub"), 0,
		     "%s", err);
	cr_expect_null(sluice_options_trust(&opt, err, sizeof(err)));
	cr_expect_str_eq(err, "revoked key '/nonexistent.pub' is not a key id (64 hex digits) and "
			      "cannot be read as a key file: /nonexistent.pub: cannot open: No "
			      "such file or directory");
	sluice_options_free(&opt);
	ts_rmtree(dir);
	free(dir);
}

Test(options_signatures, usage_lists_the_signature_options)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	sluice_options_usage(f, "sluice");
	fclose(f);
	cr_assert_not_null(strstr(text, "--trusted-key FILE"), "%s", text);
	cr_assert_not_null(strstr(text, "--require-signed"), "%s", text);
	cr_assert_not_null(strstr(text, "--signatures-required N"), "%s", text);
	cr_assert_not_null(strstr(text, "--revoked-key KEY"), "%s", text);
	free(text);
}

/* ---- metrics ---- */

Test(options_parse, metrics_are_off_until_an_address_is_given)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules", "x.pack");

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_null(opt.metrics_listen);
	cr_assert_eq(opt.metrics_rule_limit, 500);
	sluice_options_free(&opt);
}

Test(options_parse, metrics_listen_and_rule_limit_from_the_file_and_the_command_line)
{
	struct sluice_options opt;
	char err[512];
	char *path = write_config("rules = x.pack\nmetrics-listen = 127.0.0.1:9470\n"
				  "metrics-rule-limit = 40\n");
	int rc = PARSE(&opt, err, "-c", path);

	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.metrics_listen, "127.0.0.1:9470");
	cr_assert_eq(opt.metrics_rule_limit, 40);
	sluice_options_free(&opt);

	rc = PARSE(&opt, err, "-c", path, "--metrics-listen", "[::1]:9999");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.metrics_listen, "[::1]:9999");
	sluice_options_free(&opt);
	unlink(path);
	free(path);
}

Test(options_parse, metrics_listen_must_be_an_address_and_a_port)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules", "x.pack", "--metrics-listen", "localhost:9470");

	expect_error(rc, err,
		     "--metrics-listen 'localhost:9470': 'localhost' is not an IPv4 address or a "
		     "bracketed IPv6 address (names are not looked up)");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "--rules", "x.pack", "--metrics-listen", "127.0.0.1");
	expect_error(rc, err,
		     "--metrics-listen '127.0.0.1': write ADDRESS:PORT, e.g. 127.0.0.1:9470 or "
		     "[::1]:9470");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "--rules", "x.pack", "--metrics-rule-limit", "0");
	cr_assert_eq(rc, -1);
	sluice_options_free(&opt);
}

Test(options_parse, bus_security_applies_to_the_events_bus_and_the_pack_source)
{
	struct sluice_options opt;
	char err[512];
	int rc = PARSE(&opt, err, "--rules", "x.pack", "--bus-ca", "/etc/sluice/nats-ca.pem");
	expect_error(rc, err,
		     "--bus-ca, --bus-cert, --bus-key, --bus-user-file and --bus-creds secure"
		     " --events-bus and --pack-source, and neither is given");
	sluice_options_free(&opt);
	char *path = write_config("rules = x.pack\npack-source = nats://10.0.0.1:4222\n"
				  "events-bus = nats://10.0.0.1:4222\n"
				  "bus-ca = /etc/sluice/nats-ca.pem\n"
				  "bus-user-file = /etc/sluice/nats.user\n");
	rc = PARSE(&opt, err, "-c", path);
	cr_assert_eq(rc, 0, "%s", err);
	struct sluice_event_bus_config bus;
	struct sluice_fleet_watch_config fleet;
	sluice_options_event_bus(&opt, &bus);
	sluice_options_fleet(&opt, "host", &fleet);
	cr_assert_str_eq(bus.security.ca_file, "/etc/sluice/nats-ca.pem");
	cr_assert_str_eq(bus.security.user_file, "/etc/sluice/nats.user");
	cr_assert_str_eq(fleet.security.ca_file, "/etc/sluice/nats-ca.pem");
	cr_assert_str_eq(fleet.security.user_file, "/etc/sluice/nats.user");
	cr_assert_null(fleet.security.creds_file);
	sluice_options_free(&opt);
	cr_assert_null(opt.bus_ca);
	unlink(path);
	free(path);
}

Test(options_parse, metrics_auth_and_tls_secure_an_endpoint_that_is_given)
{
	struct sluice_options opt;
	char err[512];
	int rc =
	    PARSE(&opt, err, "--rules", "x.pack", "--metrics-auth", "/etc/sluice/metrics.auth");
	expect_error(rc, err,
		     "--metrics-auth and --metrics-tls-cert/-key secure --metrics-listen, which is "
		     "not given");
	sluice_options_free(&opt);
	rc = PARSE(&opt, err, "--rules", "x.pack", "--metrics-listen", "127.0.0.1:9470",
		   "--metrics-tls-cert", "c.pem");
	expect_error(rc, err, "--metrics-tls-cert and --metrics-tls-key go together");
	sluice_options_free(&opt);
	char *path = write_config("rules = x.pack\nmetrics-listen = 127.0.0.1:9470\n"
				  "metrics-auth = /etc/sluice/metrics.auth\n"
				  "metrics-tls-cert = /etc/sluice/metrics.crt\n"
				  "metrics-tls-key = /etc/sluice/metrics.key\n");
	rc = PARSE(&opt, err, "-c", path);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_str_eq(opt.metrics_auth, "/etc/sluice/metrics.auth");
	cr_assert_str_eq(opt.metrics_tls_cert, "/etc/sluice/metrics.crt");
	cr_assert_str_eq(opt.metrics_tls_key, "/etc/sluice/metrics.key");
	sluice_options_free(&opt);
	cr_assert_null(opt.metrics_auth);
	unlink(path);
	free(path);
}

Test(options_parse, event_bus_options_their_defaults_and_config_lines)
{
	struct sluice_options opt;
	struct sluice_event_bus_config bus;
	char err[512];
	cr_assert_eq(PARSE(&opt, err, "-r", "x"), 0, "%s", err);
	sluice_options_event_bus(&opt, &bus);
	cr_assert_null(bus.servers, "no bus unless asked for");
	cr_assert_str_eq(bus.stream, "SLUICE_EVENTS");
	cr_assert_eq(bus.replicas, 1);
	cr_assert_eq(bus.max_pending, 1024);
	cr_assert_eq(bus.ack_timeout_ms, 5000);
	cr_assert_null(bus.spool_path);
	cr_assert_eq(bus.spool_max_bytes, 256ull << 20);
	sluice_options_free(&opt);

	char *path = write_config("events = none\n"
				  "events-bus = nats://10.0.0.1:4222,nats://10.0.0.2:4222\n"
				  "events-stream = CHAT_EVENTS\n"
				  "events-stream-replicas = 3\n"
				  "events-spool = /var/lib/sluice/events.spool\n"
				  "events-spool-mb = 1024\n");
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--config", path, "--events-bus-pending", "4096",
			   "--events-bus-ack-ms", "2000"),
		     0, "%s", err);
	sluice_options_event_bus(&opt, &bus);
	cr_assert_str_eq(opt.events, "none");
	cr_assert_str_eq(bus.servers, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
	cr_assert_str_eq(bus.stream, "CHAT_EVENTS");
	cr_assert_eq(bus.replicas, 3);
	cr_assert_eq(bus.max_pending, 4096);
	cr_assert_eq(bus.ack_timeout_ms, 2000);
	cr_assert_str_eq(bus.spool_path, "/var/lib/sluice/events.spool");
	cr_assert_eq(bus.spool_max_bytes, 1024ull << 20);
	sluice_options_free(&opt);
	unlink(path);
	free(path);

	expect_error(PARSE(&opt, err, "-r", "x", "--events-stream-replicas", "7"), err,
		     "--events-stream-replicas '7': expected a whole number from 1 to 5");
	sluice_options_free(&opt);
	expect_error(PARSE(&opt, err, "-r", "x", "--events-bus-ack-ms", "10"), err,
		     "--events-bus-ack-ms '10': expected a whole number from 100 to 600000");
	sluice_options_free(&opt);
}

Test(options_parse, fleet_options_their_defaults_and_config_lines)
{
	struct sluice_options opt;
	struct sluice_fleet_watch_config fc;
	struct sluice_event_bus_config bus;
	char err[512];
	cr_assert_eq(PARSE(&opt, err, "-r", "x"), 0, "%s", err);
	sluice_options_fleet(&opt, "host-1", &fc);
	cr_assert_null(fc.servers, "no pack source unless asked for");
	cr_assert_str_eq(fc.bucket, "SLUICE_PACKS");
	cr_assert_str_eq(fc.gateway, "host-1", "the host name by default");
	cr_assert_str_eq(fc.group, "main");
	cr_assert_str_eq(fc.cache_dir, "/var/lib/sluice/fleet");
	cr_assert_eq(fc.heartbeat_ms, 2000);
	cr_assert_eq(fc.replicas, 1);
	sluice_options_free(&opt);

	char *path = write_config("pack-source = nats://10.0.0.1:4222,nats://10.0.0.2:4222\n"
				  "pack-bucket = CHAT_PACKS\n"
				  "fleet-group = canary\n"
				  "gateway-name = gw-fra-1\n"
				  "pack-cache = /srv/sluice/fleet\n"
				  "pack-bucket-replicas = 3\n");
	cr_assert_eq(PARSE(&opt, err, "-r", "x", "--config", path, "--fleet-heartbeat-ms", "500"),
		     0, "%s", err);
	sluice_options_fleet(&opt, "host-1", &fc);
	cr_assert_str_eq(fc.servers, "nats://10.0.0.1:4222,nats://10.0.0.2:4222");
	cr_assert_str_eq(fc.bucket, "CHAT_PACKS");
	cr_assert_str_eq(fc.group, "canary");
	cr_assert_str_eq(fc.gateway, "gw-fra-1");
	cr_assert_str_eq(fc.cache_dir, "/srv/sluice/fleet");
	cr_assert_eq(fc.heartbeat_ms, 500);
	cr_assert_eq(fc.replicas, 3);
	/* One gateway name for the fleet and for the events bus's message ids. */
	sluice_options_event_bus(&opt, &bus);
	cr_assert_str_eq(bus.gateway, "gw-fra-1");
	sluice_options_free(&opt);
	unlink(path);
	free(path);

	expect_error(PARSE(&opt, err, "-r", "x", "--fleet-heartbeat-ms", "10"), err,
		     "--fleet-heartbeat-ms '10': expected a whole number from 100 to 600000");
	sluice_options_free(&opt);
	expect_error(PARSE(&opt, err, "-r", "x", "--pack-bucket-replicas", "0"), err,
		     "--pack-bucket-replicas '0': expected a whole number from 1 to 5");
	sluice_options_free(&opt);
}

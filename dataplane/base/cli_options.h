/* Command lines described as tables: sluice-gen and the benchmark programs
 * each list their options once (name, kind of value, the field it fills, its
 * help text) and this module parses argv with getopt_long, checks every value
 * against its range, and prints --help, all from that one table.
 *
 * Contract:
 * - cli_parse() stores each value in the field the option names, at its
 *   offset in the caller's target struct; defaults are whatever the target
 *   held before. Options are taken in the order given, so a later one
 *   overwrites an earlier one, and --help (-h, added to every table) prints
 *   the usage on stdout and stops at once.
 * - A refused command line returns CLI_BAD_VALUE or CLI_BAD_OPTION with the
 *   reason in err (the caller prints it after its program name); err is empty
 *   only where the program keeps getopt's own complaints (getopt_complains).
 *   An option marked required and not given is a CLI_BAD_VALUE too.
 * - cli_parse_main() is the same for a program's main(): it prints the
 *   refusal after the program's name and says what to exit with.
 * - The wording of every message is the program's (struct cli_wording), so
 *   programs that shared this parser late keep the words they always printed;
 *   a NULL wording takes the common one given beside each field.
 * - Nothing here allocates except CLI_LIST and CLI_INPUT_FILE values, which
 *   the caller frees (cli_list_free(), free()).
 *
 * It lives beside sluice-gen because sluice-gen is built before the
 * benchmarks and must not depend on them; it uses nothing but libc.
 */
#ifndef SLUICE_GEN_CLI_OPTIONS_H
#define SLUICE_GEN_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The most options one table may hold, --help not counted. */
#define CLI_MAX_OPTIONS 32

enum cli_kind {
	CLI_FLAG,	/* no value: the bool field becomes true */
	CLI_STRING,	/* the value as given (a const char * into argv) */
	CLI_UNSIGNED,	/* a whole number in [min, max], in an unsigned field of any width */
	CLI_DOUBLE,	/* a number in (low, high], or [low, high] with low_included */
	CLI_CHOICE,	/* one of choices[]: its index, in an enum or unsigned field */
	CLI_LIST,	/* repeatable: each value appended to a struct cli_list */
	CLI_INPUT_FILE, /* a readable file: its absolute path, malloc'd, in a char * field */
};

struct cli_option;

/* Replaces an option's own parsing (the kind still says whether it takes a
 * value, and how a refusal is worded). Returns false to refuse the value; a
 * hook that leaves err empty gets the program's bad-value message. */
typedef bool (*cli_parse_hook)(const struct cli_option *opt, const char *value, void *target,
			       char *err, size_t err_len);

struct cli_option {
	const char *name; /* the long name, without "--" */
	char short_name;  /* 0: none */
	enum cli_kind kind;
	size_t offset, size;	    /* the field in the target struct: CLI_FIELD() */
	uint64_t min, max;	    /* CLI_UNSIGNED */
	double low, high;	    /* CLI_DOUBLE */
	bool low_included;	    /* CLI_DOUBLE: low itself is allowed */
	const char *const *choices; /* CLI_CHOICE: NULL-terminated */
	cli_parse_hook parse;	    /* NULL: the kind's own parsing */
	const char *want;	    /* what a refused value should have been; NULL:
				     * from the range or the choices */
	const char *value_name;	    /* in the help: "--name VALUE" */
	const char *help;	    /* lines separated by '\n'; NULL: not listed
				     * (the usage line shows it) */
	bool required;		    /* a command line without it is refused */
};

/* The field an option fills: CLI_FIELD(struct my_options, member). */
#define CLI_FIELD(type, member)                                                                    \
	.offset = offsetof(type, member), .size = sizeof(((type *)0)->member)

/* The messages the parser writes. Each is a printf format whose arguments
 * are listed beside it. */
struct cli_wording {
	/* the option as given ("--foo", "--quick=1");
	 * "unknown option or missing value: %s (see --help)" */
	const char *unknown_option;
	/* "-x" for an unknown short option; unknown_option's words */
	const char *unknown_short_option;
	/* the option as given; unknown_option's words */
	const char *missing_value;
	/* the argument; "unexpected argument %s" */
	const char *unexpected_argument;
	/* name, value, want; "--%s %s: want %s" */
	const char *bad_value;
	/* min, max (uint64_t); "an integer from %" PRIu64 " to %" PRIu64 */
	const char *unsigned_range;
	/* low, high; "a number above %g and at most %g" */
	const char *double_range;
};

struct cli_program {
	const char *name;	/* for cli_parse_main()'s messages */
	const char *usage_head; /* the usage before the option lines */
	const char *usage_tail; /* and after them */
	const struct cli_option *options;
	size_t option_count;
	int help_column; /* where the help text starts on an option's line */
	/* Options without a short name start where those with one have their
	 * long name, under "-x, "; false: at the margin. */
	bool align_long_names;
	/* Whole numbers are read as C reads them (0x10, 017) rather than as
	 * decimal only. */
	bool c_notation;
	/* getopt prints its own complaint about an unknown option or a missing
	 * value (opterr), and err stays empty. */
	bool getopt_complains;
	/* Arguments after "--" are the caller's (cli_parsed.rest), and options
	 * end at the first argument that is not one. */
	bool rest_after_dashes;
	struct cli_wording wording;
};

/* What cli_parse() saw besides the values. */
struct cli_parsed {
	bool seen[CLI_MAX_OPTIONS]; /* seen[i]: options[i] was given */
	int rest;		    /* argv[rest..argc) follow "--" (rest_after_dashes) */
};

enum cli_result {
	CLI_RUN,
	CLI_HELP,	/* the usage was printed on stdout */
	CLI_BAD_VALUE,	/* a value, a stray argument or the table itself: err */
	CLI_BAD_OPTION, /* an unknown option or a missing value: err */
};

enum cli_result cli_parse(const struct cli_program *program, int argc, char **argv, void *target,
			  struct cli_parsed *parsed, char *err, size_t err_len);

void cli_usage(const struct cli_program *program, FILE *out);

/* cli_parse() for a program's main(): CLI_MAIN_RUN to go on, or the status to
 * exit with: 0 after --help, 2 after a refusal, which it prints on stderr
 * after the program's name. */
#define CLI_MAIN_RUN (-1)
int cli_parse_main(const struct cli_program *program, int argc, char **argv, void *target,
		   struct cli_parsed *parsed);

/* The strings of a CLI_LIST option, in the order given. */
struct cli_list {
	const char **items;
	size_t count;
};

void cli_list_free(struct cli_list *list);

/* The checks the kinds make, for parse hooks and for values that do not come
 * from the command line. */
bool cli_read_unsigned(const char *text, bool c_notation, uint64_t min, uint64_t max,
		       uint64_t *out);
bool cli_read_double(const char *text, double low, double high, bool low_included, double *out);

/* A CLI_INPUT_FILE value: *out becomes path made absolute (the old *out
 * freed), or -1 with "--NAME PATH: cannot read it: REASON" in err. */
int cli_input_file(const char *name, const char *path, char **out, char *err, size_t err_len);

/* The field opt names in target. */
void *cli_field(const struct cli_option *opt, void *target);

#endif

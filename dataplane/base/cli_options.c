#include "cli_options.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* getopt_long's code for options[i]: above every short option's character. */
#define FIRST_LONG_CODE 256

static const char *wording(const char *chosen, const char *common)
{
	return chosen != NULL ? chosen : common;
}

static const char *unknown_option_words(const struct cli_wording *w)
{
	return wording(w->unknown_option, "unknown option or missing value: %s (see --help)");
}

static bool takes_value(const struct cli_option *opt)
{
	return opt->kind != CLI_FLAG;
}

void *cli_field(const struct cli_option *opt, void *target)
{
	return (char *)target + opt->offset;
}

bool cli_read_unsigned(const char *text, bool c_notation, uint64_t min, uint64_t max, uint64_t *out)
{
	/* strtoull would wrap "-1" around to a huge number. */
	if (text[0] == '\0' || text[0] == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, c_notation ? 0 : 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

bool cli_read_double(const char *text, double low, double high, bool low_included, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	/* Written so that NaN fails every comparison and is refused. */
	bool above_low = low_included ? v >= low : v > low;
	if (errno != 0 || end == text || *end != '\0' || !above_low || !(v <= high))
		return false;
	*out = v;
	return true;
}

int cli_input_file(const char *name, const char *path, char **out, char *err, size_t err_len)
{
	char *abs = realpath(path, NULL);
	if (abs == NULL || access(abs, R_OK) != 0) {
		snprintf(err, err_len, "--%s %s: cannot read it: %s", name, path, strerror(errno));
		free(abs);
		return -1;
	}
	free(*out);
	*out = abs;
	return 0;
}

void cli_list_free(struct cli_list *list)
{
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* Into a field of whichever width the target declares. */
static bool store_unsigned(void *field, size_t size, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	switch (size) {
	case 1:
		memcpy(field, &u8, size);
		return true;
	case 2:
		memcpy(field, &u16, size);
		return true;
	case 4:
		memcpy(field, &u32, size);
		return true;
	case 8:
		memcpy(field, &v, size);
		return true;
	}
	return false;
}

static void want_text(const struct cli_program *p, const struct cli_option *opt, char *out,
		      size_t out_len)
{
	const struct cli_wording *w = &p->wording;
	if (opt->want != NULL) {
		snprintf(out, out_len, "%s", opt->want);
	} else if (opt->kind == CLI_UNSIGNED) {
		snprintf(out, out_len,
			 wording(w->unsigned_range, "an integer from %" PRIu64 " to %" PRIu64),
			 opt->min, opt->max);
	} else if (opt->kind == CLI_DOUBLE) {
		snprintf(out, out_len, wording(w->double_range, "a number above %g and at most %g"),
			 opt->low, opt->high);
	} else if (opt->kind == CLI_CHOICE) {
		/* "a, b or c" */
		size_t used = 0;
		out[0] = '\0';
		for (size_t i = 0; opt->choices[i] != NULL && used < out_len; i++) {
			const char *sep = i == 0 ? "" : opt->choices[i + 1] == NULL ? " or " : ", ";
			used += (size_t)snprintf(out + used, out_len - used, "%s%s", sep,
						 opt->choices[i]);
		}
	} else {
		snprintf(out, out_len, "a value");
	}
}

static bool read_choice(const struct cli_option *opt, const char *value, void *field)
{
	for (size_t i = 0; opt->choices[i] != NULL; i++)
		if (strcmp(value, opt->choices[i]) == 0)
			return store_unsigned(field, opt->size, i);
	return false;
}

static bool append_to_list(struct cli_list *list, const char *value, char *err, size_t err_len)
{
	const char **items = realloc(list->items, (list->count + 1) * sizeof(*items));
	if (items == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	items[list->count++] = value;
	list->items = items;
	return true;
}

/* The kind's own parsing; false with err empty for the bad-value message. */
static bool read_value(const struct cli_program *p, const struct cli_option *opt, const char *value,
		       void *field, char *err, size_t err_len)
{
	uint64_t whole;
	switch (opt->kind) {
	case CLI_FLAG:
		*(bool *)field = true;
		return true;
	case CLI_STRING:
		*(const char **)field = value;
		return true;
	case CLI_UNSIGNED:
		return cli_read_unsigned(value, p->c_notation, opt->min, opt->max, &whole) &&
		       store_unsigned(field, opt->size, whole);
	case CLI_DOUBLE:
		return cli_read_double(value, opt->low, opt->high, opt->low_included, field);
	case CLI_CHOICE:
		return read_choice(opt, value, field);
	case CLI_LIST:
		return append_to_list(field, value, err, err_len);
	case CLI_INPUT_FILE:
		return cli_input_file(opt->name, value, field, err, err_len) == 0;
	}
	return false;
}

static bool apply(const struct cli_program *p, const struct cli_option *opt, const char *value,
		  void *target, char *err, size_t err_len)
{
	err[0] = '\0';
	bool ok = opt->parse != NULL
		      ? opt->parse(opt, value, target, err, err_len)
		      : read_value(p, opt, value, cli_field(opt, target), err, err_len);
	if (!ok && err[0] == '\0') {
		char want[256];
		want_text(p, opt, want, sizeof(want));
		snprintf(err, err_len, wording(p->wording.bad_value, "--%s %s: want %s"), opt->name,
			 value, want);
	}
	return ok;
}

/* Whether the field is what the kind stores; a hook's field is its own. */
static bool field_fits(const struct cli_option *opt)
{
	if (opt->parse != NULL)
		return true;
	switch (opt->kind) {
	case CLI_FLAG:
		return opt->size == sizeof(bool);
	case CLI_STRING:
	case CLI_INPUT_FILE:
		return opt->size == sizeof(char *);
	case CLI_UNSIGNED:
	case CLI_CHOICE:
		return opt->size == 1 || opt->size == 2 || opt->size == 4 || opt->size == 8;
	case CLI_DOUBLE:
		return opt->size == sizeof(double);
	case CLI_LIST:
		return opt->size == sizeof(struct cli_list);
	}
	return false;
}

/* The tables getopt_long wants, from the program's; false if the program's
 * table cannot be parsed. */
static bool getopt_tables(const struct cli_program *p, struct option *longopts, char *shortopts)
{
	if (p->option_count > CLI_MAX_OPTIONS)
		return false;
	for (size_t i = 0; i < p->option_count; i++)
		if (!field_fits(&p->options[i]))
			return false;
	char *s = shortopts;
	if (p->rest_after_dashes)
		*s++ = '+';
	/* A leading ':' makes a missing value ':' rather than '?', and keeps
	 * getopt quiet. */
	if (!p->getopt_complains)
		*s++ = ':';
	*s++ = 'h';
	for (size_t i = 0; i < p->option_count; i++) {
		const struct cli_option *opt = &p->options[i];
		int has_arg = takes_value(opt) ? required_argument : no_argument;
		longopts[i] = (struct option){opt->name, has_arg, NULL, FIRST_LONG_CODE + (int)i};
		if (opt->short_name != 0) {
			*s++ = opt->short_name;
			if (has_arg == required_argument)
				*s++ = ':';
		}
	}
	*s = '\0';
	longopts[p->option_count] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[p->option_count + 1] = (struct option){NULL, 0, NULL, 0};
	return true;
}

static int option_index(const struct cli_program *p, int code)
{
	if (code >= FIRST_LONG_CODE)
		return code - FIRST_LONG_CODE;
	for (size_t i = 0; i < p->option_count; i++)
		if (p->options[i].short_name == code)
			return (int)i;
	return -1;
}

/* What getopt refused: an unknown option, or one without its value. */
static void bad_option(const struct cli_program *p, int code, char **argv, char *err,
		       size_t err_len)
{
	const struct cli_wording *w = &p->wording;
	const char *given = argv[optind - 1];
	if (p->getopt_complains) {
		err[0] = '\0';
	} else if (code == ':') {
		snprintf(err, err_len, wording(w->missing_value, unknown_option_words(w)), given);
	} else if (optopt != 0 && given[1] != '-') {
		char letter[3] = {'-', (char)optopt, '\0'};
		snprintf(err, err_len, wording(w->unknown_short_option, unknown_option_words(w)),
			 letter);
	} else {
		snprintf(err, err_len, unknown_option_words(w), given);
	}
}

enum cli_result cli_parse(const struct cli_program *p, int argc, char **argv, void *target,
			  struct cli_parsed *parsed, char *err, size_t err_len)
{
	struct option longopts[CLI_MAX_OPTIONS + 2];
	char shortopts[4 + 2 * CLI_MAX_OPTIONS];
	struct cli_parsed ignored;
	if (parsed == NULL)
		parsed = &ignored;
	memset(parsed, 0, sizeof(*parsed));
	if (!getopt_tables(p, longopts, shortopts)) {
		snprintf(err, err_len,
			 "internal error: more than %d options, or a field that does not fit its "
			 "option",
			 CLI_MAX_OPTIONS);
		return CLI_BAD_VALUE;
	}
	opterr = p->getopt_complains;
	optind = 1;
	int code;
	while ((code = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (code == 'h') {
			cli_usage(p, stdout);
			return CLI_HELP;
		}
		int i = option_index(p, code);
		if (code == '?' || code == ':' || i < 0) {
			bad_option(p, code, argv, err, err_len);
			return CLI_BAD_OPTION;
		}
		parsed->seen[i] = true;
		if (!apply(p, &p->options[i], optarg, target, err, err_len))
			return CLI_BAD_VALUE;
	}
	parsed->rest = optind;
	if (optind < argc && !(p->rest_after_dashes && strcmp(argv[optind - 1], "--") == 0)) {
		snprintf(err, err_len,
			 wording(p->wording.unexpected_argument, "unexpected argument %s"),
			 argv[optind]);
		return CLI_BAD_VALUE;
	}
	for (size_t i = 0; i < p->option_count; i++) {
		if (p->options[i].required && !parsed->seen[i]) {
			snprintf(err, err_len, "--%s is required (see --help)", p->options[i].name);
			return CLI_BAD_VALUE;
		}
	}
	return CLI_RUN;
}

int cli_parse_main(const struct cli_program *p, int argc, char **argv, void *target,
		   struct cli_parsed *parsed)
{
	char err[512] = "";
	switch (cli_parse(p, argc, argv, target, parsed, err, sizeof(err))) {
	case CLI_RUN:
		return CLI_MAIN_RUN;
	case CLI_HELP:
		return 0;
	case CLI_BAD_VALUE:
	case CLI_BAD_OPTION:
		break;
	}
	if (err[0] != '\0')
		fprintf(stderr, "%s: %s\n", p->name, err);
	return 2;
}

static void usage_line(const struct cli_program *p, const struct cli_option *opt, FILE *out)
{
	int col = fprintf(out, "  ");
	if (opt->short_name != 0)
		col += fprintf(out, "-%c, ", opt->short_name);
	else if (p->align_long_names)
		col += fprintf(out, "    ");
	col += fprintf(out, "--%s", opt->name);
	if (opt->value_name != NULL)
		col += fprintf(out, " %s", opt->value_name);
	/* At least two spaces, even where a long name runs past the column. */
	int pad = p->help_column - col < 2 ? 2 : p->help_column - col;
	fprintf(out, "%*s", pad, "");
	for (const char *line = opt->help; line != NULL;) {
		const char *nl = strchr(line, '\n');
		int len = nl != NULL ? (int)(nl - line) : (int)strlen(line);
		fprintf(out, "%.*s\n", len, line);
		line = nl != NULL ? nl + 1 : NULL;
		if (line != NULL)
			fprintf(out, "%*s", p->help_column, "");
	}
}

void cli_usage(const struct cli_program *p, FILE *out)
{
	static const struct cli_option help = {
	    .name = "help", .short_name = 'h', .kind = CLI_FLAG, .help = "this text"};
	fputs(p->usage_head, out);
	for (size_t i = 0; i < p->option_count; i++)
		if (p->options[i].help != NULL)
			usage_line(p, &p->options[i], out);
	usage_line(p, &help, out);
	if (p->usage_tail != NULL)
		fputs(p->usage_tail, out);
}

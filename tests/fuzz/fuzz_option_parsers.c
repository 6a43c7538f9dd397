/* libFuzzer harness: the small parsers of what operators type or keep in
 * files: the --event-hash-key file (sluice_options_hash_key(), siphash.h),
 * --events-actions (sluice_event_actions_parse()), --events-categories (the
 * event sink's filter), --events-min-severity, --metrics-listen
 * (sluice_metrics_parse_listen()), each also through the daemon's option
 * parser (sluice_options_parse()), and the lines of sluice-pack test --cases
 * files (sp_case_parse()).
 *
 * Feeds: the first byte picks the parser (its value modulo 6), the rest is
 * the text (cut at its first NUL where a C string is parsed).
 *
 * Oracle (each violation calls abort()), against a reference written here
 * from each option's help text and docs:
 * - hash key: a key file is accepted exactly when its first 127 bytes, up to
 *   a NUL, are optional white space, 32 hex digits, optional white space;
 *   the key is those 16 bytes as two little-endian words;
 * - actions: accepted exactly when every comma-separated word is flag, mask
 *   or block; the bits are theirs; the option gives the same answer;
 * - categories: the option accepts exactly a comma list of words of a
 *   rule category's characters (letters, digits, '.', '_', '-'), none empty,
 *   and a refusal names the option; then the sink writes a rule's match
 *   event exactly when its category (never empty, as in a pack) is one of
 *   the list's words (the list as given);
 * - min severity: the option accepts exactly the pack's severity words
 *   (sluice_severity_parse()), and the filter's minimum is that severity;
 * - metrics listen: an accepted address is an IPv4 literal or a bracketed
 *   IPv6 one and a port of 1 to 65535 written in decimal, and printing it
 *   back (inet_ntop) parses to the same address; a refusal's message names
 *   the option and the text; the option agrees (an empty value: none);
 * - case lines: 0 exactly for an empty line or a comment, 1 exactly for
 *   VERDICT TAB TEXT with a known verdict (the text: the rest of the line),
 *   -1 with a message otherwise.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "event_ring.h"
#include "event_sink.h"
#include "fuzz_scratch.h"
#include "hex.h"
#include "metrics_http.h"
#include "options.h"
#include "rule_kind.h"
#include "siphash.h"

#define TEXT_MAX 4096

static const char *key_path;

static void check(bool ok)
{
	if (!ok)
		abort();
}

/* sluice_options_parse() on "--rules x --NAME VALUE"; its return code, the
 * options left in *opt (to free) and the message in err. */
static int parse_option(const char *name, const char *value, struct sluice_options *opt, char *err,
			size_t err_len)
{
	char flag[64];
	snprintf(flag, sizeof(flag), "--%s", name);
	const char *argv[] = {"sluice", "--rules", "x.pack", flag, value, NULL};
	sluice_options_defaults(opt);
	err[0] = '\0';
	return sluice_options_parse(5, (char **)argv, opt, err, err_len);
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void fuzz_hash_key(const uint8_t *in, size_t len)
{
	int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check(fd >= 0);
	check(write(fd, in, len) == (ssize_t)len);
	close(fd);

	/* The reference: what the option reads, as a C string. */
	char text[128];
	size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, in, n);
	text[n] = '\0';
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	uint8_t bytes[16];
	bool ok = true;
	for (int i = 0; i < 32 && ok; i++) {
		int v = sluice_hex_digit((unsigned char)p[i]);
		ok = v >= 0;
		if (ok)
			bytes[i / 2] = (uint8_t)(i % 2 == 0 ? v << 4 : bytes[i / 2] | v);
	}
	for (const char *rest = p + 32; ok && *rest != '\0'; rest++)
		ok = isspace((unsigned char)*rest);

	struct sluice_options opt;
	sluice_options_defaults(&opt);
	opt.event_hash_key = strdup(key_path);
	uint64_t key[2] = {1, 1}, direct[2] = {2, 2};
	char err[512] = "";
	int rc = sluice_options_hash_key(&opt, key, err, sizeof(err));
	check((rc == 0) == ok);
	check((sluice_siphash_key_parse(text, direct) == 0) == ok);
	if (ok) {
		uint64_t want[2] = {0, 0};
		for (int i = 0; i < 16; i++)
			want[i / 8] |= (uint64_t)bytes[i] << (8 * (i % 8));
		check(key[0] == want[0] && key[1] == want[1]);
		check(direct[0] == want[0] && direct[1] == want[1]);
	} else {
		check(starts_with(err, key_path));
	}
	sluice_options_free(&opt);
}

static void fuzz_actions(const char *text)
{
	unsigned want = 0;
	bool ok = true;
	for (const char *w = text;;) {
		const char *comma = strchr(w, ',');
		size_t k = comma != NULL ? (size_t)(comma - w) : strlen(w);
		if (k == 4 && memcmp(w, "flag", 4) == 0)
			want |= 1u << SLUICE_ACTION_FLAG;
		else if (k == 4 && memcmp(w, "mask", 4) == 0)
			want |= 1u << SLUICE_ACTION_MASK;
		else if (k == 5 && memcmp(w, "block", 5) == 0)
			want |= 1u << SLUICE_ACTION_BLOCK;
		else
			ok = false;
		if (comma == NULL || !ok)
			break;
		w = comma + 1;
	}
	unsigned bits = 0;
	char why[256] = "";
	int rc = sluice_event_actions_parse(text, &bits, why, sizeof(why));
	check((rc == 0) == ok);
	check(ok ? bits == want : why[0] != '\0');

	struct sluice_options opt;
	char err[8192];
	rc = parse_option("events-actions", text, &opt, err, sizeof(err));
	check((rc == 0) == ok);
	check(ok ? opt.events_actions == want : starts_with(err, "--events-actions '"));
	sluice_options_free(&opt);
}

/* Whether name is one of list's comma-separated words. */
static bool listed(const char *list, const char *name, size_t name_len)
{
	for (const char *w = list;;) {
		const char *comma = strchr(w, ',');
		size_t k = comma != NULL ? (size_t)(comma - w) : strlen(w);
		if (k == name_len && memcmp(w, name, k) == 0)
			return true;
		if (comma == NULL)
			return false;
		w = comma + 1;
	}
}

/* The text is "LIST\nCATEGORY\nCATEGORY..." (up to 4 rules). */
static void fuzz_categories(const char *text)
{
	const char *nl = strchr(text, '\n');
	if (nl == NULL)
		return;
	char *list = strndup(text, (size_t)(nl - text));
	check(list != NULL);

	struct sluice_options opt;
	char err[8192];
	bool words = true;
	for (const char *w = list;;) {
		size_t k = strcspn(w, ",");
		words &= k > 0;
		for (size_t i = 0; i < k; i++)
			words &= isalnum((unsigned char)w[i]) || w[i] == '.' || w[i] == '_' ||
				 w[i] == '-';
		if (w[k] == '\0')
			break;
		w += k + 1;
	}
	int rc = parse_option("events-categories", list, &opt, err, sizeof(err));
	check((rc == 0) == words);
	if (rc != 0) {
		check(strstr(err, "--events-categories") != NULL);
		sluice_options_free(&opt);
		free(list);
		return;
	}
	struct sluice_event_filter filter;
	struct sluice_event_rotation rotation;
	sluice_options_event_sink(&opt, &filter, &rotation);
	check(filter.categories != NULL && strcmp(filter.categories, list) == 0);

	char cats[4][64];
	struct sluice_pack_rule rules[4];
	unsigned count = 0;
	memset(rules, 0, sizeof(rules));
	for (const char *p = nl + 1; count < 4;) {
		const char *e = strchr(p, '\n');
		size_t k = e != NULL ? (size_t)(e - p) : strlen(p);
		if (k >= sizeof(cats[0]))
			k = sizeof(cats[0]) - 1;
		memcpy(cats[count], p, k);
		cats[count][k] = '\0';
		/* A pack's categories are never empty (rule_file.c's check_name()). */
		if (cats[count][0] != '\0') {
			rules[count] = (struct sluice_pack_rule){
			    .id = "r", .category = cats[count], .action = SLUICE_ACTION_MASK};
			count++;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	struct sluice_pack pack = {
	    .name = "fuzz", .version = "1", .rules = rules, .rule_count = count};
	memcpy(pack.sha256_hex, "0123456789abcdef", 17);

	static const struct sluice_tsc_clock clock = {.tsc0 = 0, .ns0 = 1, .hz = 1000000000};
	struct sluice_event_sink sink;
	struct sluice_event_ring *ring = sluice_event_ring_create(8);
	check(ring != NULL);
	check(sluice_event_sink_open(&sink, "/dev/null", &clock, err, sizeof(err)) == 0);
	check(sluice_event_sink_configure(&sink, &filter, NULL, err, sizeof(err)) == 0);
	uint64_t want_filtered = 0;
	for (unsigned r = 0; r < count; r++) {
		struct sluice_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.kind = SLUICE_EVENT_MATCH;
		ev.pack = &pack;
		ev.rule = r;
		ev.verdict = SLUICE_ACTION_MASK;
		ev.to = 1;
		check(sluice_event_ring_push(ring, &ev));
		want_filtered += !listed(list, cats[r], strlen(cats[r]));
	}
	sluice_event_sink_drain(&sink, ring, count);
	check(sink.filtered == want_filtered && sink.written == count - want_filtered);
	sluice_event_sink_close(&sink);
	sluice_event_ring_free(ring);
	sluice_options_free(&opt);
	free(list);
}

static void fuzz_min_severity(const char *text)
{
	enum sluice_severity want;
	bool ok = sluice_severity_parse(text, &want);
	struct sluice_options opt;
	char err[8192];
	int rc = parse_option("events-min-severity", text, &opt, err, sizeof(err));
	check((rc == 0) == ok);
	if (ok) {
		struct sluice_event_filter filter;
		struct sluice_event_rotation rotation;
		sluice_options_event_sink(&opt, &filter, &rotation);
		check(filter.min_severity == (unsigned)want);
	} else {
		check(starts_with(err, "--events-min-severity '"));
	}
	sluice_options_free(&opt);
}

static void fuzz_listen(const char *text)
{
	struct sockaddr_storage addr;
	char err[8192] = "";
	int rc = sluice_metrics_parse_listen(text, &addr, err, sizeof(err));
	if (rc != 0) {
		char want[600];
		snprintf(want, sizeof(want), "--metrics-listen '%.500s", text);
		check(starts_with(err, want));
	} else {
		const char *colon = strrchr(text, ':');
		check(colon != NULL && colon[1] >= '0' && colon[1] <= '9');
		unsigned long port = strtoul(colon + 1, NULL, 10);
		for (const char *d = colon + 1; *d != '\0'; d++)
			check(*d >= '0' && *d <= '9');
		check(port >= 1 && port <= 65535);
		char host[INET6_ADDRSTRLEN], again[128];
		struct sockaddr_storage back;
		if (addr.ss_family == AF_INET) {
			const struct sockaddr_in *v4 = (const struct sockaddr_in *)&addr;
			check(text[0] != '[' && ntohs(v4->sin_port) == port);
			check(inet_ntop(AF_INET, &v4->sin_addr, host, sizeof(host)) != NULL);
			snprintf(again, sizeof(again), "%s:%lu", host, port);
		} else {
			const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&addr;
			check(addr.ss_family == AF_INET6 && text[0] == '[' && colon[-1] == ']');
			check(ntohs(v6->sin6_port) == port);
			check(inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof(host)) != NULL);
			snprintf(again, sizeof(again), "[%s]:%lu", host, port);
		}
		check(sluice_metrics_parse_listen(again, &back, err, sizeof(err)) == 0);
		check(memcmp(&back, &addr, sizeof(addr)) == 0);
	}
	struct sluice_options opt;
	int orc = parse_option("metrics-listen", text, &opt, err, sizeof(err));
	check(text[0] == '\0' ? orc == 0 && opt.metrics_listen == NULL : (orc == 0) == (rc == 0));
	sluice_options_free(&opt);
}

static void fuzz_case_line(const uint8_t *in, size_t len)
{
	/* A private copy, so that ASan holds the parser to the line's length. */
	char *line = malloc(len ? len : 1);
	check(line != NULL);
	memcpy(line, in, len);
	enum sluice_action verdict = SLUICE_ACTION_MASK;
	const char *text = NULL;
	size_t text_len = 0;
	char err[256] = "";
	int rc = sp_case_parse(line, len, &verdict, &text, &text_len, err, sizeof(err));
	if (len == 0 || line[0] == '#') {
		check(rc == 0);
		free(line);
		return;
	}
	const char *tab = memchr(line, '\t', len);
	size_t n = tab != NULL ? (size_t)(tab - line) : len;
	static const struct {
		const char *word;
		enum sluice_action action;
	} verdicts[] = {{"pass", SLUICE_ACTION_NONE},
			{"none", SLUICE_ACTION_NONE},
			{"flag", SLUICE_ACTION_FLAG},
			{"mask", SLUICE_ACTION_MASK},
			{"block", SLUICE_ACTION_BLOCK}};
	int known = -1;
	for (unsigned k = 0; tab != NULL && k < sizeof(verdicts) / sizeof(verdicts[0]); k++)
		if (strlen(verdicts[k].word) == n && memcmp(line, verdicts[k].word, n) == 0)
			known = (int)k;
	if (known < 0) {
		check(rc == -1 && err[0] != '\0');
	} else {
		check(rc == 1 && verdict == verdicts[known].action);
		check(text == tab + 1 && text_len == len - n - 1);
	}
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	key_path = fuzz_scratch_file("hash.key");
	if (size < 1 || size > TEXT_MAX)
		return 0;
	const uint8_t *in = data + 1;
	size_t len = size - 1;
	char text[TEXT_MAX + 1];
	memcpy(text, in, len);
	text[len] = '\0';
	switch (data[0] % 6) {
	case 0:
		fuzz_hash_key(in, len);
		break;
	case 1:
		fuzz_actions(text);
		break;
	case 2:
		fuzz_categories(text);
		break;
	case 3:
		fuzz_min_severity(text);
		break;
	case 4:
		fuzz_listen(text);
		break;
	default:
		fuzz_case_line(in, len);
		break;
	}
	return 0;
}

/* sluice-pack test --cases: regression files, one expected verdict per
 * message, for a CI job that pins what a pack must do.
 *
 *   # comments and empty lines are skipped
 *   block	加我微信 abc123
 *   pass	路口交通很堵
 *
 * The verdict comes first because texts may hold anything but a newline,
 * tabs included; the first tab ends the verdict.
 */
#include <string.h>

#include "cli.h"

int sp_case_parse(const char *line, size_t len, enum sluice_action *verdict, const char **text,
		  size_t *text_len, char *err, size_t err_len)
{
	if (len == 0 || line[0] == '#')
		return 0;
	const char *tab = memchr(line, '\t', len);
	char word[16];
	size_t n = tab ? (size_t)(tab - line) : len;
	/* A NUL in the verdict would end the word early: "pass\0x" is no verdict. */
	if (tab == NULL || n == 0 || n >= sizeof(word) || memchr(line, '\0', n) != NULL) {
		snprintf(err, err_len,
			 "not a case: write the expected verdict (pass, flag, mask or block), a "
			 "tab, then the message");
		return -1;
	}
	memcpy(word, line, n);
	word[n] = '\0';
	if (!sp_verdict_parse(word, verdict)) {
		snprintf(err, err_len, "'%s' is not a verdict: pass, flag, mask or block", word);
		return -1;
	}
	*text = tab + 1;
	*text_len = len - n - 1;
	return 1;
}

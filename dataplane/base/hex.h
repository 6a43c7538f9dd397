/* Hexadecimal digits, for the rule language's readers of regex escapes (\xHH
 * and \x{H...}: regex_analysis.c, rule_fold.c) and the event hash's key. */
#ifndef SLUICE_BASE_HEX_H
#define SLUICE_BASE_HEX_H

/* The value of the hexadecimal digit c, or -1 when c is not one. */
static inline int sluice_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif

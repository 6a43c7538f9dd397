/* Error messages into a caller's buffer: the convention every library here
 * follows (char *err, size_t err_len), written once.
 */
#ifndef SLUICE_BASE_MESSAGE_H
#define SLUICE_BASE_MESSAGE_H

#include <stddef.h>

/* Formats into err[0..err_len); does nothing when err is NULL or err_len 0. */
void sluice_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif

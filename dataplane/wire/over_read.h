/* Reading a few bytes past the end of a text, for vector code (the UTF-8
 * gate, the fold) that loads a whole vector where a short tail is left.
 *
 * A load that stays inside one page cannot fault, whatever lies past the
 * text: the caller ignores the bytes that are not its own. Copying a tail to
 * the stack and loading it back instead stalls on store forwarding, which
 * was a fifth of the gate's time on chat-sized messages. A build with a
 * sanitizer rightly reports such reads, so there they are never made and
 * callers copy.
 *
 * Contract: sluice_over_read_ok(p, width) says whether width bytes may be
 * loaded from p, given that the byte at p is readable; width is at most the
 * smallest page (4 KiB).
 */
#ifndef SLUICE_WIRE_OVER_READ_H
#define SLUICE_WIRE_OVER_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_OVER_READ 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SLUICE_OVER_READ 0
#endif
#endif
#ifndef SLUICE_OVER_READ
#define SLUICE_OVER_READ 1
#endif

#define SLUICE_PAGE_MIN 4096u

static inline bool sluice_over_read_ok(const void *p, size_t width)
{
	return SLUICE_OVER_READ &&
	       ((uintptr_t)p & (SLUICE_PAGE_MIN - 1)) <= SLUICE_PAGE_MIN - width;
}

#endif

/* Counting hs_scan() calls, wherever they are made.
 *
 * The program is linked with -Wl,--wrap=hs_scan, so every call to hs_scan()
 * in its objects and in the static libraries it links (the match path and the
 * batch scanner included) lands in __wrap_hs_scan(), which counts it and calls
 * the real one. A stage's calls per message are then what the code did, not
 * what its contract says it should do: if the match path stops scanning a
 * database, the figure shows it.
 *
 * Contract: single-threaded (the counter is a plain integer); the cost is one
 * increment per call, far below the cost of any scan.
 */
#ifndef SLUICE_BENCH_SCAN_HS_CALL_COUNT_H
#define SLUICE_BENCH_SCAN_HS_CALL_COUNT_H

#include <stdint.h>

#include <hs/hs.h>

extern uint64_t hs_call_count;

hs_error_t __real_hs_scan(const hs_database_t *db, const char *data, unsigned int length,
			  unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
			  void *context);
hs_error_t __wrap_hs_scan(const hs_database_t *db, const char *data, unsigned int length,
			  unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
			  void *context);

#endif

#include "hs_call_count.h"

uint64_t hs_call_count;

hs_error_t __wrap_hs_scan(const hs_database_t *db, const char *data, unsigned int length,
			  unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
			  void *context)
{
	hs_call_count++;
	return __real_hs_scan(db, data, length, flags, scratch, on_event, context);
}

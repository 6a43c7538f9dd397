#include "rcu_publish.h"

/* Not _LGPL_SOURCE: one exchange and one grace period per swap, on the control
 * thread; the call overhead is nothing beside them, and the project stays
 * clear of inlining LGPL code. */
#include <urcu-qsbr.h>

struct sluice_generation *sluice_rcu_publish(struct sluice_generation **active,
					     struct sluice_generation *gen)
{
	struct sluice_generation *old = rcu_xchg_pointer(active, gen);
	synchronize_rcu();
	return old;
}

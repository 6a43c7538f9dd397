/* RCU publication: how a new generation reaches every worker, and when the
 * one it replaces may be freed. The only place the control plane touches
 * liburcu (QSBR flavour); the workers' side is dataplane/worker.c.
 *
 * Contract (docs/architecture.md, "RCU contract"):
 * - Workers are registered QSBR readers. Each reads the active pointer once
 *   per loop pass with rcu_dereference(), holds nothing across passes, and
 *   reports a quiescent state after every pass; it goes offline before it
 *   stops or sleeps.
 * - The control thread (one writer, so nothing is locked) publishes a fully
 *   built generation with one pointer exchange, then waits for a grace
 *   period: when sluice_rcu_publish() returns, no worker can hold the
 *   generation it replaced, which the caller may drain events for and free.
 * - The wait is unbounded: a caller must first make sure every worker is
 *   passing through quiescent states (the registry's check_workers hook),
 *   or it would wait for a stuck worker forever.
 */
#ifndef SLUICE_CONTROL_RCU_PUBLISH_H
#define SLUICE_CONTROL_RCU_PUBLISH_H

#include "generation.h"

/* Makes gen the generation *active points to and returns the one it
 * replaced (NULL if none), once no reader can hold that one any more. */
struct sluice_generation *sluice_rcu_publish(struct sluice_generation **active,
					     struct sluice_generation *gen);

#endif

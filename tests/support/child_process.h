/* Programs a test starts and stops: the sluice daemon, Prometheus, helpers.
 * Test-only.
 *
 * Contract: a child started here has its stdout and stderr in a log file and
 * dies with the test process, whatever ends it (PR_SET_PDEATHSIG), so that a
 * failed assertion never leaves a daemon holding ports, hugepage files or a
 * control socket for the next test. Waiting never blocks past its timeout.
 */
#ifndef SLUICE_TEST_CHILD_PROCESS_H
#define SLUICE_TEST_CHILD_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

/* Monotonic seconds, and a sleep: the clock every wait here runs on. */
double ts_mono_s(void);
void ts_sleep_ms(unsigned ms);

/* Starts argv (argv[0] a path, or a name looked up in PATH) with stdout and
 * stderr into log (created or truncated). Asserts that fork worked. */
pid_t ts_spawn(char *const argv[], const char *log);

/* The same, with in_child(arg) run in the child before the log is opened
 * (entering a network namespace, setting the environment); NULL: nothing. */
pid_t ts_spawn_with(char *const argv[], const char *log, void (*in_child)(void *), void *arg);

/* Waits up to timeout_s for pid to exit; true with its wait status when it
 * did (*status untouched when it was already reaped), false (still running)
 * otherwise. */
bool ts_child_wait(pid_t pid, double timeout_s, int *status);

/* SIGTERM first when term, then SIGKILL once timeout_s has passed; returns
 * the wait status. */
int ts_child_stop(pid_t pid, bool term, double timeout_s);

/* Whether pid has not exited yet (an exit is reaped). */
bool ts_child_alive(pid_t pid);

#endif

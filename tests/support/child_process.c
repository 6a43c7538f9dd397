#include "child_process.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double ts_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ts_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

pid_t ts_spawn(char *const argv[], const char *log)
{
	return ts_spawn_with(argv, log, NULL, NULL);
}

pid_t ts_spawn_with(char *const argv[], const char *log, void (*in_child)(void *), void *arg)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The parent may have died before the line above. */
		if (getppid() != parent)
			_exit(126);
		if (in_child != NULL)
			in_child(arg);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

bool ts_child_wait(pid_t pid, double timeout_s, int *status)
{
	double end = ts_mono_s() + timeout_s;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		/* ECHILD: already reaped (ts_child_alive() saw it end). */
		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		if (ts_mono_s() > end)
			return false;
		ts_sleep_ms(20);
	}
}

int ts_child_stop(pid_t pid, bool term, double timeout_s)
{
	int status = 0;
	if (term)
		kill(pid, SIGTERM);
	if (!ts_child_wait(pid, timeout_s, &status)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return status;
}

bool ts_child_alive(pid_t pid)
{
	int status;
	return waitpid(pid, &status, WNOHANG) == 0;
}

#include "control_abuse.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abuse_socket.h"
#include "soak_clock.h"

/* The server's request deadline is 1 s (control_clients.c); this is how long
 * we wait before calling a connection held, with room for a control thread
 * busy with a reload on a shared machine. */
#define HOLD_LIMIT_S	    10.0
#define IDLE_HOLD_MIN_S	    3.0
#define IDLE_HOLD_SPREAD_S  3.0
#define IDLE_PAUSE_MIN_S    0.1
#define IDLE_PAUSE_SPREAD_S 0.4
#define POLL_PERIOD_MS	    10
#define HUGE_BYTES	    10240
#define REPLY_CAP	    8192

/* What the server says to each (control_clients.c, control_server.c). */
#define SAYS_NO_LINE  "no complete request line within"
#define SAYS_TOO_LONG "request line longer than"
#define SAYS_NUL      "request line contains a NUL byte"
#define SAYS_UNKNOWN  "unknown request"
#define SAYS_NOT_OK   "\"ok\":false"

/* Words the server does not know: near misses of real commands included,
 * none of which is one (so none changes anything). */
static const char *const unknown_commands[] = {
    "frobnicate", "STATUS",    "status please", "stats rulez", "reload",
    "stop now",	  "rollbacks", "help",		"statistics",  "\tstatus",
};

void soak_abuse_init(struct soak_abuse *a, const char *socket, unsigned idle_max,
		     unsigned connects_per_s, unsigned stallers, unsigned rude_per_s)
{
	memset(a, 0, sizeof(*a));
	a->socket = socket;
	a->idle_max = idle_max;
	a->connects_per_s = connects_per_s;
	a->stallers = stallers;
	a->rude_per_s = rude_per_s;
	atomic_init(&a->stop, false);
}

const char *soak_misuse_name(enum soak_misuse misuse)
{
	static const char *const names[MISUSE_COUNT] = {
	    [MISUSE_IDLE] = "idle",
	    [MISUSE_HALF] = "half_request",
	    [MISUSE_HUGE] = "huge_request",
	    [MISUSE_NUL] = "nul_bytes",
	    [MISUSE_VANISH_RULES] = "vanish_stats_rules",
	    [MISUSE_VANISH_STATUS] = "vanish_status",
	    [MISUSE_CONNECT_CLOSE] = "connect_close",
	    [MISUSE_UNKNOWN] = "unknown_command",
	};
	return (unsigned)misuse < MISUSE_COUNT ? names[misuse] : "?";
}

static bool says(const char *reply, const char *what)
{
	return strstr(reply, SAYS_NOT_OK) != NULL && strstr(reply, what) != NULL;
}

/* Counts what the server did with a connection that was waiting for it. */
static void judge(struct soak_misuse_figures *f, enum abuse_answer answer, const char *reply,
		  const char *must_say)
{
	switch (answer) {
	case ANSWER_REPLY:
		if (says(reply, must_say)) {
			f->answered++;
		} else {
			f->unexpected++;
			snprintf(f->unexpected_example, sizeof(f->unexpected_example), "%.150s",
				 reply);
		}
		break;
	case ANSWER_CLOSED:
		f->cut++;
		break;
	case ANSWER_NONE:
		f->held++;
		break;
	}
}

/* A spread of values from an index, so that connections do not all come
 * and go in step. */
static double spread(unsigned i, double min, double width)
{
	return min + width * (double)((i * 2654435761u) % 1000u) / 1000.0;
}

struct idle_slot {
	int fd;
	double until;	  /* we close it then, if the server has not */
	double reopen_at; /* when closed */
};

static void idle_close(struct idle_slot *s, unsigned i, double now)
{
	close(s->fd);
	s->fd = -1;
	s->reopen_at = now + spread(i, IDLE_PAUSE_MIN_S, IDLE_PAUSE_SPREAD_S);
}

static void *idle_main(void *arg)
{
	struct soak_abuse *a = arg;
	struct soak_misuse_figures *f = &a->fig[MISUSE_IDLE];
	struct idle_slot *slots = calloc(a->idle_max, sizeof(*slots));
	struct pollfd *pfd = calloc(a->idle_max, sizeof(*pfd));
	unsigned *who = calloc(a->idle_max, sizeof(*who));
	char reply[REPLY_CAP];
	if (slots == NULL || pfd == NULL || who == NULL)
		goto out;
	for (unsigned i = 0; i < a->idle_max; i++)
		slots[i].fd = -1;
	/* A token bucket bounds the connects: every slot at once at the start
	 * (the server meets the whole crowd), then at most a tenth of a
	 * second's worth at a time. */
	double cap = a->connects_per_s / 10.0 > 1 ? a->connects_per_s / 10.0 : 1;
	double tokens = a->idle_max;
	double last = sluice_mono_s();
	while (!atomic_load(&a->stop)) {
		double now = sluice_mono_s();
		tokens += (now - last) * a->connects_per_s;
		last = now;
		unsigned open = 0;
		for (unsigned i = 0; i < a->idle_max; i++) {
			struct idle_slot *s = &slots[i];
			if (s->fd < 0 && now >= s->reopen_at && tokens >= 1) {
				tokens -= 1;
				f->attempts++;
				s->fd = abuse_connect(a->socket);
				if (s->fd < 0) {
					f->refused++;
					s->reopen_at = now + IDLE_PAUSE_MIN_S;
				} else {
					s->until =
					    now + spread(i, IDLE_HOLD_MIN_S, IDLE_HOLD_SPREAD_S);
				}
			} else if (s->fd >= 0 && now >= s->until) {
				/* Past the server's deadline by seconds: it held it. */
				f->held++;
				idle_close(s, i, now);
			}
			if (s->fd >= 0) {
				who[open] = i;
				pfd[open++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
			}
		}
		if (open > a->idle_most_open)
			a->idle_most_open = open;
		tokens = tokens < cap ? tokens : cap;
		if (poll(pfd, open, POLL_PERIOD_MS) <= 0)
			continue;
		now = sluice_mono_s();
		for (unsigned k = 0; k < open; k++) {
			if (pfd[k].revents == 0)
				continue;
			struct idle_slot *s = &slots[who[k]];
			judge(f, abuse_await(s->fd, reply, sizeof(reply), now + 1.0), reply,
			      SAYS_NO_LINE);
			idle_close(s, who[k], now);
		}
	}
	for (unsigned i = 0; i < a->idle_max; i++) {
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	}
out:
	free(slots);
	free(pfd);
	free(who);
	return NULL;
}

struct half_slot {
	int fd;
	double until;
};

static void *half_main(void *arg)
{
	struct soak_abuse *a = arg;
	struct soak_misuse_figures *f = &a->fig[MISUSE_HALF];
	struct half_slot *slots = calloc(a->stallers, sizeof(*slots));
	struct pollfd *pfd = calloc(a->stallers, sizeof(*pfd));
	unsigned *who = calloc(a->stallers, sizeof(*who));
	char reply[REPLY_CAP];
	if (slots == NULL || pfd == NULL || who == NULL)
		goto out;
	for (unsigned i = 0; i < a->stallers; i++)
		slots[i].fd = -1;
	while (!atomic_load(&a->stop)) {
		double now = sluice_mono_s();
		unsigned open = 0;
		for (unsigned i = 0; i < a->stallers; i++) {
			struct half_slot *s = &slots[i];
			if (s->fd < 0) {
				f->attempts++;
				s->fd = abuse_connect(a->socket);
				if (s->fd < 0) {
					f->refused++;
					continue;
				}
				s->until = now + HOLD_LIMIT_S;
				if (!abuse_send(s->fd, "stat", 4, now + 1.0)) {
					f->cut++;
					close(s->fd);
					s->fd = -1;
					continue;
				}
			} else if (now >= s->until) {
				f->held++;
				close(s->fd);
				s->fd = -1;
				continue;
			}
			who[open] = i;
			pfd[open++] = (struct pollfd){.fd = s->fd, .events = POLLIN};
		}
		if (poll(pfd, open, POLL_PERIOD_MS) <= 0) {
			if (open == 0)
				soak_nap(POLL_PERIOD_MS / 1e3);
			continue;
		}
		now = sluice_mono_s();
		for (unsigned k = 0; k < open; k++) {
			if (pfd[k].revents == 0)
				continue;
			struct half_slot *s = &slots[who[k]];
			judge(f, abuse_await(s->fd, reply, sizeof(reply), now + 1.0), reply,
			      SAYS_NO_LINE);
			close(s->fd);
			s->fd = -1;
		}
	}
	for (unsigned i = 0; i < a->stallers; i++) {
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	}
out:
	free(slots);
	free(pfd);
	free(who);
	return NULL;
}

/* Sends line (len bytes, as it is), then waits for the server's answer. */
static void ask_rudely(struct soak_abuse *a, struct soak_misuse_figures *f, const char *line,
		       size_t len, const char *must_say)
{
	char reply[REPLY_CAP];
	f->attempts++;
	int fd = abuse_connect(a->socket);
	if (fd < 0) {
		f->refused++;
		return;
	}
	double deadline = sluice_mono_s() + HOLD_LIMIT_S;
	/* A refusal may close the connection while the rest of the bytes are
	 * on their way: what the server said before that is what counts. */
	abuse_send(fd, line, len, deadline);
	judge(f, abuse_await(fd, reply, sizeof(reply), deadline), reply, must_say);
	close(fd);
}

/* Sends line and closes without reading: the server's reply has no reader. */
static void vanish(struct soak_abuse *a, struct soak_misuse_figures *f, const char *line)
{
	f->attempts++;
	int fd = abuse_connect(a->socket);
	if (fd < 0) {
		f->refused++;
		return;
	}
	if (line != NULL)
		abuse_send(fd, line, strlen(line), sluice_mono_s() + 1.0);
	close(fd);
	f->left++;
}

static void rude_once(struct soak_abuse *a, uint64_t k, char *huge)
{
	static const enum soak_misuse order[] = {
	    MISUSE_HUGE,	  MISUSE_NUL,		MISUSE_VANISH_RULES,
	    MISUSE_VANISH_STATUS, MISUSE_CONNECT_CLOSE, MISUSE_UNKNOWN,
	};
	size_t kinds = sizeof(order) / sizeof(order[0]);
	enum soak_misuse m = order[k % kinds];
	struct soak_misuse_figures *f = &a->fig[m];
	char line[64];
	switch (m) {
	case MISUSE_HUGE:
		ask_rudely(a, f, huge, HUGE_BYTES, SAYS_TOO_LONG);
		break;
	case MISUSE_NUL:
		ask_rudely(a, f, "sta\0tus\0\n", 9, SAYS_NUL);
		break;
	case MISUSE_VANISH_RULES:
		vanish(a, f, "stats rules\n");
		break;
	case MISUSE_VANISH_STATUS:
		vanish(a, f, "status\n");
		break;
	case MISUSE_CONNECT_CLOSE:
		vanish(a, f, NULL);
		break;
	default: {
		size_t n = sizeof(unknown_commands) / sizeof(unknown_commands[0]);
		int len = snprintf(line, sizeof(line), "%s\n", unknown_commands[(k / kinds) % n]);
		ask_rudely(a, f, line, (size_t)len, SAYS_UNKNOWN);
		break;
	}
	}
}

static void *rude_main(void *arg)
{
	struct soak_abuse *a = arg;
	char *huge = malloc(HUGE_BYTES);
	if (huge == NULL)
		return NULL;
	memset(huge, 'A', HUGE_BYTES);
	double start = sluice_mono_s();
	for (uint64_t k = 0; !atomic_load(&a->stop); k++) {
		if (!soak_sleep_until(start + (double)k / a->rude_per_s, &a->stop))
			break;
		rude_once(a, k, huge);
	}
	free(huge);
	return NULL;
}

int soak_abuse_start(struct soak_abuse *a)
{
	void *(*const mains[3])(void *) = {idle_main, half_main, rude_main};
	const bool wanted[3] = {a->idle_max > 0, a->stallers > 0, a->rude_per_s > 0};
	for (unsigned i = 0; i < 3; i++) {
		if (!wanted[i])
			continue;
		if (pthread_create(&a->threads[i], NULL, mains[i], a) != 0) {
			soak_abuse_stop(a);
			return -1;
		}
		a->started[i] = true;
	}
	return 0;
}

void soak_abuse_stop(struct soak_abuse *a)
{
	atomic_store(&a->stop, true);
	for (unsigned i = 0; i < 3; i++) {
		if (a->started[i])
			pthread_join(a->threads[i], NULL);
		a->started[i] = false;
	}
}

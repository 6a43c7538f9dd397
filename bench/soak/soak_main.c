/* sluice-soak: the daemon under traffic, pack reloads and a misused control
 * socket for a long time (issue 8). The daemon runs in this process on two
 * net_ring ports (bench/latency's ring harness); traffic, reloads, abuse, the
 * operator and the RSS samples run beside its control thread (soak_run.h);
 * every message that comes out is checked, every counter added up
 * (soak_checks.h).
 *
 * The result is one JSON object on stdout; everything else the process or the
 * daemon prints goes to stderr, because the daemon writes its banner and
 * summary to stdout.
 *
 * Exit status: 0 every check held; 1 a check failed, or the run could not be
 * set up or carried through; 2 usage errors or unusable inputs (a pack that
 * does not act on the message table as the default pack does).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "daemon.h"
#include "injector.h"
#include "message_table.h"
#include "msg_ledger.h"
#include "options.h"
#include "ring_harness.h"
#include "soak_checks.h"
#include "soak_options.h"
#include "soak_packs.h"
#include "soak_report.h"
#include "soak_run.h"

#define PROG "sluice-soak"

/* Port A's RX rings: 40 ms of traffic at the default rate, so a descheduled
 * worker makes the injector wait rather than anything be lost. The sink's
 * rings are deeper: the collector shares a CPU with the control thread and
 * the misusers, and a full sink would make the worker drop. */
#define RX_RING_SIZE 4096
#define TX_RING_SIZE 65536
#define POOL_SLACK   4096
/* The ledger's room beyond rate x duration: the pace catching up after a
 * stall is bounded (injector.h), this bounds it again. */
#define LEDGER_SLACK_SHARE 0.05
#define LEDGER_SLACK_MIN   1000000
/* Descriptors beside the misusers' sockets: EAL, the daemon, the packs. */
#define FD_HEADROOM 256

struct soak {
	struct soak_options opt;
	struct soak_packs packs;
	bool packs_ready;
	char dir[64];
	char *socket;
	struct soak_ledger ledger;
	bool eal_up;
	char placement[640];
	struct ring_harness harness;
	struct sluice_options daemon;
	bool daemon_parsed;
	struct soak_run run;
	bool run_ready;
	FILE *json;
};

static void on_signal(int sig)
{
	(void)sig;
	sluice_daemon_request_stop();
}

/* Room for the misusers' descriptors; fewer idle connections when the hard
 * limit cannot be raised. */
static void raise_fd_limit(struct soak_options *o)
{
	rlim_t need = (rlim_t)o->abuse_idle + o->abuse_stallers + FD_HEADROOM;
	struct rlimit lim;
	if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= need)
		return;
	struct rlimit want = {.rlim_cur = need,
			      .rlim_max = lim.rlim_max > need ? lim.rlim_max : need};
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		return;
	want.rlim_cur = lim.rlim_max;
	want.rlim_max = lim.rlim_max;
	setrlimit(RLIMIT_NOFILE, &want);
	unsigned room = lim.rlim_max > (rlim_t)(o->abuse_stallers + FD_HEADROOM)
			    ? (unsigned)(lim.rlim_max - o->abuse_stallers - FD_HEADROOM)
			    : 0;
	fprintf(stderr, PROG ": RLIMIT_NOFILE is %llu: holding %u idle connections, not %u\n",
		(unsigned long long)lim.rlim_max, room, o->abuse_idle);
	o->abuse_idle = room;
}

/* The CPUs this process may use, read before EAL pins the main thread to
 * one of them. */
static void note_cpus(struct soak_run *run)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return;
	for (unsigned c = 0; c < CPU_SETSIZE && run->cpu_count < PROBE_MAX_CPUS; c++) {
		if (CPU_ISSET(c, &set))
			run->cpus[run->cpu_count++] = c;
	}
}

static int parse_daemon_options(struct soak *s, char *err, size_t err_len)
{
	char *argv[] = {PROG,	     "--rules",		 s->packs.path[0], "--events",
			"/dev/null", "--control-socket", s->socket};
	sluice_options_defaults(&s->daemon);
	s->daemon_parsed = true;
	if (sluice_options_parse((int)(sizeof(argv) / sizeof(argv[0])), argv, &s->daemon, err,
				 err_len) != 0)
		return -1;
	s->daemon.offline = false;
	return 0;
}

/* Inputs checked before anything starts: exit 2 when they are unusable. */
static int prepare_inputs(struct soak *s, char *err, size_t err_len)
{
	soak_table_init();
	if (soak_text_count() > SOAK_TABLE_MAX || soak_max_payload() > SOAK_PAYLOAD_CAP) {
		snprintf(err, err_len, "the message table outgrew the injector's buffers");
		return -1;
	}
	snprintf(s->dir, sizeof(s->dir), "/tmp/sluice-soak-XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		snprintf(err, err_len, "cannot create a temporary directory: %s", strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	if (asprintf(&s->socket, "%s/control.sock", s->dir) < 0) {
		s->socket = NULL;
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	s->packs_ready = true;
	if (soak_packs_prepare(&s->packs, &s->opt, s->dir, err, err_len) != 0 ||
	    soak_packs_check(&s->packs, err, err_len) != 0)
		return -1;
	return parse_daemon_options(s, err, err_len);
}

static int setup_run(struct soak *s, char *err, size_t err_len)
{
	const struct soak_options *o = &s->opt;
	double planned = o->rate_msgs * o->duration_s;
	double slack = planned * LEDGER_SLACK_SHARE;
	uint64_t capacity =
	    (uint64_t)(planned + (slack > LEDGER_SLACK_MIN ? slack : LEDGER_SLACK_MIN));
	if (soak_ledger_create(&s->ledger, capacity, err, err_len) != 0)
		return -1;
	note_cpus(&s->run);
	if (ring_harness_eal_init(PROG, o->workers, o->memory_mb, s->placement,
				  sizeof(s->placement), err, err_len) != 0)
		return -1;
	s->eal_up = true;
	struct ring_harness_shape shape = {
	    .queues = o->workers,
	    .rx_ring_size = RX_RING_SIZE,
	    .tx_ring_size = TX_RING_SIZE,
	    .pool_mbufs = o->workers * (RX_RING_SIZE + TX_RING_SIZE) + POOL_SLACK,
	    .data_room = (uint32_t)(SOAK_MAX_HEADERS + soak_max_payload()),
	};
	if (ring_harness_create_shaped(&s->harness, &shape, err, err_len) != 0)
		return -1;
	s->daemon.port_a = s->harness.port_a;
	s->daemon.port_b = s->harness.port_b;

	s->run.daemon = &s->daemon;
	s->run.opt = &s->opt;
	s->run.packs = &s->packs;
	s->run.harness = &s->harness;
	s->run.ledger = &s->ledger;
	s->run_ready = true;
	return soak_run_init(&s->run, err, err_len);
}

static void cleanup(struct soak *s)
{
	if (s->run_ready)
		soak_run_free(&s->run);
	if (s->daemon_parsed)
		sluice_options_free(&s->daemon);
	if (s->packs_ready)
		soak_packs_free(&s->packs);
	if (s->socket != NULL)
		unlink(s->socket);
	free(s->socket);
	if (s->dir[0] != '\0')
		rmdir(s->dir);
	soak_ledger_destroy(&s->ledger);
	soak_options_free(&s->opt);
	if (s->eal_up)
		ring_harness_eal_cleanup();
}

/* Only the result goes to the real stdout. */
static int set_stdout_aside(struct soak *s)
{
	fflush(stdout);
	int fd = dup(STDOUT_FILENO);
	s->json = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (s->json == NULL || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, PROG ": cannot set stdout aside for the result: %s\n",
			strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct soak s; /* large for a stack, and zeroed */
	char err[1024];
	if (soak_options_parse(argc, argv, &s.opt, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		soak_options_free(&s.opt);
		return 2;
	}
	if (s.opt.help) {
		soak_options_free(&s.opt);
		return 0;
	}
	if (prepare_inputs(&s, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		cleanup(&s);
		return 2;
	}
	raise_fd_limit(&s.opt);
	if (set_stdout_aside(&s) != 0 || setup_run(&s, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		cleanup(&s);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr,
		PROG ": %.0f s at %.0f msg/s, %u worker%s (%s); packs %s and %s, reload every %u "
		     "ms; abuse: %u idle, %u stallers, %u rude/s\n",
		s.opt.duration_s, s.opt.rate_msgs, s.opt.workers, s.opt.workers == 1 ? "" : "s",
		s.placement, s.packs.version[0], s.packs.version[1], s.opt.reload_every_ms,
		s.opt.abuse_idle, s.opt.abuse_stallers, s.opt.abuse_rude_per_s);

	soak_run(&s.run);
	static struct soak_judgement judgement;
	soak_judge(&s.run, &judgement);
	struct soak_report report = {
	    .opt = &s.opt,
	    .packs = &s.packs,
	    .run = &s.run,
	    .judgement = &judgement,
	    .placement = s.placement,
	};
	soak_report_summary(&report, stderr);
	int rc = judgement.all_ok ? 0 : 1;
	if (soak_report_json(&report, s.json) != 0) {
		fprintf(stderr, PROG ": cannot write the result to stdout\n");
		rc = 1;
	}
	fclose(s.json);
	cleanup(&s);
	return rc;
}

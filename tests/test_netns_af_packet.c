/* Real sockets through the daemon: a UDP sender in one network namespace, a
 * receiver in another, and sluice bridging the two on net_af_packet ports bound
 * to the root ends of two veth pairs. ARP crosses the daemon as other traffic, so
 * forwarding works both ways or nothing arrives at all.
 *
 *   ns A: sender 198.18.1.1 ─ veth ─ [sluice port 0 | port 1] ─ veth ─ ns B: 198.18.1.2:7700
 *
 * Needs root (ip netns, veth). Addresses are from 198.18.0.0/15 and nothing
 * leaves the namespaces this test creates; every wait is bounded.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control_protocol.h"
#include "packet_build.h"
#include "child_process.h"
#include "test_support.h"
#include "wire_format.h"

#define ADDR_A "198.18.1.1"
#define ADDR_B "198.18.1.2"

static char ns_a[32], ns_b[32], if_a[16], if_b[16], peer_a[16], peer_b[16];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void teardown_network(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
		 "ip link del %s 2>/dev/null; ip link del %s 2>/dev/null; true",
		 ns_a, ns_b, if_a, if_b);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed: %s\n", cmd);
}

static void setup_network(void)
{
	int id = (int)getpid() % 100000;
	snprintf(ns_a, sizeof(ns_a), "sluice-a-%d", id);
	snprintf(ns_b, sizeof(ns_b), "sluice-b-%d", id);
	snprintf(if_a, sizeof(if_a), "sla%d", id);
	snprintf(if_b, sizeof(if_b), "slb%d", id);
	snprintf(peer_a, sizeof(peer_a), "pa%d", id);
	snprintf(peer_b, sizeof(peer_b), "pb%d", id);
	teardown_network();
	sh("ip netns add %s && ip netns add %s", ns_a, ns_b);
	sh("ip link add %s type veth peer name %s", if_a, peer_a);
	sh("ip link add %s type veth peer name %s", if_b, peer_b);
	sh("ip link set %s netns %s && ip link set %s netns %s", peer_a, ns_a, peer_b, ns_b);
	sh("ip netns exec %s ip addr add " ADDR_A "/24 dev %s", ns_a, peer_a);
	sh("ip netns exec %s ip addr add " ADDR_B "/24 dev %s", ns_b, peer_b);
	/* The kernel must put real checksums in what crosses the af_packet ports. */
	sh("ethtool -K %s tx off rx off >/dev/null && ethtool -K %s tx off rx off >/dev/null", if_a,
	   if_b);
	sh("ip netns exec %s ethtool -K %s tx off rx off >/dev/null", ns_a, peer_a);
	sh("ip netns exec %s ethtool -K %s tx off rx off >/dev/null", ns_b, peer_b);
	sh("ip link set %s up && ip link set %s up", if_a, if_b);
	sh("ip netns exec %s ip link set %s up && ip netns exec %s ip link set lo up", ns_a, peer_a,
	   ns_a);
	sh("ip netns exec %s ip link set %s up && ip netns exec %s ip link set lo up", ns_b, peer_b,
	   ns_b);
	/* IPv6 would send router and neighbour solicitations of its own; keep the
	 * wire to what the test sends. */
	sh("echo 1 >/proc/sys/net/ipv6/conf/%s/disable_ipv6 && "
	   "echo 1 >/proc/sys/net/ipv6/conf/%s/disable_ipv6",
	   if_a, if_b);
}

static void enter_netns(const char *ns)
{
	char path[128];
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
		perror("setns");
		_exit(90);
	}
	close(fd);
}

struct sent_message {
	uint64_t msg_id;
	const char *text;
};

/* Datagrams sent, one or two frames each. */
static const struct sent_message datagrams[][2] = {
    {{1, "hello from the stream, nice play"}, {0, NULL}},
    {{2, "加我 13812345678 私下聊"}, {0, NULL}},
    {{3, "best odds at 网上赌场 tonight"}, {0, NULL}},
    {{4, "gg well played"}, {5, "try 百家乐 now"}},
    {{6, "今天天气不错，晚上一起看直播"}, {0, NULL}},
};
#define DATAGRAM_COUNT (sizeof(datagrams) / sizeof(datagrams[0]))

static size_t payload_of(unsigned i, uint8_t *buf, size_t cap)
{
	size_t used = 0;
	for (unsigned f = 0; f < 2 && datagrams[i][f].text != NULL; f++) {
		struct sluice_wire_message m = ts_msg(datagrams[i][f].msg_id, datagrams[i][f].text);
		used += sluice_wire_frame_write(buf + used, cap - used, &m);
	}
	return used;
}

static pid_t start_receiver(int out_fd)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid != 0)
		return pid;
	enter_netns(ns_b);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_port = htons(SLUICE_WIRE_DEFAULT_PORT)};
	inet_pton(AF_INET, ADDR_B, &addr.sin_addr);
	if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		_exit(91);
	/* Tell the parent we are listening, then pass every datagram up the pipe
	 * as [u16 length][bytes] until 15 s pass. */
	uint16_t ready = 0;
	if (write(out_fd, &ready, 2) != 2)
		_exit(92);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = 15000 - ((now.tv_sec - t0.tv_sec) * 1000 +
				     (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0)
			break;
		struct pollfd pfd = {.fd = s, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		uint8_t buf[4096];
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n <= 0)
			continue;
		uint16_t len = (uint16_t)n;
		if (write(out_fd, &len, 2) != 2 || write(out_fd, buf, (size_t)n) != n)
			_exit(93);
	}
	_exit(0);
}

static int send_all(void)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		enter_netns(ns_a);
		int s = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in to = {.sin_family = AF_INET,
					 .sin_port = htons(SLUICE_WIRE_DEFAULT_PORT)};
		inet_pton(AF_INET, ADDR_B, &to.sin_addr);
		for (unsigned i = 0; i < DATAGRAM_COUNT; i++) {
			uint8_t buf[2048];
			size_t len = payload_of(i, buf, sizeof(buf));
			if (sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) !=
			    (ssize_t)len)
				_exit(94);
			usleep(20000);
		}
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Waits until the daemon answers on its control socket, at most 20 s. */
static void wait_for_daemon(const char *sock, pid_t daemon)
{
	for (int i = 0; i < 400; i++) {
		char *reply = NULL, err[256];
		if (sluice_ctl_request(sock, "status", 2000, &reply, err, sizeof(err)) == 0) {
			free(reply);
			return;
		}
		cr_assert(ts_child_alive(daemon), "sluice exited early");
		ts_sleep_ms(50);
	}
	cr_assert_fail("sluice did not open its control socket");
}

Test(netns_af_packet, udp_sockets_across_namespaces_get_verdicts_applied, .timeout = 120)
{
	cr_assert_eq(geteuid(), 0, "this test creates network namespaces and needs root");
	setup_network();
	char *dir = ts_make_tmpdir("netns");
	char *sock, *events, *log, *rules = ts_source_path("patterns/rules/default.yaml");
	cr_assert_neq(asprintf(&sock, "%s/sluice.sock", dir), -1);
	cr_assert_neq(asprintf(&events, "%s/events.jsonl", dir), -1);
	cr_assert_neq(asprintf(&log, "%s/sluice.log", dir), -1);

	char vdev_a[64], vdev_b[64], prefix[32];
	snprintf(vdev_a, sizeof(vdev_a), "net_af_packet0,iface=%s", if_a);
	snprintf(vdev_b, sizeof(vdev_b), "net_af_packet1,iface=%s", if_b);
	snprintf(prefix, sizeof(prefix), "netns%d", (int)getpid());
	char **argv = ts_sluice_argv(vdev_a, vdev_b, prefix,
				     (const char *const[]){"--rules", rules, "--events", events,
							   "--control-socket", sock, "--duration",
							   "60", NULL});
	pid_t daemon = ts_spawn(argv, log);
	wait_for_daemon(sock, daemon);

	int pipefd[2];
	cr_assert_eq(pipe(pipefd), 0);
	pid_t receiver = start_receiver(pipefd[1]);
	close(pipefd[1]);
	uint16_t ready;
	cr_assert_eq(read(pipefd[0], &ready, 2), 2, "receiver did not start");
	cr_assert_eq(send_all(), 0, "sender failed");

	/* Collect what arrived: frames by msg_id. */
	struct {
		bool seen;
		uint8_t flags;
		char text[256];
	} got[8] = {{0}};
	unsigned datagrams_in = 0;
	struct timespec deadline_ts;
	clock_gettime(CLOCK_MONOTONIC, &deadline_ts);
	time_t deadline = deadline_ts.tv_sec + 10;
	for (;;) {
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* Three datagrams carry something that survives; stop early once seen. */
		if (now.tv_sec > deadline || datagrams_in == 4)
			break;
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		uint16_t len;
		uint8_t buf[4096];
		if (read(pipefd[0], &len, 2) != 2 || read(pipefd[0], buf, len) != len)
			break;
		datagrams_in++;
		size_t off = 0;
		while (off + SLUICE_WIRE_HEADER_LEN <= len) {
			uint64_t id = sluice_be64_load(buf + off + SLUICE_WIRE_OFF_MSG_ID);
			uint16_t tl = sluice_be16_load(buf + off + SLUICE_WIRE_OFF_TEXT_LEN);
			cr_assert_leq(off + SLUICE_WIRE_HEADER_LEN + tl, len,
				      "frame overruns datagram");
			cr_assert_lt(id, 8);
			cr_assert_lt(tl, sizeof(got[id].text));
			got[id].seen = true;
			got[id].flags = buf[off + SLUICE_WIRE_OFF_FLAGS];
			memcpy(got[id].text, buf + off + SLUICE_WIRE_HEADER_LEN, tl);
			got[id].text[tl] = '\0';
			off += SLUICE_WIRE_HEADER_LEN + tl;
		}
		cr_assert_eq(off, len, "datagram not exactly filled by frames");
	}

	char *reply = NULL, err[256];
	cr_assert_eq(sluice_ctl_request(sock, "stop", 5000, &reply, err, sizeof(err)), 0, "%s",
		     err);
	free(reply);
	int status;
	waitpid(daemon, &status, 0);
	kill(receiver, SIGTERM);
	waitpid(receiver, NULL, 0);
	teardown_network();

	char *out = NULL;
	char *cat[] = {"/bin/cat", log, NULL};
	ts_run(cat, 5, &out);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sluice failed:\n%s", out);
	cr_assert(strstr(out, "checksum offload is on") == NULL,
		  "offload is off on every end here, yet:\n%s", out);

	/* The receiving socket saw the kernel accept each datagram, so lengths and
	 * checksums were right after the rewrites. */
	cr_assert(got[1].seen, "clean message lost\n%s", out);
	cr_assert_str_eq(got[1].text, "hello from the stream, nice play");
	cr_assert_eq(got[1].flags, 0);
	cr_assert(got[2].seen, "masked message lost\n%s", out);
	cr_assert_str_eq(got[2].text, "加我 *********** 私下聊");
	cr_assert_eq(got[2].flags & SLUICE_WIRE_FLAG_MASKED, SLUICE_WIRE_FLAG_MASKED);
	cr_assert(!got[3].seen, "blocked message was delivered");
	cr_assert(got[4].seen, "clean frame of the mixed datagram lost");
	cr_assert_str_eq(got[4].text, "gg well played");
	cr_assert(!got[5].seen, "blocked frame of the mixed datagram was delivered");
	cr_assert(got[6].seen);
	cr_assert_str_eq(got[6].text, "今天天气不错，晚上一起看直播");
	cr_assert_eq(datagrams_in, 4, "expected 4 datagrams (one wholly blocked), got %u",
		     datagrams_in);

	/* And the daemon said why the missing ones are missing. */
	char *grep3[] = {"/bin/grep", "-c", "\"msg_id\":3,.*\"verdict\":\"block\"", events, NULL};
	char *count = NULL;
	cr_assert_eq(ts_run(grep3, 5, &count), 0, "no block event for message 3");
	free(count);
	char *grep5[] = {"/bin/grep", "-c", "\"msg_id\":5,.*\"verdict\":\"block\"", events, NULL};
	cr_assert_eq(ts_run(grep5, 5, &count), 0, "no block event for message 5");
	free(count);
	free(out);
	ts_rmtree(dir);
	free(dir);
	free(sock);
	free(events);
	free(log);
	free(rules);
	ts_sluice_argv_free(argv);
}

/* Offload left on at a veth end: the daemon says so at start, naming the
 * interface and the command (docs/operations.md, "af_packet"). */
Test(netns_af_packet, checksum_offload_on_a_veth_is_warned_at_start, .timeout = 60)
{
	cr_assert_eq(geteuid(), 0, "this test creates network namespaces and needs root");
	setup_network();
	sh("ethtool -K %s tx on >/dev/null", if_a);
	char *dir = ts_make_tmpdir("netns");
	char *rules = ts_source_path("patterns/rules/default.yaml");
	char vdev_a[64], vdev_b[64], prefix[32];
	snprintf(vdev_a, sizeof(vdev_a), "net_af_packet0,iface=%s", if_a);
	snprintf(vdev_b, sizeof(vdev_b), "net_af_packet1,iface=%s", if_b);
	snprintf(prefix, sizeof(prefix), "netnsw%d", (int)getpid());
	char **argv =
	    ts_sluice_argv(vdev_a, vdev_b, prefix,
			   (const char *const[]){"--rules", rules, "--duration", "1", NULL});
	char *out = NULL;
	int rc = ts_run(argv, 30, &out);
	teardown_network();
	cr_assert_eq(rc, 0, "sluice failed:\n%s", out);
	char want[256];
	snprintf(want, sizeof(want),
		 "sluice: warning: port 0 (af_packet on %s): checksum offload is on (tx on", if_a);
	cr_assert(strstr(out, want) != NULL, "no warning for %s:\n%s", if_a, out);
	snprintf(want, sizeof(want), "ethtool -K %s tx off rx off", if_a);
	cr_assert(strstr(out, want) != NULL, "no command in the warning:\n%s", out);
	snprintf(want, sizeof(want), "af_packet on %s", if_b);
	cr_assert(strstr(out, want) == NULL, "%s has offload off:\n%s", if_b, out);
	free(out);
	ts_rmtree(dir);
	free(dir);
	free(rules);
	ts_sluice_argv_free(argv);
}

/* Real WebSocket clients and a real server through the daemon: a python
 * (websockets) client and a node (ws) client in one network namespace, a
 * python server in another, and sluice bridging the two on net_af_packet
 * ports bound to the root ends of two veth pairs.
 *
 *   ns C: clients 198.18.2.1 ─ veth ─ [sluice port 0 | port 1] ─ veth ─ ns S: 198.18.2.2:8080
 *
 * Both clients offer permessage-deflate, send the same generated list of chat
 * messages (JSON and plain text, clean and violating, some fragmented, pings
 * between), then "__done__"; the server records every text message and
 * answers with its own list (violating ones too), then closes. The test knows
 * what each message must become and checks every byte that arrived, the
 * events and the daemon's counters.
 *
 * The second test puts an impairing bridge (tests/ws/impair_bridge.py: drop,
 * duplicate, reorder TCP frames) in a third namespace between sluice's port 1
 * and the server, since this kernel has no netem: 3% loss both ways, 3%
 * duplication, 3% reordering.
 *
 *   ... [sluice port 1] ─ veth ─ ns M: impair_bridge.py ─ veth ─ ns S
 *
 * A third test loses, once, the server segment behind one Sluice holds: the
 * server's timer then resends only the held one, and Sluice's custody ACK is
 * what gets the lost one sent (docs/streams.md, "custody").
 *
 * Needs root (ip netns, veth), /usr/bin/python3 with python3-websockets, and
 * node with node-ws. Addresses are from 198.18.0.0/15 and nothing leaves the
 * namespaces this test creates; every wait is bounded, and the namespaces and
 * processes are removed even when an assertion fails (the test's .fini), or by
 * the next run when a timeout killed this one.
 *
 * To reproduce a given loss by hand, two variables add arguments:
 * SLUICE_WS_IMPAIR to the bridge (e.g. "--drop 0 --dup 0 --reorder 0
 * --drop-once-b-to-a 6e657773206974656d20373920": lose, once, the server's
 * segment that carries "news item 79 ") and SLUICE_WS_SLUICE to the daemon
 * (e.g. "--hold-ms 5000"). "--pcap /tmp/x" in SLUICE_WS_IMPAIR records what
 * the bridge saw and sent, per direction.
 * SLUICE_KEEP_TMP=1 keeps the run's directory (logs, events, summary).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_process.h"
#include "control_protocol.h"
#include "test_support.h"

#define ADDR_C	 "198.18.2.1"
#define ADDR_S	 "198.18.2.2"
#define WS_PORT	 8080
#define PYTHON	 "/usr/bin/python3"
#define NS_TAG	 "slws-"
#define MAX_PIDS 8
#define MAX_CONN 4

/* ---- what the test owns, for cleanup ---- */

static struct {
	char ns_c[32], ns_s[32], ns_m[32];
	char if_c[16], if_s[16];
	bool network;
	pid_t pids[MAX_PIDS];
	char *dir;
	char *words[8]; /* copies word_args() split into argv */
	int nwords;
} g;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	cr_assert_eq(rc, 0, "command failed (%d): %s", rc, cmd);
}

static void quiet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void quiet(const char *fmt, ...)
{
	char cmd[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup command failed: %s\n", cmd);
}

static void track(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (g.pids[i] == 0) {
			g.pids[i] = pid;
			return;
		}
	kill(pid, SIGKILL);
	cr_assert_fail("too many child processes");
}

static void untrack(pid_t pid)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (g.pids[i] == pid)
			g.pids[i] = 0;
}

/* Waits for pid until deadline (monotonic seconds); true when it exited. */
static bool wait_until(pid_t pid, double deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD)) {
			untrack(pid);
			return true;
		}
		if (now_s() >= deadline)
			return false;
		usleep(20000);
	}
}

static void stop_children(void)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (g.pids[i] > 0)
			kill(g.pids[i], SIGTERM);
	double deadline = now_s() + 5;
	for (int i = 0; i < MAX_PIDS; i++) {
		pid_t pid = g.pids[i];
		int status;
		if (pid > 0 && !wait_until(pid, deadline, &status)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			untrack(pid);
		}
	}
}

static void teardown_network(void)
{
	if (g.ns_c[0] == '\0')
		return;
	/* Deleting a namespace destroys the veths in it, and their peers. */
	quiet("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; "
	      "ip netns del %s 2>/dev/null; ip link del %s 2>/dev/null; "
	      "ip link del %s 2>/dev/null; true",
	      g.ns_c, g.ns_s, g.ns_m, g.if_c, g.if_s);
	g.network = false;
}

static bool pid_gone(int pid)
{
	return pid > 0 && kill(pid, 0) != 0 && errno == ESRCH;
}

/* What a run killed by a timeout left (its processes died with it): the
 * namespaces, root veths and directory named after a pid that no longer
 * exists. A namespace can outlive its deletion while orphaned sockets in it
 * time out; deleting the root veths unplugs it at once. */
static void remove_leftovers(void)
{
	DIR *d = opendir("/run/netns");
	struct dirent *e;
	char kind;
	int pid;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (sscanf(e->d_name, NS_TAG "%c-%d", &kind, &pid) == 2 && pid_gone(pid))
			quiet("ip netns del %s 2>/dev/null; true", e->d_name);
	}
	if (d != NULL)
		closedir(d);
	d = opendir("/sys/class/net");
	while (d != NULL && (e = readdir(d)) != NULL) {
		if ((sscanf(e->d_name, "swsc%d", &pid) == 1 ||
		     sscanf(e->d_name, "swss%d", &pid) == 1) &&
		    pid_gone(pid))
			quiet("ip link del %s 2>/dev/null; true", e->d_name);
	}
	if (d != NULL)
		closedir(d);
	d = getenv("SLUICE_KEEP_TMP") == NULL ? opendir("/tmp") : NULL;
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (sscanf(e->d_name, "sluice-test-netns-ws%d-", &pid) == 1 && pid_gone(pid)) {
			char path[300];
			snprintf(path, sizeof(path), "/tmp/%s", e->d_name);
			ts_rmtree(path);
		}
	}
	if (d != NULL)
		closedir(d);
}

static void cleanup(void)
{
	stop_children();
	teardown_network();
	if (g.dir != NULL && getenv("SLUICE_KEEP_TMP") == NULL)
		ts_rmtree(g.dir);
	else if (g.dir != NULL)
		fprintf(stderr, "kept %s\n", g.dir);
	free(g.dir);
	g.dir = NULL;
	while (g.nwords > 0)
		free(g.words[--g.nwords]);
}

/* Checksums finished by the kernel, and no merged segments: a segment larger
 * than one mbuf could not be placed in the stream (tcp_multi_segment). */
#define NO_OFFLOADS "tx off rx off tso off gso off gro off"

static void ns_prepare(const char *ns, const char *iface)
{
	sh("ip netns exec %s ethtool -K %s " NO_OFFLOADS " >/dev/null 2>&1 || "
	   "ip netns exec %s ethtool -K %s tx off rx off >/dev/null",
	   ns, iface, ns, iface);
	sh("ip netns exec %s ip link set %s up", ns, iface);
}

static void ns_quiet(const char *ns)
{
	sh("ip netns exec %s ip link set lo up && ip netns exec %s sysctl -qw "
	   "net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
	   ns, ns);
}

/* ns C and ns S on the two root veths; with impair, ns M between sluice's
 * port 1 and ns S. */
static void setup_network(bool impair)
{
	int id = (int)getpid();
	snprintf(g.ns_c, sizeof(g.ns_c), NS_TAG "c-%d", id);
	snprintf(g.ns_s, sizeof(g.ns_s), NS_TAG "s-%d", id);
	snprintf(g.ns_m, sizeof(g.ns_m), NS_TAG "m-%d", id);
	snprintf(g.if_c, sizeof(g.if_c), "swsc%d", id);
	snprintf(g.if_s, sizeof(g.if_s), "swss%d", id);
	teardown_network();
	g.network = true;
	sh("ip netns add %s && ip netns add %s", g.ns_c, g.ns_s);
	ns_quiet(g.ns_c);
	ns_quiet(g.ns_s);
	sh("ip link add %s type veth peer name c0 netns %s", g.if_c, g.ns_c);
	sh("ip netns exec %s ip addr add " ADDR_C "/24 dev c0", g.ns_c);
	ns_prepare(g.ns_c, "c0");
	if (impair) {
		sh("ip netns add %s", g.ns_m);
		ns_quiet(g.ns_m);
		sh("ip link add %s type veth peer name m0 netns %s", g.if_s, g.ns_m);
		sh("ip netns exec %s ip link add m1 type veth peer name s0 netns %s", g.ns_m,
		   g.ns_s);
		/* The bridge relays frames as they are: no offloads that would hand
		 * it partial checksums or merged segments. */
		for (int k = 0; k < 2; k++) {
			const char *m = k == 0 ? "m0" : "m1";
			sh("ip netns exec %s ethtool -K %s " NO_OFFLOADS
			   " >/dev/null 2>&1 || ip netns exec %s ethtool -K %s tx off rx off "
			   ">/dev/null",
			   g.ns_m, m, g.ns_m, m);
			sh("ip netns exec %s ip link set %s promisc on up", g.ns_m, m);
		}
	} else {
		sh("ip link add %s type veth peer name s0 netns %s", g.if_s, g.ns_s);
	}
	sh("ip netns exec %s ip addr add " ADDR_S "/24 dev s0", g.ns_s);
	ns_prepare(g.ns_s, "s0");
	/* The kernel must put real checksums in what crosses the af_packet ports. */
	for (int k = 0; k < 2; k++) {
		const char *root = k == 0 ? g.if_c : g.if_s;
		sh("ethtool -K %s " NO_OFFLOADS " >/dev/null 2>&1 || ethtool -K %s tx off rx off "
		   ">/dev/null",
		   root, root);
	}
	sh("echo 1 >/proc/sys/net/ipv6/conf/%s/disable_ipv6 && "
	   "echo 1 >/proc/sys/net/ipv6/conf/%s/disable_ipv6",
	   g.if_c, g.if_s);
	sh("ip link set %s up && ip link set %s up", g.if_c, g.if_s);
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

/* In the child: its namespace and the environment the clients need. */
static void child_setup(void *ns)
{
	if (ns != NULL)
		enter_netns(ns);
	setenv("NODE_PATH", "/usr/share/nodejs", 1);
	setenv("PYTHONUNBUFFERED", "1", 1);
}

/* Starts argv in namespace ns (NULL: this one), stdout and stderr to log.
 * The child dies with the test process. */
static pid_t spawn(const char *ns, char *const argv[], const char *log)
{
	pid_t pid = ts_spawn_with(argv, log, child_setup, (void *)ns);
	track(pid);
	return pid;
}

static char *path_in(const char *name)
{
	char *p = NULL;
	cr_assert_neq(asprintf(&p, "%s/%s", g.dir, name), -1);
	return p;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return strdup("");
	struct {
		char *p;
		size_t len, cap;
	} b = {NULL, 0, 0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n + 1 > b.cap) {
			b.cap = (b.len + n + 1) * 2;
			b.p = realloc(b.p, b.cap);
			cr_assert_not_null(b.p);
		}
		memcpy(b.p + b.len, chunk, n);
		b.len += n;
	}
	fclose(f);
	if (b.p == NULL)
		return strdup("");
	b.p[b.len] = '\0';
	return b.p;
}

/* The last `max` bytes of a file, for failure messages. */
static char *tail_of(const char *path, size_t max)
{
	char *all = read_file(path);
	size_t len = strlen(all);
	if (len <= max)
		return all;
	char *t = strdup(all + len - max);
	free(all);
	return t;
}

static void wait_for_file(const char *path, pid_t owner, const char *what, double seconds)
{
	double deadline = now_s() + seconds;
	struct stat st;
	while (stat(path, &st) != 0) {
		int status;
		cr_assert_eq(waitpid(owner, &status, WNOHANG), 0, "%s exited early", what);
		cr_assert_lt(now_s(), deadline, "%s did not start", what);
		usleep(20000);
	}
}

/* ---- the messages and what each must become ---- */

struct text_builder {
	char *raw, *want;
	size_t len, cap;
};

static void tb_put(struct text_builder *b, bool star, const char *s)
{
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2 + 64;
		b->raw = realloc(b->raw, b->cap);
		b->want = realloc(b->want, b->cap);
		cr_assert(b->raw != NULL && b->want != NULL);
	}
	memcpy(b->raw + b->len, s, n);
	if (star)
		memset(b->want + b->len, '*', n);
	else
		memcpy(b->want + b->len, s, n);
	b->len += n;
	b->raw[b->len] = '\0';
	b->want[b->len] = '\0';
}

static void tb_putf(struct text_builder *b, bool star, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void tb_putf(struct text_builder *b, bool star, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tb_put(b, star, buf);
}

enum rule_id { R_PHONE, R_CASINO, R_PRIVATE, R_COUNT };
static const char *const rule_names[R_COUNT] = {"phone", "casino", "private-chat"};

struct message {
	char *raw, *want;
	unsigned events[R_COUNT]; /* match events this message causes */
	bool json;
};

struct message_list {
	struct message *m;
	unsigned count;
	unsigned events[R_COUNT];
	unsigned json;
	unsigned changed;
};

/* A phone number that differs per message: 1[3-9] and nine digits. */
static void phone_of(unsigned i, char out[16])
{
	snprintf(out, 16, "1%c%09u", '3' + (int)(i % 7), (i * 7919u + 12345u) % 1000000000u);
}

/* The value (member value, or the whole non-JSON message) is v; the message
 * is prefix v suffix. A block verdict turns every raw byte of v into '*'. */
static void finish(struct message *m, const char *prefix, struct text_builder *v,
		   const char *suffix)
{
	if (m->events[R_CASINO] > 0)
		memset(v->want, '*', v->len);
	size_t n = strlen(prefix) + v->len + strlen(suffix) + 1;
	m->raw = malloc(n);
	m->want = malloc(n);
	cr_assert(m->raw != NULL && m->want != NULL);
	snprintf(m->raw, n, "%s%s%s", prefix, v->raw, suffix);
	snprintf(m->want, n, "%s%s%s", prefix, v->want, suffix);
	m->json = prefix[0] == '{' || prefix[0] == '[';
	free(v->raw);
	free(v->want);
}

/* Client message i: JSON chat messages (the uid is a phone-shaped number
 * outside the scanned members: it must arrive untouched) and plain text. */
static void client_message(unsigned i, struct message *m)
{
	struct text_builder v = {0};
	char phone[16], prefix[256];
	const char *suffix = "\"}}";
	phone_of(i, phone);
	unsigned long long uid = 13800138000ull + i;
	snprintf(prefix, sizeof(prefix),
		 "{\"type\":\"chat\",\"seq\":%u,\"uid\":%llu,\"data\":{\"text\":\"", i, uid);
	memset(m, 0, sizeof(*m));
	unsigned kind = i % 100 == 99 ? 100 : i % 20;
	switch (kind) {
	case 0: /* clean */
		tb_putf(&v, false, "hello everyone, message %u", i);
		break;
	case 1: /* mask */
		tb_put(&v, false, "call me ");
		tb_put(&v, true, phone);
		tb_put(&v, false, " tonight");
		m->events[R_PHONE] = 1;
		break;
	case 2: /* block */
		tb_putf(&v, false, "best online casino, join now %u", i);
		m->events[R_CASINO] = 1;
		break;
	case 3: /* flag */
		tb_putf(&v, false, "有事私聊我 %u", i);
		m->events[R_PRIVATE] = 1;
		break;
	case 4: /* mask between Chinese characters */
		tb_put(&v, false, "加我电话");
		tb_put(&v, true, phone);
		tb_put(&v, false, "谢谢");
		m->events[R_PHONE] = 1;
		break;
	case 5: /* escapes, clean */
		tb_putf(&v, false, "\\u4f60\\u597d\\nworld \\\"quoted\\\" \\\\ %u", i);
		break;
	case 6: /* a phone whose first digits are escapes: whole escapes masked */
		tb_put(&v, false, "电话\\n");
		tb_putf(&v, true, "\\u0031\\u0033%s", phone + 2);
		tb_put(&v, false, " ok");
		m->events[R_PHONE] = 1;
		break;
	case 7: /* plain text, clean */
		prefix[0] = '\0';
		suffix = "";
		tb_putf(&v, false, "plain text number %u, nothing to see", i);
		break;
	case 8: /* plain text, mask */
		prefix[0] = '\0';
		suffix = "";
		tb_put(&v, false, "plain text, ring ");
		tb_put(&v, true, phone);
		tb_put(&v, false, " now");
		m->events[R_PHONE] = 1;
		break;
	case 9: /* plain text, block: the whole message */
		prefix[0] = '\0';
		suffix = "";
		tb_putf(&v, false, "casino 来玩 %u", i);
		m->events[R_CASINO] = 1;
		break;
	case 10: /* the other member, block, with an escape */
		snprintf(prefix, sizeof(prefix),
			 "{\"type\":\"chat\",\"seq\":%u,\"uid\":%llu,\"data\":{\"content\":\"", i,
			 uid);
		tb_putf(&v, false, "来玩casino\\n吧 %u", i);
		m->events[R_CASINO] = 1;
		break;
	case 11: /* flag and mask: mask wins, both reported */
		tb_put(&v, false, "私聊 ");
		tb_put(&v, true, phone);
		m->events[R_PHONE] = 1;
		m->events[R_PRIVATE] = 1;
		break;
	case 12: /* block and mask: block wins, both reported */
		tb_put(&v, false, "casino ");
		tb_put(&v, false, phone);
		m->events[R_PHONE] = 1;
		m->events[R_CASINO] = 1;
		break;
	case 13: /* a phone in a member that is not scanned */
		snprintf(prefix, sizeof(prefix),
			 "{\"type\":\"chat\",\"seq\":%u,\"uid\":%llu,\"note\":\"%s\",\"data\":{"
			 "\"text\":\"",
			 i, uid, phone);
		tb_put(&v, false, "see the note");
		break;
	case 14: /* two members, the phone in the first */
		tb_put(&v, false, "a ");
		tb_put(&v, true, phone);
		tb_put(&v, false, " b");
		suffix = "\",\"content\":\"clean content\"}}";
		m->events[R_PHONE] = 1;
		break;
	case 15: /* deeper */
		snprintf(prefix, sizeof(prefix),
			 "{\"type\":\"chat\",\"seq\":%u,\"data\":{\"msg\":{\"body\":{\"text\":\"",
			 i);
		suffix = "\"}}}}";
		tb_put(&v, false, "deep ");
		tb_put(&v, true, phone);
		tb_put(&v, false, " here");
		m->events[R_PHONE] = 1;
		break;
	case 16: /* a top-level array */
		snprintf(prefix, sizeof(prefix), "[{\"text\":\"");
		suffix = "\"},{\"text\":\"x\"}]";
		tb_put(&v, false, "arr ");
		tb_put(&v, true, phone);
		m->events[R_PHONE] = 1;
		break;
	case 17: /* plain text, flag */
		prefix[0] = '\0';
		suffix = "";
		tb_putf(&v, false, "私聊吗 %u", i);
		m->events[R_PRIVATE] = 1;
		break;
	case 18: /* the flagged term written as escapes: decoded, matched, unchanged */
		tb_putf(&v, false, "\\u79c1\\u804a escaped %u", i);
		m->events[R_PRIVATE] = 1;
		break;
	case 19: /* clean Chinese */
		tb_putf(&v, false, "今天天气不错，晚上一起看直播 %u", i);
		break;
	default: /* long: several TCP segments, the phone in the middle */
		for (unsigned k = 0; k < 60; k++)
			tb_putf(&v, false, "lorem ipsum %u 你好世界 ", k);
		tb_put(&v, true, phone);
		for (unsigned k = 0; k < 60; k++)
			tb_putf(&v, false, " dolor sit %u 再见", k);
		m->events[R_PHONE] = 1;
		break;
	}
	finish(m, prefix, &v, suffix);
}

/* What the server sends each client after "__done__". */
static void server_message(unsigned i, struct message *m)
{
	struct text_builder v = {0};
	char prefix[128] = "", phone[16];
	const char *suffix = "";
	phone_of(1000000 + i, phone);
	memset(m, 0, sizeof(*m));
	switch (i % 10) {
	case 0:
		tb_putf(&v, false, "welcome to the room %u", i);
		break;
	case 1:
		snprintf(prefix, sizeof(prefix), "{\"type\":\"notice\",\"data\":{\"text\":\"");
		suffix = "\"}}";
		tb_put(&v, false, "support line ");
		tb_put(&v, true, phone);
		m->events[R_PHONE] = 1;
		break;
	case 2:
		tb_putf(&v, false, "server says casino night %u", i);
		m->events[R_CASINO] = 1;
		break;
	case 3:
		snprintf(prefix, sizeof(prefix), "{\"type\":\"notice\",\"data\":{\"content\":\"");
		suffix = "\"}}";
		tb_put(&v, false, "有事私聊管理员");
		m->events[R_PRIVATE] = 1;
		break;
	case 4:
		snprintf(prefix, sizeof(prefix),
			 "{\"type\":\"notice\",\"uid\":13800138000,\"data\":{\"text\":\"");
		suffix = "\"}}";
		tb_put(&v, false, "\\u4f60\\u597d, call ");
		tb_putf(&v, true, "\\u0031\\u0033%s", phone + 2);
		m->events[R_PHONE] = 1;
		break;
	case 5:
		tb_put(&v, false, "系统消息：请勿私聊，电话");
		tb_put(&v, true, phone);
		tb_put(&v, false, "已屏蔽");
		m->events[R_PHONE] = 1;
		m->events[R_PRIVATE] = 1;
		break;
	case 6:
		for (unsigned k = 0; k < 80; k++)
			tb_putf(&v, false, "news item %u 新闻 ", k);
		tb_put(&v, true, phone);
		m->events[R_PHONE] = 1;
		break;
	case 7:
		snprintf(prefix, sizeof(prefix), "{\"type\":\"bye\",\"data\":{\"text\":\"");
		suffix = "\"}}";
		tb_put(&v, false, "goodbye casino fans\\n再见");
		m->events[R_CASINO] = 1;
		break;
	case 8:
		snprintf(prefix, sizeof(prefix), "{\"type\":\"notice\",\"data\":{\"text\":\"");
		suffix = "\"}}";
		tb_putf(&v, false, "clean notice %u \\\"ok\\\"", i);
		break;
	default:
		tb_putf(&v, false, "last words %u", i);
		break;
	}
	finish(m, prefix, &v, suffix);
}

static void make_list(struct message_list *l, unsigned count, bool server)
{
	memset(l, 0, sizeof(*l));
	l->m = calloc(count, sizeof(*l->m));
	cr_assert_not_null(l->m);
	l->count = count;
	for (unsigned i = 0; i < count; i++) {
		struct message *m = &l->m[i];
		if (server)
			server_message(i, m);
		else
			client_message(i, m);
		for (int r = 0; r < R_COUNT; r++)
			l->events[r] += m->events[r];
		l->json += m->json;
		l->changed += strcmp(m->raw, m->want) != 0;
		cr_assert_null(strchr(m->raw, '\n'), "message %u has a newline", i);
		cr_assert_eq(strlen(m->raw), strlen(m->want));
	}
}

static void free_list(struct message_list *l)
{
	for (unsigned i = 0; i < l->count; i++) {
		free(l->m[i].raw);
		free(l->m[i].want);
	}
	free(l->m);
}

static void write_list(const struct message_list *l, const char *path)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	for (unsigned i = 0; i < l->count; i++)
		fprintf(f, "%s\n", l->m[i].raw);
	cr_assert_eq(fclose(f), 0);
}

/* ---- reading what the programs wrote (JSON lines) ---- */

static void put_utf8(char **o, unsigned cp)
{
	char *p = *o;
	if (cp < 0x80) {
		*p++ = (char)cp;
	} else if (cp < 0x800) {
		*p++ = (char)(0xc0 | (cp >> 6));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*p++ = (char)(0xe0 | (cp >> 12));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*p++ = (char)(0xf0 | (cp >> 18));
		*p++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*p++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*p++ = (char)(0x80 | (cp & 0x3f));
	}
	*o = p;
}

static unsigned hex4(const char *p)
{
	char h[5] = {p[0], p[1], p[2], p[3], 0};
	return (unsigned)strtoul(h, NULL, 16);
}

/* The string value of "key" in one JSON line (as python's json.dumps and
 * node's JSON.stringify write them), decoded; NULL when absent. */
static char *json_member(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (p == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	if (*p != '"')
		return NULL;
	p++;
	char *out = malloc(strlen(p) + 1), *o = out;
	cr_assert_not_null(out);
	while (*p != '\0' && *p != '"') {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case 'b':
			*o++ = '\b';
			break;
		case 'f':
			*o++ = '\f';
			break;
		case 'u': {
			unsigned cp = hex4(p + 1);
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
				unsigned lo = hex4(p + 3);
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			}
			put_utf8(&o, cp);
			break;
		}
		default: /* " \ / */
			*o++ = *p;
			break;
		}
		p++;
	}
	*o = '\0';
	return out;
}

static long json_number(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	if (p == NULL)
		return -1;
	return strtol(p + strlen(pat), NULL, 10);
}

/* Splits a file into lines (in place); returns how many. */
static size_t lines_of(char *text, char ***out)
{
	size_t n = 0, cap = 64;
	char **lines = malloc(cap * sizeof(*lines));
	cr_assert_not_null(lines);
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l != NULL;
	     l = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(*lines));
			cr_assert_not_null(lines);
		}
		lines[n++] = l;
	}
	*out = lines;
	return n;
}

/* Compares what a receiver got with what it must have got. */
static void check_texts(const char *who, char **got, unsigned got_n, const struct message_list *l,
			bool then_done)
{
	unsigned want_n = l->count + (then_done ? 1 : 0);
	for (unsigned i = 0; i < want_n && i < got_n; i++) {
		const char *want = i < l->count ? l->m[i].want : "__done__";
		cr_assert_str_eq(got[i], want,
				 "%s: message %u differs\n  sent: %s\n  want: %s\n  got:  %s", who,
				 i, i < l->count ? l->m[i].raw : "__done__", want, got[i]);
	}
	cr_assert_eq(got_n, want_n, "%s: %u messages arrived, %u expected", who, got_n, want_n);
}

/* What the server recorded, per connection, in order. */
static void check_server(const char *out_path, const char *log_path,
			 const struct message_list *client)
{
	char *text = read_file(out_path);
	char **lines;
	size_t n = lines_of(text, &lines);
	char **got[MAX_CONN + 1] = {0};
	unsigned got_n[MAX_CONN + 1] = {0};
	for (size_t i = 0; i < n; i++) {
		long conn = json_number(lines[i], "conn");
		cr_assert(conn >= 1 && conn <= MAX_CONN, "server: bad line %s", lines[i]);
		char *t = json_member(lines[i], "text");
		cr_assert_not_null(t, "server: not a text message: %s", lines[i]);
		if (got[conn] == NULL)
			got[conn] = calloc(n, sizeof(char *));
		got[conn][got_n[conn]++] = t;
	}
	for (int c = 1; c <= 2; c++) {
		char who[32];
		snprintf(who, sizeof(who), "server, connection %d", c);
		cr_assert_not_null(got[c], "%s: nothing arrived", who);
		check_texts(who, got[c], got_n[c], client, true);
	}
	cr_assert_null(got[3], "a third connection reached the server");
	for (int c = 1; c <= MAX_CONN; c++) {
		for (unsigned i = 0; i < got_n[c]; i++)
			free(got[c][i]);
		free(got[c]);
	}
	free(lines);
	free(text);

	/* No compression was negotiated: the offer arrived renamed. */
	text = read_file(log_path);
	n = lines_of(text, &lines);
	unsigned opened = 0;
	for (size_t i = 0; i < n; i++) {
		cr_assert_null(strstr(lines[i], "closed_early"), "server: %s", lines[i]);
		if (strstr(lines[i], "\"extensions\"") == NULL)
			continue;
		opened++;
		cr_assert_not_null(strstr(lines[i], "\"extensions\": []"),
				   "the server negotiated an extension: %s", lines[i]);
		cr_assert_not_null(strstr(lines[i], "\"offer\": \"\""),
				   "Sec-WebSocket-Extensions reached the server: %s", lines[i]);
		char *stripped = json_member(lines[i], "stripped");
		cr_assert(stripped != NULL && strstr(stripped, "permessage-deflate") != NULL,
			  "the renamed offer is not in the request: %s", lines[i]);
		free(stripped);
		cr_assert_not_null(strstr(lines[i], "\"peer\": \"" ADDR_C ":"), "%s", lines[i]);
	}
	cr_assert_eq(opened, 2, "the server saw %u connections", opened);
	free(lines);
	free(text);
}

/* What a client recorded: the server's messages, judged, then a normal close
 * with no extension. */
static void check_client(const char *who, const char *path, const struct message_list *server)
{
	char *text = read_file(path);
	char **lines;
	size_t n = lines_of(text, &lines);
	char **got = calloc(n + 1, sizeof(char *));
	unsigned got_n = 0;
	bool closed = false;
	for (size_t i = 0; i < n; i++) {
		char *t = json_member(lines[i], "text");
		if (t != NULL) {
			got[got_n++] = t;
			continue;
		}
		cr_assert_null(strstr(lines[i], "\"error\""), "%s: %s", who, lines[i]);
		cr_assert_null(strstr(lines[i], "\"binary\""), "%s: %s", who, lines[i]);
		if (json_number(lines[i], "close") >= 0) {
			cr_assert_eq(json_number(lines[i], "close"), 1000, "%s: %s", who, lines[i]);
			cr_assert(strstr(lines[i], "\"extensions\": []") != NULL ||
				      strstr(lines[i], "\"extensions\":\"\"") != NULL ||
				      strstr(lines[i], "\"extensions\":{}") != NULL,
				  "%s negotiated an extension: %s", who, lines[i]);
			closed = true;
		}
	}
	check_texts(who, got, got_n, server, false);
	cr_assert(closed, "%s: no normal close recorded", who);
	for (unsigned i = 0; i < got_n; i++)
		free(got[i]);
	free(got);
	free(lines);
	free(text);
}

/* ---- the daemon ---- */

static unsigned long long stat_of(const char *json, const char *object, const char *key)
{
	char pat[96];
	const char *from = json;
	if (object != NULL) {
		snprintf(pat, sizeof(pat), "\"%s\":{", object);
		from = strstr(json, pat);
		cr_assert_not_null(from, "no \"%s\" in %s", object, json);
	}
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(from, pat);
	cr_assert_not_null(p, "no \"%s\" in %s", key, json);
	return strtoull(p + strlen(pat), NULL, 10);
}

/* The "streams" object of a stats reply, for messages. */
static char *streams_of(const char *json)
{
	const char *p = strstr(json, "\"streams\":{");
	cr_assert_not_null(p, "no streams in %s", json);
	const char *end = strstr(p, "}}");
	size_t n = end != NULL ? (size_t)(end - p) + 2 : strlen(p);
	return strndup(p, n);
}

static void wait_for_daemon(const char *sock, pid_t daemon, const char *log)
{
	for (int i = 0; i < 400; i++) {
		char *reply = NULL, err[256];
		if (sluice_ctl_request(sock, "status", 2000, &reply, err, sizeof(err)) == 0) {
			free(reply);
			return;
		}
		int status;
		if (waitpid(daemon, &status, WNOHANG) != 0) {
			untrack(daemon);
			char *out = tail_of(log, 4000);
			cr_assert_fail("sluice exited early:\n%s", out);
		}
		usleep(50000);
	}
	cr_assert_fail("sluice did not open its control socket");
}

/* Appends the words of text to argv (n used of cap). */
static void word_args(char **argv, int *n, int cap, const char *text)
{
	if (text == NULL)
		return;
	cr_assert_lt(g.nwords, 8);
	char *copy = strdup(text), *save = NULL; /* freed by cleanup() */
	g.words[g.nwords++] = copy;
	for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
		cr_assert_lt(*n + 1, cap, "too many words in %s", text);
		argv[(*n)++] = w;
	}
	argv[*n] = NULL;
}

static void env_args(char **argv, int *n, int cap, const char *name)
{
	word_args(argv, n, cap, getenv(name));
}

static pid_t start_sluice(void)
{
	char *rules = ts_source_path("tests/fixtures/ws_rules.yaml");
	char *sluice = ts_build_path("dataplane/sluice");
	char *sock = path_in("sluice.sock"), *events = path_in("events.jsonl");
	char *log = path_in("sluice.log"), *summary = path_in("summary.json");
	char vdev_a[64], vdev_b[64], prefix[32];
	snprintf(vdev_a, sizeof(vdev_a), "net_af_packet0,iface=%s,framecnt=4096", g.if_c);
	snprintf(vdev_b, sizeof(vdev_b), "net_af_packet1,iface=%s,framecnt=4096", g.if_s);
	snprintf(prefix, sizeof(prefix), "netnsws%d", (int)getpid());
	char *argv[] = {sluice,
			"--no-huge",
			"-m",
			"256",
			"-l",
			"0-1",
			"--no-shconf",
			"--no-pci",
			"--file-prefix",
			prefix,
			"--vdev",
			vdev_a,
			"--vdev",
			vdev_b,
			"--",
			"--rules",
			rules,
			"--ws-port",
			"8080",
			"--ws-members",
			"text,content",
			"--events",
			events,
			"--summary",
			summary,
			"--control-socket",
			sock,
			"--duration",
			"110",
			NULL,
			[31] = NULL};
	int n = 0;
	while (argv[n] != NULL)
		n++;
	env_args(argv, &n, 32, "SLUICE_WS_SLUICE");
	pid_t daemon = spawn(NULL, argv, log);
	wait_for_daemon(sock, daemon, log);
	free(rules);
	free(sluice);
	free(sock);
	free(events);
	free(log);
	free(summary);
	return daemon;
}

/* Stops the daemon; returns its stats reply taken just before. */
static char *stop_sluice(pid_t daemon)
{
	char *sock = path_in("sluice.sock"), *log = path_in("sluice.log");
	char *reply = NULL, err[256];
	cr_assert_eq(sluice_ctl_request(sock, "stats", 5000, &reply, err, sizeof(err)), 0, "%s",
		     err);
	char *stop = NULL;
	cr_assert_eq(sluice_ctl_request(sock, "stop", 5000, &stop, err, sizeof(err)), 0, "%s", err);
	free(stop);
	int status;
	cr_assert(wait_until(daemon, now_s() + 15, &status), "sluice did not stop");
	char *out = tail_of(log, 4000);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sluice failed:\n%s", out);
	free(out);
	free(sock);
	free(log);
	return reply;
}

/* What the daemon says while a client failed: its stream counters and the
 * events other than matches (resets and their reasons). */
static char *daemon_view(void)
{
	char *sock = path_in("sluice.sock"), *path = path_in("events.jsonl");
	char *reply = NULL, err[256], *streams = NULL;
	if (sluice_ctl_request(sock, "stats", 5000, &reply, err, sizeof(err)) == 0 &&
	    strstr(reply, "\"streams\":{") != NULL)
		streams = streams_of(reply);
	free(reply);
	char *text = read_file(path);
	char **lines;
	size_t n = lines_of(text, &lines);
	size_t cap = 4096, used = 0;
	char *events = calloc(1, cap);
	cr_assert_not_null(events);
	for (size_t i = 0; i < n && used + strlen(lines[i]) + 2 < cap; i++) {
		if (strstr(lines[i], "\"event\":\"match\"") != NULL)
			continue;
		used += (size_t)snprintf(events + used, cap - used, "%s\n", lines[i]);
	}
	char *out = NULL;
	cr_assert_neq(asprintf(&out, "sluice: %s\nsluice events other than matches:\n%s",
			       streams != NULL ? streams : "(no stats)", events),
		      -1);
	free(lines);
	free(text);
	free(events);
	free(streams);
	free(sock);
	free(path);
	return out;
}

/* Match events per rule and direction; every stream event has one. */
static void count_events(unsigned counts[2][R_COUNT], unsigned *other)
{
	char *path = path_in("events.jsonl");
	char *text = read_file(path);
	char **lines;
	size_t n = lines_of(text, &lines);
	memset(counts, 0, sizeof(unsigned) * 2 * R_COUNT);
	*other = 0;
	for (size_t i = 0; i < n; i++) {
		if (strstr(lines[i], "\"event\":\"match\"") == NULL) {
			(*other)++;
			continue;
		}
		int dir = -1;
		if (strstr(lines[i], "\"direction\":\"client_to_server\"") != NULL) {
			dir = 0;
			cr_assert_not_null(
			    strstr(lines[i], "\"dst\":\"" ADDR_S "\",\"dport\":8080"), "%s",
			    lines[i]);
		} else if (strstr(lines[i], "\"direction\":\"server_to_client\"") != NULL) {
			dir = 1;
			cr_assert_not_null(
			    strstr(lines[i], "\"src\":\"" ADDR_S "\",\"sport\":8080"), "%s",
			    lines[i]);
		}
		cr_assert_geq(dir, 0, "match event without a direction: %s", lines[i]);
		char *rule = json_member(lines[i], "rule");
		cr_assert_not_null(rule, "%s", lines[i]);
		int r = 0;
		while (r < R_COUNT && strcmp(rule, rule_names[r]) != 0)
			r++;
		cr_assert_lt(r, R_COUNT, "unexpected rule: %s", lines[i]);
		counts[dir][r]++;
		free(rule);
	}
	free(lines);
	free(text);
	free(path);
}

/* ---- one conversation ---- */

struct run_result {
	char *stats;   /* the daemon's stats reply just before stop */
	char *summary; /* its --summary file */
	char *bridge;  /* the bridge's counters, or NULL */
	double seconds;
};

/* One conversation: count messages from each client; impair is NULL (no
 * bridge) or the bridge's impairment arguments. */
static void converse(unsigned count, const char *impair, struct message_list *client,
		     struct message_list *server, struct run_result *res)
{
	double t0 = now_s();
	cr_assert_eq(geteuid(), 0, "this test creates network namespaces and needs root");
	cr_assert_eq(access(PYTHON, X_OK), 0, "needs " PYTHON);
	remove_leftovers();
	char tag[32];
	snprintf(tag, sizeof(tag), "netns-ws%d", (int)getpid());
	g.dir = ts_make_tmpdir(tag);
	setup_network(impair != NULL);

	make_list(client, count, false);
	make_list(server, 20, true);
	char *input = path_in("client-input.txt"), *replies = path_in("server-replies.txt");
	write_list(client, input);
	write_list(server, replies);

	/* Default limits (hold-ms 3000 included), even on the impaired path. */
	pid_t daemon = start_sluice();

	pid_t bridge = 0;
	char *bridge_stats = path_in("bridge-stats.json");
	if (impair != NULL) {
		char *script = ts_source_path("tests/ws/impair_bridge.py");
		char *ready = path_in("bridge.ready"), *log = path_in("bridge.log");
		char *argv[32] = {PYTHON,	script, "--if-a",  "m0",	 "--if-b",  "m1",
				  "--duration", "100",	"--stats", bridge_stats, "--ready", ready};
		int n = 12;
		word_args(argv, &n, 32, impair);
		env_args(argv, &n, 32, "SLUICE_WS_IMPAIR");
		bridge = spawn(g.ns_m, argv, log);
		wait_for_file(ready, bridge, "the bridge", 10);
		free(script);
		free(ready);
		free(log);
	}

	char *script = ts_source_path("tests/ws/ws_server.py");
	char *ready = path_in("server.ready"), *srv_out = path_in("server-received.jsonl");
	char *srv_log = path_in("server-log.jsonl"), *srv_err = path_in("server.stderr");
	char *argv_s[] = {PYTHON,
			  script,
			  "--host",
			  ADDR_S,
			  "--port",
			  "8080",
			  "--out",
			  srv_out,
			  "--log",
			  srv_log,
			  "--replies",
			  replies,
			  "--ready",
			  ready,
			  "--timeout",
			  "90",
			  "--conns",
			  "2",
			  "--fragment-every",
			  "5",
			  NULL};
	pid_t srv = spawn(g.ns_s, argv_s, srv_err);
	wait_for_file(ready, srv, "the server", 15);

	char *py = ts_source_path("tests/ws/ws_client.py");
	char *js = ts_source_path("tests/ws/ws_client.js");
	char *py_out = path_in("client-python.jsonl"), *js_out = path_in("client-node.jsonl");
	char *py_err = path_in("client-python.stderr"), *js_err = path_in("client-node.stderr");
	char uri[64];
	snprintf(uri, sizeof(uri), "ws://" ADDR_S ":%d/chat", WS_PORT);
	char *argv_py[] = {PYTHON,	   py,	   "--uri",	uri,  "--input",	  input,
			   "--out",	   py_out, "--timeout", "75", "--fragment-every", "7",
			   "--ping-every", "50",   NULL};
	char *argv_js[] = {"node", js, uri, input, js_out, "75", "7", "50", NULL};
	pid_t pyc = spawn(g.ns_c, argv_py, py_err);
	pid_t jsc = spawn(g.ns_c, argv_js, js_err);

	/* Both clients end when the server has closed their connection. */
	int st_py, st_js, st_srv;
	double deadline = now_s() + 85;
	bool py_done = wait_until(pyc, deadline, &st_py);
	bool js_done = wait_until(jsc, deadline, &st_js);
	char *e1 = tail_of(py_err, 2000), *e2 = tail_of(js_err, 2000), *e3 = tail_of(srv_err, 2000);
	bool py_ok = py_done && WIFEXITED(st_py) && WEXITSTATUS(st_py) == 0;
	bool js_ok = js_done && WIFEXITED(st_js) && WEXITSTATUS(st_js) == 0;
	char *why = py_ok && js_ok ? NULL : daemon_view();
	cr_assert(py_done, "the python client did not finish\n%s\nserver:\n%s\n%s", e1, e3, why);
	cr_assert(js_done, "the node client did not finish\n%s\nserver:\n%s\n%s", e2, e3, why);
	cr_assert(py_ok, "python client failed:\n%s\n%s\n%s", e1, tail_of(py_out, 600), why);
	cr_assert(js_ok, "node client failed:\n%s\n%s\n%s", e2, tail_of(js_out, 600), why);
	cr_assert(wait_until(srv, now_s() + 15, &st_srv), "the server did not finish");
	cr_assert(WIFEXITED(st_srv) && WEXITSTATUS(st_srv) == 0, "server failed:\n%s", e3);
	free(e1);
	free(e2);
	free(e3);

	/* Let the last ACKs and FINs cross before the counters are read. */
	usleep(300000);
	if (impair != NULL) {
		kill(bridge, SIGTERM);
		int st;
		cr_assert(wait_until(bridge, now_s() + 10, &st), "the bridge did not stop");
		res->bridge = read_file(bridge_stats);
	}
	res->stats = stop_sluice(daemon);
	char *summary = path_in("summary.json");
	res->summary = read_file(summary);
	res->seconds = now_s() - t0;

	check_server(srv_out, srv_log, client);
	check_client("the python client", py_out, server);
	check_client("the node client", js_out, server);

	free(summary);
	free(input);
	free(replies);
	free(bridge_stats);
	free(script);
	free(ready);
	free(srv_out);
	free(srv_log);
	free(srv_err);
	free(py);
	free(js);
	free(py_out);
	free(js_out);
	free(py_err);
	free(js_err);
}

/* Counters and events common to both tests. */
static void check_counters(const struct message_list *client, const struct message_list *server,
			   const struct run_result *res)
{
	const char *s = res->summary;
	char *streams = streams_of(s);
	/* Two connections: each client's messages and "__done__", and the
	 * server's replies to each. */
	unsigned long long want_msgs = 2ull * (client->count + 1 + server->count);
	cr_assert_eq(stat_of(s, "streams", "ws_messages"), want_msgs, "ws_messages, want %llu: %s",
		     want_msgs, streams);
	cr_assert_eq(stat_of(s, "streams", "json_messages"), 2ull * (client->json + server->json),
		     "json_messages: %s", streams);
	cr_assert_eq(stat_of(s, "streams", "json_malformed"), 0, "%s", streams);
	cr_assert_eq(stat_of(s, "streams", "ws_unscanned"), 0, "%s", streams);
	cr_assert_eq(stat_of(s, "streams", "flows_reset"), 0, "%s", streams);
	cr_assert_eq(stat_of(s, "streams", "flows_opened"), 2, "%s", streams);
	/* Each client's pings and their pongs, and one close each way per
	 * connection: counted once each, retransmitted or not. */
	cr_assert_eq(stat_of(s, "streams", "ws_control"), 4 + 4 * (client->count / 50), "%s",
		     streams);
	cr_assert_gt(stat_of(s, "streams", "segments_held"), 0, "%s", streams);
	/* The only segments dropped are copies of bytes Sluice still holds
	 * (tcp_duplicate): the sender's tail-loss probes and retransmission
	 * timeouts for data that cannot be acknowledged while its message is
	 * incomplete, and, behind the bridge, its duplicates; under loss,
	 * segments past the fourth gap (tcp_ooo_limit), which TCP sends again;
	 * and copies the bridge delayed past an end's RST (tcp_after_reset). */
	cr_assert_eq(stat_of(s, "streams", "segments_dropped"),
		     stat_of(s, "reasons", "tcp_duplicate") +
			 stat_of(s, "reasons", "tcp_ooo_limit") +
			 stat_of(s, "reasons", "tcp_after_reset"),
		     "a segment dropped for another reason; the whole summary: %s", s);

	unsigned got[2][R_COUNT], other;
	count_events(got, &other);
	for (int r = 0; r < R_COUNT; r++) {
		cr_assert_eq(got[0][r], 2 * client->events[r],
			     "client_to_server %s events: %u, want %u", rule_names[r], got[0][r],
			     2 * client->events[r]);
		cr_assert_eq(got[1][r], 2 * server->events[r],
			     "server_to_client %s events: %u, want %u", rule_names[r], got[1][r],
			     2 * server->events[r]);
	}
	cr_assert_eq(other, 0, "events other than matches were written");
	free(streams);
}

static void print_run(const char *name, const struct run_result *res)
{
	char *streams = streams_of(res->summary);
	fprintf(stderr, "%s: %.1f s\n  %s\n", name, res->seconds, streams);
	if (res->bridge != NULL)
		fprintf(stderr, "  bridge: %s", res->bridge);
	free(streams);
}

static void free_run(struct run_result *res)
{
	free(res->stats);
	free(res->summary);
	free(res->bridge);
}

Test(netns_ws, real_clients_receive_exactly_the_judged_messages, .fini = cleanup, .timeout = 150)
{
	struct message_list client, server;
	struct run_result res = {0};
	converse(1500, NULL, &client, &server, &res);
	print_run("real_clients", &res);
	check_counters(&client, &server, &res);
	/* Nothing is lost on these wires: the few duplicates are tail-loss
	 * probes of segments Sluice holds (a probe fires a few milliseconds
	 * after the last unacknowledged segment, and an incomplete message is
	 * not acknowledged). */
	char *streams = streams_of(res.summary);
	cr_assert_leq(stat_of(res.summary, "reasons", "tcp_duplicate"),
		      stat_of(res.summary, "streams", "segments") / 50, "%s", streams);
	/* The control socket said the same just before the stop. */
	cr_assert_eq(stat_of(res.stats, "streams", "ws_messages"),
		     stat_of(res.summary, "streams", "ws_messages"));
	free(streams);
	free_run(&res);
	free_list(&client);
	free_list(&server);
}

Test(netns_ws, loss_reorder_duplication_still_arrive_masked, .fini = cleanup, .timeout = 150)
{
	struct message_list client, server;
	struct run_result res = {0};
	/* Loss both ways: after Sluice toward the server, before it from the
	 * server. */
	converse(600, "--seed 20261123 --drop 0.03 --dup 0.03 --reorder 0.03 --hold-ms 20", &client,
		 &server, &res);
	print_run("impaired", &res);
	check_counters(&client, &server, &res);
	/* Segments lost after Sluice were sent again by the clients with their
	 * original bytes, and Sluice rewrote them from its store: the server
	 * got only the judged text (checked above), though the first copies
	 * never reached it. */
	char *streams = streams_of(res.summary);
	cr_assert_gt(stat_of(res.summary, "streams", "retransmits_rewritten"), 0, "%s", streams);
	free(streams);
	/* The bridge did impair the conversation. */
	cr_assert_not_null(res.bridge);
	cr_assert_gt(stat_of(res.bridge, "a_to_b", "dropped"), 0, "%s", res.bridge);
	cr_assert_gt(stat_of(res.bridge, "b_to_a", "reordered"), 0, "%s", res.bridge);
	cr_assert_gt(stat_of(res.bridge, "a_to_b", "duplicated"), 0, "%s", res.bridge);
	cr_assert_gt(stat_of(res.bridge, "a_to_b", "reordered"), 0, "%s", res.bridge);
	free_run(&res);
	free_list(&client);
	free_list(&server);
}

/* One segment of a server message is lost before Sluice, after a full-size
 * segment of the same message that Sluice holds. The client has nothing of
 * the message, so it can neither acknowledge nor SACK; the server's
 * retransmission timer resends only its oldest unacknowledged segment (the
 * held one). Sluice acknowledges it in the client's name (custody), the
 * server sends the lost one, and the message is judged and delivered. */
Test(netns_ws, segment_lost_behind_a_held_one_is_sent_again, .fini = cleanup, .timeout = 150)
{
	struct message_list client, server;
	struct run_result res = {0};
	/* "news item 79 ": the second segment of the server's long message. */
	converse(300, "--drop 0 --dup 0 --reorder 0 --drop-once-b-to-a 6e657773206974656d20373920",
		 &client, &server, &res);
	print_run("lost_behind_held", &res);
	check_counters(&client, &server, &res);
	cr_assert_not_null(res.bridge);
	cr_assert_eq(stat_of(res.bridge, "b_to_a", "dropped_once"), 1, "%s", res.bridge);
	char *streams = streams_of(res.summary);
	cr_assert_geq(stat_of(res.summary, "streams", "custody_acks"), 1, "%s", streams);
	free(streams);
	free_run(&res);
	free_list(&client);
	free_list(&server);
}

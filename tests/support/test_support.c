#include "test_support.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include "pack_cache.h"
#include <unistd.h>

#include "inet_checksum.h"
#include "packet_classify.h"
#include "wire_format.h"

static char *join(const char *env, const char *fallback, const char *rel)
{
	const char *root = getenv(env);
	if (root == NULL || *root == '\0')
		root = fallback;
	char *p = NULL;
	if (asprintf(&p, "%s/%s", root, rel) < 0)
		abort();
	return p;
}

char *ts_source_path(const char *rel)
{
	return join("SLUICE_SOURCE_ROOT", ".", rel);
}

char *ts_build_path(const char *rel)
{
	return join("SLUICE_BUILD_ROOT", "build", rel);
}

char *ts_make_tmpdir(const char *tag)
{
	char *tmpl = NULL;
	if (asprintf(&tmpl, "/tmp/sluice-test-%s-XXXXXX", tag) < 0 || mkdtemp(tmpl) == NULL)
		abort();
	return tmpl;
}

void ts_rmtree(const char *dir)
{
	if (dir == NULL || strncmp(dir, "/tmp/sluice-test-", 17) != 0)
		return;
	char *cmd = NULL;
	if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	free(cmd);
}

struct sluice_wire_message ts_msg(uint64_t msg_id, const char *text)
{
	return (struct sluice_wire_message){.msg_id = msg_id,
					    .channel_id = 100 + msg_id % 7,
					    .user_id = 5000 + msg_id,
					    .text = text,
					    .text_len = (uint16_t)strlen(text)};
}

size_t ts_build_datagram(uint8_t *out, size_t cap, bool ipv6, bool vlan,
			 const struct sluice_wire_message *msgs, unsigned count)
{
	uint8_t payload[16384];
	size_t used = 0;
	for (unsigned i = 0; i < count; i++) {
		size_t n =
		    sluice_wire_frame_write(payload + used, sizeof(payload) - used, &msgs[i]);
		if (n == 0)
			return 0;
		used += n;
	}
	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, ipv6);
	ep.vlan = vlan;
	ep.vlan_id = 42;
	return sluice_udp_packet_build(out, cap, &ep, payload, used);
}

bool ts_checksums_valid(const uint8_t *pkt, size_t len)
{
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	uint16_t port = 0;
	if (sluice_packet_classify(pkt, (uint32_t)len, SLUICE_WIRE_DEFAULT_PORT, &v, &why) ==
	    SLUICE_PKT_MESSAGE)
		goto classified;
	/* Find the UDP destination port first so classify accepts it. */
	size_t l3 = (pkt[12] == 0x81 && pkt[13] == 0x00) ? 18 : 14;
	bool ipv6 = (pkt[l3] >> 4) == 6;
	size_t l4 = ipv6 ? l3 + 40 : l3 + (size_t)(pkt[l3] & 0x0f) * 4;
	if (l4 + 8 > len)
		return false;
	port = sluice_be16_load(pkt + l4 + 2);
	if (sluice_packet_classify(pkt, (uint32_t)len, port, &v, &why) != SLUICE_PKT_MESSAGE)
		return false;
classified:;
	const uint8_t *ip = pkt + v.l3_off;
	if (!v.ipv6) {
		unsigned ihl = (ip[0] & 0x0f) * 4u;
		if (sluice_csum_fold(sluice_csum_add(0, ip, ihl, false)) != 0xffff)
			return false;
	}
	const uint8_t *udp = pkt + v.l4_off;
	if (!v.ipv6 && udp[6] == 0 && udp[7] == 0)
		return true;
	return sluice_udp_checksum_verify(ip, v.ipv6, udp, v.payload_len + 8) == 0xffff;
}

int ts_pcap_write(const char *path, const struct ts_packet *packets, size_t count)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	if (dead == NULL)
		return -1;
	pcap_dumper_t *d = pcap_dump_open(dead, path);
	if (d == NULL) {
		pcap_close(dead);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct pcap_pkthdr h = {.caplen = (bpf_u_int32)packets[i].len,
					.len = (bpf_u_int32)packets[i].len};
		h.ts.tv_sec = 1700000000 + (long)(i / 1000);
		h.ts.tv_usec = (long)(i % 1000) * 1000;
		pcap_dump((u_char *)d, &h, packets[i].data);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}

int ts_pcap_read(const char *path, struct ts_capture *out)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	memset(out, 0, sizeof(*out));
	pcap_t *p = pcap_open_offline(path, errbuf);
	if (p == NULL)
		return -1;
	size_t cap = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	while (pcap_next_ex(p, &h, &data) == 1) {
		if (out->count == cap) {
			cap = cap ? cap * 2 : 64;
			out->packets = realloc(out->packets, cap * sizeof(*out->packets));
			if (out->packets == NULL)
				abort();
		}
		struct ts_packet *pk = &out->packets[out->count++];
		pk->len = h->caplen;
		pk->data = malloc(h->caplen ? h->caplen : 1);
		memcpy(pk->data, data, h->caplen);
	}
	pcap_close(p);
	return 0;
}

void ts_capture_free(struct ts_capture *cap)
{
	for (size_t i = 0; i < cap->count; i++)
		free(cap->packets[i].data);
	free(cap->packets);
	memset(cap, 0, sizeof(*cap));
}

char **ts_sluice_argv(const char *vdev_a, const char *vdev_b, const char *prefix,
		      const char *const *options)
{
	const char *const eal[] = {"--no-huge",	  "-m",	      "256",	       "-l",   "0-1",
				   "--no-shconf", "--no-pci", "--file-prefix", prefix, "--vdev",
				   vdev_a,	  "--vdev",   vdev_b,	       "--"};
	size_t n_eal = sizeof(eal) / sizeof(eal[0]), n_opt = 0;
	while (options != NULL && options[n_opt] != NULL)
		n_opt++;
	char **argv = calloc(1 + n_eal + n_opt + 1, sizeof(*argv));
	cr_assert_not_null(argv);
	argv[0] = ts_build_path("dataplane/sluice");
	for (size_t i = 0; i < n_eal; i++)
		argv[1 + i] = (char *)eal[i];
	for (size_t i = 0; i < n_opt; i++)
		argv[1 + n_eal + i] = (char *)options[i];
	return argv;
}

void ts_sluice_argv_free(char **argv)
{
	if (argv != NULL)
		free(argv[0]);
	free(argv);
}

int ts_run(char *const argv[], double timeout_s, char **output)
{
	int pipefd[2];
	if (pipe(pipefd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	size_t cap = 65536, used = 0;
	char *buf = malloc(cap);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int status = 0;
	bool exited = false, killed = false;
	for (;;) {
		ssize_t n;
		while ((n = read(pipefd[0], buf + used, cap - used - 1)) > 0) {
			used += (size_t)n;
			if (cap - used < 4096) {
				cap *= 2;
				buf = realloc(buf, cap);
			}
		}
		if (exited && n <= 0)
			break;
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		double elapsed =
		    (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
		if (!exited && !killed && elapsed > timeout_s) {
			kill(pid, SIGKILL);
			killed = true;
		}
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
	}
	close(pipefd[0]);
	buf[used] = '\0';
	if (output != NULL)
		*output = buf;
	else
		free(buf);
	if (killed || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int ts_frames_of(const uint8_t *pkt, size_t len, uint16_t port, struct ts_frame *frames, int max)
{
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	if (sluice_packet_classify(pkt, (uint32_t)len, port, &v, &why) != SLUICE_PKT_MESSAGE)
		return -1;
	const uint8_t *p = pkt + v.payload_off;
	uint32_t off = 0;
	int n = 0;
	while (off + SLUICE_WIRE_HEADER_LEN <= v.payload_len && n < max) {
		uint16_t tl = sluice_be16_load(p + off + SLUICE_WIRE_OFF_TEXT_LEN);
		if (off + SLUICE_WIRE_HEADER_LEN + tl > v.payload_len ||
		    tl >= sizeof(frames[n].text))
			return -1;
		frames[n].msg_id = sluice_be64_load(p + off + SLUICE_WIRE_OFF_MSG_ID);
		frames[n].flags = p[off + SLUICE_WIRE_OFF_FLAGS];
		frames[n].text_len = tl;
		memcpy(frames[n].text, p + off + SLUICE_WIRE_HEADER_LEN, tl);
		frames[n].text[tl] = '\0';
		off += SLUICE_WIRE_HEADER_LEN + tl;
		n++;
	}
	return off == v.payload_len ? n : -1;
}

/* ---- the sluice program offline ---- */

static char *in_dir(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

/* The last run's directory, removed at exit even when an assertion ends the
 * test before ts_offline_free(). */
static char *leftover_dir;

static void remove_leftover(void)
{
	if (leftover_dir != NULL)
		ts_rmtree(leftover_dir);
}

void ts_offline_prepare(struct ts_offline_run *r)
{
	memset(r, 0, sizeof(*r));
	r->dir = ts_make_tmpdir("daemon");
	if (leftover_dir == NULL)
		atexit(remove_leftover);
	free(leftover_dir);
	leftover_dir = strdup(r->dir);
	r->in_a = in_dir(r->dir, "in-a.pcap");
	r->in_b = in_dir(r->dir, "in-b.pcap");
	r->out_a = in_dir(r->dir, "out-a.pcap");
	r->out_b = in_dir(r->dir, "out-b.pcap");
	r->events = in_dir(r->dir, "events.jsonl");
	r->summary = in_dir(r->dir, "summary.json");
	r->sock = in_dir(r->dir, "ctl.sock");
}

void ts_offline_free(struct ts_offline_run *r)
{
	free(r->in_a);
	free(r->in_b);
	free(r->out_a);
	free(r->out_b);
	free(r->events);
	free(r->summary);
	free(r->sock);
	free(r->output);
	ts_rmtree(r->dir);
	free(r->dir);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ts_offline_sluice(struct ts_offline_run *r, const char *rules, const char *const *extra)
{
	static unsigned seq;
	char *prefix = NULL, *vdev_a = NULL, *vdev_b = NULL;
	char *exe = ts_build_path("dataplane/sluice");
	const char *argv[64];
	int argc = 0;

	if (asprintf(&prefix, "sluice-t-%d-%u", (int)getpid(), seq++) < 0 ||
	    asprintf(&vdev_a, "net_pcap0,rx_pcap=%s,tx_pcap=%s", r->in_a, r->out_a) < 0 ||
	    asprintf(&vdev_b, "net_pcap1,rx_pcap=%s,tx_pcap=%s", r->in_b, r->out_b) < 0)
		abort();
	const char *fixed[] = {exe,	    "--no-huge", "-m",		"256",
			       "-l",	    "0-1",	 "--no-shconf", "--file-prefix",
			       prefix,	    "--vdev",	 vdev_a,	"--vdev",
			       vdev_b,	    "--",	 "--rules",	rules,
			       "--offline", "--idle-ms", "300",		"--events",
			       r->events,   "--summary", r->summary,	"--control-socket",
			       r->sock};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[argc++] = fixed[i];
	for (; extra != NULL && *extra != NULL && argc < 63; extra++)
		argv[argc++] = *extra;
	argv[argc] = NULL;

	double t0 = mono_s();
	r->rc = ts_run((char *const *)argv, 120, &r->output);
	r->seconds = mono_s() - t0;
	free(prefix);
	free(vdev_a);
	free(vdev_b);
	free(exe);
}

void ts_self_signed_cert(const char *cert_path, const char *key_path)
{
	const char *argv[] = {"/usr/bin/openssl",
			      "req",
			      "-x509",
			      "-newkey",
			      "ec",
			      "-pkeyopt",
			      "ec_paramgen_curve:P-256",
			      "-nodes",
			      "-days",
			      "1",
			      "-subj",
			      "/CN=127.0.0.1",
			      "-addext",
			      "subjectAltName=IP:127.0.0.1",
			      "-keyout",
			      key_path,
			      "-out",
			      cert_path,
			      NULL};
	char *out = NULL;
	int rc = ts_run((char *const *)argv, 30, &out);
	cr_assert_eq(rc, 0, "openssl req: %s", out != NULL ? out : "");
	free(out);
}

char *ts_write_secret(const char *dir, const char *name, const char *text, unsigned mode)
{
	char *path = NULL;
	cr_assert_neq(asprintf(&path, "%s/%s", dir, name), -1);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, (mode_t)mode), 0);
	return path;
}

int ts_pack_loader(const char *path, const struct sluice_load_limits *limits,
		   struct sluice_pack **out, char *err, size_t err_len, void *arg)
{
	return ts_pack_load_within(path, arg, limits, out, err, err_len);
}

int ts_http(unsigned port, const char *method, const char *target, char **head, char **body)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	char *req = NULL;
	if (asprintf(&req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", method,
		     target) < 0) {
		close(fd);
		return -1;
	}
	ssize_t sent = send(fd, req, strlen(req), MSG_NOSIGNAL);
	free(req);
	if (sent < 0) {
		close(fd);
		return -1;
	}
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while ((n = recv(fd, buf + used, cap - used - 1, 0)) > 0) {
		used += (size_t)n;
		if (cap - used < 4096)
			buf = realloc(buf, cap *= 2);
	}
	close(fd);
	buf[used] = '\0';
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
		free(buf);
		return -1;
	}
	char *split = strstr(buf, "\r\n\r\n");
	if (head != NULL)
		*head = strndup(buf, split != NULL ? (size_t)(split - buf) : used);
	if (body != NULL)
		*body = strdup(split != NULL ? split + 4 : "");
	free(buf);
	return status;
}

unsigned ts_free_tcp_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	unsigned port = 0;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

uint8_t *ts_page_end_copy(const void *text, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	cr_assert(len > 0 && len <= page);
	uint8_t *map =
	    mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
	memcpy(map + page - len, text, len);
	return map + page - len;
}

void ts_page_end_free(uint8_t *at)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	munmap((uint8_t *)((uintptr_t)at & ~(uintptr_t)(page - 1)), 2 * page);
}

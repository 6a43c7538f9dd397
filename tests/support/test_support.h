/* Helpers shared by the tests: paths, temporary directories, packets, pcaps and
 * running the project's programs. Everything here is test-only. */
#ifndef SLUICE_TEST_SUPPORT_H
#define SLUICE_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pack.h"
#include "pack_cache.h"
#include "packet_build.h"

/* Paths under the source and build trees (from SLUICE_SOURCE_ROOT/BUILD_ROOT).
 * Returned strings are malloc'd. */
char *ts_source_path(const char *rel);
char *ts_build_path(const char *rel);

/* A page of memory followed by an unmapped one: len (1 to a page) bytes copied from text
 * to its very end, so that a read past them faults. Returns where they are;
 * ts_page_end_free() unmaps it. For code that loads whole vectors. */
uint8_t *ts_page_end_copy(const void *text, size_t len);
void ts_page_end_free(uint8_t *at);

/* A fresh directory under /tmp, removed by ts_rmtree(). */
char *ts_make_tmpdir(const char *tag);
void ts_rmtree(const char *dir);

/* Builds a datagram of msgs to the default endpoints; returns its length. */
size_t ts_build_datagram(uint8_t *out, size_t cap, bool ipv6, bool vlan,
			 const struct sluice_wire_message *msgs, unsigned count);

/* A message with the given ids and NUL-terminated text. */
struct sluice_wire_message ts_msg(uint64_t msg_id, const char *text);

/* Whether the IPv4 header checksum (if IPv4) and UDP checksum of an Ethernet
 * frame are valid, and its IP/UDP lengths agree with len. */
bool ts_checksums_valid(const uint8_t *pkt, size_t len);

struct ts_packet {
	uint8_t *data;
	size_t len;
};

struct ts_capture {
	struct ts_packet *packets;
	size_t count;
};

int ts_pcap_write(const char *path, const struct ts_packet *packets, size_t count);
/* Reads every packet of a pcap file; returns -1 if it cannot be read. */
int ts_pcap_read(const char *path, struct ts_capture *out);
void ts_capture_free(struct ts_capture *cap);

/* Runs argv (argv[0] a path), stdout+stderr into *output (malloc'd), killing it
 * after timeout_s. Returns the exit status, or -1 if it did not exit by itself. */
int ts_run(char *const argv[], double timeout_s, char **output);

/* The sluice program's command line on two virtual devices, one worker
 * (lcores 0-1), no hugepages, EAL files under prefix: the EAL options, "--",
 * then options (NULL-terminated). A malloc'd NULL-terminated array whose
 * first element (the program's path) is malloc'd too: free both with
 * ts_sluice_argv_free(); the other strings stay the caller's. */
char **ts_sluice_argv(const char *vdev_a, const char *vdev_b, const char *prefix,
		      const char *const *options);
void ts_sluice_argv_free(char **argv);

/* A self-signed P-256 certificate for 127.0.0.1 (a day long) and its key,
 * made by the openssl program; asserts it worked. */
void ts_self_signed_cert(const char *cert_path, const char *key_path);

/* dir/name holding text, with mode (a password or key file's 0600 or 0640,
 * or a careless 0644); its path, malloc'd. Asserts it worked. */
char *ts_write_secret(const char *dir, const char *name, const char *text, unsigned mode);

/* Decoded view of one frame inside a captured datagram. */
struct ts_frame {
	uint64_t msg_id;
	uint8_t flags;
	char text[2048];
	uint16_t text_len;
};

/* Splits the UDP payload of a datagram to `port` into frames; returns how many,
 * or -1 if the packet is not such a datagram. */
int ts_frames_of(const uint8_t *pkt, size_t len, uint16_t port, struct ts_frame *frames, int max);

/* A registry loader (ruleset_registry.h) that reads packs and rule files,
 * as the daemon's does: arg is a const struct sluice_trust * or NULL. */
int ts_pack_loader(const char *path, const struct sluice_load_limits *limits,
		   struct sluice_pack **out, char *err, size_t err_len, void *arg);

/* The sluice program run offline on two net_pcap ports, as an operator
 * replays a capture: side A reads in_a and writes out_a, side B in_b and
 * out_b, with events, a JSON summary and a control socket in dir. */
struct ts_offline_run {
	char *dir;
	char *in_a, *in_b, *out_a, *out_b, *events, *summary, *sock;
	char *output; /* stdout and stderr */
	int rc;
	double seconds;
};

/* A fresh run directory (removed at exit even when an assertion ends the
 * test) and the paths in it. */
void ts_offline_prepare(struct ts_offline_run *r);
void ts_offline_free(struct ts_offline_run *r);

/* Runs sluice on in_a and in_b (which must exist) with rules and extra
 * options (NULL-terminated, may be NULL), until the capture is consumed. */
void ts_offline_sluice(struct ts_offline_run *r, const char *rules, const char *const *extra);

/* One HTTP/1.0 request to 127.0.0.1:port (5 s to answer); returns the status
 * code, or -1 when there is no answer. *head (status line and headers) and
 * *body are malloc'd when asked for. */
int ts_http(unsigned port, const char *method, const char *target, char **head, char **body);

/* A loopback TCP port nobody listens on now (the kernel's pick), or 0. */
unsigned ts_free_tcp_port(void);

#endif

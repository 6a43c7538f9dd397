/* The sluice daemon's own options (after EAL's, behind "--") and its config file.
 *
 * The config file holds the same options, one per line as `name = value` (a flag
 * as `name = true`), '#' starting a comment; options on the command line are
 * applied after the file and win. Every error names the option, and for the file
 * its path and line.
 */
#ifndef SLUICE_DATAPLANE_OPTIONS_H
#define SLUICE_DATAPLANE_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bad_input.h"
#include "event_sink.h"
#include "fleet_watch.h"
#include "datagram_process.h"
#include "json_text.h"

#define SLUICE_DEFAULT_CONTROL_SOCKET "/run/sluice/sluice.sock"
#define SLUICE_MAX_TRUSTED_KEYS	      16
#define SLUICE_MAX_WS_PORTS	      64

/* --events-full: what a worker does with an event its full ring refuses. */
enum { SLUICE_EVENTS_DROP = 0, SLUICE_EVENTS_WAIT = 1 };

struct sluice_options {
	char *rules;
	uint16_t port_a;
	uint16_t port_b;
	uint16_t udp_port;
	char *events;	      /* "-" for stdout */
	char *control_socket; /* "" or "none" for no control socket */
	char *summary;	      /* JSON summary at exit, or NULL */
	unsigned burst;
	unsigned mbufs;			 /* 0: sized from ports and workers */
	enum sluice_scan_mode scan_mode; /* how a burst's messages reach Hyperscan */
	unsigned rx_desc;
	unsigned tx_desc;
	unsigned event_ring;			     /* events per worker ring, power of two */
	unsigned history;			     /* packs kept for rollback, per slot */
	char *urgent_rules;			     /* urgent-slot pack loaded at start, or NULL */
	unsigned memory_cap_mb;			     /* 0: no cap */
	char *audit_log;			     /* "-" for stderr, NULL for none */
	char *socket_group;			     /* group owning the control socket, or NULL */
	char *trusted_keys[SLUICE_MAX_TRUSTED_KEYS]; /* public keys (PEM) */
	unsigned trusted_key_count;
	char *revoked_keys[SLUICE_MAX_TRUSTED_KEYS]; /* key ids (hex) or PEM files */
	unsigned revoked_key_count;
	unsigned signatures_required; /* distinct trusted signers a pack needs; 0: not given (1) */
	bool require_signed;	      /* refuse unsigned packs and rule files */
	bool offline;
	bool check_config; /* --check-config: check, print, exit (config_check.h) */
	unsigned idle_ms;
	double duration_s; /* 0: until stopped */
	unsigned stall_ms; /* a worker silent this long is reported stuck */
	enum sluice_bad_policy policy[SLUICE_BAD_REASON_COUNT];
	/* TCP chat services (docs/streams.md). */
	uint16_t ws_ports[SLUICE_MAX_WS_PORTS];
	unsigned ws_port_count;
	struct sluice_json_members ws_members; /* count 0: messages scanned whole */
	unsigned flows;			       /* per worker */
	unsigned flow_kib;		       /* stored bytes per direction */
	unsigned stream_memory_mb;	       /* per worker */
	unsigned hold_ms;
	unsigned ws_max_message;
	unsigned ws_deflate;	 /* 0 strip, 1 allow */
	unsigned ws_binary;	 /* 0 reset, 1 pass */
	unsigned stream_block;	 /* 0 blank, 1 reset */
	unsigned tcp_checksum;	 /* 0 port (where it can), 1 software */
	unsigned events_full;	 /* SLUICE_EVENTS_DROP or SLUICE_EVENTS_WAIT */
	unsigned events_wait_us; /* with wait: the longest one event waits */
	/* What events carry and which reach the file (event_sink.h). */
	unsigned event_snippet;	     /* bytes of matched text per match event; 0: none */
	char *event_hash_key;	     /* file holding the text hash's key, or NULL */
	unsigned events_actions;     /* bits 1 << enum sluice_action; 0: all */
	char *events_categories;     /* comma list, or NULL: all */
	unsigned events_severity;    /* index into low, medium, high, critical */
	unsigned events_flag_sample; /* 1: every flag event */
	unsigned events_max_mb;	     /* rotate past this; 0: never */
	unsigned events_keep;	     /* rotated files kept */
	char *metrics_listen;	     /* ADDR:PORT of the Prometheus endpoint, or NULL */
	char *metrics_auth;	     /* USER:PASSWORD file, or NULL */
	char *metrics_tls_cert, *metrics_tls_key; /* PEM files, or NULL: plain HTTP */
	unsigned metrics_rule_limit;		  /* rules with a hits series of their own */
	/* Events to NATS JetStream (event_bus.h); events_bus NULL: none. */
	char *events_bus;
	char *events_stream;
	unsigned events_stream_replicas;
	unsigned events_bus_pending;
	unsigned events_bus_ack_ms;
	char *events_spool; /* NULL: none */
	unsigned events_spool_mb;
	/* The fleet (fleet_watch.h); pack_source NULL: none. */
	char *gateway_name; /* NULL: the host name */
	char *pack_source;
	char *pack_bucket;
	unsigned pack_bucket_replicas;
	char *fleet_group;
	char *pack_cache;
	unsigned fleet_heartbeat_ms;
	/* TLS and credentials of both (nats_security.h); NULL: none. */
	char *bus_ca, *bus_cert, *bus_key, *bus_user_file, *bus_creds;
	char *now;     /* --now: rules' dates judged from this time on */
	int64_t now_s; /* ... in Unix seconds (0: the clock) */
	bool help;
};

void sluice_options_defaults(struct sluice_options *opt);

/* The event options as the sink takes them. The filter points into opt. */
void sluice_options_event_sink(const struct sluice_options *opt, struct sluice_event_filter *filter,
			       struct sluice_event_rotation *rotation);

/* The bus options as event_bus.h takes them; strings point into opt. */
void sluice_options_event_bus(const struct sluice_options *opt,
			      struct sluice_event_bus_config *cfg);

/* The fleet watcher's settings; host names the gateway when --gateway-name
 * is not given. Strings point into opt. */
void sluice_options_fleet(const struct sluice_options *opt, const char *host,
			  struct sluice_fleet_watch_config *cfg);

/* --bus-ca and the rest, for both the events bus and the pack source. */
struct sluice_nats_security sluice_options_bus_security(const struct sluice_options *opt);

/* Reads --event-hash-key's file into key; no file: the zero key. Returns 0,
 * or -1 with err naming the file. */
int sluice_options_hash_key(const struct sluice_options *opt, uint64_t key[2], char *err,
			    size_t err_len);

/* Whether arg is "--NAME" or "--NAME=..." of a Sluice option (to tell a
 * Sluice option given before '--' from an EAL one). */
bool sluice_options_is_known(const char *arg);

/* "YYYY-MM-DD" (the start of that day, UTC) or "YYYY-MM-DDTHH:MM:SSZ" into
 * Unix seconds. Returns false for anything else. */
bool sluice_options_parse_time(const char *text, int64_t *out);

/* Parses the daemon's arguments (argv[0] is the program name). A --config given
 * there is read first. Returns 0, or -1 with a message in err. */
int sluice_options_parse(int argc, char **argv, struct sluice_options *opt, char *err,
			 size_t err_len);

int sluice_options_load_file(const char *path, struct sluice_options *opt, char *err,
			     size_t err_len);

void sluice_options_usage(FILE *out, const char *prog);

void sluice_options_free(struct sluice_options *opt);

#endif

/* The fleet's packs on NATS JetStream key-value buckets: the one layout that
 * the gateways (fleet_watch.h) and the operators' tool (`sluicectl fleet`)
 * share. Nothing else reads or writes these keys.
 *
 * Two buckets (BUCKET defaults to SLUICE_PACKS):
 *
 *   BUCKET         blob.SHA256.I      chunk I (0-based) of the pack file whose
 *                                     SHA-256 (of the file's bytes, signatures
 *                                     included) is SHA256; chunks are
 *                                     SLUICE_FLEET_CHUNK_BYTES except the last,
 *                                     which is shorter and never empty
 *                  target.SLOT.GROUP  the manifest: which pack the gateways of
 *                                     GROUP run in SLOT (main or urgent), as
 *                                     JSON (sluice_fleet_target_format())
 *   BUCKET_STATUS  gw.NAME            what gateway NAME runs and last did, as
 *                                     JSON, rewritten every heartbeat
 *
 * Why chunks: a KV value is one NATS message, bounded by the server's
 * max_payload (1 MiB by default), and a compiled pack is several MiB. Chunks
 * are content addressed, so publishing the same pack again rewrites
 * identical values and a rollback needs no upload: the previous pack's
 * chunks are still there. Chunks are written before the manifest that names
 * them, so a gateway that sees a manifest finds its chunks.
 *
 * Trust: nothing here is trusted. A manifest is checked field by field, a
 * pack is reassembled only when every chunk is present with its exact size,
 * and its SHA-256 must be the manifest's; the gateway then loads the file
 * through the registry like a local pack, signature first. The bus only
 * moves bytes; the signature decides.
 *
 * Threads: a struct sluice_fleet is one connection, used by one thread at a
 * time (cnats reconnects by itself underneath).
 */
#ifndef SLUICE_CONTROL_FLEET_STORE_H
#define SLUICE_CONTROL_FLEET_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define SLUICE_FLEET_BUCKET	   "SLUICE_PACKS"
#define SLUICE_FLEET_CHUNK_BYTES   (512u * 1024u)
#define SLUICE_FLEET_MAX_CHUNKS	   2048u /* 1 GiB */
#define SLUICE_FLEET_NAME	   64	 /* group and gateway names, NUL included */
#define SLUICE_FLEET_TEXT	   128	 /* pack names, versions, publishers */
#define SLUICE_FLEET_REASON	   512
#define SLUICE_FLEET_SLOTS	   2 /* main, urgent (enum sluice_slot's order) */
#define SLUICE_FLEET_HISTORY	   8 /* revisions of each target a bucket Sluice creates keeps */
#define SLUICE_FLEET_HEARTBEAT_MS  2000
#define SLUICE_FLEET_DEFAULT_GROUP "main"
#define SLUICE_FLEET_DEFAULT_CACHE "/var/lib/sluice/fleet"

/* A pack file in the store. */
struct sluice_fleet_pack_ref {
	char sha256[65]; /* lower-case hex, of the file's bytes */
	uint64_t size;
	unsigned chunks;
	char name[SLUICE_FLEET_TEXT], version[SLUICE_FLEET_TEXT];
};

/* target.SLOT.GROUP */
struct sluice_fleet_target {
	char slot[8];
	char group[SLUICE_FLEET_NAME];
	struct sluice_fleet_pack_ref pack;
	bool has_previous; /* what a rollback goes back to */
	struct sluice_fleet_pack_ref previous;
	char action[16]; /* publish, rollback */
	char publisher[SLUICE_FLEET_TEXT];
	uint64_t time_ns;  /* when it was written (publisher's clock) */
	uint64_t revision; /* the KV revision it was read at (not in the JSON) */
};

/* One slot as a gateway reports it. */
struct sluice_fleet_slot_state {
	char name[SLUICE_FLEET_TEXT], version[SLUICE_FLEET_TEXT]; /* "" : empty */
	char pack_sha[65]; /* the registry's hash of the pack body */
	char file_sha[65]; /* the fleet pack file it came from; "": loaded locally */
	/* The last target this gateway handled in the slot, and how. */
	uint64_t target_rev;
	char target_sha[65];
	char result[12]; /* "ok", "refused", "fetching", "" (none yet) */
	char reason[SLUICE_FLEET_REASON];
};

/* gw.NAME */
struct sluice_fleet_status {
	char name[SLUICE_FLEET_NAME], group[SLUICE_FLEET_NAME];
	struct sluice_fleet_slot_state slot[SLUICE_FLEET_SLOTS];
	/* The last refusal in any slot (a bad fetch, or a load refused). */
	bool has_refusal;
	char refused_slot[8], refused_sha[65], refused_version[SLUICE_FLEET_TEXT];
	char refused_reason[SLUICE_FLEET_REASON];
	uint64_t refused_ns;
	/* Counters since the gateway started: what a rollout's hold watches. */
	uint64_t refusals, scan_errors, stalls;
	uint64_t updated_ns, boot_ns;
	unsigned heartbeat_ms;
	bool connected_once;
};

struct sluice_fleet;

/* A group or gateway name: 1 to 63 of [A-Za-z0-9_-] (one key token). */
bool sluice_fleet_name_ok(const char *s);

/* "main" -> 0, "urgent" -> 1, else -1. */
int sluice_fleet_slot_index(const char *slot);

struct sluice_nats_security; /* nats_connect.h; NULL: none */

/* Connects to servers ("nats://h:p[,...]"), secured by sec, waiting up to about wait_ms for
 * the first connection, and binds the two buckets, creating them when
 * missing with `replicas` copies (0: 1; 3 on a three-node cluster, so a pack
 * outlives a node). Buckets that exist are used as they are: see
 * sluice_fleet_replicas(). After that cnats reconnects by itself. NULL with
 * err. */
struct sluice_fleet *sluice_fleet_open(const char *servers, const struct sluice_nats_security *sec,
				       const char *bucket, unsigned replicas, unsigned wait_ms,
				       char *err, size_t err_len);

/* The replicas of the packs bucket as the servers report them now (0 when
 * they cannot say). */
unsigned sluice_fleet_replicas(struct sluice_fleet *f);
void sluice_fleet_close(struct sluice_fleet *f);
bool sluice_fleet_connected(const struct sluice_fleet *f);

/* SHA-256 of data in lower-case hex. */
void sluice_fleet_sha256(const uint8_t *data, size_t len, char hex[65]);

/* Stores a pack file's bytes as chunks; fills ref's sha256, size and chunks
 * (name and version are the caller's). */
int sluice_fleet_put_pack(struct sluice_fleet *f, const uint8_t *data, size_t len,
			  struct sluice_fleet_pack_ref *ref, char *err, size_t err_len);

/* Reassembles the pack ref names: every chunk present with its size, then
 * the SHA-256 checked. *out (malloc'd) holds ref->size bytes. -1 when the
 * pack is wrong, with err naming the chunk or the hashes: "chunk 2 of 5 of
 * PACK is missing", "... has N bytes, expected M", "SHA-256 of the chunks is
 * X, the manifest says Y"; -2 when the bus failed (a timeout, the connection
 * lost): the same pack may come whole on another try. */
int sluice_fleet_get_pack(struct sluice_fleet *f, const struct sluice_fleet_pack_ref *ref,
			  uint8_t **out, char *err, size_t err_len);

/* The manifest as JSON, and back; parse checks every field (slot, group,
 * hashes, sizes, chunk counts that fit the size) and says which is wrong. */
void sluice_fleet_target_format(const struct sluice_fleet_target *t, struct sluice_strbuf *sb);
int sluice_fleet_target_parse(const char *json, size_t len, struct sluice_fleet_target *t,
			      char *err, size_t err_len);

int sluice_fleet_put_target(struct sluice_fleet *f, const struct sluice_fleet_target *t, char *err,
			    size_t err_len);
/* 1 found, 0 none, -1 error (a manifest that does not parse is an error). */
int sluice_fleet_get_target(struct sluice_fleet *f, const char *slot, const char *group,
			    struct sluice_fleet_target *t, char *err, size_t err_len);
/* Every target of slot (NULL: both); *out malloc'd. */
int sluice_fleet_list_targets(struct sluice_fleet *f, const char *slot,
			      struct sluice_fleet_target **out, size_t *count, char *err,
			      size_t err_len);

void sluice_fleet_status_format(const struct sluice_fleet_status *s, struct sluice_strbuf *sb);
int sluice_fleet_status_parse(const char *json, size_t len, struct sluice_fleet_status *s,
			      char *err, size_t err_len);
int sluice_fleet_put_status(struct sluice_fleet *f, const struct sluice_fleet_status *s, char *err,
			    size_t err_len);
/* Every gateway's status, once each, by group and name, read in one pass
 * over the bucket (entries that do not parse are skipped and counted in
 * *bad, which may be NULL). A read that fails fails the listing: a gateway
 * left out would make its group look smaller, or empty, and an empty group
 * converges at once. */
int sluice_fleet_list_status(struct sluice_fleet *f, struct sluice_fleet_status **out,
			     size_t *count, size_t *bad, char *err, size_t err_len);

/* Keeps one status a gateway, its latest, and orders them by group and
 * name; returns how many are kept. A listing gives each key once, but a
 * status names its gateway in its value, and nothing stops two keys from
 * naming one: counted twice, a canary's one gateway once looked like two,
 * both refusing (test fleet, under ASan, when the key listing could repeat
 * a key). */
size_t sluice_fleet_status_unique(struct sluice_fleet_status *s, size_t n);

/* Whether a status is older than three heartbeats at now_ns. */
bool sluice_fleet_status_stale(const struct sluice_fleet_status *s, uint64_t now_ns);

/* Watching target.*.GROUP: open once, then next() gives each change (the
 * current targets first). Returns 1 with *t, 0 when nothing came within
 * timeout_ms, -1 on a broken watch (close and open again), -2 when a
 * manifest did not parse (err says why; t->slot, t->group and t->revision are
 * set as far as the key tells). */
int sluice_fleet_watch_open(struct sluice_fleet *f, const char *group, char *err, size_t err_len);
int sluice_fleet_watch_next(struct sluice_fleet *f, int timeout_ms, struct sluice_fleet_target *t,
			    char *err, size_t err_len);
void sluice_fleet_watch_close(struct sluice_fleet *f);

/* For tests: writes raw bytes under a key of the packs bucket, or deletes
 * it, as someone with write access to the bus could. */
/* A pack slot/group's target named in the key's history (the bucket keeps
 * SLUICE_FLEET_HISTORY revisions), newest first, as its pack or its
 * previous: `which` is a version, or a SHA-256 prefix of at least 6 hex
 * digits. 1 with *out, 0 when none matches, -1 with err. */
int sluice_fleet_find_in_history(struct sluice_fleet *f, const char *slot, const char *group,
				 const char *which, struct sluice_fleet_pack_ref *out, char *err,
				 size_t err_len);

/* Purges the chunks of every pack that no target (current or previous, any
 * slot or group) names and no gateway reports running, so the bucket does
 * not grow with every release; with dry_run, only counts. *packs and *chunks:
 * what was (or would be) removed. 0, or -1 with err. */
int sluice_fleet_prune(struct sluice_fleet *f, bool dry_run, unsigned *packs, unsigned *chunks,
		       char *err, size_t err_len);

int sluice_fleet_raw_put(struct sluice_fleet *f, const char *key, const void *data, size_t len,
			 char *err, size_t err_len);
int sluice_fleet_raw_delete(struct sluice_fleet *f, const char *key, char *err, size_t err_len);

#endif

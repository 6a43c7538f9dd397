/* The fleet's pack store (control/fleet_store.c) against a real nats-server
 * with JetStream on loopback: packs split into chunks and put back together,
 * and every way a stored pack or manifest can be wrong refused with its own
 * reason; targets, gateway status and the watch. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nats/nats.h>

#include "clock.h"
#include "fleet_store.h"
#include "nats_security.h"
#include "nats_server.h"
#include "test_support.h"

static struct ts_nats nats;
static char *dir;
static struct sluice_fleet *f;

static void setup(void)
{
	char err[512];
	dir = ts_make_tmpdir("fleet-store");
	cr_assert_eq(ts_nats_start(&nats, 1, dir, err, sizeof(err)), 0, "%s", err);
	f = sluice_fleet_open(nats.urls, NULL, "TEST_PACKS", 1, 3000, err, sizeof(err));
	cr_assert_not_null(f, "%s", err);
}

static void teardown(void)
{
	sluice_fleet_close(f);
	f = NULL;
	ts_nats_stop(&nats);
	ts_rmtree(dir);
	free(dir);
}

TestSuite(fleet_store, .init = setup, .fini = teardown, .timeout = 60);

/* Bytes that differ chunk to chunk, so a chunk put in another's place shows. */
static uint8_t *pattern(size_t len, unsigned seed)
{
	uint8_t *p = malloc(len);
	cr_assert_not_null(p);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

static void assert_contains(const char *text, const char *want)
{
	cr_assert(strstr(text, want) != NULL, "expected '%s' in: %s", want, text);
}

Test(fleet_store, a_pack_of_several_chunks_comes_back_byte_for_byte)
{
	size_t len = 2 * SLUICE_FLEET_CHUNK_BYTES + 12345; /* 3 chunks, the last short */
	uint8_t *data = pattern(len, 1), *back = NULL;
	struct sluice_fleet_pack_ref ref = {0};
	char err[512], hex[65];
	cr_assert_eq(sluice_fleet_put_pack(f, data, len, &ref, err, sizeof(err)), 0, "%s", err);
	sluice_fleet_sha256(data, len, hex);
	cr_assert_str_eq(ref.sha256, hex);
	cr_assert_eq(ref.size, len);
	cr_assert_eq(ref.chunks, 3);
	cr_assert_eq(sluice_fleet_get_pack(f, &ref, &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(memcmp(back, data, len), 0);
	free(back);

	/* Stored again: the same keys, the same bytes (content addressed). */
	struct sluice_fleet_pack_ref again = {0};
	cr_assert_eq(sluice_fleet_put_pack(f, data, len, &again, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(again.sha256, ref.sha256);

	/* Exactly one chunk's size makes one chunk, not two. */
	struct sluice_fleet_pack_ref one = {0};
	cr_assert_eq(
	    sluice_fleet_put_pack(f, data, SLUICE_FLEET_CHUNK_BYTES, &one, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(one.chunks, 1);
	cr_assert_eq(sluice_fleet_get_pack(f, &one, &back, err, sizeof(err)), 0, "%s", err);
	free(back);

	cr_assert_neq(sluice_fleet_put_pack(f, data, 0, &one, err, sizeof(err)), 0);
	assert_contains(err, "cannot be stored");
	free(data);
}

Test(fleet_store, a_missing_short_or_altered_chunk_is_refused_with_its_reason)
{
	size_t len = 2 * SLUICE_FLEET_CHUNK_BYTES + 100;
	uint8_t *data = pattern(len, 2), *back = (uint8_t *)"untouched";
	struct sluice_fleet_pack_ref ref = {0};
	char err[512], key[160];
	cr_assert_eq(sluice_fleet_put_pack(f, data, len, &ref, err, sizeof(err)), 0, "%s", err);

	/* Altered: chunk 2 replaced by other bytes of the same length. */
	uint8_t *other = pattern(SLUICE_FLEET_CHUNK_BYTES, 3);
	snprintf(key, sizeof(key), "blob.%s.1", ref.sha256);
	cr_assert_eq(
	    sluice_fleet_raw_put(f, key, other, SLUICE_FLEET_CHUNK_BYTES, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_neq(sluice_fleet_get_pack(f, &ref, &back, err, sizeof(err)), 0);
	cr_assert_null(back);
	assert_contains(err, "SHA-256 of the chunks is ");
	assert_contains(err, "the pack was altered in the store");

	/* Short: chunk 2 cut. */
	cr_assert_eq(
	    sluice_fleet_raw_put(f, key, data + SLUICE_FLEET_CHUNK_BYTES, 1000, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_neq(sluice_fleet_get_pack(f, &ref, &back, err, sizeof(err)), 0);
	assert_contains(err, "chunk 2 of 3 of pack ");
	assert_contains(err, "has 1000 bytes, expected 524288");

	/* Missing: chunk 3 purged. */
	cr_assert_eq(sluice_fleet_raw_put(f, key, data + SLUICE_FLEET_CHUNK_BYTES,
					  SLUICE_FLEET_CHUNK_BYTES, err, sizeof(err)),
		     0, "%s", err);
	snprintf(key, sizeof(key), "blob.%s.2", ref.sha256);
	cr_assert_eq(sluice_fleet_raw_delete(f, key, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(sluice_fleet_get_pack(f, &ref, &back, err, sizeof(err)), 0);
	assert_contains(err, "chunk 3 of 3 of pack ");
	assert_contains(err, "is missing");

	/* A reference whose chunk count does not fit its size is not followed. */
	struct sluice_fleet_pack_ref wrong = ref;
	wrong.chunks = 2;
	cr_assert_neq(sluice_fleet_get_pack(f, &wrong, &back, err, sizeof(err)), 0);
	assert_contains(err, "bad manifest: pack of 1048676 bytes in 2 chunks");
	free(other);
	free(data);
}

static const char good[] =
    "{\"slot\":\"main\",\"group\":\"canary\",\"pack\":{\"sha256\":"
    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\",\"size\":600000,"
    "\"chunks\":2,\"name\":\"p\",\"version\":\"7\"},\"previous\":null,\"action\":\"publish\","
    "\"publisher\":\"me\",\"time_ns\":5}";

static void refused(const char *json, const char *reason)
{
	struct sluice_fleet_target t;
	char err[512];
	cr_assert_neq(sluice_fleet_target_parse(json, strlen(json), &t, err, sizeof(err)), 0,
		      "accepted: %s", json);
	assert_contains(err, reason);
}

/* Replaces the first `from` in good by `to`. */
static char *good_with(const char *from, const char *to)
{
	const char *at = strstr(good, from);
	cr_assert_not_null(at, "%s", from);
	char *out = malloc(sizeof(good) + strlen(to));
	size_t head = (size_t)(at - good);
	memcpy(out, good, head);
	strcpy(out + head, to);
	strcat(out, at + strlen(from));
	return out;
}

Test(fleet_store, every_bad_manifest_is_refused_with_the_field_named)
{
	struct sluice_fleet_target t;
	char err[512];
	cr_assert_eq(sluice_fleet_target_parse(good, strlen(good), &t, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(t.pack.version, "7");
	cr_assert_eq(t.pack.chunks, 2);
	cr_assert(!t.has_previous);

	static const struct {
		const char *from, *to, *reason;
	} cases[] = {
	    {"{\"slot\"", "[\"slot\"", "bad manifest: not a JSON object"},
	    {"\"slot\":\"main\",", "", "field 'slot' is missing"},
	    {"\"main\"", "\"spare\"", "slot 'spare' is neither main nor urgent"},
	    {"\"canary\"", "\"can.ary\"", "group 'can.ary' is not a name"},
	    {"\"group\":\"canary\"", "\"group\":3", "field 'group' is not a string"},
	    {"\"00112233", "\"X0112233", "pack sha256 is not 64 lower-case hex digits"},
	    {"\"size\":600000", "\"size\":-1", "pack size is missing or out of range"},
	    {"\"chunks\":2", "\"chunks\":3", "pack has 3 chunks; 600000 bytes make 2"},
	    {"\"pack\":{", "\"pack\":\"x\",\"p2\":{", "'pack' is not an object"},
	    {"\"previous\":null", "\"previous\":{\"sha256\":\"ab\",\"size\":1,\"chunks\":1}",
	     "previous sha256 is not 64 lower-case hex digits"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *json = good_with(cases[i].from, cases[i].to);
		refused(json, cases[i].reason);
		free(json);
	}
	refused("not json", "not a JSON object");
	refused("", "not a JSON object");
}

Test(fleet_store, targets_status_and_the_watch)
{
	char err[512];
	struct sluice_fleet_target t = {0}, back;
	snprintf(t.slot, sizeof(t.slot), "main");
	snprintf(t.group, sizeof(t.group), "canary");
	uint8_t *data = pattern(1000, 4);
	cr_assert_eq(sluice_fleet_put_pack(f, data, 1000, &t.pack, err, sizeof(err)), 0, "%s", err);
	snprintf(t.pack.version, sizeof(t.pack.version), "v1");
	snprintf(t.action, sizeof(t.action), "publish");
	cr_assert_eq(sluice_fleet_get_target(f, "main", "canary", &back, err, sizeof(err)), 0);
	cr_assert_eq(sluice_fleet_put_target(f, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_fleet_get_target(f, "main", "canary", &back, err, sizeof(err)), 1, "%s",
		     err);
	cr_assert_str_eq(back.pack.sha256, t.pack.sha256);
	cr_assert_str_eq(back.pack.version, "v1");
	cr_assert_gt(back.revision, 0);

	/* The watch gives the current target, then the next. */
	cr_assert_eq(sluice_fleet_watch_open(f, "canary", err, sizeof(err)), 0, "%s", err);
	struct sluice_fleet_target seen;
	cr_assert_eq(sluice_fleet_watch_next(f, 2000, &seen, err, sizeof(err)), 1, "%s", err);
	cr_assert_str_eq(seen.pack.version, "v1");
	cr_assert_eq(sluice_fleet_watch_next(f, 200, &seen, err, sizeof(err)), 0);
	snprintf(t.pack.version, sizeof(t.pack.version), "v2");
	cr_assert_eq(sluice_fleet_put_target(f, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_fleet_watch_next(f, 2000, &seen, err, sizeof(err)), 1, "%s", err);
	cr_assert_str_eq(seen.pack.version, "v2");
	cr_assert_gt(seen.revision, back.revision);

	/* Another group's target is not this watch's business. */
	snprintf(t.group, sizeof(t.group), "main");
	cr_assert_eq(sluice_fleet_put_target(f, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_fleet_watch_next(f, 300, &seen, err, sizeof(err)), 0);

	/* A manifest that does not parse, or claims another key's place: -2. */
	cr_assert_eq(sluice_fleet_raw_put(f, "target.main.canary", "{}", 2, err, sizeof(err)), 0);
	cr_assert_eq(sluice_fleet_watch_next(f, 2000, &seen, err, sizeof(err)), -2);
	assert_contains(err, "bad manifest: field 'slot' is missing");
	cr_assert_str_eq(seen.slot, "main");
	cr_assert_str_eq(seen.group, "canary");
	cr_assert_eq(
	    sluice_fleet_raw_put(f, "target.urgent.canary", good, strlen(good), err, sizeof(err)),
	    0);
	cr_assert_eq(sluice_fleet_watch_next(f, 2000, &seen, err, sizeof(err)), -2);
	assert_contains(err, "key target.urgent.canary holds the target of main.canary");
	sluice_fleet_watch_close(f);

	struct sluice_fleet_target *list = NULL;
	size_t n = 0;
	cr_assert_eq(sluice_fleet_list_targets(f, "main", &list, &n, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(n, 1, "only target.main.main parses: %zu", n); /* canary's is "{}" */
	cr_assert_str_eq(list[0].group, "main");
	free(list);

	/* Status: written, listed, and stale after three heartbeats. */
	struct sluice_fleet_status st = {0};
	snprintf(st.name, sizeof(st.name), "gw-1");
	snprintf(st.group, sizeof(st.group), "canary");
	snprintf(st.slot[0].version, sizeof(st.slot[0].version), "v2");
	snprintf(st.slot[0].result, sizeof(st.slot[0].result), "refused");
	snprintf(st.slot[0].reason, sizeof(st.slot[0].reason), "bad \"signature\"");
	st.refusals = 3;
	st.heartbeat_ms = 100;
	st.updated_ns = sluice_realtime_ns();
	cr_assert_eq(sluice_fleet_put_status(f, &st, err, sizeof(err)), 0, "%s", err);
	struct sluice_fleet_status *all = NULL;
	size_t bad = 9;
	cr_assert_eq(sluice_fleet_list_status(f, &all, &n, &bad, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_eq(bad, 0);
	cr_assert_str_eq(all[0].slot[0].reason, "bad \"signature\"");
	cr_assert_eq(all[0].refusals, 3);
	cr_assert(!sluice_fleet_status_stale(&all[0], st.updated_ns + 250000000ull));
	cr_assert(sluice_fleet_status_stale(&all[0], st.updated_ns + 350000000ull));
	free(all);
	free(data);
}

/* Prune keeps what a target, a rollback or a running gateway may fetch,
 * and only that: four packs, one named by nothing. */
Test(fleet_store, prune_removes_only_the_packs_nothing_names)
{
	char err[512];
	struct sluice_fleet_pack_ref ref[4];
	uint8_t *data[4];
	size_t len[4] = {SLUICE_FLEET_CHUNK_BYTES + 1, 100, 200, 2 * SLUICE_FLEET_CHUNK_BYTES + 3};
	for (unsigned i = 0; i < 4; i++) {
		data[i] = pattern(len[i], 40 + i);
		memset(&ref[i], 0, sizeof(ref[i]));
		cr_assert_eq(sluice_fleet_put_pack(f, data[i], len[i], &ref[i], err, sizeof(err)),
			     0, "%s", err);
		snprintf(ref[i].name, sizeof(ref[i].name), "p%u", i);
		snprintf(ref[i].version, sizeof(ref[i].version), "v%u", i);
	}
	/* 0: the target; 1: its previous (a rollback's); 2: what a gateway
	 * runs; 3: nothing. */
	struct sluice_fleet_target t = {.slot = "main", .group = "canary", .action = "publish"};
	t.pack = ref[0];
	t.has_previous = true;
	t.previous = ref[1];
	cr_assert_eq(sluice_fleet_put_target(f, &t, err, sizeof(err)), 0, "%s", err);
	struct sluice_fleet_status gw = {.name = "gw-1", .group = "main", .heartbeat_ms = 1000};
	memcpy(gw.slot[0].file_sha, ref[2].sha256, 65);
	snprintf(gw.slot[0].version, sizeof(gw.slot[0].version), "v2");
	cr_assert_eq(sluice_fleet_put_status(f, &gw, err, sizeof(err)), 0, "%s", err);

	unsigned packs, chunks;
	cr_assert_eq(sluice_fleet_prune(f, true, &packs, &chunks, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(packs, 1);
	cr_assert_eq(chunks, 3);
	uint8_t *back = NULL;
	cr_assert_eq(sluice_fleet_get_pack(f, &ref[3], &back, err, sizeof(err)), 0,
		     "a dry run removes nothing: %s", err);
	free(back);
	cr_assert_eq(sluice_fleet_prune(f, false, &packs, &chunks, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(packs, 1);
	cr_assert_eq(chunks, 3);
	back = NULL;
	cr_assert_neq(sluice_fleet_get_pack(f, &ref[3], &back, err, sizeof(err)), 0);
	cr_assert_null(back);
	for (unsigned i = 0; i < 3; i++) {
		back = NULL;
		cr_assert_eq(sluice_fleet_get_pack(f, &ref[i], &back, err, sizeof(err)), 0,
			     "pack %u: %s", i, err);
		cr_assert_eq(memcmp(back, data[i], len[i]), 0);
		free(back);
	}
	cr_assert_eq(sluice_fleet_prune(f, false, &packs, &chunks, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(packs + chunks, 0, "a second prune finds nothing");
	for (unsigned i = 0; i < 4; i++)
		free(data[i]);
}

/* ---- a secured server (nats_security.h) ---- */

/* nats-server with TLS and a user: reached with the CA and the password,
 * refused without either, and every bad option refused before connecting,
 * each with its reason. The events bus takes the same options
 * (nats_connect.c is the one place both connect). */
Test(fleet_store_secured, reached_only_with_tls_and_the_password, .timeout = 60)
{
	char err[512];
	dir = ts_make_tmpdir("fleet-secure");
	char *cert = NULL, *key = NULL;
	cr_assert_neq(asprintf(&cert, "%s/server.crt", dir), -1);
	cr_assert_neq(asprintf(&key, "%s/server.key", dir), -1);
	ts_self_signed_cert(cert, key);
	const char *extra[] = {"--tls",	 "--tlscert", cert,	"--tlskey", key,
			       "--user", "gateway",   "--pass", "s3cret",   NULL};
	cr_assert_eq(ts_nats_start_with(&nats, 1, dir, extra, err, sizeof(err)), 0, "%s", err);
	char *user = ts_write_secret(dir, "user", "gateway:s3cret\n", 0640);
	char *wrong = ts_write_secret(dir, "wrong", "gateway:guess\n", 0600);
	char *open_file = ts_write_secret(dir, "open", "gateway:s3cret\n", 0644);

	struct sluice_nats_security sec = {.ca_file = cert, .user_file = user};
	f = sluice_fleet_open(nats.urls, &sec, "TEST_PACKS", 1, 3000, err, sizeof(err));
	cr_assert_not_null(f, "with the CA and the password: %s", err);
	struct sluice_fleet_target t = {.slot = "main", .group = "canary", .action = "publish"};
	snprintf(t.pack.sha256, sizeof(t.pack.sha256), "%064d", 7);
	t.pack.size = 10;
	t.pack.chunks = 1;
	snprintf(t.pack.name, sizeof(t.pack.name), "secured");
	snprintf(t.pack.version, sizeof(t.pack.version), "s-1");
	cr_assert_eq(sluice_fleet_put_target(f, &t, err, sizeof(err)), 0, "%s", err);
	struct sluice_fleet_target back;
	cr_assert_eq(sluice_fleet_get_target(f, "main", "canary", &back, err, sizeof(err)), 1, "%s",
		     err);
	cr_assert_str_eq(back.pack.version, "s-1");
	sluice_fleet_close(f);
	f = NULL;

	const struct {
		struct sluice_nats_security sec;
		const char *says;
	} refused[] = {
	    {{.ca_file = cert}, "Authentication Violation"}, /* no password */
	    {{.user_file = user}, "SSL Error"},		     /* no TLS */
	    {{.ca_file = cert, .user_file = wrong},
	     "Authentication Violation"}, /* a wrong password */
	    {{.ca_file = cert, .user_file = open_file}, "others may read or write it"},
	    {{.ca_file = cert, .cert_file = cert}, "--bus-cert and --bus-key go together"},
	    {{.ca_file = cert, .user_file = user, .creds_file = user},
	     "--bus-user-file and --bus-creds: one or the other"},
	    {{.ca_file = "/nonexistent/ca.pem"}, "--bus-ca /nonexistent/ca.pem: "},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		err[0] = '\0';
		struct sluice_fleet *g = sluice_fleet_open(nats.urls, &refused[i].sec, "TEST_PACKS",
							   1, 2000, err, sizeof(err));
		bool opened = g != NULL;
		sluice_fleet_close(g);
		cr_assert_not(opened, "case %zu connected", i);
		cr_assert_neq(err[0], '\0', "case %zu: no reason", i);
		cr_assert_not_null(strstr(err, refused[i].says), "case %zu: %s", i, err);
	}
	ts_nats_stop(&nats);
	free(cert);
	free(key);
	free(user);
	free(wrong);
	free(open_file);
	ts_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* The buckets on a three-node cluster: created with the replicas asked for
 * (the servers' own stream info says so, not only ours), a pack stored there
 * comes back after the node it was written through is killed, and a bucket
 * that exists is used as it is, whatever a later client asks. */
static struct sluice_fleet *open_when_formed(const char *urls, const char *bucket,
					     unsigned replicas)
{
	char err[512] = "";
	/* A cluster just started has no meta leader yet: creating a
	 * replicated stream is refused until it has. */
	for (double end = sluice_mono_s() + 20; sluice_mono_s() < end; usleep(200 * 1000)) {
		struct sluice_fleet *g =
		    sluice_fleet_open(urls, NULL, bucket, replicas, 3000, err, sizeof(err));
		if (g != NULL)
			return g;
	}
	cr_assert_fail("bucket %s with %u replicas: %s", bucket, replicas, err);
	return NULL;
}

static int stream_replicas(const char *urls, const char *stream)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	int n = -1;
	if (natsConnection_ConnectTo(&nc, urls) == NATS_OK &&
	    natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
	    js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK)
		n = (int)si->Config->Replicas;
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return n;
}

Test(fleet_store_cluster, buckets_have_the_replicas_asked_for_and_outlive_a_node, .timeout = 120)
{
	struct ts_nats c;
	char err[512];
	char *cdir = ts_make_tmpdir("fleet-cluster");
	cr_assert_eq(ts_nats_start(&c, 3, cdir, err, sizeof(err)), 0, "%s", err);

	struct sluice_fleet *g = open_when_formed(c.urls, "TEST_R3", 3);
	cr_assert_eq(sluice_fleet_replicas(g), 3);
	cr_assert_eq(stream_replicas(c.urls, "KV_TEST_R3"), 3);
	cr_assert_eq(stream_replicas(c.urls, "KV_TEST_R3_STATUS"), 3);
	struct sluice_fleet *one = open_when_formed(c.urls, "TEST_R1", 1);
	cr_assert_eq(sluice_fleet_replicas(one), 1);
	sluice_fleet_close(one);
	/* Asked again for one replica: the bucket stays as it is. */
	struct sluice_fleet *again = open_when_formed(c.urls, "TEST_R3", 1);
	cr_assert_eq(sluice_fleet_replicas(again), 3);
	sluice_fleet_close(again);

	size_t len = SLUICE_FLEET_CHUNK_BYTES + 99;
	uint8_t *data = pattern(len, 7), *back = NULL;
	struct sluice_fleet_pack_ref ref = {0};
	cr_assert_eq(sluice_fleet_put_pack(g, data, len, &ref, err, sizeof(err)), 0, "%s", err);
	sluice_fleet_close(g);

	/* The first node (every client's first URL) dies; the other two still
	 * hold the pack, once they have a leader for the bucket again. */
	ts_nats_node_kill(&c, 0);
	struct sluice_fleet *after = open_when_formed(c.urls, "TEST_R3", 3);
	int rc = -1;
	for (double end = sluice_mono_s() + 20; rc != 0 && sluice_mono_s() < end;
	     usleep(200 * 1000))
		rc = sluice_fleet_get_pack(after, &ref, &back, err, sizeof(err));
	cr_assert_eq(rc, 0, "after a node died: %s", err);
	cr_assert_eq(memcmp(back, data, len), 0);
	free(back);
	free(data);
	sluice_fleet_close(after);
	ts_nats_stop(&c);
	ts_rmtree(cdir);
	free(cdir);
}

/* Three replicas asked of a single server: refused, with the bucket and the
 * server's reason, rather than a bucket that quietly has one. */
Test(fleet_store, replicas_a_single_server_cannot_hold_are_refused_with_its_reason)
{
	char err[512] = "";
	struct sluice_fleet *g =
	    sluice_fleet_open(nats.urls, NULL, "TEST_R3_ALONE", 3, 3000, err, sizeof(err));
	bool opened = g != NULL;
	sluice_fleet_close(g);
	cr_assert_not(opened, "a single server made a 3-replica bucket");
	assert_contains(err, "bucket TEST_R3_ALONE: ");
	assert_contains(err, "replicas");
}

enum { WRITING_GATEWAYS = 12 };

struct status_writer {
	const char *urls;
	bool stop;     /* __atomic: the writer reads it while the test runs */
	unsigned puts; /* __atomic */
	int rc;
	char err[512];
};

static void gateway_status(struct sluice_fleet_status *st, unsigned i)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "gw-%02u", i);
	snprintf(st->group, sizeof(st->group), "%s", i % 3 == 0 ? "canary" : "main");
	st->heartbeat_ms = 1000;
	st->updated_ns = sluice_realtime_ns();
}

/* Rewrites every gateway's status, round after round, over a connection of
 * its own as the gateways' daemons do, until told to stop (at most 10 s or
 * 20,000 puts). */
static void *write_statuses(void *arg)
{
	struct status_writer *w = arg;
	struct sluice_fleet *g =
	    sluice_fleet_open(w->urls, NULL, "TEST_PACKS", 1, 3000, w->err, sizeof(w->err));
	if (g == NULL) {
		w->rc = -1;
		return NULL;
	}
	double end = sluice_mono_s() + 10;
	for (unsigned i = 0;
	     !__atomic_load_n(&w->stop, __ATOMIC_RELAXED) && i < 20000 && sluice_mono_s() < end;
	     i++) {
		struct sluice_fleet_status st;
		gateway_status(&st, i % WRITING_GATEWAYS);
		if (sluice_fleet_put_status(g, &st, w->err, sizeof(w->err)) != 0) {
			w->rc = -1;
			break;
		}
		__atomic_fetch_add(&w->puts, 1, __ATOMIC_RELAXED);
	}
	sluice_fleet_close(g);
	return NULL;
}

/* Listings read while every gateway writes its status: each gateway once in
 * each listing, none left out. A gateway missing from a listing makes its
 * group look smaller, and a group that looks empty converges at once. */
Test(fleet_store, a_listing_while_gateways_write_has_each_gateway_once)
{
	char err[512];
	for (unsigned i = 0; i < WRITING_GATEWAYS; i++) {
		struct sluice_fleet_status st;
		gateway_status(&st, i);
		cr_assert_eq(sluice_fleet_put_status(f, &st, err, sizeof(err)), 0, "%s", err);
	}
	struct status_writer w = {.urls = nats.urls};
	pthread_t writer;
	cr_assert_eq(pthread_create(&writer, NULL, write_statuses, &w), 0);
	unsigned puts_before = 0, overlapped = 0;
	for (unsigned round = 0; round < 30; round++) {
		struct sluice_fleet_status *all = NULL;
		size_t n = 0, bad = 9;
		puts_before = __atomic_load_n(&w.puts, __ATOMIC_RELAXED);
		cr_assert_eq(sluice_fleet_list_status(f, &all, &n, &bad, err, sizeof(err)), 0, "%s",
			     err);
		overlapped += __atomic_load_n(&w.puts, __ATOMIC_RELAXED) != puts_before;
		cr_assert_eq(n, WRITING_GATEWAYS, "round %u: %zu gateways listed", round, n);
		cr_assert_eq(bad, 0);
		/* By group, then name: canary's gw-00, 03, 06, 09, then main's. */
		for (size_t k = 0; k < n; k++) {
			unsigned want =
			    k < 4 ? (unsigned)k * 3 : (unsigned)((k - 4) / 2 * 3 + 1 + (k - 4) % 2);
			char name[16];
			snprintf(name, sizeof(name), "gw-%02u", want);
			cr_assert_str_eq(all[k].name, name, "round %u, entry %zu", round, k);
			cr_assert_str_eq(all[k].group, want % 3 == 0 ? "canary" : "main");
		}
		free(all);
	}
	__atomic_store_n(&w.stop, true, __ATOMIC_RELAXED);
	pthread_join(writer, NULL);
	cr_assert_eq(w.rc, 0, "writer: %s", w.err);
	cr_assert_gt(overlapped, 0, "no listing ran while a gateway wrote (%u puts)", w.puts);
}

/* A key listing that names a gateway twice (its status written while the
 * list was read) must not count it twice: one entry a gateway, the latest,
 * in group and name order. No bus: the list as sluice_fleet_list_status()
 * would have read it. */
Test(fleet_status, each_gateway_is_counted_once_with_its_latest_status)
{
	struct sluice_fleet_status s[5];
	memset(s, 0, sizeof(s));
	const char *names[5] = {"gw-main-2", "gw-canary", "gw-main-1", "gw-canary", "gw-main-2"};
	const char *groups[5] = {"main", "canary", "main", "canary", "main"};
	const uint64_t updated[5] = {50, 10, 30, 20, 40};
	for (int i = 0; i < 5; i++) {
		snprintf(s[i].name, sizeof(s[i].name), "%s", names[i]);
		snprintf(s[i].group, sizeof(s[i].group), "%s", groups[i]);
		s[i].updated_ns = updated[i];
	}
	cr_assert_eq(sluice_fleet_status_unique(s, 5), 3);
	cr_assert_str_eq(s[0].name, "gw-canary");
	cr_assert_eq(s[0].updated_ns, 20);
	cr_assert_str_eq(s[1].name, "gw-main-1");
	cr_assert_eq(s[1].updated_ns, 30);
	cr_assert_str_eq(s[2].name, "gw-main-2");
	cr_assert_eq(s[2].updated_ns, 50);
	/* Nothing to drop, and nothing at all. */
	cr_assert_eq(sluice_fleet_status_unique(s, 3), 3);
	cr_assert_eq(sluice_fleet_status_unique(s, 0), 0);
}

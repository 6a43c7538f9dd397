#include "fleet_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>
#include <openssl/evp.h>

#include "clock.h"
#include "json_value.h"
#include "nats_connect.h"
#include "utf8.h"

#define KEY_MAX 192

struct sluice_fleet {
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	kvStore *packs, *status;
	kvWatcher *watch;
};

bool sluice_fleet_name_ok(const char *s)
{
	size_t n = 0;
	for (; s != NULL && s[n] != '\0'; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return n > 0 && n < SLUICE_FLEET_NAME;
}

int sluice_fleet_slot_index(const char *slot)
{
	if (slot != NULL && strcmp(slot, "main") == 0)
		return 0;
	if (slot != NULL && strcmp(slot, "urgent") == 0)
		return 1;
	return -1;
}

static bool sha_ok(const char *s)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

void sluice_fleet_sha256(const uint8_t *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int md_len = 0;
	EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* ---- connection and buckets ---- */

static int bind_bucket(struct sluice_fleet *f, kvStore **kv, const char *name, uint8_t history,
		       unsigned replicas, char *err, size_t err_len)
{
	natsStatus s = js_KeyValue(kv, f->js, name);
	if (s == NATS_OK)
		return 0;
	kvConfig cfg;
	kvConfig_Init(&cfg);
	cfg.Bucket = name;
	cfg.History = history;
	cfg.Replicas = replicas > 0 ? (int)replicas : 1;
	cfg.StorageType = js_FileStorage;
	s = js_CreateKeyValue(kv, f->js, &cfg);
	if (s != NATS_OK) {
		/* The server's reason, kept before the lookup below replaces
		 * the thread's last error (the message read "(null)"). */
		snprintf(err, err_len, "bucket %s: %s", name, sluice_nats_reason(s));
		/* Another client may have created it meanwhile. */
		if (js_KeyValue(kv, f->js, name) == NATS_OK) {
			err[0] = '\0';
			return 0;
		}
		return -1;
	}
	return 0;
}

struct sluice_fleet *sluice_fleet_open(const char *servers, const struct sluice_nats_security *sec,
				       const char *bucket, unsigned replicas, unsigned wait_ms,
				       char *err, size_t err_len)
{
	if (bucket == NULL)
		bucket = SLUICE_FLEET_BUCKET;
	if (!sluice_fleet_name_ok(bucket) || strlen(bucket) > 48) {
		snprintf(err, err_len, "bucket name '%s': 1 to 48 of A-Z a-z 0-9 _ -", bucket);
		return NULL;
	}
	struct sluice_fleet *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	if (sluice_nats_options(servers, "pack source", sec, &f->opts, err, err_len) != 0)
		goto fail;
	natsOptions_SetTimeout(f->opts, wait_ms > 0 ? (int64_t)wait_ms : 1000);
	natsStatus s = natsConnection_Connect(&f->nc, f->opts);
	if (s != NATS_OK) {
		snprintf(err, err_len, "%s: %s", servers, natsStatus_GetText(s));
		goto fail;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 2000;
	s = natsConnection_JetStream(&f->js, f->nc, &jo);
	if (s != NATS_OK) {
		snprintf(err, err_len, "%s: JetStream context: %s", servers, natsStatus_GetText(s));
		goto fail;
	}
	char status_bucket[SLUICE_FLEET_NAME + 8];
	snprintf(status_bucket, sizeof(status_bucket), "%s_STATUS", bucket);
	/* Targets keep a few revisions (what was rolled out when, for people
	 * reading the bucket); a gateway's status only its last. */
	if (bind_bucket(f, &f->packs, bucket, SLUICE_FLEET_HISTORY, replicas, err, err_len) != 0 ||
	    bind_bucket(f, &f->status, status_bucket, 1, replicas, err, err_len) != 0)
		goto fail;
	return f;
fail:
	sluice_fleet_close(f);
	return NULL;
}

unsigned sluice_fleet_replicas(struct sluice_fleet *f)
{
	kvStatus *sts = NULL;
	if (kvStore_Status(&sts, f->packs) != NATS_OK)
		return 0;
	int64_t n = kvStatus_Replicas(sts);
	kvStatus_Destroy(sts);
	return n > 0 ? (unsigned)n : 0;
}

void sluice_fleet_close(struct sluice_fleet *f)
{
	if (f == NULL)
		return;
	sluice_fleet_watch_close(f);
	kvStore_Destroy(f->packs);
	kvStore_Destroy(f->status);
	jsCtx_Destroy(f->js);
	if (f->nc != NULL) {
		natsConnection_Close(f->nc);
		natsConnection_Destroy(f->nc);
	}
	natsOptions_Destroy(f->opts);
	free(f);
}

bool sluice_fleet_connected(const struct sluice_fleet *f)
{
	return f != NULL && natsConnection_Status(f->nc) == NATS_CONN_STATUS_CONNECTED;
}

static int kv_put(kvStore *kv, const char *key, const void *data, size_t len, char *err,
		  size_t err_len)
{
	natsStatus s = kvStore_Put(NULL, kv, key, data, (int)len);
	if (s != NATS_OK) {
		snprintf(err, err_len, "put %s: %s", key, sluice_nats_reason(s));
		return -1;
	}
	return 0;
}

int sluice_fleet_raw_put(struct sluice_fleet *f, const char *key, const void *data, size_t len,
			 char *err, size_t err_len)
{
	return kv_put(f->packs, key, data, len, err, err_len);
}

int sluice_fleet_raw_delete(struct sluice_fleet *f, const char *key, char *err, size_t err_len)
{
	natsStatus s = kvStore_Purge(f->packs, key, NULL);
	if (s != NATS_OK) {
		snprintf(err, err_len, "purge %s: %s", key, sluice_nats_reason(s));
		return -1;
	}
	return 0;
}

/* ---- packs as chunks ---- */

static unsigned chunks_for(uint64_t size)
{
	return (unsigned)((size + SLUICE_FLEET_CHUNK_BYTES - 1) / SLUICE_FLEET_CHUNK_BYTES);
}

int sluice_fleet_put_pack(struct sluice_fleet *f, const uint8_t *data, size_t len,
			  struct sluice_fleet_pack_ref *ref, char *err, size_t err_len)
{
	if (len == 0 || chunks_for(len) > SLUICE_FLEET_MAX_CHUNKS) {
		snprintf(err, err_len, "a pack of %zu bytes cannot be stored (1 byte to %u MiB)",
			 len, SLUICE_FLEET_MAX_CHUNKS * (SLUICE_FLEET_CHUNK_BYTES >> 20));
		return -1;
	}
	sluice_fleet_sha256(data, len, ref->sha256);
	ref->size = len;
	ref->chunks = chunks_for(len);
	for (unsigned i = 0; i < ref->chunks; i++) {
		char key[KEY_MAX];
		size_t off = (size_t)i * SLUICE_FLEET_CHUNK_BYTES;
		size_t n =
		    len - off < SLUICE_FLEET_CHUNK_BYTES ? len - off : SLUICE_FLEET_CHUNK_BYTES;
		snprintf(key, sizeof(key), "blob.%s.%u", ref->sha256, i);
		if (kv_put(f->packs, key, data + off, n, err, err_len) != 0)
			return -1;
	}
	return 0;
}

int sluice_fleet_get_pack(struct sluice_fleet *f, const struct sluice_fleet_pack_ref *ref,
			  uint8_t **out, char *err, size_t err_len)
{
	*out = NULL;
	if (!sha_ok(ref->sha256) || ref->size == 0 || ref->chunks != chunks_for(ref->size) ||
	    ref->chunks > SLUICE_FLEET_MAX_CHUNKS) {
		snprintf(err, err_len, "bad manifest: pack of %" PRIu64 " bytes in %u chunks",
			 ref->size, ref->chunks);
		return -1;
	}
	uint8_t *buf = malloc(ref->size);
	if (buf == NULL) {
		snprintf(err, err_len, "out of memory for a pack of %" PRIu64 " bytes", ref->size);
		return -1;
	}
	for (unsigned i = 0; i < ref->chunks; i++) {
		char key[KEY_MAX];
		snprintf(key, sizeof(key), "blob.%s.%u", ref->sha256, i);
		kvEntry *e = NULL;
		natsStatus s = kvStore_Get(&e, f->packs, key);
		if (s == NATS_NOT_FOUND) {
			snprintf(err, err_len, "chunk %u of %u of pack %.12s is missing", i + 1,
				 ref->chunks, ref->sha256);
			free(buf);
			return -1;
		}
		if (s != NATS_OK) {
			/* The bus, not the pack: worth another try. */
			snprintf(err, err_len, "chunk %u of %u of pack %.12s: %s", i + 1,
				 ref->chunks, ref->sha256, sluice_nats_reason(s));
			free(buf);
			return -2;
		}
		uint64_t off = (uint64_t)i * SLUICE_FLEET_CHUNK_BYTES;
		uint64_t want = ref->size - off < SLUICE_FLEET_CHUNK_BYTES
				    ? ref->size - off
				    : SLUICE_FLEET_CHUNK_BYTES;
		int got = kvEntry_ValueLen(e);
		if (got < 0 || (uint64_t)got != want) {
			snprintf(err, err_len,
				 "chunk %u of %u of pack %.12s has %d bytes, expected %" PRIu64,
				 i + 1, ref->chunks, ref->sha256, got, want);
			kvEntry_Destroy(e);
			free(buf);
			return -1;
		}
		memcpy(buf + off, kvEntry_Value(e), (size_t)got);
		kvEntry_Destroy(e);
	}
	char hex[65];
	sluice_fleet_sha256(buf, ref->size, hex);
	if (strcmp(hex, ref->sha256) != 0) {
		snprintf(err, err_len,
			 "SHA-256 of the chunks is %.12s..., the manifest says %.12s...: the pack "
			 "was altered in the store",
			 hex, ref->sha256);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/* ---- manifests ---- */

static void ref_format(const struct sluice_fleet_pack_ref *r, struct sluice_strbuf *sb)
{
	sluice_strbuf_printf(sb, "{\"sha256\":\"%s\",\"size\":%" PRIu64 ",\"chunks\":%u,\"name\":",
			     r->sha256, r->size, r->chunks);
	sluice_strbuf_json_string(sb, r->name);
	sluice_strbuf_printf(sb, ",\"version\":");
	sluice_strbuf_json_string(sb, r->version);
	sluice_strbuf_printf(sb, "}");
}

void sluice_fleet_target_format(const struct sluice_fleet_target *t, struct sluice_strbuf *sb)
{
	sluice_strbuf_printf(sb, "{\"slot\":\"%s\",\"group\":", t->slot);
	sluice_strbuf_json_string(sb, t->group);
	sluice_strbuf_printf(sb, ",\"pack\":");
	ref_format(&t->pack, sb);
	sluice_strbuf_printf(sb, ",\"previous\":");
	if (t->has_previous)
		ref_format(&t->previous, sb);
	else
		sluice_strbuf_printf(sb, "null");
	sluice_strbuf_printf(sb, ",\"action\":");
	sluice_strbuf_json_string(sb, t->action);
	sluice_strbuf_printf(sb, ",\"publisher\":");
	sluice_strbuf_json_string(sb, t->publisher);
	sluice_strbuf_printf(sb, ",\"time_ns\":%" PRIu64 "}", t->time_ns);
}

/* A count or time: 0 when absent, negative, not a number or past 2^64
 * (converting those to uint64_t is undefined). */
static uint64_t num_field(const struct sluice_json *o, const char *key)
{
	double v = sluice_json_num(o, key, 0);
	return v > 0 && v < 18446744073709551616.0 ? (uint64_t)v : 0;
}

static int copy_str(char *dst, size_t cap, const struct sluice_json *o, const char *key,
		    bool required, const char *what, char *err, size_t err_len)
{
	const struct sluice_json *v = sluice_json_get(o, key);
	if (v == NULL && !required) {
		dst[0] = '\0';
		return 0;
	}
	if (v == NULL || v->type != SLUICE_JSON_STRING || strlen(v->string) >= cap) {
		snprintf(err, err_len, "bad manifest: %s '%s' %s", what, key,
			 v == NULL ? "is missing" : "is not a string of the right length");
		return -1;
	}
	if (!sluice_utf8_valid((const uint8_t *)v->string, strlen(v->string))) {
		/* format would write it back otherwise (U+FFFD): refused. */
		snprintf(err, err_len, "bad manifest: %s '%s' is not UTF-8", what, key);
		return -1;
	}
	memcpy(dst, v->string, strlen(v->string) + 1);
	return 0;
}

static int ref_parse(const struct sluice_json *o, const char *what, struct sluice_fleet_pack_ref *r,
		     char *err, size_t err_len)
{
	if (o == NULL || o->type != SLUICE_JSON_OBJECT) {
		snprintf(err, err_len, "bad manifest: '%s' is not an object", what);
		return -1;
	}
	if (copy_str(r->sha256, sizeof(r->sha256), o, "sha256", true, what, err, err_len) != 0 ||
	    copy_str(r->name, sizeof(r->name), o, "name", false, what, err, err_len) != 0 ||
	    copy_str(r->version, sizeof(r->version), o, "version", false, what, err, err_len) != 0)
		return -1;
	if (!sha_ok(r->sha256)) {
		snprintf(err, err_len, "bad manifest: %s sha256 is not 64 lower-case hex digits",
			 what);
		return -1;
	}
	double size = sluice_json_num(o, "size", -1), chunks = sluice_json_num(o, "chunks", -1);
	if (size < 1 || size > (double)SLUICE_FLEET_MAX_CHUNKS * SLUICE_FLEET_CHUNK_BYTES ||
	    size != (double)(uint64_t)size) {
		snprintf(err, err_len, "bad manifest: %s size is missing or out of range", what);
		return -1;
	}
	r->size = (uint64_t)size;
	if (chunks != (double)chunks_for(r->size)) {
		snprintf(err, err_len,
			 "bad manifest: %s has %.0f chunks; %" PRIu64 " bytes make %u of %u bytes",
			 what, chunks, r->size, chunks_for(r->size), SLUICE_FLEET_CHUNK_BYTES);
		return -1;
	}
	r->chunks = (unsigned)chunks;
	return 0;
}

/* A JSON document from a value's bytes (not NUL-terminated); NULL when it
 * is not JSON, or out of memory. */
static struct sluice_json *parse_value(const char *json, size_t len)
{
	char *text = malloc(len + 1);
	if (text == NULL)
		return NULL;
	memcpy(text, json, len);
	text[len] = '\0';
	struct sluice_json *doc = sluice_json_parse(text);
	free(text);
	return doc;
}

int sluice_fleet_target_parse(const char *json, size_t len, struct sluice_fleet_target *t,
			      char *err, size_t err_len)
{
	memset(t, 0, sizeof(*t));
	struct sluice_json *doc = parse_value(json, len);
	int rc = -1;
	if (doc == NULL || doc->type != SLUICE_JSON_OBJECT) {
		snprintf(err, err_len, "bad manifest: not a JSON object");
		goto out;
	}
	if (copy_str(t->slot, sizeof(t->slot), doc, "slot", true, "field", err, err_len) != 0 ||
	    copy_str(t->group, sizeof(t->group), doc, "group", true, "field", err, err_len) != 0 ||
	    copy_str(t->action, sizeof(t->action), doc, "action", false, "field", err, err_len) !=
		0 ||
	    copy_str(t->publisher, sizeof(t->publisher), doc, "publisher", false, "field", err,
		     err_len) != 0)
		goto out;
	if (sluice_fleet_slot_index(t->slot) < 0) {
		snprintf(err, err_len, "bad manifest: slot '%s' is neither main nor urgent",
			 t->slot);
		goto out;
	}
	if (!sluice_fleet_name_ok(t->group)) {
		snprintf(err, err_len, "bad manifest: group '%s' is not a name", t->group);
		goto out;
	}
	if (ref_parse(sluice_json_get(doc, "pack"), "pack", &t->pack, err, err_len) != 0)
		goto out;
	const struct sluice_json *prev = sluice_json_get(doc, "previous");
	if (prev != NULL && prev->type != SLUICE_JSON_NULL) {
		if (ref_parse(prev, "previous", &t->previous, err, err_len) != 0)
			goto out;
		t->has_previous = true;
	}
	t->time_ns = num_field(doc, "time_ns");
	rc = 0;
out:
	sluice_json_free(doc);
	return rc;
}

static void target_key(char *key, size_t cap, const char *slot, const char *group)
{
	snprintf(key, cap, "target.%s.%s", slot, group);
}

int sluice_fleet_put_target(struct sluice_fleet *f, const struct sluice_fleet_target *t, char *err,
			    size_t err_len)
{
	char key[KEY_MAX];
	if (sluice_fleet_slot_index(t->slot) < 0 || !sluice_fleet_name_ok(t->group)) {
		snprintf(err, err_len, "target: bad slot '%s' or group '%s'", t->slot, t->group);
		return -1;
	}
	target_key(key, sizeof(key), t->slot, t->group);
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_fleet_target_format(t, &sb);
	int rc = sb.failed ? -1 : kv_put(f->packs, key, sb.data, sb.len, err, err_len);
	if (sb.failed)
		snprintf(err, err_len, "out of memory");
	sluice_strbuf_free(&sb);
	return rc;
}

/* Parses an entry's value; the slot and group come from the key too, so a
 * manifest cannot claim another group's place. */
static int entry_target(kvEntry *e, struct sluice_fleet_target *t, char *err, size_t err_len)
{
	const char *key = kvEntry_Key(e);
	char kslot[16] = "", kgroup[SLUICE_FLEET_NAME] = "";
	const char *rest = strncmp(key, "target.", 7) == 0 ? key + 7 : NULL;
	const char *dot = rest != NULL ? strchr(rest, '.') : NULL;
	if (dot != NULL && (size_t)(dot - rest) < sizeof(kslot) &&
	    strlen(dot + 1) < sizeof(kgroup)) {
		memcpy(kslot, rest, (size_t)(dot - rest));
		snprintf(kgroup, sizeof(kgroup), "%s", dot + 1);
	}
	uint64_t rev = kvEntry_Revision(e);
	int rc = sluice_fleet_target_parse(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), t, err,
					   err_len);
	if (rc == 0 && (strcmp(t->slot, kslot) != 0 || strcmp(t->group, kgroup) != 0)) {
		snprintf(err, err_len, "bad manifest: key %s holds the target of %s.%s", key,
			 t->slot, t->group);
		rc = -1;
	}
	if (rc != 0) {
		memset(t, 0, sizeof(*t));
		/* The key's own names, cut to the fields (a slot name longer
		 * than the field is refused above anyway). */
		snprintf(t->slot, sizeof(t->slot), "%.*s", (int)sizeof(t->slot) - 1, kslot);
		snprintf(t->group, sizeof(t->group), "%s", kgroup);
	}
	t->revision = rev;
	return rc;
}

int sluice_fleet_get_target(struct sluice_fleet *f, const char *slot, const char *group,
			    struct sluice_fleet_target *t, char *err, size_t err_len)
{
	char key[KEY_MAX];
	target_key(key, sizeof(key), slot, group);
	kvEntry *e = NULL;
	natsStatus s = kvStore_Get(&e, f->packs, key);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK) {
		snprintf(err, err_len, "get %s: %s", key, sluice_nats_reason(s));
		return -1;
	}
	int rc = entry_target(e, t, err, err_len);
	kvEntry_Destroy(e);
	return rc == 0 ? 1 : -1;
}

/* Keys of kv starting with prefix; list destroyed by the caller. */
static int keys_with(kvStore *kv, kvKeysList *list, char *err, size_t err_len)
{
	memset(list, 0, sizeof(*list));
	natsStatus s = kvStore_Keys(list, kv, NULL);
	if (s == NATS_NOT_FOUND) /* an empty bucket */
		return 0;
	if (s != NATS_OK) {
		snprintf(err, err_len, "listing keys: %s", sluice_nats_reason(s));
		return -1;
	}
	return 0;
}

/* A key and its current entry (NULL until one is read). */
struct current_key {
	const char *key;
	kvEntry *e;
};

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct current_key *)a)->key, ((const struct current_key *)b)->key);
}

/* Keeps e as key's entry unless k already holds a later revision. */
static void keep_latest(struct current_key *k, kvEntry *e)
{
	if (k->e != NULL && kvEntry_Revision(k->e) > kvEntry_Revision(e)) {
		kvEntry_Destroy(e);
		return;
	}
	if (k->e != NULL)
		kvEntry_Destroy(k->e);
	k->e = e;
}

/* The current value of every key of kv that starts with prefix, one entry
 * a key: take() gets each.
 *
 * A watch alone cannot list a bucket that is being written. Its consumer
 * delivers the last message of each key as the stream held them when it
 * started; a key written meanwhile in a bucket that keeps one revision has
 * lost that message, which is skipped, and its new one comes after the
 * watch's marker. A listing that stops at the marker leaves the key out
 * (test fleet_store, a gateway that heartbeats while a rollout reads the
 * status bucket: its group looked a gateway short, or empty). So the keys
 * the stream holds are read first, as one reply, and they are the listing;
 * then the watch gives most of their values in one pass; a key it did not
 * give is read on its own, and one found deleted by then is left out. A key
 * created after that first reply waits for the next listing. 0, or -1 with
 * err. */
typedef int (*entry_take_fn)(kvEntry *e, void *ctx, char *err, size_t err_len);

static int each_current(struct sluice_fleet *f, kvStore *kv, const char *prefix, const char *what,
			entry_take_fn take, void *ctx, char *err, size_t err_len)
{
	char subjects[KEY_MAX + 80], filter[KEY_MAX], stream[80];
	const char *bucket = kvStore_Bucket(kv);
	int strip = snprintf(subjects, sizeof(subjects), "$KV.%s.", bucket);
	snprintf(subjects + strip, sizeof(subjects) - (size_t)strip, "%s>", prefix);
	snprintf(filter, sizeof(filter), "%s>", prefix);
	snprintf(stream, sizeof(stream), "KV_%s", bucket);
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = subjects;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, f->js, stream, &o, &jerr);
	if (s != NATS_OK) {
		snprintf(err, err_len, "listing %s: %s", what, sluice_nats_reason(s));
		return -1;
	}
	size_t n = si->State.Subjects != NULL ? (size_t)si->State.Subjects->Count : 0;
	struct current_key *keys = calloc(n + 1, sizeof(*keys));
	kvWatcher *w = NULL;
	int rc = 0;
	if (keys == NULL) {
		snprintf(err, err_len, "out of memory");
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		keys[i].key = si->State.Subjects->List[i].Subject + strip;
	qsort(keys, n, sizeof(*keys), by_key);

	kvWatchOptions wo;
	kvWatchOptions_Init(&wo);
	wo.IgnoreDeletes = true;
	s = kvStore_Watch(&w, kv, filter, &wo);
	while (s == NATS_OK) {
		kvEntry *e = NULL;
		s = kvWatcher_Next(&e, w, 2000);
		if (s != NATS_OK || e == NULL) /* e NULL: the marker */
			break;
		if (kvEntry_Operation(e) != kvOp_Put) {
			kvEntry_Destroy(e);
			continue;
		}
		struct current_key probe = {.key = kvEntry_Key(e)};
		struct current_key *k = bsearch(&probe, keys, n, sizeof(*keys), by_key);
		if (k != NULL)
			keep_latest(k, e);
		else
			kvEntry_Destroy(e);
	}
	if (s != NATS_OK) {
		snprintf(err, err_len, "listing %s: %s", what, sluice_nats_reason(s));
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (keys[i].e != NULL)
			continue;
		s = kvStore_Get(&keys[i].e, kv, keys[i].key);
		if (s == NATS_NOT_FOUND) { /* deleted, or purged, by now */
			keys[i].e = NULL;
			continue;
		}
		if (s != NATS_OK) {
			snprintf(err, err_len, "listing %s: get %s: %s", what, keys[i].key,
				 sluice_nats_reason(s));
			rc = -1;
		}
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		if (keys[i].e != NULL)
			rc = take(keys[i].e, ctx, err, err_len);
out:
	for (size_t i = 0; keys != NULL && i < n; i++)
		if (keys[i].e != NULL)
			kvEntry_Destroy(keys[i].e);
	free(keys);
	if (w != NULL)
		kvWatcher_Destroy(w);
	jsStreamInfo_Destroy(si);
	return rc;
}

/* Room for one more element of size elem in *arr (count used of *cap). */
static int grow(void **arr, size_t *cap, size_t count, size_t elem, char *err, size_t err_len)
{
	if (count < *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, n * elem);
	if (p == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	*arr = p;
	*cap = n;
	return 0;
}

struct target_list {
	const char *slot;
	struct sluice_fleet_target *out;
	size_t count, cap;
};

static int take_target(kvEntry *e, void *ctx, char *err, size_t err_len)
{
	struct target_list *l = ctx;
	struct sluice_fleet_target t;
	char why[256];
	/* A manifest that does not parse is the watch's (and fleet status')
	 * to report; a listing gives the targets that can be acted on. */
	if (entry_target(e, &t, why, sizeof(why)) != 0 ||
	    (l->slot != NULL && strcmp(l->slot, t.slot) != 0))
		return 0;
	if (grow((void **)&l->out, &l->cap, l->count, sizeof(t), err, err_len) != 0)
		return -1;
	l->out[l->count++] = t;
	return 0;
}

int sluice_fleet_list_targets(struct sluice_fleet *f, const char *slot,
			      struct sluice_fleet_target **out, size_t *count, char *err,
			      size_t err_len)
{
	/* The chunks share the bucket; a watch on target.> lists only targets. */
	struct target_list l = {.slot = slot};
	int rc = each_current(f, f->packs, "target.", "targets", take_target, &l, err, err_len);
	if (rc != 0) {
		free(l.out);
		l.out = NULL;
		l.count = 0;
	}
	*out = l.out;
	*count = l.count;
	return rc;
}

/* ---- gateway status ---- */

static void slot_format(const struct sluice_fleet_slot_state *st, struct sluice_strbuf *sb)
{
	sluice_strbuf_printf(sb, "{\"name\":");
	sluice_strbuf_json_string(sb, st->name);
	sluice_strbuf_printf(sb, ",\"version\":");
	sluice_strbuf_json_string(sb, st->version);
	sluice_strbuf_printf(sb,
			     ",\"pack_sha\":\"%s\",\"file_sha\":\"%s\",\"target_rev\":%" PRIu64
			     ",\"target_sha\":\"%s\",\"result\":\"%s\",\"reason\":",
			     st->pack_sha, st->file_sha, st->target_rev, st->target_sha,
			     st->result);
	sluice_strbuf_json_string(sb, st->reason);
	sluice_strbuf_printf(sb, "}");
}

void sluice_fleet_status_format(const struct sluice_fleet_status *s, struct sluice_strbuf *sb)
{
	sluice_strbuf_printf(sb, "{\"name\":");
	sluice_strbuf_json_string(sb, s->name);
	sluice_strbuf_printf(sb, ",\"group\":");
	sluice_strbuf_json_string(sb, s->group);
	sluice_strbuf_printf(sb, ",\"main\":");
	slot_format(&s->slot[0], sb);
	sluice_strbuf_printf(sb, ",\"urgent\":");
	slot_format(&s->slot[1], sb);
	sluice_strbuf_printf(sb, ",\"last_refusal\":");
	if (s->has_refusal) {
		sluice_strbuf_printf(sb, "{\"slot\":\"%s\",\"sha256\":\"%s\",\"version\":",
				     s->refused_slot, s->refused_sha);
		sluice_strbuf_json_string(sb, s->refused_version);
		sluice_strbuf_printf(sb, ",\"reason\":");
		sluice_strbuf_json_string(sb, s->refused_reason);
		sluice_strbuf_printf(sb, ",\"time_ns\":%" PRIu64 "}", s->refused_ns);
	} else {
		sluice_strbuf_printf(sb, "null");
	}
	sluice_strbuf_printf(
	    sb,
	    ",\"refusals\":%" PRIu64 ",\"scan_errors\":%" PRIu64 ",\"stalls\":%" PRIu64
	    ",\"updated_ns\":%" PRIu64 ",\"boot_ns\":%" PRIu64 ",\"heartbeat_ms\":%u}",
	    s->refusals, s->scan_errors, s->stalls, s->updated_ns, s->boot_ns, s->heartbeat_ms);
}

/* A text field, cut to cap and made valid UTF-8 ('?' for a stray byte,
 * utf8.h): what format writes back is then what was read. */
static void str_field(char *dst, size_t cap, const struct sluice_json *o, const char *key)
{
	snprintf(dst, cap, "%s", sluice_json_str(o, key, ""));
	sluice_utf8_repair((uint8_t *)dst, strlen(dst));
}

static void slot_parse(const struct sluice_json *o, struct sluice_fleet_slot_state *st)
{
	memset(st, 0, sizeof(*st));
	if (o == NULL || o->type != SLUICE_JSON_OBJECT)
		return;
	str_field(st->name, sizeof(st->name), o, "name");
	str_field(st->version, sizeof(st->version), o, "version");
	str_field(st->pack_sha, sizeof(st->pack_sha), o, "pack_sha");
	str_field(st->file_sha, sizeof(st->file_sha), o, "file_sha");
	str_field(st->target_sha, sizeof(st->target_sha), o, "target_sha");
	str_field(st->result, sizeof(st->result), o, "result");
	str_field(st->reason, sizeof(st->reason), o, "reason");
	st->target_rev = num_field(o, "target_rev");
}

int sluice_fleet_status_parse(const char *json, size_t len, struct sluice_fleet_status *s,
			      char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	struct sluice_json *doc = parse_value(json, len);
	if (doc == NULL || doc->type != SLUICE_JSON_OBJECT ||
	    !sluice_fleet_name_ok(sluice_json_str(doc, "name", ""))) {
		snprintf(err, err_len, "bad gateway status: not an object with a name");
		sluice_json_free(doc);
		return -1;
	}
	str_field(s->name, sizeof(s->name), doc, "name");
	str_field(s->group, sizeof(s->group), doc, "group");
	slot_parse(sluice_json_get(doc, "main"), &s->slot[0]);
	slot_parse(sluice_json_get(doc, "urgent"), &s->slot[1]);
	const struct sluice_json *r = sluice_json_get(doc, "last_refusal");
	if (r != NULL && r->type == SLUICE_JSON_OBJECT) {
		s->has_refusal = true;
		str_field(s->refused_slot, sizeof(s->refused_slot), r, "slot");
		str_field(s->refused_sha, sizeof(s->refused_sha), r, "sha256");
		str_field(s->refused_version, sizeof(s->refused_version), r, "version");
		str_field(s->refused_reason, sizeof(s->refused_reason), r, "reason");
		s->refused_ns = num_field(r, "time_ns");
	}
	s->refusals = num_field(doc, "refusals");
	s->scan_errors = num_field(doc, "scan_errors");
	s->stalls = num_field(doc, "stalls");
	s->updated_ns = num_field(doc, "updated_ns");
	s->boot_ns = num_field(doc, "boot_ns");
	s->heartbeat_ms = (unsigned)num_field(doc, "heartbeat_ms");
	sluice_json_free(doc);
	return 0;
}

int sluice_fleet_put_status(struct sluice_fleet *f, const struct sluice_fleet_status *s, char *err,
			    size_t err_len)
{
	char key[KEY_MAX];
	snprintf(key, sizeof(key), "gw.%s", s->name);
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_fleet_status_format(s, &sb);
	int rc = sb.failed ? -1 : kv_put(f->status, key, sb.data, sb.len, err, err_len);
	if (sb.failed)
		snprintf(err, err_len, "out of memory");
	sluice_strbuf_free(&sb);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	const struct sluice_fleet_status *x = a, *y = b;
	int c = strcmp(x->group, y->group);
	return c != 0 ? c : strcmp(x->name, y->name);
}

struct status_list {
	struct sluice_fleet_status *out;
	size_t count, cap, bad;
};

static int take_status(kvEntry *e, void *ctx, char *err, size_t err_len)
{
	struct status_list *l = ctx;
	if (grow((void **)&l->out, &l->cap, l->count, sizeof(*l->out), err, err_len) != 0)
		return -1;
	char why[256];
	if (sluice_fleet_status_parse(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e),
				      &l->out[l->count], why, sizeof(why)) == 0)
		l->count++;
	else
		l->bad++;
	return 0;
}

int sluice_fleet_list_status(struct sluice_fleet *f, struct sluice_fleet_status **out,
			     size_t *count, size_t *bad, char *err, size_t err_len)
{
	struct status_list l = {0};
	int rc = each_current(f, f->status, "gw.", "gateway status", take_status, &l, err, err_len);
	if (rc != 0) {
		free(l.out);
		l.out = NULL;
		l.count = l.bad = 0;
	}
	*out = l.out;
	*count = sluice_fleet_status_unique(l.out, l.count);
	if (bad != NULL)
		*bad = l.bad;
	return rc;
}

/* By gateway name, the latest update first. */
static int by_gateway_latest(const void *a, const void *b)
{
	const struct sluice_fleet_status *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return x->updated_ns > y->updated_ns ? -1 : x->updated_ns < y->updated_ns;
}

size_t sluice_fleet_status_unique(struct sluice_fleet_status *s, size_t n)
{
	if (n < 2)
		return n;
	qsort(s, n, sizeof(*s), by_gateway_latest);
	size_t kept = 1;
	for (size_t i = 1; i < n; i++)
		if (strcmp(s[i].name, s[kept - 1].name) != 0)
			s[kept++] = s[i];
	qsort(s, kept, sizeof(*s), by_name);
	return kept;
}

bool sluice_fleet_status_stale(const struct sluice_fleet_status *s, uint64_t now_ns)
{
	uint64_t hb = s->heartbeat_ms ? s->heartbeat_ms : SLUICE_FLEET_HEARTBEAT_MS;
	return now_ns > s->updated_ns && now_ns - s->updated_ns > 3 * hb * 1000000ull;
}

/* ---- watching a group's targets ---- */

int sluice_fleet_watch_open(struct sluice_fleet *f, const char *group, char *err, size_t err_len)
{
	char keys[KEY_MAX];
	snprintf(keys, sizeof(keys), "target.*.%s", group);
	sluice_fleet_watch_close(f);
	kvWatchOptions o;
	kvWatchOptions_Init(&o);
	o.IgnoreDeletes = true;
	natsStatus s = kvStore_Watch(&f->watch, f->packs, keys, &o);
	if (s != NATS_OK) {
		f->watch = NULL;
		snprintf(err, err_len, "watching %s: %s", keys, sluice_nats_reason(s));
		return -1;
	}
	return 0;
}

int sluice_fleet_watch_next(struct sluice_fleet *f, int timeout_ms, struct sluice_fleet_target *t,
			    char *err, size_t err_len)
{
	if (f->watch == NULL) {
		snprintf(err, err_len, "not watching");
		return -1;
	}
	for (;;) {
		kvEntry *e = NULL;
		natsStatus s = kvWatcher_Next(&e, f->watch, timeout_ms);
		if (s == NATS_TIMEOUT)
			return 0;
		if (s != NATS_OK) {
			snprintf(err, err_len, "watch: %s", sluice_nats_reason(s));
			return -1;
		}
		if (e == NULL) /* the marker after the current values */
			continue;
		if (kvEntry_Operation(e) != kvOp_Put) {
			kvEntry_Destroy(e);
			continue;
		}
		int rc = entry_target(e, t, err, err_len);
		kvEntry_Destroy(e);
		return rc == 0 ? 1 : -2;
	}
}

void sluice_fleet_watch_close(struct sluice_fleet *f)
{
	if (f != NULL && f->watch != NULL) {
		kvWatcher_Destroy(f->watch);
		f->watch = NULL;
	}
}

/* Whether sha is among the n names of keep. */
static bool kept(char (*keep)[65], size_t n, const char *sha, size_t sha_len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(keep[i]) == sha_len && memcmp(keep[i], sha, sha_len) == 0)
			return true;
	return false;
}

int sluice_fleet_prune(struct sluice_fleet *f, bool dry_run, unsigned *packs, unsigned *chunks,
		       char *err, size_t err_len)
{
	*packs = *chunks = 0;
	struct sluice_fleet_target *ts = NULL;
	struct sluice_fleet_status *gw = NULL;
	size_t nt = 0, ng = 0;
	if (sluice_fleet_list_targets(f, NULL, &ts, &nt, err, err_len) != 0)
		return -1;
	if (sluice_fleet_list_status(f, &gw, &ng, NULL, err, err_len) != 0) {
		free(ts);
		return -1;
	}
	/* What a target, a rollback or a running gateway may still fetch. */
	size_t cap = 2 * nt + SLUICE_FLEET_SLOTS * ng + 1, nk = 0;
	char(*keep)[65] = calloc(cap, sizeof(*keep));
	if (keep == NULL) {
		free(ts);
		free(gw);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nt; i++) {
		memcpy(keep[nk++], ts[i].pack.sha256, 65);
		if (ts[i].has_previous)
			memcpy(keep[nk++], ts[i].previous.sha256, 65);
	}
	for (size_t i = 0; i < ng; i++)
		for (unsigned s = 0; s < SLUICE_FLEET_SLOTS; s++)
			if (gw[i].slot[s].file_sha[0] != '\0')
				memcpy(keep[nk++], gw[i].slot[s].file_sha, 65);
	free(ts);
	free(gw);
	kvKeysList list;
	if (keys_with(f->packs, &list, err, err_len) != 0) {
		free(keep);
		return -1;
	}
	int rc = 0;
	/* Keys come in no promised order: the packs removed are counted by
	 * name, in their own list. */
	char(*gone)[65] = calloc((size_t)list.Count + 1, sizeof(*gone));
	if (gone == NULL) {
		snprintf(err, err_len, "out of memory");
		rc = -1;
	}
	for (int i = 0; i < list.Count && rc == 0; i++) {
		const char *k = list.Keys[i];
		if (strncmp(k, "blob.", 5) != 0)
			continue;
		const char *sha = k + 5, *dot = strchr(sha, '.');
		size_t len = dot != NULL ? (size_t)(dot - sha) : 0;
		if (len != 64 || kept(keep, nk, sha, len))
			continue;
		if (!kept(gone, *packs, sha, len)) {
			memcpy(gone[*packs], sha, 64);
			gone[(*packs)++][64] = '\0';
		}
		(*chunks)++;
		if (!dry_run)
			rc = sluice_fleet_raw_delete(f, k, err, err_len);
	}
	kvKeysList_Destroy(&list);
	free(gone);
	free(keep);
	return rc;
}

/* Whether ref is what `which` names: its version, or a prefix of its hash. */
static bool names(const struct sluice_fleet_pack_ref *ref, const char *which)
{
	size_t n = strlen(which);
	bool hex = n >= 6 && n <= 64 && strspn(which, "0123456789abcdef") == n;
	return strcmp(ref->version, which) == 0 || (hex && strncmp(ref->sha256, which, n) == 0);
}

int sluice_fleet_find_in_history(struct sluice_fleet *f, const char *slot, const char *group,
				 const char *which, struct sluice_fleet_pack_ref *out, char *err,
				 size_t err_len)
{
	char key[KEY_MAX];
	target_key(key, sizeof(key), slot, group);
	kvEntryList list = {0};
	natsStatus s = kvStore_History(&list, f->packs, key, NULL);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK) {
		snprintf(err, err_len, "history of %s: %s", key, sluice_nats_reason(s));
		return -1;
	}
	int found = 0;
	for (int i = list.Count - 1; i >= 0 && !found; i--) {
		struct sluice_fleet_target t;
		char why[256];
		if (kvEntry_Operation(list.Entries[i]) != kvOp_Put ||
		    entry_target(list.Entries[i], &t, why, sizeof(why)) != 0)
			continue;
		if (names(&t.pack, which)) {
			*out = t.pack;
			found = 1;
		} else if (t.has_previous && names(&t.previous, which)) {
			*out = t.previous;
			found = 1;
		}
	}
	kvEntryList_Destroy(&list);
	return found;
}

#include "fleet_watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "file_read.h"

/* How often the watcher reads its group's targets besides the watch: a
 * change missed while the connection was down is picked up by then. */
#define RESYNC_MS	 5000
#define RECONNECT_MS	 1000
#define WATCH_NEXT_MS	 20 /* also how soon a load's outcome is reported */
#define REFRESH_MS	 250
#define MAP_ENTRIES	 16
#define MAX_PACK_BYTES	 ((uint64_t)SLUICE_FLEET_MAX_CHUNKS * SLUICE_FLEET_CHUNK_BYTES)
#define CACHE_PATH_BYTES (PATH_MAX + 128)

struct pending {
	bool set;
	struct sluice_fleet_target t;
	char path[CACHE_PATH_BYTES];
};

/* Which fleet pack file a pack in the registry came from (its body hash). */
struct file_of {
	char pack_sha[65], file_sha[65];
};

struct sluice_fleet_watch {
	char *servers, *bucket, *cache_dir;
	struct sluice_nats_security security; /* paths owned by the daemon's options */
	unsigned heartbeat_ms;
	unsigned replicas;
	pthread_t thread;
	bool thread_started;

	/* Shared between the watcher and the control thread. */
	pthread_mutex_t lock;
	bool stop;
	bool dirty;	/* the status changed: write it now */
	bool connected; /* to the pack source, as the watcher last saw it */
	struct pending pending[SLUICE_FLEET_SLOTS];
	struct sluice_fleet_status st;

	/* Control thread only. */
	struct file_of map[MAP_ENTRIES];
	unsigned map_next;
	double refreshed_ms;

	/* Watcher only. */
	uint64_t handled_rev[SLUICE_FLEET_SLOTS];
};

static const char *const slot_names[SLUICE_FLEET_SLOTS] = {"main", "urgent"};

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static bool stopping(struct sluice_fleet_watch *fw)
{
	pthread_mutex_lock(&fw->lock);
	bool s = fw->stop;
	pthread_mutex_unlock(&fw->lock);
	return s;
}

/* Sleeps up to ms, waking early for a stop. */
static void pause_ms(struct sluice_fleet_watch *fw, unsigned ms)
{
	for (unsigned t = 0; t < ms && !stopping(fw); t += 50)
		sleep_ms(50);
}

/* Under the lock: a target in slot s was refused for reason. */
static void refuse_locked(struct sluice_fleet_watch *fw, int s, const struct sluice_fleet_target *t,
			  const char *reason)
{
	struct sluice_fleet_status *st = &fw->st;
	struct sluice_fleet_slot_state *ss = &st->slot[s];
	ss->target_rev = t->revision;
	snprintf(ss->target_sha, sizeof(ss->target_sha), "%s", t->pack.sha256);
	snprintf(ss->result, sizeof(ss->result), "refused");
	snprintf(ss->reason, sizeof(ss->reason), "%s", reason);
	st->has_refusal = true;
	snprintf(st->refused_slot, sizeof(st->refused_slot), "%s", slot_names[s]);
	snprintf(st->refused_sha, sizeof(st->refused_sha), "%s", t->pack.sha256);
	snprintf(st->refused_version, sizeof(st->refused_version), "%s", t->pack.version);
	snprintf(st->refused_reason, sizeof(st->refused_reason), "%s", reason);
	st->refused_ns = sluice_realtime_ns();
	st->refusals++;
	fw->dirty = true;
}

static void refuse(struct sluice_fleet_watch *fw, int s, const struct sluice_fleet_target *t,
		   const char *reason)
{
	pthread_mutex_lock(&fw->lock);
	refuse_locked(fw, s, t, reason);
	pthread_mutex_unlock(&fw->lock);
	fprintf(stderr, "sluice: fleet: %s target %s (rev %" PRIu64 ") refused: %s\n",
		slot_names[s], t->pack.version, t->revision, reason);
}

static void cache_path(const struct sluice_fleet_watch *fw, char *out, size_t cap, int s,
		       const char *sha)
{
	snprintf(out, cap, "%s/%s-%s.pack", fw->cache_dir, slot_names[s], sha);
}

/* Writes data to path by way of a temporary file and a rename, so that the
 * control thread never reads a pack half written. */
static int write_file_atomic(const char *path, const uint8_t *data, size_t len,
			     pthread_mutex_t *rename_lock, char *err, size_t err_len)
{
	char tmp[CACHE_PATH_BYTES + 16];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, err_len, "cache %.700s: %s", tmp, strerror(errno));
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, err_len, "cache %.700s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		snprintf(err, err_len, "cache %.700s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename_lock != NULL)
		pthread_mutex_lock(rename_lock);
	/* With rename_lock held the caller publishes the path in the same
	 * critical section, so the cache's pruning never sees the file
	 * unclaimed. */
	if (rename(tmp, path) != 0) {
		snprintf(err, err_len, "cache %.700s: %s", path, strerror(errno));
		if (rename_lock != NULL)
			pthread_mutex_unlock(rename_lock);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Watcher: a new target for this gateway's group. */
static void handle_target(struct sluice_fleet_watch *fw, struct sluice_fleet *f,
			  const struct sluice_fleet_target *t)
{
	int s = sluice_fleet_slot_index(t->slot);
	if (s < 0 || t->revision <= fw->handled_rev[s])
		return;
	uint64_t previous_rev = fw->handled_rev[s];
	fw->handled_rev[s] = t->revision;
	pthread_mutex_lock(&fw->lock);
	struct sluice_fleet_slot_state *ss = &fw->st.slot[s];
	ss->target_rev = t->revision;
	snprintf(ss->target_sha, sizeof(ss->target_sha), "%s", t->pack.sha256);
	snprintf(ss->result, sizeof(ss->result), "fetching");
	ss->reason[0] = '\0';
	fw->dirty = true;
	pthread_mutex_unlock(&fw->lock);

	char err[1024], path[CACHE_PATH_BYTES];
	uint8_t *data = NULL;
	cache_path(fw, path, sizeof(path), s, t->pack.sha256);
	int got = sluice_fleet_get_pack(f, &t->pack, &data, err, sizeof(err));
	if (got == -2) {
		/* The bus failed, not the pack: not a refusal. The next resync
		 * (RESYNC_MS) or the watch tries this target again. */
		fw->handled_rev[s] = previous_rev;
		pthread_mutex_lock(&fw->lock);
		snprintf(ss->reason, sizeof(ss->reason), "fetch failed, trying again: %.400s", err);
		fw->dirty = true;
		pthread_mutex_unlock(&fw->lock);
		return;
	}
	if (got != 0) {
		refuse(fw, s, t, err);
		return;
	}
	/* On success the lock is held: the path is claimed before it exists
	 * for the pruning. */
	int rc = write_file_atomic(path, data, t->pack.size, &fw->lock, err, sizeof(err));
	free(data);
	if (rc != 0) {
		refuse(fw, s, t, err);
		return;
	}
	fw->pending[s].set = true;
	fw->pending[s].t = *t;
	snprintf(fw->pending[s].path, sizeof(fw->pending[s].path), "%s", path);
	pthread_mutex_unlock(&fw->lock);
}

static void heartbeat(struct sluice_fleet_watch *fw, struct sluice_fleet *f)
{
	struct sluice_fleet_status copy;
	char err[512];
	pthread_mutex_lock(&fw->lock);
	fw->st.updated_ns = sluice_realtime_ns();
	fw->st.connected_once = true;
	copy = fw->st;
	fw->dirty = false;
	pthread_mutex_unlock(&fw->lock);
	if (sluice_fleet_put_status(f, &copy, err, sizeof(err)) != 0) {
		pthread_mutex_lock(&fw->lock);
		fw->dirty = true; /* again at the next turn */
		pthread_mutex_unlock(&fw->lock);
	}
}

static void resync(struct sluice_fleet_watch *fw, struct sluice_fleet *f, const char *group)
{
	for (int s = 0; s < SLUICE_FLEET_SLOTS; s++) {
		struct sluice_fleet_target t = {0};
		char err[1024] = "";
		int rc = sluice_fleet_get_target(f, slot_names[s], group, &t, err, sizeof(err));
		if (rc == 1)
			handle_target(fw, f, &t);
		else if (rc < 0 && strstr(err, "bad manifest") != NULL &&
			 t.revision > fw->handled_rev[s]) {
			fw->handled_rev[s] = t.revision;
			refuse(fw, s, &t, err);
		}
	}
}

static void *watcher_main(void *arg)
{
	struct sluice_fleet_watch *fw = arg;
	struct sluice_fleet *f = NULL;
	bool watching = false;
	double next_resync = 0, next_beat = 0;
	char err[1024], last_err[1024] = "";
	char group[SLUICE_FLEET_NAME];
	pthread_mutex_lock(&fw->lock);
	snprintf(group, sizeof(group), "%s", fw->st.group);
	pthread_mutex_unlock(&fw->lock);

	while (!stopping(fw)) {
		if (f == NULL) {
			f = sluice_fleet_open(fw->servers, &fw->security, fw->bucket, fw->replicas,
					      1000, err, sizeof(err));
			if (f == NULL) {
				/* Said once per kind of failure, not every second. */
				if (strcmp(err, last_err) != 0)
					fprintf(stderr,
						"sluice: fleet: pack source not reachable (%s); "
						"running the packs in force, trying again\n",
						err);
				snprintf(last_err, sizeof(last_err), "%s", err);
				pause_ms(fw, RECONNECT_MS);
				continue;
			}
			last_err[0] = '\0';
			watching = false;
			next_resync = 0;
			next_beat = 0;
		}
		if (!watching) {
			watching = sluice_fleet_watch_open(f, group, err, sizeof(err)) == 0;
			if (!watching) {
				pause_ms(fw, 500);
				if (!sluice_fleet_connected(f) && stopping(fw))
					break;
			}
		}
		if (watching) {
			struct sluice_fleet_target t;
			int rc = sluice_fleet_watch_next(f, WATCH_NEXT_MS, &t, err, sizeof(err));
			if (rc == 1) {
				handle_target(fw, f, &t);
			} else if (rc == -2) {
				int s = sluice_fleet_slot_index(t.slot);
				if (s >= 0 && t.revision > fw->handled_rev[s]) {
					fw->handled_rev[s] = t.revision;
					refuse(fw, s, &t, err);
				}
			} else if (rc == -1) {
				sluice_fleet_watch_close(f);
				watching = false;
			}
		}
		double now = sluice_mono_ms();
		pthread_mutex_lock(&fw->lock);
		fw->connected = sluice_fleet_connected(f);
		pthread_mutex_unlock(&fw->lock);
		if (now >= next_resync && sluice_fleet_connected(f)) {
			resync(fw, f, group);
			next_resync = now + RESYNC_MS;
		}
		pthread_mutex_lock(&fw->lock);
		bool dirty = fw->dirty;
		pthread_mutex_unlock(&fw->lock);
		if ((dirty || now >= next_beat) && sluice_fleet_connected(f)) {
			heartbeat(fw, f);
			next_beat = now + fw->heartbeat_ms;
		}
	}
	if (f != NULL && sluice_fleet_connected(f))
		heartbeat(fw, f);
	sluice_fleet_close(f);
	return NULL;
}

static int make_dirs(const char *dir, char *err, size_t err_len)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		snprintf(err, err_len, "--pack-cache: path too long");
		return -1;
	}
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			snprintf(err, err_len, "--pack-cache %s: %s: %s", dir, path,
				 strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(path, 0750) != 0 && errno != EEXIST) {
		snprintf(err, err_len, "--pack-cache %s: %s", dir, strerror(errno));
		return -1;
	}
	if (access(path, W_OK | X_OK) != 0) {
		snprintf(err, err_len, "--pack-cache %s: not writable: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

struct sluice_fleet_watch *sluice_fleet_watch_start(const struct sluice_fleet_watch_config *cfg,
						    char *err, size_t err_len)
{
	if (!sluice_fleet_name_ok(cfg->gateway)) {
		snprintf(err, err_len,
			 "--gateway-name '%s': 1 to 63 of A-Z a-z 0-9 _ - (it is a key in the "
			 "status bucket)",
			 cfg->gateway ? cfg->gateway : "");
		return NULL;
	}
	if (!sluice_fleet_name_ok(cfg->group)) {
		snprintf(err, err_len, "--fleet-group '%s': 1 to 63 of A-Z a-z 0-9 _ -",
			 cfg->group ? cfg->group : "");
		return NULL;
	}
	if (make_dirs(cfg->cache_dir, err, err_len) != 0)
		return NULL;
	struct sluice_fleet_watch *fw = calloc(1, sizeof(*fw));
	if (fw == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	fw->servers = strdup(cfg->servers);
	fw->security = cfg->security;
	fw->bucket = strdup(cfg->bucket ? cfg->bucket : SLUICE_FLEET_BUCKET);
	fw->cache_dir = strdup(cfg->cache_dir);
	fw->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : SLUICE_FLEET_HEARTBEAT_MS;
	fw->replicas = cfg->replicas;
	pthread_mutex_init(&fw->lock, NULL);
	snprintf(fw->st.name, sizeof(fw->st.name), "%s", cfg->gateway);
	snprintf(fw->st.group, sizeof(fw->st.group), "%s", cfg->group);
	fw->st.boot_ns = sluice_realtime_ns();
	fw->st.heartbeat_ms = fw->heartbeat_ms;
	fw->refreshed_ms = -1e9;
	if (fw->servers == NULL || fw->bucket == NULL || fw->cache_dir == NULL) {
		snprintf(err, err_len, "out of memory");
		sluice_fleet_watch_stop(fw);
		return NULL;
	}
	return fw;
}

/* The thread starts with the first poll, once the packs at start are in
 * place, so that the first status already names them. */
static void start_thread(struct sluice_fleet_watch *fw)
{
	if (fw->thread_started)
		return;
	if (pthread_create(&fw->thread, NULL, watcher_main, fw) == 0)
		fw->thread_started = true;
	else
		fprintf(stderr, "sluice: fleet: cannot start the watcher thread\n");
}

static void remember(struct sluice_fleet_watch *fw, const char *pack_sha, const char *file_sha)
{
	struct file_of *m = &fw->map[fw->map_next++ % MAP_ENTRIES];
	snprintf(m->pack_sha, sizeof(m->pack_sha), "%s", pack_sha);
	snprintf(m->file_sha, sizeof(m->file_sha), "%s", file_sha);
}

static const char *file_of(const struct sluice_fleet_watch *fw, const char *pack_sha)
{
	for (unsigned i = 0; i < MAP_ENTRIES; i++)
		if (fw->map[i].pack_sha[0] != '\0' && strcmp(fw->map[i].pack_sha, pack_sha) == 0)
			return fw->map[i].file_sha;
	return "";
}

static const struct sluice_pack *slot_pack(struct sluice_registry *reg, int s)
{
	const struct sluice_generation *gen = sluice_registry_current(reg);
	return gen != NULL ? gen->slot[s].pack : NULL;
}

/* Keeps only the pack in force among the slot's cached files, and names it
 * in SLOT.last for the next start. Older fetched packs are not needed: the
 * registry keeps what a local rollback needs in memory, and the bus keeps
 * every pack's chunks for a fleet rollback. */
static void cache_settle(struct sluice_fleet_watch *fw, int s, const char *path)
{
	char last[CACHE_PATH_BYTES], err[256], prefix[16];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(last, sizeof(last), "%s/%s.last", fw->cache_dir, slot_names[s]);
	if (write_file_atomic(last, (const uint8_t *)base, strlen(base), NULL, err, sizeof(err)) !=
	    0)
		fprintf(stderr, "sluice: fleet: %s\n", err);
	snprintf(prefix, sizeof(prefix), "%s-", slot_names[s]);
	pthread_mutex_lock(&fw->lock);
	DIR *d = opendir(fw->cache_dir);
	if (d == NULL) {
		pthread_mutex_unlock(&fw->lock);
		return;
	}
	const char *claimed = fw->pending[s].set ? strrchr(fw->pending[s].path, '/') : NULL;
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || n < 5 ||
		    strcmp(e->d_name + n - 5, ".pack") != 0 || strcmp(e->d_name, base) == 0 ||
		    (claimed != NULL && strcmp(e->d_name, claimed + 1) == 0))
			continue;
		char old[CACHE_PATH_BYTES];
		snprintf(old, sizeof(old), "%s/%s", fw->cache_dir, e->d_name);
		unlink(old);
	}
	closedir(d);
	pthread_mutex_unlock(&fw->lock);
}

static void load_pending(struct sluice_fleet_watch *fw, struct sluice_registry *reg, int s,
			 const struct pending *p)
{
	static const struct sluice_actor fleet = {.kind = SLUICE_ACTOR_FLEET};
	char err[1024] = "";
	const struct sluice_pack *now = slot_pack(reg, s);
	bool ok;
	if (now != NULL && strcmp(file_of(fw, now->sha256_hex), p->t.pack.sha256) == 0) {
		ok = true; /* already in force (a restart from the cache, a resync) */
	} else {
		struct sluice_swap_report rep;
		ok = sluice_registry_load_slot(reg, (enum sluice_slot)s, p->path, &fleet, &rep, err,
					       sizeof(err)) == 0;
		if (ok) {
			now = slot_pack(reg, s);
			remember(fw, now->sha256_hex, p->t.pack.sha256);
			cache_settle(fw, s, p->path);
			fprintf(stderr,
				"sluice: fleet: %s slot: %s %s in force (target rev %" PRIu64
				", was %s)\n",
				slot_names[s], now->name, now->version, p->t.revision,
				rep.previous_version[0] ? rep.previous_version : "empty");
		} else {
			unlink(p->path);
			/* The registry names the file; the cache path says nothing
			 * the status does not. */
			size_t n = strlen(p->path);
			if (strncmp(err, p->path, n) == 0 && strncmp(err + n, ": ", 2) == 0)
				memmove(err, err + n + 2, strlen(err + n + 2) + 1);
		}
	}
	pthread_mutex_lock(&fw->lock);
	if (ok) {
		struct sluice_fleet_slot_state *ss = &fw->st.slot[s];
		ss->target_rev = p->t.revision;
		snprintf(ss->target_sha, sizeof(ss->target_sha), "%s", p->t.pack.sha256);
		snprintf(ss->result, sizeof(ss->result), "ok");
		ss->reason[0] = '\0';
		fw->dirty = true;
	} else {
		refuse_locked(fw, s, &p->t, err);
	}
	fw->refreshed_ms = -1e9; /* report the packs in force now */
	pthread_mutex_unlock(&fw->lock);
	if (!ok)
		fprintf(stderr, "sluice: fleet: %s target %s refused: %s\n", slot_names[s],
			p->t.pack.version, err);
}

/* The pack in force, from src; the target fields of dst stay. */
static void copy_running(struct sluice_fleet_slot_state *dst,
			 const struct sluice_fleet_slot_state *src)
{
	/* Precisions: the fields have the same sizes. */
	snprintf(dst->name, sizeof(dst->name), "%.127s", src->name);
	snprintf(dst->version, sizeof(dst->version), "%.127s", src->version);
	snprintf(dst->pack_sha, sizeof(dst->pack_sha), "%.64s", src->pack_sha);
	snprintf(dst->file_sha, sizeof(dst->file_sha), "%.64s", src->file_sha);
}

static void refresh(struct sluice_fleet_watch *fw, struct sluice_control *ctl)
{
	struct sluice_fleet_slot_state run[SLUICE_FLEET_SLOTS];
	for (int s = 0; s < SLUICE_FLEET_SLOTS; s++) {
		const struct sluice_pack *p = slot_pack(ctl->registry, s);
		snprintf(run[s].name, sizeof(run[s].name), "%s", p ? p->name : "");
		snprintf(run[s].version, sizeof(run[s].version), "%s", p ? p->version : "");
		snprintf(run[s].pack_sha, sizeof(run[s].pack_sha), "%s", p ? p->sha256_hex : "");
		snprintf(run[s].file_sha, sizeof(run[s].file_sha), "%s",
			 p ? file_of(fw, p->sha256_hex) : "");
	}
	uint64_t scan_errors = 0;
	for (unsigned w = 0; w < ctl->worker_count; w++)
		scan_errors +=
		    __atomic_load_n(&ctl->stats[w]->bad[SLUICE_BAD_SCAN_ERROR], __ATOMIC_RELAXED);
	pthread_mutex_lock(&fw->lock);
	for (int s = 0; s < SLUICE_FLEET_SLOTS; s++) {
		struct sluice_fleet_slot_state *ss = &fw->st.slot[s];
		if (strcmp(ss->pack_sha, run[s].pack_sha) != 0 ||
		    strcmp(ss->file_sha, run[s].file_sha) != 0)
			fw->dirty = true;
		copy_running(ss, &run[s]);
	}
	if (scan_errors != fw->st.scan_errors || ctl->stalls != fw->st.stalls)
		fw->dirty = true;
	fw->st.scan_errors = scan_errors;
	fw->st.stalls = ctl->stalls;
	pthread_mutex_unlock(&fw->lock);
}

void sluice_fleet_watch_poll(struct sluice_fleet_watch *fw, struct sluice_control *ctl)
{
	if (fw == NULL)
		return;
	struct pending todo[SLUICE_FLEET_SLOTS];
	pthread_mutex_lock(&fw->lock);
	for (int s = 0; s < SLUICE_FLEET_SLOTS; s++) {
		todo[s] = fw->pending[s];
		fw->pending[s].set = false;
	}
	pthread_mutex_unlock(&fw->lock);
	for (int s = 0; s < SLUICE_FLEET_SLOTS; s++)
		if (todo[s].set)
			load_pending(fw, ctl->registry, s, &todo[s]);
	double now = sluice_mono_ms();
	if (now - fw->refreshed_ms >= REFRESH_MS) {
		refresh(fw, ctl);
		fw->refreshed_ms = now;
	}
	start_thread(fw);
}

void sluice_fleet_watch_load_cache(struct sluice_fleet_watch *fw, struct sluice_registry *reg)
{
	static const struct sluice_actor fleet = {.kind = SLUICE_ACTOR_FLEET};
	for (int s = 0; s < SLUICE_FLEET_SLOTS; s++) {
		char last[CACHE_PATH_BYTES], path[CACHE_PATH_BYTES], why[256], err[1024];
		char *name = NULL;
		size_t len = 0;
		snprintf(last, sizeof(last), "%s/%s.last", fw->cache_dir, slot_names[s]);
		if (access(last, F_OK) != 0)
			continue;
		if (sluice_file_read_all(last, 1024, "cache index", &name, &len, why,
					 sizeof(why)) != 0 ||
		    strchr(name, '/') != NULL || len == 0) {
			fprintf(stderr, "sluice: fleet: %s: unusable (%s); ignored\n", last,
				name ? "not a file name" : why);
			free(name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", fw->cache_dir, name);
		free(name);
		char *data = NULL;
		if (sluice_file_read_all(path, MAX_PACK_BYTES, "pack", &data, &len, why,
					 sizeof(why)) != 0) {
			fprintf(stderr,
				"sluice: fleet: cached %s pack %s: %s; the local pack stays\n",
				slot_names[s], path, why);
			continue;
		}
		char file_sha[65];
		sluice_fleet_sha256((const uint8_t *)data, len, file_sha);
		free(data);
		struct sluice_swap_report rep;
		if (sluice_registry_load_slot(reg, (enum sluice_slot)s, path, &fleet, &rep, err,
					      sizeof(err)) != 0) {
			fprintf(stderr,
				"sluice: fleet: cached %s pack refused: %s; the local pack stays\n",
				slot_names[s], err);
			continue;
		}
		const struct sluice_pack *p = slot_pack(reg, s);
		remember(fw, p->sha256_hex, file_sha);
		fprintf(stderr, "sluice: fleet: %s slot: %s %s from the cache (%s)\n",
			slot_names[s], p->name, p->version, path);
	}
}

void sluice_fleet_watch_status(struct sluice_fleet_watch *fw, struct sluice_fleet_status *out)
{
	pthread_mutex_lock(&fw->lock);
	*out = fw->st;
	pthread_mutex_unlock(&fw->lock);
}

bool sluice_fleet_watch_connected(struct sluice_fleet_watch *fw)
{
	pthread_mutex_lock(&fw->lock);
	bool c = fw->connected;
	pthread_mutex_unlock(&fw->lock);
	return c;
}

void sluice_fleet_watch_stop(struct sluice_fleet_watch *fw)
{
	if (fw == NULL)
		return;
	pthread_mutex_lock(&fw->lock);
	fw->stop = true;
	pthread_mutex_unlock(&fw->lock);
	if (fw->thread_started)
		pthread_join(fw->thread, NULL);
	pthread_mutex_destroy(&fw->lock);
	free(fw->servers);
	free(fw->bucket);
	free(fw->cache_dir);
	free(fw);
}

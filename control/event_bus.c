#include "event_bus.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "clock.h"
#include "event_spool.h"
#include "nats_connect.h"

_Static_assert(SLUICE_EVENT_SPOOL_RECORD_MAX ==
		   SLUICE_EVENT_BUS_SUBJECT + SLUICE_EVENT_BUS_MSG_ID + 4096,
	       "a spool record holds a subject, a message id and an event's line");
/* A put that finds the window full waits this long for acks at most: the
 * control thread also serves clients and drains the rings. */
#define ROOM_WAIT_MS	5
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	1000
#define STREAM_RETRY_MS 1000

enum entry_state {
	E_WAIT,	  /* not yet published, or to publish again */
	E_FLIGHT, /* published, no answer yet */
	E_ACKED,
};

struct entry {
	char *data; /* subject, NUL, message id, NUL, body */
	const char *msg_id, *body;
	size_t len;
	unsigned worker;
	uint64_t seq;
	uint64_t spool_end; /* from the spool: the offset past its record; 0: live */
	natsMsg *msg;	    /* the attempt in flight: how its ack finds it */
	double sent_ms;
	unsigned attempts;
	enum entry_state state;
};

struct result {
	natsMsg *msg;
	bool ok, duplicate;
};

struct sluice_event_bus {
	char *stream, *prefix, *gateway;
	char boot[24];
	unsigned replicas, ack_timeout_ms;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	bool stream_ready;
	double stream_next_try_ms;

	/* Written by cnats' threads, read by the control thread. */
	pthread_mutex_t lock;
	pthread_cond_t answered;
	struct result *results;
	size_t result_count, result_cap;
	uint64_t reconnects;
	char last_error[128];

	/* The window: entries head .. tail-1, oldest first. */
	struct entry *win;
	unsigned cap;
	uint64_t head, tail;
	uint64_t hint;	 /* where the next ack is likely to match */
	uint64_t unsent; /* entries in state E_WAIT */
	bool no_room;	 /* this pass already waited for room in vain */
	bool recovering;
	double retry_at_ms;
	unsigned backoff_ms;

	uint64_t wseq[SLUICE_EVENT_BUS_WORKERS];

	bool spooling; /* false: no spool */
	struct sluice_event_spool spool;

	struct sluice_event_bus_stats st;
};

/* ---- small helpers ---- */

#define BUS_FIELD(field, is_counter, text)                                                         \
	{                                                                                          \
		.name = #field, .help = text, .counter = is_counter,                               \
		.offset = offsetof(struct sluice_event_bus_stats, field)                           \
	}

const struct sluice_event_bus_field sluice_event_bus_fields[] = {
    BUS_FIELD(published, true, "Events published to JetStream for the first time."),
    BUS_FIELD(resent, true, "Publishes again after a failure."),
    BUS_FIELD(acked, true, "Events the stream acknowledged: out of Sluice's custody."),
    BUS_FIELD(duplicates, true, "Acks saying the stream had the event already (a resend)."),
    BUS_FIELD(failures, true, "Publishes that failed or timed out."),
    BUS_FIELD(spooled, true, "Events written to the spool."),
    BUS_FIELD(lost, true,
	      "Events dropped because the spool was full (or there was none and no room)."),
    BUS_FIELD(reconnects, true, "Reconnections to the bus."),
    BUS_FIELD(in_flight, false, "Events published and not yet acknowledged."),
    BUS_FIELD(spool_events, false, "Events waiting in the spool."),
    BUS_FIELD(spool_bytes, false, "Bytes in the spool file."),
};
const size_t sluice_event_bus_field_count =
    sizeof(sluice_event_bus_fields) / sizeof(sluice_event_bus_fields[0]);

static void sanitize_token(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	for (; src != NULL && *src != '\0' && n + 1 < cap; src++) {
		char c = *src;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '-';
		dst[n++] = ok ? c : '_';
	}
	if (n == 0 && cap > 1)
		dst[n++] = '_';
	dst[n] = '\0';
}

static bool can_publish(const struct sluice_event_bus *bus)
{
	return bus->stream_ready && !bus->recovering &&
	       natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
}

static unsigned window_used(const struct sluice_event_bus *bus)
{
	return (unsigned)(bus->tail - bus->head);
}

static struct entry *slot(const struct sluice_event_bus *bus, uint64_t i)
{
	return &bus->win[i % bus->cap];
}

/* ---- cnats' callbacks (its threads) ---- */

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
	struct sluice_event_bus *bus = closure;
	(void)js;
	pthread_mutex_lock(&bus->lock);
	if (bus->result_count == bus->result_cap) {
		size_t cap = bus->result_cap ? bus->result_cap * 2 : 1024;
		struct result *r = realloc(bus->results, cap * sizeof(*r));
		if (r == NULL) {
			/* The entry times out and is sent again. */
			pthread_mutex_unlock(&bus->lock);
			natsMsg_Destroy(msg);
			return;
		}
		bus->results = r;
		bus->result_cap = cap;
	}
	if (pae != NULL)
		snprintf(bus->last_error, sizeof(bus->last_error), "%s",
			 pae->ErrText != NULL && pae->ErrText[0] != '\0'
			     ? pae->ErrText
			     : natsStatus_GetText(pae->Err));
	bus->results[bus->result_count++] = (struct result){
	    .msg = msg, .ok = pa != NULL && pae == NULL, .duplicate = pa != NULL && pa->Duplicate};
	pthread_cond_signal(&bus->answered);
	pthread_mutex_unlock(&bus->lock);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
	struct sluice_event_bus *bus = closure;
	(void)nc;
	pthread_mutex_lock(&bus->lock);
	bus->reconnects++;
	pthread_mutex_unlock(&bus->lock);
}

static void on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

/* ---- the stream ---- */

static void ensure_stream(struct sluice_event_bus *bus)
{
	double now = sluice_mono_ms();
	if (bus->stream_ready || now < bus->stream_next_try_ms ||
	    natsConnection_Status(bus->nc) != NATS_CONN_STATUS_CONNECTED)
		return;
	/* Bounded by the context's Wait (1 s); only until the stream is found. */
	bus->stream_next_try_ms = now + STREAM_RETRY_MS;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, bus->js, bus->stream, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		bus->stream_ready = true;
		return;
	}
	if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
		return;
	char subject[SLUICE_EVENT_BUS_SUBJECT];
	snprintf(subject, sizeof(subject), "%s.>", bus->prefix);
	const char *subjects[1] = {subject};
	jsStreamConfig cfg;
	jsStreamConfig_Init(&cfg);
	cfg.Name = bus->stream;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = bus->replicas;
	jerr = 0;
	s = js_AddStream(&si, bus->js, &cfg, NULL, &jerr);
	if (s == NATS_OK)
		jsStreamInfo_Destroy(si);
	if (s == NATS_OK || jerr == JSStreamNameExistErr)
		bus->stream_ready = true;
}

/* ---- the spool (event_spool.h) ---- */

/* Nothing left in the spool or in flight from it: back to its header. */
static void spool_trim(struct sluice_event_bus *bus)
{
	if (bus->spooling && sluice_event_spool_trim(&bus->spool) != 0)
		bus->st.failures++;
}

/* ---- the window ---- */

static void entry_free(struct entry *e)
{
	free(e->data);
	memset(e, 0, sizeof(*e));
}

static void parse_worker_seq(struct entry *e)
{
	/* gateway.boot.worker.seq */
	const char *last = strrchr(e->msg_id, '.');
	if (last == NULL)
		return;
	e->seq = strtoull(last + 1, NULL, 10);
	const char *p = last;
	while (p > e->msg_id && p[-1] != '.')
		p--;
	e->worker = (unsigned)strtoul(p, NULL, 10);
}

/* A new entry at the window's tail (the caller made sure there is room). */
static struct entry *window_add(struct sluice_event_bus *bus, const char *subject,
				size_t subject_len, const char *msg_id, size_t id_len,
				const char *body, size_t len)
{
	char *data = malloc(subject_len + id_len + len + 3);
	if (data == NULL)
		return NULL;
	memcpy(data, subject, subject_len);
	data[subject_len] = '\0';
	memcpy(data + subject_len + 1, msg_id, id_len);
	data[subject_len + 1 + id_len] = '\0';
	memcpy(data + subject_len + id_len + 2, body, len);
	data[subject_len + id_len + 2 + len] = '\0';
	struct entry *e = slot(bus, bus->tail++);
	*e = (struct entry){.data = data,
			    .msg_id = data + subject_len + 1,
			    .body = data + subject_len + id_len + 2,
			    .len = len,
			    .state = E_WAIT};
	bus->unsent++;
	return e;
}

static void enter_recovery(struct sluice_event_bus *bus)
{
	if (!bus->recovering) {
		bus->backoff_ms = bus->backoff_ms == 0 ? BACKOFF_MIN_MS : bus->backoff_ms * 2;
		if (bus->backoff_ms > BACKOFF_MAX_MS)
			bus->backoff_ms = BACKOFF_MAX_MS;
	}
	bus->recovering = true;
	bus->retry_at_ms = sluice_mono_ms() + bus->backoff_ms;
}

static bool publish(struct sluice_event_bus *bus, struct entry *e)
{
	natsMsg *m = NULL;
	char worker[16], seq[24];
	if (natsMsg_Create(&m, e->data, NULL, e->body, (int)e->len) != NATS_OK)
		return false;
	snprintf(worker, sizeof(worker), "%u", e->worker);
	snprintf(seq, sizeof(seq), "%" PRIu64, e->seq);
	natsMsgHeader_Set(m, "Sluice-Worker", worker);
	natsMsgHeader_Set(m, "Sluice-Seq", seq);
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MsgId = e->msg_id;
	po.ExpectStream = bus->stream;
	po.MaxWait = bus->ack_timeout_ms;
	natsMsg *keep = m;
	natsStatus s = js_PublishMsgAsync(bus->js, &m, &po);
	if (s != NATS_OK) {
		snprintf(bus->st.last_error, sizeof(bus->st.last_error), "publish: %s",
			 natsStatus_GetText(s));
		natsMsg_Destroy(m);
		bus->st.failures++;
		e->state = E_WAIT;
		enter_recovery(bus);
		return false;
	}
	e->msg = keep;
	e->sent_ms = sluice_mono_ms();
	e->state = E_FLIGHT;
	bus->unsent--;
	if (e->attempts++ == 0)
		bus->st.published++;
	else
		bus->st.resent++;
	return true;
}

static struct entry *find_in_flight(struct sluice_event_bus *bus, const natsMsg *m)
{
	uint64_t n = bus->tail - bus->head;
	uint64_t start = bus->hint >= bus->head && bus->hint < bus->tail ? bus->hint : bus->head;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = bus->head + (start - bus->head + k) % n;
		struct entry *e = slot(bus, i);
		if (e->msg == m) {
			bus->hint = i + 1;
			return e;
		}
	}
	return NULL;
}

static void collect(struct sluice_event_bus *bus)
{
	pthread_mutex_lock(&bus->lock);
	struct result *r = bus->results;
	size_t n = bus->result_count;
	bus->results = NULL;
	bus->result_count = bus->result_cap = 0;
	bus->st.reconnects = bus->reconnects;
	if (bus->last_error[0] != '\0') {
		memcpy(bus->st.last_error, bus->last_error, sizeof(bus->last_error));
		bus->last_error[0] = '\0';
	}
	pthread_mutex_unlock(&bus->lock);
	for (size_t k = 0; k < n; k++) {
		struct entry *e = find_in_flight(bus, r[k].msg);
		natsMsg_Destroy(r[k].msg);
		if (e == NULL)
			continue; /* an attempt already given up on */
		e->msg = NULL;
		if (r[k].ok) {
			e->state = E_ACKED;
			bus->st.acked++;
			bus->st.duplicates += r[k].duplicate;
			bus->backoff_ms = 0;
		} else {
			e->state = E_WAIT;
			bus->unsent++;
			bus->st.failures++;
			enter_recovery(bus);
		}
	}
	free(r);
}

/* Acks that never came: cnats times them out itself (MaxWait); this is the
 * net under it. The late answer, if any, finds no entry and is dropped. */
static void expire(struct sluice_event_bus *bus)
{
	double limit = sluice_mono_ms() - bus->ack_timeout_ms - 1000.0;
	for (uint64_t i = bus->head; i < bus->tail; i++) {
		struct entry *e = slot(bus, i);
		if (e->state == E_FLIGHT && e->sent_ms < limit) {
			snprintf(bus->st.last_error, sizeof(bus->st.last_error),
				 "no ack within %u ms", bus->ack_timeout_ms);
			e->msg = NULL;
			e->state = E_WAIT;
			bus->unsent++;
			bus->st.failures++;
			enter_recovery(bus);
		}
	}
}

static void retire(struct sluice_event_bus *bus)
{
	while (bus->head < bus->tail && slot(bus, bus->head)->state == E_ACKED) {
		struct entry *e = slot(bus, bus->head);
		if (e->spool_end != 0)
			bus->spool.head = e->spool_end;
		entry_free(e);
		bus->head++;
	}
	spool_trim(bus);
}

/* After a failure: once nothing is in flight, publish again, in order,
 * everything not acknowledged. */
static void resend(struct sluice_event_bus *bus)
{
	if (!bus->recovering || sluice_mono_ms() < bus->retry_at_ms)
		return;
	for (uint64_t i = bus->head; i < bus->tail; i++)
		if (slot(bus, i)->state == E_FLIGHT)
			return;
	if (!bus->stream_ready || natsConnection_Status(bus->nc) != NATS_CONN_STATUS_CONNECTED)
		return;
	bus->recovering = false;
	for (uint64_t i = bus->head; i < bus->tail && !bus->recovering; i++) {
		struct entry *e = slot(bus, i);
		if (e->state == E_WAIT)
			publish(bus, e);
	}
}

/* Publishes, in order, the window's events that wait (the bus was down,
 * or a resend stopped at a failure). */
static void publish_waiting(struct sluice_event_bus *bus)
{
	for (uint64_t i = bus->head; i < bus->tail && bus->unsent > 0 && can_publish(bus); i++)
		if (slot(bus, i)->state == E_WAIT)
			publish(bus, slot(bus, i));
}

/* Moves spooled records into the window while there is room. */
static void drain_spool(struct sluice_event_bus *bus)
{
	size_t line_len;
	const char *line;
	struct sluice_event_spool_record rec;
	while (bus->spooling && can_publish(bus) && window_used(bus) < bus->cap &&
	       (line = sluice_event_spool_peek(&bus->spool, &line_len)) != NULL) {
		uint64_t end = bus->spool.read + line_len + 1;
		if (!sluice_event_spool_split(line, line_len, &rec)) {
			/* not a record: skipped, and counted */
			bus->spool.read = end;
			bus->st.spool_events--;
			bus->st.lost++;
			continue;
		}
		struct entry *e = window_add(bus, rec.subject, rec.subject_len, rec.msg_id,
					     rec.msg_id_len, rec.body, rec.body_len);
		if (e == NULL)
			break;
		e->spool_end = end;
		parse_worker_seq(e);
		bus->spool.read = end;
		bus->st.spool_events--;
		publish(bus, e);
	}
	/* Lines too long to be records, which peek skipped: lost, as above. */
	uint64_t skipped = bus->spooling ? sluice_event_spool_take_skipped(&bus->spool) : 0;
	bus->st.spool_events -= skipped;
	bus->st.lost += skipped;
}

/* ---- the interface ---- */

size_t sluice_event_bus_subject(const struct sluice_event_bus *bus, const struct sluice_event *ev,
				const char *category, const char *action, char *out, size_t cap)
{
	char a[96], b[96];
	int n;
	switch (ev->kind) {
	case SLUICE_EVENT_MATCH:
		sanitize_token(a, sizeof(a), category);
		sanitize_token(b, sizeof(b), action);
		n = snprintf(out, cap, "%s.match.%s.%s", bus->prefix, a, b);
		break;
	case SLUICE_EVENT_STREAM:
		sanitize_token(a, sizeof(a), category);
		n = snprintf(out, cap, "%s.stream.%s", bus->prefix, a);
		break;
	default:
		sanitize_token(a, sizeof(a), category);
		n = snprintf(out, cap, "%s.bad_input.%s", bus->prefix, a);
		break;
	}
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static bool wait_for_room(struct sluice_event_bus *bus)
{
	double until = sluice_mono_ms() + ROOM_WAIT_MS;
	while (window_used(bus) >= bus->cap && can_publish(bus)) {
		double now = sluice_mono_ms();
		if (now >= until)
			return false;
		pthread_mutex_lock(&bus->lock);
		if (bus->result_count == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&bus->answered, &bus->lock, &ts);
		}
		pthread_mutex_unlock(&bus->lock);
		collect(bus);
		retire(bus);
	}
	return window_used(bus) < bus->cap;
}

bool sluice_event_bus_ready(struct sluice_event_bus *bus)
{
	if (bus->spooling || window_used(bus) < bus->cap)
		return true;
	if (!bus->no_room)
		bus->no_room = !wait_for_room(bus);
	return window_used(bus) < bus->cap;
}

void sluice_event_bus_put(struct sluice_event_bus *bus, const struct sluice_event *ev,
			  const char *subject, const char *body, size_t len)
{
	char msg_id[SLUICE_EVENT_BUS_MSG_ID];
	unsigned w =
	    ev->worker < SLUICE_EVENT_BUS_WORKERS ? ev->worker : SLUICE_EVENT_BUS_WORKERS - 1;
	uint64_t seq = ++bus->wseq[w];
	int id_len = snprintf(msg_id, sizeof(msg_id), "%s.%s.%u.%" PRIu64, bus->gateway, bus->boot,
			      ev->worker, seq);
	if (id_len < 0 || (size_t)id_len >= sizeof(msg_id))
		id_len = (int)strlen(msg_id);
	/* Order: the window's events, then the spool's, then this one. */
	if (bus->st.spool_events == 0 && bus->spool.read == bus->spool.end) {
		/* One wait per pass at most: without a spool, a stuck window
		 * must not cost every event of a drain its 5 ms. */
		if (window_used(bus) >= bus->cap && !bus->no_room)
			bus->no_room = !wait_for_room(bus);
		if (window_used(bus) < bus->cap) {
			struct entry *e = window_add(bus, subject, strlen(subject), msg_id,
						     (size_t)id_len, body, len);
			if (e != NULL) {
				e->worker = ev->worker;
				e->seq = seq;
				/* Older events waiting in the window go before it. */
				if (bus->unsent == 1 && can_publish(bus))
					publish(bus, e);
				else
					publish_waiting(bus);
				return;
			}
		}
	}
	if (bus->spooling && sluice_event_spool_append(&bus->spool, subject, msg_id, body, len)) {
		bus->st.spool_events++;
		bus->st.spooled++;
		return;
	}
	bus->st.lost++;
}

void sluice_event_bus_poll(struct sluice_event_bus *bus)
{
	ensure_stream(bus);
	collect(bus);
	expire(bus);
	retire(bus);
	resend(bus);
	/* Events that waited in the window while the bus was down go first. */
	publish_waiting(bus);
	drain_spool(bus);
	bus->no_room = false;
}

bool sluice_event_bus_busy(const struct sluice_event_bus *bus)
{
	return bus->tail > bus->head || bus->st.spool_events > 0;
}

void sluice_event_bus_stats(const struct sluice_event_bus *bus, struct sluice_event_bus_stats *out)
{
	*out = bus->st;
	out->in_flight = window_used(bus);
	out->spool_bytes = bus->spooling ? bus->spool.end - bus->spool.head : 0;
	out->connected = natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
	out->stream_ready = bus->stream_ready;
}

/* ---- open and close ---- */

static void bus_free(struct sluice_event_bus *bus)
{
	if (bus->js != NULL)
		jsCtx_Destroy(bus->js);
	if (bus->nc != NULL) {
		natsConnection_Close(bus->nc);
		natsConnection_Destroy(bus->nc);
	}
	natsOptions_Destroy(bus->opts);
	/* Answers that came in meanwhile hold messages. */
	for (size_t k = 0; k < bus->result_count; k++)
		natsMsg_Destroy(bus->results[k].msg);
	free(bus->results);
	for (uint64_t i = bus->head; bus->win != NULL && i < bus->tail; i++)
		entry_free(slot(bus, i));
	free(bus->win);
	sluice_event_spool_close(&bus->spool);
	free(bus->stream);
	free(bus->prefix);
	free(bus->gateway);
	pthread_mutex_destroy(&bus->lock);
	pthread_cond_destroy(&bus->answered);
	free(bus);
}

static int connect_bus(struct sluice_event_bus *bus, const char *servers,
		       const struct sluice_nats_security *sec, char *err, size_t err_len)
{
	if (sluice_nats_options(servers, "--events-bus", sec, &bus->opts, err, err_len) != 0)
		return -1;
	natsStatus s = natsOptions_SetReconnectedCB(bus->opts, on_reconnected, bus);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(bus->opts, true, on_connected, bus);
	if (s != NATS_OK) {
		snprintf(err, err_len, "--events-bus %s: %s", servers, natsStatus_GetText(s));
		return -1;
	}
	s = natsConnection_Connect(&bus->nc, bus->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		snprintf(err, err_len, "--events-bus %s: %s", servers, natsStatus_GetText(s));
		return -1;
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 1000;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = bus;
	/* The window bounds what is in flight; cnats' own bound never stalls. */
	jo.PublishAsync.MaxPending = (int64_t)bus->cap * 2;
	jo.PublishAsync.StallWait = 1;
	s = natsConnection_JetStream(&bus->js, bus->nc, &jo);
	if (s != NATS_OK) {
		snprintf(err, err_len, "--events-bus: JetStream context: %s",
			 natsStatus_GetText(s));
		return -1;
	}
	return 0;
}

struct sluice_event_bus *sluice_event_bus_open(const struct sluice_event_bus_config *cfg, char *err,
					       size_t err_len)
{
	if (cfg->servers == NULL || cfg->servers[0] == '\0' || cfg->stream == NULL ||
	    cfg->stream[0] == '\0') {
		snprintf(err, err_len, "--events-bus needs servers and a stream name");
		return NULL;
	}
	struct sluice_event_bus *bus = calloc(1, sizeof(*bus));
	if (bus == NULL) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&bus->lock, NULL);
	pthread_cond_init(&bus->answered, NULL);
	bus->spool.fd = -1;
	bus->cap = cfg->max_pending ? cfg->max_pending : 1024;
	bus->ack_timeout_ms = cfg->ack_timeout_ms ? cfg->ack_timeout_ms : 5000;
	bus->replicas = cfg->replicas ? cfg->replicas : 1;
	bus->win = calloc(bus->cap, sizeof(*bus->win));
	bus->stream = strdup(cfg->stream);
	bus->prefix = strdup(cfg->prefix != NULL ? cfg->prefix : "sluice.events");
	char host[256] = "sluice";
	if (cfg->gateway == NULL)
		gethostname(host, sizeof(host) - 1);
	char gw[96];
	sanitize_token(gw, sizeof(gw), cfg->gateway != NULL ? cfg->gateway : host);
	bus->gateway = strdup(gw);
	/* Message ids must not repeat across restarts inside JetStream's
	 * duplicate window: the boot's start time tells runs apart. */
	snprintf(bus->boot, sizeof(bus->boot), "%" PRIx64, sluice_realtime_ns());
	if (bus->win == NULL || bus->stream == NULL || bus->prefix == NULL ||
	    bus->gateway == NULL) {
		snprintf(err, err_len, "out of memory");
		bus_free(bus);
		return NULL;
	}
	if (cfg->spool_path != NULL) {
		if (sluice_event_spool_open(&bus->spool, cfg->spool_path, cfg->spool_max_bytes,
					    &bus->st.spool_events, err, err_len) != 0) {
			bus_free(bus);
			return NULL;
		}
		bus->spooling = true;
	}
	if (connect_bus(bus, cfg->servers, &cfg->security, err, err_len) != 0) {
		bus_free(bus);
		return NULL;
	}
	ensure_stream(bus);
	return bus;
}

/* At a stop: what is still unacknowledged goes back to the spool's front, in
 * order, so that the next start sends it first. */
static void spool_rewrite(struct sluice_event_bus *bus, uint64_t live)
{
	size_t plen = strlen(bus->spool.path);
	char tmp[plen + 8];
	snprintf(tmp, sizeof(tmp), "%s.new", bus->spool.path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		bus->st.lost += live;
		return;
	}
	char h[SLUICE_EVENT_SPOOL_HEADER];
	sluice_event_spool_header(h, SLUICE_EVENT_SPOOL_HEADER);
	bool ok = write(fd, h, sizeof(h)) == (ssize_t)sizeof(h);
	for (uint64_t i = bus->head; ok && i < bus->tail; i++) {
		struct entry *e = slot(bus, i);
		if (e->state == E_ACKED)
			continue;
		char sep = ' ';
		ok = write(fd, e->data, strlen(e->data)) >= 0 && write(fd, &sep, 1) == 1 &&
		     write(fd, e->msg_id, strlen(e->msg_id)) >= 0 && write(fd, &sep, 1) == 1 &&
		     write(fd, e->body, e->len) == (ssize_t)e->len;
	}
	char buf[65536];
	for (uint64_t off = bus->spool.read; ok && off < bus->spool.end;) {
		size_t want =
		    bus->spool.end - off < sizeof(buf) ? bus->spool.end - off : sizeof(buf);
		ssize_t r = pread(bus->spool.fd, buf, want, (off_t)off);
		ok = r > 0 && write(fd, buf, (size_t)r) == r;
		off += r > 0 ? (uint64_t)r : 0;
	}
	ok = ok && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && rename(tmp, bus->spool.path) == 0) {
		bus->st.spooled += live;
		return;
	}
	unlink(tmp);
	bus->st.lost += live;
}

void sluice_event_bus_close(struct sluice_event_bus *bus, unsigned wait_ms,
			    struct sluice_event_bus_stats *last)
{
	if (bus == NULL)
		return;
	double until = sluice_mono_ms() + wait_ms;
	while (sluice_event_bus_busy(bus) && sluice_mono_ms() < until) {
		sluice_event_bus_poll(bus);
		struct timespec pause = {0, 2000000};
		nanosleep(&pause, NULL);
	}
	collect(bus);
	retire(bus);
	uint64_t unacked = 0, live = 0;
	for (uint64_t i = bus->head; i < bus->tail; i++) {
		const struct entry *e = slot(bus, i);
		unacked += e->state != E_ACKED;
		live += e->state != E_ACKED && e->spool_end == 0;
	}
	if (unacked > 0) {
		if (bus->spooling)
			spool_rewrite(bus, live);
		else
			bus->st.lost += unacked;
	}
	if (last != NULL) {
		sluice_event_bus_stats(bus, last);
		/* What the next start will find in the spool. */
		last->in_flight = 0;
		last->spool_events += unacked;
	}
	bus_free(bus);
}

#include "control_clients.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"

enum client_state {
	CLIENT_FREE = 0,
	CLIENT_READING, /* waiting for the request line */
	CLIENT_WRITING, /* sending the reply */
};

struct sluice_ctl_client {
	int fd;
	uint8_t state;	    /* enum client_state */
	uint64_t seq;	    /* accept order: the oldest idle one is evicted first */
	double deadline_ms; /* for the line while reading, for the reply while writing */
	size_t used;
	size_t sent;
	struct sluice_strbuf reply;
	struct sluice_ctl_peer peer;
	char line[SLUICE_CTL_MAX_REQUEST + 1];
};

enum sluice_ctl_line sluice_ctl_line_scan(char *buf, size_t *len)
{
	size_t n = *len;
	char *nl = memchr(buf, '\n', n);
	size_t line_len = nl != NULL ? (size_t)(nl - buf) : n;
	if (memchr(buf, '\0', line_len) != NULL)
		return SLUICE_CTL_LINE_NUL;
	if (nl == NULL) {
		buf[n] = '\0';
		return n >= SLUICE_CTL_MAX_REQUEST ? SLUICE_CTL_LINE_TOO_LONG
						   : SLUICE_CTL_LINE_PARTIAL;
	}
	if (line_len > 0 && buf[line_len - 1] == '\r')
		line_len--;
	buf[line_len] = '\0';
	*len = line_len;
	return SLUICE_CTL_LINE_COMPLETE;
}

int sluice_ctl_clients_init(struct sluice_ctl_clients *c, int listen_fd)
{
	memset(c, 0, sizeof(*c));
	c->listen_fd = listen_fd;
	c->wake_fd = -1;
	c->request_timeout_ms = 1000;
	c->reply_timeout_ms = 5000;
	c->table = calloc(SLUICE_CTL_MAX_CLIENTS, sizeof(*c->table));
	return c->table != NULL ? 0 : -1;
}

/* Reads and forgets what the client sent, so that closing does not reset the
 * connection (a reset can destroy a reply not yet read). */
static void discard_input(int fd)
{
	char sink[512];
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
}

static void client_close(struct sluice_ctl_clients *c, struct sluice_ctl_client *cl)
{
	discard_input(cl->fd);
	close(cl->fd);
	sluice_strbuf_free(&cl->reply);
	cl->state = CLIENT_FREE;
	cl->fd = -1;
	c->count--;
}

void sluice_ctl_clients_fini(struct sluice_ctl_clients *c)
{
	static const char stopping[] =
	    "{\"ok\":false,\"error\":\"the daemon is stopping; the request was not carried "
	    "out\"}\n";
	for (unsigned i = 0; c->table != NULL && i < SLUICE_CTL_MAX_CLIENTS; i++) {
		struct sluice_ctl_client *cl = &c->table[i];
		if (cl->state == CLIENT_FREE)
			continue;
		/* A client still waiting is told why it gets nothing; one being
		 * answered gets what fits now. Neither may delay the stop. */
		if (cl->state == CLIENT_READING)
			send(cl->fd, stopping, sizeof(stopping) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		else if (cl->sent < cl->reply.len)
			send(cl->fd, cl->reply.data + cl->sent, cl->reply.len - cl->sent,
			     MSG_NOSIGNAL | MSG_DONTWAIT);
		client_close(c, cl);
	}
	free(c->table);
	c->table = NULL;
}

/* Sends what the client will take now; closes it when the reply is out or
 * the client has gone. */
static void client_flush(struct sluice_ctl_clients *c, struct sluice_ctl_client *cl)
{
	const struct sluice_strbuf *r = &cl->reply;
	while (cl->sent < r->len) {
		ssize_t n = send(cl->fd, r->data + cl->sent, r->len - cl->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			cl->sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		c->counters.vanished++;
		client_close(c, cl);
		return;
	}
	c->counters.served++;
	client_close(c, cl);
}

static void start_reply(struct sluice_ctl_clients *c, struct sluice_ctl_client *cl)
{
	static const char oom[] = "{\"ok\":false,\"error\":\"out of memory for the reply\"}";
	if (cl->reply.failed) {
		sluice_strbuf_free(&cl->reply);
		sluice_strbuf_init(&cl->reply);
		sluice_strbuf_printf(&cl->reply, "%s", oom);
	}
	sluice_strbuf_printf(&cl->reply, "\n");
	cl->state = CLIENT_WRITING;
	cl->sent = 0;
	cl->deadline_ms = sluice_mono_ms() + c->reply_timeout_ms;
	client_flush(c, cl);
}

static void reply_error(struct sluice_ctl_clients *c, struct sluice_ctl_client *cl, const char *why)
{
	sluice_strbuf_printf(&cl->reply, "{\"ok\":false,\"error\":");
	sluice_strbuf_json_string(&cl->reply, why);
	sluice_strbuf_printf(&cl->reply, "}");
	start_reply(c, cl);
}

/* Reads what has arrived and, once the line is whole, serves it. */
static void client_read(struct sluice_ctl_clients *c, struct sluice_ctl_client *cl,
			sluice_ctl_handler handler, void *arg)
{
	for (;;) {
		ssize_t n = recv(cl->fd, cl->line + cl->used, SLUICE_CTL_MAX_REQUEST - cl->used,
				 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* Closed (or failed) before a whole request: nobody to answer. */
			c->counters.vanished++;
			client_close(c, cl);
			return;
		}
		cl->used += (size_t)n;
		switch (sluice_ctl_line_scan(cl->line, &cl->used)) {
		case SLUICE_CTL_LINE_PARTIAL:
			continue;
		case SLUICE_CTL_LINE_COMPLETE:
			handler(arg, cl->line, &cl->peer, &cl->reply);
			start_reply(c, cl);
			return;
		case SLUICE_CTL_LINE_TOO_LONG:
			c->counters.bad_requests++;
			reply_error(c, cl, "request line longer than 4096 bytes");
			return;
		case SLUICE_CTL_LINE_NUL:
			c->counters.bad_requests++;
			reply_error(c, cl, "request line contains a NUL byte");
			return;
		}
	}
}

/* The slot for a new connection: a free one, or the oldest connection still
 * waiting for its line, which is closed. NULL when every slot is replying. */
static struct sluice_ctl_client *make_room(struct sluice_ctl_clients *c)
{
	struct sluice_ctl_client *oldest = NULL;
	for (unsigned i = 0; i < SLUICE_CTL_MAX_CLIENTS; i++) {
		struct sluice_ctl_client *cl = &c->table[i];
		if (cl->state == CLIENT_FREE)
			return cl;
		if (cl->state == CLIENT_READING && (oldest == NULL || cl->seq < oldest->seq))
			oldest = cl;
	}
	if (oldest != NULL) {
		c->counters.evicted++;
		client_close(c, oldest);
	}
	return oldest;
}

static void accept_all(struct sluice_ctl_clients *c, sluice_ctl_handler handler, void *arg)
{
	/* Bounded, so that a flood of connections cannot keep the loop here. */
	for (unsigned k = 0; k < 4 * SLUICE_CTL_MAX_CLIENTS; k++) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		c->counters.accepted++;
		struct sluice_ctl_client *cl = make_room(c);
		if (cl == NULL) {
			c->counters.evicted++;
			close(fd);
			continue;
		}
		memset(cl, 0, offsetof(struct sluice_ctl_client, line));
		cl->fd = fd;
		cl->state = CLIENT_READING;
		cl->seq = c->counters.accepted;
		cl->deadline_ms = sluice_mono_ms() + c->request_timeout_ms;
		sluice_strbuf_init(&cl->reply);
		struct ucred cred;
		socklen_t len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			cl->peer = (struct sluice_ctl_peer){
			    .uid = cred.uid, .gid = cred.gid, .pid = cred.pid, .known = true};
		} else {
			cl->peer = (struct sluice_ctl_peer){
			    .uid = (uid_t)-1, .gid = (gid_t)-1, .pid = 0, .known = false};
		}
		c->count++;
		/* A prompt client has usually written its line already. */
		client_read(c, cl, handler, arg);
	}
}

static void expire(struct sluice_ctl_clients *c)
{
	double now = sluice_mono_ms();
	for (unsigned i = 0; i < SLUICE_CTL_MAX_CLIENTS; i++) {
		struct sluice_ctl_client *cl = &c->table[i];
		if (cl->state == CLIENT_FREE || now < cl->deadline_ms)
			continue;
		if (cl->state == CLIENT_READING) {
			char why[96];
			snprintf(why, sizeof(why), "no complete request line within %u ms",
				 c->request_timeout_ms);
			c->counters.request_timeouts++;
			reply_error(c, cl, why);
		} else {
			c->counters.reply_timeouts++;
			client_close(c, cl);
		}
	}
}

void sluice_ctl_clients_serve(struct sluice_ctl_clients *c, int timeout_ms,
			      sluice_ctl_handler handler, void *arg)
{
	struct pollfd pfd[SLUICE_CTL_MAX_CLIENTS + 2];
	unsigned who[SLUICE_CTL_MAX_CLIENTS + 2];
	nfds_t n = 0;
	double now = sluice_mono_ms(), wake = now + (timeout_ms > 0 ? timeout_ms : 0);

	pfd[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
	for (unsigned i = 0; i < SLUICE_CTL_MAX_CLIENTS; i++) {
		const struct sluice_ctl_client *cl = &c->table[i];
		if (cl->state == CLIENT_FREE)
			continue;
		who[n] = i;
		pfd[n++] = (struct pollfd){
		    .fd = cl->fd, .events = cl->state == CLIENT_READING ? POLLIN : POLLOUT};
		if (cl->deadline_ms < wake)
			wake = cl->deadline_ms;
	}
	int wait_ms = wake > now ? (int)(wake - now) + 1 : 0;
	nfds_t clients_end = n;
	if (c->wake_fd >= 0)
		pfd[n++] = (struct pollfd){.fd = c->wake_fd, .events = POLLIN};
	if (poll(pfd, n, wait_ms) > 0) {
		for (nfds_t k = 1; k < clients_end; k++) {
			struct sluice_ctl_client *cl = &c->table[who[k]];
			if (pfd[k].revents == 0 || cl->state == CLIENT_FREE)
				continue;
			if (cl->state == CLIENT_READING)
				client_read(c, cl, handler, arg);
			else
				client_flush(c, cl);
		}
		if (pfd[0].revents & POLLIN)
			accept_all(c, handler, arg);
	}
	expire(c);
}

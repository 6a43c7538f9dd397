/* The /metrics endpoint Prometheus scrapes (--metrics-listen), served by the
 * control thread with libmicrohttpd.
 *
 * Contract:
 * - libmicrohttpd runs without a thread of its own (MHD_USE_EPOLL, external
 *   polling): its epoll descriptor is polled beside the control socket and
 *   sluice_metrics_http_run() is called once per pass of the control loop.
 *   Every socket is non-blocking, so a slow or stuck scraper costs the
 *   control thread nothing but its connection slot, and it is closed after
 *   SLUICE_METRICS_IDLE_S without traffic. At most SLUICE_METRICS_MAX_CONN
 *   connections are held.
 * - The page is rendered on the control thread, between requests to the
 *   control socket, so it reads what `sluicectl stats` reads, the same way
 *   (metrics.h). Its size is bounded: per-rule series are capped.
 * - GET or HEAD /metrics: 200, Content-Type text/plain; version=0.0.4. Any
 *   other path: 404. Any other method: 405 with Allow: GET, HEAD.
 * - With a credentials file (--metrics-auth), every request must carry HTTP
 *   basic authentication with its user and password (compared in constant
 *   time): otherwise 401 with WWW-Authenticate, and the page is not
 *   rendered. The file is refused if anyone but its owner and group may
 *   read it. With a certificate and key (--metrics-tls-cert/-key, PEM), the
 *   endpoint speaks HTTPS only; without them credentials travel in clear,
 *   and the daemon says so when it starts.
 */
#ifndef SLUICE_CONTROL_METRICS_HTTP_H
#define SLUICE_CONTROL_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#define SLUICE_METRICS_MAX_CONN 32
#define SLUICE_METRICS_IDLE_S	10

struct sluice_control;
struct sluice_metrics_http;

/* Parses "IPV4:PORT" or "[IPV6]:PORT" (literals, port 1 to 65535). Returns 0,
 * or -1 with err saying what is wrong. */
int sluice_metrics_parse_listen(const char *text, struct sockaddr_storage *addr, char *err,
				size_t err_len);

struct sluice_metrics_http_config {
	const char *listen;		/* ADDR:PORT */
	const char *tls_cert, *tls_key; /* PEM files, both or neither; NULL: plain HTTP */
	const char *auth_file;		/* "USER:PASSWORD" on its first line; NULL: none */
};

/* Reads and checks what the config names (the credentials file and its
 * permissions, the certificate and key, that TLS is built in) without
 * listening: for --check-config and before a start. 0, or -1 with err. */
int sluice_metrics_http_check(const struct sluice_metrics_http_config *cfg, char *err,
			      size_t err_len);

/* Listens on cfg->listen and serves ctl's metrics. NULL with err on failure
 * (address in use, not an address of this host, a bad credentials file or
 * certificate...). */
struct sluice_metrics_http *sluice_metrics_http_open(const struct sluice_metrics_http_config *cfg,
						     struct sluice_control *ctl, char *err,
						     size_t err_len);

/* The descriptor to poll for readability: ready when the server has work. */
int sluice_metrics_http_fd(const struct sluice_metrics_http *h);

/* Accepts, reads, answers and writes whatever is ready, without waiting. */
void sluice_metrics_http_run(struct sluice_metrics_http *h);

void sluice_metrics_http_close(struct sluice_metrics_http *h);

#endif

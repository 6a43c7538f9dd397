#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "control_server.h"
#include "file_read.h"
#include "metrics.h"
#include "strbuf.h"

/* What the config's files hold, read once at the start. */
struct metrics_files {
	char *user, *password; /* NULL: no authentication */
	char *cert, *key;      /* PEM; NULL: plain HTTP */
};

struct sluice_metrics_http {
	struct MHD_Daemon *daemon;
	struct sluice_control *ctl;
	int epoll_fd;
	struct metrics_files files; /* MHD reads cert and key as long as it runs */
};

int sluice_metrics_parse_listen(const char *text, struct sockaddr_storage *addr, char *err,
				size_t err_len)
{
	char host[64];
	const char *colon = strrchr(text, ':');
	memset(addr, 0, sizeof(*addr));
	if (colon == NULL || colon == text) {
		snprintf(err, err_len,
			 "--metrics-listen '%s': write ADDRESS:PORT, e.g. 127.0.0.1:9470 or "
			 "[::1]:9470",
			 text);
		return -1;
	}
	const char *h = text, *h_end = colon;
	bool bracketed = text[0] == '[';
	if (bracketed) {
		h++;
		if (colon[-1] != ']') {
			snprintf(err, err_len, "--metrics-listen '%s': an IPv6 address goes in [ ]",
				 text);
			return -1;
		}
		h_end = colon - 1;
	}
	if ((size_t)(h_end - h) >= sizeof(host) || h_end <= h) {
		snprintf(err, err_len, "--metrics-listen '%s': no address before the port", text);
		return -1;
	}
	memcpy(host, h, (size_t)(h_end - h));
	host[h_end - h] = '\0';
	char *end = NULL;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 || port == 0 ||
	    port > 65535) {
		snprintf(err, err_len, "--metrics-listen '%s': the port must be 1 to 65535", text);
		return -1;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
	if (!bracketed && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (bracketed && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	snprintf(err, err_len,
		 "--metrics-listen '%s': '%s' is not an IPv4 address or a bracketed IPv6 "
		 "address (names are not looked up)",
		 text, host);
	return -1;
}

static void files_free(struct metrics_files *f)
{
	free(f->user);
	free(f->password);
	free(f->cert);
	free(f->key);
	memset(f, 0, sizeof(*f));
}

/* A secret's file, at most 1 MiB (file_read.h: what a leaked password or
 * key would cost decides who may read it). */
static char *read_secret(const char *option, const char *path, char *err, size_t err_len)
{
	char why[256], *text = NULL;
	size_t len = 0;
	if (sluice_file_read_private(path, 1 << 20, &text, &len, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "%s %s: %s", option, path, why);
		return NULL;
	}
	return text;
}

static int files_read(const struct sluice_metrics_http_config *cfg, struct metrics_files *f,
		      char *err, size_t err_len)
{
	memset(f, 0, sizeof(*f));
	if (cfg->auth_file != NULL) {
		char *text = read_secret("--metrics-auth", cfg->auth_file, err, err_len);
		if (text == NULL)
			return -1;
		text[strcspn(text, "\r\n")] = '\0';
		char *colon = strchr(text, ':');
		if (colon == NULL || colon == text || colon[1] == '\0') {
			snprintf(err, err_len,
				 "--metrics-auth %s: the first line must be USER:PASSWORD, both "
				 "non-empty",
				 cfg->auth_file);
			free(text);
			return -1;
		}
		*colon = '\0';
		f->user = strdup(text);
		f->password = strdup(colon + 1);
		memset(text, 0, strlen(text) + strlen(colon + 1) + 1);
		free(text);
		if (f->user == NULL || f->password == NULL) {
			snprintf(err, err_len, "out of memory reading --metrics-auth");
			files_free(f);
			return -1;
		}
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		snprintf(err, err_len, "--metrics-tls-cert and --metrics-tls-key go together");
		files_free(f);
		return -1;
	}
	if (cfg->tls_cert != NULL) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, err_len, "--metrics-tls-cert: this libmicrohttpd has no TLS");
			files_free(f);
			return -1;
		}
		char why[256];
		size_t len = 0;
		if (sluice_file_read_all(cfg->tls_cert, 1 << 20, "file", &f->cert, &len, why,
					 sizeof(why)) != 0) {
			snprintf(err, err_len, "--metrics-tls-cert %s: %s", cfg->tls_cert, why);
			files_free(f);
			return -1;
		}
		f->key = read_secret("--metrics-tls-key", cfg->tls_key, err, err_len);
		if (f->key == NULL) {
			files_free(f);
			return -1;
		}
		if (strstr(f->cert, "-----BEGIN CERTIFICATE-----") == NULL ||
		    strstr(f->key, "PRIVATE KEY-----") == NULL) {
			snprintf(
			    err, err_len,
			    "--metrics-tls-cert/-key: want a PEM certificate and a PEM private "
			    "key (%s, %s)",
			    cfg->tls_cert, cfg->tls_key);
			files_free(f);
			return -1;
		}
	}
	return 0;
}

int sluice_metrics_http_check(const struct sluice_metrics_http_config *cfg, char *err,
			      size_t err_len)
{
	struct sockaddr_storage addr;
	struct metrics_files f;
	if (sluice_metrics_parse_listen(cfg->listen, &addr, err, err_len) != 0 ||
	    files_read(cfg, &f, err, err_len) != 0)
		return -1;
	files_free(&f);
	return 0;
}

/* Equal strings, in a time that depends on the expected one's length only. */
static bool same_secret(const char *given, const char *expected)
{
	size_t gl = strlen(given), el = strlen(expected);
	unsigned diff = gl != el;
	for (size_t i = 0; i < el; i++)
		diff |= (unsigned char)expected[i] ^ (unsigned char)(i < gl ? given[i] : 0);
	return diff == 0;
}

static bool authorised(const struct sluice_metrics_http *h, struct MHD_Connection *conn)
{
	if (h->files.user == NULL)
		return true;
	char *password = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &password);
	bool ok = user != NULL && password != NULL;
	/* Both compared whatever the first gives: no early answer to time. */
	if (ok)
		ok = ((int)same_secret(user, h->files.user) &
		      (int)same_secret(password, h->files.password)) != 0;
	MHD_free(user);
	MHD_free(password);
	return ok;
}

static enum MHD_Result answer_text(struct MHD_Connection *conn, unsigned status, const char *text,
				   const char *allow)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_len, void **req_state)
{
	struct sluice_metrics_http *h = cls;
	(void)version;
	(void)upload;
	(void)req_state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		/* A body is not read: the connection is closed after the answer. */
		*upload_len = 0;
		return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "only GET and HEAD /metrics are served\n", "GET, HEAD");
	}
	if (!authorised(h, conn)) {
		static const char text[] = "authentication required\n";
		struct MHD_Response *r = MHD_create_response_from_buffer(
		    sizeof(text) - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
		if (r == NULL)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
					"text/plain; charset=utf-8");
		enum MHD_Result rc = MHD_queue_basic_auth_fail_response(conn, "sluice metrics", r);
		MHD_destroy_response(r);
		return rc;
	}
	if (strcmp(url, "/metrics") != 0)
		return answer_text(conn, MHD_HTTP_NOT_FOUND, "not found: scrape /metrics\n", NULL);

	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_metrics_render(&h->ctl->metrics, h->ctl, &sb);
	if (sb.failed) {
		sluice_strbuf_free(&sb);
		return answer_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "out of memory rendering the metrics\n", NULL);
	}
	/* The buffer goes to MHD, which frees it with our free() once sent. */
	struct MHD_Response *r =
	    MHD_create_response_from_buffer_with_free_callback(sb.len, sb.data, free);
	if (r == NULL) {
		sluice_strbuf_free(&sb);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
	enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

struct sluice_metrics_http *sluice_metrics_http_open(const struct sluice_metrics_http_config *cfg,
						     struct sluice_control *ctl, char *err,
						     size_t err_len)
{
	const char *listen = cfg->listen;
	struct sockaddr_storage addr;
	if (sluice_metrics_parse_listen(listen, &addr, err, err_len) != 0)
		return NULL;
	struct sluice_metrics_http *h = calloc(1, sizeof(*h));
	if (h == NULL) {
		snprintf(err, err_len, "out of memory for the metrics server");
		return NULL;
	}
	h->ctl = ctl;
	if (files_read(cfg, &h->files, err, err_len) != 0) {
		free(h);
		return NULL;
	}
	/* No MHD_OPTION_LISTENING_ADDRESS_REUSE: its SO_REUSEPORT would let a
	 * second daemon bind the same port and take half the scrapes. MHD's
	 * default SO_REUSEADDR is enough for a restart. */
	unsigned flags = MHD_USE_EPOLL | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	/* The certificate options are the last before the end: without TLS
	 * they are cut off by an early MHD_OPTION_END. */
	enum MHD_OPTION tls_cert = MHD_OPTION_END, tls_key = MHD_OPTION_END;
	if (h->files.cert != NULL) {
		flags |= MHD_USE_TLS;
		tls_cert = MHD_OPTION_HTTPS_MEM_CERT;
		tls_key = MHD_OPTION_HTTPS_MEM_KEY;
	}
	/* MHD reports why it could not start only through errno. */
	errno = 0;
	h->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SLUICE_METRICS_MAX_CONN,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SLUICE_METRICS_IDLE_S, tls_cert, h->files.cert,
	    tls_key, h->files.key, MHD_OPTION_END);
	if (h->daemon == NULL) {
		snprintf(err, err_len, "--metrics-listen %s: cannot listen%s%s%s", listen,
			 errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "",
			 h->files.cert != NULL ? " (or the TLS certificate and key do not fit)"
					       : "");
		files_free(&h->files);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		snprintf(err, err_len, "--metrics-listen %s: libmicrohttpd has no epoll here",
			 listen);
		MHD_stop_daemon(h->daemon);
		files_free(&h->files);
		free(h);
		return NULL;
	}
	h->epoll_fd = info->epoll_fd;
	return h;
}

int sluice_metrics_http_fd(const struct sluice_metrics_http *h)
{
	return h->epoll_fd;
}

void sluice_metrics_http_run(struct sluice_metrics_http *h)
{
	MHD_run(h->daemon);
}

void sluice_metrics_http_close(struct sluice_metrics_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->daemon);
	files_free(&h->files);
	free(h);
}

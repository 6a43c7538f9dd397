/* The WebSocket opening handshake (dataplane/wire/http_upgrade.h): request and
 * response heads, extension stripping. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_upgrade.h"
#include "websocket.h"

#define MAX_HEAD 8192

/* Requests as the main clients send them (through the TLS-terminating load
 * balancer, which adds nothing here). */
static const char python_websockets[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: chat.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "User-Agent: Python/3.10 websockets/10.4\r\n"
    "\r\n";

static const char chromium[] =
    "GET /chat?room=42&v=2 HTTP/1.1\r\n"
    "Host: chat.example.com\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: https://chat.example.com\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9,zh-CN;q=0.8\r\n"
    "Cookie: session=7f3a9c; theme=dark\r\n"
    "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

static const char node_ws[] =
    "GET /chat HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Host: chat.example.com:8443\r\n"
    "\r\n";

static const char *const clients[] = {python_websockets, chromium, node_ws};

static const char response_deflate[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
    "client_max_window_bits=12\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Server: Python/3.10 websockets/10.4\r\n"
    "\r\n";

static const char response_plain[] = "HTTP/1.1 101 Switching Protocols\r\n"
				     "Upgrade: websocket\r\n"
				     "Connection: Upgrade\r\n"
				     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
				     "\r\n";

/* Parses a copy of s[0..avail) in a buffer of exactly that size (ASan sees a
 * read past the end); the copy, possibly rewritten, goes to out if not NULL. */
static enum sluice_http_head request_n(const void *s, size_t avail, size_t max_head, bool strip,
				       struct sluice_ws_request *req, uint8_t *out)
{
	uint8_t *exact = malloc(avail ? avail : 1);
	enum sluice_http_head r;

	cr_assert_not_null(exact);
	memcpy(exact, s, avail);
	r = sluice_ws_request_parse(exact, avail, max_head, strip, req);
	if (out)
		memcpy(out, exact, avail);
	free(exact);
	return r;
}

static enum sluice_http_head request(const char *s, struct sluice_ws_request *req)
{
	return request_n(s, strlen(s), MAX_HEAD, false, req, NULL);
}

static enum sluice_http_head response_n(const void *s, size_t avail, size_t max_head,
					struct sluice_ws_response *resp)
{
	uint8_t *exact = malloc(avail ? avail : 1);
	enum sluice_http_head r;

	cr_assert_not_null(exact);
	memcpy(exact, s, avail);
	r = sluice_ws_response_parse(exact, avail, max_head, resp);
	free(exact);
	return r;
}

static enum sluice_http_head response(const char *s, struct sluice_ws_response *resp)
{
	return response_n(s, strlen(s), MAX_HEAD, resp);
}

/* A good upgrade request with one header line (name: value, no CRLF) added
 * before the blank line. */
static void with_header(char *buf, size_t size, const char *line)
{
	int n = snprintf(buf, size,
			 "GET /chat HTTP/1.1\r\n"
			 "Host: chat.example.com\r\n"
			 "Upgrade: websocket\r\n"
			 "Connection: Upgrade\r\n"
			 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			 "Sec-WebSocket-Version: 13\r\n"
			 "%s\r\n"
			 "\r\n",
			 line);
	cr_assert(n > 0 && (size_t)n < size);
}

static bool offers_deflate(const char *line)
{
	char buf[512];
	struct sluice_ws_request req;

	with_header(buf, sizeof(buf), line);
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD, "%s", line);
	cr_assert(req.upgrade_websocket, "%s", line);
	return req.deflate_offered;
}

/* Requests. */

Test(http_upgrade, real_clients_are_upgrades_offering_deflate)
{
	for (size_t c = 0; c < 3; c++) {
		size_t len = strlen(clients[c]);
		uint8_t out[1024];
		struct sluice_ws_request req;

		cr_assert_eq(request_n(clients[c], len, MAX_HEAD, false, &req, out),
			     SLUICE_HTTP_HEAD, "client %zu", c);
		cr_assert_eq(req.head_len, len);
		cr_assert(req.upgrade_websocket, "client %zu", c);
		cr_assert(req.deflate_offered, "client %zu", c);
		cr_assert_not(req.extensions_stripped);
		cr_assert_arr_eq(out, clients[c], len); /* not stripped: unchanged */
	}
}

Test(http_upgrade, stripping_renames_the_header_and_nothing_else)
{
	static const char name[] = "Sec-WebSocket-Extensions";

	cr_assert_eq(strlen(SLUICE_WS_STRIPPED_EXTENSIONS_NAME), strlen(name));
	for (size_t c = 0; c < 3; c++) {
		size_t len = strlen(clients[c]);
		uint8_t out[1024], again[1024];
		struct sluice_ws_request req;
		const char *at = strstr(clients[c], name);
		size_t from = (size_t)(at - clients[c]);

		cr_assert_eq(request_n(clients[c], len, MAX_HEAD, true, &req, out),
			     SLUICE_HTTP_HEAD);
		cr_assert_eq(req.head_len, len);
		cr_assert(req.upgrade_websocket);
		cr_assert(req.deflate_offered); /* what the client offered */
		cr_assert(req.extensions_stripped);
		for (size_t i = 0; i < len; i++) {
			if (i >= from && i < from + strlen(name))
				cr_assert_eq(out[i], SLUICE_WS_STRIPPED_EXTENSIONS_NAME[i - from]);
			else
				cr_assert_eq(out[i], (uint8_t)clients[c][i], "client %zu byte %zu",
					     c, i);
		}

		/* The stripped head re-parses: still an upgrade, nothing offered. */
		cr_assert_eq(request_n(out, len, MAX_HEAD, false, &req, NULL), SLUICE_HTTP_HEAD);
		cr_assert_eq(req.head_len, len);
		cr_assert(req.upgrade_websocket);
		cr_assert_not(req.deflate_offered);
		cr_assert_not(req.extensions_stripped);
		/* Stripping again finds nothing to strip. */
		cr_assert_eq(request_n(out, len, MAX_HEAD, true, &req, again), SLUICE_HTTP_HEAD);
		cr_assert_not(req.extensions_stripped);
		cr_assert_arr_eq(again, out, len);
	}
}

Test(http_upgrade, stripping_renames_every_extensions_header_whatever_its_case)
{
	const char *head = "GET /chat HTTP/1.1\r\n"
			   "Host: h\r\n"
			   "sec-websocket-extensions: x-webkit-deflate-frame\r\n"
			   "Upgrade: websocket\r\n"
			   "Connection: Upgrade\r\n"
			   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			   "SEC-WEBSOCKET-EXTENSIONS: permessage-deflate\r\n"
			   "Sec-WebSocket-Version: 13\r\n"
			   "\r\n";
	const char *want = "GET /chat HTTP/1.1\r\n"
			   "Host: h\r\n"
			   "X-Sluice-WS-Ext-Stripped: x-webkit-deflate-frame\r\n"
			   "Upgrade: websocket\r\n"
			   "Connection: Upgrade\r\n"
			   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			   "X-Sluice-WS-Ext-Stripped: permessage-deflate\r\n"
			   "Sec-WebSocket-Version: 13\r\n"
			   "\r\n";
	size_t len = strlen(head);
	uint8_t out[512];
	struct sluice_ws_request req;

	cr_assert_eq(request_n(head, len, MAX_HEAD, true, &req, out), SLUICE_HTTP_HEAD);
	cr_assert(req.extensions_stripped);
	cr_assert(req.deflate_offered);
	cr_assert_arr_eq(out, want, len);
}

Test(http_upgrade, no_extensions_header_nothing_stripped)
{
	char buf[512];
	uint8_t out[512];
	struct sluice_ws_request req;
	size_t len;

	with_header(buf, sizeof(buf), "Origin: https://chat.example.com");
	len = strlen(buf);
	cr_assert_eq(request_n(buf, len, MAX_HEAD, true, &req, out), SLUICE_HTTP_HEAD);
	cr_assert(req.upgrade_websocket);
	cr_assert_not(req.deflate_offered);
	cr_assert_not(req.extensions_stripped);
	cr_assert_arr_eq(out, buf, len);
}

Test(http_upgrade, bad_or_incomplete_head_is_not_stripped)
{
	char buf[512];
	uint8_t out[512];
	struct sluice_ws_request req;
	size_t len = strlen(python_websockets);

	/* Incomplete: the extensions header is there, the blank line is not. */
	cr_assert_eq(request_n(python_websockets, len - 2, MAX_HEAD, true, &req, out),
		     SLUICE_HTTP_NEED_MORE);
	cr_assert_arr_eq(out, python_websockets, len - 2);
	cr_assert_not(req.extensions_stripped);

	/* Bad after the extensions header. */
	with_header(buf, sizeof(buf),
		    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		    " folded");
	len = strlen(buf);
	cr_assert_eq(request_n(buf, len, MAX_HEAD, true, &req, out), SLUICE_HTTP_BAD);
	cr_assert_arr_eq(out, buf, len);
	cr_assert_not(req.extensions_stripped);
	cr_assert_not(req.deflate_offered);
}

Test(http_upgrade, bytes_after_the_head_are_not_read_or_changed)
{
	char buf[1024];
	uint8_t out[1024];
	struct sluice_ws_request req;
	size_t head = strlen(python_websockets);

	memcpy(buf, python_websockets, head);
	memcpy(buf + head, "\x00\x01Sec-WebSocket-Extensions: x\r\n\r\n", 31);
	cr_assert_eq(request_n(buf, head + 31, MAX_HEAD, true, &req, out), SLUICE_HTTP_HEAD);
	cr_assert_eq(req.head_len, head);
	cr_assert_arr_eq(out + head, buf + head, 31);
}

Test(http_upgrade, request_split_at_every_byte_needs_more_until_complete)
{
	for (size_t c = 0; c < 3; c++) {
		size_t len = strlen(clients[c]);
		uint8_t out[1024];
		struct sluice_ws_request req;

		for (size_t n = 0; n < len; n++) {
			cr_assert_eq(request_n(clients[c], n, MAX_HEAD, true, &req, out),
				     SLUICE_HTTP_NEED_MORE, "client %zu, %zu of %zu bytes", c, n,
				     len);
			cr_assert_arr_eq(out, clients[c], n);
			cr_assert_eq(req.head_len, 0);
		}
		cr_assert_eq(request_n(clients[c], len, MAX_HEAD, true, &req, NULL),
			     SLUICE_HTTP_HEAD);
		cr_assert_eq(req.head_len, len);
	}
}

Test(http_upgrade, request_max_head_bound)
{
	size_t len = strlen(chromium);
	struct sluice_ws_request req;

	cr_assert_eq(request_n(chromium, len, len, false, &req, NULL), SLUICE_HTTP_HEAD);
	cr_assert_eq(req.head_len, len);
	cr_assert_eq(request_n(chromium, len, len + 1, false, &req, NULL), SLUICE_HTTP_HEAD);
	/* One byte too long: BAD once max_head bytes are in without the end. */
	cr_assert_eq(request_n(chromium, len, len - 1, false, &req, NULL), SLUICE_HTTP_BAD);
	cr_assert_eq(request_n(chromium, len - 1, len - 1, false, &req, NULL), SLUICE_HTTP_BAD);
	cr_assert_eq(request_n(chromium, len - 2, len - 1, false, &req, NULL),
		     SLUICE_HTTP_NEED_MORE);
	cr_assert_eq(request_n(chromium, 100, 100, false, &req, NULL), SLUICE_HTTP_BAD);
	cr_assert_eq(request_n(chromium, len, 0, false, &req, NULL), SLUICE_HTTP_BAD);
}

Test(http_upgrade, control_characters_are_bad_as_soon_as_they_arrive)
{
	for (unsigned b = 0; b < 0x80; b++) {
		char buf[512];
		size_t at, len;
		struct sluice_ws_request req;
		bool control = b < 0x20 || b == 0x7F;

		if (!control || b == '\t' || b == '\r' || b == '\n')
			continue;
		with_header(buf, sizeof(buf), "X-Note: a?b");
		len = strlen(buf);
		at = (size_t)(strstr(buf, "a?b") - buf) + 1;
		buf[at] = (char)b;
		cr_assert_eq(request_n(buf, len, MAX_HEAD, false, &req, NULL), SLUICE_HTTP_BAD,
			     "byte 0x%02x", b);
		/* Found before the head is complete. */
		cr_assert_eq(request_n(buf, at + 1, MAX_HEAD, false, &req, NULL), SLUICE_HTTP_BAD,
			     "byte 0x%02x", b);
		cr_assert_eq(request_n(buf, at, MAX_HEAD, false, &req, NULL),
			     SLUICE_HTTP_NEED_MORE);
	}
}

Test(http_upgrade, nul_in_request_line_is_bad)
{
	static const char head[] = "GET /ch\0at HTTP/1.1\r\nHost: h\r\n\r\n";
	struct sluice_ws_request req;

	cr_assert_eq(request_n(head, sizeof(head) - 1, MAX_HEAD, false, &req, NULL),
		     SLUICE_HTTP_BAD);
	cr_assert_eq(request_n(head, 8, MAX_HEAD, false, &req, NULL), SLUICE_HTTP_BAD);
}

Test(http_upgrade, htab_only_inside_values)
{
	char buf[512];
	struct sluice_ws_request req;

	with_header(buf, sizeof(buf), "X-Note:\ta\tb\t");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD);
	cr_assert(req.upgrade_websocket);
	with_header(buf, sizeof(buf), "Sec-WebSocket-Extensions:\tpermessage-deflate\t");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD);
	cr_assert(req.deflate_offered);
	with_header(buf, sizeof(buf), "X-\tNote: a");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_BAD);
	with_header(buf, sizeof(buf), "X-Note\t: a");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET /\tx HTTP/1.1\r\nHost: h\r\n\r\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET / HTTP/1.1\t\r\nHost: h\r\n\r\n", &req), SLUICE_HTTP_BAD);
}

Test(http_upgrade, obs_text_in_values_and_target_is_allowed)
{
	char buf[512];
	struct sluice_ws_request req;

	with_header(buf, sizeof(buf), "X-Name: \xe5\xbc\xa0\xe4\xb8\x89");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD);
	cr_assert(req.upgrade_websocket);
	cr_assert_eq(request("GET /\xe8\x81\x8a HTTP/1.1\r\nHost: h\r\n\r\n", &req),
		     SLUICE_HTTP_HEAD);
	/* Not in a name. */
	with_header(buf, sizeof(buf), "X-\xe5\xbc\xa0: a");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_BAD);
}

Test(http_upgrade, lines_end_in_crlf_only)
{
	struct sluice_ws_request req;
	char buf[512];

	cr_assert_eq(request("GET / HTTP/1.1\nHost: h\n\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: h\n\r\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: h\r\n\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", &req), SLUICE_HTTP_BAD);
	cr_assert_eq(request("\nGET / HTTP/1.1\r\n\r\n", &req), SLUICE_HTTP_BAD);
	/* A bare LF is BAD as soon as it arrives. */
	cr_assert_eq(request_n("GET / HTTP/1.1\nHo", 17, MAX_HEAD, false, &req, NULL),
		     SLUICE_HTTP_BAD);
	/* A CR at the end waits for its LF. */
	cr_assert_eq(request_n("GET / HTTP/1.1\r", 15, MAX_HEAD, false, &req, NULL),
		     SLUICE_HTTP_NEED_MORE);
	with_header(buf, sizeof(buf), "X-Note: a\rb");
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_BAD);
}

Test(http_upgrade, malformed_heads_are_bad)
{
	static const char *const bad[] = {
	    "\r\n\r\n",
	    "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", /* empty line first */
	    "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: h\r\n\tfolded\r\n\r\n",
	    "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : h\r\n\r\n",
	    "GET / HTTP/1.1\r\n: h\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost h\r\n\r\n",
	    "GET / HTTP/1.1\r\nHo(st: h\r\n\r\n",
	    "GET /chat\r\nHost: h\r\n\r\n",
	    "GET  /chat HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET /chat  HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET /chat HTTP/1.1 \r\nHost: h\r\n\r\n",
	    " GET /chat HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET /chat HTTPS/1.1\r\nHost: h\r\n\r\n",
	    "GET /chat HTTP/1.11\r\nHost: h\r\n\r\n",
	    "GET /chat HTTP/1\r\nHost: h\r\n\r\n",
	    "GET /chat http/1.1\r\nHost: h\r\n\r\n",
	    "GET HTTP/1.1\r\nHost: h\r\n\r\n",
	    "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	struct sluice_ws_request req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(request(bad[i], &req), SLUICE_HTTP_BAD, "%s", bad[i]);
}

Test(http_upgrade, well_formed_requests_that_are_not_upgrades)
{
	static const char *const lines[] = {
	    "POST /chat HTTP/1.1",
	    "get /chat HTTP/1.1",
	    "GET /chat HTTP/1.0",
	    "GET /chat HTTP/2.0",
	};
	static const char *const rest = "Host: h\r\n"
					"Upgrade: websocket\r\n"
					"Connection: Upgrade\r\n"
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
					"Sec-WebSocket-Version: 13\r\n"
					"\r\n";
	char buf[512];
	struct sluice_ws_request req;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		snprintf(buf, sizeof(buf), "%s\r\n%s", lines[i], rest);
		cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD, "%s", lines[i]);
		cr_assert_eq(req.head_len, strlen(buf));
		cr_assert_not(req.upgrade_websocket, "%s", lines[i]);
	}
	snprintf(buf, sizeof(buf), "GET /chat HTTP/1.1\r\n%s", rest);
	cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD);
	cr_assert(req.upgrade_websocket);

	cr_assert_eq(request("GET / HTTP/1.1\r\nHost: h\r\n\r\n", &req), SLUICE_HTTP_HEAD);
	cr_assert_not(req.upgrade_websocket);
}

/* Each required header missing or wrong, one at a time. */
Test(http_upgrade, each_upgrade_header_is_required)
{
	static const char *const base[] = {
	    "Upgrade: websocket",
	    "Connection: Upgrade",
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	    "Sec-WebSocket-Version: 13",
	};
	static const char *const wrong[] = {
	    "Upgrade: h2c",
	    "Connection: keep-alive",
	    "Sec-WebSocket-Key: ",
	    "Sec-WebSocket-Version: 8",
	};
	char buf[512];
	struct sluice_ws_request req;

	for (size_t skip = 0; skip < 4; skip++) {
		for (int replace = 0; replace < 2; replace++) {
			size_t n = (size_t)snprintf(buf, sizeof(buf), "GET /chat HTTP/1.1\r\n");
			for (size_t i = 0; i < 4; i++) {
				if (i != skip)
					n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\r\n",
							      base[i]);
				else if (replace)
					n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\r\n",
							      wrong[i]);
			}
			snprintf(buf + n, sizeof(buf) - n, "\r\n");
			cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD, "%s", buf);
			cr_assert_not(req.upgrade_websocket, "%s", buf);
		}
	}
}

Test(http_upgrade, header_values_are_token_lists)
{
	static const char *const rest = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
					"Sec-WebSocket-Version: 13\r\n"
					"\r\n";
	static const char *const good[] = {
	    "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n", /* Firefox */
	    "Upgrade: WebSocket\r\nConnection: upgrade\r\n",
	    "Upgrade: websocket\r\nConnection: Upgrade,keep-alive\r\n",
	    "Upgrade: websocket\r\nConnection: keep-alive\r\nConnection: Upgrade\r\n",
	    "Upgrade: h2c, websocket\r\nConnection: Upgrade\r\n",
	    "Upgrade:websocket\r\nConnection:Upgrade   \r\n",
	};
	static const char *const not_upgrade[] = {
	    "Upgrade: websockets\r\nConnection: Upgrade\r\n",
	    "Upgrade: websocket\r\nConnection: Upgraded\r\n",
	    "Upgrade: websocket\r\nConnection: keep-alive; Upgrade\r\n",
	    "Upgrade: websocket\r\nX-Connection: Upgrade\r\n",
	};
	char buf[512];
	struct sluice_ws_request req;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n%s%s", good[i], rest);
		cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD, "%s", good[i]);
		cr_assert(req.upgrade_websocket, "%s", good[i]);
	}
	for (size_t i = 0; i < sizeof(not_upgrade) / sizeof(not_upgrade[0]); i++) {
		snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n%s%s", not_upgrade[i], rest);
		cr_assert_eq(request(buf, &req), SLUICE_HTTP_HEAD, "%s", not_upgrade[i]);
		cr_assert_not(req.upgrade_websocket, "%s", not_upgrade[i]);
	}
}

Test(http_upgrade, extension_offers)
{
	cr_assert(offers_deflate("Sec-WebSocket-Extensions: permessage-deflate"));
	cr_assert(offers_deflate("Sec-WebSocket-Extensions: x-webkit-deflate-frame, "
				 "permessage-deflate; client_max_window_bits"));
	cr_assert(offers_deflate("Sec-WebSocket-Extensions: permessage-deflate; "
				 "client_max_window_bits=15; server_no_context_takeover, "
				 "permessage-deflate"));
	cr_assert(offers_deflate("Sec-WebSocket-Extensions:  ,  Permessage-Deflate  "));
	cr_assert(offers_deflate("Sec-WebSocket-Extensions: foo; bar=\"a,b\", "
				 "permessage-deflate"));
	cr_assert_not(offers_deflate("Sec-WebSocket-Extensions: x-webkit-deflate-frame"));
	cr_assert_not(offers_deflate("Sec-WebSocket-Extensions: permessage-deflate-x"));
	cr_assert_not(offers_deflate("Sec-WebSocket-Extensions: foo; permessage-deflate"));
	cr_assert_not(offers_deflate("Sec-WebSocket-Extensions: foo; "
				     "bar=\"x, permessage-deflate\""));
	cr_assert_not(offers_deflate("Sec-WebSocket-Extensions: foo; "
				     "bar=\"x\\\", permessage-deflate\""));
	cr_assert_not(offers_deflate("Sec-WebSocket-Extensions:"));
	cr_assert_not(offers_deflate("X-Sec-WebSocket-Extensions: permessage-deflate"));
}

Test(http_upgrade, mixed_case_header_names)
{
	const char *head = "GET /chat HTTP/1.1\r\n"
			   "HOST: chat.example.com\r\n"
			   "UPGRADE: WEBSOCKET\r\n"
			   "connection: upgrade\r\n"
			   "SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			   "sec-websocket-version: 13\r\n"
			   "Sec-Websocket-Extensions: PerMessage-Deflate\r\n"
			   "\r\n";
	struct sluice_ws_request req;
	struct sluice_ws_response resp;
	uint8_t out[512];
	size_t len = strlen(head);

	cr_assert_eq(request_n(head, len, MAX_HEAD, true, &req, out), SLUICE_HTTP_HEAD);
	cr_assert(req.upgrade_websocket);
	cr_assert(req.deflate_offered);
	cr_assert(req.extensions_stripped);
	cr_assert_not_null(
	    memmem(out, len, "\r\nX-Sluice-WS-Ext-Stripped: PerMessage-Deflate\r\n", 48));

	cr_assert_eq(response("HTTP/1.1 101 Switching Protocols\r\n"
			      "uPgRaDe: WebSocket\r\n"
			      "CONNECTION: UPGRADE\r\n"
			      "sec-websocket-extensions: permessage-deflate\r\n"
			      "\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert(resp.upgraded);
	cr_assert(resp.deflate_accepted);
}

/* Responses. */

Test(http_upgrade, response_101_with_deflate)
{
	struct sluice_ws_response resp;

	cr_assert_eq(response(response_deflate, &resp), SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.head_len, strlen(response_deflate));
	cr_assert_eq(resp.status, 101);
	cr_assert(resp.upgraded);
	cr_assert(resp.deflate_accepted);
	cr_assert_not(resp.other_extension);
}

Test(http_upgrade, response_101_without_extensions)
{
	struct sluice_ws_response resp;

	cr_assert_eq(response(response_plain, &resp), SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.head_len, strlen(response_plain));
	cr_assert_eq(resp.status, 101);
	cr_assert(resp.upgraded);
	cr_assert_not(resp.deflate_accepted);
	cr_assert_not(resp.other_extension);
}

Test(http_upgrade, response_101_then_frames_in_the_same_buffer)
{
	uint8_t buf[256];
	size_t head = strlen(response_plain);
	struct sluice_ws_response resp;
	struct sluice_ws_header h;
	size_t n;

	memcpy(buf, response_plain, head);
	n = sluice_ws_header_build(buf + head, true, 0, SLUICE_WS_TEXT, NULL, 5);
	memcpy(buf + head + n, "Hello", 5);
	cr_assert_eq(response_n(buf, head + n + 5, MAX_HEAD, &resp), SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.head_len, head);
	cr_assert(resp.upgraded);
	cr_assert_eq(sluice_ws_header_parse(buf + resp.head_len, n + 5, false, false, &h, NULL),
		     SLUICE_WS_HEADER);
	cr_assert_eq(h.payload_len, 5);
}

Test(http_upgrade, response_other_extensions)
{
	struct sluice_ws_response resp;

	cr_assert_eq(response("HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"
			      "\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert(resp.upgraded);
	cr_assert_not(resp.deflate_accepted);
	cr_assert(resp.other_extension);

	cr_assert_eq(response("HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Sec-WebSocket-Extensions: permessage-deflate\r\n"
			      "Sec-WebSocket-Extensions: my-ext; a=\"1,2\"\r\n"
			      "\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert(resp.deflate_accepted);
	cr_assert(resp.other_extension);
}

Test(http_upgrade, response_refusals)
{
	struct sluice_ws_response resp;

	cr_assert_eq(response("HTTP/1.1 400 Bad Request\r\n"
			      "Content-Type: text/plain\r\n"
			      "Content-Length: 45\r\n"
			      "Connection: close\r\n"
			      "\r\n"
			      "Failed to open a WebSocket connection: bad key",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.status, 400);
	cr_assert_not(resp.upgraded);
	cr_assert_eq(resp.head_len, strlen("HTTP/1.1 400 Bad Request\r\n"
					   "Content-Type: text/plain\r\n"
					   "Content-Length: 45\r\n"
					   "Connection: close\r\n"
					   "\r\n"));

	cr_assert_eq(response("HTTP/1.1 403 Forbidden\r\n"
			      "Upgrade: websocket\r\n"
			      "Connection: Upgrade\r\n"
			      "Content-Length: 0\r\n"
			      "\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.status, 403);
	cr_assert_not(resp.upgraded);
}

Test(http_upgrade, response_101_needs_the_upgrade_headers_and_http11)
{
	struct sluice_ws_response resp;

	cr_assert_eq(
	    response("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n", &resp),
	    SLUICE_HTTP_HEAD);
	cr_assert_not(resp.upgraded);
	cr_assert_eq(
	    response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", &resp),
	    SLUICE_HTTP_HEAD);
	cr_assert_not(resp.upgraded);
	cr_assert_eq(response("HTTP/1.1 101 Switching Protocols\r\n"
			      "Upgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert_not(resp.upgraded);
	cr_assert_eq(response("HTTP/1.0 101 Switching Protocols\r\n"
			      "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert_not(resp.upgraded);
	cr_assert_eq(response("HTTP/1.1 200 OK\r\n"
			      "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			      &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.status, 200);
	cr_assert_not(resp.upgraded);
}

Test(http_upgrade, response_status_line_forms)
{
	struct sluice_ws_response resp;

	/* No reason phrase, with and without the space before it. */
	cr_assert_eq(
	    response("HTTP/1.1 101 \r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", &resp),
	    SLUICE_HTTP_HEAD);
	cr_assert(resp.upgraded);
	cr_assert_eq(
	    response("HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", &resp),
	    SLUICE_HTTP_HEAD);
	cr_assert(resp.upgraded);
	cr_assert_eq(response("HTTP/1.1 101 Web\tSocket \xe5\x8d\x87\xe7\xba\xa7\r\n\r\n", &resp),
		     SLUICE_HTTP_HEAD);
	cr_assert_eq(resp.status, 101);
}

Test(http_upgrade, not_http_is_bad)
{
	static const char *const bad[] = {
	    "SSH-2.0-OpenSSH_9.2\r\n\r\n",
	    "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	    "http/1.1 101 Switching Protocols\r\n\r\n",
	    "HTTP/1.1 abc Nope\r\n\r\n",
	    "HTTP/1.1 10\r\n\r\n",
	    "HTTP/1.1 1010 Long\r\n\r\n",
	    "HTTP/1.1  101 Switching Protocols\r\n\r\n",
	    "HTTP/1.1101 Switching Protocols\r\n\r\n",
	    "HTTP/11 101 Switching Protocols\r\n\r\n",
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade : websocket\r\n\r\n",
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n continued\r\n\r\n",
	    "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\n\n",
	    "HTTP/1.1 101 Switching\x01Protocols\r\n\r\n",
	};
	struct sluice_ws_response resp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(response(bad[i], &resp), SLUICE_HTTP_BAD, "case %zu", i);

	/* Known from the first byte that differs from "HTTP/". */
	cr_assert_eq(response_n("S", 1, MAX_HEAD, &resp), SLUICE_HTTP_BAD);
	cr_assert_eq(response_n("\x16", 1, MAX_HEAD, &resp), SLUICE_HTTP_BAD);
	cr_assert_eq(response_n("HTTx", 4, MAX_HEAD, &resp), SLUICE_HTTP_BAD);
	cr_assert_eq(response_n("", 0, MAX_HEAD, &resp), SLUICE_HTTP_NEED_MORE);
	cr_assert_eq(response_n("HTT", 3, MAX_HEAD, &resp), SLUICE_HTTP_NEED_MORE);
	cr_assert_eq(response_n("HTTP/", 5, MAX_HEAD, &resp), SLUICE_HTTP_NEED_MORE);
}

Test(http_upgrade, response_split_at_every_byte_needs_more_until_complete)
{
	static const char *const heads[] = {response_deflate, response_plain};

	for (size_t r = 0; r < 2; r++) {
		size_t len = strlen(heads[r]);
		struct sluice_ws_response resp;

		for (size_t n = 0; n < len; n++) {
			cr_assert_eq(response_n(heads[r], n, MAX_HEAD, &resp),
				     SLUICE_HTTP_NEED_MORE, "%zu of %zu bytes", n, len);
			cr_assert_not(resp.upgraded);
		}
		cr_assert_eq(response_n(heads[r], len, MAX_HEAD, &resp), SLUICE_HTTP_HEAD);
		cr_assert(resp.upgraded);
	}
}

Test(http_upgrade, response_max_head_bound)
{
	size_t len = strlen(response_deflate);
	struct sluice_ws_response resp;

	cr_assert_eq(response_n(response_deflate, len, len, &resp), SLUICE_HTTP_HEAD);
	cr_assert_eq(response_n(response_deflate, len, len - 1, &resp), SLUICE_HTTP_BAD);
	cr_assert_eq(response_n(response_deflate, len - 2, len - 1, &resp), SLUICE_HTTP_NEED_MORE);
}

Test(http_upgrade, response_control_characters_are_bad)
{
	for (unsigned b = 0; b < 0x80; b++) {
		char buf[256];
		struct sluice_ws_response resp;

		if (!(b < 0x20 || b == 0x7F) || b == '\t' || b == '\r' || b == '\n')
			continue;
		snprintf(buf, sizeof(buf), "%s", response_plain);
		buf[40] = (char)b; /* inside "Upgrade: websocket" */
		cr_assert_eq(response_n(buf, strlen(response_plain), MAX_HEAD, &resp),
			     SLUICE_HTTP_BAD, "byte 0x%02x", b);
		cr_assert_eq(response_n(buf, 41, MAX_HEAD, &resp), SLUICE_HTTP_BAD);
	}
}

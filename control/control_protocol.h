/* The control socket protocol, shared by the daemon and sluicectl.
 *
 * A client connects to the Unix stream socket, writes one request line
 * ("status", "stats", "reload /abs/path.pack", "rollback", "stop") and reads one
 * JSON object terminated by a newline; then both sides close. Every reply has
 * "ok": true, or "ok": false with "error" saying why.
 */
#ifndef SLUICE_CONTROL_CONTROL_PROTOCOL_H
#define SLUICE_CONTROL_CONTROL_PROTOCOL_H

#include <stddef.h>

#define SLUICE_CTL_MAX_REQUEST 4096

/* Sends request (no newline) to the socket and returns the reply in *reply
 * (malloc'd, NUL-terminated). timeout_ms bounds the whole exchange. Returns 0,
 * or -1 with err. */
int sluice_ctl_request(const char *socket_path, const char *request, int timeout_ms, char **reply,
		       char *err, size_t err_len);

#endif

/* How Sluice's NATS clients (the events bus, the fleet's pack store and
 * `sluicectl fleet`) are secured: one set of options for both, plain paths
 * so that any layer can carry them without cnats' headers; nats_connect.c
 * applies them.
 *
 * Security (struct sluice_nats_security, every member optional):
 * - ca_file: TLS to every server, verified against these CAs (PEM), host
 *   names checked against the URLs' (cnats with OpenSSL). A tls:// URL
 *   alone asks for TLS verified against the system's CAs.
 * - cert_file and key_file, together: the client's certificate, for servers
 *   that verify clients (nats-server --tlsverify).
 * - user_file: "USER:PASSWORD" on its first line; creds_file: a NATS
 *   credentials file (user JWT and NKey seed, `nsc`). One or the other.
 *   Both, and the key, must not be readable by others (file_read.h): the
 *   password never sits in a URL, a command line or a config file.
 */
#ifndef SLUICE_CONTROL_NATS_SECURITY_H
#define SLUICE_CONTROL_NATS_SECURITY_H

#include <stddef.h>

struct sluice_nats_security {
	const char *ca_file;
	const char *cert_file, *key_file;
	const char *user_file;
	const char *creds_file;
};

/* Reads and checks what sec names (NULL: nothing), without connecting:
 * for --check-config and sluicectl. 0, or -1 with err. */
int sluice_nats_security_check(const struct sluice_nats_security *sec, char *err, size_t err_len);

#endif

/* Raw client ends of the control socket, for clients that misbehave on
 * purpose: connecting, sending bytes that are not a proper request, and
 * waiting, with a deadline, for what the server does about it.
 *
 * Contract: nothing here blocks past the deadline it is given; sends use
 * MSG_NOSIGNAL, so a server that has gone away is an error here, never a
 * SIGPIPE (the daemon shares this process, and a SIGPIPE that reached the
 * process would be the daemon's defect to find, not ours to cause).
 */
#ifndef SLUICE_BENCH_SOAK_ABUSE_SOCKET_H
#define SLUICE_BENCH_SOAK_ABUSE_SOCKET_H

#include <stdbool.h>
#include <stddef.h>

/* A non-blocking Unix stream socket connected to path, or -1 (errno). */
int abuse_connect(const char *path);

/* Sends all of buf by deadline (sluice_mono_s() seconds); false when the server
 * closed, refused or did not take it in time. */
bool abuse_send(int fd, const void *buf, size_t len, double deadline);

enum abuse_answer {
	ANSWER_REPLY,  /* the server wrote something (buf holds it, NUL-terminated) */
	ANSWER_CLOSED, /* the server closed without writing */
	ANSWER_NONE,   /* neither by the deadline */
};

/* Reads what the server sends until its newline, its close, or deadline. */
enum abuse_answer abuse_await(int fd, char *buf, size_t cap, double deadline);

#endif

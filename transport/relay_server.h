/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The server end of the relay socket (docs/PROTOCOL.md section 9): `httun fcgi` processes
 * connect over a Unix stream socket and send the requests their web server hands them;
 * each becomes a struct http_request for the same handler the HTTP server calls, and is
 * answered through the same http_response_* functions. Peers are checked by their kernel
 * credentials (SO_PEERCRED) before a byte is read from them.
 */
#ifndef HTTUN_TRANSPORT_RELAY_SERVER_H
#define HTTUN_TRANSPORT_RELAY_SERVER_H

#include "core/request.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

struct relay_server;

struct relay_server_config {
	/* Relays accepted besides root: peers whose uid is allow_uid. (uid_t)-1: none. */
	uid_t allow_uid;
	/*
	 * The group the socket file and a directory the server creates get, so that
	 * allow_uid's processes can reach it (its primary group). (gid_t)-1: none. Being in
	 * it admits nobody: the credential check is by uid.
	 */
	gid_t sock_gid;
	/*
	 * 0: RELAY_HELLO_TIMEOUT_MS, RELAY_READ_TIMEOUT_MS, RELAY_WRITE_TIMEOUT_MS,
	 * RELAY_IDLE_TIMEOUT_MS (tests set them shorter).
	 */
	uint64_t hello_timeout_ms, read_timeout_ms, write_timeout_ms, idle_timeout_ms;
};

struct relay_server_stats {
	uint64_t accepted; /* relay connections taken on */
	uint64_t refused; /* connections from peers with the wrong credentials, or too many */
	uint64_t broken; /* connections closed for a protocol error */
	uint64_t requests; /* requests handed to the handler */
	uint64_t cancelled; /* requests the relay cancelled or lost while parked */
	uint64_t evicted; /* connections not in use closed to make room at the cap */
	uint64_t timed_out; /* connections closed for a HELLO, read, write or idle timeout */
};

/* cfg is copied. Returns NULL when out of memory. */
struct relay_server *relay_server_new(uv_loop_t *loop, const struct relay_server_config *cfg,
				      http_request_cb on_request, void *arg);
/*
 * Listens on the Unix socket path (absolute). A missing parent directory is created with
 * mode 0750; a stale socket file there is replaced; the socket gets mode 0660. Both get
 * group sock_gid when one is set. Returns 0 or a negative errno.
 */
int relay_server_listen(struct relay_server *rs, const char *path);
const struct relay_server_stats *relay_server_stats(const struct relay_server *rs);
/*
 * Closes the listener (removing its socket file) and every relay connection (parked
 * requests get their cancel callback) and frees rs once libuv has closed its handles.
 */
void relay_server_free(struct relay_server *rs);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The FastCGI application (docs/FASTCGI.md): accepts FastCGI connections from a web server
 * and answers their requests. Many connections and parked long-polls at once, on one libuv
 * loop. Two modes:
 * - relay (`httun fcgi`): each request becomes a relay REQUEST to `httun server` over its
 *   Unix socket (docs/PROTOCOL.md section 9) and each RESPONSE STDOUT records again; the
 *   relay connection is re-established with backoff whenever the server goes away.
 * - local (`httun server --fcgi-listen`): each request becomes a struct http_request for a
 *   handler in the same process, answered through the http_response_* functions like the
 *   HTTP server's; answers are written from the handler's buffers, not copied.
 */
#ifndef HTTUN_FCGI_FCGI_APP_H
#define HTTUN_FCGI_FCGI_APP_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "transport/http_server.h"

struct fcgi_app;

struct fcgi_app_stats {
	uint64_t connections; /* FastCGI connections accepted */
	uint64_t requests; /* requests relayed */
	uint64_t local_errors; /* requests answered here (relay down, malformed, too large) */
	uint64_t aborted; /* requests the web server aborted or lost */
	uint64_t relay_connects; /* relay connections established (HELLO answered) */
};

/* server_socket: the relay socket of `httun server` (copied). NULL when out of memory. */
struct fcgi_app *fcgi_app_new(uv_loop_t *loop, const char *server_socket);
/*
 * Local mode: complete requests go to on_request(req, arg), as from the HTTP server (a
 * request carries no headers: http_request_header gives NULL). NULL when out of memory.
 */
struct fcgi_app *fcgi_app_new_local(uv_loop_t *loop, http_request_cb on_request, void *arg);
/*
 * Accepts FastCGI connections on fd, a listening socket the web server handed over
 * (FCGI_LISTENSOCK_FILENO, fd 0): Unix or TCP. Returns 0 or a negative errno (-ENOTSOCK
 * when fd is not a listening stream socket).
 */
int fcgi_app_listen_fd(struct fcgi_app *app, int fd);
/*
 * Listens on a Unix socket path of its own (absolute), mode 0660, group gid unless
 * (gid_t)-1; the socket file is removed when the app is freed. Its directory must be
 * owned by root or this user and writable by neither group nor others (-EPERM, logged).
 * A stale socket there is replaced. 0 or a negative errno.
 */
int fcgi_app_listen_path(struct fcgi_app *app, const char *path, gid_t gid);
const struct fcgi_app_stats *fcgi_app_stats(const struct fcgi_app *app);
/*
 * How long a request body may get no STDIN (default FCGI_BODY_IDLE_MS), and how long it
 * may take in all from the end of PARAMS (default FCGI_BODY_DEADLINE_MS), before the
 * request is answered 408 and its body freed; checked every FCGI_TICK_MS. Bodies are
 * charged to FCGI_BODY_BYTES_TOTAL as their bytes arrive: when a body would pass it, the
 * slowest incomplete body is answered 503 to make room (docs/FASTCGI.md).
 */
void fcgi_app_set_body_idle_ms(struct fcgi_app *app, uint64_t ms);
void fcgi_app_set_body_deadline_ms(struct fcgi_app *app, uint64_t ms);
/*
 * Relay mode: after how long with nothing relayed or answered the relay connection is
 * closed and opened again (default FCGI_RELAY_IDLE_MS), ahead of the server's
 * RELAY_IDLE_TIMEOUT_MS.
 */
void fcgi_app_set_relay_idle_ms(struct fcgi_app *app, uint64_t ms);
/*
 * Starts connecting to the relay socket (and keeps reconnecting) in relay mode, and the
 * timeouts in both. Call once listening.
 */
void fcgi_app_start(struct fcgi_app *app);
/* Closes everything; app is freed once libuv has closed its handles. */
void fcgi_app_free(struct fcgi_app *app);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The FastCGI application (docs/FASTCGI.md): accepts FastCGI connections from a web server
 * and turns their requests into struct http_request (core/request.h) for one handler,
 * answered through the http_response_* functions like the HTTP server's; answers are
 * written as STDOUT records from the handler's buffers, not copied. Many connections and
 * parked long-polls at once, on one libuv loop. The handler is the tunnel in `httun
 * server --fcgi-listen`, and the relay client (transport/relay_client.h) in `httun fcgi`.
 */
#ifndef HTTUN_FCGI_FCGI_APP_H
#define HTTUN_FCGI_FCGI_APP_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "core/request.h"

struct fcgi_app;

struct fcgi_app_stats {
	uint64_t connections; /* FastCGI connections accepted */
	uint64_t requests; /* requests handed to the handler */
	uint64_t local_errors; /* requests answered here (malformed, too large, too slow) */
	uint64_t aborted; /* requests the web server aborted or lost */
};

/*
 * Complete requests go to on_request(req, arg), as from the HTTP server (a request
 * carries no headers: http_request_header gives NULL). NULL when out of memory.
 */
struct fcgi_app *fcgi_app_new(uv_loop_t *loop, http_request_cb on_request, void *arg);
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
/* Starts the body timeouts. Call once listening. */
void fcgi_app_start(struct fcgi_app *app);
/* Closes everything; app is freed once libuv has closed its handles. */
void fcgi_app_free(struct fcgi_app *app);

#endif

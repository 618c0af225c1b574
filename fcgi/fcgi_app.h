/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The FastCGI application `httun fcgi` (docs/FASTCGI.md): accepts FastCGI connections from
 * a web server, turns each request into a relay REQUEST to `httun server` over its Unix
 * socket (docs/PROTOCOL.md section 9) and each RESPONSE back into STDOUT records. Many
 * connections and parked long-polls at once, on one libuv loop. The relay connection is
 * re-established with backoff whenever the server goes away.
 */
#ifndef HTTUN_FCGI_FCGI_APP_H
#define HTTUN_FCGI_FCGI_APP_H

#include <stdint.h>
#include <uv.h>

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
 * Accepts FastCGI connections on fd, a listening socket the web server handed over
 * (FCGI_LISTENSOCK_FILENO, fd 0): Unix or TCP. Returns 0 or a negative errno (-ENOTSOCK
 * when fd is not a listening stream socket).
 */
int fcgi_app_listen_fd(struct fcgi_app *app, int fd);
/* Listens on a Unix socket path of its own (for nginx), mode 0660. 0 or a negative errno. */
int fcgi_app_listen_path(struct fcgi_app *app, const char *path);
const struct fcgi_app_stats *fcgi_app_stats(const struct fcgi_app *app);
/*
 * How long a request body may get no STDIN before the request is answered 408 and its
 * body freed (default FCGI_BODY_IDLE_MS; checked every FCGI_TICK_MS). Request bodies held
 * at once are bounded by FCGI_BODY_BYTES_TOTAL: a request over it is answered 503.
 */
void fcgi_app_set_body_idle_ms(struct fcgi_app *app, uint64_t ms);
/*
 * Starts connecting to the relay socket (and keeps reconnecting). Call once listening.
 */
void fcgi_app_start(struct fcgi_app *app);
/* Closes everything; app is freed once libuv has closed its handles. */
void fcgi_app_free(struct fcgi_app *app);

#endif

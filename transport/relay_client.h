/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The relay's client end, inside `httun fcgi` (docs/PROTOCOL.md section 9): a request
 * handler that passes each struct http_request on to `httun server` over its Unix relay
 * socket as a REQUEST, and answers it with the server's RESPONSE. transport/relay_server.c
 * is the other end. The connection is made at start and again with backoff whenever the
 * server goes away; a request that comes while it is away waits RELAY_WAIT_MS for it,
 * then gets 503. An idle connection is closed and made again after FCGI_RELAY_IDLE_MS,
 * before the server's RELAY_IDLE_TIMEOUT_MS would close it under a request.
 *
 * `httun fcgi` is the FastCGI source (fcgi/fcgi_app.h) with this as its handler.
 */
#ifndef HTTUN_TRANSPORT_RELAY_CLIENT_H
#define HTTUN_TRANSPORT_RELAY_CLIENT_H

#include <stdint.h>
#include <uv.h>

#include "core/request.h"

struct relay_client;

struct relay_client_stats {
	uint64_t requests; /* requests relayed */
	uint64_t unavailable; /* answered 503 here: the server was away or went away */
	uint64_t cancelled; /* relayed requests whose client went away (CANCEL sent) */
	uint64_t connects; /* relay connections established (HELLO answered) */
};

/* server_socket: the relay socket of `httun server` (copied). NULL when out of memory. */
struct relay_client *relay_client_new(uv_loop_t *loop, const char *server_socket);
/* After how long with nothing relayed or answered the connection is made again. */
void relay_client_set_idle_ms(struct relay_client *rc, uint64_t ms);
/* Connects, and keeps reconnecting. Call once. */
void relay_client_start(struct relay_client *rc);
/*
 * The handler (http_request_cb; arg is the relay_client). It takes the request's body when
 * the request is written to the relay, sets the request's cancel callback, and answers
 * every request exactly once unless the source cancels it first.
 */
void relay_client_on_request(struct http_request *req, void *arg);
const struct relay_client_stats *relay_client_stats(const struct relay_client *rc);
/*
 * Closes the connection; requests still held are not answered (free the request source
 * first: its requests are cancelled into this). rc is freed once libuv has closed its
 * handles.
 */
void relay_client_free(struct relay_client *rc);

#endif

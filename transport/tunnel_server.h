/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The server end of the tunnel (docs/DESIGN.md): answers the HTTP requests of
 * docs/PROTOCOL.md section 7 for any number of channels. It does not own the HTTP server
 * or the TUN devices: cmd/ hands it requests (tunnel_server_on_request is an
 * http_request_cb) and wires each channel's tunnel_io to a TUN.
 */
#ifndef HTTUN_TRANSPORT_TUNNEL_SERVER_H
#define HTTUN_TRANSPORT_TUNNEL_SERVER_H

#include "core/request.h"
#include "transport/tunnel.h"

#include <uv.h>

struct tunnel_server;
struct tunnel_channel;

struct tunnel_server_config {
	const char *path; /* URL prefix served, ends with '/'; copied */
	uint64_t poll_hold_ms; /* 0: POLL_HOLD_MS */
};

/* Returns NULL when out of memory. */
struct tunnel_server *tunnel_server_new(uv_loop_t *loop, const struct tunnel_server_config *cfg);
/*
 * Frees channels and sessions, once its handles are closed and every response body it
 * handed to the HTTP server has come back (cancelled writes call back late). Free the
 * HTTP server first, so that no new request arrives.
 */
void tunnel_server_free(struct tunnel_server *srv);
/* Housekeeping: tunnel_endpoint_trim for every channel; returns the bytes freed. */
size_t tunnel_server_trim(struct tunnel_server *srv);

/* An http_request_cb; arg is the tunnel_server. */
void tunnel_server_on_request(struct http_request *req, void *arg);

/* Adds a channel; name and psk are copied. Returns NULL when out of memory or too many. */
struct tunnel_channel *tunnel_server_add_channel(struct tunnel_server *srv, const char *name,
						 const uint8_t psk[PSK_BYTES],
						 const struct tunnel_io *io);
/* The endpoint of a channel: its TUN read callbacks take this as ctx. */
struct tunnel_endpoint *tunnel_channel_endpoint(struct tunnel_channel *ch);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The client end of the tunnel (docs/DESIGN.md): handshakes with the server, keeps
 * CLIENT_POLLS long-polls outstanding for downstream frames, sends upstream frames in up
 * to CLIENT_POSTS POSTs at once, rekeys, and recovers by itself (with backoff) when the
 * server restarts or the network fails. cmd/ wires its tunnel_io to a TUN.
 */
#ifndef HTTUN_TRANSPORT_TUNNEL_CLIENT_H
#define HTTUN_TRANSPORT_TUNNEL_CLIENT_H

#include "core/config.h"
#include "transport/tunnel.h"

#include <uv.h>

struct tunnel_client;

struct tunnel_client_config {
	const struct config_url *url; /* the path is the server's --path */
	const uint8_t *psk;
	struct tunnel_io io;
};

/*
 * Resolves the server's name (once, now) and starts connecting. Returns 0, or a negative
 * errno with a message in err: -EPROTONOSUPPORT (https), -EHOSTUNREACH (name that does not
 * resolve), -ENOMEM.
 */
int tunnel_client_new(struct tunnel_client **out, uv_loop_t *loop,
		      const struct tunnel_client_config *cfg, char *err, size_t errlen);
/* Stops everything; memory goes once libuv has closed the last handle. */
void tunnel_client_free(struct tunnel_client *cli);
/* Housekeeping: idle frame buffers and kept HTTP bodies; returns the bytes freed. */
size_t tunnel_client_trim(struct tunnel_client *cli);
/* The endpoint: the TUN read callbacks take it as ctx. */
struct tunnel_endpoint *tunnel_client_endpoint(struct tunnel_client *cli);
/* True while a session with the server is up. */
bool tunnel_client_connected(const struct tunnel_client *cli);

#endif

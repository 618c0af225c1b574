/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The L7 streams of one channel (docs/PROTOCOL.md section 5, "L7 streams"; the user's
 * side in docs/CONFIGURATION.md): TCP sockets on libuv carried as streams of the
 * channel's tunnel endpoint.
 *
 * Client: listens on each forward's BIND:PORT; every accepted connection becomes a stream
 * (L7_OPEN to the forward's HOST:PORT) once a session is up.
 * Server: answers L7_OPEN by resolving the host (uv_getaddrinfo; an IP literal is not
 * looked up), checking every address against the channel's policy, and connecting to
 * the first allowed address, exactly the one checked; L7_RESET with the reason otherwise.
 *
 * Streams belong to the endpoint, not to a session: they survive rekeys. Per stream,
 * flow control bounds memory by the window (core/stream.h): a socket is read only while
 * the peer's window has room, straight into the open frame (no copy), and the window
 * this side announces moves only as writes to the local socket complete.
 */
#ifndef HTTUN_TRANSPORT_L7_STREAMS_H
#define HTTUN_TRANSPORT_L7_STREAMS_H

#include "core/config.h"
#include "core/policy.h"
#include "transport/tunnel.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

struct l7_streams;

/*
 * Streams of all the server's channels together, against the process's file descriptors
 * (L7_MAX_STREAMS_TOTAL, FD_RESERVE). Owned by the caller and shared by every channel's
 * l7_streams; it must outlive them all.
 */
struct l7_budget {
	unsigned max; /* streams allowed at once, open or closing */
	unsigned used; /* streams holding a place now */
	uint64_t refused; /* L7_OPENs refused because used was at max */
};

struct l7_streams_config {
	const char *name; /* channel (server) or server URL (client), for log lines; copied */
	bool server;
	const struct policy *policy; /* server: borrowed, must outlive the object */
	const struct config_forward *forwards; /* client: copied */
	size_t n_forwards;
	uint64_t window_bytes; /* receive window per stream; 0: L7_WINDOW_BYTES_DEFAULT */
	uint64_t gap_timeout_ms; /* 0: L7_GAP_TIMEOUT_MS */
	struct l7_budget *budget; /* server: shared by all channels; NULL: none */
};

/*
 * Creates the streams of one channel; a client binds and listens on every forward now.
 * Returns 0, or a negative errno with a message in err (a forward that cannot listen,
 * out of memory).
 */
int l7_streams_new(struct l7_streams **out, uv_loop_t *loop, const struct l7_streams_config *cfg,
		   char *err, size_t errlen);
/*
 * Carry the streams through ep: sets ep's l7 hooks. Call once, before the loop runs;
 * ep must outlive the object or l7_streams_free must come first.
 */
void l7_streams_attach(struct l7_streams *l7, struct tunnel_endpoint *ep);
/*
 * Closes listeners and every stream's socket (with a TCP reset) and detaches from the
 * endpoint at once; memory goes once libuv has closed the last handle.
 */
void l7_streams_free(struct l7_streams *l7);

/*
 * The channel's session expired (the server's tunnel calls this through the endpoint's
 * l7_session_lost hook): close every stream's socket with a TCP reset. A client that
 * was killed leaves no other trace, and its streams would hold sockets and count against
 * L7_MAX_STREAMS until their targets closed them.
 */
void l7_streams_session_lost(struct l7_streams *l7);

/* Streams open now (for tests and status). */
unsigned l7_streams_count(const struct l7_streams *l7);
/* The address forward i listens on (port 0 in the config: the one the kernel chose). */
int l7_streams_forward_addr(const struct l7_streams *l7, size_t i, struct sockaddr_storage *out);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Generic HTTP/1.1 server on a libuv loop (docs/TRANSPORT.md). One request at a time per
 * connection; each complete request goes to the handler as a struct http_request
 * (core/request.h), which answers immediately or later (long-poll), and hears about a
 * client that goes away while its request is parked through the cancel callback.
 * Nothing here knows about httun: requests and responses with binary bodies.
 */
#ifndef HTTUN_TRANSPORT_HTTP_SERVER_H
#define HTTUN_TRANSPORT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/http_status.h" /* http_status_reason */
#include "core/request.h"

/* Limits and timeouts; http_server_config_default() fills in the core/limits.h values. */
struct http_server_config {
	size_t max_url_bytes;
	size_t max_header_bytes; /* names plus values */
	unsigned max_header_count;
	size_t max_body_bytes;
	size_t max_body_bytes_total; /* body bytes received and held, all connections */
	unsigned max_connections;
	/*
	 * Connections from one source (an IPv4 address, an IPv6 /64) that no request has
	 * vouched for yet (http_request_vouch); 0: no limit.
	 */
	unsigned max_unvouched_per_source;
	uint64_t header_timeout_ms;
	uint64_t idle_timeout_ms;
	uint64_t body_timeout_ms; /* longest gap between two reads of a body */
	uint64_t body_deadline_ms; /* from the end of the head to the end of the body */
	uint64_t write_timeout_ms;
	uint64_t linger_ms;
};

void http_server_config_default(struct http_server_config *cfg);

/* Counters, for logs and tests. */
struct http_server_stats {
	uint64_t accepted; /* connections taken on */
	uint64_t rejected; /* connections refused at a cap (nothing could give way): 503 */
	uint64_t evicted; /* unvouched connections closed to make room at the cap */
	uint64_t evicted_source; /* the same, at the per-source cap */
	uint64_t bodies_dropped; /* bodies dropped to make room in the body budget */
	uint64_t requests; /* requests handed to the handler */
	uint64_t errors; /* requests answered 4xx by the server itself */
	uint64_t timeouts; /* connections closed by a header, body, idle or write timeout */
	uint64_t cancelled; /* parked requests whose client went away */
	uint64_t shed; /* connections closed unserved: no file descriptor left to take them */
	uint64_t body_bytes; /* now: body bytes held against max_body_bytes_total */
};

struct http_server;

/*
 * Creates a server on loop. cfg may be NULL for the defaults; it is copied. on_request is
 * called once per complete request. Returns NULL when out of memory.
 */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_config *cfg,
				    http_request_cb on_request, void *arg);
/*
 * Listens on one address (IPv4 or IPv6; an IPv6 address means only IPv6, like nginx's
 * ipv6only=on, so [::]:80 and 0.0.0.0:80 can both be given). Call once per address.
 * Returns 0 or a negative errno.
 */
int http_server_listen(struct http_server *srv, const struct sockaddr *addr);
/* Local address of the idx-th listener (to learn an ephemeral port). 0 or -errno. */
int http_server_sockname(const struct http_server *srv, unsigned idx, struct sockaddr_storage *out);
const struct http_server_stats *http_server_stats(const struct http_server *srv);
/*
 * Housekeeping (every MEM_TRIM_INTERVAL_MS): frees the body buffers that connections keep
 * between requests (up to HTTP_BODY_KEEP_BYTES each) when no request on that connection
 * had a body since the last call. Returns the bytes freed.
 */
size_t http_server_trim(struct http_server *srv);
/*
 * Closes the listeners and every connection (parked requests get their cancel callback)
 * and frees the server once libuv has closed the last handle. srv is invalid afterwards.
 */
void http_server_free(struct http_server *srv);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Generic HTTP/1.1 client for one origin (docs/TRANSPORT.md): a small pool of keep-alive
 * connections, one request in flight per connection (so a parked long-poll never blocks
 * another request), requests beyond the pool wait in FIFO order.
 */
#ifndef HTTUN_TRANSPORT_HTTP_CLIENT_H
#define HTTUN_TRANSPORT_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "core/config.h" /* struct config_url */
#include "core/http_head.h" /* enum http_method */

struct http_client_config {
	unsigned pool_size; /* connections to the origin, at most */
	uint64_t connect_timeout_ms;
	size_t max_body_bytes; /* response body */
	size_t max_header_bytes;
	unsigned max_header_count;
};

void http_client_config_default(struct http_client_config *cfg);

struct http_client_stats {
	uint64_t connects; /* TCP connections opened */
	uint64_t requests; /* requests written */
	uint64_t retries; /* requests re-sent after a reused connection died before answering */
};

/*
 * The outcome of a request. err is 0 and status the HTTP status on a response, or err is
 * a negative errno: -ECONNREFUSED, -ECONNRESET (connection lost before the whole
 * response), -ETIMEDOUT (request timeout), -EPROTO (malformed response), -EMSGSIZE
 * (response over a limit), -ECANCELED (client freed), or another libuv error.
 * body is contiguous and borrowed for the duration of the callback; to keep it, take it
 * (set resp->body to NULL and free() it later).
 */
struct http_response {
	int err;
	int status;
	uint8_t *body;
	size_t body_len;
};

typedef void (*http_client_cb)(struct http_response *resp, void *arg);

struct http_client;

/*
 * Creates a client for the origin of url (config_parse_url(); its path is ignored,
 * requests name their own). The Host header is HOST:PORT ([HOST]:PORT for IPv6), the port
 * always written. Host names are resolved here, once, with a blocking getaddrinfo: this
 * runs at startup. cfg may be NULL for the defaults. Returns 0, -EPROTONOSUPPORT for an
 * https URL (no TLS in this version), -EHOSTUNREACH when the name does not resolve, or
 * -ENOMEM.
 */
int http_client_new(struct http_client **out, uv_loop_t *loop, const struct config_url *url,
		    const struct http_client_config *cfg);
/* Fails outstanding requests with -ECANCELED, closes connections, frees asynchronously. */
void http_client_free(struct http_client *cli);
const struct http_client_stats *http_client_stats(const struct http_client *cli);
/*
 * Housekeeping (every MEM_TRIM_INTERVAL_MS): frees the body buffers that connections keep
 * between responses (up to HTTP_BODY_KEEP_BYTES each) when no response on that
 * connection had a body since the last call. Returns the bytes freed.
 */
size_t http_client_trim(struct http_client *cli);

/*
 * Issues a request. path is copied. The body is the nbufs buffers (written with one
 * writev); they must stay valid until cb runs. content_type NULL means
 * application/octet-stream (sent only with a body or for POST). timeout_ms counts from
 * this call to the end of the response, including time queued for a free connection;
 * long-polls pass a longer one. cb runs exactly once, and not from inside this call.
 * Returns 0, or a negative errno (-EINVAL, -ENOMEM) and then cb is not called.
 */
int http_client_request(struct http_client *cli, enum http_method method, const char *path,
			const char *content_type, const uv_buf_t *bufs, unsigned nbufs,
			uint64_t timeout_ms, http_client_cb cb, void *arg);

#endif

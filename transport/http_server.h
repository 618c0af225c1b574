/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Generic HTTP/1.1 server on a libuv loop (docs/TRANSPORT.md). One request at a time per
 * connection; the handler answers immediately or later (long-poll), and hears about a
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

#include "core/http_head.h" /* enum http_method */
#include "core/http_status.h" /* http_status_reason */

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
	uint64_t rejected; /* connections over max_connections: 503 and closed */
	uint64_t evicted; /* unvouched connections closed to make room at the cap */
	uint64_t evicted_source; /* the same, at the per-source cap */
	uint64_t bodies_dropped; /* slowest bodies dropped when the body budget was full */
	uint64_t requests; /* requests handed to the handler */
	uint64_t errors; /* requests answered 4xx by the server itself */
	uint64_t timeouts; /* connections closed by a header, body, idle or write timeout */
	uint64_t cancelled; /* parked requests whose client went away */
	uint64_t shed; /* connections closed unserved: no file descriptor left to take them */
};

struct http_request;
struct http_server;

/*
 * A complete request. It stays valid until the handler answers it (http_response_send*)
 * or until its cancel callback returns; the server never frees it under the handler
 * otherwise. Exactly one of the two ends a request.
 */
typedef void (*http_request_cb)(struct http_request *req, void *arg);
typedef void (*http_cancel_cb)(struct http_request *req, void *arg);
/*
 * Called once when the response's body buffers are no longer referenced: status 0 when
 * they were written, a negative errno when the connection failed first.
 */
typedef void (*http_sent_cb)(int status, void *arg);

/*
 * Where a request came from answers it: the HTTP server here, or the relay from `httun
 * fcgi` (transport/relay_server.h). Handlers call the http_request_* and http_response_*
 * functions below, which go through the request's ops; they never see the difference.
 */
struct http_request_ops {
	int (*sendv)(struct http_request *req, int status, const char *content_type,
		     const uv_buf_t *bufs, unsigned nbufs, http_sent_cb sent_cb, void *arg);
	int (*send_error)(struct http_request *req, int status, bool close);
	void (*set_cancel)(struct http_request *req, http_cancel_cb cb, void *arg);
	uint8_t *(*take_body)(struct http_request *req, size_t *len);
	/* NULL when the source carries no headers. */
	const char *(*header)(const struct http_request *req, const char *name);
	/* NULL when the source has no connections of its own to protect. */
	void (*vouch)(struct http_request *req);
};

struct http_request {
	const struct http_request_ops *ops; /* set by the source, never by a handler */
	enum http_method method;
	const char *method_name; /* "GET", "PUT", ... */
	const char *url; /* NUL-terminated request target, as sent */
	size_t url_len;
	/*
	 * The body, contiguous (chunked bodies are joined). It belongs to the connection and
	 * is valid as long as the request; http_request_take_body() hands it over instead.
	 */
	uint8_t *body;
	size_t body_len;
	/* For the handler; the server does not touch it. */
	void *user;
};

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

/* The method named name (case-sensitive, as HTTP has it): HTTP_METHOD_OTHER for the rest. */
enum http_method http_method_of(const char *name);
/* First value of a header, case-insensitive name, NUL-terminated; NULL when absent. */
const char *http_request_header(const struct http_request *req, const char *name);
/*
 * Takes the body out of the request: the caller owns it and frees it with free().
 * Returns NULL for an empty body.
 */
uint8_t *http_request_take_body(struct http_request *req, size_t *len);
/* Called if the client goes away (or the server is freed) before the request is answered. */
void http_request_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg);
/*
 * The handler found something in req that only a key holder can make (an authenticated
 * frame or poll): its connection is never evicted to make room for others, and no longer
 * counts against max_unvouched_per_source. Connections nobody vouched for are the ones
 * that give way at the caps (docs/TRANSPORT.md "Limits").
 */
void http_request_vouch(struct http_request *req);

/*
 * Answers req with status (100..999) and a body in nbufs buffers (written with one writev, never
 * copied). content_type NULL means application/octet-stream. The buffers must stay valid
 * until sent_cb runs; sent_cb may be NULL only for static buffers. req is invalid after
 * the call, whatever it returns. Returns 0, or a negative errno when the response could
 * not be queued (the connection is closed then, and sent_cb still runs).
 */
int http_response_sendv(struct http_request *req, int status, const char *content_type,
			const uv_buf_t *bufs, unsigned nbufs, http_sent_cb sent_cb, void *arg);
/* One-buffer form of http_response_sendv(). */
int http_response_send(struct http_request *req, int status, const char *content_type,
		       const void *body, size_t len, http_sent_cb sent_cb, void *arg);
/*
 * An ordinary web-server error answer: "404 Not Found" with a short text/plain body.
 * Closes the connection afterwards when close is true.
 */
int http_response_send_error(struct http_request *req, int status, bool close);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * One HTTP request, whatever its source: the standalone HTTP server
 * (transport/http_server.c), FastCGI (fcgi/fcgi_app.c) or the relay from `httun fcgi`
 * (transport/relay_server.c) fill in a struct http_request and hand it to one handler (the
 * tunnel, or the relay client inside `httun fcgi`). Handlers answer through the functions
 * below, which go through the request's ops; they never see which source it was.
 *
 * One contract for every source: a status is 100..599 (REQUEST_STATUS_MIN..MAX), a
 * content type is at most REQUEST_CTYPE_MAX_BYTES of printable ASCII. An answer outside it
 * is refused here, before any source sees it: the request is answered 500 instead and the
 * caller's sent_cb gets -EINVAL. Nothing here does I/O or reads the clock.
 */
#ifndef HTTUN_CORE_REQUEST_H
#define HTTUN_CORE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/http_head.h" /* enum http_method */

#define REQUEST_STATUS_MIN 100
#define REQUEST_STATUS_MAX 599

struct http_request;

/*
 * A complete request. It stays valid until the handler answers it (http_response_send*)
 * or until its cancel callback returns; the source never frees it under the handler
 * otherwise. Exactly one of the two ends a request.
 */
typedef void (*http_request_cb)(struct http_request *req, void *arg);
typedef void (*http_cancel_cb)(struct http_request *req, void *arg);
/*
 * Called once when the response's body buffers are no longer referenced: status 0 when
 * they were written, a negative errno when the answer failed first.
 */
typedef void (*http_sent_cb)(int status, void *arg);

/* What a source implements. Statuses and content types reach sendv already checked. */
struct http_request_ops {
	int (*sendv)(struct http_request *req, int status, const char *content_type,
		     const struct iovec *iov, unsigned niov, http_sent_cb sent_cb, void *arg);
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
	 * The body, contiguous (chunked bodies are joined). It belongs to the source and is
	 * valid as long as the request; http_request_take_body() hands it over instead.
	 */
	uint8_t *body;
	size_t body_len;
	/* For the handler; the source does not touch it. */
	void *user;
};

/* The method named name (case-sensitive, as HTTP has it): HTTP_METHOD_OTHER for the rest. */
enum http_method http_method_of(const char *name);
/* Is this an answer every source can carry (the contract above)? */
bool http_response_valid(int status, const char *content_type);

/* First value of a header, case-insensitive name, NUL-terminated; NULL when absent. */
const char *http_request_header(const struct http_request *req, const char *name);
/*
 * Takes the body out of the request: the caller owns it and frees it with free().
 * Returns NULL for an empty body.
 */
uint8_t *http_request_take_body(struct http_request *req, size_t *len);
/* Called if the client goes away (or the source is freed) before the request is answered. */
void http_request_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg);
/*
 * The handler found something in req that only a key holder can make (an authenticated
 * frame or poll): the source may then protect its connection from eviction
 * (docs/TRANSPORT.md "Limits"). A no-op for sources without connections of their own.
 */
void http_request_vouch(struct http_request *req);

/*
 * Answers req with status and a body in niov buffers (written as they are, never
 * copied). content_type NULL means application/octet-stream. The buffers must stay valid
 * until sent_cb runs; sent_cb may be NULL only for static buffers. req is invalid after
 * the call, whatever it returns. Returns 0, or a negative errno when the response could
 * not be queued (sent_cb still runs): -EINVAL for an answer outside the contract.
 */
int http_response_sendv(struct http_request *req, int status, const char *content_type,
			const struct iovec *iov, unsigned niov, http_sent_cb sent_cb, void *arg);
/* One-buffer form of http_response_sendv(). */
int http_response_send(struct http_request *req, int status, const char *content_type,
		       const void *body, size_t len, http_sent_cb sent_cb, void *arg);
/*
 * An ordinary web-server error answer: "404 Not Found" with a short text/plain body.
 * Closes the connection afterwards when close is true (where the source has one).
 */
int http_response_send_error(struct http_request *req, int status, bool close);

#endif

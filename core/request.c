/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/request.h"

#include <errno.h>
#include <string.h>

#include "core/limits.h"

enum http_method http_method_of(const char *name)
{
	if (!strcmp(name, "GET"))
		return HTTP_METHOD_GET;
	if (!strcmp(name, "POST"))
		return HTTP_METHOD_POST;
	if (!strcmp(name, "HEAD"))
		return HTTP_METHOD_HEAD;
	return HTTP_METHOD_OTHER;
}

bool http_response_valid(int status, const char *content_type)
{
	size_t n = 0;

	if (status < REQUEST_STATUS_MIN || status > REQUEST_STATUS_MAX)
		return false;
	if (!content_type)
		return true;
	for (; content_type[n]; n++)
		if (content_type[n] < 0x20 || content_type[n] > 0x7e)
			return false;
	return n <= REQUEST_CTYPE_MAX_BYTES;
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return req->ops->header ? req->ops->header(req, name) : NULL;
}

uint8_t *http_request_take_body(struct http_request *req, size_t *len)
{
	return req->ops->take_body(req, len);
}

void http_request_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	req->ops->set_cancel(req, cb, arg);
}

void http_request_vouch(struct http_request *req)
{
	if (req->ops->vouch)
		req->ops->vouch(req);
}

int http_response_sendv(struct http_request *req, int status, const char *content_type,
			const struct iovec *iov, unsigned niov, http_sent_cb sent_cb, void *arg)
{
	if (!http_response_valid(status, content_type)) {
		/* A handler's bug: the client still gets an answer, and the caller hears of it. */
		req->ops->send_error(req, 500, true);
		if (sent_cb)
			sent_cb(-EINVAL, arg);
		return -EINVAL;
	}
	return req->ops->sendv(req, status, content_type, iov, niov, sent_cb, arg);
}

int http_response_send(struct http_request *req, int status, const char *content_type,
		       const void *body, size_t len, http_sent_cb sent_cb, void *arg)
{
	struct iovec v = { .iov_base = (void *)(uintptr_t)body, .iov_len = len };

	return http_response_sendv(req, status, content_type, &v, len ? 1 : 0, sent_cb, arg);
}

int http_response_send_error(struct http_request *req, int status, bool close)
{
	if (status < REQUEST_STATUS_MIN || status > REQUEST_STATUS_MAX)
		status = 500;
	return req->ops->send_error(req, status, close);
}

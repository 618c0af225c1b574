/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/request.c: the forwarding functions and the one contract every request source
 * shares (status 100..599, a short printable content type), against a fake source.
 */
#include "core/request.h"
#include "core/limits.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

struct fake {
	struct http_request req;
	int sendv_calls, error_calls, error_status, sent_status, sent_calls;
	bool error_close;
	size_t bytes;
};

static int fake_sendv(struct http_request *req, int status, const char *ctype,
		      const struct iovec *iov, unsigned niov, http_sent_cb sent_cb, void *arg)
{
	struct fake *f = (struct fake *)req;

	(void)status;
	(void)ctype;
	f->sendv_calls++;
	for (unsigned i = 0; i < niov; i++)
		f->bytes += iov[i].iov_len;
	if (sent_cb)
		sent_cb(0, arg);
	return 0;
}

static int fake_send_error(struct http_request *req, int status, bool close)
{
	struct fake *f = (struct fake *)req;

	f->error_calls++;
	f->error_status = status;
	f->error_close = close;
	return 0;
}

static void fake_set_cancel(struct http_request *req, http_cancel_cb cb, void *arg)
{
	(void)req;
	(void)cb;
	(void)arg;
}

static uint8_t *fake_take_body(struct http_request *req, size_t *len)
{
	(void)req;
	*len = 0;
	return NULL;
}

static const struct http_request_ops fake_ops = {
	.sendv = fake_sendv,
	.send_error = fake_send_error,
	.set_cancel = fake_set_cancel,
	.take_body = fake_take_body,
};

static void sent(int status, void *arg)
{
	struct fake *f = arg;

	f->sent_calls++;
	f->sent_status = status;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->req.ops = &fake_ops;
}

/* Every answer outside the contract is refused before the source sees it: a 500 instead. */
static void test_contract(void **state)
{
	static const struct {
		int line, status;
		const char *ctype;
		bool ok;
	} cases[] = {
		{ __LINE__, 99, NULL, false },
		{ __LINE__, 100, NULL, true },
		{ __LINE__, 200, "application/octet-stream", true },
		{ __LINE__, 599, "text/plain", true },
		{ __LINE__, 600, NULL, false },
		{ __LINE__, 999, NULL, false },
		{ __LINE__, -1, NULL, false },
		{ __LINE__, 200, "text/plain\r\nX-Injected: 1", false },
		{ __LINE__, 200, "caf\xc3\xa9", false },
		{ __LINE__, 200, "", true },
	};
	char longest[REQUEST_CTYPE_MAX_BYTES + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f;
		int ret;

		fake_init(&f);
		ret = http_response_send(&f.req, cases[i].status, cases[i].ctype, "ab", 2, sent,
					 &f);
		if (cases[i].ok != (ret == 0) || f.sent_calls != 1 ||
		    f.sendv_calls != (cases[i].ok ? 1 : 0) ||
		    (!cases[i].ok && (ret != -EINVAL || f.sent_status != -EINVAL ||
				      f.error_status != 500 || !f.error_close)))
			fail_msg("case at line %d: ret %d sendv %d error %d", cases[i].line, ret,
				 f.sendv_calls, f.error_status);
	}
	/* The content type's length: up to the limit, not one byte more. */
	memset(longest, 'a', sizeof(longest));
	longest[REQUEST_CTYPE_MAX_BYTES] = '\0';
	assert_true(http_response_valid(200, longest));
	longest[REQUEST_CTYPE_MAX_BYTES] = 'a';
	longest[REQUEST_CTYPE_MAX_BYTES + 1] = '\0';
	assert_false(http_response_valid(200, longest));
}

/* An error status outside the range still ends the request: as a 500. */
static void test_error_status(void **state)
{
	struct fake f;

	(void)state;
	fake_init(&f);
	assert_int_equal(http_response_send_error(&f.req, 404, false), 0);
	assert_int_equal(f.error_status, 404);
	assert_false(f.error_close);
	assert_int_equal(http_response_send_error(&f.req, 1000, false), 0);
	assert_int_equal(f.error_status, 500);
}

/* A source without headers or connections: NULL and a no-op, never a crash. */
static void test_optional_ops(void **state)
{
	struct fake f;

	(void)state;
	fake_init(&f);
	assert_null(http_request_header(&f.req, "host"));
	http_request_vouch(&f.req);
	assert_int_equal(http_response_send(&f.req, 200, NULL, NULL, 0, NULL, NULL), 0);
	assert_int_equal(f.bytes, 0);
	assert_int_equal(http_method_of("GET"), HTTP_METHOD_GET);
	assert_int_equal(http_method_of("get"), HTTP_METHOD_OTHER);
	assert_int_equal(http_method_of("POST"), HTTP_METHOD_POST);
	assert_int_equal(http_method_of("HEAD"), HTTP_METHOD_HEAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_contract),
		cmocka_unit_test(test_error_status),
		cmocka_unit_test(test_optional_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

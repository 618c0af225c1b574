/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * transport/http_server.c on 127.0.0.1 with an ephemeral port: the real client and raw
 * sockets in one loop. Every test counts callbacks and ends with uv_loop_close() == 0.
 */
#include "transport/http_server.h"
#include "transport/http_client.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum mode {
	MODE_ECHO, /* 200 with the request body; GET gets the URL back */
	MODE_PARK, /* answer from a timer after PARK_MS */
	MODE_FOREVER, /* never answer; count cancels */
	MODE_SENDV, /* body as three buffers */
};

#define PARK_MS 20

struct fix {
	uv_loop_t loop;
	struct http_server *srv;
	struct http_server_config cfg;
	struct sockaddr_in addr;
	enum mode mode;
	int requests;
	int depth; /* request_cb calls under way: a nested dispatch is a bug */
	int cancels;
	int sent_ok;
	int responses;
	int errors;
	struct http_request *parked;
	uv_timer_t park_timer;
	uint64_t park_ms; /* MODE_PARK's hold; 0: PARK_MS */
	bool park_timer_used;
	void (*on_request)(struct fix *f, struct http_request *req);
	struct http_client *cli;
	/* raw sockets */
	int raw_done;
};

static struct fix *F;

static void sent_cb(int status, void *arg)
{
	struct fix *f = arg;

	if (status == 0)
		f->sent_ok++;
}

static void answer_echo(struct http_request *req)
{
	if (req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD)
		assert_int_equal(
			http_response_send(req, 200, NULL, req->url, req->url_len, NULL, NULL), 0);
	else
		assert_int_equal(http_response_send(req, 200,
						    http_request_header(req, "content-type"),
						    req->body, req->body_len, sent_cb, F),
				 0);
}

static void park_timer_cb(uv_timer_t *t)
{
	struct fix *f = t->data;
	struct http_request *req = f->parked;

	f->parked = NULL;
	answer_echo(req);
}

static void cancel_cb(struct http_request *req, void *arg)
{
	struct fix *f = arg;

	assert_ptr_equal(req, f->parked);
	f->parked = NULL;
	f->cancels++;
}

static const uint8_t part_a[] = "first,", part_b[] = "second,", part_c[] = "third";

static void answer_by_mode(struct fix *f, struct http_request *req);

static void request_cb(struct http_request *req, void *arg)
{
	struct fix *f = arg;

	assert_int_equal(f->depth, 0);
	f->depth++;
	f->requests++;
	if (f->on_request)
		f->on_request(f, req);
	else
		answer_by_mode(f, req);
	f->depth--;
}

static void answer_by_mode(struct fix *f, struct http_request *req)
{
	switch (f->mode) {
	case MODE_ECHO:
		answer_echo(req);
		break;
	case MODE_PARK:
		assert_null(f->parked);
		f->parked = req;
		http_request_set_cancel(req, cancel_cb, f);
		uv_timer_start(&f->park_timer, park_timer_cb, f->park_ms ? f->park_ms : PARK_MS, 0);
		break;
	case MODE_FOREVER:
		f->parked = req;
		http_request_set_cancel(req, cancel_cb, f);
		break;
	case MODE_SENDV: {
		struct iovec b[3] = {
			{ (void *)(uintptr_t)part_a, sizeof(part_a) - 1 },
			{ (void *)(uintptr_t)part_b, sizeof(part_b) - 1 },
			{ (void *)(uintptr_t)part_c, sizeof(part_c) - 1 },
		};
		assert_int_equal(http_response_sendv(req, 200, NULL, b, 3, sent_cb, f), 0);
		break;
	}
	}
}

static void fix_start(struct fix *f, const struct http_server_config *cfg)
{
	struct sockaddr_storage ss;

	memset(f, 0, sizeof(*f));
	F = f;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	if (cfg) {
		f->cfg = *cfg;
	} else {
		http_server_config_default(&f->cfg);
		f->cfg.header_timeout_ms = 1000;
	}
	f->srv = http_server_new(&f->loop, &f->cfg, request_cb, f);
	assert_non_null(f->srv);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &f->addr), 0);
	assert_int_equal(http_server_listen(f->srv, (const struct sockaddr *)&f->addr), 0);
	assert_int_equal(http_server_sockname(f->srv, 0, &ss), 0);
	memcpy(&f->addr, &ss, sizeof(f->addr));
	assert_int_not_equal(ntohs(f->addr.sin_port), 0);
	uv_timer_init(&f->loop, &f->park_timer);
	f->park_timer.data = f;
}

static void fix_client(struct fix *f, unsigned pool)
{
	struct config_url u = { .host = "127.0.0.1", .port = ntohs(f->addr.sin_port), .path = "/" };
	struct http_client_config cc;

	http_client_config_default(&cc);
	cc.pool_size = pool;
	assert_int_equal(http_client_new(&f->cli, &f->loop, &u, &cc), 0);
}

/* Frees everything and checks that no handle is left behind. */
static void fix_end(struct fix *f)
{
	uv_close((uv_handle_t *)&f->park_timer, NULL);
	http_server_free(f->srv);
	if (f->cli)
		http_client_free(f->cli);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- raw socket client ---- */

struct raw {
	uv_tcp_t tcp;
	uv_connect_t cr;
	uv_write_t wr;
	struct fix *f;
	const char *out;
	size_t out_len;
	char in[16384];
	size_t in_len;
	bool eof;
	bool closed;
	bool no_read; /* never read: the server's writes stall */
	void (*on_data)(struct raw *r);
};

static void raw_close_cb(uv_handle_t *h)
{
	struct raw *r = h->data;

	r->closed = true;
	r->f->raw_done++;
}

static void raw_close(struct raw *r)
{
	if (!uv_is_closing((uv_handle_t *)&r->tcp))
		uv_close((uv_handle_t *)&r->tcp, raw_close_cb);
}

static void raw_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct raw *r = h->data;

	(void)hint;
	*buf = uv_buf_init(r->in + r->in_len, (unsigned)(sizeof(r->in) - r->in_len));
}

static void raw_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct raw *r = s->data;

	(void)buf;
	if (nread < 0) {
		r->eof = true;
		raw_close(r);
		return;
	}
	r->in_len += (size_t)nread;
	assert_true(r->in_len < sizeof(r->in));
	if (r->on_data)
		r->on_data(r);
}

static void raw_write_cb(uv_write_t *w, int status)
{
	(void)w;
	(void)status;
}

static void raw_connect_cb(uv_connect_t *cr, int status)
{
	struct raw *r = cr->data;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)r->out, (unsigned)r->out_len);

	assert_int_equal(status, 0);
	if (!r->no_read)
		uv_read_start((uv_stream_t *)&r->tcp, raw_alloc_cb, raw_read_cb);
	if (r->out_len)
		assert_int_equal(uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, raw_write_cb), 0);
}

static void raw_start(struct fix *f, struct raw *r, const char *out, size_t out_len)
{
	memset(r, 0, sizeof(*r));
	r->f = f;
	r->out = out;
	r->out_len = out_len;
	uv_tcp_init(&f->loop, &r->tcp);
	r->tcp.data = r;
	r->cr.data = r;
	assert_int_equal(
		uv_tcp_connect(&r->cr, &r->tcp, (const struct sockaddr *)&f->addr, raw_connect_cb),
		0);
}

static void raw_start_str(struct fix *f, struct raw *r, const char *out)
{
	raw_start(f, r, out, strlen(out));
}

/* Runs until the raw client is closed, then tears down. */
static void run_until_raw(struct fix *f, int n)
{
	while (f->raw_done < n)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
}

/* ---- client round trips ---- */

struct expect {
	struct fix *f;
	int status;
	const uint8_t *body;
	size_t len;
};

static void expect_cb(struct http_response *resp, void *arg)
{
	struct expect *e = arg;

	assert_int_equal(resp->err, 0);
	assert_int_equal(resp->status, e->status);
	assert_int_equal(resp->body_len, e->len);
	if (e->len)
		assert_memory_equal(resp->body, e->body, e->len);
	else
		assert_null(resp->body);
	e->f->responses++;
}

static void run_until_responses(struct fix *f, int n)
{
	while (f->responses + f->errors < n)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
}

static void test_roundtrip(void **state)
{
	struct fix f;
	static uint8_t all[256];
	uint8_t *big = malloc(1024 * 1024);
	struct expect e_all, e_empty, e_big, e_get;
	uv_buf_t b_all[3], b_big;

	(void)state;
	assert_non_null(big);
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	for (size_t i = 0; i < 1024 * 1024; i++)
		big[i] = (uint8_t)(i * 7 + (i >> 11));
	fix_start(&f, NULL);
	fix_client(&f, 2);

	/* All 256 byte values, sent as three buffers. */
	b_all[0] = uv_buf_init((char *)all, 1);
	b_all[1] = uv_buf_init((char *)all + 1, 200);
	b_all[2] = uv_buf_init((char *)all + 201, 55);
	e_all = (struct expect){ &f, 200, all, 256 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_POST, "/p1", NULL, b_all, 3, 5000,
					     expect_cb, &e_all),
			 0);
	/* Empty POST. */
	e_empty = (struct expect){ &f, 200, NULL, 0 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_POST, "/p2", NULL, NULL, 0, 5000,
					     expect_cb, &e_empty),
			 0);
	/* 1 MiB. */
	b_big = uv_buf_init((char *)big, 1024 * 1024);
	e_big = (struct expect){ &f, 200, big, 1024 * 1024 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_POST, "/p3", NULL, &b_big, 1, 5000,
					     expect_cb, &e_big),
			 0);
	/* GET: the server answers with the URL. */
	e_get = (struct expect){ &f, 200, (const uint8_t *)"/get?x=1", 8 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/get?x=1", NULL, NULL, 0,
					     5000, expect_cb, &e_get),
			 0);
	run_until_responses(&f, 4);
	assert_int_equal(f.requests, 4);
	assert_int_equal(f.responses, 4);
	assert_int_equal(f.sent_ok, 3); /* the POSTs; GET had no sent_cb */
	assert_int_equal(http_server_stats(f.srv)->requests, 4);
	assert_int_equal(http_client_stats(f.cli)->connects, 2);
	fix_end(&f);
	free(big);
}

/*
 * Kept body buffers: a trim frees those of connections that had no body since the last
 * trim, at both ends, also while a bodiless request is parked on the connection; the
 * next body gets a new buffer.
 */
static void test_trim_bodies(void **state)
{
	struct fix f;
	static uint8_t body[1000];
	struct expect e_post, e_get;
	uv_buf_t b = uv_buf_init((char *)body, sizeof(body));

	(void)state;
	memset(body, 0x5a, sizeof(body));
	fix_start(&f, NULL);
	fix_client(&f, 1);
	for (int round = 0; round < 2; round++) {
		e_post = (struct expect){ &f, 200, body, sizeof(body) };
		assert_int_equal(http_client_request(f.cli, HTTP_METHOD_POST, "/p", NULL, &b, 1,
						     5000, expect_cb, &e_post),
				 0);
		run_until_responses(&f, 2 * round + 1);
		/* Used in this interval: kept. */
		assert_int_equal(http_server_trim(f.srv), 0);
		assert_int_equal(http_client_trim(f.cli), 0);
		/* A GET parked on the same connection does not use the buffers. */
		f.mode = MODE_PARK;
		e_get = (struct expect){ &f, 200, (const uint8_t *)"/g", 2 };
		assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/g", NULL, NULL, 0,
						     5000, expect_cb, &e_get),
				 0);
		while (!f.parked)
			assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
		assert_int_equal(http_server_trim(f.srv), sizeof(body));
		assert_int_equal(http_client_trim(f.cli), sizeof(body));
		assert_int_equal(http_server_trim(f.srv), 0);
		assert_int_equal(http_client_trim(f.cli), 0);
		run_until_responses(&f, 2 * round + 2);
		f.mode = MODE_ECHO;
	}
	assert_int_equal(f.responses, 4);
	assert_int_equal(http_client_stats(f.cli)->connects, 1);
	fix_end(&f);
}

static void test_sendv(void **state)
{
	struct fix f;
	struct expect e;

	(void)state;
	fix_start(&f, NULL);
	fix_client(&f, 1);
	f.mode = MODE_SENDV;
	e = (struct expect){ &f, 200, (const uint8_t *)"first,second,third", 18 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/", NULL, NULL, 0, 5000,
					     expect_cb, &e),
			 0);
	run_until_responses(&f, 1);
	assert_int_equal(f.sent_ok, 1);
	fix_end(&f);
}

static void test_keepalive_reuse(void **state)
{
	struct fix f;
	struct expect e[6];
	char path[6][8];

	(void)state;
	fix_start(&f, NULL);
	fix_client(&f, 1);
	for (int i = 0; i < 6; i++) {
		snprintf(path[i], sizeof(path[i]), "/k%d", i);
		e[i] = (struct expect){ &f, 200, (const uint8_t *)path[i], strlen(path[i]) };
		assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, path[i], NULL, NULL, 0,
						     5000, expect_cb, &e[i]),
				 0);
	}
	run_until_responses(&f, 6);
	assert_int_equal(f.requests, 6);
	assert_int_equal(http_server_stats(f.srv)->accepted, 1);
	assert_int_equal(http_client_stats(f.cli)->connects, 1);
	fix_end(&f);
}

static void test_longpoll_parked(void **state)
{
	struct fix f;
	struct expect e;
	uint64_t t0;

	(void)state;
	fix_start(&f, NULL);
	fix_client(&f, 1);
	f.mode = MODE_PARK;
	e = (struct expect){ &f, 200, (const uint8_t *)"/poll", 5 };
	t0 = uv_now(&f.loop);
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/poll", NULL, NULL, 0, 5000,
					     expect_cb, &e),
			 0);
	run_until_responses(&f, 1);
	uv_update_time(&f.loop);
	assert_true(uv_now(&f.loop) - t0 >= PARK_MS);
	assert_int_equal(f.requests, 1);
	assert_int_equal(f.cancels, 0);
	fix_end(&f);
}

/* A request parked with the handler has no deadline: not the header one, though it is shorter. */
static void test_parked_outlives_header_timeout(void **state)
{
	struct fix f;
	struct expect e;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.header_timeout_ms = 100;
	fix_start(&f, &cfg);
	fix_client(&f, 1);
	f.mode = MODE_PARK;
	f.park_ms = 400;
	e = (struct expect){ &f, 200, (const uint8_t *)"/poll", 5 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/poll", NULL, NULL, 0, 5000,
					     expect_cb, &e),
			 0);
	run_until_responses(&f, 1);
	assert_int_equal(f.requests, 1);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 0);
	fix_end(&f);
}

static void close_when_parked(struct fix *f, struct http_request *req)
{
	(void)req;
	f->parked = req;
	http_request_set_cancel(req, cancel_cb, f);
}

static void test_disconnect_while_parked(void **state)
{
	struct fix f;
	struct raw r;

	(void)state;
	fix_start(&f, NULL);
	f.on_request = close_when_parked;
	raw_start_str(&f, &r, "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n");
	while (f.requests == 0)
		uv_run(&f.loop, UV_RUN_ONCE);
	assert_int_equal(f.cancels, 0);
	raw_close(&r);
	while (f.cancels == 0)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	assert_int_equal(f.cancels, 1);
	assert_null(f.parked);
	assert_int_equal(http_server_stats(f.srv)->cancelled, 1);
	assert_int_equal(r.in_len, 0);
	fix_end(&f);
}

static void timeout_cb(struct http_response *resp, void *arg)
{
	struct fix *f = arg;

	assert_int_equal(resp->err, -ETIMEDOUT);
	assert_null(resp->body);
	f->errors++;
}

/* The client gives up on a parked poll: its connection closes, the server cancels. */
static void test_client_timeout_cancels(void **state)
{
	struct fix f;
	struct expect e;

	(void)state;
	fix_start(&f, NULL);
	fix_client(&f, 1);
	f.mode = MODE_FOREVER;
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/poll", NULL, NULL, 0, 30,
					     timeout_cb, &f),
			 0);
	run_until_responses(&f, 1);
	while (f.cancels == 0)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	/* The client opens a new connection for the next request. */
	f.mode = MODE_ECHO;
	e = (struct expect){ &f, 200, (const uint8_t *)"/next", 5 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/next", NULL, NULL, 0, 5000,
					     expect_cb, &e),
			 0);
	run_until_responses(&f, 2);
	assert_int_equal(f.errors, 1);
	assert_int_equal(f.responses, 1);
	assert_int_equal(f.cancels, 1);
	assert_int_equal(http_server_stats(f.srv)->accepted, 2);
	fix_end(&f);
}

static void test_free_while_parked(void **state)
{
	struct fix f;
	struct raw r;

	(void)state;
	fix_start(&f, NULL);
	f.mode = MODE_FOREVER;
	raw_start_str(&f, &r, "GET /poll HTTP/1.1\r\nHost: x\r\n\r\n");
	while (f.requests == 0)
		uv_run(&f.loop, UV_RUN_ONCE);
	/* Freeing the server cancels the parked request and closes the connection. */
	fix_end(&f);
	assert_int_equal(f.cancels, 1);
	assert_true(r.eof);
}

/* Runs a raw exchange to the end; returns what the server sent. */
static struct raw *raw_exchange(struct fix *f, struct raw *r, const char *out, size_t len)
{
	raw_start(f, r, out, len);
	run_until_raw(f, f->raw_done + 1);
	r->in[r->in_len] = '\0';
	return r;
}

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "\r\nDate: Mon, 07 Dec 2026 23:19:59 GMT\r\n" (RFC 9110 IMF-fixdate) somewhere in resp. */
static void assert_date(const char *resp)
{
	const char *d = strstr(resp, "\r\nDate: ");
	char day[4], mon[4], zone[4];
	int mday, year, h, m, sec, n = 0;

	assert_non_null(d);
	assert_int_equal(sscanf(d + 8, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", day, &mday, mon, &year,
				&h, &m, &sec, zone, &n),
			 8);
	assert_int_equal(d[8 + 3], ',');
	assert_string_equal(zone, "GMT");
	assert_true(year >= 2024);
	assert_true(strncmp(d + 8 + n, "\r\n", 2) == 0);
}

static void assert_plain_error(const char *resp, const char *status_line, const char *body)
{
	char cl[64];

	assert_true(starts_with(resp, status_line));
	assert_date(resp);
	assert_non_null(strstr(resp, "\r\nContent-Type: text/plain\r\n"));
	/* An ordinary server's error: nothing that only httun sends. */
	assert_null(strstr(resp, "Cache-Control"));
	assert_null(strstr(resp, "httun"));
	assert_non_null(strstr(resp, "\r\nConnection: close\r\n"));
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
	assert_non_null(strstr(resp, cl));
	assert_string_equal(strstr(resp, "\r\n\r\n") + 4, body);
}

static void stop_timer_cb(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop for about ms milliseconds. */
static void run_for(struct fix *f, uint64_t ms)
{
	uv_timer_t t;
	bool done = false;

	uv_timer_init(&f->loop, &t);
	t.data = &done;
	uv_timer_start(&t, stop_timer_cb, ms, 0);
	while (!done)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

/*
 * A body announced but not arrived yet when trims run keeps its buffer: reads land in it
 * directly.
 */
static void test_trim_while_body(void **state)
{
	struct fix f;
	struct raw r;
	static char req[1100];
	static uv_write_t w2;
	uv_buf_t rest;
	int n;

	(void)state;
	n = snprintf(req, sizeof(req),
		     "POST /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
		     "Content-Length: 1000\r\n\r\n");
	for (int i = 0; i < 1000; i++)
		req[n + i] = (char)('a' + i % 26);
	fix_start(&f, NULL);
	raw_start(&f, &r, req, (size_t)n); /* the header only */
	run_for(&f, 100);
	assert_int_equal(f.requests, 0);
	assert_int_equal(http_server_trim(f.srv), 0);
	assert_int_equal(http_server_trim(f.srv), 0);
	rest = uv_buf_init(req + n, 1000);
	assert_int_equal(uv_write(&w2, (uv_stream_t *)&r.tcp, &rest, 1, raw_write_cb), 0);
	run_until_raw(&f, 1);
	assert_int_equal(f.requests, 1);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.in, "\r\nContent-Length: 1000\r\n"));
	assert_memory_equal(strstr(r.in, "\r\n\r\n") + 4, req + n, 1000);
	fix_end(&f);
}

static void test_413_before_body(void **state)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;
	static const char req[] = "POST /u HTTP/1.1\r\nHost: x\r\n"
				  "Content-Type: application/octet-stream\r\n"
				  "Content-Length: 1025\r\n\r\n";

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_body_bytes = 1024;
	fix_start(&f, &cfg);
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_plain_error(r.in, "HTTP/1.1 413 Content Too Large\r\n", "Content Too Large\n");
	assert_true(r.eof);
	assert_int_equal(f.requests, 0);

	/* At the cap exactly it is accepted. */
	static char ok[2048];
	int n = snprintf(ok, sizeof(ok),
			 "POST /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Content-Length: 1024\r\n\r\n");
	memset(ok + n, 'z', 1024);
	raw_exchange(&f, &r, ok, (size_t)n + 1024);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.in, "\r\nContent-Length: 1024\r\n"));
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

static void test_garbage_400(void **state)
{
	struct fix f;
	struct raw r;
	static const char *bad[] = {
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n", /* TLS hello */
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
		("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
		 "Content-Length: 3\r\n\r\n"),
		"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
		"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n",
	};

	(void)state;
	fix_start(&f, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw_exchange(&f, &r, bad[i], strlen(bad[i]));
		assert_plain_error(r.in, "HTTP/1.1 400 Bad Request\r\n", "Bad Request\n");
		assert_true(r.eof);
	}
	assert_int_equal(f.requests, 0);
	assert_int_equal(http_server_stats(f.srv)->errors, sizeof(bad) / sizeof(bad[0]));
	fix_end(&f);
}

static void test_oversized_header_431(void **state)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;
	static char req[4096];
	int n;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_header_bytes = 256;
	cfg.max_header_count = 4;
	cfg.max_url_bytes = 64;
	fix_start(&f, &cfg);

	/* One value over the byte cap. */
	n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + n, 'a', 300);
	n += 300;
	n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n\r\n");
	raw_exchange(&f, &r, req, (size_t)n);
	assert_plain_error(r.in, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
			   "Request Header Fields Too Large\n");

	/* Five headers when four are allowed. */
	raw_exchange(&f, &r, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
		     strlen("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n"));
	assert_true(starts_with(r.in, "HTTP/1.1 431 "));

	/* Four are fine (and HEAD gets no body). */
	raw_exchange(
		&f, &r, "HEAD / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nConnection: close\r\n\r\n",
		strlen("HEAD / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nConnection: close\r\n\r\n"));
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.in, "\r\nContent-Length: 1\r\n"));
	assert_true(r.in_len == (size_t)(strstr(r.in, "\r\n\r\n") + 4 - r.in));

	/* URL over its cap: 414. */
	n = snprintf(req, sizeof(req), "GET /");
	memset(req + n, 'u', 64);
	n += 64;
	n += snprintf(req + n, sizeof(req) - (size_t)n, " HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_exchange(&f, &r, req, (size_t)n);
	assert_plain_error(r.in, "HTTP/1.1 414 URI Too Long\r\n", "URI Too Long\n");
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

static void test_timeouts(void **state)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;
	uint64_t t0;

	(void)state;
	http_server_config_default(&cfg);
	cfg.header_timeout_ms = 30;
	cfg.body_timeout_ms = 30;
	cfg.idle_timeout_ms = 30;
	fix_start(&f, &cfg);

	/* Header never finished: closed without an answer. */
	t0 = uv_now(&f.loop);
	raw_exchange(&f, &r, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
	assert_int_equal(r.in_len, 0);
	assert_true(r.eof);
	assert_true(uv_now(&f.loop) - t0 >= 30);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 1);

	/* Nothing sent at all. */
	raw_exchange(&f, &r, "", 0);
	assert_int_equal(r.in_len, 0);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 2);

	/* Body stalls. */
	raw_exchange(&f, &r, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 52);
	assert_int_equal(r.in_len, 0);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 3);

	/* Keep-alive connection left idle after one answer. */
	raw_exchange(&f, &r, "GET /i HTTP/1.1\r\nHost: x\r\n\r\n", 28);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(r.in, "Connection: close"));
	assert_int_equal(http_server_stats(f.srv)->timeouts, 4);
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

/*
 * Sends req on a new connection with a header timeout of 20 ms and an idle timeout of
 * 150 ms: it is answered, and the connection is closed by the idle timeout, not sooner.
 */
static void check_closed_when_idle(const char *req, size_t len)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;
	uint64_t t0;

	http_server_config_default(&cfg);
	cfg.header_timeout_ms = 20;
	cfg.idle_timeout_ms = 150;
	fix_start(&f, &cfg);
	t0 = uv_now(&f.loop);
	raw_exchange(&f, &r, req, len);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_true(r.eof);
	assert_true(uv_now(&f.loop) - t0 >= 150);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 1);
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

/*
 * The timer is left armed for an earlier deadline when a later one replaces it: firing at
 * the header deadline must re-arm for the idle one, not close the connection.
 */
static void test_timeout_moved_later(void **state)
{
	(void)state;
	check_closed_when_idle("GET /i HTTP/1.1\r\nHost: x\r\n\r\n", 28);
}

/*
 * An empty line after a request (RFC 9112 section 2.2: a server should ignore it) leaves
 * the connection idle under the idle timeout: the fast path, which declines it, must not
 * have begun a message and armed the shorter header timeout.
 */
static void test_crlf_between_requests_idle(void **state)
{
	(void)state;
	check_closed_when_idle("GET /i HTTP/1.1\r\nHost: x\r\n\r\n\r\n", 30);
}

static void check_fields_after_decline(struct fix *f, struct http_request *req)
{
	bool first = req->url_len == 2 && memcmp(req->url, "/a", 2) == 0;

	assert_string_equal(http_request_header(req, "host"), "x");
	assert_string_equal(http_request_header(req, "x-a"), first ? "1" : "2");
	assert_string_equal(http_request_header(req, "transfer-encoding"), "chunked");
	answer_echo(req);
	(void)f;
}

/*
 * The fast path declines these heads at their third field, after it has stored the first
 * two: llhttp reads each head again from its first byte, and the request has the fields
 * as llhttp read them, none left over from the request before (X-A differs).
 */
static void test_decline_after_fields(void **state)
{
	struct fix f;
	struct raw r;
	static const char req[] =
		"POST /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n"
		"Transfer-Encoding: chunked\r\n\r\n3\r\ndef\r\n0\r\n\r\n"
		"GET /b HTTP/1.1\r\nHost: x\r\nX-A: 2\r\n"
		"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n";

	(void)state;
	fix_start(&f, NULL);
	f.on_request = check_fields_after_decline;
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_int_equal(f.requests, 2);
	assert_non_null(strstr(r.in, "\r\n\r\ndef"));
	assert_non_null(strstr(r.in, "\r\n\r\n/b"));
	assert_true(r.eof);
	fix_end(&f);
}

static struct raw cap_r2;

static void start_second(struct fix *f, struct http_request *req)
{
	f->parked = req;
	http_request_set_cancel(req, cancel_cb, f);
	raw_start_str(f, &cap_r2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_connection_cap(void **state)
{
	struct fix f;
	struct raw r1;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_connections = 1;
	fix_start(&f, &cfg);
	f.on_request = start_second;
	raw_start_str(&f, &r1, "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n");
	run_until_raw(&f, 1);
	cap_r2.in[cap_r2.in_len] = '\0';
	assert_plain_error(cap_r2.in, "HTTP/1.1 503 Service Unavailable\r\n",
			   "Service Unavailable\n");
	assert_int_equal(http_server_stats(f.srv)->rejected, 1);
	assert_int_equal(http_server_stats(f.srv)->accepted, 1);
	assert_int_equal(f.requests, 1);
	raw_close(&r1);
	run_until_raw(&f, 2);
	assert_int_equal(f.cancels, 1);
	fix_end(&f);
}

/* Runs the loop until the server has accepted n connections, then lets it read. */
static void run_until_accepted(struct fix *f, uint64_t n)
{
	while (http_server_stats(f->srv)->accepted < n)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
	for (int i = 0; i < 20; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

/*
 * At the cap, a connection that never completed a request makes room for a new one: a
 * slowloris flood displaces only itself.
 */
static void test_cap_evicts_unfinished(void **state)
{
	struct fix f;
	struct raw r1, r2;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_connections = 1;
	fix_start(&f, &cfg);
	raw_start_str(&f, &r1, "GET /slow HTTP/1.1\r\nHost");
	run_until_accepted(&f, 1);
	raw_start_str(&f, &r2, "GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	run_until_raw(&f, 2);
	r2.in[r2.in_len] = '\0';
	assert_true(starts_with(r2.in, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(r1.in_len, 0); /* closed without an answer */
	assert_int_equal(http_server_stats(f.srv)->evicted, 1);
	assert_int_equal(http_server_stats(f.srv)->rejected, 0);
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

/*
 * The body budget counts bytes received, and when it is full the slowest body still
 * arriving gives way: a newcomer's whole small body is served while a trickling one is
 * dropped with a 503.
 */
static void test_body_total(void **state)
{
	static char slow[256], second[256];
	struct fix f;
	struct raw r1, r2, r3;
	struct http_server_config cfg;
	int n;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_body_bytes_total = 100;
	fix_start(&f, &cfg);
	/* Announces 80, sends 3: charged 3, so a 50-byte body still fits beside it. */
	raw_start_str(&f, &r1, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\nabc");
	run_until_accepted(&f, 1);
	snprintf(second, sizeof(second),
		 "POST /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 50\r\n\r\n"
		 "%050d",
		 0);
	raw_exchange(&f, &r2, second, strlen(second));
	assert_true(starts_with(r2.in, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(f.requests, 1);
	raw_close(&r1);
	run_until_raw(&f, 2);

	/* 60 of 80 bytes, then silence: the slowest body when the next one overflows. */
	n = snprintf(slow, sizeof(slow),
		     "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n");
	memset(slow + n, 's', 60);
	raw_start(&f, &r1, slow, (size_t)n + 60);
	run_until_accepted(&f, 3);
	run_for(&f, 30);
	raw_exchange(&f, &r3, second, strlen(second));
	assert_true(starts_with(r3.in, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(f.requests, 2);
	run_until_raw(&f, 4);
	r1.in[r1.in_len] = '\0';
	assert_plain_error(r1.in, "HTTP/1.1 503 Service Unavailable\r\n", "Service Unavailable\n");
	assert_int_equal(http_server_stats(f.srv)->bodies_dropped, 1);
	fix_end(&f);
}

static void trickle_cb(uv_timer_t *t)
{
	static const char b = 'x';
	struct raw *r = t->data;
	uv_buf_t buf = uv_buf_init((char *)(uintptr_t)&b, 1);

	if (!r->closed && !uv_is_closing((uv_handle_t *)&r->tcp))
		(void)uv_try_write((uv_stream_t *)&r->tcp, &buf, 1);
}

/*
 * A body that keeps trickling within the gap timeout still ends at its deadline. The
 * gap timeout is far longer than the test may take: only the deadline can close it.
 */
static void test_body_deadline(void **state)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;
	uv_timer_t trickle;

	(void)state;
	http_server_config_default(&cfg);
	cfg.body_timeout_ms = 60 * 1000;
	cfg.body_deadline_ms = 200;
	fix_start(&f, &cfg);
	raw_start_str(&f, &r, "POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx");
	uv_timer_init(&f.loop, &trickle);
	trickle.data = &r;
	uv_timer_start(&trickle, trickle_cb, 20, 20);
	run_until_raw(&f, 1);
	uv_close((uv_handle_t *)&trickle, NULL);
	assert_int_equal(r.in_len, 0);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 1);
	assert_int_equal(f.requests, 0);
	fix_end(&f);
}

/* Vouches for requests whose URL starts with /v, then answers like MODE_ECHO. */
static void vouch_some(struct fix *f, struct http_request *req)
{
	(void)f;
	if (starts_with(req->url, "/v"))
		http_request_vouch(req);
	answer_echo(req);
}

/* One keep-alive request from src (NULL: 127.0.0.1), answered; the connection stays. */
static void raw_idle(struct fix *f, struct raw *r, const char *src, const char *req)
{
	int accepted = (int)http_server_stats(f->srv)->accepted;

	memset(r, 0, sizeof(*r));
	r->f = f;
	r->out = req;
	r->out_len = strlen(req);
	uv_tcp_init(&f->loop, &r->tcp);
	r->tcp.data = r;
	r->cr.data = r;
	if (src) {
		struct sockaddr_in a;

		assert_int_equal(uv_ip4_addr(src, 0, &a), 0);
		assert_int_equal(uv_tcp_bind(&r->tcp, (const struct sockaddr *)&a, 0), 0);
	}
	assert_int_equal(
		uv_tcp_connect(&r->cr, &r->tcp, (const struct sockaddr *)&f->addr, raw_connect_cb),
		0);
	run_until_accepted(f, (uint64_t)accepted + 1);
	while (!strstr(r->in, "\r\n\r\n") && !r->closed)
		assert_int_not_equal(uv_run(&f->loop, UV_RUN_ONCE), 0);
	/* Distinct idle times: the eviction order is by the last activity (ms clock). */
	run_for(f, 5);
}

/*
 * Connections that only ever sent unauthenticated requests are evictable, quietest first;
 * one a request vouched for never is. Without this, idle keep-alives of a 404 flood held
 * every slot and each newcomer got a 503.
 */
static void test_cap_evicts_unvouched_idle(void **state)
{
	struct fix f;
	struct raw a, b, v, n;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_connections = 3;
	fix_start(&f, &cfg);
	f.on_request = vouch_some;
	raw_idle(&f, &v, NULL, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &a, NULL, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &b, NULL, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	/* Full: the newcomer is served, and a (quiet longest, unvouched) made room. */
	raw_idle(&f, &n, NULL, "GET /n HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(starts_with(n.in, "HTTP/1.1 200 OK\r\n"));
	while (!a.closed)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	assert_false(b.closed);
	assert_false(v.closed);
	assert_int_equal(http_server_stats(f.srv)->evicted, 1);
	/* b, then n; v never. */
	raw_idle(&f, &a, NULL, "GET /a2 HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &b, NULL, "GET /b2 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_false(v.closed);
	assert_true(n.closed);
	assert_int_equal(http_server_stats(f.srv)->evicted, 3);
	assert_int_equal(http_server_stats(f.srv)->rejected, 0);
	raw_close(&v);
	raw_close(&a);
	raw_close(&b);
	run_until_raw(&f, 6);
	fix_end(&f);
}

/* When every connection is vouched for, the newcomer is refused: a live tunnel stays. */
static void test_cap_keeps_vouched(void **state)
{
	struct fix f;
	struct raw v, n;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_connections = 1;
	fix_start(&f, &cfg);
	f.on_request = vouch_some;
	raw_idle(&f, &v, NULL, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_exchange(&f, &n, "GET /n HTTP/1.1\r\nHost: x\r\n\r\n", 29);
	assert_plain_error(n.in, "HTTP/1.1 503 Service Unavailable\r\n", "Service Unavailable\n");
	assert_false(v.closed);
	assert_int_equal(http_server_stats(f.srv)->rejected, 1);
	raw_close(&v);
	run_until_raw(&f, 2);
	fix_end(&f);
}

/*
 * At the per-source cap a source's newcomer pushes out that source's own quietest
 * unvouched connection, never another source's; vouched ones do not count.
 */
static void test_per_source_cap(void **state)
{
	struct fix f;
	struct raw a1, a2, a3, b1, v;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_connections = 4;
	cfg.max_unvouched_per_source = 2;
	fix_start(&f, &cfg);
	f.on_request = vouch_some;
	raw_idle(&f, &b1, "127.0.0.2", "GET /b1 HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &v, NULL, "GET /v HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &a1, NULL, "GET /a1 HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &a2, NULL, "GET /a2 HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_idle(&f, &a3, NULL, "GET /a3 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_true(starts_with(a3.in, "HTTP/1.1 200 OK\r\n"));
	while (!a1.closed)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	/* b1 is the quietest unvouched connection of all, but of another source. */
	assert_false(b1.closed);
	assert_false(v.closed);
	assert_false(a2.closed);
	assert_int_equal(http_server_stats(f.srv)->evicted_source, 1);
	assert_int_equal(http_server_stats(f.srv)->evicted, 0);
	raw_close(&b1);
	raw_close(&v);
	raw_close(&a2);
	raw_close(&a3);
	run_until_raw(&f, 5);
	fix_end(&f);
}

static void test_chunked_body(void **state)
{
	struct fix f;
	struct raw r;
	static const char req[] = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
				  "Connection: close\r\n\r\n"
				  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n";

	(void)state;
	fix_start(&f, NULL);
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.in, "\r\nContent-Length: 11\r\n"));
	assert_non_null(strstr(r.in, "\r\nContent-Type: application/octet-stream\r\n"));
	assert_string_equal(strstr(r.in, "\r\n\r\n") + 4, "hello world");
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

static void test_chunked_over_cap(void **state)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;
	static const char req[] =
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_body_bytes = 10;
	fix_start(&f, &cfg);
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_true(starts_with(r.in, "HTTP/1.1 413 "));
	assert_int_equal(f.requests, 0);
	fix_end(&f);
}

static void test_expect_continue(void **state)
{
	struct fix f;
	struct raw r;
	static const char req[] = "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
				  "Connection: close\r\nContent-Length: 3\r\n\r\nabc";

	(void)state;
	fix_start(&f, NULL);
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_true(starts_with(r.in, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
	assert_string_equal(strrchr(r.in, '\n') + 1, "abc");
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

struct drip {
	uv_idle_t idle;
	struct raw *r;
	const char *bytes;
	size_t len, off;
};

/* An idle handle runs once per loop turn (a 0 ms timer would run again at once). */
static void drip_cb(uv_idle_t *h)
{
	struct drip *d = h->data;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)d->bytes + d->off, 1);

	if (uv_is_closing((uv_handle_t *)&d->r->tcp)) {
		uv_close((uv_handle_t *)h, NULL);
		return;
	}
	/* UV_EAGAIN until connected. */
	if (uv_try_write((uv_stream_t *)&d->r->tcp, &b, 1) == 1)
		d->off++;
	if (d->off == d->len)
		uv_close((uv_handle_t *)h, NULL);
}

/* One byte per loop turn: every callback of the parser sees its data in pieces. */
static void test_byte_by_byte(void **state)
{
	struct fix f;
	struct raw r;
	struct drip d;
	static const char req[] = "POST /drip?q=1 HTTP/1.1\r\nHost: example\r\n"
				  "Content-Type: application/x-test\r\nContent-Length: 4\r\n\r\n"
				  "\x00\xff\r\n"
				  "POST /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
				  "Connection: close\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
	const char *p;

	(void)state;
	fix_start(&f, NULL);
	raw_start(&f, &r, "", 0);
	uv_tcp_nodelay(&r.tcp, 1);
	d = (struct drip){ .r = &r, .bytes = req, .len = sizeof(req) - 1 };
	uv_idle_init(&f.loop, &d.idle);
	d.idle.data = &d;
	uv_idle_start(&d.idle, drip_cb);
	run_until_raw(&f, 1);
	assert_int_equal(d.off, d.len);
	assert_int_equal(f.requests, 2);
	p = strstr(r.in, "\r\nContent-Type: application/x-test\r\nContent-Length: 4\r\n");
	assert_non_null(p);
	p = strstr(p, "\r\n\r\n") + 4;
	assert_memory_equal(p, "\x00\xff\r\n", 4);
	assert_true(starts_with(p + 4, "HTTP/1.1 200 OK\r\n"));
	/* The body holds a NUL, so no string functions past it. */
	static const char tail[] = "Connection: close\r\n\r\nhi";

	assert_true(r.in_len > sizeof(tail));
	assert_memory_equal(r.in + r.in_len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	fix_end(&f);
}

static char reuse_a[512];
static const char reuse_b[] = "abcde"
			      "GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
static uv_write_t reuse_wr;
static bool reuse_b_sent;

static void reuse_on_data(struct raw *r)
{
	const char *end;
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)reuse_b, sizeof(reuse_b) - 1);

	r->in[r->in_len] = '\0';
	end = strstr(r->in, "\r\n\r\n");
	if (reuse_b_sent || !end || r->in_len < (size_t)(end + 4 - r->in) + 100)
		return;
	/* The server has parsed the second header by now and waits for its 5 bytes. */
	reuse_b_sent = true;
	assert_int_equal(uv_write(&reuse_wr, (uv_stream_t *)&r->tcp, &b, 1, NULL), 0);
}

/*
 * A body buffer kept from a larger request must not swallow what follows a shorter body:
 * reads straight into the body stop at its Content-Length.
 */
static void test_reused_body_buffer(void **state)
{
	struct fix f;
	struct raw r;
	int n;

	(void)state;
	reuse_b_sent = false;
	n = snprintf(reuse_a, sizeof(reuse_a), "POST /1 HTTP/1.1\r\nContent-Length: 100\r\n\r\n");
	memset(reuse_a + n, 'x', 100);
	n += 100;
	n += snprintf(reuse_a + n, sizeof(reuse_a) - (size_t)n,
		      "POST /2 HTTP/1.1\r\nContent-Length: 5\r\n\r\n");
	fix_start(&f, NULL);
	raw_start(&f, &r, reuse_a, (size_t)n);
	r.on_data = reuse_on_data;
	run_until_raw(&f, 1);
	r.in[r.in_len] = '\0';
	assert_true(reuse_b_sent);
	assert_int_equal(f.requests, 3);
	assert_non_null(strstr(r.in, "\r\n\r\nabcdeHTTP/1.1 200 OK\r\n"));
	assert_string_equal(strrchr(r.in, '\n') + 1, "/3");
	fix_end(&f);
}

static int taken_sent;

static void free_sent_cb(int status, void *arg)
{
	assert_int_equal(status, 0);
	free(arg);
	taken_sent++;
}

static void take_and_echo(struct fix *f, struct http_request *req)
{
	size_t len;
	uint8_t *body = http_request_take_body(req, &len);

	(void)f;
	assert_null(req->body);
	assert_int_equal(req->body_len, 0);
	assert_int_equal(len, 5);
	assert_int_equal(http_response_send(req, 200, NULL, body, len, free_sent_cb, body), 0);
}

/* The handler owns a taken body; the connection allocates a new one for the next request. */
static void test_take_body(void **state)
{
	struct fix f;
	struct raw r;
	static const char req[] = "POST /1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nfirst"
				  "POST /2 HTTP/1.1\r\nContent-Length: 5\r\nConnection: close\r\n"
				  "\r\nlater";

	(void)state;
	taken_sent = 0;
	fix_start(&f, NULL);
	f.on_request = take_and_echo;
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_int_equal(f.requests, 2);
	assert_int_equal(taken_sent, 2);
	assert_non_null(strstr(r.in, "\r\n\r\nfirstHTTP/1.1 200 OK\r\n"));
	assert_string_equal(strrchr(r.in, '\n') + 1, "later");
	fix_end(&f);
}

#define HUGE_BYTES (48 * 1024 * 1024)
static int huge_sent, huge_status;

static void huge_sent_cb(int status, void *arg)
{
	huge_sent++;
	huge_status = status;
	free(arg);
}

static void send_huge(struct fix *f, struct http_request *req)
{
	uint8_t *b = calloc(1, HUGE_BYTES);

	(void)f;
	assert_non_null(b);
	assert_int_equal(http_response_send(req, 200, NULL, b, HUGE_BYTES, huge_sent_cb, b), 0);
}

/* A client that never reads: the write timeout ends it, sent_cb reports the failure. */
static void test_write_timeout(void **state)
{
	struct fix f;
	struct raw r;
	struct http_server_config cfg;

	(void)state;
	huge_sent = 0;
	http_server_config_default(&cfg);
	cfg.write_timeout_ms = 30;
	fix_start(&f, &cfg);
	f.on_request = send_huge;
	memset(&r, 0, sizeof(r));
	raw_start_str(&f, &r, "GET /huge HTTP/1.1\r\nHost: x\r\n\r\n");
	r.no_read = true;
	while (huge_sent == 0)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	assert_int_equal(huge_sent, 1);
	assert_true(huge_status < 0);
	assert_int_equal(http_server_stats(f.srv)->timeouts, 1);
	raw_close(&r);
	run_until_raw(&f, 1);
	fix_end(&f);
}

/*
 * Three requests in one segment, answered in order: parked (each answer comes from a
 * timer while the next request waits in the read buffer) or at once (each answer is
 * written inside the dispatch, and the next request is parsed after it returns).
 * request_cb asserts that no dispatch happens inside another.
 */
static void check_pipelined(enum mode mode)
{
	struct fix f;
	struct raw r;
	static const char req[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
				  "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
				  "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	const char *a, *b, *c;

	fix_start(&f, NULL);
	f.mode = mode;
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_int_equal(f.requests, 3);
	a = strstr(r.in, "\r\n\r\n/a");
	b = strstr(r.in, "\r\n\r\nxyz");
	c = strstr(r.in, "\r\n\r\n/c");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_true(r.eof);
	assert_int_equal(f.sent_ok, 1); /* the POST's answer */
	fix_end(&f);
}

static void test_pipelined(void **state)
{
	(void)state;
	check_pipelined(MODE_PARK);
}

static void test_pipelined_answered_at_once(void **state)
{
	(void)state;
	check_pipelined(MODE_ECHO);
}

/*
 * Heads the fast path takes (core/http_head.c) and one it leaves to llhttp (chunked), in
 * one write on one connection: each is read whole, in order, whichever parser reads it.
 */
static void test_pipelined_mixed(void **state)
{
	struct fix f;
	struct raw r;
	static const char req[] = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
				  "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
				  "3\r\ndef\r\n0\r\n\r\n"
				  "POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nghi"
				  "GET /d HTTP/1.1\r\nConnection: close\r\n\r\n";
	const char *a, *b, *c, *d;

	(void)state;
	fix_start(&f, NULL);
	f.mode = MODE_ECHO;
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_int_equal(f.requests, 4);
	a = strstr(r.in, "\r\n\r\nabc");
	b = strstr(r.in, "\r\n\r\ndef");
	c = strstr(r.in, "\r\n\r\nghi");
	d = strstr(r.in, "\r\n\r\n/d");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_non_null(d);
	assert_true(a < b && b < c && c < d);
	assert_true(r.eof);
	fix_end(&f);
}

/* A small answer fits the socket buffer: it is complete when http_response_send returns. */
static void answer_and_check_sent(struct fix *f, struct http_request *req)
{
	static const char body[] = "small";

	assert_int_equal(http_response_send(req, 200, NULL, body, sizeof(body) - 1, sent_cb, f), 0);
	assert_int_equal(f->sent_ok, 1);
}

static void test_small_answer_done_at_once(void **state)
{
	struct fix f;
	struct expect e;

	(void)state;
	fix_start(&f, NULL);
	fix_client(&f, 1);
	f.on_request = answer_and_check_sent;
	e = (struct expect){ &f, 200, (const uint8_t *)"small", 5 };
	assert_int_equal(http_client_request(f.cli, HTTP_METHOD_GET, "/", NULL, NULL, 0, 5000,
					     expect_cb, &e),
			 0);
	run_until_responses(&f, 1);
	assert_int_equal(f.requests, 1);
	fix_end(&f);
}

/* A second listener on ::1, IPv6-only; the client reaches it through an [IPv6] URL. */
static void test_ipv6_listener(void **state)
{
	struct fix f;
	struct sockaddr_in6 a6;
	struct sockaddr_storage ss;
	struct http_client *cli6;
	struct config_url u6;
	struct expect e;
	char url[80], why[CONFIG_ERR_BYTES];
	int err;

	(void)state;
	fix_start(&f, NULL);
	assert_int_equal(uv_ip6_addr("::1", 0, &a6), 0);
	err = http_server_listen(f.srv, (const struct sockaddr *)&a6);
	if (err == UV_EADDRNOTAVAIL || err == UV_EAFNOSUPPORT) {
		fix_end(&f);
		skip(); /* no IPv6 loopback here */
	}
	assert_int_equal(err, 0);
	assert_int_equal(http_server_sockname(f.srv, 1, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(http_server_sockname(f.srv, 2, &ss), -ENOENT);
	assert_int_equal(http_server_sockname(f.srv, 1, &ss), 0);
	snprintf(url, sizeof(url), "http://[::1]:%u/",
		 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	assert_int_equal(config_parse_url(url, &u6, why, sizeof(why)), 0);
	assert_int_equal(http_client_new(&cli6, &f.loop, &u6, NULL), 0);
	e = (struct expect){ &f, 200, (const uint8_t *)"/six", 4 };
	assert_int_equal(http_client_request(cli6, HTTP_METHOD_GET, "/six", NULL, NULL, 0, 5000,
					     expect_cb, &e),
			 0);
	run_until_responses(&f, 1);
	assert_int_equal(http_server_stats(f.srv)->accepted, 1);
	http_client_free(cli6);
	fix_end(&f);
}

static void test_http10(void **state)
{
	struct fix f;
	struct raw r;

	(void)state;
	fix_start(&f, NULL);
	/* HTTP/1.0 without keep-alive: answered, then closed. */
	raw_exchange(&f, &r, "GET /o HTTP/1.0\r\n\r\n", 19);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.in, "\r\nConnection: close\r\n"));
	assert_string_equal(strstr(r.in, "\r\n\r\n") + 4, "/o");
	fix_end(&f);
}

/* Header names match without regard to case, and only whole: a longer or shorter name
 * is another header. */
static void test_header_name_case(void **state)
{
	static const char req[] = "POST /e HTTP/1.0\r\n"
				  "Content-Typ: a/short\r\n"
				  "Content-Types: a/long\r\n"
				  "cONTENT-tYPE: x/y\r\n"
				  "Content-Length: 2\r\n\r\nhi";
	struct fix f;
	struct raw r;

	(void)state;
	fix_start(&f, NULL);
	raw_exchange(&f, &r, req, sizeof(req) - 1);
	assert_true(starts_with(r.in, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r.in, "\r\nContent-Type: x/y\r\n"));
	assert_string_equal(strstr(r.in, "\r\n\r\n") + 4, "hi");
	fix_end(&f);
}

/*
 * Unvouched connections are evictable whatever they are doing but waiting for the
 * handler: one lingering after Connection: close, never read from, makes room too.
 */
static void test_cap_evicts_lingering(void **state)
{
	static const char ka[] = "GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char kn[] = "GET /n HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct fix f;
	struct raw a, n;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_connections = 1;
	fix_start(&f, &cfg);
	raw_start_str(&f, &a, ka);
	a.no_read = true; /* never reads, never sends FIN: it would linger linger_ms */
	while (f.requests < 1)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	run_for(&f, 5);
	raw_exchange(&f, &n, kn, sizeof(kn) - 1);
	assert_true(starts_with(n.in, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(http_server_stats(f.srv)->evicted, 1);
	raw_close(&a);
	run_until_raw(&f, 2);
	fix_end(&f);
}

/*
 * A keep-alive connection that reuses its kept body buffer for a new head and then sends
 * nothing holds that buffer in the budget: it gives way like any body, not the newcomer.
 */
static void test_reused_buffer_gives_way(void **state)
{
	static char areq[512], breq[256];
	struct fix f;
	struct raw a, b;
	struct http_server_config cfg;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_body_bytes_total = 100;
	fix_start(&f, &cfg);
	snprintf(areq, sizeof(areq),
		 "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\n%090d"
		 "POST /a2 HTTP/1.1\r\nHost: x\r\nContent-Length: 90\r\n\r\n",
		 0);
	raw_start_str(&f, &a, areq);
	while (f.requests < 1)
		assert_int_not_equal(uv_run(&f.loop, UV_RUN_ONCE), 0);
	run_for(&f, 20);
	snprintf(breq, sizeof(breq),
		 "POST /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 50\r\n\r\n"
		 "%050d",
		 0);
	raw_exchange(&f, &b, breq, strlen(breq));
	assert_true(starts_with(b.in, "HTTP/1.1 200 OK\r\n"));
	assert_int_equal(http_server_stats(f.srv)->bodies_dropped, 1);
	raw_close(&a);
	run_until_raw(&f, 2);
	assert_int_equal(http_server_stats(f.srv)->body_bytes, 0);
	fix_end(&f);
}

/*
 * A body sent in a burst and then stalled keeps a high average rate for a long time; it
 * still gives way to a newcomer whose whole small body (a handshake) has just arrived.
 */
static void test_burst_then_stall_gives_way(void **state)
{
	static char big[120000], hs[256];
	struct fix f;
	struct raw a, b;
	struct http_server_config cfg;
	int n;

	(void)state;
	http_server_config_default(&cfg);
	cfg.max_body_bytes_total = 100000;
	fix_start(&f, &cfg);
	n = snprintf(big, sizeof(big),
		     "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n");
	memset(big + n, 'a', 99990);
	raw_start(&f, &a, big, (size_t)n + 99990);
	run_until_accepted(&f, 1);
	run_for(&f, 50);
	snprintf(hs, sizeof(hs),
		 "POST /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 64\r\n\r\n"
		 "%064d",
		 0);
	raw_exchange(&f, &b, hs, strlen(hs));
	assert_true(starts_with(b.in, "HTTP/1.1 200 OK\r\n"));
	run_until_raw(&f, 2);
	a.in[a.in_len] = '\0';
	assert_true(starts_with(a.in, "HTTP/1.1 503 "));
	assert_int_equal(http_server_stats(f.srv)->body_bytes, 0);
	fix_end(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_trim_bodies),
		cmocka_unit_test(test_trim_while_body),
		cmocka_unit_test(test_sendv),
		cmocka_unit_test(test_keepalive_reuse),
		cmocka_unit_test(test_longpoll_parked),
		cmocka_unit_test(test_parked_outlives_header_timeout),
		cmocka_unit_test(test_disconnect_while_parked),
		cmocka_unit_test(test_client_timeout_cancels),
		cmocka_unit_test(test_free_while_parked),
		cmocka_unit_test(test_413_before_body),
		cmocka_unit_test(test_garbage_400),
		cmocka_unit_test(test_oversized_header_431),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_timeout_moved_later),
		cmocka_unit_test(test_crlf_between_requests_idle),
		cmocka_unit_test(test_decline_after_fields),
		cmocka_unit_test(test_connection_cap),
		cmocka_unit_test(test_cap_evicts_unfinished),
		cmocka_unit_test(test_body_total),
		cmocka_unit_test(test_body_deadline),
		cmocka_unit_test(test_cap_evicts_unvouched_idle),
		cmocka_unit_test(test_cap_keeps_vouched),
		cmocka_unit_test(test_per_source_cap),
		cmocka_unit_test(test_cap_evicts_lingering),
		cmocka_unit_test(test_reused_buffer_gives_way),
		cmocka_unit_test(test_burst_then_stall_gives_way),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_chunked_over_cap),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_take_body),
		cmocka_unit_test(test_reused_body_buffer),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_pipelined_answered_at_once),
		cmocka_unit_test(test_pipelined_mixed),
		cmocka_unit_test(test_small_answer_done_at_once),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_header_name_case),
		cmocka_unit_test(test_ipv6_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * httun fcgi, the FastCGI source with the relay client (transport/relay_client.c) as its
 * handler, as cmd/fcgi.c composes them, between a scripted web server (FastCGI records on
 * a listening socket handed over like FCGI_LISTENSOCK_FILENO) and a scripted httun server
 * (the relay socket):
 * requests become relay REQUESTs with SCRIPT_NAME + PATH_INFO + QUERY_STRING as target,
 * answers come back as STDOUT + END_REQUEST matched by id, ABORT_REQUEST and a vanished
 * web server become CANCELs, a server that is away means 503.
 */
#include "fcgi/fcgi_app.h"
#include "core/relay.h"
#include "fcgi/fcgi_record.h"
#include "transport/relay_client.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#define S(str) ((struct span){ (const uint8_t *)(str), strlen(str) })

struct fixture {
	uv_loop_t loop;
	struct fcgi_app *app;
	struct relay_client *rc;
	char dir[48];
	char web_path[96]; /* the listening socket the app gets */
	char relay_path[96]; /* the fake server's relay socket */
	int relay_lst; /* fake server listener */
	int relay; /* fake server's accepted relay */
	uint8_t rbuf[65536];
	size_t rlen;
};

static void pump(struct fixture *f)
{
	for (int i = 0; i < 20; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t len)
{
	assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads from fd until have[0..want) is there or EOF; returns the bytes held. */
static size_t recv_until(struct fixture *f, int fd, uint8_t *buf, size_t cap, size_t have,
			 size_t want, bool *eof)
{
	*eof = false;
	for (int tries = 0; tries < 300 && have < want; tries++) {
		ssize_t n;

		pump(f);
		n = recv(fd, buf + have, cap - have, MSG_DONTWAIT);
		if (n == 0) {
			*eof = true;
			break;
		}
		if (n > 0)
			have += (size_t)n;
		else
			usleep(1000);
	}
	return have;
}

/* The next relay message at the fake server. */
static int relay_recv(struct fixture *f, struct relay_msg *m)
{
	for (int tries = 0; tries < 300; tries++) {
		struct cursor c = cursor_make(f->rbuf, f->rlen);
		bool eof;

		if (relay_msg_next(&c, m, NULL) == 1) {
			/* Keep the payload valid: copy it out of the way of later reads. */
			static uint8_t keep[65536];
			size_t used = f->rlen - c.len;

			memcpy(keep, m->payload.p, m->payload.len);
			m->payload.p = keep;
			memmove(f->rbuf, f->rbuf + used, c.len);
			f->rlen = c.len;
			return m->type;
		}
		f->rlen = recv_until(f, f->relay, f->rbuf, sizeof(f->rbuf), f->rlen, f->rlen + 1,
				     &eof);
		if (eof)
			return -1;
	}
	return -2;
}

static void relay_accept(struct fixture *f)
{
	struct relay_msg m;
	uint8_t b[RELAY_HEADER_BYTES + RELAY_HELLO_BYTES];
	struct writer w = writer_make(b, sizeof(b));

	for (int tries = 0; tries < 300 && f->relay < 0; tries++) {
		pump(f);
		f->relay = accept4(f->relay_lst, NULL, NULL, SOCK_NONBLOCK);
		if (f->relay < 0)
			usleep(1000);
	}
	assert_true(f->relay >= 0);
	f->rlen = 0;
	assert_int_equal(relay_recv(f, &m), RELAY_HELLO);
	relay_write_hello(&w);
	send_all(f->relay, b, w.len);
	pump(f);
}

static void relay_respond(struct fixture *f, uint32_t id, uint16_t status, const char *body)
{
	uint8_t b[512];
	struct writer w = writer_make(b, sizeof(b));

	assert_int_equal(relay_write_response_head(&w, id, status, S("application/octet-stream"),
						   strlen(body)),
			 0);
	assert_true(wr_bytes(&w, body, strlen(body)));
	send_all(f->relay, b, w.len);
}

/* BEGIN_REQUEST, PARAMS, STDIN as a web server sends them. */
static void fcgi_request(int fd, uint16_t id, bool keep, const char *method, const char *script,
			 const char *path_info, const char *query, const char *body)
{
	uint8_t b[4096], params[1024], begin[8] = { 0, FCGI_RESPONDER, keep ? FCGI_KEEP_CONN : 0 };
	struct writer w = writer_make(b, sizeof(b)), p = writer_make(params, sizeof(params));
	char len[24];

	snprintf(len, sizeof(len), "%zu", strlen(body));
	fcgi_write_pair(&p, S("REQUEST_METHOD"), S(method));
	fcgi_write_pair(&p, S("SCRIPT_NAME"), S(script));
	if (path_info)
		fcgi_write_pair(&p, S("PATH_INFO"), S(path_info));
	fcgi_write_pair(&p, S("QUERY_STRING"), S(query));
	fcgi_write_pair(&p, S("CONTENT_LENGTH"), S(len));
	fcgi_write_pair(&p, S("HTTP_HOST"), S("example"));
	assert_int_equal(fcgi_write_record(&w, FCGI_BEGIN_REQUEST, id, begin, 8), 0);
	assert_int_equal(fcgi_write_record(&w, FCGI_PARAMS, id, params, p.len), 0);
	assert_int_equal(fcgi_write_record(&w, FCGI_PARAMS, id, NULL, 0), 0);
	if (*body)
		assert_int_equal(fcgi_write_record(&w, FCGI_STDIN, id, body, strlen(body)), 0);
	assert_int_equal(fcgi_write_record(&w, FCGI_STDIN, id, NULL, 0), 0);
	send_all(fd, b, w.len);
}

/* Collects the STDOUT of request id up to its END_REQUEST; returns the STDOUT bytes. */
static size_t fcgi_answer(struct fixture *f, int fd, uint16_t id, char *out, size_t cap)
{
	static uint8_t buf[65536];
	size_t have = 0, olen = 0;
	bool eof = false;

	for (int rounds = 0;; rounds++) {
		assert_true(rounds < 30); /* about 10 s without the END_REQUEST */
		struct cursor c = cursor_make(buf, have);
		struct fcgi_record r;
		int ret;

		while ((ret = fcgi_record_next(&c, &r)) == 1) {
			assert_int_equal(r.request_id, id);
			if (r.type == FCGI_END_REQUEST) {
				assert_int_equal(r.content.len, 8);
				assert_int_equal(r.content.p[4], FCGI_REQUEST_COMPLETE);
				out[olen] = '\0';
				return olen;
			}
			assert_int_equal(r.type, FCGI_STDOUT);
			assert_true(olen + r.content.len < cap);
			memcpy(out + olen, r.content.p, r.content.len);
			olen += r.content.len;
		}
		assert_int_equal(ret, 0);
		memmove(buf, c.p, c.len);
		have = c.len;
		assert_false(eof);
		have = recv_until(f, fd, buf, sizeof(buf), have, have + 1, &eof);
	}
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int web_lst;

	uv_loop_init(&f->loop);
	snprintf(f->dir, sizeof(f->dir), "/tmp/httun-fcgi-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->web_path, sizeof(f->web_path), "%s/web.sock", f->dir);
	snprintf(f->relay_path, sizeof(f->relay_path), "%s/relay.sock", f->dir);
	f->relay = -1;
	f->relay_lst = unix_listen(f->relay_path);
	web_lst = unix_listen(f->web_path);
	f->rc = relay_client_new(&f->loop, f->relay_path);
	assert_non_null(f->rc);
	f->app = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	assert_non_null(f->app);
	assert_int_equal(fcgi_app_listen_fd(f->app, web_lst), 0);
	relay_client_start(f->rc);
	fcgi_app_start(f->app);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fcgi_app_free(f->app);
	relay_client_free(f->rc);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	if (f->relay >= 0)
		close(f->relay);
	if (f->relay_lst >= 0)
		close(f->relay_lst);
	unlink(f->web_path);
	unlink(f->relay_path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_not_a_listener(void **state)
{
	struct fixture *f = *state;
	struct fcgi_app *app = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(fcgi_app_listen_fd(app, fds[0]), -ENOTSOCK);
	assert_int_equal(fcgi_app_listen_fd(app, -1), -ENOTSOCK);
	close(fds[0]);
	close(fds[1]);
	fcgi_app_free(app);
	uv_run(&f->loop, UV_RUN_NOWAIT);
}

static void test_relay_round_trip(void **state)
{
	struct fixture *f = *state;
	struct relay_request rq;
	struct relay_msg m, m2;
	char out[4096];
	int web;

	relay_accept(f);
	web = unix_connect(f->web_path);
	/* Two requests on one kept connection; the second is answered first. */
	fcgi_request(web, 1, true, "GET", "/httun", "/pollTOKEN", "", "");
	fcgi_request(web, 2, true, "POST", "/httun", "/postTOKEN", "a=b", "BODY");
	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	assert_int_equal(relay_request_parse(m.payload, &rq), 0);
	assert_int_equal(rq.method.len, 3);
	assert_memory_equal(rq.target.p, "/httun/pollTOKEN", rq.target.len);
	assert_int_equal(rq.target.len, strlen("/httun/pollTOKEN"));
	assert_int_equal(rq.body.len, 0);
	assert_int_equal(relay_recv(f, &m2), RELAY_REQUEST);
	assert_int_equal(relay_request_parse(m2.payload, &rq), 0);
	assert_int_equal(rq.target.len, strlen("/httun/postTOKEN?a=b"));
	assert_memory_equal(rq.target.p, "/httun/postTOKEN?a=b", rq.target.len);
	assert_int_equal(rq.body.len, 4);
	assert_memory_equal(rq.body.p, "BODY", 4);
	assert_int_not_equal(m.id, m2.id);

	relay_respond(f, m2.id, 200, "frames");
	fcgi_answer(f, web, 2, out, sizeof(out));
	assert_string_equal(out, "Status: 200 OK\r\n"
				 "Content-Type: application/octet-stream\r\n"
				 "Content-Length: 6\r\n"
				 "Cache-Control: no-store\r\n"
				 "X-Accel-Buffering: no\r\n"
				 "\r\n"
				 "frames");
	relay_respond(f, m.id, 404, "");
	fcgi_answer(f, web, 1, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 404 Not Found\r\n"));
	assert_non_null(strstr(out, "Content-Length: 0\r\n"));
	/* An error looks like any web server's: no tunnel headers. */
	assert_null(strstr(out, "Cache-Control"));
	assert_null(strstr(out, "X-Accel-Buffering"));
	/* An answer for an id nobody waits for is dropped. */
	relay_respond(f, 999, 200, "stray");
	pump(f);
	assert_int_equal(fcgi_app_stats(f->app)->requests, 2);

	/* nginx-style: the whole path in SCRIPT_NAME, no PATH_INFO. */
	fcgi_request(web, 3, true, "GET", "/httun/x", NULL, "", "");
	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	assert_int_equal(relay_request_parse(m.payload, &rq), 0);
	assert_int_equal(rq.target.len, strlen("/httun/x"));
	assert_memory_equal(rq.target.p, "/httun/x", rq.target.len);
	relay_respond(f, m.id, 200, "");
	fcgi_answer(f, web, 3, out, sizeof(out));
	close(web);
	pump(f);
}

static void test_abort_and_close_cancel(void **state)
{
	struct fixture *f = *state;
	uint8_t b[64];
	struct writer w = writer_make(b, sizeof(b));
	struct relay_msg m, c;
	char out[256];
	int web;

	relay_accept(f);
	web = unix_connect(f->web_path);
	fcgi_request(web, 7, true, "GET", "/httun", "/park", "", "");
	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	fcgi_write_record(&w, FCGI_ABORT_REQUEST, 7, NULL, 0);
	send_all(web, b, w.len);
	assert_int_equal(relay_recv(f, &c), RELAY_CANCEL);
	assert_int_equal(c.id, m.id);
	assert_int_equal(fcgi_answer(f, web, 7, out, sizeof(out)), 0); /* END_REQUEST only */

	/* The web server drops the connection with a request in flight. */
	fcgi_request(web, 8, true, "GET", "/httun", "/park2", "", "");
	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	close(web);
	assert_int_equal(relay_recv(f, &c), RELAY_CANCEL);
	assert_int_equal(c.id, m.id);
	assert_int_equal(fcgi_app_stats(f->app)->aborted, 2);
}

static void test_bad_requests_answered_locally(void **state)
{
	struct fixture *f = *state;
	char out[512];
	int web;

	relay_accept(f);
	web = unix_connect(f->web_path);
	/* A body longer than CONTENT_LENGTH said. */
	{
		uint8_t b[1024], params[256], begin[8] = { 0, FCGI_RESPONDER, FCGI_KEEP_CONN };
		struct writer w = writer_make(b, sizeof(b)),
			      p = writer_make(params, sizeof(params));

		fcgi_write_pair(&p, S("REQUEST_METHOD"), S("POST"));
		fcgi_write_pair(&p, S("SCRIPT_NAME"), S("/httun/t"));
		fcgi_write_pair(&p, S("CONTENT_LENGTH"), S("2"));
		fcgi_write_record(&w, FCGI_BEGIN_REQUEST, 4, begin, 8);
		fcgi_write_record(&w, FCGI_PARAMS, 4, params, p.len);
		fcgi_write_record(&w, FCGI_PARAMS, 4, NULL, 0);
		fcgi_write_record(&w, FCGI_STDIN, 4, "toolong", 7);
		send_all(web, b, w.len);
	}
	fcgi_answer(f, web, 4, out, sizeof(out));
	assert_string_equal(out, "Status: 400 Bad Request\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: 12\r\n"
				 "\r\n"
				 "Bad Request\n");
	/* CONTENT_LENGTH beyond the body limit. */
	{
		uint8_t b[1024], params[256], begin[8] = { 0, FCGI_RESPONDER, FCGI_KEEP_CONN };
		struct writer w = writer_make(b, sizeof(b)),
			      p = writer_make(params, sizeof(params));

		fcgi_write_pair(&p, S("REQUEST_METHOD"), S("POST"));
		fcgi_write_pair(&p, S("SCRIPT_NAME"), S("/httun/t"));
		fcgi_write_pair(&p, S("CONTENT_LENGTH"), S("99999999999"));
		fcgi_write_record(&w, FCGI_BEGIN_REQUEST, 5, begin, 8);
		fcgi_write_record(&w, FCGI_PARAMS, 5, params, p.len);
		fcgi_write_record(&w, FCGI_PARAMS, 5, NULL, 0);
		send_all(web, b, w.len);
	}
	fcgi_answer(f, web, 5, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 413 "));
	assert_int_equal(fcgi_app_stats(f->app)->requests, 0);
	assert_int_equal(fcgi_app_stats(f->app)->local_errors, 2);
	close(web);
	pump(f);
}

/* BEGIN and PARAMS (CONTENT_LENGTH len) for request id, but no STDIN yet. */
static void fcgi_request_head(int fd, uint16_t id, size_t len)
{
	uint8_t b[1024], params[256], begin[8] = { 0, FCGI_RESPONDER, FCGI_KEEP_CONN };
	struct writer w = writer_make(b, sizeof(b)), p = writer_make(params, sizeof(params));
	char cl[24];

	snprintf(cl, sizeof(cl), "%zu", len);
	fcgi_write_pair(&p, S("REQUEST_METHOD"), S("POST"));
	fcgi_write_pair(&p, S("SCRIPT_NAME"), S("/httun/t"));
	fcgi_write_pair(&p, S("CONTENT_LENGTH"), S(cl));
	assert_int_equal(fcgi_write_record(&w, FCGI_BEGIN_REQUEST, id, begin, 8), 0);
	assert_int_equal(fcgi_write_record(&w, FCGI_PARAMS, id, params, p.len), 0);
	assert_int_equal(fcgi_write_record(&w, FCGI_PARAMS, id, NULL, 0), 0);
	send_all(fd, b, w.len);
}

/* Pumps the loop for about ms milliseconds. */
static void pump_ms(struct fixture *f, int ms)
{
	for (int i = 0; i < ms; i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

/* Sends all of p, running the app's loop whenever the socket is full. */
static void send_pumped(struct fixture *f, int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (int stalls = 0; len;) {
		ssize_t n = send(fd, b, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			b += n;
			len -= (size_t)n;
			stalls = 0;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		assert_true(++stalls < 10000);
		pump(f);
	}
}

/* len bytes of STDIN for request id, in records as large as web servers send them. */
static void fcgi_stdin(struct fixture *f, int fd, uint16_t id, size_t len)
{
	static uint8_t rec[FCGI_HEADER_BYTES + FCGI_STDOUT_RECORD_BYTES];

	while (len) {
		size_t n = len < FCGI_STDOUT_RECORD_BYTES ? len : FCGI_STDOUT_RECORD_BYTES;
		struct writer w = writer_make(rec, FCGI_HEADER_BYTES);

		assert_int_equal(fcgi_write_header(&w, FCGI_STDIN, id, (uint16_t)n, 0), 0);
		send_pumped(f, fd, rec, FCGI_HEADER_BYTES + n);
		len -= n;
	}
}

/* Runs the loop until the app has relayed a request or answered one itself. */
static void wait_relayed_or_refused(struct fixture *f)
{
	const struct fcgi_app_stats *st = fcgi_app_stats(f->app);
	uint64_t before = st->requests + st->local_errors;

	for (int tries = 0; tries < 1000 && st->requests + st->local_errors == before; tries++) {
		pump(f);
		usleep(1000);
	}
}

/* The 64-byte body of a handshake POST. */
static const char handshake[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* The fake server answers the next request, which must carry the handshake's body. */
static void relay_answer_handshake(struct fixture *f)
{
	struct relay_request rq;
	struct relay_msg m;

	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	assert_int_equal(relay_request_parse(m.payload, &rq), 0);
	assert_int_equal(rq.body.len, 64);
	assert_memory_equal(rq.body.p, handshake, 64);
	relay_respond(f, m.id, 200, "fine");
}

/*
 * A body is charged as its bytes come, not as CONTENT_LENGTH announces it: requests that
 * announce all of FCGI_BODY_BYTES_TOTAL and send nothing hold none of it, and a 64-byte
 * POST is relayed. Before, they reserved the budget and the POST got 503.
 */
static void test_body_charged_as_received(void **state)
{
	struct fixture *f = *state;
	const unsigned fill = FCGI_BODY_BYTES_TOTAL / FCGI_STDIN_MAX_BYTES;
	char out[512];
	int web[2];

	_Static_assert(FCGI_BODY_BYTES_TOTAL % FCGI_STDIN_MAX_BYTES == 0, "whole bodies");
	assert_true(fill <= FCGI_MAX_REQS_PER_CONN);
	relay_accept(f);
	web[0] = unix_connect(f->web_path);
	web[1] = unix_connect(f->web_path);
	for (unsigned i = 1; i <= fill; i++) {
		fcgi_request_head(web[0], (uint16_t)i, FCGI_STDIN_MAX_BYTES);
		fcgi_stdin(f, web[0], (uint16_t)i, 1);
	}
	pump(f);
	fcgi_request(web[1], 1, true, "POST", "/httun/t", NULL, "", handshake);
	wait_relayed_or_refused(f);
	assert_int_equal(fcgi_app_stats(f->app)->local_errors, 0);
	assert_int_equal(fcgi_app_stats(f->app)->requests, 1);
	relay_answer_handshake(f);
	fcgi_answer(f, web[1], 1, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 200 "));
	close(web[0]);
	close(web[1]);
	pump(f);
}

/*
 * The budget full of bodies that did arrive (FCGI_BODY_BYTES_TOTAL of them, one byte
 * short of complete each): a 64-byte POST still goes through, and the body that came
 * slowest (the same bytes over the longest time) is dropped with 503 to make room; the
 * others stay. Before, the POST got 503.
 */
static void test_body_slowest_dropped(void **state)
{
	struct fixture *f = *state;
	const unsigned fill = FCGI_BODY_BYTES_TOTAL / FCGI_STDIN_MAX_BYTES;
	char out[512];
	int web[2];

	relay_accept(f);
	web[0] = unix_connect(f->web_path);
	web[1] = unix_connect(f->web_path);
	/* Request 1's body starts first and ends no further: the slowest. */
	fcgi_request_head(web[0], 1, FCGI_STDIN_MAX_BYTES);
	pump_ms(f, 20);
	for (unsigned i = 1; i <= fill; i++) {
		if (i > 1)
			fcgi_request_head(web[0], (uint16_t)i, FCGI_STDIN_MAX_BYTES);
		fcgi_stdin(f, web[0], (uint16_t)i, FCGI_STDIN_MAX_BYTES - 1);
	}
	pump(f);
	assert_int_equal(fcgi_app_stats(f->app)->local_errors, 0);
	fcgi_request(web[1], 1, true, "POST", "/httun/t", NULL, "", handshake);
	wait_relayed_or_refused(f);
	assert_int_equal(fcgi_app_stats(f->app)->requests, 1);
	relay_answer_handshake(f);
	fcgi_answer(f, web[1], 1, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 200 "));
	fcgi_answer(f, web[0], 1, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 503 "));
	assert_int_equal(fcgi_app_stats(f->app)->local_errors, 1);
	close(web[0]);
	close(web[1]);
	pump(f);
}

/*
 * A body that keeps trickling, never pausing for the idle time, is answered 408 at its
 * deadline. Before, a byte every few seconds held it as long as the sender liked.
 */
static void test_body_deadline_408(void **state)
{
	struct fixture *f = *state;
	char out[512], c;
	int web, sent;

	fcgi_app_set_body_deadline_ms(f->app, 200);
	relay_accept(f);
	web = unix_connect(f->web_path);
	fcgi_request_head(web, 3, 100);
	for (sent = 0; sent < 100; sent++) {
		if (recv(web, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1)
			break; /* answered */
		fcgi_stdin(f, web, 3, 1);
		pump_ms(f, 20);
	}
	assert_true(sent < 100);
	fcgi_answer(f, web, 3, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 408 "));
	assert_int_equal(fcgi_app_stats(f->app)->requests, 0);
	close(web);
	pump(f);
}

/*
 * An idle relay connection is closed by the app and opened again at once (before the
 * server's idle timeout could close it under a request); one with a request in flight is
 * kept however long the answer takes. Requests go through the new connection.
 */
static void test_relay_idle_reconnects(void **state)
{
	struct fixture *f = *state;
	struct relay_msg m;
	char out[512];
	int web;

	relay_client_set_idle_ms(f->rc, 150);
	relay_accept(f);
	web = unix_connect(f->web_path);
	fcgi_request(web, 1, true, "GET", "/httun", "/park", "", "");
	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	pump_ms(f, 400);
	relay_respond(f, m.id, 200, "late");
	fcgi_answer(f, web, 1, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 200 "));
	assert_int_equal(relay_client_stats(f->rc)->connects, 1);
	/* Idle from here: the app hangs up and calls again. */
	assert_int_equal(relay_recv(f, &m), -1);
	close(f->relay);
	f->relay = -1;
	relay_accept(f);
	pump(f);
	assert_int_equal(relay_client_stats(f->rc)->connects, 2);
	fcgi_request(web, 2, true, "GET", "/httun", "/again", "", "");
	assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
	relay_respond(f, m.id, 200, "ok");
	fcgi_answer(f, web, 2, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 200 "));
	assert_int_equal(fcgi_app_stats(f->app)->local_errors, 0);
	close(web);
	pump(f);
}

/* A body that stops coming is answered 408 once the idle time has passed, and freed. */
static void test_body_idle_408(void **state)
{
	struct fixture *f = *state;
	uint8_t b[64];
	struct writer w = writer_make(b, sizeof(b));
	char out[512];
	uint64_t t0;
	int web;

	fcgi_app_set_body_idle_ms(f->app, 150);
	relay_accept(f);
	web = unix_connect(f->web_path);
	fcgi_request_head(web, 3, 10);
	assert_int_equal(fcgi_write_record(&w, FCGI_STDIN, 3, "abcd", 4), 0);
	uv_update_time(&f->loop);
	t0 = uv_now(&f->loop); /* before the app can have read the STDIN */
	send_all(web, b, w.len);
	pump(f);
	fcgi_answer(f, web, 3, out, sizeof(out));
	uv_update_time(&f->loop);
	assert_true(uv_now(&f->loop) - t0 >= 100);
	assert_non_null(strstr(out, "Status: 408 "));
	assert_int_equal(fcgi_app_stats(f->app)->requests, 0);
	close(web);
	pump(f);
}

/* The server is away: the request waits RELAY_WAIT_MS, then 503. */
static void test_server_away_503(void **state)
{
	struct fixture *f = *state;
	char out[512];
	int web;

	/* Nobody listens on the relay socket: every connect fails. */
	close(f->relay_lst);
	f->relay_lst = -1;
	unlink(f->relay_path);
	web = unix_connect(f->web_path);
	fcgi_request(web, 9, false, "GET", "/httun", "/p", "", "");
	{
		uint64_t start = uv_now(&f->loop);

		while (uv_now(&f->loop) - start < RELAY_WAIT_MS - 1000) {
			uv_run(&f->loop, UV_RUN_ONCE);
			uv_update_time(&f->loop);
		}
	}
	{
		char c;
		/* Still waiting a second before the deadline. */
		assert_int_equal(recv(web, &c, 1, MSG_DONTWAIT), -1);
	}
	{
		uint64_t start = uv_now(&f->loop);

		while (uv_now(&f->loop) - start < 1500)
			uv_run(&f->loop, UV_RUN_ONCE);
	}
	fcgi_answer(f, web, 9, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 503 Service Unavailable\r\n"));
	close(web);
	pump(f);
}

/*
 * --listen: the socket is made 0660; a live socket (another httun fcgi accepts on it) is
 * not taken over, a file that is not a socket is not removed, and a directory others may
 * write is refused.
 */
static void test_listen_path(void **state)
{
	struct fixture *f = *state;
	struct fcgi_app *a, *b;
	char path[128], dir[96], file[128];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/listen.sock", f->dir);
	a = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	assert_int_equal(fcgi_app_listen_path(a, path, (gid_t)-1), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	b = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	assert_int_equal(fcgi_app_listen_path(b, path, (gid_t)-1), -EADDRINUSE);
	fcgi_app_free(b);
	fcgi_app_free(a);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	/* Its socket file went with it (b, refused, left it alone until then). */
	assert_int_equal(lstat(path, &st), -1);
	/* A stale socket file, as a killed process leaves it: it is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	b = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	assert_int_equal(fcgi_app_listen_path(b, path, (gid_t)-1), 0);
	fcgi_app_free(b);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	unlink(path);

	snprintf(file, sizeof(file), "%s/file", f->dir);
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	b = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	assert_int_equal(fcgi_app_listen_path(b, file, (gid_t)-1), -EEXIST);
	fcgi_app_free(b);
	unlink(file);

	snprintf(dir, sizeof(dir), "%s/open", f->dir);
	snprintf(path, sizeof(path), "%s/l.sock", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 01777), 0);
	b = fcgi_app_new(&f->loop, relay_client_on_request, f->rc);
	assert_int_equal(fcgi_app_listen_path(b, path, (gid_t)-1), -EPERM);
	fcgi_app_free(b);
	assert_int_equal(lstat(path, &st), -1);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	rmdir(dir);
}

/*
 * A web server connection that floods GET_VALUES and never reads the answers: the app
 * stops reading it once FCGI_MAX_QUEUED_BYTES wait (the sender stalls), instead of
 * queueing answers without bound; it reads again once the peer drains them.
 */
static void test_unread_output_stops_reading(void **state)
{
	struct fixture *f = *state;
	static uint8_t batch[64 * 1024], sink[65536];
	uint8_t pairs[64];
	struct writer p = writer_make(pairs, sizeof(pairs));
	struct writer w = writer_make(batch, sizeof(batch));
	size_t sent = 0, one, got = 0;
	int stalled = 0, web, rcv = 4096;
	char out[512];

	relay_accept(f);
	web = unix_connect(f->web_path);
	setsockopt(web, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	fcgi_write_pair(&p, S("FCGI_MAX_CONNS"), S(""));
	assert_int_equal(fcgi_write_record(&w, FCGI_GET_VALUES, 0, pairs, p.len), 0);
	one = w.len;
	while (w.len + one <= sizeof(batch))
		assert_int_equal(fcgi_write_record(&w, FCGI_GET_VALUES, 0, pairs, p.len), 0);
	while (sent < 64u * 1024 * 1024 && stalled < 100) {
		ssize_t n = send(web, batch + sent % w.len, w.len - sent % w.len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n > 0) {
			sent += (size_t)n;
			stalled = 0;
		} else {
			stalled++;
		}
		pump(f);
	}
	assert_true(stalled >= 100);
	assert_true(sent < 32u * 1024 * 1024);
	/* Drain: the app reads again (the rest of a cut record goes in), and goes on. */
	for (int quiet = 0; quiet < 200;) {
		ssize_t n = recv(web, sink, sizeof(sink), MSG_DONTWAIT);

		if (sent % one) {
			ssize_t k = send(web, batch + sent % w.len, one - sent % one,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (k > 0)
				sent += (size_t)k;
		}
		if (n > 0) {
			got += (size_t)n;
			quiet = 0;
		} else {
			quiet++;
			pump(f);
			usleep(500);
		}
	}
	assert_int_equal(sent % one, 0);
	assert_true(got > 0);
	fcgi_request(web, 3, true, "GET", "/httun", "/missing", "", "");
	{
		struct relay_msg m;

		assert_int_equal(relay_recv(f, &m), RELAY_REQUEST);
		relay_respond(f, m.id, 200, "ok");
	}
	fcgi_answer(f, web, 3, out, sizeof(out));
	assert_non_null(strstr(out, "Status: 200 OK\r\n"));
	close(web);
	pump(f);
}

/* ---- local mode (httun server --fcgi-listen): requests for a handler in the process ---- */

struct local {
	struct fixture f;
	struct http_request *held; /* the request the handler holds */
	int handled, cancelled, sent, sent_status;
	uint8_t *body; /* taken from the last POST */
	size_t body_len;
	uint8_t big[150000]; /* answered in three buffers: records cut across them */
};

static void local_sent_cb(int status, void *arg)
{
	struct local *l = arg;

	l->sent++;
	l->sent_status = status;
}

static void local_cancel_cb(struct http_request *req, void *arg)
{
	struct local *l = arg;

	assert_ptr_equal(req, l->held);
	l->cancelled++;
	l->held = NULL;
}

/*
 * /big: answered at once from three buffers; /missing: an error answer; /park: held with
 * a cancel callback; /hold: held without one (the handler is about to answer).
 */
static void local_on_request(struct http_request *req, void *arg)
{
	struct local *l = arg;

	l->handled++;
	assert_null(http_request_header(req, "Host"));
	if (req->method == HTTP_METHOD_POST) {
		free(l->body);
		l->body = http_request_take_body(req, &l->body_len);
		assert_null(req->body);
	}
	if (!strcmp(req->url, "/httun/big?q=1")) {
		struct iovec b[3] = { { l->big, 1000 },
				      { l->big + 1000, 70000 },
				      { l->big + 71000, sizeof(l->big) - 71000 } };

		assert_int_equal(req->method, HTTP_METHOD_GET);
		assert_int_equal(req->url_len, strlen("/httun/big?q=1"));
		assert_int_equal(http_response_sendv(req, 200, NULL, b, 3, local_sent_cb, l), 0);
	} else if (!strcmp(req->url, "/httun/missing")) {
		http_response_send_error(req, 404, false);
	} else if (!strcmp(req->url, "/httun/park")) {
		l->held = req;
		http_request_set_cancel(req, local_cancel_cb, l);
	} else {
		assert_string_equal(req->url, "/httun/hold");
		l->held = req;
	}
}

static int setup_local(void **state)
{
	struct local *l = calloc(1, sizeof(*l));
	struct fixture *f = &l->f;

	uv_loop_init(&f->loop);
	snprintf(f->dir, sizeof(f->dir), "/tmp/httun-fcgi-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->web_path, sizeof(f->web_path), "%s/web.sock", f->dir);
	f->relay = -1;
	f->relay_lst = -1;
	for (size_t i = 0; i < sizeof(l->big); i++)
		l->big[i] = (uint8_t)(i * 31 + 7);
	f->app = fcgi_app_new(&f->loop, local_on_request, l);
	assert_non_null(f->app);
	assert_int_equal(fcgi_app_listen_path(f->app, f->web_path, getgid()), 0);
	fcgi_app_start(f->app);
	*state = l;
	return 0;
}

static int teardown_local(void **state)
{
	struct local *l = *state;

	free(l->body);
	return teardown(state); /* f is l's first member */
}

/* Answers come from the handler's buffers, whole; errors look like any web server's. */
static void test_local_answers(void **state)
{
	struct local *l = *state;
	struct fixture *f = &l->f;
	static char out[200000];
	const char *head = "Status: 200 OK\r\n"
			   "Content-Type: application/octet-stream\r\n"
			   "Content-Length: 150000\r\n"
			   "Cache-Control: no-store\r\n"
			   "X-Accel-Buffering: no\r\n"
			   "\r\n";
	struct stat st;
	size_t n;
	int web;

	assert_int_equal(lstat(f->web_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_int_equal(st.st_gid, getgid());
	web = unix_connect(f->web_path);
	fcgi_request(web, 1, true, "GET", "/httun", "/big", "q=1", "");
	n = fcgi_answer(f, web, 1, out, sizeof(out));
	assert_int_equal(n, strlen(head) + sizeof(l->big));
	assert_memory_equal(out, head, strlen(head));
	assert_memory_equal(out + strlen(head), l->big, sizeof(l->big));
	pump(f);
	assert_int_equal(l->sent, 1);
	assert_int_equal(l->sent_status, 0);

	fcgi_request(web, 2, true, "GET", "/httun", "/missing", "", "");
	fcgi_answer(f, web, 2, out, sizeof(out));
	assert_string_equal(out, "Status: 404 Not Found\r\n"
				 "Content-Type: text/plain\r\n"
				 "Content-Length: 10\r\n"
				 "\r\n"
				 "Not Found\n");
	assert_int_equal(l->handled, 2);
	assert_int_equal(fcgi_app_stats(f->app)->requests, 2);
	close(web);
	pump(f);
}

/*
 * A parked request: answered later it goes out; aborted, or its connection closed, the
 * handler hears of it once through the cancel callback. A POST body goes to the handler.
 */
static void test_local_park_and_cancel(void **state)
{
	struct local *l = *state;
	struct fixture *f = &l->f;
	char out[4096];
	uint8_t b[64];
	struct writer w = writer_make(b, sizeof(b));
	int web;

	web = unix_connect(f->web_path);
	fcgi_request(web, 1, true, "POST", "/httun", "/park", "", "FRAMES");
	pump(f);
	assert_non_null(l->held);
	assert_int_equal(l->body_len, 6);
	assert_memory_equal(l->body, "FRAMES", 6);
	assert_int_equal(http_response_send(l->held, 200, NULL, "late", 4, NULL, NULL), 0);
	l->held = NULL;
	fcgi_answer(f, web, 1, out, sizeof(out));
	assert_non_null(strstr(out, "Content-Length: 4\r\n"));
	assert_non_null(strstr(out, "\r\n\r\nlate"));
	assert_int_equal(strlen(strstr(out, "\r\n\r\n")), 8);
	assert_int_equal(l->cancelled, 0);

	/* ABORT_REQUEST: cancelled, and END_REQUEST answers the abort. */
	fcgi_request(web, 2, true, "GET", "/httun", "/park", "", "");
	pump(f);
	assert_non_null(l->held);
	assert_int_equal(fcgi_write_record(&w, FCGI_ABORT_REQUEST, 2, NULL, 0), 0);
	send_all(web, b, w.len);
	fcgi_answer(f, web, 2, out, sizeof(out));
	assert_int_equal(l->cancelled, 1);
	assert_null(l->held);

	/* The web server closes the connection: cancelled too. */
	fcgi_request(web, 3, true, "GET", "/httun", "/park", "", "");
	pump(f);
	assert_non_null(l->held);
	close(web);
	pump(f);
	assert_int_equal(l->cancelled, 2);
	assert_null(l->held);
	assert_int_equal(fcgi_app_stats(f->app)->aborted, 2);
}

/*
 * A request the handler holds without a cancel callback when the web server goes away:
 * the handler's answer later goes nowhere, its buffers are handed back, nothing leaks.
 */
static void test_local_orphan(void **state)
{
	struct local *l = *state;
	struct fixture *f = &l->f;
	int web;

	web = unix_connect(f->web_path);
	fcgi_request(web, 1, true, "POST", "/httun", "/hold", "", "x");
	pump(f);
	assert_non_null(l->held);
	close(web);
	pump(f);
	assert_int_equal(l->cancelled, 0);
	assert_int_equal(http_response_send(l->held, 200, NULL, "gone", 4, local_sent_cb, l),
			 -ECANCELED);
	assert_int_equal(l->sent, 1);
	assert_int_equal(l->sent_status, -ECANCELED);
	l->held = NULL;

	/* The same after an ABORT_REQUEST on a connection that stays. */
	web = unix_connect(f->web_path);
	fcgi_request(web, 1, true, "GET", "/httun", "/hold", "", "");
	pump(f);
	assert_non_null(l->held);
	{
		uint8_t b[16];
		struct writer w = writer_make(b, sizeof(b));
		char out[256];

		assert_int_equal(fcgi_write_record(&w, FCGI_ABORT_REQUEST, 1, NULL, 0), 0);
		send_all(web, b, w.len);
		fcgi_answer(f, web, 1, out, sizeof(out));
	}
	assert_int_equal(http_response_send_error(l->held, 404, false), -ECANCELED);
	l->held = NULL;
	/* The connection still serves: the id is free again. */
	{
		char out[256];

		fcgi_request(web, 1, true, "GET", "/httun", "/missing", "", "");
		fcgi_answer(f, web, 1, out, sizeof(out));
		assert_non_null(strstr(out, "Status: 404 Not Found\r\n"));
	}
	close(web);
	pump(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_not_a_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_and_close_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests_answered_locally, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_away_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_charged_as_received, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_slowest_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_deadline_408, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relay_idle_reconnects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_body_idle_408, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_output_stops_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_answers, setup_local, teardown_local),
		cmocka_unit_test_setup_teardown(test_local_park_and_cancel, setup_local,
						teardown_local),
		cmocka_unit_test_setup_teardown(test_local_orphan, setup_local, teardown_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The relay listener against a scripted relay on a real Unix socket: HELLO, requests
 * answered by id in any order, CANCEL and a vanished relay cancelling parked requests,
 * protocol errors closing only the offending connection, file modes, and (as root) a peer
 * with the wrong credentials refused.
 */
#include "transport/relay_server.h"
#include "core/limits.h"
#include "core/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define S(str) ((struct span){ (const uint8_t *)(str), strlen(str) })

struct fixture {
	uv_loop_t loop;
	struct relay_server *rs;
	char dir[48];
	char path[96];
	struct http_request *parked[8];
	unsigned nparked;
	unsigned cancelled;
	char last_cancelled[64];
};

static void cancel_cb(struct http_request *req, void *arg)
{
	struct fixture *f = arg;

	f->cancelled++;
	snprintf(f->last_cancelled, sizeof(f->last_cancelled), "%s", req->url);
	for (unsigned i = 0; i < f->nparked; i++)
		if (f->parked[i] == req)
			f->parked[i] = f->parked[--f->nparked];
}

static void free_sent_cb(int status, void *arg)
{
	(void)status;
	free(arg);
}

/* /park/...: held with a cancel callback; anything else: echoed at once. */
static void on_request(struct http_request *req, void *arg)
{
	struct fixture *f = arg;
	size_t len;
	uint8_t *body;

	if (!strncmp(req->url, "/park", 5)) {
		http_request_set_cancel(req, cancel_cb, f);
		f->parked[f->nparked++] = req;
		return;
	}
	if (!strcmp(req->url, "/missing")) {
		http_response_send_error(req, 404, false);
		return;
	}
	assert_int_equal(req->method, HTTP_METHOD_POST);
	assert_string_equal(req->method_name, "POST");
	body = http_request_take_body(req, &len);
	http_response_send(req, 200, "text/x-echo", body, len, free_sent_cb, body);
}

static void pump(struct fixture *f)
{
	for (int i = 0; i < 20; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

static int relay_connect(struct fixture *f)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump(f);
	return fd;
}

static void send_all(int fd, const void *p, size_t len)
{
	assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_hello(int fd)
{
	uint8_t b[RELAY_HEADER_BYTES + RELAY_HELLO_BYTES];
	struct writer w = writer_make(b, sizeof(b));

	relay_write_hello(&w);
	send_all(fd, b, w.len);
}

static void send_request(int fd, uint32_t id, const char *method, const char *target,
			 const char *body)
{
	uint8_t b[RELAY_HEAD_MAX_BYTES + 64];
	struct writer w = writer_make(b, sizeof(b));

	assert_int_equal(relay_write_request_head(&w, id, S(method), S(target), strlen(body)), 0);
	assert_true(wr_bytes(&w, body, strlen(body)));
	send_all(fd, b, w.len);
}

static void send_cancel(int fd, uint32_t id)
{
	uint8_t b[RELAY_HEADER_BYTES];
	struct writer w = writer_make(b, sizeof(b));

	relay_write_cancel(&w, id);
	send_all(fd, b, w.len);
}

/* Reads one message (after pumping the loop); returns its type, or -1 on EOF. */
static int recv_msg(struct fixture *f, int fd, uint8_t *buf, size_t cap, struct relay_msg *m)
{
	size_t have = 0;

	for (int tries = 0; tries < 200; tries++) {
		struct cursor c = cursor_make(buf, have);
		ssize_t n;

		if (relay_msg_next(&c, m, NULL) == 1)
			return m->type;
		pump(f);
		n = recv(fd, buf + have, cap - have, MSG_DONTWAIT);
		if (n == 0)
			return -1;
		if (n > 0)
			have += (size_t)n;
		else
			usleep(1000);
	}
	fail_msg("no message");
	return -2;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct relay_server_config cfg = { .allow_uid = 12345, .sock_gid = (gid_t)-1 };

	uv_loop_init(&f->loop);
	snprintf(f->dir, sizeof(f->dir), "/tmp/httun-relay-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/run/relay.sock", f->dir);
	f->rs = relay_server_new(&f->loop, &cfg, on_request, f);
	assert_non_null(f->rs);
	assert_int_equal(relay_server_listen(f->rs, f->path), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char run[96];

	relay_server_free(f->rs);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_int_equal(access(f->path, F_OK), -1); /* the socket file is removed */
	snprintf(run, sizeof(run), "%s/run", f->dir);
	rmdir(run);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_modes(void **state)
{
	struct fixture *f = *state;
	char run[96];
	struct stat st;

	snprintf(run, sizeof(run), "%s/run", f->dir);
	assert_int_equal(stat(run, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
}

/* A second server on the same path is refused while the first one serves it. */
static void test_path_in_use(void **state)
{
	struct fixture *f = *state;
	struct relay_server_config cfg = { .allow_uid = (uid_t)-1, .sock_gid = (gid_t)-1 };
	struct relay_server *rs2 = relay_server_new(&f->loop, &cfg, on_request, f);
	char other[128];
	int fd;

	assert_non_null(rs2);
	assert_int_equal(relay_server_listen(rs2, f->path), -EADDRINUSE);
	relay_server_free(rs2);
	/* A regular file there is not ours to remove. */
	snprintf(other, sizeof(other), "%s/run/file", f->dir);
	fd = open(other, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	rs2 = relay_server_new(&f->loop, &cfg, on_request, f);
	assert_int_equal(relay_server_listen(rs2, other), -EEXIST);
	relay_server_free(rs2);
	unlink(other);
	pump(f);
}

static void test_requests_by_id(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096];
	struct relay_msg m;
	struct relay_response rs;
	uint16_t v;
	int fd = relay_connect(f);

	send_hello(fd);
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_HELLO);
	assert_int_equal(relay_hello_parse(m.payload, &v), 0);
	assert_int_equal(v, RELAY_VERSION);

	/* The parked request first, the echo second: the echo's answer comes first. */
	send_request(fd, 5, "GET", "/park/a", "");
	send_request(fd, 6, "POST", "/echo", "abc");
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(m.id, 6);
	assert_int_equal(relay_response_parse(m.payload, &rs), 0);
	assert_int_equal(rs.status, 200);
	assert_int_equal(rs.ctype.len, 11);
	assert_memory_equal(rs.ctype.p, "text/x-echo", 11);
	assert_int_equal(rs.body.len, 3);
	assert_memory_equal(rs.body.p, "abc", 3);
	assert_int_equal(f->nparked, 1);
	assert_string_equal(f->parked[0]->url, "/park/a");

	/* The parked one answered now, as an error. */
	http_response_send_error(f->parked[0], 503, false);
	f->nparked = 0;
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(m.id, 5);
	assert_int_equal(relay_response_parse(m.payload, &rs), 0);
	assert_int_equal(rs.status, 503);

	send_request(fd, 7, "GET", "/missing", "");
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(m.id, 7);
	assert_int_equal(relay_response_parse(m.payload, &rs), 0);
	assert_int_equal(rs.status, 404);
	/* The body the HTTP server sends for a 404: nothing tells a tunnel apart. */
	assert_int_equal(rs.body.len, 10);
	assert_memory_equal(rs.body.p, "Not Found\n", 10);

	/* CANCEL drops a parked request; a CANCEL for an answered id is harmless. */
	send_request(fd, 8, "GET", "/park/b", "");
	pump(f);
	assert_int_equal(f->nparked, 1);
	send_cancel(fd, 8);
	send_cancel(fd, 6);
	pump(f);
	assert_int_equal(f->nparked, 0);
	assert_int_equal(f->cancelled, 1);
	assert_string_equal(f->last_cancelled, "/park/b");

	/* The relay goes away: its parked requests are cancelled. */
	send_request(fd, 9, "GET", "/park/c", "");
	send_request(fd, 10, "GET", "/park/d", "");
	pump(f);
	assert_int_equal(f->nparked, 2);
	close(fd);
	pump(f);
	assert_int_equal(f->nparked, 0);
	assert_int_equal(f->cancelled, 3);
	assert_int_equal(relay_server_stats(f->rs)->requests, 6);
	assert_int_equal(relay_server_stats(f->rs)->cancelled, 3);
	assert_int_equal(relay_server_stats(f->rs)->broken, 0);
}

/* Each protocol error closes that connection only; the others keep working. */
static void test_protocol_errors(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096];
	struct relay_msg m;
	static const uint8_t reserved[] = { 2, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 };
	static const uint8_t huge[] = { 2, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t response[] = { 3, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 200, 0 };
	static const uint8_t bad_target[] = { 2, 0, 0, 0,   0,	 0,   0, 1, 0,	0,
					      0, 7, 3, 'G', 'E', 'T', 0, 1, 'x' };
	const struct {
		const uint8_t *p;
		size_t len;
		bool hello;
	} cases[] = {
		{ reserved, sizeof(reserved), true },	   { huge, sizeof(huge), true },
		{ response, sizeof(response), true },	   { bad_target, sizeof(bad_target), true },
		{ bad_target, sizeof(bad_target), false }, /* a request before HELLO */
	};
	int good = relay_connect(f);

	send_hello(good);
	assert_int_equal(recv_msg(f, good, buf, sizeof(buf), &m), RELAY_HELLO);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = relay_connect(f);

		if (cases[i].hello) {
			send_hello(fd);
			assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_HELLO);
		}
		send_all(fd, cases[i].p, cases[i].len);
		assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), -1);
		close(fd);
		assert_int_equal(relay_server_stats(f->rs)->broken, i + 1);
	}
	/* The same id twice while the first is in flight. */
	{
		int fd = relay_connect(f);

		send_hello(fd);
		assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_HELLO);
		send_request(fd, 3, "GET", "/park/x", "");
		send_request(fd, 3, "GET", "/park/y", "");
		assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), -1);
		assert_int_equal(f->cancelled, 1); /* the first, parked, went with it */
		close(fd);
	}
	send_request(good, 1, "POST", "/echo", "still here");
	assert_int_equal(recv_msg(f, good, buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(m.id, 1);
	close(good);
	pump(f);
}

/* Replaces the fixture's server by one with cfg, on the same path. */
static void restart(struct fixture *f, const struct relay_server_config *cfg)
{
	relay_server_free(f->rs);
	pump(f);
	f->rs = relay_server_new(&f->loop, cfg, on_request, f);
	assert_non_null(f->rs);
	assert_int_equal(relay_server_listen(f->rs, f->path), 0);
}

/*
 * A process with uid and gid (primary, and no other group) connects and sends HELLO.
 * Returns whether the server closed it unanswered. Root only (skips otherwise).
 */
static bool peer_refused(struct fixture *f, uid_t uid, gid_t gid)
{
	char run[96];
	pid_t pid;
	int status = -1;

	if (geteuid() != 0)
		skip();
	snprintf(run, sizeof(run), "%s/run", f->dir);
	/* Let the file modes admit anyone: the credential check must refuse on its own. */
	chmod(f->dir, 0755);
	chmod(run, 0755);
	chmod(f->path, 0666);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		uint8_t b[64];
		struct writer w = writer_make(b, sizeof(b));
		struct pollfd p;
		int fd;

		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(3);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(4);
		relay_write_hello(&w);
		send(fd, b, w.len, MSG_NOSIGNAL);
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) != 1)
			_exit(5);
		_exit(recv(fd, b, sizeof(b), 0) <= 0 ? 0 : 1); /* EOF: refused; HELLO: 1 */
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		pump(f);
		usleep(1000);
	}
	assert_true(WIFEXITED(status));
	assert_in_range(WEXITSTATUS(status), 0, 1);
	return WEXITSTATUS(status) == 0;
}

/* A peer that is neither root nor the allowed user is closed before it is read. */
static void test_wrong_credentials(void **state)
{
	struct fixture *f = *state;

	assert_true(peer_refused(f, 65534, 65534));
	assert_int_equal(relay_server_stats(f->rs)->refused, 1);
	assert_int_equal(relay_server_stats(f->rs)->accepted, 0);
	/* The allowed uid, whatever its group. */
	assert_false(peer_refused(f, 12345, 65534));
	assert_int_equal(relay_server_stats(f->rs)->accepted, 1);
}

/*
 * The socket's group lets a process reach the socket, not past the credential check: a
 * process of another user whose primary group is the fcgi-user's is refused. Before, it
 * was admitted and could hold relay slots as the web server's relays do.
 */
static void test_group_not_enough(void **state)
{
	struct fixture *f = *state;
	struct relay_server_config cfg = { .allow_uid = 12345, .sock_gid = 65534 };
	struct stat st;

	if (geteuid() != 0)
		skip();
	restart(f, &cfg);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_gid, 65534);
	assert_true(peer_refused(f, 65534, 65534));
	assert_int_equal(relay_server_stats(f->rs)->refused, 1);
	assert_false(peer_refused(f, 12345, 12345));
	assert_int_equal(relay_server_stats(f->rs)->accepted, 1);
}

/* Replaces the fixture's server by one with short timeouts (idle: the default). */
static void restart_short(struct fixture *f)
{
	struct relay_server_config cfg = { .allow_uid = 12345,
					   .sock_gid = (gid_t)-1,
					   .hello_timeout_ms = 300,
					   .read_timeout_ms = 300,
					   .write_timeout_ms = 300 };

	restart(f, &cfg);
}

/* Pumps the loop for about ms milliseconds. */
static void pump_ms(struct fixture *f, int ms)
{
	for (int i = 0; i < ms / 5; i++) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(5000);
	}
}

/* Whether fd sees EOF (after reading and discarding whatever is queued). */
static bool drains_to_eof(struct fixture *f, int fd)
{
	uint8_t b[65536];

	for (int i = 0; i < 2000; i++) {
		ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

		if (n == 0)
			return true;
		if (n < 0 && errno != EAGAIN)
			return true; /* reset */
		if (n < 0) {
			pump(f);
			usleep(1000);
		}
	}
	return false;
}

/*
 * A relay that sends requests and never reads the answers: the server stops reading it
 * once its answers back up (the relay's sends stall), and closes it after the write
 * timeout. Before the fix the server read on, queueing answers without bound.
 */
static void test_unread_answers(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096], batch[64 * 1024];
	struct relay_msg m;
	struct writer w = writer_make(batch, sizeof(batch));
	size_t sent = 0, one;
	uint32_t id = 1;
	int stalled = 0, fd, rcv = 4096;

	restart_short(f);
	fd = relay_connect(f);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	send_hello(fd);
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_HELLO);
	assert_int_equal(relay_write_request_head(&w, 1, S("GET"), S("/missing"), 0), 0);
	one = w.len;
	while (w.len + one <= sizeof(batch))
		assert_int_equal(relay_write_request_head(&w, 1, S("GET"), S("/missing"), 0), 0);
	/* Ids must be unique only while in flight; answered ones may repeat. */
	while (sent < 256u * 1024 * 1024 && stalled < 100) {
		ssize_t n;

		for (size_t off = 0; off < w.len; off += one)
			store_be32(batch + off + 4, id++ % 100000 + 1);
		n = send(fd, batch, w.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			stalled = 0;
			/* keep messages whole: send the rest blocking-ish */
			if ((size_t)n < w.len) {
				size_t rest = w.len - (size_t)n;

				while (rest) {
					ssize_t k;

					pump(f);
					k = send(fd, batch + w.len - rest, rest,
						 MSG_DONTWAIT | MSG_NOSIGNAL);
					if (k > 0) {
						rest -= (size_t)k;
						sent += (size_t)k;
					} else if (++stalled >= 100) {
						break;
					}
				}
			}
		} else {
			stalled++;
		}
		pump(f);
	}
	/* The server stopped reading long before 256 MiB of requests. */
	assert_true(stalled >= 100);
	assert_true(sent < 64u * 1024 * 1024);
	assert_int_equal(relay_server_stats(f->rs)->timed_out, 0);
	pump_ms(f, 700);
	assert_int_equal(relay_server_stats(f->rs)->timed_out, 1);
	assert_true(drains_to_eof(f, fd));
	close(fd);
}

/* A connection that never says HELLO, and one that stops half-way in a message. */
static void test_timeouts(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096];
	struct relay_msg m;
	static const uint8_t half[] = { 2, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 40, 3, 'G' };
	int silent, stalled, good;

	restart_short(f);
	silent = relay_connect(f);
	stalled = relay_connect(f);
	good = relay_connect(f);
	send_hello(stalled);
	send_hello(good);
	assert_int_equal(recv_msg(f, stalled, buf, sizeof(buf), &m), RELAY_HELLO);
	assert_int_equal(recv_msg(f, good, buf, sizeof(buf), &m), RELAY_HELLO);
	send_all(stalled, half, sizeof(half));
	pump_ms(f, 700);
	assert_true(drains_to_eof(f, silent));
	assert_true(drains_to_eof(f, stalled));
	assert_int_equal(relay_server_stats(f->rs)->timed_out, 2);
	/* An idle relay past its HELLO stays. */
	send_request(good, 1, "POST", "/echo", "idle ok");
	assert_int_equal(recv_msg(f, good, buf, sizeof(buf), &m), RELAY_RESPONSE);
	close(silent);
	close(stalled);
	close(good);
	pump(f);
}

/* At the cap, the oldest connection without HELLO makes room for a newcomer. */
static void test_evict_at_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096];
	struct relay_msg m;
	int idle[RELAY_MAX_CONNS], fd;

	for (int i = 0; i < RELAY_MAX_CONNS; i++)
		idle[i] = relay_connect(f);
	fd = relay_connect(f);
	send_hello(fd);
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_HELLO);
	assert_int_equal(relay_server_stats(f->rs)->evicted, 1);
	assert_int_equal(relay_server_stats(f->rs)->refused, 0);
	assert_true(drains_to_eof(f, idle[0])); /* the oldest went */
	send_request(fd, 1, "POST", "/echo", "in");
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_RESPONSE);
	for (int i = 0; i < RELAY_MAX_CONNS; i++)
		close(idle[i]);
	close(fd);
	pump(f);
}

/* A relay past HELLO, and the HELLO it gets back. */
static int relay_hello(struct fixture *f)
{
	uint8_t buf[64];
	struct relay_msg m;
	int fd = relay_connect(f);

	send_hello(fd);
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_HELLO);
	return fd;
}

/*
 * A relay past HELLO that carries nothing is closed after the idle time, and so is one
 * that trickles a message it never completes; one whose request the server holds stays,
 * and an answer read counts as activity. Before, all of them stayed for ever.
 */
static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;
	struct relay_server_config cfg = { .allow_uid = 12345,
					   .sock_gid = (gid_t)-1,
					   .idle_timeout_ms = 300 };
	static const uint8_t half[] = { 2, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 40, 3, 'G', 'E', 'T' };
	uint8_t buf[4096];
	struct relay_msg m;
	int idle, trickle, parked;

	restart(f, &cfg);
	idle = relay_hello(f);
	trickle = relay_hello(f);
	parked = relay_hello(f);
	send_request(parked, 1, "GET", "/park/held", "");
	pump(f);
	assert_int_equal(f->nparked, 1);
	/* A byte every 50 ms: never a read gap of RELAY_READ_TIMEOUT_MS, never a message. */
	for (size_t i = 0; i < sizeof(half); i++) {
		if (send(trickle, half + i, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
			break; /* closed already */
		pump_ms(f, 50);
	}
	assert_true(drains_to_eof(f, idle));
	assert_true(drains_to_eof(f, trickle));
	assert_int_equal(relay_server_stats(f->rs)->timed_out, 2);
	/* The relay with a parked request is still there, and gets its answer. */
	http_response_send_error(f->parked[0], 404, false);
	f->nparked = 0;
	assert_int_equal(recv_msg(f, parked, buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(m.id, 1);
	assert_int_equal(relay_server_stats(f->rs)->timed_out, 2);
	/* Idle from the answer on, it goes too. */
	assert_true(drains_to_eof(f, parked));
	assert_int_equal(relay_server_stats(f->rs)->timed_out, 3);
	close(idle);
	close(trickle);
	close(parked);
	pump(f);
}

/*
 * Every slot held by relays past HELLO: a newcomer closes the one idle longest, never one
 * whose request the server holds, even the oldest. Before, it was refused, so a process
 * that held RELAY_MAX_CONNS idle relays locked the web server's relays out.
 */
static void test_evict_idle_at_cap(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[4096];
	struct relay_msg m;
	int fds[RELAY_MAX_CONNS], fd;

	for (int i = 0; i < RELAY_MAX_CONNS; i++)
		fds[i] = relay_hello(f);
	usleep(3000); /* the loop's clock moves on: the echo below is later than every HELLO */
	send_request(fds[0], 1, "GET", "/park/oldest", "");
	send_request(fds[1], 1, "POST", "/echo", "recent");
	assert_int_equal(recv_msg(f, fds[1], buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(f->nparked, 1);
	fd = relay_hello(f);
	assert_int_equal(relay_server_stats(f->rs)->evicted, 1);
	assert_int_equal(relay_server_stats(f->rs)->refused, 0);
	assert_true(drains_to_eof(f, fds[2])); /* idle since its HELLO, the oldest such */
	assert_int_equal(f->cancelled, 0);
	send_request(fd, 1, "POST", "/echo", "in");
	assert_int_equal(recv_msg(f, fd, buf, sizeof(buf), &m), RELAY_RESPONSE);
	send_request(fds[1], 2, "POST", "/echo", "still");
	assert_int_equal(recv_msg(f, fds[1], buf, sizeof(buf), &m), RELAY_RESPONSE);
	http_response_send_error(f->parked[0], 404, false);
	f->nparked = 0;
	assert_int_equal(recv_msg(f, fds[0], buf, sizeof(buf), &m), RELAY_RESPONSE);
	assert_int_equal(m.id, 1);
	for (int i = 0; i < RELAY_MAX_CONNS; i++)
		close(fds[i]);
	close(fd);
	pump(f);
}

/*
 * A directory others could write to (or owned by another user) is refused: whoever can
 * write it can swap the socket file for a symlink.
 */
static void test_unsafe_dir(void **state)
{
	struct fixture *f = *state;
	struct relay_server_config cfg = { .allow_uid = (uid_t)-1, .sock_gid = (gid_t)-1 };
	struct relay_server *rs2;
	char dir[96], path[128];
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/open", f->dir);
	snprintf(path, sizeof(path), "%s/relay.sock", dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 01777), 0);
	rs2 = relay_server_new(&f->loop, &cfg, on_request, f);
	assert_int_equal(relay_server_listen(rs2, path), -EPERM);
	relay_server_free(rs2);
	assert_int_equal(chmod(dir, 0770), 0);
	rs2 = relay_server_new(&f->loop, &cfg, on_request, f);
	assert_int_equal(relay_server_listen(rs2, path), -EPERM);
	relay_server_free(rs2);
	if (geteuid() == 0) {
		assert_int_equal(chmod(dir, 0755), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
		rs2 = relay_server_new(&f->loop, &cfg, on_request, f);
		assert_int_equal(relay_server_listen(rs2, path), -EPERM);
		relay_server_free(rs2);
		assert_int_equal(chown(dir, 0, 0), 0);
	}
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(lstat(path, &st), -1); /* nothing was created on the refusals */
	rs2 = relay_server_new(&f->loop, &cfg, on_request, f);
	assert_int_equal(relay_server_listen(rs2, path), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0660);
	relay_server_free(rs2);
	pump(f);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requests_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_credentials, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_not_enough, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_at_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_evict_idle_at_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

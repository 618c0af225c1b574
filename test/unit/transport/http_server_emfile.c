/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * transport/http_server.c when accept() finds no file descriptor and libuv's own reserve
 * cannot help: libuv then calls the connection callback again at once for as long as
 * accept() fails, so a callback that only logs spins the loop for good (this test would
 * hang until ctest's timeout). The server must close the waiting connection with its own
 * reserve, count it, return to the loop, and accept again once descriptors are free.
 *
 * File descriptors are allocated lowest first: the test takes every number below a soft
 * RLIMIT_NOFILE it lowers, so that only the server's reserve is usable.
 */
#include "transport/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_FILLERS 256

static void request_cb(struct http_request *req, void *arg)
{
	(void)req;
	(void)arg;
	fail_msg("no request is sent");
}

/* A non-blocking TCP socket connecting to addr; the handshake completes in the backlog. */
static int connect_to(const struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
		    errno == EINPROGRESS);
	return fd;
}

static void test_emfile_sheds(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in a;
	struct rlimit saved, low;
	const struct http_server_stats *st;
	struct http_server *srv;
	uv_loop_t loop;
	int fillers[MAX_FILLERS], nfill = 0, lowest, cfd, fd;
	char c;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(lowest >= 0);
	close(lowest);
	/* The server's reserve takes the lowest free number; everything after is above it. */
	srv = http_server_new(&loop, NULL, request_cb, NULL);
	assert_non_null(srv);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
	assert_int_equal(http_server_listen(srv, (const struct sockaddr *)&a), 0);
	assert_int_equal(http_server_sockname(srv, 0, &ss), 0);
	memcpy(&a, &ss, sizeof(a));
	cfd = connect_to(&a);
	assert_true(cfd > lowest);

	/* Only numbers up to lowest may be allocated now, and all below it are taken. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)lowest + 1;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nfill < MAX_FILLERS && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		fillers[nfill++] = fd;
	assert_int_equal(errno, EMFILE);

	for (int i = 0; i < 10; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	st = http_server_stats(srv);
	assert_int_equal(st->shed, 1);
	assert_int_equal(st->accepted, 0);
	/* The peer sees its connection end rather than wait in the backlog. */
	assert_true(recv(cfd, &c, 1, 0) == 0 || errno == ECONNRESET);
	close(cfd);

	/* Descriptors again: the next connection is served. */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	while (nfill > 0)
		close(fillers[--nfill]);
	cfd = connect_to(&a);
	for (int i = 0; i < 1000 && st->accepted == 0; i++)
		uv_run(&loop, UV_RUN_ONCE);
	assert_int_equal(st->accepted, 1);
	assert_int_equal(st->shed, 1);
	close(cfd);
	http_server_free(srv);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emfile_sheds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Arbitrary bytes as the network side of the TLS engine (transport/tls.h): a server
 * connection from its first byte, or a client connection after its ClientHello. The first
 * input byte picks the side (bit 0) and the second the feed size (0: everything at once),
 * the rest is the peer's bytes. Whatever happens must be a clean outcome: every call
 * returns what its header says, a failure sticks with a kind and a reason, and the
 * ciphertext the engine hands out adds up. OpenSSL itself is not instrumented, so the
 * coverage that guides this is the engine's own; the seeds (test/fuzz/corpus/
 * transport_tls/) are real handshakes to start from.
 */
#include "transport/tls.h"

#include "tls_certs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

static struct tls_server *srv;
static struct tls_client *cli;
static char dir[] = "/tmp/httun-fuzz-tls-XXXXXX";
static char crt_path[64], key_path[64];

static void cleanup(void)
{
	tls_server_free(srv);
	tls_client_free(cli);
	unlink(crt_path);
	unlink(key_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct tls_client_cfg cc = { .host = "fuzz.example", .insecure = true };
	struct tls_server_cfg sc = { .cert_file = crt_path, .key_file = key_path };
	EVP_PKEY *key;
	X509 *crt;
	char err[256];

	(void)argc;
	(void)argv;
	CHECK(mkdtemp(dir) != NULL);
	snprintf(crt_path, sizeof(crt_path), "%s/server.pem", dir);
	snprintf(key_path, sizeof(key_path), "%s/server.key", dir);
	key = tc_key();
	CHECK(key != NULL);
	crt = tc_cert(key, "fuzz.example", "DNS:fuzz.example", -3600, 86400, false, NULL, NULL);
	CHECK(crt != NULL);
	CHECK(tc_write_certs(crt_path, &crt, 1) == 0);
	CHECK(tc_write_key(key_path, key, 0600) == 0);
	X509_free(crt);
	EVP_PKEY_free(key);
	CHECK(tls_server_new(&srv, &sc, err, sizeof(err)) == 0);
	CHECK(tls_client_new(&cli, &cc, err, sizeof(err)) == 0);
	atexit(cleanup);
	return 0;
}

static bool is_conn_error(long e)
{
	return e == -EPROTO || e == -EKEYREJECTED || e == -ENOMEM;
}

/* Hand out and release everything queued; the spans add up to what was pending. */
static void drain(struct tls_conn *c)
{
	struct iovec iov[4];
	size_t pending = tls_conn_out_pending(c), got = 0, n;

	while ((n = tls_conn_out(c, iov, 4)) > 0) {
		for (size_t i = 0; i < n; i++) {
			CHECK(iov[i].iov_len > 0);
			got += iov[i].iov_len;
		}
	}
	CHECK(got == pending);
	CHECK(tls_conn_out_pending(c) == 0);
	tls_conn_out_done(c, got);
}

/* The connection's state agrees with what a call returned. */
static void check_state(struct tls_conn *c, long ret)
{
	const char *reason = NULL;
	enum tls_fail kind = tls_conn_fail(c, &reason);

	if (is_conn_error(ret)) {
		CHECK(kind != TLS_FAIL_NONE);
		CHECK(reason != NULL && reason[0] != '\0');
		CHECK(!tls_conn_handshake_done(c));
		CHECK(tls_conn_feed(c, "", 0) == ret); /* sticks */
	} else {
		CHECK(kind == TLS_FAIL_NONE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t plain[16384];
	struct iovec iov = { .iov_base = plain, .iov_len = 100 };
	struct tls_conn *c = NULL;
	size_t step;
	long ret = 0;

	if (size < 2)
		return 0;
	if (data[0] & 1) {
		CHECK(tls_conn_new_client(&c, cli) == 0);
		CHECK(tls_conn_out_pending(c) > 0); /* the ClientHello */
	} else {
		CHECK(tls_conn_new_server(&c, srv) == 0);
	}
	step = data[1];
	data += 2;
	size -= 2;
	drain(c);

	while (size > 0 && ret == 0) {
		size_t k = step && step < size ? step : size;

		ret = tls_conn_feed(c, data, k);
		CHECK(ret == 0 || is_conn_error(ret));
		check_state(c, ret);
		data += k;
		size -= k;
		drain(c);
	}
	/* Read what there is; a write either waits for the handshake or is taken. */
	for (int i = 0; i < 64; i++) {
		ret = tls_conn_read(c, plain, sizeof(plain));
		CHECK(ret > 0 || ret == 0 || ret == -EAGAIN || is_conn_error(ret));
		CHECK(ret <= (long)sizeof(plain));
		check_state(c, ret);
		drain(c);
		if (ret <= 0)
			break;
	}
	ret = tls_conn_write(c, &iov, 1);
	CHECK(ret == 100 || ret == -EAGAIN || is_conn_error(ret));
	if (ret == 100)
		CHECK(tls_conn_handshake_done(c));
	if (ret == -EAGAIN)
		CHECK(!tls_conn_handshake_done(c));
	drain(c);
	tls_conn_trim(c);
	tls_conn_free(c);
	return 0;
}

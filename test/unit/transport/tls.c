/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The TLS engine against an in-memory peer: a client engine and a server engine (and raw
 * OpenSSL peers limited to TLS 1.2) pass their ciphertext to each other, whole or a byte
 * at a time. A CA, server certificates and keys are made at test time
 * (test/fuzz/tls_certs.h), so nothing expires. Covers the handshake, data both ways,
 * ALPN, resumption, every verification failure with its kind, pins, --insecure and
 * --ca-file semantics, and reload.
 */
#include "transport/tls.h"
#include "core/limits.h"

#include "../../fuzz/tls_certs.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define HOST "good.example"
#define HOST_IP "192.0.2.1"

static char dir[] = "/tmp/httun-tls-test-XXXXXX";
static char path_ca[64], path_ca2[64], path_leaf[64], path_good[64], path_expired[64],
	path_self[64], path_key[64], path_srv_crt[64], path_srv_key[64];
static char pin_good[64], pin_other[64];
static char err[512];

static void set_path(char *out, const char *name)
{
	snprintf(out, 64, "%s/%s", dir, name);
}

/* Base64 SHA-256 of key's SubjectPublicKeyInfo: what `openssl pkey -pubout | ... ` pins. */
static void pin_of(EVP_PKEY *key, char out[64])
{
	unsigned char *der = NULL, md[32];
	int len = i2d_PUBKEY(key, &der);

	assert_true(len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL), 1);
	OPENSSL_free(der);
	sodium_bin2base64(out, 64, md, sizeof(md), sodium_base64_VARIANT_ORIGINAL);
}

static void copy_file(const char *from, const char *to)
{
	char buf[16384];
	FILE *in = fopen(from, "r"), *out = fopen(to, "w");
	size_t n;

	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static int setup_pki(void **state)
{
	EVP_PKEY *ca_key, *ca2_key, *key, *other;
	X509 *ca, *ca2, *leaf, *expired, *self;
	const long day = 24 * 3600;

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	set_path(path_ca, "ca.pem");
	set_path(path_ca2, "ca2.pem");
	set_path(path_leaf, "leaf.pem");
	set_path(path_good, "good.pem");
	set_path(path_expired, "expired.pem");
	set_path(path_self, "self.pem");
	set_path(path_key, "server.key");
	set_path(path_srv_crt, "srv.crt");
	set_path(path_srv_key, "srv.key");

	ca_key = tc_key();
	ca2_key = tc_key();
	key = tc_key();
	other = tc_key();
	if (!ca_key || !ca2_key || !key || !other)
		return -1;
	ca = tc_cert(ca_key, "httun test CA", NULL, -day, 30 * day, true, NULL, NULL);
	ca2 = tc_cert(ca2_key, "httun other CA", NULL, -day, 30 * day, true, NULL, NULL);
	leaf = tc_cert(key, HOST, "DNS:" HOST ",IP:" HOST_IP, -3600, day, false, ca, ca_key);
	expired = tc_cert(key, HOST, "DNS:" HOST, -2 * day, -day, false, ca, ca_key);
	self = tc_cert(key, HOST, "DNS:" HOST, -3600, day, false, NULL, NULL);
	if (!ca || !ca2 || !leaf || !expired || !self)
		return -1;
	X509 *good[] = { leaf, ca }, *old[] = { expired, ca };
	if (tc_write_certs(path_ca, &ca, 1) || tc_write_certs(path_ca2, &ca2, 1) ||
	    tc_write_certs(path_leaf, &leaf, 1) || tc_write_certs(path_good, good, 2) ||
	    tc_write_certs(path_expired, old, 2) || tc_write_certs(path_self, &self, 1) ||
	    tc_write_key(path_key, key, 0600))
		return -1;
	pin_of(key, pin_good);
	pin_of(other, pin_other);
	X509_free(ca);
	X509_free(ca2);
	X509_free(leaf);
	X509_free(expired);
	X509_free(self);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ca2_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return 0;
}

static int teardown_pki(void **state)
{
	const char *paths[] = { path_ca,   path_ca2, path_leaf,	   path_good,	path_expired,
				path_self, path_key, path_srv_crt, path_srv_key };

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		unlink(paths[i]);
	rmdir(dir);
	return 0;
}

/* ---- moving bytes ---- */

/*
 * Everything from wants to send goes to to's feed, step bytes at a time (0: as it
 * comes). Returns the bytes moved; feed errors stay with the engine (tls_conn_fail).
 */
static size_t move(struct tls_conn *from, struct tls_conn *to, size_t step)
{
	struct iovec iov[4];
	size_t n, moved = 0;

	while ((n = tls_conn_out(from, iov, 4)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const uint8_t *p = iov[i].iov_base;
			size_t left = iov[i].iov_len;

			while (left > 0) {
				size_t k = step && step < left ? step : left;

				tls_conn_feed(to, p, k);
				p += k;
				left -= k;
			}
			tls_conn_out_done(from, iov[i].iov_len);
			moved += iov[i].iov_len;
		}
		/* Bytes handed out twice would loop here for ever. */
		assert_true(moved < 64 * 1024 * 1024);
	}
	return moved;
}

static void pump(struct tls_conn *a, struct tls_conn *b, size_t step)
{
	while (move(a, b, step) + move(b, a, step) > 0) {
		/* Post-handshake messages (TLS 1.3 tickets) are read with the data. */
		uint8_t sink[1];

		if (tls_conn_handshake_done(a))
			assert_true(tls_conn_read(a, sink, sizeof(sink)) <= 0);
		if (tls_conn_handshake_done(b))
			assert_true(tls_conn_read(b, sink, sizeof(sink)) <= 0);
	}
}

static struct tls_server *server_new(const char *crt, const char *key)
{
	struct tls_server_cfg cfg = { .cert_file = crt, .key_file = key };
	struct tls_server *srv = NULL;

	assert_int_equal(tls_server_new(&srv, &cfg, err, sizeof(err)), 0);
	return srv;
}

static struct tls_client *client_new(const struct tls_client_cfg *cfg)
{
	struct tls_client *cli = NULL;

	assert_int_equal(tls_client_new(&cli, cfg, err, sizeof(err)), 0);
	return cli;
}

/* A client connection and a server connection, pumped until neither has anything to say. */
static void connect_pair(struct tls_client *cli, struct tls_server *srv, struct tls_conn **c,
			 struct tls_conn **s, size_t step)
{
	assert_int_equal(tls_conn_new_client(c, cli), 0);
	assert_int_equal(tls_conn_new_server(s, srv), 0);
	assert_true(tls_conn_out_pending(*c) > 0); /* the ClientHello */
	pump(*c, *s, step);
}

/* Send len bytes from one engine to the other, in writes of the given iovecs. */
static void send_all(struct tls_conn *from, struct tls_conn *to, const uint8_t *data, size_t len,
		     size_t piece, uint8_t *got)
{
	size_t sent = 0, recvd = 0;

	while (sent < len || recvd < len) {
		struct iovec iov[64];
		size_t n = 0, off = sent;
		ssize_t r;

		/* Irregular pieces: 1, piece, 2*piece+1, ... cycled. */
		while (n < 64 && off < len) {
			size_t k = (n % 3 == 0) ? 1 : (n % 3 == 1) ? piece : 2 * piece + 1;

			if (k > len - off)
				k = len - off;
			iov[n].iov_base = (void *)(uintptr_t)(data + off);
			iov[n].iov_len = k;
			off += k;
			n++;
		}
		if (n) {
			r = tls_conn_write(from, iov, n);
			assert_true(r > 0 || r == -EAGAIN);
			if (r > 0)
				sent += (size_t)r;
		}
		move(from, to, 0);
		while ((r = tls_conn_read(to, got + recvd, len - recvd + 1)) > 0)
			recvd += (size_t)r;
		assert_int_equal(r, -EAGAIN);
		move(to, from, 0);
	}
	assert_int_equal(recvd, len);
	assert_memory_equal(got, data, len);
}

static void exchange(struct tls_conn *c, struct tls_conn *s, size_t len, size_t piece)
{
	uint8_t *data = malloc(len), *got = malloc(len + 1);

	assert_non_null(data);
	assert_non_null(got);
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	send_all(c, s, data, len, piece, got);
	send_all(s, c, data, len, piece, got);
	free(data);
	free(got);
}

static void assert_fail(struct tls_conn *c, enum tls_fail kind, const char *needle)
{
	const char *reason = NULL;

	assert_int_equal(tls_conn_fail(c, &reason), kind);
	assert_false(tls_conn_handshake_done(c));
	if (!strstr(reason, needle))
		fail_msg("reason \"%s\" does not say \"%s\"", reason, needle);
}

/* ---- tests ---- */

static void test_handshake_data_alpn(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };
	struct tls_server *srv = server_new(path_good, path_key);
	struct tls_client *cli = client_new(&cc);
	struct tls_conn *c, *s;
	struct tls_info ci, si;

	(void)state;
	connect_pair(cli, srv, &c, &s, 0);
	assert_true(tls_conn_handshake_done(c));
	assert_true(tls_conn_handshake_done(s));
	tls_conn_info(c, &ci);
	tls_conn_info(s, &si);
	assert_string_equal(ci.alpn, "http/1.1");
	assert_string_equal(si.alpn, "http/1.1");
	assert_string_equal(ci.version, "TLSv1.3");
	assert_false(ci.resumed);
	assert_int_equal(tls_conn_fail(c, NULL), TLS_FAIL_NONE);

	exchange(c, s, 10, 3); /* small */
	exchange(c, s, 3 * 1024 * 1024, 1000); /* past TLS_OUT_MAX_BYTES: partial writes */
	exchange(c, s, 100000, 20000); /* whole records straight from an iovec */

	/* close_notify: the peer reads 0, and keeps reading 0. */
	assert_int_equal(tls_conn_write(c, NULL, 0), 0);
	assert_int_equal(tls_conn_shutdown(c), 0);
	struct iovec one = { .iov_base = err, .iov_len = 1 };
	assert_int_equal(tls_conn_write(c, &one, 1), -EPIPE);
	move(c, s, 0);
	assert_int_equal(tls_conn_read(s, err, sizeof(err)), 0);
	assert_int_equal(tls_conn_read(s, err, sizeof(err)), 0);
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

/* Everything a byte at a time: the handshake and records cut at every offset. */
static void test_bytewise(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };
	struct tls_server *srv = server_new(path_good, path_key);
	struct tls_client *cli = client_new(&cc);
	struct tls_conn *c, *s;
	uint8_t msg[3000], got[3001];
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };
	size_t recvd = 0;
	ssize_t r;

	(void)state;
	connect_pair(cli, srv, &c, &s, 1);
	assert_true(tls_conn_handshake_done(c));
	assert_true(tls_conn_handshake_done(s));
	randombytes_buf(msg, sizeof(msg));
	assert_int_equal(tls_conn_write(c, &iov, 1), (ssize_t)sizeof(msg));
	move(c, s, 1);
	while ((r = tls_conn_read(s, got + recvd, sizeof(got) - recvd)) > 0)
		recvd += (size_t)r;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(recvd, sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

/*
 * Spans handed out stay where they are while more is written (an asynchronous write
 * still holds them), and nothing is handed out twice.
 */
static void test_out_spans_stable(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };
	struct tls_server *srv = server_new(path_good, path_key);
	struct tls_client *cli = client_new(&cc);
	struct tls_conn *c, *s;
	static uint8_t a[100000], b[100000], got[200001];
	uint8_t *copy;
	struct iovec ia = { .iov_base = a, .iov_len = sizeof(a) };
	struct iovec ib = { .iov_base = b, .iov_len = sizeof(b) };
	struct iovec out[8], more[8];
	size_t n, m, first = 0, recvd = 0;
	ssize_t r;

	(void)state;
	connect_pair(cli, srv, &c, &s, 0);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	assert_int_equal(tls_conn_write(c, &ia, 1), (ssize_t)sizeof(a));
	n = tls_conn_out(c, out, 8);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++)
		first += out[i].iov_len;
	assert_int_equal(tls_conn_out_pending(c), 0);
	copy = malloc(first);
	assert_non_null(copy);
	for (size_t i = 0, off = 0; i < n; off += out[i].iov_len, i++)
		memcpy(copy + off, out[i].iov_base, out[i].iov_len);

	/* More records while the first spans are "in flight". */
	assert_int_equal(tls_conn_write(c, &ib, 1), (ssize_t)sizeof(b));
	assert_true(tls_conn_out_pending(c) > 0);
	for (size_t i = 0, off = 0; i < n; off += out[i].iov_len, i++)
		assert_memory_equal(out[i].iov_base, copy + off, out[i].iov_len);
	m = tls_conn_out(c, more, 8);
	assert_true(m > 0);
	assert_true((uint8_t *)more[0].iov_base != (uint8_t *)out[0].iov_base);

	/* Written in order: the first spans, then the rest. */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tls_conn_feed(s, out[i].iov_base, out[i].iov_len), 0);
	tls_conn_out_done(c, first);
	for (size_t i = 0; i < m; i++) {
		assert_int_equal(tls_conn_feed(s, more[i].iov_base, more[i].iov_len), 0);
		tls_conn_out_done(c, more[i].iov_len);
	}
	assert_int_equal(tls_conn_out_pending(c), 0);
	while ((r = tls_conn_read(s, got + recvd, sizeof(got) - recvd)) > 0)
		recvd += (size_t)r;
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(recvd, sizeof(a) + sizeof(b));
	assert_memory_equal(got, a, sizeof(a));
	assert_memory_equal(got + sizeof(a), b, sizeof(b));

	/* Trimmed input buffers come back when needed. */
	tls_conn_trim(s);
	tls_conn_trim(c);
	exchange(c, s, 70000, 5000);
	free(copy);
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

/* Before the handshake nothing is taken; a full queue takes nothing more. */
static void test_write_backpressure(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };
	struct tls_server *srv = server_new(path_good, path_key);
	struct tls_client *cli = client_new(&cc);
	struct tls_conn *c, *s;
	static uint8_t big[4 * TLS_OUT_MAX_BYTES];
	struct iovec iov = { .iov_base = big, .iov_len = sizeof(big) };
	struct iovec out[16];
	size_t n, sum = 0;
	ssize_t r;

	(void)state;
	assert_int_equal(tls_conn_new_client(&c, cli), 0);
	assert_int_equal(tls_conn_write(c, &iov, 1), -EAGAIN);
	assert_int_equal(tls_conn_read(c, big, 10), -EAGAIN);
	assert_int_equal(tls_conn_shutdown(c), -ENOTCONN);
	assert_int_equal(tls_conn_new_server(&s, srv), 0);
	pump(c, s, 0);
	r = tls_conn_write(c, &iov, 1);
	assert_true(r >= TLS_OUT_MAX_BYTES - 16384 && r < (ssize_t)sizeof(big));
	assert_int_equal(tls_conn_write(c, &iov, 1), -EAGAIN);
	/* Written out: room again. */
	while ((n = tls_conn_out(c, out, 16)) > 0)
		for (size_t i = 0; i < n; i++)
			sum += out[i].iov_len;
	tls_conn_out_done(c, sum);
	assert_true(tls_conn_write(c, &iov, 1) > 0);
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

/* The second connection resumes the first's session (a TLS 1.3 ticket). */
static void test_resumption(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca, .pins = NULL };
	const char *pins[] = { pin_good };
	struct tls_server *srv = server_new(path_good, path_key);
	struct tls_client *cli;
	struct tls_conn *c, *s;
	struct tls_info ci, si;

	(void)state;
	cc.pins = pins;
	cc.n_pins = 1;
	cli = client_new(&cc);
	for (int round = 0; round < 3; round++) {
		connect_pair(cli, srv, &c, &s, 0);
		assert_true(tls_conn_handshake_done(c));
		tls_conn_info(c, &ci);
		tls_conn_info(s, &si);
		assert_int_equal(ci.resumed, round > 0);
		assert_int_equal(si.resumed, round > 0);
		exchange(c, s, 1000, 100);
		tls_conn_free(c);
		tls_conn_free(s);
	}
	/* A reload keeps the ticket keys: still resumed. */
	assert_int_equal(tls_server_reload(srv, err, sizeof(err)), 0);
	connect_pair(cli, srv, &c, &s, 0);
	tls_conn_info(c, &ci);
	assert_true(ci.resumed);
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

/* Run one handshake that the client must refuse. */
static void refused(const struct tls_client_cfg *cc, const char *crt, enum tls_fail kind,
		    const char *needle)
{
	struct tls_server *srv = server_new(crt, path_key);
	struct tls_client *cli = client_new(cc);
	struct tls_conn *c, *s;
	uint8_t buf[16];

	connect_pair(cli, srv, &c, &s, 0);
	assert_fail(c, kind, needle);
	/* The error sticks. */
	assert_int_equal(tls_conn_read(c, buf, sizeof(buf)), -EKEYREJECTED);
	assert_int_equal(tls_conn_feed(c, "x", 1), -EKEYREJECTED);
	/*
	 * The server is told by an alert, unless the refusal came after the handshake (pins).
	 * Its reason is OpenSSL's name for the alert.
	 */
	if (kind != TLS_FAIL_PIN)
		assert_fail(s, TLS_FAIL_PROTOCOL, "alert");
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

static void test_unknown_ca(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca2 };
	struct tls_client_cfg sys = { .host = HOST };

	(void)state;
	/* The server sends its chain up to the root, or only its certificate. */
	refused(&cc, path_good, TLS_FAIL_UNTRUSTED, "self-signed certificate in certificate chain");
	refused(&cc, path_leaf, TLS_FAIL_UNTRUSTED, "unable to get local issuer certificate");
	/* The system trust store knows nothing of the test CA either. */
	refused(&sys, path_good, TLS_FAIL_UNTRUSTED,
		"self-signed certificate in certificate chain");
	refused(&sys, path_self, TLS_FAIL_UNTRUSTED, "self-signed certificate");
}

static void test_name_mismatch(void **state)
{
	struct tls_client_cfg other = { .host = "other.example", .ca_file = path_ca };
	struct tls_client_cfg ip = { .host = "192.0.2.2", .ca_file = path_ca };
	struct tls_client_cfg sni = { .host = HOST, .sni = "other.example", .ca_file = path_ca };

	(void)state;
	refused(&other, path_good, TLS_FAIL_NAME, "hostname mismatch");
	refused(&ip, path_good, TLS_FAIL_NAME, "IP address mismatch");
	/* The SNI override is the name verified. */
	refused(&sni, path_good, TLS_FAIL_NAME, "hostname mismatch");
}

static void test_expired(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };

	(void)state;
	refused(&cc, path_expired, TLS_FAIL_EXPIRED, "certificate has expired");
}

static void test_pin_mismatch(void **state)
{
	const char *pins[] = { pin_other };
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca, .pins = pins, .n_pins = 1 };
	struct tls_client_cfg bare = { .host = HOST, .pins = pins, .n_pins = 1, .insecure = true };

	(void)state;
	refused(&cc, path_good, TLS_FAIL_PIN, pin_good);
	/* Pins hold without verification too. */
	refused(&bare, path_self, TLS_FAIL_PIN, "matches no pin");
}

/* Handshakes the client must accept. */
static void accepted(const struct tls_client_cfg *cc, const char *crt)
{
	struct tls_server *srv = server_new(crt, path_key);
	struct tls_client *cli = client_new(cc);
	struct tls_conn *c, *s;

	connect_pair(cli, srv, &c, &s, 0);
	assert_true(tls_conn_handshake_done(c));
	assert_true(tls_conn_handshake_done(s));
	exchange(c, s, 100, 10);
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli);
	tls_server_free(srv);
}

static void test_accepted(void **state)
{
	const char *pins[] = { pin_other, pin_good };
	struct tls_client_cfg pinned = {
		.host = HOST, .ca_file = path_ca, .pins = pins, .n_pins = 2
	};
	struct tls_client_cfg insecure = { .host = "anything.example", .insecure = true };
	struct tls_client_cfg self = { .host = HOST, .ca_file = path_self };
	struct tls_client_cfg leaf = { .host = HOST, .ca_file = path_leaf };
	struct tls_client_cfg ip = { .host = HOST_IP, .ca_file = path_ca };
	struct tls_client_cfg sni = { .host = HOST_IP, .sni = HOST, .ca_file = path_ca };

	(void)state;
	accepted(&pinned, path_good); /* one of the pins matches */
	accepted(&insecure, path_self); /* untrusted, wrong name: not checked */
	accepted(&insecure, path_expired);
	accepted(&self, path_self); /* --ca-file with a self-signed certificate */
	accepted(&leaf, path_good); /* the server's own certificate as the only anchor */
	accepted(&ip, path_good); /* an IP literal against the certificate's IP SAN */
	accepted(&sni, path_good); /* an IP URL with the name given as SNI */
}

static void test_not_tls(void **state)
{
	struct tls_server *srv = server_new(path_good, path_key);
	struct tls_conn *s;
	const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	assert_int_equal(tls_conn_new_server(&s, srv), 0);
	assert_int_equal(tls_conn_feed(s, req, sizeof(req) - 1), -EPROTO);
	assert_fail(s, TLS_FAIL_PROTOCOL, "http request");
	tls_conn_free(s);
	tls_server_free(srv);
}

static int cfg_error(const struct tls_client_cfg *cc)
{
	struct tls_client *cli = NULL;
	int ret = tls_client_new(&cli, cc, err, sizeof(err));

	assert_null(cli);
	return ret;
}

static void test_config_errors(void **state)
{
	struct tls_server_cfg sc = { .cert_file = path_good, .key_file = path_key };
	const char *bad_pin[] = { "sha256//AAAA" };
	struct tls_client_cfg pin = { .host = HOST, .pins = bad_pin, .n_pins = 1 };
	struct tls_client_cfg missing = { .host = HOST, .ca_file = "/nonexistent/ca.pem" };
	struct tls_client_cfg notpem = { .host = HOST, .ca_file = path_key };
	struct tls_client_cfg noname = { .host = "" };
	struct tls_server *srv = NULL;

	(void)state;
	assert_int_equal(cfg_error(&pin), -EINVAL);
	assert_non_null(strstr(err, "sha256//AAAA"));
	assert_int_equal(cfg_error(&missing), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/ca.pem"));
	assert_int_equal(cfg_error(&notpem), -EINVAL);
	assert_int_equal(cfg_error(&noname), -EINVAL);

	/* A key others can read is refused, as channel key files are. */
	assert_int_equal(chmod(path_key, 0640), 0);
	assert_int_equal(tls_server_new(&srv, &sc, err, sizeof(err)), -EPERM);
	assert_null(srv);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path_key, 0600), 0);
	/* A key that is not the certificate's. */
	sc.cert_file = path_ca;
	assert_int_equal(tls_server_new(&srv, &sc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "does not match"));
	sc.cert_file = path_key;
	assert_int_equal(tls_server_new(&srv, &sc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no PEM certificate"));
}

/* Reload: new connections get the new pair, live ones keep theirs; a bad pair is refused. */
static void test_reload(void **state)
{
	struct tls_client_cfg by_ca = { .host = HOST, .ca_file = path_ca };
	struct tls_client_cfg by_self = { .host = HOST, .ca_file = path_self };
	struct tls_server *srv;
	struct tls_client *cli_ca, *cli_self;
	struct tls_conn *c, *s, *c2, *s2;
	FILE *f;

	(void)state;
	copy_file(path_good, path_srv_crt);
	copy_file(path_key, path_srv_key);
	assert_int_equal(chmod(path_srv_key, 0600), 0);
	srv = server_new(path_srv_crt, path_srv_key);
	cli_ca = client_new(&by_ca);
	cli_self = client_new(&by_self);
	connect_pair(cli_ca, srv, &c, &s, 0);
	assert_true(tls_conn_handshake_done(c));

	/* Renewal: the self-signed certificate replaces the CA's. */
	copy_file(path_self, path_srv_crt);
	assert_int_equal(tls_server_reload(srv, err, sizeof(err)), 0);
	exchange(c, s, 5000, 100); /* the live connection goes on */
	connect_pair(cli_self, srv, &c2, &s2, 0);
	assert_true(tls_conn_handshake_done(c2));
	tls_conn_free(c2);
	tls_conn_free(s2);

	/* A broken certificate file: refused, the pair in use stays. */
	f = fopen(path_srv_crt, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	assert_int_equal(tls_server_reload(srv, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path_srv_crt));
	connect_pair(cli_self, srv, &c2, &s2, 0);
	assert_true(tls_conn_handshake_done(c2));
	tls_conn_free(c2);
	tls_conn_free(s2);

	/* A key file that became readable by others: refused too. */
	copy_file(path_good, path_srv_crt);
	assert_int_equal(chmod(path_srv_key, 0644), 0);
	assert_int_equal(tls_server_reload(srv, err, sizeof(err)), -EPERM);
	connect_pair(cli_self, srv, &c2, &s2, 0);
	assert_true(tls_conn_handshake_done(c2));
	tls_conn_free(c2);
	tls_conn_free(s2);

	exchange(c, s, 100, 10);
	tls_conn_free(c);
	tls_conn_free(s);
	tls_client_free(cli_ca);
	tls_client_free(cli_self);
	tls_server_free(srv);
}

/* ---- raw OpenSSL peers limited to TLS 1.2 ---- */

struct raw {
	SSL_CTX *ctx; /* kept across connections: a server's tickets, a client's session */
	SSL *ssl;
	BIO *in, *out; /* in: what the peer reads; out: what it wrote */
};

static void raw_ctx(struct raw *r, bool server)
{
	memset(r, 0, sizeof(*r));
	r->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	assert_non_null(r->ctx);
	assert_int_equal(SSL_CTX_set_max_proto_version(r->ctx, TLS1_2_VERSION), 1);
	if (server) {
		assert_int_equal(SSL_CTX_use_certificate_chain_file(r->ctx, path_good), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(r->ctx, path_key, SSL_FILETYPE_PEM),
				 1);
	}
}

static void raw_conn(struct raw *r, bool server)
{
	r->ssl = SSL_new(r->ctx);
	r->in = BIO_new(BIO_s_mem());
	r->out = BIO_new(BIO_s_mem());
	assert_non_null(r->ssl);
	assert_non_null(r->in);
	assert_non_null(r->out);
	BIO_set_mem_eof_return(r->in, -1);
	SSL_set_bio(r->ssl, r->in, r->out);
	if (server)
		SSL_set_accept_state(r->ssl);
	else
		SSL_set_connect_state(r->ssl);
}

static void raw_free_conn(struct raw *r)
{
	SSL_free(r->ssl);
	r->ssl = NULL;
}

/* Bytes both ways between an engine and a raw peer, until neither has more. */
static void raw_pump(struct raw *r, struct tls_conn *e)
{
	for (;;) {
		struct iovec iov[4];
		size_t n, moved = 0;
		char buf[4096];
		int k;

		if (!SSL_is_init_finished(r->ssl))
			SSL_do_handshake(r->ssl);
		else
			SSL_read(r->ssl, buf, sizeof(buf));
		while ((k = BIO_read(r->out, buf, sizeof(buf))) > 0) {
			tls_conn_feed(e, buf, (size_t)k);
			moved += (size_t)k;
		}
		if (tls_conn_handshake_done(e))
			tls_conn_read(e, buf, sizeof(buf));
		while ((n = tls_conn_out(e, iov, 4)) > 0) {
			for (size_t i = 0; i < n; i++) {
				assert_int_equal(
					BIO_write(r->in, iov[i].iov_base, (int)iov[i].iov_len),
					(int)iov[i].iov_len);
				tls_conn_out_done(e, iov[i].iov_len);
				moved += iov[i].iov_len;
			}
			assert_true(moved < 64 * 1024 * 1024);
		}
		if (!moved)
			return;
	}
}

static void test_tls12_server(void **state)
{
	struct tls_server *srv = server_new(path_good, path_key);
	struct raw r;
	struct tls_conn *s;
	const unsigned char *alpn;
	unsigned int alpn_len;
	uint8_t buf[16];

	(void)state;
	raw_ctx(&r, false);
	raw_conn(&r, false);
	assert_int_equal(
		SSL_set_alpn_protos(r.ssl, (const unsigned char *)"\x02h2\x08http/1.1", 12), 0);
	assert_int_equal(tls_conn_new_server(&s, srv), 0);
	raw_pump(&r, s);
	assert_true(tls_conn_handshake_done(s));
	assert_int_equal(SSL_version(r.ssl), TLS1_2_VERSION);
	SSL_get0_alpn_selected(r.ssl, &alpn, &alpn_len);
	assert_int_equal(alpn_len, 8);
	assert_memory_equal(alpn, "http/1.1", 8);
	/* Mozilla intermediate: forward secrecy and an AEAD. */
	assert_non_null(strstr(SSL_get_cipher_name(r.ssl), "ECDHE"));
	assert_non_null(strstr(SSL_get_cipher_name(r.ssl), "GCM"));

	/* Renegotiation is refused. */
	assert_int_equal(SSL_renegotiate(r.ssl), 1);
	raw_pump(&r, s);
	assert_int_equal(tls_conn_read(s, buf, sizeof(buf)), -EPROTO);
	assert_int_equal(SSL_renegotiate_pending(r.ssl), 1); /* it never completed */
	/* The server answered no_renegotiation, which this client takes as the end. */
	assert_fail(s, TLS_FAIL_PROTOCOL, "alert");
	tls_conn_free(s);
	raw_free_conn(&r);

	/* A client that offers only h2 is told no_application_protocol. */
	raw_conn(&r, false);
	assert_int_equal(SSL_set_alpn_protos(r.ssl, (const unsigned char *)"\x02h2", 3), 0);
	assert_int_equal(tls_conn_new_server(&s, srv), 0);
	raw_pump(&r, s);
	assert_fail(s, TLS_FAIL_PROTOCOL, "no application protocol");
	tls_conn_free(s);
	raw_free_conn(&r);
	SSL_CTX_free(r.ctx);
	tls_server_free(srv);
}

static int alpn_h2_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		      const unsigned char *in, unsigned int inlen, void *arg)
{
	(void)ssl;
	(void)in;
	(void)inlen;
	(void)arg;
	*out = (const unsigned char *)"h2";
	*outlen = 2;
	return SSL_TLSEXT_ERR_OK;
}

/* A server that answers ALPN with a protocol we did not offer is refused. */
static void test_alpn_refused(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };
	struct tls_client *cli = client_new(&cc);
	struct tls_conn *c;
	struct raw r;

	(void)state;
	raw_ctx(&r, true);
	SSL_CTX_set_alpn_select_cb(r.ctx, alpn_h2_cb, NULL);
	raw_conn(&r, true);
	assert_int_equal(tls_conn_new_client(&c, cli), 0);
	raw_pump(&r, c);
	/* OpenSSL refuses a protocol it did not offer itself. */
	assert_fail(c, TLS_FAIL_PROTOCOL, "bad extension");
	tls_conn_free(c);
	raw_free_conn(&r);
	SSL_CTX_free(r.ctx);
	tls_client_free(cli);
}

/* Our client against a TLS 1.2 server: verified, and the session resumed next time. */
static void test_tls12_client(void **state)
{
	struct tls_client_cfg cc = { .host = HOST, .ca_file = path_ca };
	const char *pins[] = { pin_other };
	struct tls_client_cfg pinned = {
		.host = HOST, .ca_file = path_ca, .pins = pins, .n_pins = 1
	};
	struct tls_client *cli = client_new(&cc);
	struct tls_conn *c;
	struct tls_info ci;
	struct raw r;

	(void)state;
	raw_ctx(&r, true);
	for (int round = 0; round < 2; round++) {
		raw_conn(&r, true);
		assert_int_equal(tls_conn_new_client(&c, cli), 0);
		raw_pump(&r, c);
		assert_true(tls_conn_handshake_done(c));
		tls_conn_info(&*c, &ci);
		assert_string_equal(ci.version, "TLSv1.2");
		assert_int_equal(ci.resumed, round > 0);
		assert_int_equal(SSL_session_reused(r.ssl), round > 0);
		if (round == 1) {
			/* A server's HelloRequest is refused, and the connection ends. */
			assert_int_equal(SSL_renegotiate(r.ssl), 1);
			raw_pump(&r, c);
			assert_int_equal(SSL_renegotiate_pending(r.ssl), 1);
			assert_fail(c, TLS_FAIL_PROTOCOL, "alert");
		}
		tls_conn_free(c);
		raw_free_conn(&r);
	}
	tls_client_free(cli);

	/*
	 * A TLS 1.2 session exists before the pins are checked: one that failed them is not
	 * offered again.
	 */
	cli = client_new(&pinned);
	for (int round = 0; round < 2; round++) {
		raw_conn(&r, true);
		assert_int_equal(tls_conn_new_client(&c, cli), 0);
		raw_pump(&r, c);
		assert_fail(c, TLS_FAIL_PIN, "matches no pin");
		assert_int_equal(SSL_session_reused(r.ssl), 0);
		tls_conn_free(c);
		raw_free_conn(&r);
	}
	tls_client_free(cli);
	SSL_CTX_free(r.ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_data_alpn),
		cmocka_unit_test(test_bytewise),
		cmocka_unit_test(test_out_spans_stable),
		cmocka_unit_test(test_write_backpressure),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_unknown_ca),
		cmocka_unit_test(test_name_mismatch),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_pin_mismatch),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_tls12_server),
		cmocka_unit_test(test_tls12_client),
		cmocka_unit_test(test_alpn_refused),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}

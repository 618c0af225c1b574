/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/tls.h"
#include "core/cursor.h"
#include "core/file.h"
#include "core/keyfile.h"
#include "core/limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * TLS 1.2 suites: Mozilla's "intermediate" list (forward secrecy, AEAD only). TLS 1.3
 * keeps OpenSSL's default suites, which are the same list's.
 */
#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

/* ALPN wire format: a length byte, then the name. */
static const unsigned char alpn_http11[] = "\x08http/1.1";
#define ALPN_HTTP11_BYTES (sizeof(alpn_http11) - 1)

/* Plaintext per SSL_write: one full record. */
#define TLS_RECORD_BYTES 16384

#define PIN_BYTES 32
/* Standard base64 of PIN_BYTES with padding. */
#define PIN_BASE64_CHARS 44

struct tls_client {
	SSL_CTX *ctx;
	bool insecure;
	uint8_t (*pins)[PIN_BYTES];
	size_t n_pins;
	SSL_SESSION *session; /* the last resumable session the server gave us */
	char name[CONFIG_HOST_MAX_BYTES + 1]; /* sent as SNI (unless an IP) and verified */
	bool name_is_ip;
};

struct tls_server {
	SSL_CTX *ctx; /* for new connections; live ones hold a reference to theirs */
	char *cert_file;
	char *key_file;
};

/* Ciphertext waiting to be written: a list of blocks, freed as they are written. */
struct tls_chunk {
	struct tls_chunk *next;
	size_t len;
	uint8_t data[TLS_OUT_CHUNK_BYTES];
};

struct tls_conn {
	SSL *ssl; /* owns both BIOs */
	BIO *rbio; /* fed network bytes (a memory BIO) */
	struct tls_client *cli; /* NULL on a server connection */
	struct tls_chunk *head, *tail;
	size_t head_off; /* bytes of head already written */
	size_t queued; /* bytes from head_off to the end of tail */
	size_t taken; /* of those, handed out by tls_conn_out(), oldest first */
	bool done; /* handshake done and checked */
	bool closed; /* close_notify queued */
	bool oom; /* the output BIO could not grow */
	int err; /* first error, returned from then on */
	enum tls_fail fail;
	char reason[TLS_REASON_BYTES];
};

/* ---- output: a BIO that appends what OpenSSL writes to the connection's queue ---- */

static int out_append(struct tls_conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		struct tls_chunk *t = c->tail;
		size_t n;

		if (!t || t->len == sizeof(t->data)) {
			t = malloc(sizeof(*t));
			if (!t)
				return -ENOMEM;
			t->next = NULL;
			t->len = 0;
			if (c->tail)
				c->tail->next = t;
			else
				c->head = t;
			c->tail = t;
		}
		n = sizeof(t->data) - t->len;
		if (n > len)
			n = len;
		memcpy(t->data + t->len, p, n);
		t->len += n;
		c->queued += n;
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * OpenSSL writes each record straight into the queue: one copy, as into a memory BIO, but
 * the bytes then stay where they are until written, so a span handed to an asynchronous
 * write is not moved by the records that follow it.
 */
static int sink_write(BIO *b, const char *buf, size_t len, size_t *written)
{
	struct tls_conn *c = BIO_get_data(b);

	if (out_append(c, (const uint8_t *)buf, len) < 0) {
		c->oom = true;
		return 0;
	}
	*written = len;
	return 1;
}

static long sink_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	/* Flushing is the caller's write; everything else (kTLS, pending counts) is not ours. */
	return cmd == BIO_CTRL_FLUSH;
}

static int sink_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static const BIO_METHOD *sink_method(void)
{
	/* Made once and kept for the process: every connection's BIO uses it. */
	static BIO_METHOD *m;

	if (m)
		return m;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "httun tls sink");
	if (!m)
		return NULL;
	if (!BIO_meth_set_write_ex(m, sink_write) || !BIO_meth_set_ctrl(m, sink_ctrl) ||
	    !BIO_meth_set_create(m, sink_create)) {
		BIO_meth_free(m);
		m = NULL;
	}
	return m;
}

/* ---- files ---- */

/* OpenSSL would prompt on the terminal for a passphrase: that blocks, so refuse instead. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static const char *ssl_reason(void)
{
	const char *r = ERR_reason_error_string(ERR_peek_last_error());

	return r ? r : "unknown error";
}

/*
 * Read a whole PEM file (only a regular file: a device given by mistake never ends) into
 * a memory BIO over *buf, which the caller frees (wipes, for a key) after the BIO.
 */
static int pem_open(const char *what, const char *path, size_t cap, bool secret, uint8_t **buf,
		    size_t *len, BIO **bio, char *err, size_t errlen)
{
	mode_t mode = 0;
	int ret;

	*bio = NULL;
	*buf = malloc(cap + 1);
	if (!*buf) {
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		return -ENOMEM;
	}
	ret = file_read_regular(path, *buf, cap + 1, len, &mode);
	if (ret < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, file_strerror(ret));
		return ret;
	}
	if (secret) {
		ret = keyfile_check_private(what, path, mode, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (*len > cap) {
		snprintf(err, errlen, "%s %s: larger than %zu bytes", what, path, cap);
		return -EINVAL;
	}
	*bio = BIO_new_mem_buf(*buf, (int)*len);
	if (!*bio) {
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		return -ENOMEM;
	}
	return 0;
}

static void pem_close(uint8_t *buf, size_t cap, BIO *bio)
{
	BIO_free(bio);
	if (buf)
		OPENSSL_cleanse(buf, cap + 1);
	free(buf);
}

/*
 * Call fn on each certificate of a PEM stream, in order. Returns how many, or -1 when one
 * is malformed or fn fails (OpenSSL's error queue says why).
 */
static int each_cert(BIO *bio, int (*fn)(void *arg, X509 *x, int i), void *arg)
{
	unsigned long e;
	X509 *x;
	int n = 0;

	ERR_clear_error();
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase_cb, NULL))) {
		int ok = fn(arg, x, n);

		X509_free(x);
		if (!ok)
			return -1;
		n++;
	}
	/* The stream ends with "no start line"; anything else is a broken certificate. */
	e = ERR_peek_last_error();
	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return n;
	}
	return -1;
}

static int add_trusted(void *arg, X509 *x, int i)
{
	(void)i;
	return X509_STORE_add_cert(arg, x);
}

static int add_chain(void *arg, X509 *x, int i)
{
	return i == 0 ? SSL_CTX_use_certificate(arg, x) : SSL_CTX_add1_chain_cert(arg, x);
}

/* ---- contexts ---- */

static int ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	/* Idle connections give back OpenSSL's record buffers (about 34 KiB each). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) &&
	       SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS);
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_conn *c = SSL_get_app_data(ssl);

	/*
	 * A TLS 1.2 session is made before the pins are checked: client_check() drops it
	 * when they fail. TLS 1.3 tickets come later, with data a failed connection never
	 * reads.
	 */
	if (!SSL_SESSION_is_resumable(sess))
		return 0;
	SSL_SESSION_free(c->cli->session);
	c->cli->session = sess;
	return 1; /* the reference is ours now */
}

static int decode_pin(const char *text, uint8_t out[PIN_BYTES])
{
	size_t len = 0;
	const char *end = NULL;

	if (strlen(text) != PIN_BASE64_CHARS ||
	    sodium_base642bin(out, PIN_BYTES, text, PIN_BASE64_CHARS, NULL, &len, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    len != PIN_BYTES || *end != '\0')
		return -EINVAL;
	return 0;
}

static bool is_ip_literal(const char *s)
{
	uint8_t a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int client_trust(struct tls_client *cli, const struct tls_client_cfg *cfg, char *err,
			size_t errlen)
{
	X509_VERIFY_PARAM *param = SSL_CTX_get0_param(cli->ctx);
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int ret, n;

	if (cfg->insecure) {
		SSL_CTX_set_verify(cli->ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	SSL_CTX_set_verify(cli->ctx, SSL_VERIFY_PEER, NULL);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (!(cli->name_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, cli->name)
			      : X509_VERIFY_PARAM_set1_host(param, cli->name, 0))) {
		snprintf(err, errlen, "TLS: cannot verify the name %s: %s", cli->name,
			 ssl_reason());
		return -EINVAL;
	}
	if (!cfg->ca_file) {
		if (!SSL_CTX_set_default_verify_paths(cli->ctx)) {
			snprintf(err, errlen, "TLS: the system trust store: %s", ssl_reason());
			return -EINVAL;
		}
		return 0;
	}
	ret = pem_open("CA file", cfg->ca_file, TLS_PEM_FILE_MAX_BYTES, false, &buf, &len, &bio,
		       err, errlen);
	if (ret == 0) {
		n = each_cert(bio, add_trusted, SSL_CTX_get_cert_store(cli->ctx));
		if (n <= 0) {
			snprintf(err, errlen, "CA file %s: %s", cfg->ca_file,
				 n == 0 ? "holds no PEM certificate" : ssl_reason());
			ret = -EINVAL;
		}
	}
	pem_close(buf, TLS_PEM_FILE_MAX_BYTES, bio);
	/*
	 * Every certificate in the file is a trust anchor, a CA's or not: that is how a
	 * self-signed server certificate, or one intermediate, is trusted alone.
	 */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	return ret;
}

int tls_client_new(struct tls_client **out, const struct tls_client_cfg *cfg, char *err,
		   size_t errlen)
{
	const char *name = cfg->sni ? cfg->sni : cfg->host;
	struct tls_client *cli;
	int ret = -ENOMEM;

	*out = NULL;
	if (!name || !*name || strlen(name) >= sizeof(cli->name)) {
		snprintf(err, errlen, "TLS: the server name must be 1 to %d characters",
			 CONFIG_HOST_MAX_BYTES);
		return -EINVAL;
	}
	cli = calloc(1, sizeof(*cli));
	if (!cli)
		goto err_nomem;
	strcpy(cli->name, name);
	cli->name_is_ip = is_ip_literal(name);
	cli->insecure = cfg->insecure;
	if (cfg->n_pins) {
		cli->pins = calloc(cfg->n_pins, sizeof(*cli->pins));
		if (!cli->pins)
			goto err_nomem;
		for (size_t i = 0; i < cfg->n_pins; i++) {
			if (decode_pin(cfg->pins[i], cli->pins[i]) < 0) {
				snprintf(err, errlen,
					 "TLS pin %.60s: not the base64 of a SHA-256 hash "
					 "(%d characters)",
					 cfg->pins[i], PIN_BASE64_CHARS);
				ret = -EINVAL;
				goto err;
			}
		}
		cli->n_pins = cfg->n_pins;
	}
	cli->ctx = SSL_CTX_new(TLS_client_method());
	if (!cli->ctx || !ctx_common(cli->ctx) ||
	    SSL_CTX_set_alpn_protos(cli->ctx, alpn_http11, ALPN_HTTP11_BYTES) != 0)
		goto err_nomem;
	/* One session kept, ours (not OpenSSL's cache): offered by the next connection. */
	SSL_CTX_set_session_cache_mode(cli->ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(cli->ctx, new_session_cb);
	ret = client_trust(cli, cfg, err, errlen);
	if (ret < 0)
		goto err;
	*out = cli;
	return 0;

err_nomem:
	snprintf(err, errlen, "TLS: out of memory");
	ret = -ENOMEM;
err:
	tls_client_free(cli);
	return ret;
}

void tls_client_free(struct tls_client *cli)
{
	if (!cli)
		return;
	SSL_SESSION_free(cli->session);
	SSL_CTX_free(cli->ctx);
	free(cli->pins);
	free(cli);
}

/* RFC 7301: http/1.1 if the client offers it, else the no_application_protocol alert. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
			  const unsigned char *in, unsigned int inlen, void *arg)
{
	struct cursor cur = cursor_make(in, inlen);
	struct span name;
	uint8_t n;

	(void)ssl;
	(void)arg;
	while (cur_u8(&cur, &n) && cur_span(&cur, n, &name)) {
		if (n == ALPN_HTTP11_BYTES - 1 && memcmp(name.p, alpn_http11 + 1, n) == 0) {
			*out = name.p;
			*outlen = n;
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int server_ctx_load(const struct tls_server *srv, SSL_CTX **out, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	SSL_CTX *ctx;
	BIO *bio = NULL;
	int ret, n;

	*out = NULL;
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !ctx_common(ctx) || !SSL_CTX_set_dh_auto(ctx, 1)) {
		snprintf(err, errlen, "TLS: out of memory");
		SSL_CTX_free(ctx);
		return -ENOMEM;
	}
	/*
	 * Resumption through tickets only: OpenSSL's server-side cache would keep a session
	 * for every full handshake, which anyone can make.
	 */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select_cb, NULL);

	ret = pem_open("TLS certificate file", srv->cert_file, TLS_PEM_FILE_MAX_BYTES, false, &buf,
		       &len, &bio, err, errlen);
	if (ret == 0) {
		n = each_cert(bio, add_chain, ctx);
		if (n <= 0) {
			snprintf(err, errlen, "TLS certificate file %s: %s", srv->cert_file,
				 n == 0 ? "holds no PEM certificate" : ssl_reason());
			ret = -EINVAL;
		}
	}
	pem_close(buf, TLS_PEM_FILE_MAX_BYTES, bio);
	if (ret < 0)
		goto err;

	ret = pem_open("TLS key file", srv->key_file, TLS_KEY_FILE_MAX_BYTES, true, &buf, &len,
		       &bio, err, errlen);
	if (ret == 0) {
		ERR_clear_error();
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, NULL);
		if (!key) {
			snprintf(err, errlen,
				 "TLS key file %s: not a PEM private key without a passphrase (%s)",
				 srv->key_file, ssl_reason());
			ret = -EINVAL;
		}
	}
	pem_close(buf, TLS_KEY_FILE_MAX_BYTES, bio);
	if (ret < 0)
		goto err;
	if (!SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx)) {
		snprintf(err, errlen, "TLS key file %s does not match the certificate in %s (%s)",
			 srv->key_file, srv->cert_file, ssl_reason());
		ret = -EINVAL;
		goto err;
	}
	EVP_PKEY_free(key);
	ERR_clear_error();
	*out = ctx;
	return 0;

err:
	EVP_PKEY_free(key);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int tls_server_new(struct tls_server **out, const struct tls_server_cfg *cfg, char *err,
		   size_t errlen)
{
	struct tls_server *srv;
	int ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv || !(srv->cert_file = strdup(cfg->cert_file)) ||
	    !(srv->key_file = strdup(cfg->key_file))) {
		snprintf(err, errlen, "TLS: out of memory");
		tls_server_free(srv);
		return -ENOMEM;
	}
	ret = server_ctx_load(srv, &srv->ctx, err, errlen);
	if (ret < 0) {
		tls_server_free(srv);
		return ret;
	}
	*out = srv;
	return 0;
}

int tls_server_reload(struct tls_server *srv, char *err, size_t errlen)
{
	/* Name, HMAC and AES keys of the session tickets: 16 + 32 + 32 bytes. */
	unsigned char keys[80];
	SSL_CTX *ctx;
	int ret;

	ret = server_ctx_load(srv, &ctx, err, errlen);
	if (ret < 0)
		return ret;
	/* The new pair keeps the ticket keys, so clients resume across a reload. */
	if (SSL_CTX_get_tlsext_ticket_keys(srv->ctx, keys, sizeof(keys)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_keys(ctx, keys, sizeof(keys)) != 1)
		ERR_clear_error();
	OPENSSL_cleanse(keys, sizeof(keys));
	/* Connections made with the old context hold their own reference to it. */
	SSL_CTX_free(srv->ctx);
	srv->ctx = ctx;
	return 0;
}

void tls_server_free(struct tls_server *srv)
{
	if (!srv)
		return;
	SSL_CTX_free(srv->ctx);
	free(srv->cert_file);
	free(srv->key_file);
	free(srv);
}

/* ---- connections ---- */

static int conn_new(struct tls_conn **out, SSL_CTX *ctx)
{
	const BIO_METHOD *m = sink_method();
	struct tls_conn *c;
	BIO *wbio;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ssl = SSL_new(ctx);
	c->rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(m);
	if (!c->ssl || !c->rbio || !wbio) {
		BIO_free(c->rbio);
		BIO_free(wbio);
		SSL_free(c->ssl);
		free(c);
		ERR_clear_error();
		return -ENOMEM;
	}
	/* An empty input BIO means "wait for more", not end of stream. */
	BIO_set_mem_eof_return(c->rbio, -1);
	BIO_set_data(wbio, c);
	SSL_set_bio(c->ssl, c->rbio, wbio);
	SSL_set_app_data(c->ssl, c);
	*out = c;
	return 0;
}

static void set_reason(struct tls_conn *c, const char *r)
{
	snprintf(c->reason, sizeof(c->reason), "%s", r);
}

static enum tls_fail verify_kind(long v)
{
	switch (v) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		return TLS_FAIL_UNTRUSTED;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return TLS_FAIL_NAME;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_FAIL_EXPIRED;
	default:
		return TLS_FAIL_VERIFY;
	}
}

/* Record the first failure; later calls return it. */
static int conn_fail(struct tls_conn *c, int err, enum tls_fail kind, const char *reason)
{
	if (!c->err) {
		c->err = err;
		c->fail = kind;
		set_reason(c, reason);
	}
	ERR_clear_error();
	return c->err;
}

/* After an OpenSSL call failed: why, from the best source. */
static int conn_ssl_fail(struct tls_conn *c)
{
	long v;

	if (c->oom)
		return conn_fail(c, -ENOMEM, TLS_FAIL_NOMEM, "out of memory");
	v = SSL_get_verify_result(c->ssl);
	if (c->cli && !c->cli->insecure && v != X509_V_OK)
		return conn_fail(c, -EKEYREJECTED, verify_kind(v),
				 X509_verify_cert_error_string(v));
	return conn_fail(c, -EPROTO, TLS_FAIL_PROTOCOL, ssl_reason());
}

/* The server's public key (SubjectPublicKeyInfo, as HPKP pins it) against the pins. */
static int check_pins(struct tls_conn *c)
{
	const struct tls_client *cli = c->cli;
	uint8_t md[PIN_BYTES], *der = NULL;
	char b64[PIN_BASE64_CHARS + 1], why[TLS_REASON_BYTES];
	X509 *leaf = SSL_get0_peer_certificate(c->ssl);
	int len;

	if (!leaf)
		return conn_fail(c, -EKEYREJECTED, TLS_FAIL_PIN, "the server sent no certificate");
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(leaf), &der);
	if (len <= 0 || !EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL)) {
		OPENSSL_free(der);
		return conn_fail(c, -ENOMEM, TLS_FAIL_NOMEM, "out of memory");
	}
	OPENSSL_free(der);
	for (size_t i = 0; i < cli->n_pins; i++)
		if (memcmp(md, cli->pins[i], PIN_BYTES) == 0)
			return 0;
	sodium_bin2base64(b64, sizeof(b64), md, sizeof(md), sodium_base64_VARIANT_ORIGINAL);
	snprintf(why, sizeof(why), "the server's public key (SHA-256 %s) matches no pin", b64);
	return conn_fail(c, -EKEYREJECTED, TLS_FAIL_PIN, why);
}

/*
 * The check OpenSSL's verification does not make, once the handshake is through. (ALPN
 * needs none: OpenSSL refuses an answer it did not offer, and a server without ALPN
 * speaks HTTP/1.1 anyway.)
 */
static int client_check(struct tls_conn *c)
{
	if (c->cli->n_pins && check_pins(c) < 0) {
		/* Whatever session this connection left must not be offered again. */
		SSL_SESSION_free(c->cli->session);
		c->cli->session = NULL;
		return c->err;
	}
	return 0;
}

/* Move the handshake on with whatever input there is. */
static int conn_drive(struct tls_conn *c)
{
	int r;

	if (c->err || c->done)
		return c->err;
	ERR_clear_error();
	r = SSL_do_handshake(c->ssl);
	if (r != 1) {
		int code = SSL_get_error(c->ssl, r);

		if (code == SSL_ERROR_WANT_READ && !c->oom)
			return 0;
		return conn_ssl_fail(c);
	}
	if (c->cli && client_check(c) < 0)
		return c->err;
	c->done = true;
	return 0;
}

int tls_conn_new_client(struct tls_conn **out, struct tls_client *cli)
{
	struct tls_conn *c;
	int ret;

	ret = conn_new(&c, cli->ctx);
	if (ret < 0)
		return ret;
	c->cli = cli;
	SSL_set_connect_state(c->ssl);
	/* RFC 6066: no IP address in SNI. */
	if ((!cli->name_is_ip && !SSL_set_tlsext_host_name(c->ssl, cli->name)) ||
	    (cli->session && !SSL_set_session(c->ssl, cli->session))) {
		tls_conn_free(c);
		ERR_clear_error();
		return -ENOMEM;
	}
	/* The ClientHello; a failure here (out of memory) stays with the connection. */
	conn_drive(c);
	*out = c;
	return 0;
}

int tls_conn_new_server(struct tls_conn **out, struct tls_server *srv)
{
	int ret;

	ret = conn_new(out, srv->ctx);
	if (ret < 0)
		return ret;
	SSL_set_accept_state((*out)->ssl);
	return 0;
}

void tls_conn_free(struct tls_conn *c)
{
	struct tls_chunk *t, *next;

	if (!c)
		return;
	/*
	 * OpenSSL makes the session of a connection freed without close_notify unresumable.
	 * A tunnel's connections end that way whenever the network changes, which is when
	 * resumption is worth most, and RFC 8446 section 6.1 says an unclean close does not
	 * forbid it. A connection that failed keeps OpenSSL's judgement.
	 */
	if (c->done && !c->err)
		SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c->ssl);
	for (t = c->head; t; t = next) {
		next = t->next;
		free(t);
	}
	free(c);
}

int tls_conn_feed(struct tls_conn *c, const void *buf, size_t len)
{
	if (c->err)
		return c->err;
	while (len > 0) {
		/* BIO_write takes an int. */
		int n = len > INT_MAX ? INT_MAX : (int)len;

		if (BIO_write(c->rbio, buf, n) != n)
			return conn_fail(c, -ENOMEM, TLS_FAIL_NOMEM, "out of memory");
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
	}
	return conn_drive(c);
}

ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t cap)
{
	size_t n = 0;
	int r, code;

	if (conn_drive(c) < 0)
		return c->err;
	if (!c->done)
		return -EAGAIN;
	if (cap > SSIZE_MAX)
		cap = SSIZE_MAX;
	ERR_clear_error();
	r = SSL_read_ex(c->ssl, buf, cap, &n);
	if (r == 1 && !c->oom)
		return (ssize_t)n;
	code = SSL_get_error(c->ssl, r);
	if (c->oom)
		return conn_ssl_fail(c);
	if (code == SSL_ERROR_WANT_READ)
		return -EAGAIN;
	if (code == SSL_ERROR_ZERO_RETURN)
		return 0;
	return conn_ssl_fail(c);
}

/*
 * The next record's plaintext from iov at (*i, *off): straight from the caller's buffer
 * when a whole record lies in one iovec, else gathered into stage.
 */
static size_t next_record(const struct iovec *iov, size_t n_iov, size_t *i, size_t *off,
			  uint8_t *stage, const uint8_t **p)
{
	size_t len = 0;

	while (*i < n_iov && *off == iov[*i].iov_len) {
		(*i)++;
		*off = 0;
	}
	if (*i == n_iov)
		return 0;
	if (iov[*i].iov_len - *off >= TLS_RECORD_BYTES) {
		*p = (const uint8_t *)iov[*i].iov_base + *off;
		*off += TLS_RECORD_BYTES;
		return TLS_RECORD_BYTES;
	}
	while (len < TLS_RECORD_BYTES && *i < n_iov) {
		size_t k = iov[*i].iov_len - *off;

		if (k > TLS_RECORD_BYTES - len)
			k = TLS_RECORD_BYTES - len;
		memcpy(stage + len, (const uint8_t *)iov[*i].iov_base + *off, k);
		len += k;
		*off += k;
		if (*off == iov[*i].iov_len) {
			(*i)++;
			*off = 0;
		}
	}
	*p = stage;
	return len;
}

ssize_t tls_conn_write(struct tls_conn *c, const struct iovec *iov, size_t n_iov)
{
	uint8_t stage[TLS_RECORD_BYTES];
	size_t total = 0, taken = 0, i = 0, off = 0;

	if (c->err)
		return c->err;
	for (size_t k = 0; k < n_iov; k++)
		total += iov[k].iov_len;
	if (c->closed)
		return -EPIPE;
	if (total == 0)
		return 0;
	if (!c->done || c->queued >= TLS_OUT_MAX_BYTES)
		return -EAGAIN;
	while (c->queued < TLS_OUT_MAX_BYTES) {
		const uint8_t *p = NULL;
		size_t len = next_record(iov, n_iov, &i, &off, stage, &p), w = 0;

		if (len == 0)
			break;
		ERR_clear_error();
		if (SSL_write_ex(c->ssl, p, len, &w) != 1 || c->oom)
			return conn_ssl_fail(c);
		taken += len;
	}
	return (ssize_t)taken;
}

int tls_conn_shutdown(struct tls_conn *c)
{
	if (c->err)
		return c->err;
	if (!c->done)
		return -ENOTCONN;
	if (c->closed)
		return 0;
	ERR_clear_error();
	/* 0: ours is queued, the peer's not seen yet; 1: both. */
	if (SSL_shutdown(c->ssl) < 0 || c->oom)
		return conn_ssl_fail(c);
	c->closed = true;
	return 0;
}

size_t tls_conn_out(struct tls_conn *c, struct iovec *iov, size_t max)
{
	struct tls_chunk *t = c->head;
	size_t skip = c->head_off + c->taken, n = 0;

	/* Find the first byte not taken yet: chunks before the tail are full. */
	while (t && skip >= t->len) {
		skip -= t->len;
		t = t->next;
	}
	for (; t && n < max; t = t->next, skip = 0) {
		iov[n].iov_base = t->data + skip;
		iov[n].iov_len = t->len - skip;
		c->taken += t->len - skip;
		n++;
	}
	return n;
}

void tls_conn_out_done(struct tls_conn *c, size_t n)
{
	if (n > c->taken)
		n = c->taken; /* a caller's bug; never release what was not handed out */
	c->taken -= n;
	c->queued -= n;
	c->head_off += n;
	while (c->head && c->head_off >= c->head->len) {
		struct tls_chunk *t = c->head;

		c->head_off -= t->len;
		c->head = t->next;
		if (!c->head)
			c->tail = NULL;
		free(t);
	}
}

size_t tls_conn_out_pending(const struct tls_conn *c)
{
	return c->queued - c->taken;
}

void tls_conn_trim(struct tls_conn *c)
{
	BIO *fresh;

	/* A memory BIO keeps the largest buffer it ever needed; a fresh one holds none. */
	if (BIO_ctrl_pending(c->rbio) != 0)
		return;
	fresh = BIO_new(BIO_s_mem());
	if (!fresh)
		return;
	BIO_set_mem_eof_return(fresh, -1);
	SSL_set0_rbio(c->ssl, fresh);
	c->rbio = fresh;
}

bool tls_conn_handshake_done(const struct tls_conn *c)
{
	return c->done && !c->err;
}

enum tls_fail tls_conn_fail(const struct tls_conn *c, const char **reason)
{
	if (reason)
		*reason = c->err ? c->reason : "";
	return c->fail;
}

void tls_conn_info(const struct tls_conn *c, struct tls_info *info)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	memset(info, 0, sizeof(*info));
	info->version = SSL_get_version(c->ssl);
	info->cipher = SSL_get_cipher_name(c->ssl);
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn && alpn_len < sizeof(info->alpn))
		memcpy(info->alpn, alpn, alpn_len);
	info->resumed = SSL_session_reused(c->ssl);
}

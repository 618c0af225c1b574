/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * TLS as a byte transformer with no event loop (docs/TRANSPORT.md "TLS engine"): OpenSSL 3
 * behind in-memory BIOs, so the connection that owns the socket stays the only one doing
 * I/O. Ciphertext from the network goes in with tls_conn_feed(), plaintext comes out of
 * tls_conn_read(); plaintext goes in with tls_conn_write(), ciphertext to send comes out of
 * tls_conn_out() and is released with tls_conn_out_done(). No call blocks, reads the clock
 * or touches a socket. Nothing here includes uv.h or llhttp.h.
 *
 * Contexts: a struct tls_client holds what every connection to one server shares (the
 * trust anchors, the name to verify, the pins, the last session for resumption); a struct
 * tls_server the certificate and key, swapped by tls_server_reload(). Connections keep the
 * context they were made with alive (OpenSSL's reference count), so a context may be freed
 * or reloaded while its connections live; a tls_client's connections must still be freed
 * before the tls_client itself, which they borrow for its session slot.
 *
 * Errors are 0 or a negative errno. Once a connection has failed, every call returns the
 * same error, and tls_conn_fail() says why:
 *   -EPROTO       not TLS, a fatal alert, no common version, cipher or ALPN protocol
 *   -EKEYREJECTED the server's certificate or public key was refused (client only)
 *   -ENOMEM       out of memory
 * Contexts, files: -EINVAL (with a message in err), -EPERM (key file readable by group
 * or others), -ENOMEM.
 */
#ifndef HTTUN_TRANSPORT_TLS_H
#define HTTUN_TRANSPORT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Room for tls_conn_fail()'s reason, NUL included. */
#define TLS_REASON_BYTES 160

/* Why a connection failed; the caller suggests the option that applies. */
enum tls_fail {
	TLS_FAIL_NONE = 0,
	TLS_FAIL_PROTOCOL, /* not TLS, an alert, nothing in common: OpenSSL's reason */
	TLS_FAIL_UNTRUSTED, /* unknown issuer, self-signed: a CA file, or skip verification */
	TLS_FAIL_NAME, /* the certificate is not for that name or address: the SNI name */
	TLS_FAIL_EXPIRED, /* expired or not yet valid: the server's renewal, or our clock */
	TLS_FAIL_VERIFY, /* any other verification failure (bad signature, purpose, ...) */
	TLS_FAIL_PIN, /* verified (or not checked), but the public key matches no pin */
	TLS_FAIL_NOMEM, /* out of memory */
};

struct tls_client_cfg {
	const char *host; /* the URL's host: name or IP literal (IPv6 without brackets) */
	const char *sni; /* NULL, or the name to send and verify instead of host */
	const char *ca_file; /* NULL: the system trust store; else only the certs in it */
	const char *const *pins; /* base64 SHA-256 of SubjectPublicKeyInfo, 44 characters */
	size_t n_pins;
	bool insecure; /* no certificate verification (pins are still checked) */
};

struct tls_server_cfg {
	const char *cert_file; /* PEM: the certificate, then its chain */
	const char *key_file; /* PEM private key, no passphrase, mode 0600 or stricter */
};

struct tls_client;
struct tls_server;
struct tls_conn;

/*
 * Build a client context (TLS 1.2 and 1.3, ALPN http/1.1). Reads ca_file, decodes the pins.
 * Returns 0, or -EINVAL / -ENOMEM with a message for the user in err.
 */
int tls_client_new(struct tls_client **out, const struct tls_client_cfg *cfg, char *err,
		   size_t errlen);
void tls_client_free(struct tls_client *cli);

/*
 * Build a server context from the files (kept by name for tls_server_reload()). Returns
 * 0, or -EINVAL / -EPERM / -ENOMEM with a message for the user in err.
 */
int tls_server_new(struct tls_server **out, const struct tls_server_cfg *cfg, char *err,
		   size_t errlen);
/*
 * Read the certificate and key files again and use them for new connections, only if
 * they load and match; otherwise keep the current pair and return the error with err
 * filled. Live connections keep the pair they started with; session tickets issued
 * before still resume.
 */
int tls_server_reload(struct tls_server *srv, char *err, size_t errlen);
void tls_server_free(struct tls_server *srv);

/*
 * A connection to the client's server: the ClientHello is queued at once (read it with
 * tls_conn_out()), offering the last session for resumption. Returns 0 or -ENOMEM.
 */
int tls_conn_new_client(struct tls_conn **out, struct tls_client *cli);
/* A connection accepted by the server. Returns 0 or -ENOMEM. */
int tls_conn_new_server(struct tls_conn **out, struct tls_server *srv);
/* Frees the connection and the ciphertext it holds, taken or not. */
void tls_conn_free(struct tls_conn *c);

/*
 * Bytes read from the network; copied. Moves the handshake on, which may queue bytes to
 * send. Returns 0 or the connection's error. The caller stops reading its socket while it
 * is not draining tls_conn_read(): the engine holds whatever it is fed.
 */
int tls_conn_feed(struct tls_conn *c, const void *buf, size_t len);

/*
 * Plaintext into buf: the count (> 0); 0 once the peer sent close_notify; -EAGAIN when
 * more bytes from the network are needed (the handshake included); or the error. May
 * queue bytes to send (a key update's answer).
 */
ssize_t tls_conn_read(struct tls_conn *c, void *buf, size_t cap);

/*
 * Encrypt plaintext from iov, in records of up to 16 KiB filled across iovec boundaries;
 * what is taken is copied (the caller's buffers are free on return). Returns the count
 * taken (> 0), which is less than offered when TLS_OUT_MAX_BYTES of ciphertext is held
 * (take the rest after tls_conn_out_done()); 0 when iov holds nothing; -EAGAIN when
 * nothing could be taken (the handshake is not done, or the queue is full); -EPIPE after
 * tls_conn_shutdown(); or the error.
 */
ssize_t tls_conn_write(struct tls_conn *c, const struct iovec *iov, size_t n_iov);

/*
 * Queue close_notify (the peer's is not awaited). Returns 0, -ENOTCONN before the
 * handshake is done, or the error.
 */
int tls_conn_shutdown(struct tls_conn *c);

/*
 * Ciphertext to send: fills up to max spans with bytes not taken before and marks them
 * taken; returns the number of spans. The spans stay valid, whatever else is called,
 * until tls_conn_out_done() releases them or the connection is freed; so they can go to
 * an asynchronous write. Bytes may wait after a failure too: a fatal alert worth sending.
 */
size_t tls_conn_out(struct tls_conn *c, struct iovec *iov, size_t max);
/* n bytes of what was taken, oldest first, are written: their memory is released. */
void tls_conn_out_done(struct tls_conn *c, size_t n);
/* Ciphertext not yet taken: > 0 when the engine wants to send. */
size_t tls_conn_out_pending(const struct tls_conn *c);

/* Release buffers held for input while none is pending (the housekeeping timer). */
void tls_conn_trim(struct tls_conn *c);

/* True once the handshake is done and, on a client, the server passed every check. */
bool tls_conn_handshake_done(const struct tls_conn *c);

/* Why the connection failed (TLS_FAIL_NONE if it has not), with a reason for the user. */
enum tls_fail tls_conn_fail(const struct tls_conn *c, const char **reason);

/* What was agreed, for logs; valid while the connection lives. */
struct tls_info {
	const char *version; /* "TLSv1.3" */
	const char *cipher; /* "TLS_AES_256_GCM_SHA384" */
	char alpn[16]; /* the protocol the server selected, "" if none */
	bool resumed; /* the handshake resumed an earlier session */
};
void tls_conn_info(const struct tls_conn *c, struct tls_info *info);

#endif

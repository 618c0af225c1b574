/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * One byte stream's life (docs/DESIGN.md "Connections"): the libuv handle (TCP or a Unix
 * pipe), the read buffer, the writes in flight and their bytes, pausing reads while too
 * much output waits, one deadline timer, and closing once. The HTTP server and client,
 * both ends of the relay and the FastCGI source each embed one struct net_conn and hear
 * about it through a struct net_conn_events; what they add is their protocol.
 *
 * The bytes move through a struct net_transport: plain TCP or pipe is the one today. A
 * transport that must see every byte (TLS over memory BIOs) takes the same calls: reads
 * land in the helper's buffer (or the owner's, net_conn_events.alloc) after it, and a
 * write may complete later than the call even when the socket took the ciphertext.
 *
 * Ownership: the owner embeds the struct and frees it in events->closed, which runs once,
 * after libuv has closed every handle of the connection. The helper owns the read buffer
 * and frees it before that call. A struct net_write belongs to the owner (usually inside
 * its own write object); its callback runs exactly once for a write that was queued,
 * also when the connection closes under it, and always before events->closed.
 */
#ifndef HTTUN_NET_CONN_H
#define HTTUN_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

#include "core/readbuf.h"

/* The libuv handle of a byte stream, whichever kind it is. */
union uv_any_stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct net_conn;
struct net_write;

typedef void (*net_write_cb)(struct net_write *w, int status);

/* A queued write: embed it in the write's own object and find that with container_of. */
struct net_write {
	uv_write_t req;
	struct net_conn *conn;
	net_write_cb cb;
};

/* What the owner hears. Only read and closed are required. */
struct net_conn_events {
	/*
	 * Where the next read goes. true: buf is the owner's (a body read straight into its
	 * buffer); false: the read goes into the read buffer.
	 */
	bool (*alloc)(struct net_conn *c, uv_buf_t *buf);
	/*
	 * nread > 0 bytes arrived: at direct when the alloc hook gave the buffer, else in the
	 * read buffer (already counted in rb.len; direct NULL). nread < 0: end of stream or an
	 * error; the owner closes. Not called once the connection is closing.
	 */
	void (*read)(struct net_conn *c, ssize_t nread, char *direct);
	/* net_conn_connect's outcome (0 or -errno); reading has started on success. */
	void (*connected)(struct net_conn *c, int status);
	/* The deadline (net_conn_deadline) has passed. */
	void (*timeout)(struct net_conn *c);
	/*
	 * Writes drained below the limits after net_conn_pause_if_congested: the owner may
	 * take what the read buffer holds before reading starts again (it may pause again).
	 */
	void (*drained)(struct net_conn *c);
	/* Every handle is closed: the owner frees its object now. */
	void (*closed)(struct net_conn *c);
};

/* The byte transport under a connection (docs/DESIGN.md "Connections"). */
struct net_transport {
	int (*read_start)(struct net_conn *c);
	void (*read_stop)(struct net_conn *c);
	/* Queues bufs; w->cb runs when written. 0 or -errno (then it will not run). */
	int (*write)(struct net_conn *c, struct net_write *w, const uv_buf_t *bufs, unsigned nbufs);
	/* Writes what goes now, nothing queued: bytes written or -errno (UV_EAGAIN). */
	int (*try_write)(struct net_conn *c, const uv_buf_t *bufs, unsigned nbufs);
	/* Ends the sending side once the queued writes are out. 0 or -errno. */
	int (*shutdown)(struct net_conn *c);
	/* Bytes queued and not yet handed to the kernel. */
	size_t (*queued_bytes)(const struct net_conn *c);
	/* Closes the stream's handle(s); each close calls net_conn_handle_closed. */
	void (*close)(struct net_conn *c);
};

/* Plain TCP or a Unix stream socket, through libuv. */
extern const struct net_transport net_transport_plain;

enum net_kind {
	NET_TCP,
	NET_PIPE,
};

struct net_conn_config {
	enum net_kind kind;
	bool timer; /* a deadline timer (net_conn_deadline) */
	bool nodelay; /* TCP_NODELAY once accepted or connected */
	/* Read buffer (core/readbuf.h): base == max for a fixed one. */
	size_t rb_base, rb_max;
	unsigned rb_shrink_after;
	/* Backpressure (net_conn_pause_if_congested); 0: no limit. */
	size_t max_queued_bytes;
	unsigned max_writes;
};

struct net_conn {
	union uv_any_stream io;
	uv_timer_t timer;
	uv_connect_t connect_req;
	uv_shutdown_t shutdown_req;
	const struct net_transport *tr;
	const struct net_conn_events *ev;
	void *owner;
	struct readbuf rb;
	uint64_t deadline_ms; /* 0: none */
	uint64_t timer_due_ms; /* what the timer is armed for */
	size_t max_queued_bytes;
	unsigned max_writes;
	unsigned writes; /* queued, their callback not run yet */
	unsigned handles; /* open libuv handles */
	bool tcp; /* io is a uv_tcp_t, else a uv_pipe_t */
	bool nodelay;
	bool has_timer;
	bool reading;
	bool paused; /* reading stopped by net_conn_pause_if_congested */
	bool closing;
};

/*
 * Sets up c (its handles on loop, the read buffer) for owner. Returns 0, or -errno and
 * then c needs no close. Then accept or connect it.
 */
int net_conn_init(struct net_conn *c, uv_loop_t *loop, const struct net_conn_config *cfg,
		  const struct net_conn_events *ev, void *owner);
/* Takes a connection off listener. 0 or -errno (then close c). Reading does not start. */
int net_conn_accept(struct net_conn *c, uv_stream_t *listener);
/* Takes over fd, a connected stream socket of c's kind (tests). 0 or -errno. */
int net_conn_open_fd(struct net_conn *c, int fd);
/* Connects to addr (NET_TCP) or path (NET_PIPE); ev->connected tells. 0 or -errno. */
int net_conn_connect(struct net_conn *c, const struct sockaddr *addr, const char *path);

int net_conn_read_start(struct net_conn *c);
void net_conn_read_stop(struct net_conn *c);

/* Queues a write; w->cb runs once it is written or failed. 0 or -errno (cb will not run). */
int net_conn_write(struct net_conn *c, struct net_write *w, const uv_buf_t *bufs, unsigned nbufs,
		   net_write_cb cb);
/*
 * Writes what the socket takes now, queues only the rest: a message that fits the socket
 * buffer (every small one) then needs no write request, no completion on a later loop
 * turn and no epoll_ctl(2) to drop POLLOUT afterwards. 1 when all was written (cb will
 * not run), 0 when the rest is queued, or -errno. bufs is modified.
 */
int net_conn_send(struct net_conn *c, struct net_write *w, uv_buf_t *bufs, unsigned nbufs,
		  net_write_cb cb);
/* Best effort, nothing queued: bytes written or -errno. */
int net_conn_try_write(struct net_conn *c, const uv_buf_t *bufs, unsigned nbufs);
int net_conn_shutdown(struct net_conn *c);

/* Bytes waiting to be written. */
size_t net_conn_queued_bytes(const struct net_conn *c);
/* More writes or bytes waiting than the config allows. */
bool net_conn_congested(const struct net_conn *c);
/*
 * When congested: stop reading until the writes drain (then ev->drained, and reading
 * starts again). Returns whether c is paused.
 */
bool net_conn_pause_if_congested(struct net_conn *c);

/*
 * The deadline is now + ms; it replaces any earlier one. The timer stays armed for the
 * earliest deadline it was set for and re-arms for the current one when it fires early:
 * moving a deadline costs no timer-heap work.
 */
void net_conn_deadline(struct net_conn *c, uint64_t ms);
/* The same at an absolute uv_now() time. */
void net_conn_deadline_at(struct net_conn *c, uint64_t due_ms);
void net_conn_deadline_clear(struct net_conn *c);

/* Closes once (later calls do nothing); ev->closed runs when every handle is closed. */
void net_conn_close(struct net_conn *c);

/*
 * For a transport: where its next plaintext goes (the owner's alloc hook, else the read
 * buffer); bytes arrived there (or an error); a write of its completed; one of its
 * handles has closed.
 */
void net_conn_alloc(struct net_conn *c, uv_buf_t *buf);
void net_conn_deliver(struct net_conn *c, ssize_t nread, const uv_buf_t *buf);
void net_conn_write_done(struct net_write *w, int status);
void net_conn_handle_closed(struct net_conn *c);

#endif

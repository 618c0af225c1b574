/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * What the client and server ends of the tunnel share (docs/DESIGN.md): the endpoint of
 * one channel (its peer, its two frame queues, where received packets go) and the
 * receive path from an HTTP body to the TUN.
 */
#ifndef HTTUN_TRANSPORT_TUNNEL_H
#define HTTUN_TRANSPORT_TUNNEL_H

#include "core/allowed_ips.h"
#include "core/frameq.h"
#include "core/index.h"
#include "core/peer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Where the packets of a channel go and come from; cmd wires a TUN device here.
 * deliver gets a packet with its 10-byte virtio_net_hdr in front (network order, as
 * tun_write takes it with offloads); the buffer is borrowed for the call only: deliver
 * must be done with it when it returns (the receive path rewrites bytes around it).
 * resume says the send queue has room again after get_buf returned 0. deliver NULL: the
 * channel carries no IP, its IP records are dropped and counted. read_now (may be NULL)
 * reads what the TUN holds at once, into the send queue, at most max_packets: the server
 * calls it after a POST delivered packets, with their number, so the replies the kernel
 * made meanwhile (a ping's echo, an ACK: one per packet at most, as a rule) leave in that
 * POST's answer instead of a later message (docs/DESIGN.md). sources (may be NULL: any) are
 * the inner source addresses the peer may use, borrowed: a packet from any other is
 * dropped and counted in rx_bad_source (the server's cryptokey routing; the client takes
 * what the server sends, docs/IP-TUNNEL.md "Source addresses").
 *
 * The l7 hooks are the channel's L7 streams (transport/l7_streams.h sets them): l7_record
 * gets every L7 record of an opened frame (type, body borrowed for the call) and returns
 * 0, or -EPROTO for a malformed one, which ends decoding of the frame (PROTOCOL.md
 * section 5; counted in rx_malformed); l7_resume
 * says the send queue has room again after tunnel_endpoint_batch returned NULL;
 * l7_session_lost that the server's session expired. NULL: the channel carries no L7,
 * its L7 records are dropped and counted.
 */
struct tunnel_io {
	void (*deliver)(void *ctx, uint8_t *vnet_pkt, size_t len);
	void (*resume)(void *ctx);
	void (*read_now)(void *ctx, unsigned max_packets);
	void *ctx;
	/* Bytes one TUN read needs (tun_read_bytes): a frame with less room is sealed first. */
	size_t read_bytes;
	const struct allowed_ips *sources;
	int (*l7_record)(void *l7_ctx, uint8_t type, struct span body);
	void (*l7_resume)(void *l7_ctx);
	/* Server: the channel's session expired (the client went away): end every stream. */
	void (*l7_session_lost)(void *l7_ctx);
	void *l7_ctx;
};

struct tunnel_stats {
	uint64_t rx_frames; /* frames that opened */
	uint64_t rx_packets;
	uint64_t rx_bad_auth; /* did not authenticate */
	uint64_t rx_replayed; /* replayed or too old for the window */
	uint64_t rx_unknown; /* no session with that index (peer restarted?) */
	uint64_t rx_stale; /* session expired */
	uint64_t rx_malformed; /* bad body framing or records, after authentication */
	uint64_t rx_dropped; /* records of a kind this channel does not carry (IP or L7) */
	uint64_t rx_bad_source; /* IP packets from a source not in io.sources, or without one */
	uint64_t tx_packets;
	uint64_t tx_no_session; /* frames dropped: nobody to send them to */
	uint64_t tx_control_dropped; /* L7 control records past the hard cap, dropped */
};

/* One channel's end of the tunnel. The peer's owner pointer leads back here. */
struct tunnel_endpoint {
	const char *name; /* for log lines, borrowed */
	struct peer *peer;
	struct frameq send; /* TUN to the other side */
	struct tunnel_io io;
	bool paused; /* get_buf returned 0: io.resume is owed */
	bool dirty; /* send has an open frame with records: seal at the end of this loop turn */
	/*
	 * The owner has nothing of this end under way (client: no POST): a packet read now
	 * leaves at once, alone (tunnel_endpoint_packet), unless packets were delivered in
	 * the last TUNNEL_QUIET_AFTER_RX_MS (the kernel's answers to them are a batch).
	 */
	bool quiet;
	uint64_t last_rx_ms; /* clock_now_ms() when packets were last delivered */
	/* The clock the quiet window is read on: clock_now_ms, unless a test sets its own. */
	uint64_t (*now_ms)(void);
	/* IP packets given to io.deliver since the owner last cleared this (server: read_now). */
	unsigned delivered;
	struct tunnel_stats stats;
};

/* Returns 0 or -ENOMEM. The peer is created here, in ix, with role. */
int tunnel_endpoint_init(struct tunnel_endpoint *ep, const char *name, enum peer_role role,
			 const uint8_t psk[PSK_BYTES], struct index_table *ix,
			 const struct tunnel_io *io);
void tunnel_endpoint_close(struct tunnel_endpoint *ep);

/*
 * TUN read callbacks (tun_get_buf_fn, tun_packet_fn) with ctx = the endpoint: packets land
 * in the open frame as IP_GSO records, without a copy. A packet read while the endpoint
 * is quiet (nothing sealed or open, quiet set by the owner) ends the read round: it
 * leaves alone this loop turn, without the read(2) that would find the device empty.
 */
size_t tunnel_endpoint_get_buf(void *ctx, uint8_t **buf);
bool tunnel_endpoint_packet(void *ctx, uint8_t *pkt, size_t len);

/*
 * The open frame, with room for a record body of at least min_room bytes: a fuller one
 * is sealed and a fresh one opened. For L7 records, built in place with the l7_add_* and
 * l7_data_reserve functions of core/l7.h; the caller sets ep->dirty once it added one.
 * Returns NULL when the send queue is full (data must wait: l7_resume follows) or out
 * of memory. control: the record is a small L7 control record (OPEN, WINDOW, RESET,
 * an empty FIN) that flow control depends on; it is taken even when the queue is full,
 * up to L7_CONTROL_OVER_QUEUE_FACTOR times the queue bound: beyond that NULL too
 * (counted in tx_control_dropped), so a peer that never polls cannot grow the queue
 * without bound. Answers that no stream depends on (resets for unknown streams and
 * refused opens) are not control: they are dropped when the queue is full.
 */
struct batch *tunnel_endpoint_batch(struct tunnel_endpoint *ep, size_t min_room, bool control);

/* Seal the open frame, if any; 0 or the error of peer_seal (frame dropped, counted). */
int tunnel_endpoint_seal(struct tunnel_endpoint *ep, uint64_t now_ms);
/* Seal and queue an empty frame (keepalive), to confirm a new session at once. */
int tunnel_endpoint_keepalive(struct tunnel_endpoint *ep, uint64_t now_ms);
/* Called after frames left the queue: resume a paused TUN when there is room again. */
void tunnel_endpoint_unpause(struct tunnel_endpoint *ep);
/* Housekeeping: frees the frame buffers the last interval did not need (frameq_trim). */
size_t tunnel_endpoint_trim(struct tunnel_endpoint *ep);

/*
 * What tunnel_receive_body found: how many DATA frames opened, failed, or named a session
 * this side does not have, and the endpoint the opened frames belonged to (the last one).
 */
struct tunnel_rx {
	unsigned opened;
	unsigned failed;
	unsigned unknown;
	bool malformed; /* the body's framing broke off */
	struct tunnel_endpoint *ep;
};

/*
 * Open every DATA frame in a body (in place: body is modified) and deliver its packets.
 * Frames are matched to endpoints through ix; anything that does not open is dropped and
 * counted. POLL, INIT and RESPONSE messages in a data body are malformed.
 */
void tunnel_receive_body(struct index_table *ix, uint8_t *body, size_t len, uint64_t now_ms,
			 struct tunnel_rx *rx);

#endif

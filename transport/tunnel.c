/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "transport/tunnel.h"
#include "core/batch.h"
#include "core/limits.h"
#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int tunnel_endpoint_init(struct tunnel_endpoint *ep, const char *name, enum peer_role role,
			 const uint8_t psk[PSK_BYTES], struct index_table *ix,
			 const struct tunnel_io *io)
{
	memset(ep, 0, sizeof(*ep));
	ep->name = name;
	ep->io = *io;
	ep->now_ms = clock_now_ms;
	ep->peer = peer_new(role, psk, ix);
	if (!ep->peer)
		return -ENOMEM;
	peer_set_owner(ep->peer, ep);
	frameq_init(&ep->send, TUNNEL_FRAME_PLAINTEXT_BYTES, TUNNEL_QUEUE_MAX_BYTES);
	return 0;
}

void tunnel_endpoint_close(struct tunnel_endpoint *ep)
{
	frameq_close(&ep->send);
	peer_free(ep->peer);
	ep->peer = NULL;
}

struct seal_ctx {
	struct peer *peer;
	uint64_t now_ms;
};

static int seal_cb(void *ctx, uint8_t *frame, size_t plaintext_len, uint32_t *tag)
{
	struct seal_ctx *s = ctx;

	/* peer_seal seals with the current session: the frame carries its index. */
	*tag = peer_current_index(s->peer);
	return peer_seal(s->peer, MSG_DATA, frame, plaintext_len, s->now_ms);
}

int tunnel_endpoint_seal(struct tunnel_endpoint *ep, uint64_t now_ms)
{
	struct seal_ctx s = { ep->peer, now_ms };
	int err;

	ep->dirty = false;
	err = frameq_seal(&ep->send, seal_cb, &s);
	if (err == -ENOTCONN || err == -ESTALE)
		ep->stats.tx_no_session++;
	return err;
}

int tunnel_endpoint_keepalive(struct tunnel_endpoint *ep, uint64_t now_ms)
{
	struct seal_ctx s = { ep->peer, now_ms };

	ep->dirty = false;
	return frameq_seal_keepalive(&ep->send, seal_cb, &s);
}

void tunnel_endpoint_unpause(struct tunnel_endpoint *ep)
{
	if (ep->paused && !frameq_full(&ep->send)) {
		ep->paused = false;
		if (ep->io.resume)
			ep->io.resume(ep->io.ctx);
		if (ep->io.l7_resume)
			ep->io.l7_resume(ep->io.l7_ctx);
	}
}

size_t tunnel_endpoint_trim(struct tunnel_endpoint *ep)
{
	return frameq_trim(&ep->send) * ep->send.buf_cap;
}

struct batch *tunnel_endpoint_batch(struct tunnel_endpoint *ep, size_t min_room, bool control)
{
	struct batch *b;

	/* Two tries: the open frame, then a fresh one after sealing the open one. */
	for (int i = 0; i < 2; i++) {
		if (!control && frameq_full(&ep->send)) {
			ep->paused = true;
			return NULL;
		}
		/* Even control records stop at a hard cap: a peer that never polls. */
		if (control && ep->send.queued_bytes + ep->send.buf_cap >
				       ep->send.max_queued_bytes * L7_CONTROL_OVER_QUEUE_FACTOR) {
			ep->stats.tx_control_dropped++;
			return NULL;
		}
		b = frameq_open(&ep->send);
		if (!b)
			return NULL;
		if (b->open_type != REC_PAD)
			batch_cancel(b); /* a reservation nobody finished */
		if (batch_room(b) >= min_room)
			return b;
		tunnel_endpoint_seal(ep, clock_now_ms());
	}
	return NULL;
}

size_t tunnel_endpoint_get_buf(void *ctx, uint8_t **buf)
{
	struct tunnel_endpoint *ep = ctx;
	struct batch *b = NULL;
	size_t room = 0;

	/* Two tries: the open frame, then a fresh one after sealing the open one. */
	for (int i = 0; i < 2; i++) {
		if (frameq_full(&ep->send))
			break;
		b = frameq_open(&ep->send);
		if (!b)
			break;
		batch_cancel(b); /* a read that returned nothing leaves its reservation open */
		room = batch_room_gso(b);
		if (room >= ep->io.read_bytes)
			break;
		room = 0;
		tunnel_endpoint_seal(ep, clock_now_ms());
	}
	if (!room) {
		ep->paused = true;
		return 0;
	}
	*buf = batch_reserve(b, REC_IP_GSO, room);
	if (!*buf) {
		ep->paused = true;
		return 0;
	}
	return room;
}

bool tunnel_endpoint_packet(void *ctx, uint8_t *pkt, size_t len)
{
	struct tunnel_endpoint *ep = ctx;
	bool alone = ep->quiet && !ep->dirty && frameq_empty(&ep->send) &&
		     ep->now_ms() >= ep->last_rx_ms + TUNNEL_QUIET_AFTER_RX_MS;

	(void)pkt; /* it lies in the open frame's reservation */
	if (batch_commit(&ep->send.batch, len) == 0) {
		ep->stats.tx_packets++;
		ep->dirty = true;
	}
	/*
	 * An idle ping's packet: sealed and sent this turn without first reading the device
	 * until EAGAIN. Under load the owner is never quiet, so batches fill as before.
	 */
	return !alone;
}

/*
 * The packet (virtio_net_hdr in front) comes from a source the peer may use. Anything else
 * is a key holder forging sources or posing as another channel's client: dropped, counted
 * and logged, rate-limited, with the source (an address, never payload bytes).
 */
static bool source_allowed(struct tunnel_endpoint *ep, const uint8_t *pkt, size_t len)
{
	char buf[CIDR_STR_BYTES];
	struct cidr src = { 0 };

	if (!ep->io.sources)
		return true;
	if (allowed_ips_source(pkt, len, &src) == 0 && allowed_ips_match(ep->io.sources, &src))
		return true;
	ep->stats.rx_bad_source++;
	if (src.family)
		log_warnx_rl("channel %s: dropped a packet from %s, not in its allowed-ips "
			     "(%" PRIu64 " so far)",
			     ep->name, cidr_format(&src, buf, sizeof(buf)),
			     ep->stats.rx_bad_source);
	else
		log_warnx_rl("channel %s: dropped a packet without an IPv4 or IPv6 source "
			     "(%" PRIu64 " so far)",
			     ep->name, ep->stats.rx_bad_source);
	return false;
}

/*
 * Hand every record of an opened frame to the TUN. A plain IP record gets a zero
 * virtio_net_hdr written into the 10 bytes in front of it: those bytes are the record's
 * own header and what came before it in the frame (at least the 20-byte frame header),
 * all consumed already, so no copy is needed. That holds because io.deliver is done with
 * the packet when it returns (tunnel_io contract); a deferred deliver would see the next
 * record's header written over the tail of this packet.
 */
_Static_assert(FRAME_HEADER_BYTES + RECORD_HEADER_BYTES >= RECORD_GSO_HDR_BYTES,
	       "a plain IP record has room for a virtio_net_hdr in front of it");
static void deliver_records(struct tunnel_endpoint *ep, uint8_t *frame, struct span pt)
{
	unsigned delivered = 0;
	struct cursor c = cursor_make(pt.p, pt.len);
	struct record r;
	int ret;

	while ((ret = record_next(&c, &r)) == 1) {
		uint8_t *body = frame + (r.body.p - frame);

		if (r.type == REC_IP_GSO || r.type == REC_IP) {
			if (!ep->io.deliver) {
				ep->stats.rx_dropped++;
				continue;
			}
		} else if (!ep->io.l7_record) {
			ep->stats.rx_dropped++;
			continue;
		}
		switch (r.type) {
		case REC_IP:
			/* A plain packet goes to the TUN behind a zero virtio header (above). */
			body -= RECORD_GSO_HDR_BYTES;
			memset(body, 0, RECORD_GSO_HDR_BYTES);
			r.body.len += RECORD_GSO_HDR_BYTES;
			/* fall through */
		case REC_IP_GSO:
			/* record_next guarantees IP_GSO's body holds the virtio header. */
			if (!source_allowed(ep, body + RECORD_GSO_HDR_BYTES,
					    r.body.len - RECORD_GSO_HDR_BYTES))
				break;
			ep->io.deliver(ep->io.ctx, body, r.body.len);
			delivered++;
			break;
		default:
			/* A malformed L7 record ends decoding of the frame (PROTOCOL.md 5). */
			ret = ep->io.l7_record(ep->io.l7_ctx, r.type, r.body);
			break;
		}
		if (ret < 0)
			break;
	}
	if (ret < 0)
		ep->stats.rx_malformed++;
	ep->stats.rx_packets += delivered;
	ep->delivered += delivered;
}

void tunnel_receive_body(struct index_table *ix, uint8_t *body, size_t len, uint64_t now_ms,
			 struct tunnel_rx *rx)
{
	struct cursor c = cursor_make(body, len);
	struct body_msg m;
	int ret;

	memset(rx, 0, sizeof(*rx));
	while ((ret = body_next(&c, &m)) == 1) {
		struct tunnel_endpoint *ep;
		struct peer *p;
		struct span pt;
		uint8_t *frame;
		unsigned before;
		int err;

		if (m.type != MSG_DATA) {
			rx->malformed = true;
			return;
		}
		p = index_lookup(ix, m.hdr.receiver);
		if (!p) {
			rx->unknown++;
			continue;
		}
		ep = peer_owner(p);
		frame = body + (m.whole.p - body);
		err = peer_open(p, &m.hdr, frame, &pt, now_ms);
		switch (err) {
		case 0:
			rx->opened++;
			rx->ep = ep;
			ep->stats.rx_frames++;
			before = ep->delivered;
			deliver_records(ep, frame, pt);
			if (ep->delivered != before)
				ep->last_rx_ms = now_ms;
			continue;
		case -ENOENT:
			rx->unknown++;
			ep->stats.rx_unknown++;
			continue;
		case -EALREADY:
			ep->stats.rx_replayed++;
			break;
		case -ESTALE:
			ep->stats.rx_stale++;
			break;
		default:
			ep->stats.rx_bad_auth++;
			break;
		}
		rx->failed++;
	}
	if (ret < 0)
		rx->malformed = true;
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Linux TUN devices (docs/TUN.md): open /dev/net/tun in layer-3 mode without packet
 * information, configure the device over rtnetlink (MTU, addresses, up, routes), and move
 * packets between the device and a libuv loop.
 *
 * Ownership: struct tun is embedded in (or allocated by) its owner. After a successful
 * tun_open() the owner must call tun_close() and may free the memory holding the struct tun
 * only in the close callback, because the embedded uv_poll_t lives until then. A failed
 * tun_open() leaves nothing behind (no fd, no device, no handle) and needs no tun_close().
 *
 * A TUN is a lossy link: tun_write() never blocks and never queues. When the kernel queue
 * is full the packet is dropped and counted (tun_stats.tx_dropped_full), like a full NIC
 * ring; TCP above it recovers.
 */
#ifndef HTTUN_TUN_TUN_H
#define HTTUN_TUN_TUN_H

#include "core/cidr.h"
#include "core/limits.h"
#include "core/vnet.h"

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/*
 * With offload, every packet read or written starts with a virtio_net_hdr (linux/
 * virtio_net.h: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset) whose four
 * 16-bit fields are in network byte order, like everything httun carries; tun converts to
 * and from the kernel's little-endian form (docs/TUN.md "Offloads").
 */
#define TUN_VNET_HDR_BYTES VNET_HDR_BYTES

struct tun_config {
	/* Device name or a pattern with %d; NULL means TUN_DEFAULT_NAME ("httun%d"). */
	const char *name;
	/* 0: TUN_DEFAULT_MTU with offload, TUN_DEFAULT_MTU_NO_OFFLOAD without. */
	unsigned int mtu;
	/* Addresses assigned to the device (at most TUN_MAX_ADDRESSES). */
	const struct cidr *addrs;
	size_t n_addrs;
	/* Routes via the device, main table (at most TUN_MAX_ROUTES); host bits must be 0. */
	const struct cidr *routes;
	size_t n_routes;
	/*
	 * IFF_VNET_HDR with checksum and TSO offloads: every packet read or written is
	 * preceded by a TUN_VNET_HDR_BYTES virtio_net_hdr, and reads may return TCP
	 * segments up to 64 KiB (docs/TUN.md "Offloads").
	 */
	bool offload;
};

struct tun_stats {
	uint64_t rx_packets; /* read from the device and handed to on_packet */
	uint64_t rx_bytes;
	uint64_t rx_dropped_invalid; /* not IPv4/IPv6, too short, bad length field */
	uint64_t rx_errors; /* read(2) failed other than EAGAIN */
	uint64_t tx_packets; /* written into the device */
	uint64_t tx_bytes;
	uint64_t tx_dropped_invalid; /* refused by tun_write before the kernel saw them */
	uint64_t tx_dropped_full; /* kernel queue full (EAGAIN): the lossy-link drop */
	uint64_t tx_errors; /* any other write error, kernel refused the packet */
};

struct tun;

/*
 * Reading callbacks. get_buf hands out a buffer of at least tun_read_bytes(t) bytes and
 * returns its size; returning 0 means "no room" and pauses reading (tun_read_start resumes
 * it), which is the backpressure path. on_packet gets back that same buffer with the packet
 * in its first len bytes (with offload: virtio_net_hdr first); the buffer belongs to the
 * caller again. Only valid packets reach on_packet. on_packet returns true to go on
 * reading, false to end this round after this packet: the device stays watched, so what
 * it still holds is read when the loop reports it readable again.
 */
typedef size_t (*tun_get_buf_fn)(void *ctx, uint8_t **buf);
typedef bool (*tun_packet_fn)(void *ctx, uint8_t *pkt, size_t len);
typedef void (*tun_close_fn)(struct tun *t);

struct tun {
	uv_poll_t poll; /* data unused: the struct tun is found with container_of */
	int fd;
	int ifindex;
	char name[IFNAMSIZ];
	unsigned int mtu;
	bool offload;
	bool reading;
	bool closing;

	tun_get_buf_fn get_buf;
	tun_packet_fn on_packet;
	void *ctx;
	tun_close_fn close_cb;

	/* What tun_open added, so tun_close can take exactly that back out. */
	struct cidr addrs[TUN_MAX_ADDRESSES];
	size_t n_addrs;
	struct cidr routes[TUN_MAX_ROUTES];
	size_t n_routes;

	struct tun_stats stats;
};

/*
 * Create and configure the device. On failure returns a negative errno and writes a line
 * naming the device and the address or route to err (at most err_len bytes, NUL-ended),
 * for example "httun0: adding address 198.18.1.1/24: File exists". Nothing is printed.
 */
int tun_open(struct tun *t, uv_loop_t *loop, const struct tun_config *cfg, char *err,
	     size_t err_len);

/* Start (or resume after get_buf returned 0) delivering packets. Returns 0 or -errno. */
int tun_read_start(struct tun *t, tun_get_buf_fn get_buf, tun_packet_fn on_packet, void *ctx);
/* Pause reading: the kernel queues, then drops, what arrives meanwhile. */
void tun_read_stop(struct tun *t);
/*
 * Read what the device holds now, as the readable callback would (at most max_packets,
 * and at most TUN_READ_BUDGET_PACKETS; nothing when reading is stopped), without waiting
 * for the loop to report the device readable. For the packets the kernel answers at once
 * (a ping to a local address, an ACK) while tun_write() delivers: reading them in the same
 * loop turn lets them leave with the answer to the request that brought their cause. A
 * caller that knows how many to expect passes that, and is spared the read that would
 * find the device empty; what it leaves is read when the loop reports the device readable.
 */
void tun_read_pending(struct tun *t, unsigned max_packets);

/* Smallest buffer get_buf may hand out: MTU, or a whole GSO packet with offload. */
size_t tun_read_bytes(const struct tun *t);

/*
 * Write one packet (with offload: virtio_net_hdr first) without blocking. Returns 0,
 * -EINVAL for a packet that tun_packet_valid() (with offload: vnet_check()) refuses,
 * counted and logged rate-limited with the reason, -EAGAIN when the kernel queue is full
 * (the packet is dropped and counted), or another negative errno from write(2). With
 * offload the header's DATA_VALID flag is cleared: the kernel checks the checksum itself.
 */
int tun_write(struct tun *t, const uint8_t *pkt, size_t len);

/*
 * Remove the routes and addresses tun_open added (best effort: the device and everything
 * on it goes away with the fd anyway), stop reading, close the handle and then the fd, then
 * call close_cb (may be NULL) from the loop. The owner may free t in close_cb.
 */
void tun_close(struct tun *t, tun_close_fn close_cb);

/*
 * Does pkt[0..len) look like an IPv4 or IPv6 packet: version nibble, minimal header
 * length, and a length field that fits in len. Exposed for tests and for the peer side.
 */
bool tun_packet_valid(const uint8_t *pkt, size_t len);

#endif

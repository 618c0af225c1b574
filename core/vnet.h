/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Offload metadata: the virtio_net_hdr that travels in front of a packet in an IP_GSO
 * record (docs/PROTOCOL.md section 5) and that a TUN device with offloads takes and gives
 * (docs/TUN.md "Offloads"). The header comes from the peer and tells the receiving kernel
 * how to cut the packet into segments and where to put a checksum, so vnet_check() holds
 * it to what a Linux sender produces before the kernel sees it. Pure: no I/O, no
 * allocation, nothing kept between calls.
 *
 * Layout, Linux's struct virtio_net_hdr with the 16-bit fields in network order:
 * flags (1), gso_type (1), hdr_len (2), gso_size (2), csum_start (2), csum_offset (2).
 */
#ifndef HTTUN_CORE_VNET_H
#define HTTUN_CORE_VNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VNET_HDR_BYTES 10

/* The values of linux/virtio_net.h (tun/tun.c asserts that they agree). */
#define VNET_F_NEEDS_CSUM 0x01 /* checksum still to be completed: csum_start/csum_offset */
#define VNET_F_DATA_VALID 0x02 /* sender's kernel verified the checksum */
#define VNET_GSO_NONE 0x00
#define VNET_GSO_TCPV4 0x01
#define VNET_GSO_UDP 0x03
#define VNET_GSO_TCPV6 0x04
#define VNET_GSO_UDP_L4 0x05 /* Linux 6.2+ headers */
#define VNET_GSO_ECN 0x80 /* TCP GSO whose first segment has CWR set */

struct vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len; /* a hint: the kernel finds the headers itself */
	uint16_t gso_size; /* payload bytes per segment */
	uint16_t csum_start; /* from the start of the IP packet */
	uint16_t csum_offset; /* from csum_start */
};

enum vnet_verdict {
	VNET_OK = 0,
	VNET_SHORT, /* fewer than VNET_HDR_BYTES */
	VNET_BAD_IP, /* no well-formed IPv4 or IPv6 packet behind the header (ip_parse) */
	VNET_BAD_FLAGS, /* a flag other than NEEDS_CSUM and DATA_VALID */
	VNET_BAD_GSO_TYPE, /* UDP, UDP_L4 or unknown; ECN without TCP GSO */
	VNET_BAD_CSUM, /* NEEDS_CSUM: not the TCP or UDP checksum field; GSO without it */
	VNET_BAD_TRANSPORT, /* NEEDS_CSUM: IPv4 fragment, truncated TCP or UDP header */
	VNET_GSO_MISMATCH, /* GSO type not the packet's IP version with TCP right after */
	VNET_BAD_GSO_SIZE, /* below VNET_MIN_GSO_BYTES, or the payload fits one segment */
	VNET_BAD_HDR_LEN, /* hdr_len beyond the packet */
};

/* Decode p[0..VNET_HDR_BYTES); false when len is shorter. */
bool vnet_hdr_read(const uint8_t *p, size_t len, struct vnet_hdr *h);
/* Encode into p[0..VNET_HDR_BYTES). */
void vnet_hdr_write(uint8_t *p, const struct vnet_hdr *h);

/*
 * May p[0..len), a virtio_net_hdr followed by an IP packet, be handed to the kernel? The
 * rules (docs/TUN.md "Offloads"):
 *   - the packet passes ip_parse(); only NEEDS_CSUM and DATA_VALID among the flags;
 *   - NEEDS_CSUM: the packet is TCP or UDP right after the IP header (IPv4, not a
 *     fragment; IPv6 without extension headers), its header is whole, csum_start is the
 *     transport header's offset and csum_offset that protocol's checksum field (16, 6);
 *   - GSO: TCPV4 or TCPV6 (ECN allowed with them) on a TCP packet of that IP version,
 *     with NEEDS_CSUM, and VNET_MIN_GSO_BYTES <= gso_size < TCP payload bytes;
 *   - hdr_len at most the IP packet's length.
 * DATA_VALID passes, but the peer's word on a checksum is never taken: the caller clears
 * the flag before the kernel sees it (tun_write). Returns VNET_OK or why not.
 */
enum vnet_verdict vnet_check(const uint8_t *p, size_t len);
/* A few words for a log line: "GSO type does not match the packet". */
const char *vnet_verdict_str(enum vnet_verdict v);

/*
 * For a header the local kernel produced (a TUN read): a GSO packet whose payload fits in
 * one segment becomes a plain checksum-offload packet, which vnet_check() accepts, rather
 * than a GSO packet a receiver refuses. A guest's virtio driver may send such packets and
 * the kernel forwards them unchanged. Anything else, malformed bytes included, is left.
 */
void vnet_one_segment_fix(uint8_t *p, size_t len);

#endif

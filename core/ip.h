/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The IP header of a packet that crosses the tunnel, as far as httun looks at it: version,
 * lengths and the transport protocol (docs/TUN.md "Writing, and drop accounting"). The
 * bytes may come from the peer; nothing is trusted before ip_parse() accepted it. Pure:
 * no I/O, no allocation.
 */
#ifndef HTTUN_CORE_IP_H
#define HTTUN_CORE_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ip_info {
	uint8_t version; /* 4 or 6 */
	/* IPv4's protocol, or IPv6's first next header (an extension header's number there). */
	uint8_t proto;
	bool fragment; /* IPv4 with more-fragments set or a fragment offset */
	size_t hdr_bytes; /* IPv4: IHL * 4 (20..60); IPv6: 40, the fixed header */
	size_t len; /* the length the header gives, at most the bytes present */
};

/*
 * Parse pkt[0..len): version nibble 4 or 6; IPv4 at least 20 bytes with IHL >= 5, the
 * header within the packet and a total length between header length and len; IPv6 at
 * least 40 bytes with a nonzero payload length that fits (no jumbograms). Bytes after the
 * IP length are allowed (the kernel trims them). Returns 0 and fills *ip, or -EINVAL.
 */
int ip_parse(const uint8_t *pkt, size_t len, struct ip_info *ip);

#endif

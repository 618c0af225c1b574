/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/ip.h"
#include "core/cursor.h"

#include <errno.h>

#define IPV4_MIN_HDR_BYTES 20
#define IPV6_HDR_BYTES 40
#define IPV4_FRAG_MASK 0x3fff /* more-fragments flag and fragment offset */

int ip_parse(const uint8_t *pkt, size_t len, struct ip_info *ip)
{
	if (len < 1)
		return -EINVAL;
	ip->version = pkt[0] >> 4;
	switch (ip->version) {
	case 4:
		if (len < IPV4_MIN_HDR_BYTES)
			return -EINVAL;
		ip->hdr_bytes = (size_t)(pkt[0] & 0x0f) * 4;
		ip->len = load_be16(pkt + 2);
		ip->proto = pkt[9];
		ip->fragment = (load_be16(pkt + 6) & IPV4_FRAG_MASK) != 0;
		if (ip->hdr_bytes < IPV4_MIN_HDR_BYTES || ip->len < ip->hdr_bytes || ip->len > len)
			return -EINVAL;
		return 0;
	case 6:
		if (len < IPV6_HDR_BYTES)
			return -EINVAL;
		ip->hdr_bytes = IPV6_HDR_BYTES;
		ip->len = IPV6_HDR_BYTES + (size_t)load_be16(pkt + 4);
		ip->proto = pkt[6];
		ip->fragment = false;
		/* Payload length 0 would be a jumbogram (RFC 2675): not on this link. */
		if (ip->len == IPV6_HDR_BYTES || ip->len > len)
			return -EINVAL;
		return 0;
	default:
		return -EINVAL;
	}
}

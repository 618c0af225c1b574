/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/vnet.h"
#include "core/cursor.h"
#include "core/ip.h"
#include "core/limits.h"

#include <netinet/in.h>

#define TCP_MIN_HDR_BYTES 20
#define TCP_CSUM_OFFSET 16
#define UDP_HDR_BYTES 8
#define UDP_CSUM_OFFSET 6

bool vnet_hdr_read(const uint8_t *p, size_t len, struct vnet_hdr *h)
{
	struct cursor c = cursor_make(p, len);

	return cur_u8(&c, &h->flags) && cur_u8(&c, &h->gso_type) && cur_u16(&c, &h->hdr_len) &&
	       cur_u16(&c, &h->gso_size) && cur_u16(&c, &h->csum_start) &&
	       cur_u16(&c, &h->csum_offset);
}

void vnet_hdr_write(uint8_t *p, const struct vnet_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	store_be16(p + 2, h->hdr_len);
	store_be16(p + 4, h->gso_size);
	store_be16(p + 6, h->csum_start);
	store_be16(p + 8, h->csum_offset);
}

/*
 * The transport header right after the IP header, whole: its length (TCP's data offset,
 * UDP's 8 bytes), or 0 when it is missing, truncated or not TCP or UDP. A fragment has
 * no transport header of its own, and an IPv6 extension header is not looked through:
 * Linux puts no partial checksum or GSO on either when it sends TCP.
 */
static size_t transport_hdr_bytes(const uint8_t *pkt, const struct ip_info *ip)
{
	size_t room = ip->len - ip->hdr_bytes, n;

	if (ip->fragment)
		return 0;
	switch (ip->proto) {
	case IPPROTO_TCP:
		if (room < TCP_MIN_HDR_BYTES)
			return 0;
		n = (size_t)(pkt[ip->hdr_bytes + 12] >> 4) * 4;
		return n >= TCP_MIN_HDR_BYTES && n <= room ? n : 0;
	case IPPROTO_UDP:
		return room >= UDP_HDR_BYTES ? UDP_HDR_BYTES : 0;
	default:
		return 0;
	}
}

static bool gso_tcp(uint8_t gso_type, uint8_t version)
{
	switch (gso_type & ~VNET_GSO_ECN) {
	case VNET_GSO_TCPV4:
		return version == 4;
	case VNET_GSO_TCPV6:
		return version == 6;
	default:
		return false;
	}
}

enum vnet_verdict vnet_check(const uint8_t *p, size_t len)
{
	const uint8_t *pkt = p + VNET_HDR_BYTES;
	struct vnet_hdr h;
	struct ip_info ip;
	size_t th;

	if (!vnet_hdr_read(p, len, &h))
		return VNET_SHORT;
	if (ip_parse(pkt, len - VNET_HDR_BYTES, &ip) < 0)
		return VNET_BAD_IP;
	if (h.flags & ~(VNET_F_NEEDS_CSUM | VNET_F_DATA_VALID))
		return VNET_BAD_FLAGS;
	switch (h.gso_type & ~VNET_GSO_ECN) {
	case VNET_GSO_NONE:
		/* ECN tells the kernel to clear CWR after the first segment: GSO only. */
		if (h.gso_type & VNET_GSO_ECN)
			return VNET_BAD_GSO_TYPE;
		break;
	case VNET_GSO_TCPV4:
	case VNET_GSO_TCPV6:
		break;
	default:
		/* UDP fragmentation and UDP GSO: httun's TUN offers neither (docs/TUN.md). */
		return VNET_BAD_GSO_TYPE;
	}
	if (h.hdr_len > ip.len)
		return VNET_BAD_HDR_LEN;
	if (!(h.flags & VNET_F_NEEDS_CSUM))
		return h.gso_type == VNET_GSO_NONE ? VNET_OK : VNET_BAD_CSUM;

	/*
	 * The kernel writes the checksum where the header says and, for GSO, recomputes it per
	 * segment there: only the transport header's own checksum field is a place for it.
	 */
	th = transport_hdr_bytes(pkt, &ip);
	if (th == 0)
		return VNET_BAD_TRANSPORT;
	if (h.csum_start != ip.hdr_bytes ||
	    h.csum_offset != (ip.proto == IPPROTO_TCP ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET))
		return VNET_BAD_CSUM;
	if (h.gso_type == VNET_GSO_NONE)
		return VNET_OK;
	if (!gso_tcp(h.gso_type, ip.version) || ip.proto != IPPROTO_TCP)
		return VNET_GSO_MISMATCH;
	/*
	 * The segment count is what a peer buys with one record: a floor on gso_size keeps it
	 * near what plain packets of the same bytes would cost. A payload that fits in one
	 * segment needs no GSO; a sender sends it as a plain one (vnet_one_segment_fix).
	 */
	if (h.gso_size < VNET_MIN_GSO_BYTES || h.gso_size >= ip.len - ip.hdr_bytes - th)
		return VNET_BAD_GSO_SIZE;
	return VNET_OK;
}

void vnet_one_segment_fix(uint8_t *p, size_t len)
{
	const uint8_t *pkt = p + VNET_HDR_BYTES;
	struct vnet_hdr h;
	struct ip_info ip;
	size_t th;

	if (!vnet_hdr_read(p, len, &h) || ip_parse(pkt, len - VNET_HDR_BYTES, &ip) < 0)
		return;
	if (!gso_tcp(h.gso_type, ip.version) || ip.proto != IPPROTO_TCP)
		return;
	th = transport_hdr_bytes(pkt, &ip);
	if (th == 0 || h.gso_size < ip.len - ip.hdr_bytes - th)
		return;
	h.gso_type = VNET_GSO_NONE;
	h.gso_size = 0;
	vnet_hdr_write(p, &h);
}

const char *vnet_verdict_str(enum vnet_verdict v)
{
	switch (v) {
	case VNET_OK:
		return "valid";
	case VNET_SHORT:
		return "shorter than its offload header";
	case VNET_BAD_IP:
		return "not a well-formed IPv4 or IPv6 packet";
	case VNET_BAD_FLAGS:
		return "unknown offload flags";
	case VNET_BAD_GSO_TYPE:
		return "GSO type other than TCP";
	case VNET_BAD_CSUM:
		return "checksum offload not at the TCP or UDP checksum";
	case VNET_BAD_TRANSPORT:
		return "checksum offload without a whole TCP or UDP header";
	case VNET_GSO_MISMATCH:
		return "GSO type does not match the packet";
	case VNET_BAD_GSO_SIZE:
		return "GSO segment size below the minimum or not below the payload";
	case VNET_BAD_HDR_LEN:
		return "offload header length beyond the packet";
	}
	return "invalid";
}

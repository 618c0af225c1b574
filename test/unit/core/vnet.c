/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/vnet.c: the offload rules of docs/TUN.md "Offloads", one table row per rule and
 * its edge +-1 (gso_size 535/536, csum_start off by one, GSO type against the packet, an
 * IPv4 header with options, a truncated TCP header, an IPv6 extension header), on golden
 * packets built below; every truncation of a valid packet; the one-segment fix a sender
 * applies to what its kernel hands over.
 */
#include "core/cursor.h"
#include "core/limits.h"
#include "core/vnet.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define PAYLOAD 1000 /* TCP payload bytes of every TCP packet below */

enum kind {
	TCP4, /* IPv4 (20) + TCP (20) + 1000 */
	TCP4_OPT, /* IPv4 with 4 bytes of options (IHL 6) + TCP (20) + 1000 */
	TCP4_TCPOPT, /* IPv4 (20) + TCP with 12 bytes of options (data offset 8) + 1000 */
	TCP4_FRAG, /* TCP4 with more-fragments set */
	TCP4_SHORT, /* IPv4 (20) + 19 bytes of a TCP header: total length says so */
	TCP4_DOFF, /* TCP4 whose data offset (60) runs past the IP length (40) */
	UDP4, /* IPv4 (20) + UDP (8) + 100 */
	ICMP4, /* IPv4 (20) + ICMP echo (8) */
	TCP6, /* IPv6 (40) + TCP (20) + 1000 */
	UDP6, /* IPv6 (40) + UDP (8) + 100 */
	TCP6_HBH, /* IPv6 (40) + hop-by-hop options (8) + TCP (20) + 1000 */
};

struct pkt {
	uint8_t b[VNET_HDR_BYTES + 1200];
	size_t len; /* header and packet */
};

static size_t put_ip4(uint8_t *p, uint8_t proto, size_t optlen, size_t l4len)
{
	size_t hl = 20 + optlen;

	memset(p, 0, hl);
	p[0] = (uint8_t)(0x40 | hl / 4);
	store_be16(p + 2, (uint16_t)(hl + l4len));
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, (const uint8_t[]){ 198, 18, 1, 2, 198, 18, 1, 1 }, 8);
	memset(p + 20, 1, optlen); /* NOP options */
	return hl;
}

static size_t put_ip6(uint8_t *p, uint8_t next, size_t l4len)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	store_be16(p + 4, (uint16_t)l4len);
	p[6] = next;
	p[7] = 64;
	p[8] = 0xfd;
	p[23] = 2;
	p[24] = 0xfd;
	p[39] = 1;
	return 40;
}

static size_t put_tcp(uint8_t *p, size_t hdr_bytes, size_t payload)
{
	memset(p, 0, hdr_bytes + payload);
	store_be16(p, 40000);
	store_be16(p + 2, 80);
	p[12] = (uint8_t)(hdr_bytes / 4 << 4);
	p[13] = 0x18; /* PSH ACK */
	memset(p + hdr_bytes, 'x', payload);
	return hdr_bytes + payload;
}

static size_t put_udp(uint8_t *p, size_t payload)
{
	memset(p, 0, 8 + payload);
	store_be16(p, 40000);
	store_be16(p + 2, 53);
	store_be16(p + 4, (uint16_t)(8 + payload));
	return 8 + payload;
}

static struct pkt make(enum kind k)
{
	struct pkt x;
	uint8_t *ip = x.b + VNET_HDR_BYTES;
	size_t n = 0;

	memset(&x, 0, sizeof(x));
	switch (k) {
	case TCP4:
	case TCP4_FRAG:
		n = put_ip4(ip, IPPROTO_TCP, 0, 20 + PAYLOAD);
		n += put_tcp(ip + n, 20, PAYLOAD);
		if (k == TCP4_FRAG)
			ip[6] |= 0x20;
		break;
	case TCP4_OPT:
		n = put_ip4(ip, IPPROTO_TCP, 4, 20 + PAYLOAD);
		n += put_tcp(ip + n, 20, PAYLOAD);
		break;
	case TCP4_TCPOPT:
		n = put_ip4(ip, IPPROTO_TCP, 0, 32 + PAYLOAD);
		n += put_tcp(ip + n, 32, PAYLOAD);
		break;
	case TCP4_SHORT:
		n = put_ip4(ip, IPPROTO_TCP, 0, 19);
		n += put_tcp(ip + n, 20, 0) - 1;
		break;
	case TCP4_DOFF:
		n = put_ip4(ip, IPPROTO_TCP, 0, 20);
		n += put_tcp(ip + n, 20, 0);
		ip[32] = 15 << 4;
		break;
	case UDP4:
		n = put_ip4(ip, IPPROTO_UDP, 0, 108);
		n += put_udp(ip + n, 100);
		break;
	case ICMP4:
		n = put_ip4(ip, IPPROTO_ICMP, 0, 8);
		ip[n] = 8; /* echo request */
		n += 8;
		break;
	case TCP6:
		n = put_ip6(ip, IPPROTO_TCP, 20 + PAYLOAD);
		n += put_tcp(ip + n, 20, PAYLOAD);
		break;
	case UDP6:
		n = put_ip6(ip, IPPROTO_UDP, 108);
		n += put_udp(ip + n, 100);
		break;
	case TCP6_HBH:
		n = put_ip6(ip, IPPROTO_HOPOPTS, 8 + 20 + PAYLOAD);
		memset(ip + n, 0, 8);
		ip[n] = IPPROTO_TCP; /* next header; length 0: 8 bytes; PadN */
		ip[n + 2] = 1;
		ip[n + 3] = 4;
		n += 8;
		n += put_tcp(ip + n, 20, PAYLOAD);
		break;
	}
	x.len = VNET_HDR_BYTES + n;
	return x;
}

static void put_hdr(uint8_t *h, uint8_t flags, uint8_t gso_type, uint16_t hdr_len,
		    uint16_t gso_size, uint16_t csum_start, uint16_t csum_offset)
{
	vnet_hdr_write(h, &(struct vnet_hdr){ flags, gso_type, hdr_len, gso_size, csum_start,
					      csum_offset });
}

#define NC VNET_F_NEEDS_CSUM
#define DV VNET_F_DATA_VALID
#define G4 VNET_GSO_TCPV4
#define G6 VNET_GSO_TCPV6
#define ECN VNET_GSO_ECN
#define MIN VNET_MIN_GSO_BYTES

struct row {
	int line;
	enum kind kind;
	uint8_t flags, gso_type;
	uint16_t hdr_len, gso_size, csum_start, csum_offset;
	enum vnet_verdict want;
};

#define R(...)                                                                                     \
	{                                                                                          \
		__LINE__, __VA_ARGS__                                                              \
	}

static const struct row rows[] = {
	/* No offload: any IP packet; the peer's DATA_VALID passes (tun_write clears it). */
	R(TCP4, 0, 0, 0, 0, 0, 0, VNET_OK),
	R(ICMP4, 0, 0, 0, 0, 0, 0, VNET_OK),
	R(TCP6_HBH, 0, 0, 0, 0, 0, 0, VNET_OK),
	R(TCP4_FRAG, 0, 0, 0, 0, 0, 0, VNET_OK),
	R(TCP4, DV, 0, 0, 0, 0, 0, VNET_OK),
	R(TCP4, 0x04, 0, 0, 0, 0, 0, VNET_BAD_FLAGS),
	R(TCP4, 0x80 | NC, 0, 0, 0, 20, 16, VNET_BAD_FLAGS),
	R(TCP4, 0, ECN, 0, 0, 0, 0, VNET_BAD_GSO_TYPE),

	/* Checksum offload: the transport header's checksum field, nowhere else. */
	R(TCP4, NC, 0, 0, 0, 20, 16, VNET_OK),
	R(TCP4, NC | DV, 0, 0, 0, 20, 16, VNET_OK),
	R(TCP4, NC, 0, 0, 0, 19, 16, VNET_BAD_CSUM),
	R(TCP4, NC, 0, 0, 0, 21, 16, VNET_BAD_CSUM),
	R(TCP4, NC, 0, 0, 0, 20, 15, VNET_BAD_CSUM),
	R(TCP4, NC, 0, 0, 0, 20, 17, VNET_BAD_CSUM),
	R(TCP4, NC, 0, 0, 0, 20, 6, VNET_BAD_CSUM),
	R(TCP4, NC, 0, 0, 0, 0xffff, 0xffff, VNET_BAD_CSUM),
	R(UDP4, NC, 0, 0, 0, 20, 6, VNET_OK),
	R(UDP4, NC, 0, 0, 0, 20, 5, VNET_BAD_CSUM),
	R(UDP4, NC, 0, 0, 0, 20, 7, VNET_BAD_CSUM),
	R(UDP4, NC, 0, 0, 0, 20, 16, VNET_BAD_CSUM),
	R(TCP4_OPT, NC, 0, 0, 0, 24, 16, VNET_OK),
	R(TCP4_OPT, NC, 0, 0, 0, 20, 16, VNET_BAD_CSUM),
	R(TCP4_OPT, NC, 0, 0, 0, 23, 16, VNET_BAD_CSUM),
	R(TCP4_OPT, NC, 0, 0, 0, 25, 16, VNET_BAD_CSUM),
	R(TCP4_TCPOPT, NC, 0, 0, 0, 20, 16, VNET_OK),
	R(TCP6, NC, 0, 0, 0, 40, 16, VNET_OK),
	R(TCP6, NC, 0, 0, 0, 39, 16, VNET_BAD_CSUM),
	R(TCP6, NC, 0, 0, 0, 41, 16, VNET_BAD_CSUM),
	R(UDP6, NC, 0, 0, 0, 40, 6, VNET_OK),
	R(UDP6, NC, 0, 0, 0, 40, 16, VNET_BAD_CSUM),
	/* No transport header of its own to carry the checksum. */
	R(ICMP4, NC, 0, 0, 0, 20, 2, VNET_BAD_TRANSPORT),
	R(TCP4_FRAG, NC, 0, 0, 0, 20, 16, VNET_BAD_TRANSPORT),
	R(TCP4_SHORT, NC, 0, 0, 0, 20, 16, VNET_BAD_TRANSPORT),
	R(TCP4_DOFF, NC, 0, 0, 0, 20, 16, VNET_BAD_TRANSPORT),
	R(TCP6_HBH, NC, 0, 0, 0, 48, 16, VNET_BAD_TRANSPORT),
	R(TCP6_HBH, NC, 0, 0, 0, 40, 16, VNET_BAD_TRANSPORT),

	/* GSO: TCP of the packet's IP version, checksum offload, a sane segment size. */
	R(TCP4, NC, G4, 40, MIN, 20, 16, VNET_OK),
	R(TCP4, NC, G4, 40, MIN - 1, 20, 16, VNET_BAD_GSO_SIZE),
	R(TCP4, NC, G4, 40, 1, 20, 16, VNET_BAD_GSO_SIZE),
	R(TCP4, NC, G4, 40, 0, 20, 16, VNET_BAD_GSO_SIZE),
	R(TCP4, NC, G4, 40, PAYLOAD - 1, 20, 16, VNET_OK),
	R(TCP4, NC, G4, 40, PAYLOAD, 20, 16, VNET_BAD_GSO_SIZE),
	R(TCP4, NC, G4, 40, 0xffff, 20, 16, VNET_BAD_GSO_SIZE),
	R(TCP4, NC, G4 | ECN, 40, MIN, 20, 16, VNET_OK),
	R(TCP4, NC | DV, G4, 40, MIN, 20, 16, VNET_OK),
	R(TCP4, 0, G4, 40, MIN, 20, 16, VNET_BAD_CSUM),
	R(TCP4, DV, G4, 40, MIN, 0, 0, VNET_BAD_CSUM),
	R(TCP4, NC, G4, 40, MIN, 21, 16, VNET_BAD_CSUM),
	R(TCP4, NC, G6, 40, MIN, 20, 16, VNET_GSO_MISMATCH),
	R(TCP4, NC, G6 | ECN, 40, MIN, 20, 16, VNET_GSO_MISMATCH),
	R(TCP4_OPT, NC, G4, 44, MIN, 24, 16, VNET_OK),
	R(TCP4_OPT, NC, G4, 44, MIN, 20, 16, VNET_BAD_CSUM),
	R(TCP4_TCPOPT, NC, G4, 52, PAYLOAD - 1, 20, 16, VNET_OK),
	R(TCP4_TCPOPT, NC, G4, 52, PAYLOAD, 20, 16, VNET_BAD_GSO_SIZE),
	R(TCP4_FRAG, NC, G4, 40, MIN, 20, 16, VNET_BAD_TRANSPORT),
	R(TCP6, NC, G6, 60, MIN, 40, 16, VNET_OK),
	R(TCP6, NC, G6, 60, MIN - 1, 40, 16, VNET_BAD_GSO_SIZE),
	R(TCP6, NC, G6, 60, PAYLOAD, 40, 16, VNET_BAD_GSO_SIZE),
	R(TCP6, NC, G4, 60, MIN, 40, 16, VNET_GSO_MISMATCH),
	R(TCP6_HBH, NC, G6, 68, MIN, 48, 16, VNET_BAD_TRANSPORT),
	/* UDP is never segmented for the peer: httun's TUN offers no UDP offloads. */
	R(UDP4, NC, G4, 28, MIN, 20, 6, VNET_GSO_MISMATCH),
	R(UDP4, NC, VNET_GSO_UDP, 28, 50, 20, 6, VNET_BAD_GSO_TYPE),
	R(UDP4, NC, VNET_GSO_UDP_L4, 28, 50, 20, 6, VNET_BAD_GSO_TYPE),
	R(UDP6, NC, VNET_GSO_UDP_L4, 48, 50, 40, 6, VNET_BAD_GSO_TYPE),
	R(TCP4, NC, 0x02, 40, MIN, 20, 16, VNET_BAD_GSO_TYPE),
	R(TCP4, NC, 0x7f, 40, MIN, 20, 16, VNET_BAD_GSO_TYPE),

	/* hdr_len is a hint, but not one beyond the packet (1040 bytes). */
	R(TCP4, NC, G4, 1040, MIN, 20, 16, VNET_OK),
	R(TCP4, NC, G4, 1041, MIN, 20, 16, VNET_BAD_HDR_LEN),
	R(TCP4, 0, 0, 1041, 0, 0, 0, VNET_BAD_HDR_LEN),
};

static void test_rules(void **state)
{
	unsigned ok = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct pkt x = make(r->kind);
		enum vnet_verdict got;

		put_hdr(x.b, r->flags, r->gso_type, r->hdr_len, r->gso_size, r->csum_start,
			r->csum_offset);
		got = vnet_check(x.b, x.len);
		if (got != r->want)
			fail_msg("line %d: got %d (%s), want %d (%s)", r->line, got,
				 vnet_verdict_str(got), r->want, vnet_verdict_str(r->want));
		ok += got == VNET_OK;
	}
	/* Not vacuous: the table holds accepted and refused packets of every kind. */
	assert_true(ok >= 10 && ok < sizeof(rows) / sizeof(rows[0]) - 30);
}

/* The example header of docs/PROTOCOL.md, decoded field by field. */
static void test_golden_header(void **state)
{
	static const uint8_t golden[VNET_HDR_BYTES] = { 0x01, 0x01, 0x00, 0x28, 0x05,
							0x78, 0x00, 0x14, 0x00, 0x10 };
	uint8_t out[VNET_HDR_BYTES];
	struct vnet_hdr h;

	(void)state;
	assert_true(vnet_hdr_read(golden, sizeof(golden), &h));
	assert_int_equal(h.flags, VNET_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, VNET_GSO_TCPV4);
	assert_int_equal(h.hdr_len, 40);
	assert_int_equal(h.gso_size, 1400);
	assert_int_equal(h.csum_start, 20);
	assert_int_equal(h.csum_offset, 16);
	for (size_t n = 0; n < sizeof(golden); n++)
		assert_false(vnet_hdr_read(golden, n, &h));
	memset(out, 0xee, sizeof(out));
	vnet_hdr_write(out, &h);
	assert_memory_equal(out, golden, sizeof(golden));

	/* Behind a 3000-byte TCP payload it is what Linux hands over for MSS 1400. */
	{
		uint8_t b[VNET_HDR_BYTES + 40 + 3000];
		size_t n = put_ip4(b + VNET_HDR_BYTES, IPPROTO_TCP, 0, 20 + 3000);

		n += put_tcp(b + VNET_HDR_BYTES + n, 20, 3000);
		memcpy(b, golden, sizeof(golden));
		assert_int_equal(vnet_check(b, VNET_HDR_BYTES + n), VNET_OK);
	}
}

/* Every cut of a valid GSO packet is refused: the IP length no longer fits. */
static void test_truncated(void **state)
{
	static const enum kind kinds[] = { TCP4, TCP6, UDP4 };

	(void)state;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct pkt x = make(kinds[k]);

		if (kinds[k] == TCP4)
			put_hdr(x.b, NC, G4, 40, MIN, 20, 16);
		else if (kinds[k] == TCP6)
			put_hdr(x.b, NC, G6, 60, MIN, 40, 16);
		else
			put_hdr(x.b, NC, 0, 0, 0, 20, 6);
		assert_int_equal(vnet_check(x.b, x.len), VNET_OK);
		/* Bytes after the IP length are tolerated: the kernel trims them. */
		assert_int_equal(vnet_check(x.b, x.len + 1), VNET_OK);
		for (size_t n = 0; n < x.len; n++)
			assert_int_equal(vnet_check(x.b, n),
					 n < VNET_HDR_BYTES ? VNET_SHORT : VNET_BAD_IP);
	}
}

/*
 * What the local kernel hands over: a GSO packet whose payload fits one segment becomes
 * a checksum-offload packet that a receiver accepts; anything else is left alone.
 */
static void test_one_segment_fix(void **state)
{
	struct pkt x, before;

	(void)state;
	x = make(TCP4);
	put_hdr(x.b, NC, G4 | ECN, 40, PAYLOAD, 20, 16);
	assert_int_equal(vnet_check(x.b, x.len), VNET_BAD_GSO_SIZE);
	vnet_one_segment_fix(x.b, x.len);
	assert_int_equal(x.b[1], VNET_GSO_NONE);
	assert_int_equal(load_be16(x.b + 4), 0);
	assert_int_equal(vnet_check(x.b, x.len), VNET_OK);

	x = make(TCP6);
	put_hdr(x.b, NC, G6, 60, 1448, 40, 16);
	vnet_one_segment_fix(x.b, x.len);
	assert_int_equal(vnet_check(x.b, x.len), VNET_OK);

	/* Two segments: GSO stays. */
	x = make(TCP4);
	put_hdr(x.b, NC, G4, 40, PAYLOAD - 1, 20, 16);
	before = x;
	vnet_one_segment_fix(x.b, x.len);
	assert_memory_equal(x.b, before.b, sizeof(x.b));
	/* Not TCP, no GSO, or a GSO type that is not the packet's: left for vnet_check. */
	x = make(UDP4);
	put_hdr(x.b, NC, G4, 28, 200, 20, 6);
	before = x;
	vnet_one_segment_fix(x.b, x.len);
	assert_memory_equal(x.b, before.b, sizeof(x.b));
	x = make(TCP4);
	put_hdr(x.b, NC, G6, 40, PAYLOAD, 20, 16);
	before = x;
	vnet_one_segment_fix(x.b, x.len);
	assert_memory_equal(x.b, before.b, sizeof(x.b));
	vnet_one_segment_fix(x.b, 5);
	assert_memory_equal(x.b, before.b, sizeof(x.b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_golden_header),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_one_segment_fix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

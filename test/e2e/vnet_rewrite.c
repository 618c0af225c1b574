/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Test-only LD_PRELOAD shim for test/e2e/ip_offload.sh: it turns a real httun endpoint
 * into a key holder that sends a crafted offload header. read(2) is wrapped; the first
 * packet read from a TUN device that is a TCP segment of at least two payload bytes from
 * or to port $VNET_REWRITE_PORT gets a virtio_net_hdr asking for TCPv4 GSO with
 * gso_size 1, otherwise right (checksum start and offset of the TCP header), so the
 * endpoint seals and sends it as an IP_GSO record like any other. Later packets,
 * retransmissions of that segment included, pass untouched. The header is in the
 * kernel's little-endian layout here: the endpoint converts it after read returns.
 * Nothing of this is in the httun binary.
 */
#include <dlfcn.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VNET_BYTES 10
#define GSO_SIZE 1

ssize_t read(int fd, void *buf, size_t count);

static void put_le16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static unsigned get_be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The TCP payload length of an IPv4 TCP segment to or from port, else 0. */
static size_t tcp_payload(const uint8_t *ip, size_t len, unsigned port, size_t *ihl, size_t *thl)
{
	if (len < 40 || ip[0] >> 4 != 4 || ip[9] != 6)
		return 0;
	*ihl = (size_t)(ip[0] & 15) * 4;
	if (*ihl < 20 || *ihl + 20 > len)
		return 0;
	*thl = (size_t)(ip[*ihl + 12] >> 4) * 4;
	if (get_be16(ip + *ihl) != port && get_be16(ip + *ihl + 2) != port)
		return 0;
	if (get_be16(ip + 2) > len || get_be16(ip + 2) < *ihl + *thl)
		return 0;
	return get_be16(ip + 2) - *ihl - *thl;
}

ssize_t read(int fd, void *buf, size_t count)
{
	static ssize_t (*real_read)(int, void *, size_t);
	static int done;
	uint8_t *p = buf;
	struct ifreq ifr;
	size_t ihl, thl, payload;
	const char *port;
	ssize_t n;

	if (!real_read)
		real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	n = real_read(fd, buf, count);
	if (done || n < VNET_BYTES + 40)
		return n;
	port = getenv("VNET_REWRITE_PORT");
	if (!port)
		return n;
	payload = tcp_payload(p + VNET_BYTES, (size_t)n - VNET_BYTES, (unsigned)atoi(port), &ihl,
			      &thl);
	if (payload < 2 || ioctl(fd, TUNGETIFF, &ifr) < 0)
		return n;
	done = 1;
	p[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	p[1] = VIRTIO_NET_HDR_GSO_TCPV4;
	put_le16(p + 2, (unsigned)(ihl + thl));
	put_le16(p + 4, GSO_SIZE);
	put_le16(p + 6, (unsigned)ihl);
	put_le16(p + 8, 16);
	fprintf(stderr, "vnet_rewrite: %s: gso_size %d on a TCP segment of %zu payload bytes\n",
		ifr.ifr_name, GSO_SIZE, payload);
	return n;
}

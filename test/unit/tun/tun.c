/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * tun/tun.c. The parsing and validation tests run anywhere; the device tests need root and
 * /dev/net/tun and run inside a fresh network namespace made with unshare(CLONE_NEWNET), so
 * nothing outside the test process ever sees the devices, addresses or routes.
 *
 *   [UDP socket] --198.18.9.9--> route 198.18.9.0/24 dev httunN --> tun fd (libuv reader)
 *   [tun_write crafted UDP 198.18.9.9 -> 198.18.1.1] --> socket bound on 198.18.1.1
 */
#include "tun/tun.h"
#include "core/cursor.h"
#include "core/vnet.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

/* ---- helpers ---- */

static struct cidr pfx(const char *s)
{
	const char *why = NULL;
	struct cidr p;

	assert_int_equal(cidr_parse(s, strlen(s), &p, &why), 0);
	return p;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += load_be16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* IPv4 + UDP with both checksums right. Returns the packet length. */
static size_t build_udp4(uint8_t *p, const uint8_t src[4], uint16_t sport, const uint8_t dst[4],
			 uint16_t dport, const void *payload, size_t plen)
{
	size_t ulen = 8 + plen, len = 20 + ulen;
	uint8_t pseudo[12];
	uint32_t sum;

	memset(p, 0, 28);
	p[0] = 0x45;
	store_be16(p + 2, (uint16_t)len);
	store_be16(p + 4, 0x1234);
	p[8] = 64;
	p[9] = IPPROTO_UDP;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	store_be16(p + 10, csum_fold(csum_add(0, p, 20)));
	store_be16(p + 20, sport);
	store_be16(p + 22, dport);
	store_be16(p + 24, (uint16_t)ulen);
	memcpy(p + 28, payload, plen);
	memcpy(pseudo, src, 4);
	memcpy(pseudo + 4, dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	store_be16(pseudo + 10, (uint16_t)ulen);
	sum = csum_fold(csum_add(csum_add(0, pseudo, 12), p + 20, ulen));
	store_be16(p + 26, sum ? (uint16_t)sum : 0xffff);
	return len;
}

/* IPv6 + UDP; the UDP checksum is mandatory over IPv6. */
static size_t build_udp6(uint8_t *p, const uint8_t src[16], uint16_t sport, const uint8_t dst[16],
			 uint16_t dport, const void *payload, size_t plen)
{
	size_t ulen = 8 + plen;
	uint8_t pseudo[40];
	uint32_t sum;

	memset(p, 0, 48);
	p[0] = 0x60;
	store_be16(p + 4, (uint16_t)ulen);
	p[6] = IPPROTO_UDP;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	store_be16(p + 40, sport);
	store_be16(p + 42, dport);
	store_be16(p + 44, (uint16_t)ulen);
	memcpy(p + 48, payload, plen);
	memset(pseudo, 0, sizeof(pseudo));
	memcpy(pseudo, src, 16);
	memcpy(pseudo + 16, dst, 16);
	store_be32(pseudo + 32, (uint32_t)ulen);
	pseudo[39] = IPPROTO_UDP;
	sum = csum_fold(csum_add(csum_add(0, pseudo, 40), p + 40, ulen));
	store_be16(p + 46, sum ? (uint16_t)sum : 0xffff);
	return 40 + ulen;
}

/* ---- no privileges needed ---- */

static void test_packet_valid(void **state)
{
	static const uint8_t src[4] = { 198, 18, 9, 9 }, dst[4] = { 198, 18, 1, 1 };
	static const uint8_t src6[16] = { 0xfd, 0, 0, 9, [15] = 9 };
	static const uint8_t dst6[16] = { 0xfd, 0, 0, 1, [15] = 1 };
	uint8_t p[128];
	size_t len;

	(void)state;
	len = build_udp4(p, src, 1, dst, 2, "abc", 3);
	assert_int_equal(len, 31);
	assert_true(tun_packet_valid(p, len));
	/* Trailing bytes beyond the IP length are tolerated (the kernel trims them). */
	assert_true(tun_packet_valid(p, len + 5));
	for (size_t n = 0; n < len; n++)
		assert_false(tun_packet_valid(p, n));
	p[0] = 0x44; /* IHL below 5 */
	assert_false(tun_packet_valid(p, len));
	p[0] = 0x4f; /* IHL 60 beyond the 31 bytes */
	assert_false(tun_packet_valid(p, len));
	p[0] = 0x45;
	store_be16(p + 2, 19); /* total length shorter than the header */
	assert_false(tun_packet_valid(p, len));
	store_be16(p + 2, (uint16_t)len);
	for (unsigned int v = 0; v < 16; v++) {
		p[0] = (uint8_t)(v << 4 | 5);
		assert_int_equal(tun_packet_valid(p, len), v == 4);
	}

	len = build_udp6(p, src6, 1, dst6, 2, "abcd", 4);
	assert_int_equal(len, 52);
	assert_true(tun_packet_valid(p, len));
	for (size_t n = 0; n < len; n++)
		assert_false(tun_packet_valid(p, n));
	store_be16(p + 4, 0); /* jumbogram marker */
	assert_false(tun_packet_valid(p, len));
	store_be16(p + 4, 12);
	for (unsigned int v = 0; v < 16; v++) {
		p[0] = (uint8_t)(v << 4);
		assert_int_equal(tun_packet_valid(p, len), v == 6);
	}
}

/* Everything config_check refuses is refused before /dev/net/tun is opened. */
static void test_open_bad_config(void **state)
{
	struct cidr addr6 = pfx("fd00:1::1/64"), route = pfx("198.18.9.9/24");
	struct cidr bogus = { .family = AF_UNIX, .prefix = 8 };
	struct cidr many[TUN_MAX_ADDRESSES + 1];
	uv_loop_t loop;
	struct tun t;
	char err[256];

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct tun_config cfg = { .name = "httun-too-long-name", .mtu = 1500 };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -ENAMETOOLONG);
	assert_string_equal(err, "tun: device name 'httun-too-long-name' longer than 15 bytes");

	cfg = (struct tun_config){ .name = "" };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tun: empty device name");

	cfg = (struct tun_config){ .name = "t0", .mtu = 67 };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t0: MTU 67 outside 68..65535");
	cfg.mtu = 65536;
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t0: MTU 65536 outside 68..65535");

	cfg = (struct tun_config){ .name = "t0", .mtu = 1279, .addrs = &addr6, .n_addrs = 1 };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t0: MTU 1279 is below IPv6's minimum of 1280");

	cfg = (struct tun_config){ .name = "t0", .routes = &route, .n_routes = 1 };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t0: route 198.18.9.9/24: host bits set or bad prefix length");

	cfg = (struct tun_config){ .name = "t0", .addrs = &bogus, .n_addrs = 1 };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EAFNOSUPPORT);
	assert_string_equal(err, "t0: address 1: not IPv4 or IPv6");

	for (size_t i = 0; i < TUN_MAX_ADDRESSES + 1; i++)
		many[i] = addr6;
	cfg = (struct tun_config){ .name = "t0", .addrs = many, .n_addrs = TUN_MAX_ADDRESSES + 1 };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -E2BIG);

	assert_int_equal(uv_loop_close(&loop), 0);
}

static void vnet_put(uint8_t *h, uint8_t flags, uint8_t gso_type, uint16_t hdr_len,
		     uint16_t gso_size, uint16_t csum_start, uint16_t csum_offset)
{
	vnet_hdr_write(h, &(struct vnet_hdr){ flags, gso_type, hdr_len, gso_size, csum_start,
					      csum_offset });
}

/* ---- root, in a private network namespace ---- */

static const uint8_t tun_ip4[4] = { 198, 18, 1, 1 };
static const uint8_t far_ip4[4] = { 198, 18, 9, 9 };
static const uint8_t tun_ip6[16] = { 0xfd, 0x00, 0, 1, [15] = 1 };
static const uint8_t far_ip6[16] = { 0xfd, 0x00, 0, 9, [15] = 9 };

/* connect() a UDP socket: 0 if the kernel has a route, else -errno. Source address out. */
static int route_probe(int family, const uint8_t *dst, uint8_t *src)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(9);
		memcpy(&sin->sin_addr, dst, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9);
		memcpy(&sin6->sin6_addr, dst, 16);
		sl = sizeof(*sin6);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		ret = -errno;
	} else if (src) {
		sl = sizeof(ss);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
		if (family == AF_INET)
			memcpy(src, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		else
			memcpy(src, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	}
	close(fd);
	return ret;
}

/* Addresses on ifname, as "ADDR/LEN" strings in s (one per line). */
static void addresses_of(const char *ifname, char *s, size_t len)
{
	struct ifaddrs *ifa, *i;

	s[0] = '\0';
	assert_int_equal(getifaddrs(&ifa), 0);
	for (i = ifa; i; i = i->ifa_next) {
		struct cidr p = { 0 };
		char one[CIDR_STR_BYTES];
		const uint8_t *m;
		size_t n;

		if (!i->ifa_addr || strcmp(i->ifa_name, ifname) != 0)
			continue;
		p.family = (uint8_t)i->ifa_addr->sa_family;
		if (p.family == AF_INET) {
			memcpy(p.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
			m = (const uint8_t *)&((struct sockaddr_in *)i->ifa_netmask)->sin_addr;
			n = 4;
		} else if (p.family == AF_INET6) {
			memcpy(p.addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
			m = (const uint8_t *)&((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr;
			n = 16;
		} else {
			continue;
		}
		for (size_t b = 0; b < n * 8; b++)
			p.prefix = (uint8_t)(p.prefix + ((m[b / 8] >> (7 - b % 8)) & 1));
		snprintf(s + strlen(s), len - strlen(s), "%s\n", cidr_format(&p, one, sizeof(one)));
	}
	freeifaddrs(ifa);
}

static int if_flags(const char *ifname, unsigned int *mtu)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	int flags = ifr.ifr_flags;
	assert_int_equal(ioctl(fd, SIOCGIFMTU, &ifr), 0);
	*mtu = (unsigned int)ifr.ifr_mtu;
	close(fd);
	return flags;
}

static int udp_socket(int family, const uint8_t *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (addr)
			memcpy(&sin->sin_addr, addr, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (addr)
			memcpy(&sin6->sin6_addr, addr, 16);
		sl = sizeof(*sin6);
	}
	if (addr)
		assert_int_equal(bind(fd, (struct sockaddr *)&ss, sl), 0);
	return fd;
}

static void udp_send(int fd, int family, const uint8_t *dst, uint16_t port, const char *msg)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, dst, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, dst, 16);
		sl = sizeof(*sin6);
	}
	assert_int_equal(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, sl),
			 (ssize_t)strlen(msg));
}

/* Reader state: collects UDP packets to port 5555, counts everything else. */
struct reader {
	struct tun *t;
	uint8_t buf[TUN_VNET_HDR_BYTES + TUN_MAX_GSO_PACKET_BYTES];
	size_t hdr; /* TUN_VNET_HDR_BYTES with offload */
	int get_buf_calls;
	int refuse_first; /* get_buf returns 0 this many times */
	int packets;
	int udp4, udp6, other;
	char last4[64], last6[64];
	uint16_t dport;
	int want4, want6;
	uv_timer_t resume, timeout;
	int resume_calls, timeout_calls;
	uv_check_t check; /* runs once per loop iteration, after the poll callbacks */
	int in_iteration, max_per_iteration;
	bool one_per_round; /* reader_packet ends every read round after its packet */
};

static void reader_check_cb(uv_check_t *h)
{
	struct reader *r = h->data;

	if (r->in_iteration > r->max_per_iteration)
		r->max_per_iteration = r->in_iteration;
	r->in_iteration = 0;
}

static size_t reader_get_buf(void *ctx, uint8_t **buf)
{
	struct reader *r = ctx;

	r->get_buf_calls++;
	if (r->refuse_first > 0) {
		r->refuse_first--;
		return 0;
	}
	*buf = r->buf;
	return sizeof(r->buf);
}

static void reader_done(struct reader *r)
{
	tun_read_stop(r->t);
	uv_timer_stop(&r->timeout);
	uv_check_stop(&r->check);
}

static bool reader_packet(void *ctx, uint8_t *pkt, size_t len)
{
	struct reader *r = ctx;
	const uint8_t *ip = pkt + r->hdr;
	size_t n = len - r->hdr;

	assert_ptr_equal(pkt, r->buf);
	assert_true(tun_packet_valid(ip, n));
	r->packets++;
	r->in_iteration++;
	if ((ip[0] >> 4) == 4 && ip[9] == IPPROTO_UDP && n >= 28 &&
	    memcmp(ip + 12, tun_ip4, 4) == 0 && memcmp(ip + 16, far_ip4, 4) == 0 &&
	    load_be16(ip + 22) == r->dport) {
		size_t plen = load_be16(ip + 24) - 8;

		assert_true(plen < sizeof(r->last4) && 28 + plen <= n);
		memcpy(r->last4, ip + 28, plen);
		r->last4[plen] = '\0';
		r->udp4++;
	} else if ((ip[0] >> 4) == 6 && ip[6] == IPPROTO_UDP && n >= 48 &&
		   memcmp(ip + 8, tun_ip6, 16) == 0 && memcmp(ip + 24, far_ip6, 16) == 0 &&
		   load_be16(ip + 42) == r->dport) {
		size_t plen = load_be16(ip + 44) - 8;

		assert_true(plen < sizeof(r->last6) && 48 + plen <= n);
		memcpy(r->last6, ip + 48, plen);
		r->last6[plen] = '\0';
		r->udp6++;
	} else {
		r->other++; /* MLD reports for the IPv6 address and the like */
	}
	if (r->udp4 >= r->want4 && r->udp6 >= r->want6)
		reader_done(r);
	return !r->one_per_round;
}

static void reader_resume_cb(uv_timer_t *h)
{
	struct reader *r = h->data;

	r->resume_calls++;
	assert_false(r->t->reading); /* get_buf returned 0: paused */
	assert_int_equal(tun_read_start(r->t, reader_get_buf, reader_packet, r), 0);
}

static void reader_timeout_cb(uv_timer_t *h)
{
	struct reader *r = h->data;

	r->timeout_calls++;
	tun_read_stop(r->t);
}

static int close_calls;

static void tun_closed(struct tun *t)
{
	assert_int_equal(t->fd, -1);
	close_calls++;
}

static void handle_closed_cb(uv_handle_t *h)
{
	(void)h;
}

static void test_device(void **state)
{
	struct cidr addrs[] = { pfx("198.18.1.1/24"), pfx("198.18.2.1/16"), pfx("fd00:1::1/64") };
	struct cidr routes[] = { pfx("198.18.9.0/24"), pfx("fd00:9::/64") };
	struct tun_config cfg = {
		.mtu = 1400, .addrs = addrs, .n_addrs = 3, .routes = routes, .n_routes = 2
	};
	static struct reader r;
	char err[256], list[1024], name[IFNAMSIZ];
	uint8_t src[16], pkt[256];
	unsigned int mtu;
	uv_loop_t loop;
	struct tun t;
	int s4, s6, rx4, rx6;
	ssize_t n;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	/* No route yet: the namespace is empty. */
	assert_int_equal(route_probe(AF_INET, far_ip4, NULL), -ENETUNREACH);

	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), 0);
	assert_int_equal(strncmp(t.name, "httun", 5), 0);
	snprintf(name, sizeof(name), "%s", t.name);
	assert_int_equal(t.mtu, 1400);
	assert_int_equal(tun_read_bytes(&t), 1400);
	assert_int_equal(fcntl(t.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fcntl(t.fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_true(if_flags(name, &mtu) & IFF_UP);
	assert_int_equal(mtu, 1400);
	/* Exactly our three addresses: no IPv6 link-local (addr_gen_mode none). */
	addresses_of(name, list, sizeof(list));
	assert_string_equal(list, "198.18.1.1/24\n198.18.2.1/16\nfd00:1::1/64\n");

	/* Routes: the kernel sends 198.18.9.9 and fd00:9::9 out of the TUN. */
	assert_int_equal(route_probe(AF_INET, far_ip4, src), 0);
	assert_memory_equal(src, tun_ip4, 4);
	assert_int_equal(route_probe(AF_INET6, far_ip6, src), 0);
	assert_memory_equal(src, tun_ip6, 16);

	/* Read: the first get_buf says "no room", which pauses until the timer resumes. */
	r = (struct reader){ .t = &t, .refuse_first = 1, .dport = 5555, .want4 = 1, .want6 = 1 };
	assert_int_equal(uv_timer_init(&loop, &r.resume), 0);
	assert_int_equal(uv_timer_init(&loop, &r.timeout), 0);
	r.resume.data = r.timeout.data = &r;
	s4 = udp_socket(AF_INET, NULL, 0);
	s6 = udp_socket(AF_INET6, NULL, 0);
	assert_int_equal(tun_read_start(&t, reader_get_buf, reader_packet, &r), 0);
	udp_send(s4, AF_INET, far_ip4, 5555, "hello over IPv4");
	udp_send(s6, AF_INET6, far_ip6, 5555, "hello over IPv6");
	assert_int_equal(uv_timer_start(&r.resume, reader_resume_cb, 50, 0), 0);
	assert_int_equal(uv_timer_start(&r.timeout, reader_timeout_cb, 3000, 0), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.timeout_calls, 0);
	assert_int_equal(r.resume_calls, 1);
	assert_int_equal(r.udp4, 1);
	assert_int_equal(r.udp6, 1);
	assert_string_equal(r.last4, "hello over IPv4");
	assert_string_equal(r.last6, "hello over IPv6");
	assert_int_equal(r.packets, 2 + r.other);
	assert_int_equal(t.stats.rx_packets, (uint64_t)r.packets);
	assert_int_equal(t.stats.rx_dropped_invalid, 0);
	/*
	 * Budget: 200 datagrams queued before reading starts arrive over several loop
	 * iterations, at most TUN_READ_BUDGET_PACKETS in each, none lost.
	 */
	r.want4 = 201;
	for (int i = 0; i < 200; i++)
		udp_send(s4, AF_INET, far_ip4, 5555, "burst");
	assert_int_equal(uv_check_init(&loop, &r.check), 0);
	r.check.data = &r;
	r.in_iteration = 0;
	assert_int_equal(uv_check_start(&r.check, reader_check_cb), 0);
	assert_int_equal(tun_read_start(&t, reader_get_buf, reader_packet, &r), 0);
	assert_int_equal(uv_timer_start(&r.timeout, reader_timeout_cb, 3000, 0), 0);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(r.timeout_calls, 0);
	assert_int_equal(r.udp4, 201);
	assert_string_equal(r.last4, "burst");
	reader_check_cb(&r.check); /* the last iteration's count */
	assert_int_equal(r.max_per_iteration, TUN_READ_BUDGET_PACKETS);
	/*
	 * tun_read_pending reads no more than it is asked for: of three queued datagrams,
	 * two, then the rest; nothing while reading is stopped; and one when on_packet says
	 * the round ends.
	 */
	{
		struct pollfd pfd = { t.fd, POLLIN, 0 };
		int before;

		r.want4 = 1 << 20; /* not done: reading stays on */
		r.udp4 = 0;
		for (int i = 0; i < 3; i++)
			udp_send(s4, AF_INET, far_ip4, 5555, "counted");
		assert_int_equal(poll(&pfd, 1, 2000), 1);
		tun_read_pending(&t, 2);
		assert_int_equal(r.udp4, 0); /* stopped: nothing read */
		assert_int_equal(tun_read_start(&t, reader_get_buf, reader_packet, &r), 0);
		before = r.packets;
		tun_read_pending(&t, 2);
		assert_int_equal(r.packets - before, 2);
		tun_read_pending(&t, 100);
		assert_int_equal(r.udp4, 3);
		for (int i = 0; i < 2; i++)
			udp_send(s4, AF_INET, far_ip4, 5555, "counted");
		assert_int_equal(poll(&pfd, 1, 2000), 1);
		r.one_per_round = true;
		before = r.packets;
		tun_read_pending(&t, 100);
		assert_int_equal(r.packets - before, 1);
		r.one_per_round = false;
		tun_read_pending(&t, 100);
		assert_int_equal(r.udp4, 5);
		tun_read_stop(&t);
	}
	close(s4);
	close(s6);

	/* Write: crafted datagrams from 198.18.9.9 / fd00:9::9 reach sockets on our addresses. */
	rx4 = udp_socket(AF_INET, tun_ip4, 6666);
	rx6 = udp_socket(AF_INET6, tun_ip6, 6666);
	size_t len = build_udp4(pkt, far_ip4, 7777, tun_ip4, 6666, "into the tun", 12);
	assert_int_equal(tun_write(&t, pkt, len), 0);
	len = build_udp6(pkt, far_ip6, 7777, tun_ip6, 6666, "into the tun v6", 15);
	assert_int_equal(tun_write(&t, pkt, len), 0);
	assert_int_equal(t.stats.tx_packets, 2);
	{
		struct pollfd pfd[2] = { { rx4, POLLIN, 0 }, { rx6, POLLIN, 0 } };
		struct sockaddr_in from;
		struct sockaddr_in6 from6;
		socklen_t fl = sizeof(from);
		char got[64];

		assert_int_equal(poll(&pfd[0], 1, 2000), 1);
		n = recvfrom(rx4, got, sizeof(got), 0, (struct sockaddr *)&from, &fl);
		assert_int_equal(n, 12);
		assert_memory_equal(got, "into the tun", 12);
		assert_memory_equal(&from.sin_addr, far_ip4, 4);
		assert_int_equal(ntohs(from.sin_port), 7777);
		assert_int_equal(poll(&pfd[1], 1, 2000), 1);
		fl = sizeof(from6);
		n = recvfrom(rx6, got, sizeof(got), 0, (struct sockaddr *)&from6, &fl);
		assert_int_equal(n, 15);
		assert_memory_equal(got, "into the tun v6", 15);
		assert_memory_equal(&from6.sin6_addr, far_ip6, 16);
		/* A packet larger than the device MTU (1400) is still accepted. */
		static uint8_t big[2100], payload[2000];

		memset(payload, 'x', sizeof(payload));
		len = build_udp4(big, far_ip4, 7777, tun_ip4, 6666, payload, sizeof(payload));
		assert_int_equal(tun_write(&t, big, len), 0);
		assert_int_equal(poll(&pfd[0], 1, 2000), 1);
		n = recv(rx4, big, sizeof(big), 0);
		assert_int_equal(n, 2000);
		assert_memory_equal(big, payload, 2000);
		/* A wrong UDP checksum is dropped by the kernel: proves ours are checked. */
		len = build_udp4(pkt, far_ip4, 7777, tun_ip4, 6666, "bad sum", 7);
		pkt[27] ^= 1;
		assert_int_equal(tun_write(&t, pkt, len), 0);
		assert_int_equal(poll(&pfd[0], 1, 200), 0);
	}
	close(rx4);
	close(rx6);

	/* Hostile writes never reach the kernel. */
	assert_int_equal(tun_write(&t, (const uint8_t *)"\x00garbage", 8), -EINVAL);
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x45;
	assert_int_equal(tun_write(&t, pkt, 19), -EINVAL);
	assert_int_equal(tun_write(&t, pkt, 0), -EINVAL);
	assert_int_equal(t.stats.tx_dropped_invalid, 3);
	assert_int_equal(t.stats.tx_packets, 4);

	/* Close takes the routes and addresses back, then the device goes with the fd. */
	close_calls = 0;
	tun_close(&t, tun_closed);
	assert_int_equal(tun_write(&t, pkt, 20), -EBADF);
	assert_int_equal(route_probe(AF_INET, far_ip4, NULL), -ENETUNREACH);
	assert_int_equal(route_probe(AF_INET6, far_ip6, NULL), -ENETUNREACH);
	uv_close((uv_handle_t *)&r.resume, handle_closed_cb);
	uv_close((uv_handle_t *)&r.timeout, handle_closed_cb);
	uv_close((uv_handle_t *)&r.check, handle_closed_cb);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(close_calls, 1);
	assert_int_equal(if_nametoindex(name), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int short_calls, short_packets;
static uint8_t short_buf[100];

static size_t short_get_buf(void *ctx, uint8_t **buf)
{
	(void)ctx;
	short_calls++;
	*buf = short_buf;
	return sizeof(short_buf);
}

static bool short_packet(void *ctx, uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
	short_packets++;
	return true;
}

/* Failures name the device and the address or route, and unwind everything. */
static void test_device_errors(void **state)
{
	struct cidr dup_addrs[] = { pfx("198.18.1.1/24"), pfx("198.18.1.1/24") };
	struct cidr routes[] = { pfx("198.18.9.0/24"), pfx("198.18.9.0/24") };
	struct cidr one = pfx("198.18.1.1/24");
	struct tun_config cfg = { .name = "httuntest0", .addrs = dup_addrs, .n_addrs = 2 };
	uv_loop_t loop;
	struct tun t, t2;
	char err[256];

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "httuntest0: adding address 198.18.1.1/24: File exists");
	assert_int_equal(if_nametoindex("httuntest0"), 0);

	cfg = (struct tun_config){
		.name = "httuntest0", .addrs = &one, .n_addrs = 1, .routes = routes, .n_routes = 2
	};
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "httuntest0: adding route 198.18.9.0/24: File exists");
	assert_int_equal(if_nametoindex("httuntest0"), 0);
	assert_int_equal(route_probe(AF_INET, far_ip4, NULL), -ENETUNREACH);

	/* The name is taken by a live device of ours: the kernel attaches a second queue
	 * only with IFF_MULTI_QUEUE, so this fails with EBUSY. */
	cfg = (struct tun_config){ .name = "httuntest0" };
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), 0);
	assert_int_equal(t.mtu, TUN_DEFAULT_MTU_NO_OFFLOAD);
	assert_int_equal(tun_read_bytes(&t), TUN_DEFAULT_MTU_NO_OFFLOAD);
	assert_int_equal(tun_open(&t2, &loop, &cfg, err, sizeof(err)), -EBUSY);
	assert_string_equal(err, "httuntest0: creating TUN device: Device or resource busy");
	/* A name the kernel refuses. */
	cfg = (struct tun_config){ .name = "bad name" };
	assert_int_equal(tun_open(&t2, &loop, &cfg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "bad name: creating TUN device: Invalid argument");
	close_calls = 0;
	tun_close(&t, tun_closed);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(close_calls, 1);
	assert_int_equal(tun_read_start(&t, short_get_buf, short_packet, NULL), -EBADF);

	/* A buffer smaller than tun_read_bytes would truncate packets: reading stops. */
	cfg = (struct tun_config){
		.name = "httuntest0", .addrs = &one, .n_addrs = 1, .routes = routes, .n_routes = 1
	};
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), 0);
	assert_int_equal(tun_read_start(&t, short_get_buf, short_packet, NULL), 0);
	int s4 = udp_socket(AF_INET, NULL, 0);
	udp_send(s4, AF_INET, far_ip4, 5555, "too big for 100 bytes? no, but the buffer is short");
	close(s4);
	short_calls = short_packets = 0;
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns: the poll stopped */
	assert_int_equal(short_calls, 1);
	assert_int_equal(short_packets, 0);
	assert_false(t.reading);
	assert_int_equal(t.stats.rx_packets, 0);
	close_calls = 0;
	tun_close(&t, tun_closed);
	tun_close(&t, tun_closed); /* a second close is a no-op */
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(close_calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/*
 * A device the admin made persistent (ip tuntap add) outlives us, so what tun_open added
 * must be taken back explicitly: by the unwind ladder on failure and by tun_close.
 */
static int persist(const char *name, int on)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), ret = 0;

	assert_true(fd >= 0);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, on) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void test_persistent_device(void **state)
{
	struct cidr addrs[] = { pfx("198.18.1.1/24"), pfx("fd00:1::1/64") };
	struct cidr routes[] = { pfx("198.18.9.0/24"), pfx("fd00:9::/64"), pfx("198.18.9.0/24") };
	struct tun_config cfg = {
		.name = "httunpers0", .addrs = addrs, .n_addrs = 2, .routes = routes, .n_routes = 3
	};
	char err[256], list[512];
	uv_loop_t loop;
	struct tun t;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(persist("httunpers0", 1), 0);
	assert_true(if_nametoindex("httunpers0") > 0);

	/* Third route fails: the ladder removes both routes and both addresses. */
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), -EEXIST);
	assert_string_equal(err, "httunpers0: adding route 198.18.9.0/24: File exists");
	assert_true(if_nametoindex("httunpers0") > 0);
	addresses_of("httunpers0", list, sizeof(list));
	assert_string_equal(list, "");
	assert_int_equal(route_probe(AF_INET, far_ip4, NULL), -ENETUNREACH);
	assert_int_equal(route_probe(AF_INET6, far_ip6, NULL), -ENETUNREACH);

	cfg.n_routes = 2;
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), 0);
	addresses_of("httunpers0", list, sizeof(list));
	assert_string_equal(list, "198.18.1.1/24\nfd00:1::1/64\n");
	assert_int_equal(route_probe(AF_INET, far_ip4, NULL), 0);
	assert_int_equal(route_probe(AF_INET6, far_ip6, NULL), 0);
	close_calls = 0;
	tun_close(&t, tun_closed);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(close_calls, 1);
	assert_true(if_nametoindex("httunpers0") > 0);
	addresses_of("httunpers0", list, sizeof(list));
	assert_string_equal(list, "");
	assert_int_equal(route_probe(AF_INET, far_ip4, NULL), -ENETUNREACH);
	assert_int_equal(route_probe(AF_INET6, far_ip6, NULL), -ENETUNREACH);

	assert_int_equal(persist("httunpers0", 0), 0);
	assert_int_equal(if_nametoindex("httunpers0"), 0);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Captures the first TCP packet from the kernel that satisfies want. */
struct capture {
	struct tun *t;
	uint8_t buf[TUN_VNET_HDR_BYTES + TUN_MAX_GSO_PACKET_BYTES];
	uint8_t pkt[TUN_VNET_HDR_BYTES + TUN_MAX_GSO_PACKET_BYTES];
	size_t len;
	int want_syn; /* 1: a SYN; 0: a segment carrying data */
	int got, skipped;
	uv_timer_t timeout;
	int timeout_calls;
};

static size_t capture_get_buf(void *ctx, uint8_t **buf)
{
	struct capture *c = ctx;

	*buf = c->buf;
	return sizeof(c->buf);
}

static bool capture_packet(void *ctx, uint8_t *pkt, size_t len)
{
	struct capture *c = ctx;
	const uint8_t *ip = pkt + TUN_VNET_HDR_BYTES;
	size_t n = len - TUN_VNET_HDR_BYTES;
	bool match;

	assert_true(len >= TUN_VNET_HDR_BYTES);
	match = (ip[0] >> 4) == 4 && ip[9] == IPPROTO_TCP && n >= 40;
	if (match && c->want_syn)
		match = (ip[20 + 13] & 0x02) != 0;
	else if (match)
		match = load_be16(ip + 2) > 20 + (ip[20 + 12] >> 4) * 4;
	if (!match) {
		c->skipped++;
		return true;
	}
	memcpy(c->pkt, pkt, len);
	c->len = len;
	c->got++;
	tun_read_stop(c->t);
	uv_timer_stop(&c->timeout);
	return true;
}

static void capture_timeout_cb(uv_timer_t *h)
{
	struct capture *c = h->data;

	c->timeout_calls++;
	tun_read_stop(c->t);
}

static void capture_run(uv_loop_t *loop, struct capture *c, int want_syn)
{
	c->want_syn = want_syn;
	c->got = 0;
	assert_int_equal(tun_read_start(c->t, capture_get_buf, capture_packet, c), 0);
	assert_int_equal(uv_timer_start(&c->timeout, capture_timeout_cb, 3000, 0), 0);
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(c->timeout_calls, 0);
	assert_int_equal(c->got, 1);
}

/* IPv4 + TCP from far_ip4:80; tcp_csum: full checksum, or only the pseudo header (partial). */
static size_t build_tcp4(uint8_t *p, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
			 const uint8_t *opt, size_t optlen, const uint8_t *data, size_t dlen,
			 bool partial)
{
	size_t thl = 20 + optlen, len = 20 + thl + dlen;
	uint8_t pseudo[12];
	uint32_t sum;

	memset(p, 0, 40);
	p[0] = 0x45;
	store_be16(p + 2, (uint16_t)len);
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, far_ip4, 4);
	memcpy(p + 16, tun_ip4, 4);
	store_be16(p + 10, csum_fold(csum_add(0, p, 20)));
	store_be16(p + 20, 80);
	store_be16(p + 22, dport);
	store_be32(p + 24, seq);
	store_be32(p + 28, ack);
	p[32] = (uint8_t)((thl / 4) << 4);
	p[33] = flags;
	store_be16(p + 34, 65535);
	if (optlen)
		memcpy(p + 40, opt, optlen);
	if (dlen)
		memcpy(p + 20 + thl, data, dlen);
	memcpy(pseudo, far_ip4, 4);
	memcpy(pseudo + 4, tun_ip4, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	store_be16(pseudo + 10, (uint16_t)(thl + dlen));
	sum = csum_add(0, pseudo, 12);
	if (partial)
		store_be16(p + 36, (uint16_t)~csum_fold(sum));
	else
		store_be16(p + 36, csum_fold(csum_add(sum, p + 20, thl + dlen)));
	return len;
}

/*
 * Offload: one TCP connection from a local socket to 198.18.9.9:80, with the far end
 * played by hand. The kernel must hand over a GSO segment bigger than the MTU (the whole
 * point of offload), and accept one written back.
 */
static void test_offload(void **state)
{
	struct cidr addr = pfx("198.18.1.1/24"), route = pfx("198.18.9.0/24");
	struct tun_config cfg = { .name = "httunoff0",
				  .addrs = &addr,
				  .n_addrs = 1,
				  .routes = &route,
				  .n_routes = 1,
				  .offload = true };
	static const uint8_t synack_opt[8] = { 2, 4, 0x05, 0x78, 1, 3, 3, 7 }; /* MSS 1400, ws 7 */
	static struct capture c;
	static uint8_t data[65536], pkt[TUN_VNET_HDR_BYTES + 65535], got[65536];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
	uint8_t hdr_copy[TUN_VNET_HDR_BYTES];
	const uint8_t *ip, *h;
	uint32_t isn, srv_isn = 0x10000000;
	uint16_t cport;
	char err[256];
	uv_loop_t loop;
	struct tun t;
	size_t len, total = 0;
	int fd, one = 1;
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(tun_open(&t, &loop, &cfg, err, sizeof(err)), 0);
	assert_int_equal(t.mtu, TUN_DEFAULT_MTU);
	assert_int_equal(tun_read_bytes(&t), TUN_VNET_HDR_BYTES + 65535);
	c.t = &t;
	assert_int_equal(uv_timer_init(&loop, &c.timeout), 0);
	c.timeout.data = &c;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	memcpy(&sin.sin_addr, far_ip4, 4);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(errno, EINPROGRESS);

	/* The SYN, with the kernel leaving its checksum to us (NEEDS_CSUM at the TCP field). */
	capture_run(&loop, &c, 1);
	h = c.pkt;
	ip = c.pkt + TUN_VNET_HDR_BYTES;
	assert_int_equal(h[1], VIRTIO_NET_HDR_GSO_NONE);
	assert_int_equal(h[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(load_be16(h + 6), 20); /* csum_start: the TCP header */
	assert_int_equal(load_be16(h + 8), 16); /* csum_offset: TCP checksum field */
	cport = load_be16(ip + 20); /* the SYN's source port */
	isn = load_be32(ip + 24);

	/* SYN-ACK written with an all-zero virtio header (full checksum, no GSO). */
	memset(pkt, 0, TUN_VNET_HDR_BYTES);
	len = build_tcp4(pkt + TUN_VNET_HDR_BYTES, cport, srv_isn, isn + 1, 0x12, synack_opt,
			 sizeof(synack_opt), NULL, 0, false);
	assert_int_equal(tun_write(&t, pkt, TUN_VNET_HDR_BYTES + len), 0);
	{
		struct pollfd pfd = { fd, POLLOUT, 0 };

		assert_int_equal(poll(&pfd, 1, 2000), 1);
	}
	/* Connected: a burst of data leaves as one segment bigger than the MTU. */
	n = send(fd, data, sizeof(data), 0);
	assert_true(n > 3 * 1400);
	capture_run(&loop, &c, 0);
	h = c.pkt;
	ip = c.pkt + TUN_VNET_HDR_BYTES;
	assert_int_equal(h[1] & ~VIRTIO_NET_HDR_GSO_ECN, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(load_be16(h + 4), 1400); /* gso_size: the MSS we announced */
	assert_true(c.len - TUN_VNET_HDR_BYTES > 1500);
	assert_int_equal(vnet_check(c.pkt, c.len), VNET_OK);
	assert_int_equal(load_be32(ip + 24), isn + 1);
	assert_memory_equal(ip + 40, data, c.len - TUN_VNET_HDR_BYTES - 40);

	/* And back: one 3000-byte GSO segment written whole, read as 3000 bytes in order. */
	vnet_put(pkt, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1000, 20, 16);
	len = build_tcp4(pkt + TUN_VNET_HDR_BYTES, cport, srv_isn + 1, isn + 1, 0x18, NULL, 0,
			 data + 100, 3000, true);
	memcpy(hdr_copy, pkt, sizeof(hdr_copy));
	assert_int_equal(tun_write(&t, pkt, TUN_VNET_HDR_BYTES + len), 0);
	assert_memory_equal(pkt, hdr_copy, sizeof(hdr_copy)); /* converted in a copy */
	while (total < 3000) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		assert_int_equal(poll(&pfd, 1, 2000), 1);
		n = recv(fd, got + total, sizeof(got) - total, 0);
		assert_true(n > 0);
		total += (size_t)n;
	}
	assert_int_equal(total, 3000);
	assert_memory_equal(got, data + 100, 3000);
	assert_int_equal(t.stats.tx_packets, 2);
	assert_int_equal(t.stats.rx_dropped_invalid, 0);

	/*
	 * An offload header from the peer with gso_size 1 would have the kernel cut these
	 * 3000 bytes into 3000 packets: refused before the kernel sees it, and counted.
	 */
	vnet_put(pkt, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 40, 1, 20, 16);
	len = build_tcp4(pkt + TUN_VNET_HDR_BYTES, cport, srv_isn + 3001, isn + 1, 0x18, NULL, 0,
			 data + 3100, 3000, true);
	assert_int_equal(tun_write(&t, pkt, TUN_VNET_HDR_BYTES + len), -EINVAL);
	assert_int_equal(t.stats.tx_dropped_invalid, 1);

	close(fd);
	close_calls = 0;
	tun_close(&t, tun_closed);
	uv_close((uv_handle_t *)&c.timeout, handle_closed_cb);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(close_calls, 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ret = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (ret == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	ret = ret < 0 ? -errno : 0;
	close(fd);
	return ret;
}

int main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_packet_valid),
		cmocka_unit_test(test_open_bad_config),
	};
	const struct CMUnitTest device[] = {
		cmocka_unit_test(test_device),
		cmocka_unit_test(test_device_errors),
		cmocka_unit_test(test_persistent_device),
		cmocka_unit_test(test_offload),
	};
	int ret = cmocka_run_group_tests_name("tun", plain, NULL, NULL);

	if (ret != 0)
		return ret;
	if (geteuid() != 0) {
		printf("SKIPPED: device tests need root\n");
		return 77;
	}
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		printf("SKIPPED: /dev/net/tun: %s\n", strerror(errno));
		return 77;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		printf("SKIPPED: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return 77;
	}
	if (lo_up() != 0) {
		printf("SKIPPED: cannot bring up lo in the new namespace\n");
		return 77;
	}
	return cmocka_run_group_tests_name("tun device", device, NULL, NULL);
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "tun/tun.h"
#include "core/cursor.h"
#include "core/ip.h"
#include "core/log.h"
#include "core/vnet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- packets ---- */

_Static_assert(TUN_VNET_HDR_BYTES == sizeof(struct virtio_net_hdr), "virtio_net_hdr size");
_Static_assert(VNET_F_NEEDS_CSUM == VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		       VNET_F_DATA_VALID == VIRTIO_NET_HDR_F_DATA_VALID,
	       "core/vnet.h flags are the kernel's");
_Static_assert(VNET_GSO_NONE == VIRTIO_NET_HDR_GSO_NONE &&
		       VNET_GSO_TCPV4 == VIRTIO_NET_HDR_GSO_TCPV4 &&
		       VNET_GSO_UDP == VIRTIO_NET_HDR_GSO_UDP &&
		       VNET_GSO_TCPV6 == VIRTIO_NET_HDR_GSO_TCPV6 &&
		       VNET_GSO_ECN == VIRTIO_NET_HDR_GSO_ECN,
	       "core/vnet.h GSO types are the kernel's");

bool tun_packet_valid(const uint8_t *pkt, size_t len)
{
	struct ip_info ip;

	return ip_parse(pkt, len, &ip) == 0;
}

/*
 * The virtio_net_hdr as callers see it: the kernel's layout with the four 16-bit fields in
 * network order, like every other integer httun carries (docs/TUN.md "Offloads"). The
 * kernel side is little-endian (TUNSETVNETLE); vnet_swap converts either way in place.
 */
static void vnet_swap(uint8_t *h)
{
	for (size_t off = 2; off < TUN_VNET_HDR_BYTES; off += 2) {
		uint8_t b = h[off];

		h[off] = h[off + 1];
		h[off + 1] = b;
	}
}

/*
 * A packet to write comes from the peer: with offload its header is held to the rules the
 * receiving kernel needs (docs/TUN.md "Offloads").
 */
static enum vnet_verdict tun_write_check(const struct tun *t, const uint8_t *p, size_t len)
{
	if (t->offload)
		return vnet_check(p, len);
	return tun_packet_valid(p, len) ? VNET_OK : VNET_BAD_IP;
}

/*
 * A packet read comes from this host's kernel, whose header is trusted (the peer holds it
 * to the rules on receipt): only the IP packet behind it is looked at.
 */
static bool tun_read_valid(const struct tun *t, const uint8_t *p, size_t len)
{
	if (!t->offload)
		return tun_packet_valid(p, len);
	return len >= TUN_VNET_HDR_BYTES &&
	       tun_packet_valid(p + TUN_VNET_HDR_BYTES, len - TUN_VNET_HDR_BYTES);
}

size_t tun_read_bytes(const struct tun *t)
{
	return t->offload ? TUN_VNET_HDR_BYTES + TUN_MAX_GSO_PACKET_BYTES : t->mtu;
}

/* ---- rtnetlink ---- */

/*
 * One request, one ack. Returns 0 or the negative errno the kernel answered with.
 * Sockets are short-lived: setup and teardown are rare, and a socket held open would be
 * one more thing to carry across the privilege drop.
 */
static int nl_request(struct mnl_socket *nl, struct nlmsghdr *nlh)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned int portid = mnl_socket_get_portid(nl);
	static unsigned int seq;
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return errno == EINTR ? -EINTR : -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, NULL, NULL);
		if (ret == MNL_CB_ERROR)
			return errno ? -errno : -EPROTO;
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

static int nl_open(struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int ret = -errno;

		mnl_socket_close(nl);
		return ret;
	}
	*out = nl;
	return 0;
}

/* MTU, and no IPv6 link-local address: nothing but the admin's traffic enters the tunnel. */
static int link_configure(struct mnl_socket *nl, int ifindex, unsigned int mtu)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	struct nlattr *spec, *inet6;
	int ret;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	ret = nl_request(nl, nlh);
	if (ret < 0)
		return ret;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	inet6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, inet6);
	mnl_attr_nest_end(nlh, spec);
	ret = nl_request(nl, nlh);
	/* No IPv6 on this host or device (MTU < 1280): nothing to keep quiet. */
	if (ret == -EAFNOSUPPORT || ret == -EOPNOTSUPP)
		ret = 0;
	return ret;
}

static int link_up(struct mnl_socket *nl, int ifindex)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return nl_request(nl, nlh);
}

static int addr_change(struct mnl_socket *nl, int ifindex, const struct cidr *p, bool add)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t n = cidr_addr_bytes(p);

	nlh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)p->family;
	ifa->ifa_prefixlen = p->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, n, p->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, n, p->addr);
	/* A TUN has no neighbours to ask: duplicate address detection would only delay. */
	if (p->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return nl_request(nl, nlh);
}

static int route_change(struct mnl_socket *nl, int ifindex, const struct cidr *p, bool add)
{
	uint8_t buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	if (add)
		nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)p->family;
	rtm->rtm_dst_len = p->prefix;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (p->prefix > 0)
		mnl_attr_put(nlh, RTA_DST, cidr_addr_bytes(p), p->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	return nl_request(nl, nlh);
}

/* ---- open and close ---- */

static unsigned int config_mtu(const struct tun_config *cfg)
{
	if (cfg->mtu)
		return cfg->mtu;
	return cfg->offload ? TUN_DEFAULT_MTU : TUN_DEFAULT_MTU_NO_OFFLOAD;
}

static int config_check(const struct tun_config *cfg, unsigned int mtu, char *err, size_t err_len)
{
	const char *name = cfg->name ? cfg->name : TUN_DEFAULT_NAME;
	char s[CIDR_STR_BYTES];
	bool v6 = false;

	if (name[0] == '\0') {
		snprintf(err, err_len, "tun: empty device name");
		return -EINVAL;
	}
	if (strlen(name) >= IFNAMSIZ) {
		snprintf(err, err_len, "tun: device name '%s' longer than %d bytes", name,
			 IFNAMSIZ - 1);
		return -ENAMETOOLONG;
	}
	if (mtu < TUN_MIN_MTU || mtu > TUN_MAX_MTU) {
		snprintf(err, err_len, "%s: MTU %u outside %d..%d", name, mtu, TUN_MIN_MTU,
			 TUN_MAX_MTU);
		return -EINVAL;
	}
	if (cfg->n_addrs > TUN_MAX_ADDRESSES || cfg->n_routes > TUN_MAX_ROUTES) {
		snprintf(err, err_len, "%s: more than %d addresses or %d routes", name,
			 TUN_MAX_ADDRESSES, TUN_MAX_ROUTES);
		return -E2BIG;
	}
	for (size_t i = 0; i < cfg->n_addrs; i++) {
		const struct cidr *p = &cfg->addrs[i];

		if (p->family != AF_INET && p->family != AF_INET6) {
			snprintf(err, err_len, "%s: address %zu: not IPv4 or IPv6", name, i + 1);
			return -EAFNOSUPPORT;
		}
		if (p->prefix > cidr_max_prefix(p)) {
			snprintf(err, err_len, "%s: address %s: bad prefix length", name,
				 cidr_format(p, s, sizeof(s)));
			return -EINVAL;
		}
		v6 |= p->family == AF_INET6;
	}
	for (size_t i = 0; i < cfg->n_routes; i++) {
		const struct cidr *p = &cfg->routes[i];

		if (p->family != AF_INET && p->family != AF_INET6) {
			snprintf(err, err_len, "%s: route %zu: not IPv4 or IPv6", name, i + 1);
			return -EAFNOSUPPORT;
		}
		if (p->prefix > cidr_max_prefix(p) || cidr_host_bits_set(p)) {
			snprintf(err, err_len, "%s: route %s: host bits set or bad prefix length",
				 name, cidr_format(p, s, sizeof(s)));
			return -EINVAL;
		}
		v6 |= p->family == AF_INET6;
	}
	if (v6 && mtu < TUN_MIN_MTU_IPV6) {
		snprintf(err, err_len, "%s: MTU %u is below IPv6's minimum of %d", name, mtu,
			 TUN_MIN_MTU_IPV6);
		return -EINVAL;
	}
	return 0;
}

static int tun_fd_open(const char *name, bool offload, char *ifname)
{
	struct ifreq ifr;
	int fd, le = 1, hdr = TUN_VNET_HDR_BYTES;
	unsigned int offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	int ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto err;
	if (offload && (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETVNETLE, &le) < 0 ||
			ioctl(fd, TUNSETOFFLOAD, offloads) < 0))
		goto err;
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return fd;
err:
	ret = -errno;
	close(fd);
	return ret;
}

int tun_open(struct tun *t, uv_loop_t *loop, const struct tun_config *cfg, char *err,
	     size_t err_len)
{
	const char *name = cfg->name ? cfg->name : TUN_DEFAULT_NAME;
	unsigned int mtu = config_mtu(cfg);
	char s[CIDR_STR_BYTES];
	struct mnl_socket *nl;
	int ret;

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	ret = config_check(cfg, mtu, err, err_len);
	if (ret < 0)
		return ret;
	t->mtu = mtu;
	t->offload = cfg->offload;

	ret = tun_fd_open(name, cfg->offload, t->name);
	if (ret < 0) {
		snprintf(err, err_len, "%s: creating TUN device: %s", name, strerror(-ret));
		return ret;
	}
	t->fd = ret;
	t->ifindex = (int)if_nametoindex(t->name);
	if (t->ifindex == 0) {
		ret = -errno;
		snprintf(err, err_len, "%s: looking up device index: %s", t->name, strerror(-ret));
		goto err_fd;
	}
	ret = nl_open(&nl);
	if (ret < 0) {
		snprintf(err, err_len, "%s: opening rtnetlink: %s", t->name, strerror(-ret));
		goto err_fd;
	}
	ret = link_configure(nl, t->ifindex, mtu);
	if (ret < 0) {
		snprintf(err, err_len, "%s: setting MTU %u: %s", t->name, mtu, strerror(-ret));
		goto err_nl;
	}
	for (; t->n_addrs < cfg->n_addrs; t->n_addrs++) {
		const struct cidr *p = &cfg->addrs[t->n_addrs];

		ret = addr_change(nl, t->ifindex, p, true);
		if (ret < 0) {
			snprintf(err, err_len, "%s: adding address %s: %s", t->name,
				 cidr_format(p, s, sizeof(s)), strerror(-ret));
			goto err_addrs;
		}
		t->addrs[t->n_addrs] = *p;
	}
	ret = link_up(nl, t->ifindex);
	if (ret < 0) {
		snprintf(err, err_len, "%s: bringing device up: %s", t->name, strerror(-ret));
		goto err_addrs;
	}
	for (; t->n_routes < cfg->n_routes; t->n_routes++) {
		const struct cidr *p = &cfg->routes[t->n_routes];

		ret = route_change(nl, t->ifindex, p, true);
		if (ret < 0) {
			snprintf(err, err_len, "%s: adding route %s: %s", t->name,
				 cidr_format(p, s, sizeof(s)), strerror(-ret));
			goto err_routes;
		}
		t->routes[t->n_routes] = *p;
	}
	ret = uv_poll_init(loop, &t->poll, t->fd);
	if (ret < 0) {
		snprintf(err, err_len, "%s: watching the device: %s", t->name, uv_strerror(ret));
		goto err_routes;
	}
	mnl_socket_close(nl);
	return 0;

err_routes:
	while (t->n_routes > 0)
		route_change(nl, t->ifindex, &t->routes[--t->n_routes], false);
err_addrs:
	while (t->n_addrs > 0)
		addr_change(nl, t->ifindex, &t->addrs[--t->n_addrs], false);
err_nl:
	mnl_socket_close(nl);
err_fd:
	close(t->fd);
	t->fd = -1;
	return ret;
}

void tun_read_pending(struct tun *t, unsigned max_packets)
{
	size_t need = tun_read_bytes(t);

	if (max_packets > TUN_READ_BUDGET_PACKETS)
		max_packets = TUN_READ_BUDGET_PACKETS;
	/* on_packet may stop reading or close the device: check t->reading every round. */
	for (unsigned i = 0; i < max_packets && t->reading; i++) {
		uint8_t *buf = NULL;
		size_t cap = t->get_buf(t->ctx, &buf);
		ssize_t n;

		if (cap == 0) {
			tun_read_stop(t);
			return;
		}
		if (cap < need) {
			/* A short buffer would truncate packets silently: a caller bug. */
			log_warnx("%s: read buffer of %zu bytes, need %zu; reading stopped",
				  t->name, cap, need);
			tun_read_stop(t);
			return;
		}
		n = read(t->fd, buf, cap);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				t->stats.rx_errors++;
				log_warnx_rl("%s: reading device: %s", t->name, strerror(errno));
			}
			return;
		}
		if ((size_t)n > cap) {
			/* Never expected (buffers hold the MTU), but never read past one either. */
			t->stats.rx_dropped_invalid++;
			continue;
		}
		if (t->offload && n >= TUN_VNET_HDR_BYTES) {
			vnet_swap(buf);
			vnet_one_segment_fix(buf, (size_t)n);
		}
		if (!tun_read_valid(t, buf, (size_t)n)) {
			t->stats.rx_dropped_invalid++;
			continue;
		}
		t->stats.rx_packets++;
		t->stats.rx_bytes += (uint64_t)n;
		if (!t->on_packet(t->ctx, buf, (size_t)n))
			return;
	}
}

static void tun_poll_cb(uv_poll_t *h, int status, int events)
{
	struct tun *t = container_of(h, struct tun, poll);

	if (status < 0) {
		log_warnx_rl("%s: polling device: %s", t->name, uv_strerror(status));
		return;
	}
	if (events & UV_READABLE)
		tun_read_pending(t, TUN_READ_BUDGET_PACKETS);
}

int tun_read_start(struct tun *t, tun_get_buf_fn get_buf, tun_packet_fn on_packet, void *ctx)
{
	int ret;

	if (t->closing)
		return -EBADF;
	t->get_buf = get_buf;
	t->on_packet = on_packet;
	t->ctx = ctx;
	ret = uv_poll_start(&t->poll, UV_READABLE, tun_poll_cb);
	if (ret < 0)
		return ret;
	t->reading = true;
	return 0;
}

void tun_read_stop(struct tun *t)
{
	if (!t->reading)
		return;
	t->reading = false;
	uv_poll_stop(&t->poll);
}

int tun_write(struct tun *t, const uint8_t *pkt, size_t len)
{
	enum vnet_verdict v;
	ssize_t n;

	if (t->closing)
		return -EBADF;
	v = tun_write_check(t, pkt, len);
	if (v != VNET_OK) {
		t->stats.tx_dropped_invalid++;
		log_warnx_rl("%s: refused a packet to write: %s (%llu refused)", t->name,
			     vnet_verdict_str(v), (unsigned long long)t->stats.tx_dropped_invalid);
		return -EINVAL;
	}
	if (t->offload) {
		/* The caller's bytes stay untouched (const): the kernel's header is a copy. */
		uint8_t hdr[TUN_VNET_HDR_BYTES];
		struct iovec iov[2] = {
			{ hdr, sizeof(hdr) },
			{ (void *)(uintptr_t)(pkt + TUN_VNET_HDR_BYTES), len - TUN_VNET_HDR_BYTES },
		};

		memcpy(hdr, pkt, sizeof(hdr));
		/*
		 * The peer's word that a checksum is right is never taken: without the flag
		 * the kernel verifies the checksum itself before anything here trusts it.
		 */
		hdr[0] &= (uint8_t)~VNET_F_DATA_VALID;
		vnet_swap(hdr);
		do {
			n = writev(t->fd, iov, 2);
		} while (n < 0 && errno == EINTR);
	} else {
		do {
			n = write(t->fd, pkt, len);
		} while (n < 0 && errno == EINTR);
	}
	if (n < 0) {
		int ret = -errno;

		if (ret == -EAGAIN || ret == -ENOBUFS)
			t->stats.tx_dropped_full++;
		else
			t->stats.tx_errors++;
		return ret == -ENOBUFS ? -EAGAIN : ret;
	}
	t->stats.tx_packets++;
	t->stats.tx_bytes += (uint64_t)n;
	return 0;
}

static void tun_closed_cb(uv_handle_t *h)
{
	struct tun *t = container_of(h, struct tun, poll);

	close(t->fd);
	t->fd = -1;
	if (t->close_cb)
		t->close_cb(t);
}

void tun_close(struct tun *t, tun_close_fn close_cb)
{
	char s[CIDR_STR_BYTES];
	struct mnl_socket *nl;
	int ret;

	if (t->closing)
		return;
	t->closing = true;
	tun_read_stop(t);
	t->close_cb = close_cb;

	ret = nl_open(&nl);
	if (ret == 0) {
		while (t->n_routes > 0) {
			const struct cidr *p = &t->routes[--t->n_routes];

			ret = route_change(nl, t->ifindex, p, false);
			if (ret < 0)
				log_debug("%s: removing route %s: %s", t->name,
					  cidr_format(p, s, sizeof(s)), strerror(-ret));
		}
		while (t->n_addrs > 0) {
			const struct cidr *p = &t->addrs[--t->n_addrs];

			ret = addr_change(nl, t->ifindex, p, false);
			if (ret < 0)
				log_debug("%s: removing address %s: %s", t->name,
					  cidr_format(p, s, sizeof(s)), strerror(-ret));
		}
		mnl_socket_close(nl);
	} else {
		log_debug("%s: opening rtnetlink to clean up: %s", t->name, strerror(-ret));
	}
	uv_close((uv_handle_t *)&t->poll, tun_closed_cb);
}

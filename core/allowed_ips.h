/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Cryptokey routing on the server (docs/IP-TUNNEL.md "Source addresses"): the inner
 * source addresses a channel's client may use. The key authenticates the client; this
 * set says which addresses that key may speak for, so a key holder can neither send
 * packets with forged sources out of the server nor pose as another channel's client.
 *
 * A source is allowed if it lies in one of the allowed prefixes and is none of the
 * server's own addresses on the channel's device. The allowed prefixes are the channel's
 * allowed-ips when it has any, otherwise the networks of its tun-address lines
 * (198.18.1.1/24 allows 198.18.1.0 .. 198.18.1.255, except 198.18.1.1 itself).
 *
 * A linear scan over at most CONFIG_MAX_ALLOWED_IPS prefixes plus the channel's
 * CONFIG_MAX_TUN_ADDRESSES own addresses per packet: a site's few networks, not a routing
 * table, so no trie. Matching is by family: an IPv6 packet from ::ffff:198.18.1.2 is an
 * IPv6 source, matched against IPv6 prefixes only (the kernel treats it as IPv6).
 *
 * Ownership: the set borrows both arrays (the channel's config), which must outlive it.
 * Host bits in them are ignored. Nothing here reads the clock or prints.
 */
#ifndef HTTUN_CORE_ALLOWED_IPS_H
#define HTTUN_CORE_ALLOWED_IPS_H

#include "core/cidr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct allowed_ips {
	const struct cidr *allow; /* prefixes a source may lie in */
	size_t n_allow;
	const struct cidr *own; /* the server's own addresses: never a client's source */
	size_t n_own;
};

/*
 * The set of a channel: given[0..n_given) if n_given > 0 (allowed-ips replaces
 * the default), else the networks of tun[0..n_tun); tun's addresses are the server's own.
 */
void allowed_ips_init(struct allowed_ips *a, const struct cidr *given, size_t n_given,
		      const struct cidr *tun, size_t n_tun);

/* True if src (a full-length prefix: /32 or /128) may be used as a source. */
bool allowed_ips_match(const struct allowed_ips *a, const struct cidr *src);

/* True if no address at all may be used: every allowed prefix is one of the own addresses. */
bool allowed_ips_none(const struct allowed_ips *a);

/*
 * The source address of the IP packet pkt[0..len) (untrusted: from the peer) into *src as
 * a /32 or /128. Returns 0, or -EPROTO when it is neither IPv4 nor IPv6 by its version
 * nibble, or shorter than that version's fixed header (20 or 40 bytes); *src is then
 * zeroed (family 0).
 */
int allowed_ips_source(const uint8_t *pkt, size_t len, struct cidr *src);

#endif

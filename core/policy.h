/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * L7 target policy of a channel (docs/CONFIGURATION.md "L7 policy"). Deny by default: a
 * target is allowed only if a rule matches it. Addresses that reach the server itself or
 * its links (loopback, link-local, multicast, unspecified, broadcast, the server's own
 * addresses) need a rule that names them explicitly, so "0.0.0.0/0" cannot open the
 * server's localhost services or a cloud metadata endpoint by accident.
 *
 * Rule syntax:  CIDR[:PORT[-PORT]]
 *   198.18.0.0/15        all ports of a network
 *   198.18.0.5:22        one address (a bare address is /32), one port
 *   198.18.0.0/15:80-443 a port range, both ends included
 *   [fd00::/8]:22        IPv6 always in brackets, with or without a port: [fd00::1]
 */
#ifndef HTTUN_CORE_POLICY_H
#define HTTUN_CORE_POLICY_H

#include "core/cidr.h"
#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct policy_rule {
	struct cidr net; /* host bits zero; IPv4-mapped IPv6 stored as IPv4 */
	uint16_t port_min; /* 1..65535; a rule without a port has 1..65535 */
	uint16_t port_max;
};

struct policy {
	struct policy_rule *rules;
	size_t n_rules;
	struct cidr *own; /* the server's own addresses, full-length prefixes */
	size_t n_own;
};

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_DENY_NO_RULE, /* no rule covers this address and port */
	POLICY_DENY_LOOPBACK, /* 127.0.0.0/8, ::1 */
	POLICY_DENY_LINK_LOCAL, /* 169.254.0.0/16, fe80::/10 */
	POLICY_DENY_MULTICAST, /* 224.0.0.0/4, ff00::/8 */
	POLICY_DENY_UNSPECIFIED, /* 0.0.0.0/8, :: */
	POLICY_DENY_BROADCAST, /* 255.255.255.255 */
	POLICY_DENY_OWN_ADDRESS, /* one of the addresses set with policy_set_own() */
	POLICY_DENY_FAMILY, /* not an IPv4 or IPv6 socket address */
};

void policy_init(struct policy *p);
void policy_close(struct policy *p);

/*
 * Parse one rule. Host bits must be zero ("198.18.1.5/24" is refused, since it is
 * unclear whether one host or the network was meant). Returns 0, or -EINVAL with a
 * reason for the user in why[whylen].
 */
int policy_rule_parse(const char *text, struct policy_rule *out, char *why, size_t whylen);

/* Append a rule: 0, -E2BIG past POLICY_MAX_RULES, -ENOMEM. */
int policy_add(struct policy *p, const struct policy_rule *rule);

/*
 * Replace the list of the server's own addresses (AF_INET/AF_INET6 entries; others are
 * skipped). The server refreshes it when its interface addresses change.
 * 0, -E2BIG past POLICY_MAX_OWN_ADDRESSES, -ENOMEM (the old list is kept then).
 */
int policy_set_own(struct policy *p, const struct sockaddr_storage *addrs, size_t n);

/*
 * May a connection go to addr (AF_INET or AF_INET6; the port in it is ignored) port?
 * The address is allowed iff some rule covers it and port; an address in a protected
 * range (loopback, link-local, multicast, unspecified, broadcast; or equal to one of the
 * server's own addresses) additionally needs that rule's network to lie inside the
 * protected range (inside the single address, for own addresses). IPv4-mapped IPv6
 * addresses are checked as the IPv4 address they are. An IPv6 address that carries an
 * IPv4 one (NAT64 64:ff9b::/96, 6to4 2002::/16, IPv4-compatible ::/96) is protected when
 * that IPv4 address is, and then needs a rule inside the protected range in that IPv6
 * form (64:ff9b::7f00:0/104 for loopback).
 */
enum policy_verdict policy_check(const struct policy *p, const struct sockaddr *addr,
				 uint16_t port);

/* Short English reason for logs: "allowed", "no rule allows it", "loopback address"... */
const char *policy_verdict_str(enum policy_verdict v);

/* The rule in the syntax above, into buf[len] (POLICY_RULE_STR_BYTES always fits). */
#define POLICY_RULE_STR_BYTES (CIDR_STR_BYTES + 16)
void policy_rule_format(const struct policy_rule *rule, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/allowed_ips.c: which inner source addresses a channel's client may use. The
 * default (tun-address networks, host bits ignored) and an explicit list that replaces
 * it, each prefix edge ±1 in IPv4 and IPv6, the server's own address refused inside its
 * own network, families kept apart, and the source reader on every truncation length.
 */
#include "core/allowed_ips.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static struct cidr parse(const char *text)
{
	const char *why = NULL;
	struct cidr c;

	if (cidr_parse(text, strlen(text), &c, &why) != 0)
		fail_msg("'%s': %s", text, why);
	return c;
}

struct match_case {
	int line;
	const char *src;
	bool allowed;
};

static void run_cases(const struct allowed_ips *a, const struct match_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cidr src = parse(cases[i].src);

		if (allowed_ips_match(a, &src) != cases[i].allowed)
			fail_msg("line %d: %s should be %s", cases[i].line, cases[i].src,
				 cases[i].allowed ? "allowed" : "refused");
	}
}

/* A server with 198.18.1.1/24 and fd00:1::1/64 and no allowed-ips. */
static void test_default_is_tun_networks(void **state)
{
	const struct cidr tun[] = { parse("198.18.1.1/24"), parse("fd00:1::1/64") };
	static const struct match_case cases[] = {
		{ __LINE__, "198.18.1.2", true },
		{ __LINE__, "198.18.1.0", true }, /* first of the network */
		{ __LINE__, "198.18.1.255", true }, /* last */
		{ __LINE__, "198.18.0.255", false }, /* first - 1 */
		{ __LINE__, "198.18.2.0", false }, /* last + 1 */
		{ __LINE__, "198.18.1.1", false }, /* the server's own address */
		{ __LINE__, "10.0.0.1", false },
		{ __LINE__, "0.0.0.0", false },
		{ __LINE__, "fd00:1::2", true },
		{ __LINE__, "fd00:1::", true },
		{ __LINE__, "fd00:1::ffff:ffff:ffff:ffff", true },
		{ __LINE__, "fd00:0:ffff:ffff:ffff:ffff:ffff:ffff", false },
		{ __LINE__, "fd00:2::", false },
		{ __LINE__, "fd00:1::1", false }, /* own */
		/* The IPv4 network as an IPv4-mapped IPv6 source is an IPv6 source. */
		{ __LINE__, "::ffff:198.18.1.2", false },
	};
	struct allowed_ips a;

	(void)state;
	allowed_ips_init(&a, NULL, 0, tun, 2);
	run_cases(&a, cases, sizeof(cases) / sizeof(cases[0]));
	assert_false(allowed_ips_none(&a));
}

/* allowed-ips replaces the default; the own addresses stay refused. */
static void test_given_replaces_default(void **state)
{
	const struct cidr tun[] = { parse("198.18.1.1/24") };
	const struct cidr given[] = { parse("198.18.1.2/32"), parse("198.19.20.0/23"),
				      parse("fd00:5::/48"), parse("0.0.0.0/0") };
	static const struct match_case cases[] = {
		{ __LINE__, "198.18.1.2", true },
		{ __LINE__, "198.18.1.3", false }, /* in the tun network, not given */
		{ __LINE__, "198.19.20.0", true },
		{ __LINE__, "198.19.21.255", true },
		{ __LINE__, "198.19.19.255", false },
		{ __LINE__, "198.19.22.0", false },
		{ __LINE__, "fd00:5:0:ffff::1", true },
		{ __LINE__, "fd00:5:1::", false },
		{ __LINE__, "fd00:4:ffff:ffff:ffff:ffff:ffff:ffff", false },
	};
	static const struct match_case everything[] = {
		{ __LINE__, "203.0.113.9", true },
		{ __LINE__, "198.18.1.1", false }, /* own, even under 0.0.0.0/0 */
		{ __LINE__, "2001:db8::1", false }, /* 0.0.0.0/0 is IPv4 only */
	};
	struct allowed_ips a;

	(void)state;
	allowed_ips_init(&a, given, 3, tun, 1);
	run_cases(&a, cases, sizeof(cases) / sizeof(cases[0]));
	allowed_ips_init(&a, given, 4, tun, 1);
	run_cases(&a, everything, sizeof(everything) / sizeof(everything[0]));
}

static void test_none(void **state)
{
	const struct cidr host[] = { parse("198.18.1.1/32"), parse("fd00::1/128") };
	const struct cidr net[] = { parse("198.18.1.1/31") };
	const struct cidr other[] = { parse("198.18.1.2/32") };
	struct allowed_ips a;

	(void)state;
	allowed_ips_init(&a, NULL, 0, NULL, 0);
	assert_true(allowed_ips_none(&a));
	/* Host addresses on the device: the network is the server alone. */
	allowed_ips_init(&a, NULL, 0, host, 2);
	assert_true(allowed_ips_none(&a));
	allowed_ips_init(&a, NULL, 0, host, 1);
	assert_true(allowed_ips_none(&a));
	/* A /31 leaves the other address. */
	allowed_ips_init(&a, NULL, 0, net, 1);
	assert_false(allowed_ips_none(&a));
	run_cases(&a,
		  (const struct match_case[]){ { __LINE__, "198.18.1.0", true },
					       { __LINE__, "198.18.1.1", false },
					       { __LINE__, "198.18.1.2", false } },
		  3);
	/* An explicit host that is not the server's. */
	allowed_ips_init(&a, other, 1, host, 2);
	assert_false(allowed_ips_none(&a));
	allowed_ips_init(&a, host, 1, host, 2);
	assert_true(allowed_ips_none(&a));
}

static void test_source(void **state)
{
	uint8_t v4[20] = { 0x45, [12] = 198, 18, 1, 2, 198, 18, 1, 1 };
	uint8_t v6[40] = { 0x60, [8] = 0xfd, 0, 0, 1, [23] = 2, [24] = 0xfd, [27] = 1, [39] = 1 };
	struct cidr src, want;

	(void)state;
	assert_int_equal(allowed_ips_source(v4, sizeof(v4), &src), 0);
	want = parse("198.18.1.2");
	assert_memory_equal(&src, &want, sizeof(src));
	assert_int_equal(allowed_ips_source(v6, sizeof(v6), &src), 0);
	want = parse("fd00:1::2");
	assert_memory_equal(&src, &want, sizeof(src));

	/* Every truncation of the fixed header is refused, with a zeroed source. */
	for (size_t len = 0; len < sizeof(v4); len++) {
		memset(&src, 0xee, sizeof(src));
		assert_int_equal(allowed_ips_source(v4, len, &src), -EPROTO);
		assert_int_equal(src.family, 0);
	}
	for (size_t len = 0; len < sizeof(v6); len++) {
		memset(&src, 0xee, sizeof(src));
		assert_int_equal(allowed_ips_source(v6, len, &src), -EPROTO);
		assert_int_equal(src.family, 0);
	}
	/* The version nibble decides; anything but 4 and 6 has no source. */
	for (unsigned v = 0; v < 16; v++) {
		uint8_t p[40] = { (uint8_t)(v << 4) };

		assert_int_equal(allowed_ips_source(p, sizeof(p), &src),
				 v == 4 || v == 6 ? 0 : -EPROTO);
	}
	/* An IPv6 length with an IPv4 version: the IPv4 header's bytes, not IPv6's. */
	v6[0] = 0x45;
	assert_int_equal(allowed_ips_source(v6, sizeof(v6), &src), 0);
	assert_int_equal(src.family, AF_INET);
	assert_memory_equal(src.addr, v6 + 12, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_tun_networks),
		cmocka_unit_test(test_given_replaces_default),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

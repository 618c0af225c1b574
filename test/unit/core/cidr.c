/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/cidr.c: the one prefix parser (config tun-address and route, policy l7-allow, and
 * through config the TUN device). Golden bytes for good prefixes, every malformed shape with
 * the reason given, the length argument honoured on unterminated text, host bits on both
 * sides of every prefix boundary, and formatting back to text.
 */
#include "core/cidr.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void test_parse_good(void **state)
{
	static const struct {
		const char *text;
		uint8_t family, prefix;
		uint8_t addr[16];
		const char *formatted;
	} good[] = {
		{ "198.18.1.1/24", AF_INET, 24, { 198, 18, 1, 1 }, "198.18.1.1/24" },
		{ "fd00:9::/64", AF_INET6, 64, { 0xfd, 0, 0, 9 }, "fd00:9::/64" },
		{ "0.0.0.0/0", AF_INET, 0, { 0 }, "0.0.0.0/0" },
		{ "::/0", AF_INET6, 0, { 0 }, "::/0" },
		{ "255.255.255.255/32", AF_INET, 32, { 255, 255, 255, 255 }, "255.255.255.255/32" },
		{ "fd00::1/128", AF_INET6, 128, { 0xfd, [15] = 1 }, "fd00::1/128" },
		/* A bare address is a host prefix. */
		{ "198.18.1.1", AF_INET, 32, { 198, 18, 1, 1 }, "198.18.1.1/32" },
		{ "fd00::1", AF_INET6, 128, { 0xfd, [15] = 1 }, "fd00::1/128" },
		/* The longest text form of an IPv6 address (45 bytes) still fits the buffer. */
		{ "0000:0000:0000:0000:0000:ffff:255.255.255.255/96",
		  AF_INET6,
		  96,
		  { [10] = 0xff, 0xff, 255, 255, 255, 255 },
		  "::ffff:255.255.255.255/96" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = NULL;
		char buf[CIDR_STR_BYTES];
		struct cidr c;

		if (cidr_parse(good[i].text, strlen(good[i].text), &c, &why) != 0)
			fail_msg("refused '%s': %s", good[i].text, why);
		assert_int_equal(c.family, good[i].family);
		assert_int_equal(c.prefix, good[i].prefix);
		assert_memory_equal(c.addr, good[i].addr, 16);
		assert_ptr_equal(cidr_format(&c, buf, sizeof(buf)), buf);
		assert_string_equal(buf, good[i].formatted);
	}
}

static void test_parse_bad(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "", "no address" },
		{ "/24", "no address" },
		{ "198.18.1.1/", "prefix length must be a decimal number" },
		{ "198.18.1.1/33", "IPv4 prefix length must be 0..32" },
		{ "198.18.1.1/99999999999999999999", "IPv4 prefix length must be 0..32" },
		{ "198.18.1.1/+1", "prefix length must be a decimal number" },
		{ "198.18.1.1/ 1", "prefix length must be a decimal number" },
		{ "198.18.1.1/01", "prefix length must be a decimal number" },
		{ "198.18.1.1/00", "prefix length must be a decimal number" },
		{ "198.18.1.1/24x", "prefix length must be a decimal number" },
		{ "198.18.1.1/24/1", "prefix length must be a decimal number" },
		{ "198.18.1/24", "not an IPv4 or IPv6 address" },
		{ "198.18.1.1 /24", "not an IPv4 or IPv6 address" },
		{ "fd00::1/129", "IPv6 prefix length must be 0..128" },
		{ "fd00::1/-0", "prefix length must be a decimal number" },
		{ "fe80::1%eth0/64", "not an IPv4 or IPv6 address" },
		{ "host.example/24", "not an IPv4 or IPv6 address" },
		{ "::ffff:1.2.3.4.5/64", "not an IPv4 or IPv6 address" },
		/* One byte past the longest address text. */
		{ "00000:0000:0000:0000:0000:ffff:255.255.255.255/96",
		  "not an IPv4 or IPv6 address" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		struct cidr c;

		if (cidr_parse(bad[i].text, strlen(bad[i].text), &c, &why) != -EINVAL)
			fail_msg("accepted '%s'", bad[i].text);
		if (!why || strcmp(why, bad[i].why) != 0)
			fail_msg("'%s': reason '%s', want '%s'", bad[i].text, why ? why : "(none)",
				 bad[i].why);
	}
}

/* Only text[0..len) is read: the rest of the string, and a missing NUL, do not matter. */
static void test_parse_len(void **state)
{
	static const char unterminated[13] = { '1', '9', '8', '.', '1', '8', '.',
					       '1', '.', '1', '/', '2', '4' };
	const char *why = NULL;
	struct cidr c;

	(void)state;
	assert_int_equal(cidr_parse("198.18.1.1/245", 13, &c, &why), 0);
	assert_int_equal(c.prefix, 24);
	assert_int_equal(cidr_parse(unterminated, sizeof(unterminated), &c, &why), 0);
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 24);
	assert_int_equal(cidr_parse("198.18.1.1/24", 10, &c, &why), 0);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(cidr_parse("198.18.1.1/24", 11, &c, &why), -EINVAL);
	assert_string_equal(why, "prefix length must be a decimal number");
	assert_int_equal(cidr_parse("198.18.1.1/24", 0, &c, &why), -EINVAL);
	assert_string_equal(why, "no address");
}

/*
 * For every prefix length, an address with only the last bit inside the prefix set has no
 * host bits, and one with only the first bit past the prefix set has them; cidr_mask clears
 * exactly those.
 */
static void test_host_bits(void **state)
{
	static const uint8_t families[2] = { AF_INET, AF_INET6 };

	(void)state;
	for (size_t f = 0; f < 2; f++) {
		unsigned max = families[f] == AF_INET ? 32 : 128;

		for (unsigned prefix = 0; prefix <= max; prefix++) {
			struct cidr c = { .family = families[f], .prefix = (uint8_t)prefix };

			assert_false(cidr_host_bits_set(&c));
			if (prefix > 0) {
				c.addr[(prefix - 1) / 8] = (uint8_t)(0x80 >> ((prefix - 1) % 8));
				assert_false(cidr_host_bits_set(&c));
				memset(c.addr, 0, sizeof(c.addr));
			}
			if (prefix < max) {
				struct cidr masked;

				c.addr[prefix / 8] = (uint8_t)(0x80 >> (prefix % 8));
				assert_true(cidr_host_bits_set(&c));
				masked = c;
				cidr_mask(&masked);
				assert_false(cidr_host_bits_set(&masked));
				for (size_t i = 0; i < sizeof(masked.addr); i++)
					assert_int_equal(masked.addr[i], 0);
			}
		}
	}
	/* Bytes past an IPv4 address are not its host bits. */
	struct cidr v4 = { .family = AF_INET, .prefix = 15, .addr = { 198, 18, 0, 0, 0xff } };
	assert_false(cidr_host_bits_set(&v4));
	assert_true(cidr_host_bits_set(
		&(struct cidr){ .family = AF_INET, .prefix = 15, .addr = { 198, 19 } }));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_parse_len),
		cmocka_unit_test(test_host_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer harness: arbitrary bytes as an inner IP packet from a client, its source read
 * and matched against a channel's default set (198.18.1.1/24, fd00:1::1/64), as the
 * server's receive path does. A source read must be a /32 or /128 of the packet's bytes.
 */
#include "core/allowed_ips.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cidr tun[] = {
		{ .family = AF_INET, .prefix = 24, .addr = { 198, 18, 1, 1 } },
		{ .family = AF_INET6, .prefix = 64, .addr = { 0xfd, 0, 0, 1, [15] = 1 } },
	};
	struct allowed_ips a;
	struct cidr src;

	allowed_ips_init(&a, NULL, 0, tun, 2);
	if (allowed_ips_source(data, size, &src) < 0)
		return 0;
	if (src.family == AF_INET ? size < 20 || memcmp(src.addr, data + 12, 4) != 0
				  : size < 40 || memcmp(src.addr, data + 8, 16) != 0)
		abort();
	allowed_ips_match(&a, &src);
	return 0;
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer harness: an IP_GSO record's body, a virtio_net_hdr and its packet, through
 * vnet_check (docs/TUN.md "Offloads"). What it accepts must keep the promises the kernel
 * relies on: a checksum field inside the packet, GSO only for TCP with a segment size of
 * at least VNET_MIN_GSO_BYTES below the payload. vnet_one_segment_fix must never turn an
 * accepted packet into a refused one. Any broken promise aborts.
 */
#include "core/ip.h"
#include "core/limits.h"
#include "core/vnet.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_BYTES (VNET_HDR_BYTES + 65535)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t copy[FUZZ_MAX_BYTES];
	enum vnet_verdict v = vnet_check(data, size);
	struct vnet_hdr h;
	struct ip_info ip;

	if (vnet_verdict_str(v) == NULL)
		abort();
	if (size > FUZZ_MAX_BYTES)
		return 0;
	memcpy(copy, data, size);
	vnet_one_segment_fix(copy, size);
	if (v == VNET_OK && vnet_check(copy, size) != VNET_OK)
		abort();
	if (v != VNET_OK)
		return 0;

	if (!vnet_hdr_read(data, size, &h) ||
	    ip_parse(data + VNET_HDR_BYTES, size - VNET_HDR_BYTES, &ip) < 0)
		abort();
	if ((h.flags & VNET_F_NEEDS_CSUM) &&
	    ((size_t)h.csum_start + h.csum_offset + 2 > ip.len || h.csum_start != ip.hdr_bytes ||
	     (ip.proto != IPPROTO_TCP && ip.proto != IPPROTO_UDP)))
		abort();
	if (h.gso_type != VNET_GSO_NONE &&
	    (!(h.flags & VNET_F_NEEDS_CSUM) || ip.proto != IPPROTO_TCP ||
	     h.gso_size < VNET_MIN_GSO_BYTES || h.gso_size >= ip.len - ip.hdr_bytes))
		abort();
	return 0;
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * An HTTP body as it arrives: body_next over arbitrary bytes, and each DATA frame's
 * ciphertext region decoded as if it were the plaintext (decryption is not the codec's
 * business; this reaches record_next and the L7 decoders through the body path).
 */
#include "records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = cursor_make(data, size);
	struct body_msg m;
	size_t at = 0;
	int rc;

	while ((rc = body_next(&c, &m)) == 1) {
		FUZZ_CHECK(m.whole.p == data + at);
		FUZZ_CHECK(m.whole.len <= size - at);
		FUZZ_CHECK(m.whole.p[0] == m.type);
		at += m.whole.len;
		switch (m.type) {
		case MSG_INIT:
			FUZZ_CHECK(m.whole.len == MSG_INIT_BYTES);
			break;
		case MSG_RESPONSE:
			FUZZ_CHECK(m.whole.len == MSG_RESPONSE_BYTES);
			break;
		case MSG_POLL:
			FUZZ_CHECK(m.whole.len == MSG_POLL_BYTES);
			break;
		case MSG_DATA:
			FUZZ_CHECK(m.hdr.length <= FRAME_MAX_PLAINTEXT_BYTES);
			FUZZ_CHECK(m.whole.len == FRAME_OVERHEAD_BYTES + m.hdr.length);
			fuzz_plaintext(m.whole.p + FRAME_HEADER_BYTES, m.hdr.length);
			break;
		default:
			FUZZ_CHECK(0);
		}
	}
	FUZZ_CHECK(rc == 0 || rc == -EPROTO);
	FUZZ_CHECK(c.p == data + at);
	if (rc == 0)
		FUZZ_CHECK(at == size);
	return 0;
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * A decrypted DATA plaintext: record_next and every L7 decoder, each record re-encoded
 * and compared. The whole input is also handed to each L7 decoder as a record body, so
 * the decoders see lengths that record_next would never produce for them.
 */
#include "records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct span all = { data, size };
	struct l7_open o;
	struct l7_data d;
	struct l7_window w;
	struct l7_reset r;

	fuzz_plaintext(data, size);

	if (l7_open_decode(all, &o) == 0)
		FUZZ_CHECK(o.stream && o.port && o.host_len == size - L7_OPEN_FIXED_BYTES);
	if (l7_data_decode(all, &d) == 0)
		FUZZ_CHECK(d.stream && d.data.len == size - L7_DATA_FIXED_BYTES &&
			   (d.data.len || (d.flags & L7_DATA_FIN)));
	if (l7_window_decode(all, &w) == 0)
		FUZZ_CHECK(size == L7_WINDOW_BYTES && w.stream);
	if (l7_reset_decode(all, &r) == 0)
		FUZZ_CHECK(size == L7_RESET_BYTES && r.stream && r.reason <= L7_RESET_MAX);
	return 0;
}

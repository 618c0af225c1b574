/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer harness: the replay window against a literal model of its rule (docs/
 * PROTOCOL.md section 4). Input: 5-byte steps; byte 0 bit 0 selects an absolute 32-bit
 * counter or a signed 32-bit step from the newest accepted one (bytes 1..4, big-endian).
 * Any disagreement aborts.
 */
#include "core/cursor.h"
#include "core/replay.h"

#include <stdint.h>
#include <stdlib.h>

#define FUZZ_MAX_STEPS 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t seen[FUZZ_MAX_STEPS];
	struct replay r;
	struct cursor c = cursor_make(data, size);
	uint64_t newest = 0;
	size_t nseen = 0;
	uint8_t mode;
	uint32_t v;

	replay_init(&r);
	while (nseen < FUZZ_MAX_STEPS && cur_u8(&c, &mode) && cur_u32(&c, &v)) {
		uint64_t counter = (mode & 1) ? v : newest + (uint64_t)(int64_t)(int32_t)v;
		bool want, got, dup = false;

		for (size_t i = 0; i < nseen; i++)
			dup |= seen[i] == counter;
		want = counter < REJECT_AFTER_FRAMES &&
		       (nseen == 0 || counter > newest ||
			(newest - counter < REPLAY_WINDOW_FRAMES && !dup));
		got = replay_check(&r, counter);
		if (got != want)
			abort();
		if (got) {
			replay_update(&r, counter);
			if (replay_check(&r, counter))
				abort();
			seen[nseen++] = counter;
			if (nseen == 1 || counter > newest)
				newest = counter;
		}
	}
	return 0;
}

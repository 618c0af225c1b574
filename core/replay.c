/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/replay.h"

#include <assert.h>
#include <string.h>

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

static size_t replay_index(uint64_t counter)
{
	return (size_t)((counter / REPLAY_WORD_BITS) & (REPLAY_WORDS - 1));
}

static uint64_t replay_bit(uint64_t counter)
{
	return 1ULL << (counter % REPLAY_WORD_BITS);
}

bool replay_check(const struct replay *r, uint64_t counter)
{
	if (counter >= REJECT_AFTER_FRAMES)
		return false;
	if (counter >= r->next)
		return true;
	/* next > counter here, so next - 1 is the newest accepted counter. */
	if (r->next - 1 - counter >= REPLAY_WINDOW_FRAMES)
		return false;
	return !(r->bitmap[replay_index(counter)] & replay_bit(counter));
}

void replay_update(struct replay *r, uint64_t counter)
{
	assert(replay_check(r, counter));
	if (counter >= r->next) {
		/*
		 * Moving forward: the words past the newest one are reused for newer counters,
		 * so clear them (all of them at most once, however far the jump). Before the
		 * first counter the bitmap is still all zero from replay_init.
		 */
		if (r->next) {
			uint64_t old_word = (r->next - 1) / REPLAY_WORD_BITS;
			uint64_t diff = counter / REPLAY_WORD_BITS - old_word;

			if (diff > REPLAY_WORDS)
				diff = REPLAY_WORDS;
			for (uint64_t i = 1; i <= diff; i++)
				r->bitmap[(old_word + i) & (REPLAY_WORDS - 1)] = 0;
		}
		r->next = counter + 1;
	}
	r->bitmap[replay_index(counter)] |= replay_bit(counter);
}

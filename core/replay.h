/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Receive-side replay window for frame counters (docs/PROTOCOL.md section 4): an RFC 6479
 * ring of REPLAY_WINDOW_BITS bits. A counter is accepted if it is newer than every counter
 * accepted so far, or if it lies within the REPLAY_WINDOW_FRAMES newest counters and has
 * not been accepted yet. Counters at or above REJECT_AFTER_FRAMES are never accepted: no
 * honest sender seals them.
 *
 * Checking and updating are separate so that the window moves only for authenticated
 * frames: replay_check() is pure and may run before decryption (to drop replays without
 * spending AES work on them); replay_update() runs only after the frame has opened.
 */
#ifndef HTTUN_CORE_REPLAY_H
#define HTTUN_CORE_REPLAY_H

#include "core/limits.h"

#include <stdbool.h>
#include <stdint.h>

#define REPLAY_WORD_BITS 64
#define REPLAY_WORDS (REPLAY_WINDOW_BITS / REPLAY_WORD_BITS)

_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0 && REPLAY_WORDS >= 2,
	       "REPLAY_WINDOW_BITS must be a power of two of at least 128");

struct replay {
	/* Newest accepted counter + 1; 0 while nothing has been accepted. */
	uint64_t next;
	/* Bit c % 64 of word (c / 64) % REPLAY_WORDS is set once counter c is accepted. */
	uint64_t bitmap[REPLAY_WORDS];
};

void replay_init(struct replay *r);
/* Would counter be accepted? Changes nothing. */
bool replay_check(const struct replay *r, uint64_t counter);
/*
 * Record counter as seen. Call only for a counter that replay_check() accepted and whose
 * frame has authenticated since.
 */
void replay_update(struct replay *r, uint64_t counter);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * The clear header of DATA and POLL frames (docs/PROTOCOL.md section 4). Parsing the
 * header only bounds-checks it; nothing in it is trusted until the frame has opened.
 */
#ifndef HTTUN_CORE_FRAME_H
#define HTTUN_CORE_FRAME_H

#include "core/cursor.h"
#include "core/limits.h"

#include <errno.h>
#include <stdint.h>

enum msg_type {
	MSG_INIT = 1,
	MSG_RESPONSE = 2,
	MSG_DATA = 3,
	MSG_POLL = 4,
};

#define MSG_INIT_BYTES 64
#define MSG_RESPONSE_BYTES 60
#define MSG_POLL_BYTES FRAME_OVERHEAD_BYTES

#define FRAME_FLAG_REKEY 0x01
#define FRAME_FLAGS_KNOWN FRAME_FLAG_REKEY

struct frame_header {
	uint8_t type;
	uint8_t flags;
	uint32_t length; /* ciphertext bytes, tag excluded */
	uint32_t receiver;
	uint64_t counter;
};

/*
 * Parse and bound-check the header at p (avail bytes available). On success the whole
 * frame, FRAME_HEADER_BYTES + h->length + FRAME_TAG_BYTES, lies within avail.
 * Returns 0 or -EPROTO.
 */
static inline int frame_header_parse(const uint8_t *p, size_t avail, struct frame_header *h)
{
	struct cursor c = cursor_make(p, avail);
	uint16_t reserved;

	if (!cur_u8(&c, &h->type) || !cur_u8(&c, &h->flags) || !cur_u16(&c, &reserved) ||
	    !cur_u32(&c, &h->length) || !cur_u32(&c, &h->receiver) || !cur_u64(&c, &h->counter))
		return -EPROTO;
	if (h->type != MSG_DATA && h->type != MSG_POLL)
		return -EPROTO;
	if (reserved != 0 || (h->flags & ~FRAME_FLAGS_KNOWN))
		return -EPROTO;
	if (h->length > FRAME_MAX_PLAINTEXT_BYTES || (h->type == MSG_POLL && h->length != 0))
		return -EPROTO;
	if (c.len < (size_t)h->length + FRAME_TAG_BYTES)
		return -EPROTO;
	return 0;
}

#endif

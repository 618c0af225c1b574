/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Test-only hooks into core/session.c, for unit tests and fuzz harnesses. Production code
 * never includes this header: a send counter set by hand can reuse a nonce.
 */
#ifndef HTTUN_CORE_SESSION_TEST_H
#define HTTUN_CORE_SESSION_TEST_H

#include "core/session.h"

/* Make the next session_seal use counter `sent`, so tests reach the limits quickly. */
void session_test_set_sent(struct session *s, uint64_t sent);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Channel key files: exactly one standard-base64 32-byte key, surrounding whitespace
 * allowed, and not readable or writable by group or others.
 */
#ifndef HTTUN_CORE_KEYFILE_H
#define HTTUN_CORE_KEYFILE_H

#include "core/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Standard base64 of PSK_BYTES with padding, plus the terminating NUL. */
#define KEY_BASE64_BYTES 45

/* Encode a key as one base64 line (no newline) into out[KEY_BASE64_BYTES]. */
void keyfile_encode(const uint8_t key[PSK_BYTES], char out[KEY_BASE64_BYTES]);

/*
 * Decode text holding exactly one key with optional surrounding whitespace.
 * Returns 0, or -EINVAL with a reason for the user in *why.
 */
int keyfile_decode(const char *text, size_t len, uint8_t key[PSK_BYTES], const char **why);

/*
 * Refuse a secret file (what: "key file", "TLS key file") whose mode lets group or others
 * read or write it: -EPERM with a message in err that says how to fix it, else 0.
 */
int keyfile_check_private(const char *what, const char *path, mode_t mode, char *err,
			  size_t errlen);

/*
 * Load a key file. Refuses files that group or others may read or write (-EPERM), and
 * anything that is not one key (-EINVAL). On error, err holds a message that names the
 * file and says how to fix it. The caller owns key (sodium_malloc'd memory, ideally).
 */
int keyfile_load(const char *path, uint8_t key[PSK_BYTES], char *err, size_t errlen);

#endif

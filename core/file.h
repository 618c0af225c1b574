/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Small files the user names: the config file and key files. Only regular files are read:
 * a directory or a device given by mistake (/dev/zero never ends) is refused.
 */
#ifndef HTTUN_CORE_FILE_H
#define HTTUN_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Read the regular file at path into buf, to its end or until cap bytes: a caller that must
 * tell "exactly its limit" from "too large" passes one byte more than it allows and checks
 * *len. On success returns 0 with *len and, when mode is not NULL, the file's st_mode.
 * Returns -EINVAL when path is not a regular file, or the negative errno of open, fstat or
 * read. buf may hold part of the file after a failure: a caller reading secrets wipes it.
 */
int file_read_regular(const char *path, void *buf, size_t cap, size_t *len, mode_t *mode);

/* What a file_read_regular failure means, for the user: "not a regular file", strerror. */
const char *file_strerror(int err);

#endif

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Unix socket files that httun listens on (the relay socket of `httun server`, the
 * FastCGI socket of `httun fcgi --listen`): the checks before binding one. Nothing here
 * prints; callers say what went wrong.
 */
#ifndef HTTUN_CORE_UNIXSOCK_H
#define HTTUN_CORE_UNIXSOCK_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Creates the directory that holds path (absolute) when it is missing: mode 0750, group
 * gid unless (gid_t)-1, so that gid's members can reach a socket inside. Returns 1 when it
 * was created, 0 when a directory is there already, or a negative errno (-ENOTDIR when
 * something else is).
 */
int unixsock_make_dir(const char *path, gid_t gid);
/* Whether something accepts connections on the Unix stream socket at path. */
bool unixsock_alive(const char *path);
/*
 * Checks the directory that holds path (absolute): owned by root or by this process's
 * effective user, and writable by neither group nor others, so that nobody else can
 * replace the socket file (or put a symlink in its place) after it is bound. Returns 0,
 * -EPERM for a directory that fails this, or another negative errno from stat.
 */
int unixsock_dir_check(const char *path);
/*
 * Clears the way for binding path: nothing there is fine; a socket nobody accepts on
 * (left by a killed process) is removed. Returns 0, -EADDRINUSE when a live socket is
 * there, -EEXIST when something that is not a socket is, or another negative errno.
 */
int unixsock_clear_stale(const char *path);

#endif

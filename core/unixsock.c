/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/unixsock.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* The directory part of path (absolute) into dir[PATH_MAX]: "/" for "/x". */
static int dir_of(const char *path, char dir[PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash || path[0] != '/')
		return -EINVAL;
	len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dir, path, len);
	dir[len] = '\0';
	return 0;
}

int unixsock_make_dir(const char *path, gid_t gid)
{
	char dir[PATH_MAX];
	struct stat st;
	int err = dir_of(path, dir);

	if (err < 0)
		return err;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	if (mkdir(dir, 0750) < 0)
		return -errno;
	if (gid != (gid_t)-1 && lchown(dir, (uid_t)-1, gid) < 0)
		return -errno;
	return 1;
}

bool unixsock_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	bool alive;

	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

int unixsock_dir_check(const char *path)
{
	char dir[PATH_MAX];
	struct stat st;
	int err = dir_of(path, dir);

	if (err < 0)
		return err;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return 0;
}

int unixsock_clear_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (unixsock_alive(path))
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

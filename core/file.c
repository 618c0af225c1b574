/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read_regular(const char *path, void *buf, size_t cap, size_t *len, mode_t *mode)
{
	struct stat st;
	ssize_t n;
	int fd, ret = 0;

	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if (mode)
		*mode = st.st_mode;
	while (*len < cap) {
		n = read(fd, (char *)buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
out:
	close(fd);
	return ret;
}

const char *file_strerror(int err)
{
	return err == -EINVAL ? "not a regular file" : strerror(-err);
}

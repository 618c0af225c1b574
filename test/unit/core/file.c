/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * core/file.c: whole files, files cut at the cap (at it and one past it), empty files, the
 * mode handed back, and the refusals: a directory, a device, a missing file.
 */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[] = "/tmp/httun-file-XXXXXX";
static char path[128];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/f", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return rmdir(dir);
}

static void write_file(const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_read(void **state)
{
	char buf[16];
	size_t len = 99;
	mode_t mode = 0;

	(void)state;
	write_file("0123456789", 10, 0640);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(file_read_regular(path, buf, sizeof(buf), &len, &mode), 0);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "0123456789xxxxxx", 16);
	assert_true(S_ISREG(mode));
	assert_int_equal(mode & 07777, 0640);

	/* Exactly the cap, and one byte past it: cap bytes either way, the caller can tell. */
	assert_int_equal(file_read_regular(path, buf, 10, &len, NULL), 0);
	assert_int_equal(len, 10);
	assert_int_equal(file_read_regular(path, buf, 11, &len, NULL), 0);
	assert_int_equal(len, 10);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(file_read_regular(path, buf, 9, &len, NULL), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(buf, "012345678x", 10);
	assert_int_equal(file_read_regular(path, buf, 0, &len, NULL), 0);
	assert_int_equal(len, 0);

	write_file("", 0, 0600);
	len = 99;
	assert_int_equal(file_read_regular(path, buf, sizeof(buf), &len, &mode), 0);
	assert_int_equal(len, 0);
	assert_int_equal(mode & 07777, 0600);
}

static void test_refuse(void **state)
{
	char buf[16];
	size_t len = 99;
	mode_t mode = 0;

	(void)state;
	assert_int_equal(file_read_regular(dir, buf, sizeof(buf), &len, &mode), -EINVAL);
	assert_int_equal(len, 0);
	assert_int_equal(mode, 0);
	/* /dev/zero would fill any cap: a device is refused before a byte is read. */
	assert_int_equal(file_read_regular("/dev/zero", buf, sizeof(buf), &len, NULL), -EINVAL);
	assert_int_equal(len, 0);
	unlink(path);
	assert_int_equal(file_read_regular(path, buf, sizeof(buf), &len, NULL), -ENOENT);

	assert_string_equal(file_strerror(-EINVAL), "not a regular file");
	assert_string_equal(file_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(file_strerror(-EACCES), strerror(EACCES));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_refuse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

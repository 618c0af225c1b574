/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

/* 32 bytes 0x00..0x1f, in base64. */
static const char golden_b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void test_encode_golden(void **state)
{
	uint8_t key[PSK_BYTES];
	char out[KEY_BASE64_BYTES];

	(void)state;
	for (int i = 0; i < PSK_BYTES; i++)
		key[i] = (uint8_t)i;
	keyfile_encode(key, out);
	assert_string_equal(out, golden_b64);
}

static void test_decode_whitespace(void **state)
{
	const char *text = "  \n\t"
			   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
			   "\r\n\n ";
	const char *why = NULL;
	uint8_t key[PSK_BYTES];

	(void)state;
	assert_int_equal(keyfile_decode(text, strlen(text), key, &why), 0);
	for (int i = 0; i < PSK_BYTES; i++)
		assert_int_equal(key[i], i);
}

static void test_decode_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"   \n",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", /* no padding */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8= x",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"AAECAwQFBgcICQoLDA0O DxAREhMUFRYXGBkaGxwdHh8=",
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh-=", /* url-safe char */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=", /* non-canonical last char */
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==", /* 31 bytes */
	};
	uint8_t key[PSK_BYTES];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;

		assert_int_equal(keyfile_decode(bad[i], strlen(bad[i]), key, &why), -EINVAL);
		assert_non_null(why);
	}
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_load_permissions(void **state)
{
	char dir[] = "/tmp/httun-keyfile-XXXXXX";
	char path[128], err[512];
	uint8_t key[PSK_BYTES];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);

	write_file(path, golden_b64, 0600);
	assert_int_equal(keyfile_load(path, key, err, sizeof(err)), 0);
	assert_int_equal(key[31], 31);
	write_file(path, golden_b64, 0400);
	assert_int_equal(keyfile_load(path, key, err, sizeof(err)), 0);

	static const mode_t loose[] = { 0640, 0604, 0660, 0644, 0666, 0610, 0601, 0620, 0602 };
	for (size_t i = 0; i < sizeof(loose) / sizeof(loose[0]); i++) {
		write_file(path, golden_b64, loose[i]);
		err[0] = 0;
		assert_int_equal(keyfile_load(path, key, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "chmod 600"));
		assert_non_null(strstr(err, path));
	}

	write_file(path, "not a key\n", 0600);
	assert_int_equal(keyfile_load(path, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "httun genkey"));

	unlink(path);
	assert_int_equal(keyfile_load(path, key, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, path));
	assert_int_equal(keyfile_load(dir, key, err, sizeof(err)) < 0, 1);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_golden),
		cmocka_unit_test(test_decode_whitespace),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_load_permissions),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

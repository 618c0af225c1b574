/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/keyfile.h"
#include "core/file.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void keyfile_encode(const uint8_t key[PSK_BYTES], char out[KEY_BASE64_BYTES])
{
	sodium_bin2base64(out, KEY_BASE64_BYTES, key, PSK_BYTES, sodium_base64_VARIANT_ORIGINAL);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int keyfile_decode(const char *text, size_t len, uint8_t key[PSK_BYTES], const char **why)
{
	size_t start = 0, end = len, bin_len = 0;
	const char *b64_end = NULL;

	while (start < end && is_space(text[start]))
		start++;
	while (end > start && is_space(text[end - 1]))
		end--;
	if (start == end) {
		*why = "it is empty";
		return -EINVAL;
	}
	if (end - start != KEY_BASE64_BYTES - 1) {
		*why = "it does not hold exactly one base64 key of 32 bytes (44 characters)";
		return -EINVAL;
	}
	if (sodium_base642bin(key, PSK_BYTES, text + start, end - start, NULL, &bin_len, &b64_end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != PSK_BYTES || b64_end != text + end) {
		sodium_memzero(key, PSK_BYTES);
		*why = "it is not valid base64 of a 32-byte key";
		return -EINVAL;
	}
	return 0;
}

int keyfile_check_private(const char *what, const char *path, mode_t mode, char *err, size_t errlen)
{
	/* A key others can read is a key others have: refuse rather than warn. */
	if (mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "%s %s: permissions %04o let group or others access it; "
			 "fix with: chmod 600 %s",
			 what, path, (unsigned)(mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

int keyfile_load(const char *path, uint8_t key[PSK_BYTES], char *err, size_t errlen)
{
	/* One byte more than allowed, to tell "exactly the limit" from "too large". */
	char buf[KEY_FILE_MAX_BYTES + 1];
	const char *why = NULL;
	size_t len = 0;
	mode_t mode = 0;
	int ret;

	ret = file_read_regular(path, buf, sizeof(buf), &len, &mode);
	if (ret < 0) {
		snprintf(err, errlen, "key file %s: %s", path, file_strerror(ret));
		goto out;
	}
	ret = keyfile_check_private("key file", path, mode, err, errlen);
	if (ret < 0)
		goto out;
	if (len > KEY_FILE_MAX_BYTES) {
		ret = -EINVAL;
		snprintf(err, errlen, "key file %s: larger than %d bytes, not a key file", path,
			 KEY_FILE_MAX_BYTES);
		goto out;
	}
	ret = keyfile_decode(buf, len, key, &why);
	if (ret < 0)
		snprintf(err, errlen, "key file %s: %s; make one with: httun genkey > %s", path,
			 why, path);
out:
	sodium_memzero(buf, sizeof(buf));
	return ret;
}

/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Test certificates made at test time with the OpenSSL API (nothing committed can expire):
 * P-256 keys, certificates with a chosen validity, names and issuer, written as PEM files
 * into a temporary directory. Shared by test/unit/transport/tls.c and the fuzz harness
 * test/fuzz/transport_tls.c. Every function returns NULL or -1 on failure.
 */
#ifndef HTTUN_TEST_TLS_CERTS_H
#define HTTUN_TEST_TLS_CERTS_H

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static inline EVP_PKEY *tc_key(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static inline int tc_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * A certificate for key named cn, valid from now + from_s to now + to_s, with the
 * subjectAltName san ("DNS:a.example,IP:192.0.2.1") unless NULL, signed by issuer with
 * issuer_key (both NULL: self-signed). ca makes it a CA.
 */
static inline X509 *tc_cert(EVP_PKEY *key, const char *cn, const char *san, long from_s, long to_s,
			    bool ca, X509 *issuer, EVP_PKEY *issuer_key)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), serial++) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), from_s) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), to_s) || !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !tc_ext(x, issuer ? issuer : x, NID_basic_constraints,
		    ca ? "critical,CA:TRUE" : "CA:FALSE") ||
	    !tc_ext(x, issuer ? issuer : x, NID_subject_key_identifier, "hash") ||
	    (ca && !tc_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) ||
	    (san && !tc_ext(x, issuer ? issuer : x, NID_subject_alt_name, san)) ||
	    !X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* Write certificates (a chain: leaf first) as PEM into path, mode 0644. */
static inline int tc_write_certs(const char *path, X509 *const *certs, int n)
{
	FILE *f = fopen(path, "w");
	int ok = f != NULL;

	for (int i = 0; ok && i < n; i++)
		ok = PEM_write_X509(f, certs[i]);
	if (f && fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

/* Write key as unencrypted PEM into path with the given mode. */
static inline int tc_write_key(const char *path, EVP_PKEY *key, mode_t mode)
{
	int fd, ok;
	FILE *f;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -1;
	if (fchmod(fd, mode) != 0 || !(f = fdopen(fd, "w"))) {
		close(fd);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

#endif

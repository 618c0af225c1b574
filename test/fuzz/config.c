/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * libFuzzer harness: arbitrary bytes as a config file, then the whole-configuration
 * checks and a policy lookup on every channel parsed; the same bytes as one l7-allow
 * rule and as a forward. ASan/UBSan and LeakSanitizer catch the rest.
 */
#include "core/config.h"
#include "core/policy.h"

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONFIG_ERR_BYTES];
	struct config *cfg = config_new();

	if (!cfg)
		return 0;
	if (config_parse(cfg, "fuzz.conf", (const char *)data, size, err, sizeof(err)) == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(0x7f000001) };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

		sin6.sin6_addr.s6_addr[0] = 0xfd;
		for (size_t i = 0; i < cfg->n_channels; i++) {
			policy_check(&cfg->channels[i].l7, (const struct sockaddr *)&sin, 22);
			policy_check(&cfg->channels[i].l7, (const struct sockaddr *)&sin6, 443);
		}
		config_check_server(cfg, err, sizeof(err));
		config_check_client(cfg, err, sizeof(err));
	}
	config_free(cfg);

	/* The validators take NUL-terminated values, as flags are. */
	if (size <= 512) {
		char *s = malloc(size + 1);
		struct policy_rule rule;
		struct config_forward fw;
		struct config_url url;

		if (!s)
			return 0;
		memcpy(s, data, size);
		s[size] = '\0';
		policy_rule_parse(s, &rule, err, sizeof(err));
		config_parse_forward(s, &fw, err, sizeof(err));
		config_parse_url(s, &url, err, sizeof(err));
		free(s);
	}
	return 0;
}

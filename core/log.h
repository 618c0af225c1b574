/* SPDX-License-Identifier: MIT OR Apache-2.0 */
/*
 * Logging in the shape of OpenBSD's log.c: log_warn adds strerror(errno), the x variants
 * do not; fatal and fatalx exit. Lines go to stderr. errno is preserved.
 * Never log keys, nonces or payload bytes.
 */
#ifndef HTTUN_CORE_LOG_H
#define HTTUN_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdnoreturn.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

#define LOG_PRINTF(f, a) __attribute__((format(printf, f, a)))

void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "debug", "info", "warn" or "error"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
/* Runtime failure: log and exit 1. */
noreturn void fatal(const char *fmt, ...) LOG_PRINTF(1, 2);
noreturn void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * Rate limit for lines a peer can trigger: LOG_RATELIMIT_BURST lines per
 * LOG_RATELIMIT_INTERVAL_MS. ratelimit_allow() returns true when a line may be printed;
 * when it returns true after a quiet interval, *suppressed says how many were dropped.
 */
struct ratelimit {
	uint64_t window_start_ms;
	uint32_t in_window;
	uint32_t suppressed;
};

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms, uint32_t *suppressed);

/* Milliseconds from CLOCK_MONOTONIC. */
uint64_t clock_now_ms(void);

/*
 * Nanoseconds since the Unix epoch from CLOCK_REALTIME: only for the INIT timestamp
 * (docs/PROTOCOL.md section 3), never for timeouts.
 */
uint64_t clock_realtime_ns(void);

/* log_warnx through a static rate limit at the call site. */
#define log_warnx_rl(...)                                                                          \
	do {                                                                                       \
		static struct ratelimit rl_;                                                       \
		uint32_t supp_;                                                                    \
		if (ratelimit_allow(&rl_, clock_now_ms(), &supp_)) {                               \
			if (supp_)                                                                 \
				log_warnx("(%u similar lines suppressed)", supp_);                 \
			log_warnx(__VA_ARGS__);                                                    \
		}                                                                                  \
	} while (0)

#endif

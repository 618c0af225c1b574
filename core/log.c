/* SPDX-License-Identifier: MIT OR Apache-2.0 */
#include "core/log.h"
#include "core/limits.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *log_progname = "httun";
static enum log_level log_level = LOG_LEVEL_INFO;

void log_init(const char *progname, enum log_level level)
{
	if (progname)
		log_progname = progname;
	log_level = level;
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{ "error", LOG_LEVEL_ERROR },  { "warn", LOG_LEVEL_WARN },
		{ "warning", LOG_LEVEL_WARN }, { "info", LOG_LEVEL_INFO },
		{ "debug", LOG_LEVEL_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static void log_vline(enum log_level level, const char *emsg, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void log_vline(enum log_level level, const char *emsg, const char *fmt, va_list ap)
{
	static const char *const tags[] = { "error", "warning", "info", "debug" };
	char msg[1024];
	int saved = errno;

	if (level > log_level) {
		errno = saved;
		return;
	}
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (emsg)
		fprintf(stderr, "%s: %s: %s: %s\n", log_progname, tags[level], msg, emsg);
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname, tags[level], msg);
	errno = saved;
}

void log_warn(const char *fmt, ...)
{
	const char *emsg = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LEVEL_WARN, emsg, fmt, ap);
	va_end(ap);
}

#define LOG_FN(name, level)                                                                        \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		log_vline(level, NULL, fmt, ap);                                                   \
		va_end(ap);                                                                        \
	}

LOG_FN(log_warnx, LOG_LEVEL_WARN)
LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)

void fatal(const char *fmt, ...)
{
	const char *emsg = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LEVEL_ERROR, emsg, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms, uint32_t *suppressed)
{
	*suppressed = 0;
	if (rl->in_window == 0 || now_ms - rl->window_start_ms >= LOG_RATELIMIT_INTERVAL_MS) {
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
		rl->window_start_ms = now_ms;
		rl->in_window = 1;
		return true;
	}
	if (rl->in_window < LOG_RATELIMIT_BURST) {
		rl->in_window++;
		return true;
	}
	rl->suppressed++;
	return false;
}

uint64_t clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t clock_realtime_ns(void)
{
	struct timespec ts;

	/* A clock set before 1970 counts as 1970; peer_handshake_start still moves on. */
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

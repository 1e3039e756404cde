/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log: leveled, module-tagged logging to stderr.
 *
 * Each .c file defines LOG_TAG before including this header. The level is
 * checked before the arguments are evaluated. Under systemd (JOURNAL_STREAM
 * set) lines carry "<N>" priority prefixes so journald keeps the levels;
 * otherwise they carry an ISO-8601 UTC timestamp.
 */
#ifndef FARNODE_LOG_H
#define FARNODE_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

extern int log__level;

/* Set the threshold; messages above it are dropped. */
void log_set_level(int level);
int log_get_level(void);
/* Parse "error|warn|info|debug" into *level. Returns 0 or -EINVAL. */
int log_level_parse(const char *name, int *level);
const char *log_level_name(int level);

/*
 * Redirect formatted lines (without trailing newline) to fn; NULL restores
 * stderr. Used by tests to capture output. Borrowed ud.
 */
typedef void (*log_sink_fn)(int level, const char *line, void *ud);
void log_set_sink(log_sink_fn fn, void *ud);
/* Re-read JOURNAL_STREAM (normally done once at first write). */
void log_detect_journal(void);

void log_write(int level, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifndef LOG_TAG
#define LOG_TAG "farnode"
#endif

#define log__at(lvl, ...)                                   \
	do {                                                \
		if ((lvl) <= log__level) {                  \
			log_write((lvl), LOG_TAG, __VA_ARGS__); \
		}                                           \
	} while (0)

#define log_error(...) log__at(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...) log__at(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log__at(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log__at(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * Rate limiter for per-peer warnings: at most `burst` messages per
 * `window_ms`. log_rl_allow() returns true when a message may be written;
 * suppressed messages are counted and reported by the caller via
 * rl->suppressed (reset when the next window opens and a line is let through).
 */
struct log_rl {
	uint64_t window_start_ms;
	uint32_t in_window;
	uint32_t suppressed;
};

bool log_rl_allow(struct log_rl *rl, uint64_t now_ms, uint32_t burst,
		  uint64_t window_ms, uint32_t *suppressed_before);

#endif

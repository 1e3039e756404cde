// SPDX-License-Identifier: Apache-2.0
/*
 * log: implementation of the leveled logger (see log.h).
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int log__level = LOG_LVL_INFO;

static log_sink_fn sink_fn;
static void *sink_ud;
static int journal = -1; /* -1 unknown, 0 no, 1 yes */

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities: err=3, warning=4, info=6, debug=7 */
static const int level_prio[] = {3, 4, 6, 7};

void log_set_level(int level)
{
	if (level < LOG_LVL_ERROR) {
		level = LOG_LVL_ERROR;
	}
	if (level > LOG_LVL_DEBUG) {
		level = LOG_LVL_DEBUG;
	}
	log__level = level;
}

int log_get_level(void)
{
	return log__level;
}

int log_level_parse(const char *name, int *level)
{
	for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	if (strcmp(name, "warning") == 0) {
		*level = LOG_LVL_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(int level)
{
	if (level < 0 || level > LOG_LVL_DEBUG) {
		return "?";
	}
	return level_names[level];
}

void log_set_sink(log_sink_fn fn, void *ud)
{
	sink_fn = fn;
	sink_ud = ud;
}

void log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	journal = (js != NULL && js[0] != '\0') ? 1 : 0;
}

void log_write(int level, const char *tag, const char *fmt, ...)
{
	char msg[1024];
	char line[1200];
	va_list ap;

	if (level < LOG_LVL_ERROR || level > LOG_LVL_DEBUG) {
		level = LOG_LVL_ERROR;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (journal < 0) {
		log_detect_journal();
	}
	if (journal == 1) {
		snprintf(line, sizeof(line), "<%d>%s: %s", level_prio[level],
			 tag, msg);
	} else {
		struct timeval tv;
		struct tm tm;
		char ts[32];

		gettimeofday(&tv, NULL);
		time_t secs = tv.tv_sec;
		gmtime_r(&secs, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(line, sizeof(line), "%s.%03dZ %-5s %s: %s", ts,
			 (int)(tv.tv_usec / 1000), level_names[level], tag, msg);
	}
	if (sink_fn != NULL) {
		sink_fn(level, line, sink_ud);
		return;
	}
	fprintf(stderr, "%s\n", line);
}

bool log_rl_allow(struct log_rl *rl, uint64_t now_ms, uint32_t burst,
		  uint64_t window_ms, uint32_t *suppressed_before)
{
	if (suppressed_before != NULL) {
		*suppressed_before = 0;
	}
	if (rl->window_start_ms == 0 || now_ms < rl->window_start_ms ||
	    now_ms - rl->window_start_ms >= window_ms) {
		if (suppressed_before != NULL) {
			*suppressed_before = rl->suppressed;
		}
		rl->window_start_ms = now_ms == 0 ? 1 : now_ms;
		rl->in_window = 0;
		rl->suppressed = 0;
	}
	if (rl->in_window < burst) {
		rl->in_window++;
		return true;
	}
	rl->suppressed++;
	return false;
}

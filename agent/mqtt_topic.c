// SPDX-License-Identifier: Apache-2.0
/*
 * mqtt_topic: UTF-8 and topic rules of MQTT 3.1.1 (§1.5.3, §4.7): string
 * validation, topic name and filter checks, and wildcard matching of a topic
 * name against a subscription filter. Pure functions over (pointer, length).
 */
#include <string.h>

#include "mqtt.h"

bool mqtt_utf8_valid(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n, k;

		if (c == 0) {
			return false; /* [MQTT-1.5.3-2] */
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false; /* continuation, overlong lead, > U+10FFFF
				       */
		}
		if (len - i <= n) {
			return false;
		}
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
			return false; /* overlong, out of range, surrogate */
		}
		i += n + 1;
	}
	return true;
}

bool mqtt_topic_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > MQTT_MAX_STRING || !s) {
		return false; /* [MQTT-4.7.3-1] */
	}
	if (memchr(s, '+', len) || memchr(s, '#', len)) {
		return false; /* [MQTT-3.3.2-2] */
	}
	return mqtt_utf8_valid(s, len);
}

bool mqtt_topic_filter_valid(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > MQTT_MAX_STRING || !s) {
		return false;
	}
	while (start <= len) {
		size_t end = start;
		size_t lev;

		while (end < len && s[end] != '/') {
			end++;
		}
		lev = end - start;
		if (memchr(s + start, '+', lev) && lev != 1) {
			return false; /* [MQTT-4.7.1-3] */
		}
		if (memchr(s + start, '#', lev) && (lev != 1 || end != len)) {
			return false; /* [MQTT-4.7.1-2] */
		}
		start = end + 1;
	}
	return mqtt_utf8_valid(s, len);
}

bool mqtt_topic_match(const char *filter, size_t flen, const char *topic,
		      size_t tlen)
{
	size_t f = 0, t = 0;

	if (flen == 0 || tlen == 0) {
		return false;
	}
	if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#')) {
		return false; /* [MQTT-4.7.2-1] */
	}
	for (;;) {
		size_t fe = f, te = t;
		bool f_end, t_end;

		while (fe < flen && filter[fe] != '/') {
			fe++;
		}
		while (te < tlen && topic[te] != '/') {
			te++;
		}
		if (fe - f == 1 && filter[f] == '#') {
			return true;
		}
		if (!(fe - f == 1 && filter[f] == '+') &&
		    (fe - f != te - t ||
		     memcmp(filter + f, topic + t, fe - f) != 0)) {
			return false;
		}
		f_end = fe >= flen;
		t_end = te >= tlen;
		if (f_end || t_end) {
			if (f_end && t_end) {
				return true;
			}
			if (f_end) {
				return false;
			}
			/* "a/#" also matches the parent level "a" */
			return flen - (fe + 1) == 1 && filter[fe + 1] == '#';
		}
		f = fe + 1;
		t = te + 1;
	}
}

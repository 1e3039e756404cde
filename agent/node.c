// SPDX-License-Identifier: Apache-2.0
/*
 * node: helpers for node identity (UUID text form) and labels.
 */
#include "node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void node_id_format(const struct node_id *id, char out[NODE_ID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < NODE_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			out[o++] = '-';
		}
		out[o++] = hex[id->b[i] >> 4];
		out[o++] = hex[id->b[i] & 0xf];
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int node_id_parse(const char *s, struct node_id *id)
{
	if (s == NULL || strlen(s) != NODE_ID_STR_LEN - 1) {
		return -EINVAL;
	}
	size_t p = 0;
	for (int i = 0; i < NODE_ID_LEN; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (s[p++] != '-') {
				return -EINVAL;
			}
		}
		int hi = hexval(s[p]);
		int lo = hexval(s[p + 1]);
		if (hi < 0 || lo < 0) {
			return -EINVAL;
		}
		id->b[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	return 0;
}

bool node_id_equal(const struct node_id *a, const struct node_id *b)
{
	return memcmp(a->b, b->b, NODE_ID_LEN) == 0;
}

bool node_id_is_zero(const struct node_id *id)
{
	for (int i = 0; i < NODE_ID_LEN; i++) {
		if (id->b[i] != 0) {
			return false;
		}
	}
	return true;
}

int node_labels_parse(const char *s, struct node_label *labels, size_t max)
{
	size_t n = 0;
	const char *p = s;

	if (s == NULL || *s == '\0') {
		return 0;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		if (eq == NULL || eq == p) {
			return -EINVAL;
		}
		size_t klen = (size_t)(eq - p);
		size_t vlen = len - klen - 1;
		if (klen >= NODE_LABEL_KEY_MAX || vlen >= NODE_LABEL_VALUE_MAX) {
			return -EINVAL;
		}
		if (n >= max) {
			return -E2BIG;
		}
		memcpy(labels[n].key, p, klen);
		labels[n].key[klen] = '\0';
		memcpy(labels[n].value, eq + 1, vlen);
		labels[n].value[vlen] = '\0';
		n++;
		if (end == NULL) {
			break;
		}
		p = end + 1;
	}
	return (int)n;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * manifest_quantity: Kubernetes-style quantities (cpu, memory, bandwidth),
 * delays, and command-line splitting, shared by manifests and the CLI.
 */
#include "manifest.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int manifest_quantity(const char *s, double *out)
{
	static const struct {
		const char *suffix;
		double mult;
	} suffixes[] = {
	    {"Ki", 1024.0},
	    {"Mi", 1048576.0},
	    {"Gi", 1073741824.0},
	    {"Ti", 1099511627776.0},
	    {"Pi", 1125899906842624.0},
	    {"Ei", 1152921504606846976.0},
	    {"n", 1e-9},
	    {"u", 1e-6},
	    {"m", 1e-3},
	    {"k", 1e3},
	    {"M", 1e6},
	    {"G", 1e9},
	    {"T", 1e12},
	    {"P", 1e15},
	    {"E", 1e18},
	    {"", 1.0},
	};
	char num[64];
	size_t i = 0;

	if (s == NULL) {
		return -EINVAL;
	}
	if (s[i] == '+') {
		i++;
	}
	size_t start = i;
	size_t digits = 0;
	while (s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits == 0) {
		return -EINVAL;
	}
	/* exponent only when digits follow; a bare E is the exa suffix */
	if ((s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (s[j] == '+' || s[j] == '-') {
			j++;
		}
		if (s[j] >= '0' && s[j] <= '9') {
			while (s[j] >= '0' && s[j] <= '9') {
				j++;
			}
			i = j;
		}
	}
	if (i - start >= sizeof(num)) {
		return -EINVAL;
	}
	memcpy(num, s + start, i - start);
	num[i - start] = '\0';
	const char *suf = s + i;
	double mult = 0.0;
	for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
		if (strcmp(suf, suffixes[k].suffix) == 0) {
			mult = suffixes[k].mult;
			break;
		}
	}
	if (mult == 0.0) {
		return -EINVAL;
	}
	char *end;
	double v = strtod(num, &end);
	if (*end != '\0' || !isfinite(v) || v < 0.0) {
		return -EINVAL;
	}
	v *= mult;
	if (!isfinite(v)) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int manifest_parse_cpu(const char *s, uint32_t *milli)
{
	double v;
	if (manifest_quantity(s, &v) != 0) {
		return -EINVAL;
	}
	double m = v * 1000.0;
	if (m > 1000000.0) {
		return -ERANGE;
	}
	double r = round(m);
	if (fabs(m - r) > 1e-6) {
		return -ERANGE; /* finer than a milli-core */
	}
	*milli = (uint32_t)r;
	return 0;
}

int manifest_parse_bytes(const char *s, uint64_t *bytes)
{
	double v;
	if (manifest_quantity(s, &v) != 0) {
		return -EINVAL;
	}
	if (v >= 9007199254740992.0) { /* 2^53: beyond exact doubles */
		return -ERANGE;
	}
	double r = ceil(v - 1e-9);
	*bytes = (uint64_t)r;
	return 0;
}

int manifest_parse_delay_ms(const char *s, uint32_t *ms)
{
	char num[64];
	size_t n = s != NULL ? strlen(s) : 0;
	double scale = 0.0; /* to seconds */
	double v;

	if (n == 0 || n >= sizeof(num)) {
		return -EINVAL;
	}
	memcpy(num, s, n + 1);
	if (n > 2 && strcmp(num + n - 2, "ms") == 0) {
		num[n - 2] = '\0';
		scale = 1e-3;
	} else if (n > 2 && strcmp(num + n - 2, "us") == 0) {
		num[n - 2] = '\0';
		scale = 1e-6;
	} else if (n > 1 && num[n - 1] == 's') {
		num[n - 1] = '\0';
		scale = 1.0;
	}
	if (scale != 0.0) {
		/* a plain number before the unit */
		size_t k = strlen(num);
		char last = k > 0 ? num[k - 1] : 0;
		if (!(last >= '0' && last <= '9') && last != '.') {
			return -EINVAL;
		}
	} else {
		scale = 1.0; /* a quantity of seconds */
	}
	if (manifest_quantity(num, &v) != 0) {
		return -EINVAL;
	}
	double msd = v * scale * 1000.0;
	if (msd > 86400000.0) {
		return -ERANGE;
	}
	*ms = (uint32_t)ceil(msd - 1e-9);
	return 0;
}

int manifest_parse_bandwidth(const char *s, uint64_t *bps)
{
	double v;
	if (manifest_quantity(s, &v) != 0) {
		return -EINVAL;
	}
	if (v >= 9007199254740992.0) {
		return -ERANGE;
	}
	*bps = (uint64_t)ceil(v - 1e-9);
	return 0;
}

int manifest_split_command(const char *line, char argv[][WORKLOAD_ARG_MAX],
			   int max_args)
{
	int argc = 0;
	const char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n') {
			p++;
		}
		if (*p == '\0') {
			break;
		}
		if (argc >= max_args) {
			return -E2BIG;
		}
		size_t o = 0;
		char quote = 0;
		while (*p != '\0') {
			char c = *p;
			if (quote == 0 &&
			    (c == ' ' || c == '\t' || c == '\n')) {
				break;
			}
			p++;
			if (quote == 0 && (c == '\'' || c == '"')) {
				quote = c;
				continue;
			}
			if (quote != 0 && c == quote) {
				quote = 0;
				continue;
			}
			if (c == '\\' && quote != '\'') {
				if (*p == '\0') {
					return -EINVAL;
				}
				c = *p++;
			}
			if (o + 1 >= WORKLOAD_ARG_MAX) {
				return -E2BIG;
			}
			argv[argc][o++] = c;
		}
		if (quote != 0) {
			return -EINVAL;
		}
		argv[argc][o] = '\0';
		argc++;
	}
	return argc > 0 ? argc : -EINVAL;
}

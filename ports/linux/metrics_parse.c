// SPDX-License-Identifier: Apache-2.0
/*
 * metrics_parse: pure parsers for /proc/stat, /proc/meminfo, /proc/loadavg,
 * /proc/net/dev and single-integer sysfs attributes, plus the counter and
 * energy arithmetic. No I/O here: every function works on a buffer, checks
 * every length before reading, and never trusts a NUL terminator.
 */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A view of one line; `nl` is false when the buffer ended without '\n'. */
struct line {
	const char *p;
	size_t len;
	bool nl;
};

static bool next_line(const char *buf, size_t len, size_t *pos, struct line *ln)
{
	if (*pos >= len) {
		return false;
	}
	const char *start = buf + *pos;
	const char *end = memchr(start, '\n', len - *pos);
	if (end == NULL) {
		ln->p = start;
		ln->len = len - *pos;
		ln->nl = false;
		*pos = len;
	} else {
		ln->p = start;
		ln->len = (size_t)(end - start);
		ln->nl = true;
		*pos += ln->len + 1;
	}
	return true;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Skip blanks from *i; true when a token follows. */
static bool skip_blanks(const struct line *ln, size_t *i)
{
	while (*i < ln->len && is_space(ln->p[*i])) {
		(*i)++;
	}
	return *i < ln->len;
}

/*
 * Parse an unsigned decimal token at *i (after blanks). The token must end
 * at a blank or at the end of the line. Returns 0, -EBADMSG or -ERANGE.
 */
static int take_u64(const struct line *ln, size_t *i, uint64_t *out)
{
	if (!skip_blanks(ln, i)) {
		return -EBADMSG;
	}
	uint64_t v = 0;
	size_t start = *i;
	while (*i < ln->len && ln->p[*i] >= '0' && ln->p[*i] <= '9') {
		unsigned d = (unsigned)(ln->p[*i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return -ERANGE;
		}
		v = v * 10 + d;
		(*i)++;
	}
	if (*i == start) {
		return -EBADMSG;
	}
	if (*i < ln->len && !is_space(ln->p[*i])) {
		return -EBADMSG;
	}
	*out = v;
	return 0;
}

static bool starts_with(const struct line *ln, const char *prefix)
{
	size_t n = strlen(prefix);
	return ln->len >= n && memcmp(ln->p, prefix, n) == 0;
}

int metrics_parse_stat(const char *buf, size_t len, struct metrics_stat *out)
{
	struct line ln;
	size_t pos = 0;
	bool have_total = false;

	memset(out, 0, sizeof(*out));
	while (next_line(buf, len, &pos, &ln)) {
		if (!starts_with(&ln, "cpu")) {
			if (have_total) {
				break; /* cpu lines come first */
			}
			continue;
		}
		if (!ln.nl) {
			return -EBADMSG; /* a cpu line cut short */
		}
		if (ln.len > 3 && ln.p[3] >= '0' && ln.p[3] <= '9') {
			out->n_cpus++;
			continue;
		}
		if (ln.len <= 3 || !is_space(ln.p[3])) {
			return -EBADMSG;
		}
		uint64_t v[8] = {0};
		size_t i = 3;
		int n = 0;
		while (n < 8 && skip_blanks(&ln, &i)) {
			int rc = take_u64(&ln, &i, &v[n]);
			if (rc < 0) {
				return rc;
			}
			n++;
		}
		if (n < 4) {
			return -EBADMSG; /* user nice system idle at least */
		}
		out->total = (struct metrics_cpu_times){
		    .user = v[0],
		    .nice = v[1],
		    .system = v[2],
		    .idle = v[3],
		    .iowait = v[4],
		    .irq = v[5],
		    .softirq = v[6],
		    .steal = v[7],
		};
		have_total = true;
	}
	if (!have_total) {
		return -EBADMSG;
	}
	if (out->n_cpus == 0) {
		out->n_cpus = 1; /* uniprocessor kernels may omit cpu0 */
	}
	return 0;
}

/* "Key:   123 kB" → bytes. -EBADMSG when not of that form. */
static int meminfo_value(const struct line *ln, size_t keylen, uint64_t *bytes)
{
	size_t i = keylen;
	uint64_t v;
	int rc = take_u64(ln, &i, &v);
	if (rc < 0) {
		return rc;
	}
	uint64_t mult = 1;
	if (skip_blanks(ln, &i)) {
		if (ln->len - i == 2 && memcmp(ln->p + i, "kB", 2) == 0) {
			mult = 1024;
		} else {
			return -EBADMSG;
		}
	}
	if (v > UINT64_MAX / mult) {
		return -ERANGE;
	}
	*bytes = v * mult;
	return 0;
}

int metrics_parse_meminfo(const char *buf, size_t len,
			  struct metrics_meminfo *out)
{
	static const char *const keys[] = {
	    "MemTotal:", "MemAvailable:", "MemFree:", "Buffers:", "Cached:"};
	uint64_t val[5] = {0};
	bool have[5] = {false};
	struct line ln;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	while (next_line(buf, len, &pos, &ln)) {
		for (int k = 0; k < 5; k++) {
			if (!starts_with(&ln, keys[k])) {
				continue;
			}
			if (!ln.nl) {
				return -EBADMSG;
			}
			int rc = meminfo_value(&ln, strlen(keys[k]), &val[k]);
			if (rc < 0) {
				return rc;
			}
			have[k] = true;
		}
	}
	if (!have[0] || val[0] == 0) {
		return -EBADMSG;
	}
	out->total_bytes = val[0];
	if (have[1]) {
		out->available_bytes = val[1];
	} else if (have[2]) {
		out->available_bytes = val[2] + val[3] + val[4];
		out->available_estimated = true;
	} else {
		return -EBADMSG;
	}
	if (out->available_bytes > out->total_bytes) {
		out->available_bytes = out->total_bytes;
	}
	return 0;
}

/* Parse a non-negative decimal with an optional fraction (no exponent). */
static int take_fixed(const struct line *ln, size_t *i, double *out)
{
	if (!skip_blanks(ln, i)) {
		return -EBADMSG;
	}
	double v = 0.0;
	size_t start = *i;
	while (*i < ln->len && ln->p[*i] >= '0' && ln->p[*i] <= '9') {
		v = v * 10.0 + (ln->p[*i] - '0');
		(*i)++;
	}
	if (*i == start) {
		return -EBADMSG;
	}
	if (*i < ln->len && ln->p[*i] == '.') {
		double scale = 0.1;
		(*i)++;
		size_t fstart = *i;
		while (*i < ln->len && ln->p[*i] >= '0' && ln->p[*i] <= '9') {
			v += (ln->p[*i] - '0') * scale;
			scale /= 10.0;
			(*i)++;
		}
		if (*i == fstart) {
			return -EBADMSG;
		}
	}
	if (*i < ln->len && !is_space(ln->p[*i])) {
		return -EBADMSG;
	}
	if (!isfinite(v)) {
		return -ERANGE;
	}
	*out = v;
	return 0;
}

int metrics_parse_loadavg(const char *buf, size_t len,
			  struct metrics_loadavg *out)
{
	struct line ln;
	size_t pos = 0;
	size_t i = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!next_line(buf, len, &pos, &ln) || !ln.nl) {
		return -EBADMSG;
	}
	if ((rc = take_fixed(&ln, &i, &out->load1)) < 0 ||
	    (rc = take_fixed(&ln, &i, &out->load5)) < 0 ||
	    (rc = take_fixed(&ln, &i, &out->load15)) < 0) {
		return rc;
	}
	/* "runnable/threads": split at the slash. */
	if (!skip_blanks(&ln, &i)) {
		return -EBADMSG;
	}
	const char *slash = memchr(ln.p + i, '/', ln.len - i);
	if (slash == NULL) {
		return -EBADMSG;
	}
	struct line left = {.p = ln.p, .len = (size_t)(slash - ln.p)};
	struct line right = {.p = ln.p, .len = ln.len};
	uint64_t runnable, threads;
	size_t j = (size_t)(slash - ln.p) + 1;
	if ((rc = take_u64(&left, &i, &runnable)) < 0) {
		return rc;
	}
	if (j >= ln.len || is_space(ln.p[j])) {
		return -EBADMSG;
	}
	if ((rc = take_u64(&right, &j, &threads)) < 0) {
		return rc;
	}
	if (runnable > UINT32_MAX || threads > UINT32_MAX) {
		return -ERANGE;
	}
	out->runnable = (uint32_t)runnable;
	out->threads = (uint32_t)threads;
	return 0;
}

int metrics_parse_netdev(const char *buf, size_t len,
			 struct metrics_netdev *out)
{
	struct line ln;
	size_t pos = 0;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	while (next_line(buf, len, &pos, &ln)) {
		lineno++;
		if (lineno <= 2) {
			/* two header lines with '|' column separators */
			if (memchr(ln.p, '|', ln.len) == NULL || !ln.nl) {
				return -EBADMSG;
			}
			continue;
		}
		if (ln.len == 0 && !ln.nl) {
			break;
		}
		if (!ln.nl) {
			return -EBADMSG;
		}
		size_t i = 0;
		if (!skip_blanks(&ln, &i)) {
			return -EBADMSG;
		}
		const char *colon = memchr(ln.p + i, ':', ln.len - i);
		if (colon == NULL) {
			return -EBADMSG;
		}
		size_t name_len = (size_t)(colon - (ln.p + i));
		if (name_len == 0 || name_len >= METRICS_IFNAME_MAX) {
			return -EBADMSG;
		}
		uint64_t f[16];
		size_t j = (size_t)(colon - ln.p) + 1;
		for (int k = 0; k < 16; k++) {
			int rc = take_u64(&ln, &j, &f[k]);
			if (rc < 0) {
				return rc;
			}
		}
		if (out->n >= METRICS_NETIFS_MAX) {
			continue;
		}
		struct metrics_netif *nif = &out->ifs[out->n++];
		memcpy(nif->name, ln.p + i, name_len);
		nif->name[name_len] = '\0';
		nif->rx_bytes = f[0];
		nif->rx_packets = f[1];
		nif->tx_bytes = f[8];
		nif->tx_packets = f[9];
	}
	if (lineno < 2) {
		return -EBADMSG;
	}
	return 0;
}

int metrics_parse_int(const char *buf, size_t len, int64_t *out)
{
	struct line ln;
	size_t pos = 0;
	size_t i = 0;
	bool neg = false;
	uint64_t v;
	int rc;

	if (!next_line(buf, len, &pos, &ln) || !ln.nl) {
		return -EBADMSG;
	}
	if (ln.len > 0 && ln.p[0] == '-') {
		neg = true;
		i = 1;
		if (i < ln.len && is_space(ln.p[i])) {
			return -EBADMSG;
		}
	}
	if ((rc = take_u64(&ln, &i, &v)) < 0) {
		return rc;
	}
	if (skip_blanks(&ln, &i)) {
		return -EBADMSG;
	}
	if (v > (uint64_t)INT64_MAX) {
		return -ERANGE;
	}
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static uint64_t cpu_sum(const struct metrics_cpu_times *t)
{
	return t->user + t->nice + t->system + t->idle + t->iowait + t->irq +
	       t->softirq + t->steal;
}

int metrics_cpu_busy(const struct metrics_cpu_times *prev,
		     const struct metrics_cpu_times *cur, double *busy)
{
	const uint64_t *p = &prev->user;
	const uint64_t *c = &cur->user;
	for (int k = 0; k < 8; k++) {
		if (c[k] < p[k]) {
			return -EAGAIN;
		}
	}
	uint64_t total = cpu_sum(cur) - cpu_sum(prev);
	uint64_t idle = (cur->idle - prev->idle) + (cur->iowait - prev->iowait);
	if (total == 0) {
		return -EAGAIN;
	}
	double b = (double)(total - idle) / (double)total;
	*busy = b < 0.0 ? 0.0 : (b > 1.0 ? 1.0 : b);
	return 0;
}

uint64_t metrics_counter_delta(uint64_t prev, uint64_t cur, uint64_t range,
			       bool *reset)
{
	if (reset != NULL) {
		*reset = false;
	}
	if (cur >= prev) {
		return cur - prev;
	}
	if (range != 0 && prev <= range) {
		return (range - prev) + cur;
	}
	if (range == 0 && prev <= UINT32_MAX) {
		return ((uint64_t)UINT32_MAX + 1 - prev) + cur;
	}
	if (reset != NULL) {
		*reset = true;
	}
	return cur;
}

const char *metrics_power_source_name(enum metrics_power_source s)
{
	switch (s) {
	case POWER_HWMON:
		return "hwmon";
	case POWER_RAPL:
		return "rapl";
	case POWER_MODEL:
	default:
		return "model";
	}
}

double metrics_power_model(double idle_watts, double watts_per_core,
			   double busy, uint32_t cores)
{
	if (!(busy >= 0.0)) {
		busy = 0.0;
	}
	if (busy > 1.0) {
		busy = 1.0;
	}
	return idle_watts + watts_per_core * busy * (double)cores;
}

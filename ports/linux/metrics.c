// SPDX-License-Identifier: Apache-2.0
/*
 * metrics: the sampler. Reads /proc and /sys under a configurable root,
 * feeds the pure parsers in metrics_parse.c, keeps the previous counters to
 * turn them into rates, and picks the best power source available (hwmon,
 * then RAPL, then the configured model). Sensor paths are discovered at
 * creation and again every METRICS_REDISCOVER_TICKS ticks.
 */
/* 64-bit d_off/d_ino for readdir on 32-bit targets (else EOVERFLOW on
   filesystems with large directory offsets, e.g. under qemu-user) */
#define _FILE_OFFSET_BITS 64

#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOG_TAG "metrics"
#include "log.h"

#define METRICS_PATH_MAX	 512
#define METRICS_SENSORS_MAX	 16
#define METRICS_REDISCOVER_TICKS 60

enum src_bit {
	SRC_STAT = 1u << 0,
	SRC_MEMINFO = 1u << 1,
	SRC_LOADAVG = 1u << 2,
	SRC_NETDEV = 1u << 3,
	SRC_THERMAL = 1u << 4,
	SRC_HWMON = 1u << 5,
	SRC_RAPL = 1u << 6,
};

struct rapl_zone {
	char path[METRICS_PATH_MAX]; /* .../energy_uj */
	uint64_t range_uj;	     /* max_energy_range_uj, 0 = unknown */
	uint64_t prev_uj;
	bool have_prev;
};

struct metrics_sampler {
	struct metrics_config cfg;
	char root[METRICS_PATH_MAX];
	char *buf; /* METRICS_FILE_MAX + 1 bytes */
	uint32_t ticks;
	uint32_t warned; /* enum src_bit: garbage already logged */

	bool have_prev;
	struct metrics_cpu_times prev_cpu;
	uint64_t prev_ms;
	struct metrics_netdev prev_net;
	bool have_prev_net;

	uint32_t n_thermal;
	char thermal[METRICS_SENSORS_MAX][METRICS_PATH_MAX];
	uint32_t n_hwmon;
	char hwmon[METRICS_SENSORS_MAX][METRICS_PATH_MAX];
	uint32_t n_rapl;
	struct rapl_zone rapl[METRICS_SENSORS_MAX];
	uint64_t rapl_prev_ms;
};

/*
 * Read at most METRICS_FILE_MAX bytes of root+rel (or an absolute sensor
 * path already under root) into s->buf. Returns the length or -errno.
 */
static ssize_t read_file(struct metrics_sampler *s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	size_t got = 0;
	while (got < METRICS_FILE_MAX) {
		ssize_t n = read(fd, s->buf + got, METRICS_FILE_MAX - got);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			int e = -errno;
			close(fd);
			return e;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	s->buf[got] = '\0';
	return (ssize_t)got;
}

/* snprintf that reports truncation: true when the whole path fitted. */
static bool __attribute__((format(printf, 3, 4)))
path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < cap;
}

static ssize_t read_rel(struct metrics_sampler *s, const char *rel)
{
	char path[METRICS_PATH_MAX];
	if (!path_fmt(path, sizeof(path), "%s%s", s->root, rel)) {
		return -ENAMETOOLONG;
	}
	return read_file(s, path);
}

static void warn_once(struct metrics_sampler *s, uint32_t bit, const char *what,
		      int rc)
{
	if ((s->warned & bit) == 0) {
		s->warned |= bit;
		log_warn("%s%s: unusable (%s); skipped until it parses again",
			 s->root, what, strerror(-rc));
	}
}

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Append dir/name/leaf to list if it fits and the file exists. */
static void add_sensor(char (*list)[METRICS_PATH_MAX], uint32_t *n,
		       const char *dir, const char *name, const char *leaf)
{
	if (*n >= METRICS_SENSORS_MAX) {
		return;
	}
	if (!path_fmt(list[*n], METRICS_PATH_MAX, "%s/%s/%s", dir, name,
		      leaf)) {
		return;
	}
	if (access(list[*n], R_OK) == 0) {
		(*n)++;
	}
}

static int cmp_paths(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void discover(struct metrics_sampler *s)
{
	char dir[METRICS_PATH_MAX];
	DIR *d;
	struct dirent *e;

	s->n_thermal = 0;
	if (path_fmt(dir, sizeof(dir), "%s/sys/class/thermal", s->root) &&
	    (d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (has_prefix(e->d_name, "thermal_zone")) {
				add_sensor(s->thermal, &s->n_thermal, dir,
					   e->d_name, "temp");
			}
		}
		closedir(d);
	}
	qsort(s->thermal, s->n_thermal, METRICS_PATH_MAX, cmp_paths);

	s->n_hwmon = 0;
	if (path_fmt(dir, sizeof(dir), "%s/sys/class/hwmon", s->root) &&
	    (d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (!has_prefix(e->d_name, "hwmon")) {
				continue;
			}
			/* power1_input .. power4_input cover the boards seen */
			for (int k = 1; k <= 4; k++) {
				char leaf[32];
				snprintf(leaf, sizeof(leaf), "power%d_input",
					 k);
				add_sensor(s->hwmon, &s->n_hwmon, dir,
					   e->d_name, leaf);
			}
		}
		closedir(d);
	}
	qsort(s->hwmon, s->n_hwmon, METRICS_PATH_MAX, cmp_paths);

	/* RAPL packages only ("intel-rapl:N", not sub-zones "intel-rapl:N:M",
	   whose energy is already inside the package's). */
	uint32_t old_n = s->n_rapl;
	struct rapl_zone old[METRICS_SENSORS_MAX];
	memcpy(old, s->rapl, sizeof(old));
	s->n_rapl = 0;
	if (path_fmt(dir, sizeof(dir), "%s/sys/class/powercap", s->root) &&
	    (d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL &&
		       s->n_rapl < METRICS_SENSORS_MAX) {
			const char *name = e->d_name;
			if (!has_prefix(name, "intel-rapl:") ||
			    strchr(name + strlen("intel-rapl:"), ':') != NULL) {
				continue;
			}
			struct rapl_zone *z = &s->rapl[s->n_rapl];
			memset(z, 0, sizeof(*z));
			if (!path_fmt(z->path, sizeof(z->path),
				      "%s/%s/energy_uj", dir, name) ||
			    access(z->path, R_OK) != 0) {
				continue;
			}
			char rpath[METRICS_PATH_MAX];
			int64_t range;
			ssize_t n = -ENAMETOOLONG;
			if (path_fmt(rpath, sizeof(rpath),
				     "%s/%s/max_energy_range_uj", dir, name)) {
				n = read_file(s, rpath);
			}
			if (n >= 0 &&
			    metrics_parse_int(s->buf, (size_t)n, &range) == 0 &&
			    range > 0) {
				z->range_uj = (uint64_t)range;
			}
			for (uint32_t k = 0; k < old_n; k++) {
				if (strcmp(old[k].path, z->path) == 0) {
					z->prev_uj = old[k].prev_uj;
					z->have_prev = old[k].have_prev;
				}
			}
			s->n_rapl++;
		}
		closedir(d);
	}
}

struct metrics_sampler *metrics_sampler_new(const struct metrics_config *cfg)
{
	struct metrics_sampler *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	s->buf = malloc(METRICS_FILE_MAX + 1);
	if (s->buf == NULL) {
		free(s);
		return NULL;
	}
	s->cfg = *cfg;
	const char *root = cfg->root != NULL ? cfg->root : "";
	size_t rl = strlen(root);
	while (rl > 0 && root[rl - 1] == '/') {
		rl--; /* "/" becomes "" so paths are root + "/proc/..." */
	}
	if (rl >= sizeof(s->root)) {
		rl = sizeof(s->root) - 1;
	}
	memcpy(s->root, root, rl);
	s->root[rl] = '\0';
	s->cfg.root = s->root;
	discover(s);
	return s;
}

void metrics_sampler_free(struct metrics_sampler *s)
{
	if (s == NULL) {
		return;
	}
	free(s->buf);
	free(s);
}

static void sample_net(struct metrics_sampler *s, uint64_t now_ms,
		       struct metrics_sample *out)
{
	double dt = (double)(now_ms - s->prev_ms) / 1000.0;
	for (uint32_t i = 0; i < METRICS_NETIFS_MAX; i++) {
		out->rx_bytes_per_s[i] = -1.0;
		out->tx_bytes_per_s[i] = -1.0;
	}
	ssize_t n = read_rel(s, "/proc/net/dev");
	if (n < 0) {
		return; /* optional */
	}
	int rc = metrics_parse_netdev(s->buf, (size_t)n, &out->net);
	if (rc < 0) {
		out->errors++;
		warn_once(s, SRC_NETDEV, "/proc/net/dev", rc);
		memset(&out->net, 0, sizeof(out->net));
		return;
	}
	s->warned &= ~(uint32_t)SRC_NETDEV;
	if (s->have_prev_net && s->have_prev && dt > 0.0) {
		for (uint32_t i = 0; i < out->net.n; i++) {
			const struct metrics_netif *c = &out->net.ifs[i];
			for (uint32_t k = 0; k < s->prev_net.n; k++) {
				const struct metrics_netif *p =
				    &s->prev_net.ifs[k];
				if (strcmp(p->name, c->name) != 0) {
					continue;
				}
				out->rx_bytes_per_s[i] =
				    (double)metrics_counter_delta(
					p->rx_bytes, c->rx_bytes, 0, NULL) /
				    dt;
				out->tx_bytes_per_s[i] =
				    (double)metrics_counter_delta(
					p->tx_bytes, c->tx_bytes, 0, NULL) /
				    dt;
			}
		}
	}
	s->prev_net = out->net;
	s->have_prev_net = true;
}

static void sample_thermal(struct metrics_sampler *s,
			   struct metrics_sample *out)
{
	out->temperature_c = -1000.0;
	out->thermal_zones = 0;
	for (uint32_t i = 0; i < s->n_thermal; i++) {
		int64_t milli;
		ssize_t n = read_file(s, s->thermal[i]);
		if (n < 0) {
			continue; /* zones may vanish or return EIO/ENODATA */
		}
		int rc = metrics_parse_int(s->buf, (size_t)n, &milli);
		if (rc < 0) {
			out->errors++;
			warn_once(s, SRC_THERMAL, "/sys/class/thermal", rc);
			continue;
		}
		out->thermal_zones++;
		double c = (double)milli / 1000.0;
		if (c > out->temperature_c) {
			out->temperature_c = c;
		}
	}
}

/* Measured power in watts, or < 0 when no sensor produced a value. */
static double sample_power(struct metrics_sampler *s, uint64_t now_ms,
			   struct metrics_sample *out)
{
	double watts = 0.0;
	uint32_t got = 0;

	for (uint32_t i = 0; i < s->n_hwmon; i++) {
		int64_t uw;
		ssize_t n = read_file(s, s->hwmon[i]);
		if (n < 0) {
			continue;
		}
		int rc = metrics_parse_int(s->buf, (size_t)n, &uw);
		if (rc < 0 || uw < 0) {
			out->errors++;
			warn_once(s, SRC_HWMON, "/sys/class/hwmon",
				  rc < 0 ? rc : -ERANGE);
			continue;
		}
		watts += (double)uw / 1e6;
		got++;
	}
	if (got > 0) {
		out->power_source = POWER_HWMON;
		return watts;
	}

	double dt = (double)(now_ms - s->rapl_prev_ms) / 1000.0;
	bool rate = false;
	for (uint32_t i = 0; i < s->n_rapl; i++) {
		struct rapl_zone *z = &s->rapl[i];
		int64_t uj;
		ssize_t n = read_file(s, z->path);
		if (n < 0) {
			continue; /* energy_uj is root-only on newer kernels */
		}
		int rc = metrics_parse_int(s->buf, (size_t)n, &uj);
		if (rc < 0 || uj < 0) {
			out->errors++;
			warn_once(s, SRC_RAPL, "/sys/class/powercap",
				  rc < 0 ? rc : -ERANGE);
			continue;
		}
		if (z->have_prev && dt > 0.0) {
			bool reset;
			uint64_t d = metrics_counter_delta(
			    z->prev_uj, (uint64_t)uj,
			    z->range_uj != 0 ? z->range_uj : UINT64_MAX,
			    &reset);
			if (!reset) {
				watts += (double)d / 1e6 / dt;
				rate = true;
			}
		}
		z->prev_uj = (uint64_t)uj;
		z->have_prev = true;
	}
	s->rapl_prev_ms = now_ms;
	if (rate) {
		out->power_source = POWER_RAPL;
		return watts;
	}
	return -1.0;
}

int metrics_sampler_tick(struct metrics_sampler *s, uint64_t now_ms,
			 struct metrics_sample *out)
{
	struct metrics_stat st;
	struct metrics_meminfo mi;
	ssize_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	out->now_ms = now_ms;
	out->cpu_busy = -1.0;
	out->load.load1 = out->load.load5 = out->load.load15 = -1.0;

	if (s->ticks > 0 && s->ticks % METRICS_REDISCOVER_TICKS == 0) {
		discover(s);
	}
	s->ticks++;

	n = read_rel(s, "/proc/stat");
	if (n < 0) {
		log_warn("%s/proc/stat: %s", s->root, strerror((int)-n));
		return (int)n;
	}
	rc = metrics_parse_stat(s->buf, (size_t)n, &st);
	if (rc < 0) {
		warn_once(s, SRC_STAT, "/proc/stat", rc);
		return rc;
	}
	s->warned &= ~(uint32_t)SRC_STAT;

	n = read_rel(s, "/proc/meminfo");
	if (n < 0) {
		log_warn("%s/proc/meminfo: %s", s->root, strerror((int)-n));
		return (int)n;
	}
	rc = metrics_parse_meminfo(s->buf, (size_t)n, &mi);
	if (rc < 0) {
		warn_once(s, SRC_MEMINFO, "/proc/meminfo", rc);
		return rc;
	}
	s->warned &= ~(uint32_t)SRC_MEMINFO;

	out->cpu_cores = st.n_cpus;
	out->mem_total_bytes = mi.total_bytes;
	out->mem_available_bytes = mi.available_bytes;
	if (s->have_prev) {
		double busy;
		if (metrics_cpu_busy(&s->prev_cpu, &st.total, &busy) == 0) {
			out->cpu_busy = busy;
		}
	}

	n = read_rel(s, "/proc/loadavg");
	if (n >= 0) {
		rc = metrics_parse_loadavg(s->buf, (size_t)n, &out->load);
		if (rc < 0) {
			out->errors++;
			warn_once(s, SRC_LOADAVG, "/proc/loadavg", rc);
			out->load.load1 = out->load.load5 = -1.0;
			out->load.load15 = -1.0;
		}
	}

	sample_net(s, now_ms, out);
	sample_thermal(s, out);

	double watts = sample_power(s, now_ms, out);
	if (watts < 0.0) {
		out->power_source = POWER_MODEL;
		/* before the first delta, model the node as idle */
		watts = metrics_power_model(
		    s->cfg.idle_watts, s->cfg.watts_per_core,
		    out->cpu_busy >= 0.0 ? out->cpu_busy : 0.0, out->cpu_cores);
	}
	out->power_watts = watts;

	s->prev_cpu = st.total;
	s->prev_ms = now_ms;
	s->have_prev = true;
	return 0;
}

bool metrics_apply(const struct metrics_sample *m, struct node_state *st)
{
	bool changed = false;
	double cpu_free = m->cpu_busy >= 0.0 ? 1.0 - m->cpu_busy : st->cpu_free;

	if (fabs(cpu_free - st->cpu_free) > 0.02) {
		changed = true;
	}
	if (m->cpu_cores != st->cpu_cores) {
		changed = true;
	}
	double mem_delta =
	    fabs((double)m->mem_available_bytes - (double)st->mem_free_bytes);
	if (m->mem_total_bytes != st->mem_total_bytes ||
	    mem_delta > 0.01 * (double)m->mem_total_bytes) {
		changed = true;
	}
	double pw_scale = fmax(1.0, fmax(m->power_watts, st->energy_watts));
	if (fabs(m->power_watts - st->energy_watts) > 0.02 * pw_scale) {
		changed = true;
	}
	double t_new = m->thermal_zones > 0 ? m->temperature_c : -1000.0;
	if ((t_new < -273.0) != (st->temperature_c < -273.0) ||
	    (t_new >= -273.0 && fabs(t_new - st->temperature_c) >= 1.0)) {
		changed = true;
	}

	/* Only a published change moves the fields: comparing against the
	   last published values means slow drift still crosses a threshold. */
	if (!changed) {
		return false;
	}
	st->cpu_free = cpu_free;
	st->cpu_cores = m->cpu_cores;
	st->mem_free_bytes = m->mem_available_bytes;
	st->mem_total_bytes = m->mem_total_bytes;
	st->energy_watts = m->power_watts;
	st->temperature_c = t_new;
	st->version++;
	return true;
}

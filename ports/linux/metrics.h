/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: node metrics from procfs and sysfs (DESIGN §6, CODECO avgNode*).
 * Parsers are pure functions over file contents (tested on fixture files
 * from x86 and ARM boards); the sampler reads the files under a configurable
 * root directory and turns two successive reads into rates and fractions,
 * then into a struct node_state update.
 */
#ifndef FARNODE_METRICS_H
#define FARNODE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node.h"

#define METRICS_CPUS_MAX   256 /* per-cpu lines beyond this are counted only */
#define METRICS_NETIFS_MAX 32  /* interfaces kept from /proc/net/dev */
#define METRICS_IFNAME_MAX 16  /* IFNAMSIZ */
#define METRICS_FILE_MAX   65536 /* bytes read from any one file */

/* Cumulative CPU times in USER_HZ ticks, from one "cpu" line of /proc/stat. */
struct metrics_cpu_times {
	uint64_t user, nice, system, idle, iowait, irq, softirq, steal;
};

struct metrics_stat {
	struct metrics_cpu_times total; /* the aggregate "cpu" line */
	uint32_t n_cpus;		/* number of "cpuN" lines */
};

struct metrics_meminfo {
	uint64_t total_bytes;
	uint64_t available_bytes;
	bool available_estimated; /* no MemAvailable: Free+Buffers+Cached */
};

struct metrics_loadavg {
	double load1, load5, load15;
	uint32_t runnable, threads;
};

struct metrics_netif {
	char name[METRICS_IFNAME_MAX];
	uint64_t rx_bytes, rx_packets, tx_bytes, tx_packets;
};

struct metrics_netdev {
	uint32_t n;
	struct metrics_netif ifs[METRICS_NETIFS_MAX];
};

/*
 * Parsers. Each takes the whole file content (need not be NUL-terminated)
 * and fills *out. Errors: -EBADMSG for content that is truncated or not in
 * the expected format, -ERANGE for a number that does not fit.
 */
int metrics_parse_stat(const char *buf, size_t len, struct metrics_stat *out);
/* MemTotal is required; MemAvailable falls back to an estimate. */
int metrics_parse_meminfo(const char *buf, size_t len,
			  struct metrics_meminfo *out);
int metrics_parse_loadavg(const char *buf, size_t len,
			  struct metrics_loadavg *out);
/* Interfaces beyond METRICS_NETIFS_MAX are ignored (not an error). */
int metrics_parse_netdev(const char *buf, size_t len,
			 struct metrics_netdev *out);
/*
 * One integer sysfs attribute ("45678\n"): thermal temp (millidegrees C),
 * hwmon power*_input (microwatts), RAPL energy_uj (microjoules). Negative
 * values are allowed (temperatures below zero).
 */
int metrics_parse_int(const char *buf, size_t len, int64_t *out);

/*
 * Busy fraction (0..1) of the CPU time between two samples. Returns
 * -EAGAIN when no time elapsed or a counter went backwards (reset, cpu
 * hotplug): the caller keeps `cur` as the new baseline.
 */
int metrics_cpu_busy(const struct metrics_cpu_times *prev,
		     const struct metrics_cpu_times *cur, double *busy);

/*
 * Difference of a monotonically increasing counter. When cur < prev and
 * prev fits in 32 bits the counter is taken to have wrapped at 2^32 (32-bit
 * drivers and kernels); when `range` is non-zero the counter wraps at
 * `range` (RAPL max_energy_range_uj). Otherwise it was reset and the delta
 * is `cur` and *reset is set. reset may be NULL.
 */
uint64_t metrics_counter_delta(uint64_t prev, uint64_t cur, uint64_t range,
			       bool *reset);

/* Where the power figure came from. */
enum metrics_power_source {
	POWER_MODEL = 0, /* idle_watts + watts_per_core * busy cores */
	POWER_HWMON = 1, /* sum of hwmon power*_input */
	POWER_RAPL = 2,	 /* delta of powercap intel-rapl:N energy_uj */
};

const char *metrics_power_source_name(enum metrics_power_source s);

/* Energy model: P = idle_watts + watts_per_core * busy_fraction * cores. */
double metrics_power_model(double idle_watts, double watts_per_core,
			   double busy, uint32_t cores);

struct metrics_config {
	const char *root;      /* "" or NULL = "/"; tests point at fixtures */
	double idle_watts;     /* model: power at idle */
	double watts_per_core; /* model: added power per fully busy core */
};

/* One tick's view of the node. Unknown values are negative. */
struct metrics_sample {
	uint64_t now_ms;
	double cpu_busy; /* 0..1 over all cores since the last tick; < 0 on
			    the first tick */
	uint32_t cpu_cores;
	uint64_t mem_total_bytes;
	uint64_t mem_available_bytes;
	struct metrics_loadavg load;
	struct metrics_netdev net;
	/* per-interface rates since the last tick, same order as net.ifs;
	   < 0 when unknown (first tick, interface new) */
	double rx_bytes_per_s[METRICS_NETIFS_MAX];
	double tx_bytes_per_s[METRICS_NETIFS_MAX];
	double temperature_c; /* hottest thermal zone; < -273 if none */
	uint32_t thermal_zones;
	double power_watts;
	enum metrics_power_source power_source;
	uint32_t errors; /* files present but unreadable/garbage this tick */
};

struct metrics_sampler;

/*
 * Make a sampler. cfg is copied (root string too). Returns NULL on
 * allocation failure. metrics_sampler_free(NULL) is a no-op.
 */
struct metrics_sampler *metrics_sampler_new(const struct metrics_config *cfg);
void metrics_sampler_free(struct metrics_sampler *s);

/*
 * Read every source once and fill *out. /proc/stat and /proc/meminfo are
 * required: their absence or garbage returns a negative errno (the previous
 * baseline is kept). Optional sources (loadavg, net/dev, thermal, hwmon,
 * RAPL) that are missing are skipped; present but garbage ones are counted
 * in out->errors and logged once per source.
 */
int metrics_sampler_tick(struct metrics_sampler *s, uint64_t now_ms,
			 struct metrics_sample *out);

/*
 * Publish a sample into node state (cpu_free, cpu_cores, mem_*,
 * energy_watts, temperature_c) when a gossip-worthy change happened since
 * the values last published there (cpu or power moved by more than 2% of
 * range, memory by more than 1%, temperature by 1 °C, cores changed): then
 * all those fields are written, st->version is bumped and true returned.
 * Otherwise st is left untouched, so small noise does not flood the
 * partition while slow drift still crosses a threshold eventually.
 */
bool metrics_apply(const struct metrics_sample *m, struct node_state *st);

#endif

// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for metrics: the pure parsers on fixture files from x86 and ARM
 * boards (tests/unit/fixtures/metrics/), truncated and garbage input,
 * counter wrap and reset, and the sampler on copies of the fixture trees
 * that the tests advance between ticks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"

static const char *fixtures(void)
{
	const char *f = getenv("METRICS_FIXTURES");
	return f != NULL ? f : "tests/unit/fixtures/metrics";
}

/* Read a fixture file into a static buffer; fails the test if missing. */
static char fbuf[METRICS_FILE_MAX];
static size_t fload(const char *board, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), board, rel);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fail_msg("fixture %s: %s", path, strerror(errno));
	}
	size_t n = fread(fbuf, 1, sizeof(fbuf), f);
	fclose(f);
	return n;
}

static void put(const char *dir, const char *rel, const char *content)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

/* Copy a fixture tree to a fresh temp dir the test may modify. */
static char *copy_tree(const char *board)
{
	char tmpl[] = "/tmp/farnode-metrics.XXXXXX";
	char *dir = mkdtemp(tmpl);
	assert_non_null(dir);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp -R '%s/%s/.' '%s/'", fixtures(), board,
		 dir);
	assert_int_equal(system(cmd), 0);
	return strdup(dir);
}

static void rm_tree(char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(dir);
}

/* ---- /proc/stat ---- */

static void test_stat_captured_x86(void **state)
{
	(void)state;
	size_t n = fload("x86_64", "proc/stat");
	struct metrics_stat st;
	assert_int_equal(metrics_parse_stat(fbuf, n, &st), 0);
	/* independent reading of the first line */
	unsigned long long u, ni, sy, id, io;
	fbuf[n < sizeof(fbuf) ? n : sizeof(fbuf) - 1] = '\0';
	assert_int_equal(sscanf(fbuf, "cpu %llu %llu %llu %llu %llu", &u, &ni,
				&sy, &id, &io),
			 5);
	assert_true(st.total.user == u && st.total.nice == ni);
	assert_true(st.total.system == sy && st.total.idle == id);
	assert_true(st.total.iowait == io);
	int lines = 0;
	for (const char *p = fbuf; (p = strstr(p, "\ncpu")) != NULL; p++) {
		lines++;
	}
	assert_int_equal(st.n_cpus, lines);
}

static void test_stat_arm(void **state)
{
	(void)state;
	struct metrics_stat st;
	size_t n = fload("aarch64-rpi4", "proc/stat");
	assert_int_equal(metrics_parse_stat(fbuf, n, &st), 0);
	assert_int_equal(st.n_cpus, 4);
	assert_true(st.total.user == 1184393 && st.total.idle == 61250334);
	assert_true(st.total.softirq == 9128 && st.total.steal == 0);
	n = fload("armhf-rpi3-ina219", "proc/stat");
	assert_int_equal(metrics_parse_stat(fbuf, n, &st), 0);
	assert_int_equal(st.n_cpus, 4);
	assert_true(st.total.system == 130117);
}

static void test_stat_bad(void **state)
{
	(void)state;
	struct metrics_stat st;
	const char *cut = "cpu  8419 0 3386 90736";
	assert_int_equal(metrics_parse_stat(cut, strlen(cut), &st), -EBADMSG);
	const char *few = "cpu  1 2 3\ncpu0 1 2 3\n";
	assert_int_equal(metrics_parse_stat(few, strlen(few), &st), -EBADMSG);
	const char *junk = "cpu  1 2 x 4\n";
	assert_int_equal(metrics_parse_stat(junk, strlen(junk), &st), -EBADMSG);
	const char *glued = "cpu  1 2 3 4abc\n";
	assert_int_equal(metrics_parse_stat(glued, strlen(glued), &st),
			 -EBADMSG);
	const char *none = "intr 1 2 3\nctxt 5\n";
	assert_int_equal(metrics_parse_stat(none, strlen(none), &st), -EBADMSG);
	assert_int_equal(metrics_parse_stat("", 0, &st), -EBADMSG);
	const char *big = "cpu  99999999999999999999 0 0 0\n";
	assert_int_equal(metrics_parse_stat(big, strlen(big), &st), -ERANGE);
	const char *binary = "cpu\0 1 2 3 4\n";
	assert_int_equal(metrics_parse_stat(binary, 13, &st), -EBADMSG);
	/* a cut in a later, unused line does not matter; old 4-field kernel */
	const char *old = "cpu  10 0 5 85\ncpu0 10 0 5 85\nintr 12";
	assert_int_equal(metrics_parse_stat(old, strlen(old), &st), 0);
	assert_true(st.total.idle == 85 && st.total.iowait == 0);
	assert_int_equal(st.n_cpus, 1);
}

/* ---- /proc/meminfo ---- */

static void test_meminfo(void **state)
{
	(void)state;
	struct metrics_meminfo mi;
	size_t n = fload("aarch64-rpi4", "proc/meminfo");
	assert_int_equal(metrics_parse_meminfo(fbuf, n, &mi), 0);
	assert_true(mi.total_bytes == 3885396ull * 1024);
	assert_true(mi.available_bytes == 3342804ull * 1024);
	assert_false(mi.available_estimated);

	n = fload("x86_64", "proc/meminfo");
	assert_int_equal(metrics_parse_meminfo(fbuf, n, &mi), 0);
	unsigned long long total_kb;
	fbuf[n < sizeof(fbuf) ? n : sizeof(fbuf) - 1] = '\0';
	assert_int_equal(sscanf(fbuf, "MemTotal: %llu kB", &total_kb), 1);
	assert_true(mi.total_bytes == total_kb * 1024);
	assert_true(mi.available_bytes <= mi.total_bytes);

	/* pre-3.14 kernel: no MemAvailable */
	const char *old = "MemTotal: 1000 kB\nMemFree: 100 kB\n"
			  "Buffers: 20 kB\nCached: 300 kB\n";
	assert_int_equal(metrics_parse_meminfo(old, strlen(old), &mi), 0);
	assert_true(mi.available_estimated);
	assert_true(mi.available_bytes == 420ull * 1024);
}

static void test_meminfo_bad(void **state)
{
	(void)state;
	struct metrics_meminfo mi;
	const char *no_total = "MemFree: 10 kB\nMemAvailable: 20 kB\n";
	assert_int_equal(metrics_parse_meminfo(no_total, strlen(no_total), &mi),
			 -EBADMSG);
	const char *unit = "MemTotal: 12 MB\nMemAvailable: 1 kB\n";
	assert_int_equal(metrics_parse_meminfo(unit, strlen(unit), &mi),
			 -EBADMSG);
	const char *cut = "MemTotal:  3885396 kB\nMemAvailable: 33";
	assert_int_equal(metrics_parse_meminfo(cut, strlen(cut), &mi),
			 -EBADMSG);
	const char *neg = "MemTotal: -5 kB\n";
	assert_int_equal(metrics_parse_meminfo(neg, strlen(neg), &mi),
			 -EBADMSG);
	const char *huge = "MemTotal: 99999999999999999 kB\nMemFree: 1 kB\n";
	assert_int_equal(metrics_parse_meminfo(huge, strlen(huge), &mi),
			 -ERANGE);
	const char *only_total = "MemTotal: 100 kB\n";
	assert_int_equal(
	    metrics_parse_meminfo(only_total, strlen(only_total), &mi),
	    -EBADMSG);
}

/* ---- /proc/loadavg ---- */

static void test_loadavg(void **state)
{
	(void)state;
	struct metrics_loadavg la;
	size_t n = fload("armhf-rpi3-ina219", "proc/loadavg");
	assert_int_equal(metrics_parse_loadavg(fbuf, n, &la), 0);
	assert_true(fabs(la.load1 - 1.08) < 1e-9);
	assert_true(fabs(la.load5 - 0.87) < 1e-9);
	assert_true(fabs(la.load15 - 0.79) < 1e-9);
	assert_int_equal(la.runnable, 3);
	assert_int_equal(la.threads, 187);

	const char *bad[] = {"0.42 0.31\n",
			     "0.42 0.31 0.27 2-231 1\n",
			     "0.42 0.31 0.27 2/231 1",
			     "a b c 1/2 3\n",
			     "0.42 0.31 -0.27 2/231 1\n",
			     "1. 2 3 1/2 3\n",
			     "0.1 0.2 0.3 1/ 3\n",
			     ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    metrics_parse_loadavg(bad[i], strlen(bad[i]), &la),
		    -EBADMSG);
	}
}

/* ---- /proc/net/dev ---- */

static const struct metrics_netif *find_if(const struct metrics_netdev *nd,
					   const char *name)
{
	for (uint32_t i = 0; i < nd->n; i++) {
		if (strcmp(nd->ifs[i].name, name) == 0) {
			return &nd->ifs[i];
		}
	}
	return NULL;
}

static void test_netdev(void **state)
{
	(void)state;
	struct metrics_netdev nd;
	size_t n = fload("aarch64-rpi4", "proc/net/dev");
	assert_int_equal(metrics_parse_netdev(fbuf, n, &nd), 0);
	assert_int_equal(nd.n, 3);
	const struct metrics_netif *eth = find_if(&nd, "eth0");
	assert_non_null(eth);
	assert_true(eth->rx_bytes == 3910234117ull);
	assert_true(eth->rx_packets == 4101876);
	assert_true(eth->tx_bytes == 712093311ull);
	assert_true(eth->tx_packets == 2109987);

	/* number glued to the colon, as the kernel prints large counters */
	n = fload("armhf-rpi3-ina219", "proc/net/dev");
	assert_int_equal(metrics_parse_netdev(fbuf, n, &nd), 0);
	eth = find_if(&nd, "eth0");
	assert_non_null(eth);
	assert_true(eth->rx_bytes == 4294960000ull);

	n = fload("x86_64", "proc/net/dev");
	assert_int_equal(metrics_parse_netdev(fbuf, n, &nd), 0);
	assert_non_null(find_if(&nd, "lo"));
}

static void test_netdev_bad_and_many(void **state)
{
	(void)state;
	struct metrics_netdev nd;
	const char *hdr = "Inter-|   Receive |  Transmit\n"
			  " face |bytes |bytes\n";
	char buf[8192];
	int len;

	assert_int_equal(metrics_parse_netdev(hdr, strlen(hdr), &nd), 0);
	assert_int_equal(nd.n, 0);
	len = snprintf(buf, sizeof(buf), "%s  eth0: 1 2 3\n", hdr);
	assert_int_equal(metrics_parse_netdev(buf, (size_t)len, &nd), -EBADMSG);
	len =
	    snprintf(buf, sizeof(buf),
		     "%s  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", hdr);
	assert_int_equal(metrics_parse_netdev(buf, (size_t)len, &nd), -EBADMSG);
	len = snprintf(buf, sizeof(buf),
		       "%s  averyveryverylongname0: 1 2 3 4 5 6 7 8 9 10 11 "
		       "12 13 14 15 16\n",
		       hdr);
	assert_int_equal(metrics_parse_netdev(buf, (size_t)len, &nd), -EBADMSG);
	const char *nohdr = "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
	assert_int_equal(metrics_parse_netdev(nohdr, strlen(nohdr), &nd),
			 -EBADMSG);
	/* truncated mid-line */
	len = snprintf(buf, sizeof(buf), "%s  eth0: 1 2 3 4 5 6", hdr);
	assert_int_equal(metrics_parse_netdev(buf, (size_t)len, &nd), -EBADMSG);

	/* more interfaces than kept: the first METRICS_NETIFS_MAX remain */
	len = snprintf(buf, sizeof(buf), "%s", hdr);
	for (int i = 0; i < 40; i++) {
		len += snprintf(buf + len, sizeof(buf) - (size_t)len,
				"veth%d: %d 1 0 0 0 0 0 0 %d 2 0 0 0 0 0 0\n",
				i, i * 10, i * 20);
	}
	assert_int_equal(metrics_parse_netdev(buf, (size_t)len, &nd), 0);
	assert_int_equal(nd.n, METRICS_NETIFS_MAX);
	assert_string_equal(nd.ifs[31].name, "veth31");
	assert_true(nd.ifs[31].rx_bytes == 310 && nd.ifs[31].tx_bytes == 620);
}

/* ---- single integers ---- */

static void test_parse_int(void **state)
{
	(void)state;
	int64_t v;
	assert_int_equal(metrics_parse_int("48692\n", 6, &v), 0);
	assert_true(v == 48692);
	assert_int_equal(metrics_parse_int("-5000\n", 6, &v), 0);
	assert_true(v == -5000);
	assert_int_equal(metrics_parse_int("abc\n", 4, &v), -EBADMSG);
	assert_int_equal(metrics_parse_int("", 0, &v), -EBADMSG);
	assert_int_equal(metrics_parse_int("12 34\n", 6, &v), -EBADMSG);
	assert_int_equal(metrics_parse_int("123", 3, &v), -EBADMSG);
	assert_int_equal(metrics_parse_int("- 5\n", 4, &v), -EBADMSG);
	assert_int_equal(metrics_parse_int("9223372036854775808\n", 20, &v),
			 -ERANGE);
}

/* ---- arithmetic ---- */

static void test_cpu_busy_and_reset(void **state)
{
	(void)state;
	struct metrics_cpu_times a = {
	    .user = 100, .system = 50, .idle = 800, .iowait = 50};
	struct metrics_cpu_times b = a;
	double busy = -1;
	b.user += 30;
	b.system += 20;
	b.idle += 140;
	b.iowait += 10;
	assert_int_equal(metrics_cpu_busy(&a, &b, &busy), 0);
	assert_true(fabs(busy - 0.25) < 1e-12);
	assert_int_equal(metrics_cpu_busy(&a, &a, &busy), -EAGAIN);
	b.idle = 10; /* went backwards: hotplug or reset */
	assert_int_equal(metrics_cpu_busy(&a, &b, &busy), -EAGAIN);
}

static void test_counter_delta(void **state)
{
	(void)state;
	bool reset;
	assert_true(metrics_counter_delta(10, 25, 0, &reset) == 15);
	assert_false(reset);
	/* 32-bit counter wrapped */
	assert_true(metrics_counter_delta(4294967000ull, 704, 0, &reset) ==
		    1000);
	assert_false(reset);
	/* explicit range (RAPL) */
	assert_true(metrics_counter_delta(990, 10, 1000, &reset) == 20);
	assert_false(reset);
	/* 64-bit counter went backwards: a reset, not a wrap */
	assert_true(metrics_counter_delta(10000000000ull, 5, 0, &reset) == 5);
	assert_true(reset);
	/* prev above the declared range: reset too */
	assert_true(metrics_counter_delta(5000, 10, 1000, &reset) == 10);
	assert_true(reset);
}

static void test_power_model(void **state)
{
	(void)state;
	assert_true(fabs(metrics_power_model(2.0, 1.5, 0.5, 4) - 5.0) < 1e-12);
	assert_true(fabs(metrics_power_model(2.0, 1.5, -1.0, 4) - 2.0) < 1e-12);
	assert_true(fabs(metrics_power_model(2.0, 1.5, 7.0, 2) - 5.0) < 1e-12);
	assert_true(fabs(metrics_power_model(2.0, 1.5, NAN, 2) - 2.0) < 1e-12);
}

/* ---- sampler ---- */

static void test_sampler_x86_model(void **state)
{
	(void)state;
	char *root = copy_tree("x86_64");
	struct metrics_config cfg = {
	    .root = root, .idle_watts = 3.0, .watts_per_core = 2.0};
	struct metrics_sampler *s = metrics_sampler_new(&cfg);
	struct metrics_sample m;
	assert_non_null(s);
	put(root, "proc/stat",
	    "cpu  1000 0 0 9000 0 0 0 0 0 0\n"
	    "cpu0 500 0 0 4500 0 0 0 0 0 0\n"
	    "cpu1 500 0 0 4500 0 0 0 0 0 0\n");
	assert_int_equal(metrics_sampler_tick(s, 1000, &m), 0);
	assert_true(m.cpu_busy < 0);
	assert_int_equal(m.cpu_cores, 2);
	assert_int_equal(m.power_source, POWER_MODEL);
	assert_true(fabs(m.power_watts - 3.0) < 1e-9);
	assert_true(m.temperature_c < -273.0);
	assert_int_equal(m.thermal_zones, 0);
	assert_int_equal(m.errors, 0);

	put(root, "proc/stat",
	    "cpu  1100 0 0 9300 0 0 0 0 0 0\n"
	    "cpu0 550 0 0 4650 0 0 0 0 0 0\n"
	    "cpu1 550 0 0 4650 0 0 0 0 0 0\n");
	assert_int_equal(metrics_sampler_tick(s, 2000, &m), 0);
	assert_true(fabs(m.cpu_busy - 0.25) < 1e-9);
	assert_true(fabs(m.power_watts - (3.0 + 2.0 * 0.25 * 2)) < 1e-9);

	/* garbage /proc/stat: clear error, the baseline is kept */
	put(root, "proc/stat", "cpu  garbage\n");
	assert_int_equal(metrics_sampler_tick(s, 3000, &m), -EBADMSG);
	put(root, "proc/stat",
	    "cpu  1300 0 0 9400 0 0 0 0 0 0\n"
	    "cpu0 650 0 0 4700 0 0 0 0 0 0\n"
	    "cpu1 650 0 0 4700 0 0 0 0 0 0\n");
	assert_int_equal(metrics_sampler_tick(s, 4000, &m), 0);
	assert_true(fabs(m.cpu_busy - 200.0 / 300.0) < 1e-9);

	/* counters reset (e.g. a snapshot restored): no bogus figure */
	put(root, "proc/stat",
	    "cpu  10 0 0 10 0 0 0 0 0 0\n"
	    "cpu0 5 0 0 5 0 0 0 0 0 0\n");
	assert_int_equal(metrics_sampler_tick(s, 5000, &m), 0);
	assert_true(m.cpu_busy < 0);
	assert_int_equal(m.cpu_cores, 1);

	/* a required file missing */
	char p[600];
	snprintf(p, sizeof(p), "%s/proc/meminfo", root);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(metrics_sampler_tick(s, 6000, &m), -ENOENT);
	metrics_sampler_free(s);
	rm_tree(root);
}

static void test_sampler_rpi4_thermal(void **state)
{
	(void)state;
	char *root = copy_tree("aarch64-rpi4");
	struct metrics_config cfg = {
	    .root = root, .idle_watts = 2.7, .watts_per_core = 0.9};
	struct metrics_sampler *s = metrics_sampler_new(&cfg);
	struct metrics_sample m;
	assert_int_equal(metrics_sampler_tick(s, 10000, &m), 0);
	assert_int_equal(m.cpu_cores, 4);
	assert_int_equal(m.thermal_zones, 1);
	assert_true(fabs(m.temperature_c - 48.692) < 1e-9);
	assert_true(m.mem_available_bytes == 3342804ull * 1024);
	assert_true(fabs(m.load.load1 - 0.42) < 1e-9);
	assert_int_equal(m.power_source, POWER_MODEL);
	assert_int_equal(m.net.n, 3);

	/* thermal zone returns garbage: counted, temperature unknown */
	put(root, "sys/class/thermal/thermal_zone0/temp", "N/A\n");
	assert_int_equal(metrics_sampler_tick(s, 11000, &m), 0);
	assert_int_equal(m.errors, 1);
	assert_true(m.temperature_c < -273.0);
	metrics_sampler_free(s);
	rm_tree(root);
}

static void test_sampler_armhf_hwmon_and_wrap(void **state)
{
	(void)state;
	char *root = copy_tree("armhf-rpi3-ina219");
	struct metrics_config cfg = {
	    .root = root, .idle_watts = 1.4, .watts_per_core = 0.6};
	struct metrics_sampler *s = metrics_sampler_new(&cfg);
	struct metrics_sample m;
	assert_int_equal(metrics_sampler_tick(s, 1000, &m), 0);
	assert_int_equal(m.power_source, POWER_HWMON);
	assert_true(fabs(m.power_watts - 3.38) < 1e-9);
	assert_true(fabs(m.temperature_c - 55.844) < 1e-9);

	/* eth0 rx wraps at 2^32 over two seconds */
	put(root, "proc/net/dev",
	    "Inter-|   Receive |  Transmit\n"
	    " face |bytes |bytes\n"
	    "    lo:   41234     402    0    0    0     0          0         "
	    "0    41234     402    0    0    0     0       0          0\n"
	    "  eth0:    2704 3120450    0    0    0     0          0      "
	    "9021 308118204 1702110    0    0    0     0       0          0\n");
	assert_int_equal(metrics_sampler_tick(s, 3000, &m), 0);
	int eth = -1;
	for (uint32_t i = 0; i < m.net.n; i++) {
		if (strcmp(m.net.ifs[i].name, "eth0") == 0) {
			eth = (int)i;
		}
	}
	assert_true(eth >= 0);
	/* (2^32 - 4294960000) + 2704 = 10000 bytes in 2 s */
	assert_true(fabs(m.rx_bytes_per_s[eth] - 5000.0) < 1e-9);
	assert_true(fabs(m.tx_bytes_per_s[eth] - 500.0) < 1e-9);
	metrics_sampler_free(s);
	rm_tree(root);
}

static void test_sampler_rapl(void **state)
{
	(void)state;
	char *root = copy_tree("x86_64-rapl");
	struct metrics_config cfg = {
	    .root = root, .idle_watts = 20.0, .watts_per_core = 8.0};
	struct metrics_sampler *s = metrics_sampler_new(&cfg);
	struct metrics_sample m;
	assert_int_equal(metrics_sampler_tick(s, 1000, &m), 0);
	assert_int_equal(m.power_source, POWER_MODEL); /* no delta yet */
	assert_true(fabs(m.temperature_c - 53.0) < 1e-9);
	assert_int_equal(m.thermal_zones, 2);
	/* package counter wraps at max_energy_range_uj; the core sub-zone
	   moves too but is inside the package and must not be added */
	put(root, "sys/class/powercap/intel-rapl:0/energy_uj", "1000000\n");
	put(root, "sys/class/powercap/intel-rapl:0:0/energy_uj", "90000000\n");
	assert_int_equal(metrics_sampler_tick(s, 2000, &m), 0);
	assert_int_equal(m.power_source, POWER_RAPL);
	assert_true(fabs(m.power_watts - 1.32885) < 1e-9);
	put(root, "sys/class/powercap/intel-rapl:0/energy_uj", "16000000\n");
	assert_int_equal(metrics_sampler_tick(s, 3500, &m), 0);
	assert_true(fabs(m.power_watts - 10.0) < 1e-9);
	metrics_sampler_free(s);
	rm_tree(root);
}

static void test_sampler_live_root(void **state)
{
	(void)state;
	struct metrics_config cfg = {
	    .root = "/", .idle_watts = 3.0, .watts_per_core = 2.0};
	struct metrics_sampler *s = metrics_sampler_new(&cfg);
	struct metrics_sample m;
	assert_int_equal(metrics_sampler_tick(s, 1, &m), 0);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(m.cpu_cores, online);
	assert_true(m.mem_total_bytes > 0);
	assert_true(m.mem_available_bytes <= m.mem_total_bytes);
	assert_true(m.load.load1 >= 0);
	assert_int_equal(m.errors, 0);
	usleep(20000);
	assert_int_equal(metrics_sampler_tick(s, 21, &m), 0);
	/* with 20 ms between reads the counters may not move at USER_HZ */
	assert_true(m.cpu_busy <= 1.0);
	metrics_sampler_free(s);
	metrics_sampler_free(NULL);
}

static void test_apply_thresholds(void **state)
{
	(void)state;
	struct node_state st = {.temperature_c = -1000.0};
	struct metrics_sample m = {
	    .cpu_busy = 0.5,
	    .cpu_cores = 4,
	    .mem_total_bytes = 1000000,
	    .mem_available_bytes = 500000,
	    .power_watts = 5.0,
	    .temperature_c = 50.0,
	    .thermal_zones = 1,
	};
	assert_true(metrics_apply(&m, &st));
	assert_true(st.version == 1);
	assert_true(fabs(st.cpu_free - 0.5) < 1e-12);
	assert_true(st.mem_free_bytes == 500000);
	assert_true(fabs(st.temperature_c - 50.0) < 1e-12);
	/* noise below every threshold: untouched */
	m.cpu_busy = 0.51;
	m.mem_available_bytes = 505000;
	m.power_watts = 5.05;
	m.temperature_c = 50.5;
	assert_false(metrics_apply(&m, &st));
	assert_true(st.version == 1);
	assert_true(fabs(st.cpu_free - 0.5) < 1e-12);
	/* slow drift crosses the threshold against the published value */
	m.mem_available_bytes = 511000;
	assert_true(metrics_apply(&m, &st));
	assert_true(st.version == 2);
	assert_true(st.mem_free_bytes == 511000);
	/* first tick (cpu unknown) keeps the published cpu_free */
	m.cpu_busy = -1.0;
	m.thermal_zones = 0;
	assert_true(metrics_apply(&m, &st)); /* temperature disappeared */
	assert_true(fabs(st.cpu_free - 0.49) < 1e-12);
	assert_true(st.temperature_c < -273.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_captured_x86),
	    cmocka_unit_test(test_stat_arm),
	    cmocka_unit_test(test_stat_bad),
	    cmocka_unit_test(test_meminfo),
	    cmocka_unit_test(test_meminfo_bad),
	    cmocka_unit_test(test_loadavg),
	    cmocka_unit_test(test_netdev),
	    cmocka_unit_test(test_netdev_bad_and_many),
	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_cpu_busy_and_reset),
	    cmocka_unit_test(test_counter_delta),
	    cmocka_unit_test(test_power_model),
	    cmocka_unit_test(test_sampler_x86_model),
	    cmocka_unit_test(test_sampler_rpi4_thermal),
	    cmocka_unit_test(test_sampler_armhf_hwmon_and_wrap),
	    cmocka_unit_test(test_sampler_rapl),
	    cmocka_unit_test(test_sampler_live_root),
	    cmocka_unit_test(test_apply_thresholds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: Apache-2.0
/*
 * cli_runtime: the workload subcommands — run, ps, stop, rm, logs, apply.
 * Specs are built (or parsed from a CodecoApp manifest) here and sent in
 * the runtime's text encoding; `logs` reads the file the agent names.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "manifest.h"
#include "runtime.h"

#define SPEC_TEXT_MAX 8192

/* One request/reply; returns the exit code, *rep set on 0. */
static int call(const struct cli_common *c, Farnode__V1__Request *req,
		Farnode__V1__Reply **rep, const char *cmd,
		Farnode__V1__Reply__RepCase want)
{
	int rc = cli_call(c, req, rep);
	if (rc != 0) {
		return rc;
	}
	if ((*rep)->code != 0 || (*rep)->rep_case != want) {
		rc = cli_reply_error(cmd, *rep);
		farnode__v1__reply__free_unpacked(*rep, NULL);
		*rep = NULL;
		return rc;
	}
	return 0;
}

/* Fetch one workload's info (NULL if gone or on error). */
static Farnode__V1__Reply *get_one(const struct cli_common *c, const char *id)
{
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__PsRequest pr = FARNODE__V1__PS_REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	pr.id = (char *)id;
	req.req_case = FARNODE__V1__REQUEST__REQ_PS;
	req.ps = &pr;
	if (cli_call(c, &req, &rep) != 0) {
		return NULL;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_PS ||
	    rep->ps->n_workloads != 1) {
		farnode__v1__reply__free_unpacked(rep, NULL);
		return NULL;
	}
	return rep;
}

static bool phase_active(const char *p)
{
	return strcmp(p, "starting") == 0 || strcmp(p, "running") == 0;
}

/* ---- run ---- */

static void make_id(const char *base, char *out, size_t len)
{
	const char *slash = strrchr(base, '/');
	const char *b = slash != NULL ? slash + 1 : base;
	uint8_t rnd[3] = {0};
	char clean[40];
	size_t n = 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint32_t t = (uint32_t)time(NULL) ^ (uint32_t)getpid();
		memcpy(rnd, &t, sizeof(rnd));
	}
	for (; *b != '\0' && n < sizeof(clean) - 1; b++) {
		char ch = *b;
		bool ok = (ch >= 'a' && ch <= 'z') ||
			  (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
		clean[n++] = ok ? ch : '-';
	}
	clean[n] = '\0';
	snprintf(out, len, "%s-%02x%02x%02x", n > 0 ? clean : "wl", rnd[0],
		 rnd[1], rnd[2]);
}

static const char run_usage[] =
    "Usage: farnode run [--name N] [--cpu 250m] [--mem 64Mi] "
    "[--deadline 200ms]\n"
    "                   [--qos gold|silver|besteffort] "
    "[--profile latency|greenness|resilience]\n"
    "                   [--restart never|on-failure|always] [--env K=V]... "
    "[--cwd DIR]\n"
    "                   [--oci BUNDLE] -- CMD ARGS...\n\n"
    "Create a workload on this node. It starts when admission allows "
    "(cpu and\n"
    "memory capacity), else stays pending. Without --name the id is the "
    "command's\n"
    "name plus a random suffix. The workload survives agent restarts.\n\n"
    "  --name N        id and name (letters, digits, '-', '_', '.')\n"
    "  --cpu Q         cpu request and cgroup limit: 250m, 0.5, 2\n"
    "  --mem Q         memory limit: 64Mi, 1Gi, 500M\n"
    "  --deadline D    maxDelay: 200ms, 2s\n"
    "  --qos C         gold | silver | besteffort (default besteffort)\n"
    "  --profile P     latency | greenness | resilience\n"
    "  --restart R     never | on-failure | always (default never)\n"
    "  --env K=V       environment variable (repeatable, max 16)\n"
    "  --cwd DIR       working directory\n"
    "  --oci BUNDLE    run an OCI bundle through crun instead of "
    "CMD\n" CLI_COMMON_HELP;

enum {
	OPT_NAME = CLI_OPT_FIRST_FREE + 10,
	OPT_CPU,
	OPT_MEM,
	OPT_DEADLINE,
	OPT_QOS,
	OPT_PROFILE,
	OPT_RESTART,
	OPT_ENV,
	OPT_CWD,
	OPT_OCI,
	OPT_NO_WAIT,
	OPT_FILE,
};

static int put_str(char *dst, size_t cap, const char *src, const char *what)
{
	if (strlen(src) >= cap) {
		return cli_usage_error("run", "%s longer than %zu bytes", what,
				       cap - 1);
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static void print_ack(const char *cmd, const Farnode__V1__WorkloadAck *k)
{
	if (k->code != 0) {
		fprintf(stderr, "farnode %s: %s: %s\n", cmd,
			k->id[0] ? k->id : "(workload)", k->reason);
		return;
	}
	printf("%s\t%s\t%s\n", k->id, k->phase, k->reason);
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"name", required_argument, NULL, OPT_NAME},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"mem", required_argument, NULL, OPT_MEM},
	    {"deadline", required_argument, NULL, OPT_DEADLINE},
	    {"qos", required_argument, NULL, OPT_QOS},
	    {"profile", required_argument, NULL, OPT_PROFILE},
	    {"restart", required_argument, NULL, OPT_RESTART},
	    {"env", required_argument, NULL, OPT_ENV},
	    {"cwd", required_argument, NULL, OPT_CWD},
	    {"oci", required_argument, NULL, OPT_OCI},
	    {0, 0, 0, 0},
	};
	struct cli_common c = {0};
	struct workload_spec s;
	const char *name = NULL;
	int opt;
	int rc;

	memset(&s, 0, sizeof(s));
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+" CLI_COMMON_SHORTOPTS,
				  longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			printf("%s", run_usage);
			return 0;
		case OPT_NAME:
			name = optarg;
			break;
		case OPT_CPU:
			if (manifest_parse_cpu(optarg, &s.cpu_milli) != 0) {
				return cli_usage_error(
				    "run",
				    "--cpu '%s': expected e.g. 250m, 0.5, "
				    "2 (at most 1000)",
				    optarg);
			}
			break;
		case OPT_MEM:
			if (manifest_parse_bytes(optarg, &s.mem_bytes) != 0) {
				return cli_usage_error(
				    "run",
				    "--mem '%s': expected e.g. 64Mi, 1Gi",
				    optarg);
			}
			break;
		case OPT_DEADLINE:
			if (manifest_parse_delay_ms(optarg, &s.max_delay_ms) !=
			    0) {
				return cli_usage_error(
				    "run",
				    "--deadline '%s': expected e.g. "
				    "200ms, 2s (at most 24 h)",
				    optarg);
			}
			break;
		case OPT_QOS:
			if (qos_class_parse(optarg, &s.qos) != 0) {
				return cli_usage_error(
				    "run",
				    "--qos '%s' (allowed: gold, silver, "
				    "besteffort)",
				    optarg);
			}
			break;
		case OPT_PROFILE:
			if (perf_profile_parse(optarg, &s.profile) != 0) {
				return cli_usage_error(
				    "run",
				    "--profile '%s' (allowed: latency, "
				    "greenness, resilience)",
				    optarg);
			}
			break;
		case OPT_RESTART:
			if (restart_policy_parse(optarg, &s.restart) != 0) {
				return cli_usage_error(
				    "run",
				    "--restart '%s' (allowed: never, "
				    "on-failure, always)",
				    optarg);
			}
			break;
		case OPT_ENV:
			if (strchr(optarg, '=') == NULL || optarg[0] == '=') {
				return cli_usage_error(
				    "run", "--env '%s': expected K=V", optarg);
			}
			if (s.envc >= WORKLOAD_ENV_MAX) {
				return cli_usage_error("run",
						       "at most %d --env",
						       WORKLOAD_ENV_MAX);
			}
			if ((rc = put_str(s.env[s.envc], WORKLOAD_ARG_MAX,
					  optarg, "--env")) != 0) {
				return rc;
			}
			s.envc++;
			break;
		case OPT_CWD:
			if ((rc = put_str(s.cwd, sizeof(s.cwd), optarg,
					  "--cwd")) != 0) {
				return rc;
			}
			break;
		case OPT_OCI:
			s.runtime = RUNTIME_OCI;
			if ((rc = put_str(s.bundle, sizeof(s.bundle), optarg,
					  "--oci")) != 0) {
				return rc;
			}
			break;
		default:
			if (opt == '?' || !cli_common_opt(&c, opt, optarg)) {
				return cli_usage_error("run", "invalid option");
			}
		}
	}
	int nargs = argc - optind;
	if (s.runtime == RUNTIME_PROC && nargs == 0) {
		return cli_usage_error("run", "missing command (after --)");
	}
	if (s.runtime == RUNTIME_OCI && nargs != 0) {
		return cli_usage_error("run", "--oci takes no command: the "
					      "bundle's config.json has it");
	}
	if (nargs > WORKLOAD_ARGV_MAX) {
		return cli_usage_error("run", "at most %d command words",
				       WORKLOAD_ARGV_MAX);
	}
	for (int i = 0; i < nargs; i++) {
		if ((rc = put_str(s.argv[i], WORKLOAD_ARG_MAX, argv[optind + i],
				  "an argument")) != 0) {
			return rc;
		}
	}
	s.argc = (uint32_t)nargs;
	if (s.runtime == RUNTIME_OCI && s.bundle[0] != '/') {
		char abs[WORKLOAD_PATH_MAX];
		if (realpath(s.bundle, abs) == NULL) {
			fprintf(stderr, "farnode run: %s: %s\n", s.bundle,
				strerror(errno));
			return 1;
		}
		if ((rc = put_str(s.bundle, sizeof(s.bundle), abs, "--oci")) !=
		    0) {
			return rc;
		}
	}
	if (name != NULL) {
		if ((rc = put_str(s.id, sizeof(s.id), name, "--name")) != 0 ||
		    (rc = put_str(s.name, sizeof(s.name), name, "--name")) !=
			0) {
			return rc;
		}
	} else {
		make_id(s.runtime == RUNTIME_OCI ? s.bundle : s.argv[0], s.id,
			sizeof(s.id));
		snprintf(s.name, sizeof(s.name), "%s", s.id);
	}
	char why[128];
	if (workload_spec_validate(&s, why, sizeof(why)) != 0) {
		return cli_usage_error("run", "%s", why);
	}
	char text[SPEC_TEXT_MAX];
	int len = runtime_spec_encode(&s, text, sizeof(text));
	if (len < 0) {
		return cli_usage_error("run", "workload spec too large");
	}

	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__RunRequest rr = FARNODE__V1__RUN_REQUEST__INIT;
	rr.spec.data = (uint8_t *)text;
	rr.spec.len = (size_t)len;
	req.req_case = FARNODE__V1__REQUEST__REQ_RUN;
	req.run = &rr;
	Farnode__V1__Reply *rep = NULL;
	if ((rc = call(&c, &req, &rep, "run", FARNODE__V1__REPLY__REP_RUN)) !=
	    0) {
		return rc;
	}
	if (c.json) {
		printf("{\"id\":");
		cli_json_str(stdout, rep->run->id);
		printf(",\"phase\":");
		cli_json_str(stdout, rep->run->phase);
		printf(",\"reason\":");
		cli_json_str(stdout, rep->run->reason);
		printf("}\n");
	} else {
		print_ack("run", rep->run);
	}
	rc = strcmp(rep->run->phase, "failed") == 0 ? 1 : 0;
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

/* ---- ps ---- */

static void fmt_bytes(char *out, size_t len, uint64_t b)
{
	if (b == 0) {
		snprintf(out, len, "-");
	} else if (b % (1ull << 30) == 0) {
		snprintf(out, len, "%lluGi", (unsigned long long)(b >> 30));
	} else if (b % (1ull << 20) == 0) {
		snprintf(out, len, "%lluMi", (unsigned long long)(b >> 20));
	} else if (b >= 1000000) {
		snprintf(out, len, "%.0fM", (double)b / 1e6);
	} else {
		snprintf(out, len, "%llu", (unsigned long long)b);
	}
}

static void print_info_json(const Farnode__V1__WorkloadInfo *w)
{
	printf("{\"id\":");
	cli_json_str(stdout, w->id);
	printf(",\"name\":");
	cli_json_str(stdout, w->name);
	printf(",\"phase\":");
	cli_json_str(stdout, w->phase);
	printf(",\"reason\":");
	cli_json_str(stdout, w->reason);
	printf(",\"pid\":%d,\"exit_code\":%d,\"restarts\":%u", w->pid,
	       w->exit_code, w->restarts);
	printf(",\"qos\":");
	cli_json_str(stdout, w->qos);
	printf(",\"profile\":");
	cli_json_str(stdout, w->profile);
	printf(",\"runtime\":");
	cli_json_str(stdout, w->runtime);
	printf(",\"restart\":");
	cli_json_str(stdout, w->restart);
	printf(",\"cpu_milli\":%u,\"mem_bytes\":%llu,\"max_delay_ms\":%u",
	       w->cpu_milli, (unsigned long long)w->mem_bytes, w->max_delay_ms);
	printf(",\"argv\":[");
	for (size_t i = 0; i < w->n_argv; i++) {
		if (i) {
			putchar(',');
		}
		cli_json_str(stdout, w->argv[i]);
	}
	printf("],\"bundle\":");
	cli_json_str(stdout, w->bundle);
	printf(",\"created_ms\":%llu,\"started_ms\":%llu,"
	       "\"finished_ms\":%llu}",
	       (unsigned long long)w->created_ms,
	       (unsigned long long)w->started_ms,
	       (unsigned long long)w->finished_ms);
}

int cmd_ps(int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
						 {0, 0, 0, 0}};
	struct cli_common c = {0};
	int opt;
	int rc;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			printf("Usage: farnode ps [--json] [ID]\n\n"
			       "List the node's workloads (or one) with phase, "
			       "reason, pid, restarts and\n"
			       "resources, and whether cgroup limits apply.\n"
			       "%s",
			       CLI_COMMON_HELP);
			return 0;
		}
		if (opt == '?' || !cli_common_opt(&c, opt, optarg)) {
			return cli_usage_error("ps", "invalid option");
		}
	}
	if (argc - optind > 1) {
		return cli_usage_error("ps", "at most one ID");
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__PsRequest pr = FARNODE__V1__PS_REQUEST__INIT;
	pr.id = optind < argc ? argv[optind] : (char *)"";
	req.req_case = FARNODE__V1__REQUEST__REQ_PS;
	req.ps = &pr;
	Farnode__V1__Reply *rep = NULL;
	if ((rc = call(&c, &req, &rep, "ps", FARNODE__V1__REPLY__REP_PS)) !=
	    0) {
		return rc;
	}
	const Farnode__V1__PsReply *ps = rep->ps;
	if (c.json) {
		printf("{\"limits\":");
		cli_json_str(stdout, ps->limits);
		printf(",\"workloads\":[");
		for (size_t i = 0; i < ps->n_workloads; i++) {
			if (i) {
				putchar(',');
			}
			print_info_json(ps->workloads[i]);
		}
		printf("]}\n");
	} else {
		uint64_t now = (uint64_t)time(NULL) * 1000u;
		printf("%-24s %-9s %7s %4s %6s %6s %6s  %s\n", "ID", "PHASE",
		       "PID", "RST", "CPU", "MEM", "AGE", "REASON");
		for (size_t i = 0; i < ps->n_workloads; i++) {
			const Farnode__V1__WorkloadInfo *w = ps->workloads[i];
			char cpu[24], mem[32], age[32];
			snprintf(cpu, sizeof(cpu), "%um", w->cpu_milli);
			fmt_bytes(mem, sizeof(mem), w->mem_bytes);
			cli_fmt_duration(
			    age, sizeof(age),
			    now > w->created_ms
				? (unsigned long long)(now - w->created_ms)
				: 0);
			printf("%-24s %-9s %7d %4u %6s %6s %6s  %s\n", w->id,
			       w->phase, w->pid, w->restarts, cpu, mem, age,
			       w->reason);
		}
		if (ps->limits[0] != '\0' &&
		    strncmp(ps->limits, "cgroup v2 (", 11) != 0) {
			printf("note: %s\n", ps->limits);
		}
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return 0;
}

/* ---- stop / rm ---- */

static int id_command(int argc, char **argv, const char *cmd, const char *usage,
		      struct cli_common *c, bool *no_wait, const char **id)
{
	static const struct option longopts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {0, 0, 0, 0},
	};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			printf("%s%s", usage, CLI_COMMON_HELP);
			return -1;
		}
		if (opt == OPT_NO_WAIT && no_wait != NULL) {
			*no_wait = true;
			continue;
		}
		if (opt == '?' || !cli_common_opt(c, opt, optarg)) {
			return cli_usage_error(cmd, "invalid option");
		}
	}
	if (argc - optind != 1) {
		return cli_usage_error(cmd, "expected one workload ID");
	}
	*id = argv[optind];
	return 0;
}

int cmd_stop(int argc, char **argv)
{
	struct cli_common c = {0};
	bool no_wait = false;
	const char *id = NULL;
	int rc = id_command(argc, argv, "stop",
			    "Usage: farnode stop [--no-wait] ID\n\n"
			    "Stop a workload: SIGTERM to its process group, "
			    "SIGKILL after a grace\n"
			    "period. It is not restarted. Waits until it has "
			    "stopped unless --no-wait.\n",
			    &c, &no_wait, &id);
	if (rc != 0) {
		return rc < 0 ? 0 : rc;
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__StopRequest sr = FARNODE__V1__STOP_REQUEST__INIT;
	sr.id = (char *)id;
	req.req_case = FARNODE__V1__REQUEST__REQ_STOP;
	req.stop = &sr;
	Farnode__V1__Reply *rep = NULL;
	if ((rc = call(&c, &req, &rep, "stop", FARNODE__V1__REPLY__REP_STOP)) !=
	    0) {
		return rc;
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	if (no_wait) {
		printf("%s\tstopping\n", id);
		return 0;
	}
	for (int i = 0; i < 300; i++) { /* 30 s */
		Farnode__V1__Reply *one = get_one(&c, id);
		if (one == NULL) {
			fprintf(stderr, "farnode stop: %s: lost track of it\n",
				id);
			return 1;
		}
		const Farnode__V1__WorkloadInfo *w = one->ps->workloads[0];
		if (!phase_active(w->phase)) {
			printf("%s\t%s\t%s\n", id, w->phase, w->reason);
			farnode__v1__reply__free_unpacked(one, NULL);
			return 0;
		}
		farnode__v1__reply__free_unpacked(one, NULL);
		usleep(100000);
	}
	fprintf(stderr, "farnode stop: %s: still running after 30 s\n", id);
	return 1;
}

int cmd_rm(int argc, char **argv)
{
	struct cli_common c = {0};
	const char *id = NULL;
	int rc = id_command(argc, argv, "rm",
			    "Usage: farnode rm ID\n\n"
			    "Remove a workload that is not running: its "
			    "record, cgroup and logs.\n",
			    &c, NULL, &id);
	if (rc != 0) {
		return rc < 0 ? 0 : rc;
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__RmRequest rr = FARNODE__V1__RM_REQUEST__INIT;
	rr.id = (char *)id;
	req.req_case = FARNODE__V1__REQUEST__REQ_RM;
	req.rm = &rr;
	Farnode__V1__Reply *rep = NULL;
	if ((rc = call(&c, &req, &rep, "rm", FARNODE__V1__REPLY__REP_RM)) !=
	    0) {
		return rc;
	}
	printf("%s\tremoved\n", id);
	farnode__v1__reply__free_unpacked(rep, NULL);
	return 0;
}

/* ---- logs ---- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Copy path from *pos to the end; returns bytes copied or -1. */
static long long dump_from(const char *path, off_t *pos)
{
	char buf[16384];
	struct stat sb;
	long long total = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	if (fstat(fd, &sb) == 0 && sb.st_size < *pos) {
		*pos = 0; /* rotated (copied and truncated) */
	}
	if (lseek(fd, *pos, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			break;
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			close(fd);
			return -1;
		}
		*pos += n;
		total += n;
	}
	close(fd);
	fflush(stdout);
	return total;
}

int cmd_logs(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"follow", no_argument, NULL, 'f'},
	    {0, 0, 0, 0},
	};
	struct cli_common c = {0};
	bool follow = false;
	int opt;
	int rc;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f" CLI_COMMON_SHORTOPTS,
				  longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("Usage: farnode logs [-f] ID\n\n"
			       "Print a workload's output (stdout and stderr), "
			       "rotated files first.\n"
			       "  -f, --follow        keep printing new output "
			       "until the workload ends\n"
			       "%s",
			       CLI_COMMON_HELP);
			return 0;
		}
		if (opt == 'f') {
			follow = true;
			continue;
		}
		if (opt == '?' || !cli_common_opt(&c, opt, optarg)) {
			return cli_usage_error("logs", "invalid option");
		}
	}
	if (argc - optind != 1) {
		return cli_usage_error("logs", "expected one workload ID");
	}
	const char *id = argv[optind];
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__LogsRequest lr = FARNODE__V1__LOGS_REQUEST__INIT;
	lr.id = (char *)id;
	req.req_case = FARNODE__V1__REQUEST__REQ_LOGS;
	req.logs = &lr;
	Farnode__V1__Reply *rep = NULL;
	if ((rc = call(&c, &req, &rep, "logs", FARNODE__V1__REPLY__REP_LOGS)) !=
	    0) {
		return rc;
	}
	char path[1024];
	snprintf(path, sizeof(path), "%s", rep->logs->path);
	unsigned rotated = rep->logs->rotated;
	farnode__v1__reply__free_unpacked(rep, NULL);

	for (unsigned g = rotated; g >= 1; g--) {
		char old[1100];
		off_t p0 = 0;
		snprintf(old, sizeof(old), "%s.%u", path, g);
		(void)dump_from(old, &p0);
	}
	off_t pos = 0;
	if (dump_from(path, &pos) < 0 && !follow) {
		printf("(no output yet)\n");
		return 0;
	}
	if (!follow) {
		return 0;
	}
	signal(SIGINT, on_sigint);
	int quiet_checks = 0;
	while (!interrupted) {
		long long n = dump_from(path, &pos);
		if (n > 0) {
			quiet_checks = 0;
		}
		usleep(200000);
		if (++quiet_checks % 5 == 0) {
			Farnode__V1__Reply *one = get_one(&c, id);
			bool done = true;
			if (one != NULL) {
				const Farnode__V1__WorkloadInfo *w =
				    one->ps->workloads[0];
				/* still running, waiting to start, or
				   between restarts: keep following */
				done = !phase_active(w->phase) &&
				       strcmp(w->phase, "pending") != 0 &&
				       strstr(w->reason, "restart in") == NULL;
				farnode__v1__reply__free_unpacked(one, NULL);
			}
			if (done) {
				(void)dump_from(path, &pos);
				break;
			}
		}
	}
	return 0;
}

/* ---- apply ---- */

int cmd_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CLI_COMMON_LONGOPTS,
	    {"file", required_argument, NULL, 'f'},
	    {0, 0, 0, 0},
	};
	struct cli_common c = {0};
	const char *file = NULL;
	int opt;
	int rc;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:" CLI_COMMON_SHORTOPTS,
				  longopts, NULL)) != -1) {
		if (opt == 'h') {
			printf("Usage: farnode apply -f FILE\n\n"
			       "Create the workloads of a CodecoApp manifest "
			       "(YAML; '-' reads stdin):\n"
			       "one workload per codecoapp-msspec entry, id "
			       "APPNAME-SERVICENAME.\n"
			       "Applying the same manifest again changes "
			       "nothing. See the README for\n"
			       "the field mapping.\n"
			       "  -f, --file FILE     the manifest\n%s",
			       CLI_COMMON_HELP);
			return 0;
		}
		if (opt == 'f') {
			file = optarg;
			continue;
		}
		if (opt == '?' || !cli_common_opt(&c, opt, optarg)) {
			return cli_usage_error("apply", "invalid option");
		}
	}
	if (file == NULL || optind != argc) {
		return cli_usage_error("apply", "expected -f FILE");
	}
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	if (f == NULL) {
		fprintf(stderr, "farnode apply: %s: %s\n", file,
			strerror(errno));
		return 2;
	}
	char *buf = malloc(MANIFEST_MAX_BYTES + 1);
	struct workload_spec *specs =
	    calloc(MANIFEST_MAX_SERVICES, sizeof(*specs));
	if (buf == NULL || specs == NULL) {
		if (f != stdin) {
			fclose(f);
		}
		free(buf);
		free(specs);
		fprintf(stderr, "farnode apply: out of memory\n");
		return 1;
	}
	size_t len = fread(buf, 1, MANIFEST_MAX_BYTES + 1, f);
	bool read_err = ferror(f) != 0;
	if (f != stdin) {
		fclose(f);
	}
	char err[512];
	size_t n = 0;
	rc = 2;
	if (read_err) {
		fprintf(stderr, "farnode apply: %s: read error\n", file);
		goto out;
	}
	if (manifest_parse(buf, len, strcmp(file, "-") == 0 ? "stdin" : file,
			   specs, MANIFEST_MAX_SERVICES, &n, err,
			   sizeof(err)) != 0) {
		fprintf(stderr, "farnode apply: %s\n", err);
		goto out;
	}
	ProtobufCBinaryData bins[MANIFEST_MAX_SERVICES];
	char *texts = malloc((size_t)n * SPEC_TEXT_MAX);
	if (texts == NULL) {
		rc = 1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int l = runtime_spec_encode(
		    &specs[i], texts + i * SPEC_TEXT_MAX, SPEC_TEXT_MAX);
		if (l < 0) {
			fprintf(stderr, "farnode apply: %s: spec too large\n",
				specs[i].id);
			free(texts);
			goto out;
		}
		bins[i].data = (uint8_t *)(texts + i * SPEC_TEXT_MAX);
		bins[i].len = (size_t)l;
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__ApplyRequest ar = FARNODE__V1__APPLY_REQUEST__INIT;
	ar.n_specs = n;
	ar.specs = bins;
	ar.source = (char *)file;
	req.req_case = FARNODE__V1__REQUEST__REQ_APPLY;
	req.apply = &ar;
	Farnode__V1__Reply *rep = NULL;
	rc = call(&c, &req, &rep, "apply", FARNODE__V1__REPLY__REP_APPLY);
	free(texts);
	if (rc != 0) {
		goto out;
	}
	for (size_t i = 0; i < rep->apply->n_results; i++) {
		const Farnode__V1__WorkloadAck *k = rep->apply->results[i];
		print_ack("apply", k);
		if (k->code != 0) {
			rc = 1;
		}
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
out:
	free(buf);
	free(specs);
	return rc;
}

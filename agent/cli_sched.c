// SPDX-License-Identifier: Apache-2.0
/*
 * cli_sched: `farnode qtable [--top N] [--json]`, `farnode qtable export
 * FILE`, `farnode qtable import FILE` and `farnode decisions [--limit N]
 * [--json]`. Files are read and written here (bounded, atomic rename);
 * the agent validates imports against its own table shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define QT_FILE_MAX (1u << 20) /* below the control frame limit */

enum { OPT_TOP = CLI_OPT_FIRST_FREE, OPT_LIMIT };

static const char qtable_usage[] =
	"Usage: farnode qtable [--top N] [--json]\n"
	"       farnode qtable export FILE [--top N]\n"
	"       farnode qtable import FILE\n\n"
	"Show the most visited states of the running agent's Q-table with\n"
	"their learned values, or export it to FILE / import FILE as a prior\n"
	"(refused unless it was made for the same state shape).\n"
	"  --top N             states to show (default 20) or export (0 = "
	"all)\n";

static const char decisions_usage[] =
	"Usage: farnode decisions [--limit N] [--json]\n\n"
	"Show the newest rows of the agent's decision log (time, workload,\n"
	"state, action, reward).\n"
	"  --limit N           rows (default 50, at most 1000)\n";

static int parse_u32(const char *cmd, const char *s, uint32_t *out)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || !end || *end || s[0] == '-' || v > 1000000) {
		return cli_usage_error(cmd, "'%s' is not a count", s);
	}
	*out = (uint32_t)v;
	return 0;
}

static int opts(const char *cmd, const char *usage, int argc, char **argv,
		struct cli_common *c, uint32_t *num, int num_opt, int *first)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"top", required_argument, NULL, OPT_TOP},
		{"limit", required_argument, NULL, OPT_LIMIT},
		{0, 0, 0, 0}};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", usage, CLI_COMMON_HELP);
			return -1;
		}
		if (opt == num_opt) {
			int rc = parse_u32(cmd, optarg, num);
			if (rc) {
				return rc;
			}
			continue;
		}
		if (opt == '?' || !cli_common_opt(c, opt, optarg)) {
			return cli_usage_error(cmd, "invalid option");
		}
	}
	*first = optind;
	return 0;
}

static void print_counters(const Farnode__V1__QtableReply *r)
{
	printf("table: %u states x %u actions, %u cells visited, fingerprint "
	       "%08x\n",
	       r->states, r->actions, r->visited, r->fingerprint);
	printf("epsilon %.4f; decisions %llu (explored %llu, all masked "
	       "%llu); updates %llu; rewards refused %llu\n",
	       r->epsilon, (unsigned long long)r->decisions,
	       (unsigned long long)r->explored,
	       (unsigned long long)r->all_masked,
	       (unsigned long long)r->updates,
	       (unsigned long long)r->rewards_rejected);
}

static void print_show(const struct cli_common *c,
		       const Farnode__V1__QtableReply *r)
{
	if (c->json) {
		printf("{\"states\":%u,\"actions\":%u,\"visited\":%u,"
		       "\"fingerprint\":%u,\"epsilon\":%.6g,\"decisions\":%llu,"
		       "\"explored\":%llu,\"all_masked\":%llu,\"updates\":%llu,"
		       "\"rewards_rejected\":%llu,\"cells\":[",
		       r->states, r->actions, r->visited, r->fingerprint,
		       r->epsilon, (unsigned long long)r->decisions,
		       (unsigned long long)r->explored,
		       (unsigned long long)r->all_masked,
		       (unsigned long long)r->updates,
		       (unsigned long long)r->rewards_rejected);
		for (size_t i = 0; i < r->n_cells; i++) {
			const Farnode__V1__QtableCell *x = r->cells[i];
			printf("%s{\"state\":%u,\"state_desc\":", i ? "," : "",
			       x->state);
			cli_json_str(stdout, x->state_desc);
			printf(",\"action\":%u,\"action_name\":", x->action);
			cli_json_str(stdout, x->action_name);
			printf(",\"q\":%.17g,\"visits\":%u}",
			       isfinite(x->q) ? x->q : 0.0, x->visits);
		}
		printf("]}\n");
		return;
	}
	print_counters(r);
	if (r->n_cells == 0) {
		printf("no state visited yet\n");
		return;
	}
	printf("%-7s %-48s %-10s %10s %8s\n", "STATE", "BUCKETS", "ACTION",
	       "Q", "VISITS");
	for (size_t i = 0; i < r->n_cells; i++) {
		const Farnode__V1__QtableCell *x = r->cells[i];
		printf("%-7u %-48s %-10s %10.4f %8u\n", x->state, x->state_desc,
		       x->action_name, x->q, x->visits);
	}
}

static int write_file(const char *path, const uint8_t *p, size_t len)
{
	char tmp[4096];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		fprintf(stderr, "farnode qtable: %s: path too long\n", path);
		return 1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "farnode qtable: %s: %s\n", tmp,
			strerror(errno));
		return 1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			fprintf(stderr, "farnode qtable: %s: %s\n", tmp,
				strerror(errno));
			close(fd);
			unlink(tmp);
			return 1;
		}
		off += (size_t)w;
	}
	if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "farnode qtable: %s: %s\n", path,
			strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

/* Read at most QT_FILE_MAX bytes; caller frees *buf. 0 or 1 (reported). */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "farnode qtable: %s: %s\n", path,
			strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		return 1;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > QT_FILE_MAX) {
		fprintf(stderr,
			"farnode qtable: %s: not a regular file of at most "
			"%u bytes\n",
			path, QT_FILE_MAX);
		close(fd);
		return 1;
	}
	uint8_t *b = malloc(QT_FILE_MAX + 1);
	size_t n = 0;
	if (!b) {
		close(fd);
		return 1;
	}
	for (;;) {
		ssize_t r = read(fd, b + n, QT_FILE_MAX + 1 - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "farnode qtable: %s: %s\n", path,
				strerror(errno));
			free(b);
			close(fd);
			return 1;
		}
		if (r == 0) {
			break;
		}
		n += (size_t)r;
		if (n > QT_FILE_MAX) {
			fprintf(stderr, "farnode qtable: %s: larger than %u "
					"bytes\n",
				path, QT_FILE_MAX);
			free(b);
			close(fd);
			return 1;
		}
	}
	close(fd);
	*buf = b;
	*len = n;
	return 0;
}

int cmd_qtable(int argc, char **argv)
{
	struct cli_common c = {0};
	uint32_t top = 0;
	int first = 0;
	int rc = opts("qtable", qtable_usage, argc, argv, &c, &top, OPT_TOP,
		      &first);
	if (rc != 0) {
		return rc < 0 ? 0 : rc;
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__QtableRequest q = FARNODE__V1__QTABLE_REQUEST__INIT;
	req.req_case = FARNODE__V1__REQUEST__REQ_QTABLE;
	req.qtable = &q;
	q.top = top;
	const char *sub = first < argc ? argv[first] : NULL;
	const char *file = NULL;
	uint8_t *buf = NULL;
	if (!sub) {
		q.op = FARNODE__V1__QTABLE_REQUEST__OP__OP_SHOW;
	} else if (!strcmp(sub, "export") || !strcmp(sub, "import")) {
		if (first + 2 != argc) {
			return cli_usage_error("qtable", "%s needs one FILE",
					       sub);
		}
		file = argv[first + 1];
		if (!strcmp(sub, "export")) {
			q.op = FARNODE__V1__QTABLE_REQUEST__OP__OP_EXPORT;
		} else {
			size_t len = 0;
			q.op = FARNODE__V1__QTABLE_REQUEST__OP__OP_IMPORT;
			if (read_file(file, &buf, &len)) {
				return 1;
			}
			q.data.data = buf;
			q.data.len = len;
		}
	} else {
		return cli_usage_error("qtable", "unknown subcommand '%s'",
				       sub);
	}
	Farnode__V1__Reply *rep = NULL;
	rc = cli_call(&c, &req, &rep);
	free(buf);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_QTABLE) {
		rc = cli_reply_error("qtable", rep);
	} else if (q.op == FARNODE__V1__QTABLE_REQUEST__OP__OP_SHOW) {
		print_show(&c, rep->qtable);
	} else if (q.op == FARNODE__V1__QTABLE_REQUEST__OP__OP_EXPORT) {
		rc = write_file(file, rep->qtable->data.data,
				rep->qtable->data.len);
		if (rc == 0) {
			printf("exported %zu bytes to %s\n",
			       rep->qtable->data.len, file);
		}
	} else {
		printf("imported %u cells from %s\n", rep->qtable->imported,
		       file);
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

int cmd_decisions(int argc, char **argv)
{
	struct cli_common c = {0};
	uint32_t limit = 0;
	int first = 0;
	int rc = opts("decisions", decisions_usage, argc, argv, &c, &limit,
		      OPT_LIMIT, &first);
	if (rc != 0) {
		return rc < 0 ? 0 : rc;
	}
	if (first < argc) {
		return cli_usage_error("decisions", "unexpected argument '%s'",
				       argv[first]);
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__DecisionsRequest d = FARNODE__V1__DECISIONS_REQUEST__INIT;
	req.req_case = FARNODE__V1__REQUEST__REQ_DECISIONS;
	req.decisions = &d;
	d.limit = limit;
	Farnode__V1__Reply *rep = NULL;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 ||
	    rep->rep_case != FARNODE__V1__REPLY__REP_DECISIONS) {
		rc = cli_reply_error("decisions", rep);
		farnode__v1__reply__free_unpacked(rep, NULL);
		return rc;
	}
	const Farnode__V1__DecisionsReply *r = rep->decisions;
	if (c.json) {
		printf("{\"total\":%llu,\"rows\":[",
		       (unsigned long long)r->total);
		for (size_t i = 0; i < r->n_rows; i++) {
			const Farnode__V1__DecisionRow *x = r->rows[i];
			printf("%s{\"seq\":%lld,\"time_ms\":%llu,\"workload\":",
			       i ? "," : "", (long long)x->seq,
			       (unsigned long long)x->time_ms);
			cli_json_str(stdout, x->workload);
			printf(",\"state\":%u,\"state_desc\":", x->state);
			cli_json_str(stdout, x->state_desc);
			printf(",\"action\":");
			cli_json_str(stdout, x->action);
			if (x->has_reward && isfinite(x->reward)) {
				printf(",\"reward\":%.17g}", x->reward);
			} else {
				printf(",\"reward\":null}");
			}
		}
		printf("]}\n");
	} else {
		printf("%llu decisions logged%s\n",
		       (unsigned long long)r->total,
		       r->n_rows < r->total ? " (newest shown)" : "");
		if (r->n_rows > 0) {
			printf("%-8s %-14s %-24s %-10s %9s  %s\n", "SEQ",
			       "TIME_MS", "WORKLOAD", "ACTION", "REWARD",
			       "STATE");
		}
		for (size_t i = 0; i < r->n_rows; i++) {
			const Farnode__V1__DecisionRow *x = r->rows[i];
			char rw[24];
			if (x->has_reward) {
				snprintf(rw, sizeof(rw), "%.4f", x->reward);
			} else {
				snprintf(rw, sizeof(rw), "-");
			}
			printf("%-8lld %-14llu %-24s %-10s %9s  %s\n",
			       (long long)x->seq,
			       (unsigned long long)x->time_ms, x->workload,
			       x->action, rw, x->state_desc);
		}
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return 0;
}

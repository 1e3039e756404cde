// SPDX-License-Identifier: Apache-2.0
/*
 * cli_gossip: `farnode members [-v] [--json]`, `farnode join ADDR...` and
 * `farnode leave` over the control socket of the running agent.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char members_usage[] =
    "Usage: farnode members [-v] [--json] [options]\n\n"
    "  List the members of the partition as this agent sees them: id,\n"
    "  name, address, state, incarnation, cpu/memory free, RTT and when\n"
    "  it was last heard from. -v adds loss, workloads and "
    "uplink.\n\n" CLI_COMMON_HELP;

static const char join_usage[] =
    "Usage: farnode join [options] ADDR...\n\n"
    "  Exchange state with the gossip members at ADDR (numeric\n"
    "  host:port) now, joining their partition.\n\n" CLI_COMMON_HELP;

static const char leave_usage[] =
    "Usage: farnode leave [options]\n\n"
    "  Tell the partition this node leaves (so it is not reported dead),\n"
    "  then stop the agent.\n\n" CLI_COMMON_HELP;

/* Shared option loop; returns -1 to continue, else an exit code. */
static int parse_common(const char *cmd, const char *usage, int argc,
			char **argv, struct cli_common *c)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
						 {NULL, 0, NULL, 0}};
	int opt;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (cli_common_opt(c, opt, optarg) != 1) {
			return cli_usage_error(cmd, "unknown option '%s'",
					       argv[optind - 1]);
		}
	}
	return -1;
}

static void fmt_ago(int64_t ms, char *out, size_t cap)
{
	if (ms < 0) {
		snprintf(out, cap, "never");
	} else if (ms < 10000) {
		snprintf(out, cap, "%.1fs", (double)ms / 1000);
	} else {
		snprintf(out, cap, "%" PRId64 "s", ms / 1000);
	}
}

static void print_members(const struct cli_common *c,
			  const Farnode__V1__MembersReply *r)
{
	if (c->json) {
		printf("{\"health_score\":%u,\"dropped\":%" PRIu64
		       ",\"impersonation\":%" PRIu64 ",\"refutations\":%" PRIu64
		       ",\"udp_sent_packets\":%" PRIu64
		       ",\"udp_sent_bytes\":%" PRIu64 ",\"members\":[",
		       r->health_score, r->dropped, r->impersonation,
		       r->refutations, r->udp_sent_packets, r->udp_sent_bytes);
		for (size_t i = 0; i < r->n_members; i++) {
			const Farnode__V1__MemberInfo *m = r->members[i];
			printf("%s{\"id\":", i ? "," : "");
			cli_json_str(stdout, m->node_id);
			printf(",\"name\":");
			cli_json_str(stdout, m->name);
			printf(",\"addr\":");
			cli_json_str(stdout, m->addr);
			printf(",\"state\":");
			cli_json_str(stdout, m->state);
			printf(",\"incarnation\":%" PRIu64 ",\"self\":%s"
			       ",\"cpu_free\":%.3f,\"mem_free_bytes\":%" PRIu64
			       ",\"rtt_ms\":%.2f,\"loss\":%.3f"
			       ",\"last_heard_ms_ago\":%" PRId64
			       ",\"workloads_running\":%u,\"uplink\":%s}",
			       m->incarnation, m->is_self ? "true" : "false",
			       m->cpu_free, m->mem_free_bytes, m->rtt_ms,
			       m->loss, m->last_heard_ms_ago,
			       m->workloads_running,
			       m->uplink_connected ? "true" : "false");
		}
		printf("]}\n");
		return;
	}
	printf("%-36s  %-16s  %-21s  %-7s  %5s  %5s  %8s  %7s  %s\n", "ID",
	       "NAME", "ADDRESS", "STATE", "INC", "CPU", "MEM-FREE", "RTT",
	       c->verbose ? "HEARD  LOSS  WL  UPLINK" : "HEARD");
	for (size_t i = 0; i < r->n_members; i++) {
		const Farnode__V1__MemberInfo *m = r->members[i];
		char cpu[32], mem[32], rtt[32], heard[32];
		if (m->cpu_free >= 0) {
			snprintf(cpu, sizeof(cpu), "%.0f%%", m->cpu_free * 100);
			snprintf(mem, sizeof(mem), "%" PRIu64 "M",
				 m->mem_free_bytes >> 20);
		} else {
			snprintf(cpu, sizeof(cpu), "-");
			snprintf(mem, sizeof(mem), "-");
		}
		if (m->is_self) {
			snprintf(rtt, sizeof(rtt), "self");
		} else if (m->rtt_ms >= 0) {
			snprintf(rtt, sizeof(rtt), "%.1fms", m->rtt_ms);
		} else {
			snprintf(rtt, sizeof(rtt), "-");
		}
		fmt_ago(m->last_heard_ms_ago, heard, sizeof(heard));
		printf("%-36s  %-16.16s  %-21s  %-7s  %5" PRIu64
		       "  %5s  %8s  %7s  %s",
		       m->node_id, m->name, m->addr, m->state, m->incarnation,
		       cpu, mem, rtt, heard);
		if (c->verbose) {
			printf("  %4.0f%%  %3u  %s", m->loss * 100,
			       m->workloads_running,
			       m->uplink_connected ? "up" : "down");
		}
		printf("\n");
	}
	if (c->verbose) {
		printf("health score %u, dropped %" PRIu64
		       " (impersonation %" PRIu64 "), refutations %" PRIu64
		       "\n",
		       r->health_score, r->dropped, r->impersonation,
		       r->refutations);
	}
}

int cmd_members(int argc, char **argv)
{
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__MembersRequest mr = FARNODE__V1__MEMBERS_REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	struct cli_common c = {0};
	int rc = parse_common("members", members_usage, argc, argv, &c);
	if (rc >= 0) {
		return rc;
	}
	if (optind != argc) {
		return cli_usage_error("members", "unexpected argument '%s'",
				       argv[optind]);
	}
	req.req_case = FARNODE__V1__REQUEST__REQ_MEMBERS;
	req.members = &mr;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 ||
	    rep->rep_case != FARNODE__V1__REPLY__REP_MEMBERS) {
		rc = cli_reply_error("members", rep);
	} else {
		print_members(&c, rep->members);
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

int cmd_join(int argc, char **argv)
{
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__JoinRequest jr = FARNODE__V1__JOIN_REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	struct cli_common c = {0};
	int rc = parse_common("join", join_usage, argc, argv, &c);
	if (rc >= 0) {
		return rc;
	}
	if (optind == argc) {
		return cli_usage_error("join", "give at least one ADDR");
	}
	jr.addrs = argv + optind;
	jr.n_addrs = (size_t)(argc - optind);
	req.req_case = FARNODE__V1__REQUEST__REQ_JOIN;
	req.join = &jr;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_JOIN) {
		rc = cli_reply_error("join", rep);
	} else if (c.json) {
		printf("{\"started\":%u}\n", rep->join->started);
	} else {
		printf("exchanging state with %u address(es)\n",
		       rep->join->started);
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

int cmd_leave(int argc, char **argv)
{
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__LeaveRequest lr = FARNODE__V1__LEAVE_REQUEST__INIT;
	Farnode__V1__Reply *rep = NULL;
	struct cli_common c = {0};
	int rc = parse_common("leave", leave_usage, argc, argv, &c);
	if (rc >= 0) {
		return rc;
	}
	if (optind != argc) {
		return cli_usage_error("leave", "unexpected argument '%s'",
				       argv[optind]);
	}
	req.req_case = FARNODE__V1__REQUEST__REQ_LEAVE;
	req.leave = &lr;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_LEAVE) {
		rc = cli_reply_error("leave", rep);
	} else if (!c.json) {
		printf("left the partition; the agent is stopping\n");
	} else {
		printf("{\"left\":true}\n");
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

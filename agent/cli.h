/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: client subcommands and the helpers they share — common options,
 * finding the agent's control socket, one request/reply round trip, and
 * JSON string output. Exit codes: 0 ok, 1 failure (e.g. no agent running),
 * 2 usage or configuration error.
 */
#ifndef FARNODE_CLI_H
#define FARNODE_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "control.pb-c.h"

struct cli_common {
	const char *config;   /* -c FILE */
	const char *data_dir; /* --data-dir DIR */
	const char *socket;   /* --socket PATH */
	bool json;            /* --json */
	int verbose;          /* -v (repeatable) */
};

/* Long-option ids for the shared options (beyond any short option). */
enum {
	CLI_OPT_DATA_DIR = 1000,
	CLI_OPT_SOCKET,
	CLI_OPT_JSON,
	CLI_OPT_FIRST_FREE = 1100, /* commands number their own from here */
};

#define CLI_COMMON_LONGOPTS                                              \
	{"config", required_argument, NULL, 'c'},                        \
	{"data-dir", required_argument, NULL, CLI_OPT_DATA_DIR},         \
	{"socket", required_argument, NULL, CLI_OPT_SOCKET},             \
	{"json", no_argument, NULL, CLI_OPT_JSON},                       \
	{"verbose", no_argument, NULL, 'v'},                             \
	{"help", no_argument, NULL, 'h'}

#define CLI_COMMON_SHORTOPTS "c:vh"

#define CLI_COMMON_HELP                                                   \
	"  -c, --config FILE   configuration file (to find the data dir)\n" \
	"      --data-dir DIR  the agent's data directory\n"                \
	"      --socket PATH   the agent's control socket\n"                \
	"      --json          machine-readable output\n"                   \
	"  -h, --help          this help\n"

/*
 * Handle a shared option. Returns 1 if handled, 0 if not a shared option.
 * 'h' is not handled here (each command prints its own usage).
 */
int cli_common_opt(struct cli_common *c, int opt, const char *arg);

/* Report an unknown option / stray argument and return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Send req to the agent and receive one reply (*rep, free with
 * farnode__v1__reply__free_unpacked(*rep, NULL)). Prints a clear message to
 * stderr and returns 1 when no agent runs or the transport fails; returns 0
 * when a reply arrived (check (*rep)->code).
 */
int cli_call(const struct cli_common *c, const Farnode__V1__Request *req,
	     Farnode__V1__Reply **rep);

/*
 * Streaming variant: calls on_reply for every reply until one arrives with
 * more == false or on_reply returns non-zero. Returns 0 or 1 as cli_call.
 */
typedef int (*cli_reply_fn)(const Farnode__V1__Reply *rep, void *ud);
int cli_call_stream(const struct cli_common *c, const Farnode__V1__Request *req,
		    cli_reply_fn on_reply, void *ud);

/* Print an agent error reply ("farnode CMD: message") and return 1. */
int cli_reply_error(const char *cmd, const Farnode__V1__Reply *rep);

/* Write s as a JSON string literal (quoted, escaped). NULL → null. */
void cli_json_str(FILE *f, const char *s);

/* Format a duration in ms as "3d4h", "5m2s", "120ms". */
void cli_fmt_duration(char *out, size_t len, unsigned long long ms);

/* Commands (each returns the process exit code). */
int cmd_agent(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_version(int argc, char **argv);
/* cli_runtime.c */
int cmd_run(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_keygen(int argc, char **argv); /* cli_keys.c */
int cmd_keys(int argc, char **argv);
int cmd_members(int argc, char **argv); /* cli_gossip.c */
int cmd_join(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_qtable(int argc, char **argv); /* cli_sched.c */
int cmd_decisions(int argc, char **argv);
int cmd_hub(int argc, char **argv); /* cli_hub.c */

#endif

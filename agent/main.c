// SPDX-License-Identifier: Apache-2.0
/*
 * farnode: one binary, subcommands (like serf and consul). This file only
 * dispatches; each command lives in a cli_*.c file.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"agent", cmd_agent, "run the node agent (the daemon)"},
	{"status", cmd_status, "show the running agent's status"},
	{"reload", cmd_reload, "reload the agent's configuration"},
	{"config", cmd_config, "print a sample config or check a file"},
	{"version", cmd_version, "print version and library versions"},
	{"keygen", cmd_keygen, "generate a gossip key or a signing keypair"},
	{"keys", cmd_keys, "list or rotate the agent's gossip keys"},
	{"members", cmd_members, "list the partition's members"},
	{"join", cmd_join, "join a partition through ADDR..."},
	{"leave", cmd_leave, "leave the partition gracefully, then stop"},
	{"qtable", cmd_qtable, "show, export or import the Q-table"},
	{"decisions", cmd_decisions, "show the scheduler's decision log"},
	{"run", cmd_run, "create a workload (process or OCI bundle)"},
	{"ps", cmd_ps, "list workloads"},
	{"stop", cmd_stop, "stop a workload"},
	{"rm", cmd_rm, "remove a stopped workload"},
	{"logs", cmd_logs, "print a workload's output"},
	{"apply", cmd_apply, "create workloads from a CodecoApp manifest"},
	{"hub", cmd_hub, "sign and publish policy/desired state, watch nodes"},
	/* commands: more */
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "Usage: farnode COMMAND [OPTIONS]\n\n"
		   "A far-edge node agent: runs workloads, schedules them "
		   "with its neighbours,\n"
		   "and reconciles with a hub when one is reachable.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++) {
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	}
	fprintf(f, "  %-10s %s\n", "help", "help for a command");
	fprintf(f, "\nRun 'farnode COMMAND --help' for a command's options.\n");
}

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0) {
			return &commands[i];
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	/* Writes to a closed socket must fail with EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0) {
		name = "version";
	}
	if (strcmp(name, "help") == 0) {
		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		const struct command *c = find(argv[2]);
		if (c == NULL) {
			fprintf(stderr, "farnode: unknown command '%s'\n", argv[2]);
			return 2;
		}
		char *help_argv[] = {(char *)c->name, (char *)"--help", NULL};
		return c->fn(2, help_argv);
	}
	const struct command *c = find(name);
	if (c == NULL) {
		fprintf(stderr, "farnode: unknown command '%s'\n\n", name);
		usage(stderr);
		return 2;
	}
	return c->fn(argc - 1, argv + 1);
}

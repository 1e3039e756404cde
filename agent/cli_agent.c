// SPDX-License-Identifier: Apache-2.0
/*
 * cli_agent: the `agent`, `status`, `reload`, `config` and `version`
 * subcommands.
 */
#include <mbedtls/version.h>
#include <protobuf-c/protobuf-c.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <yaml.h>

#include "agent.h"
#include "cli.h"
#include "config.h"

int cmd_agent(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"check-config", no_argument, NULL, CLI_OPT_FIRST_FREE},
		{0, 0, 0, 0},
	};
	struct cli_common c = {0};
	struct agent_opts o = {0};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			printf("Usage: farnode agent [-c FILE] [--data-dir DIR] "
			       "[-v] [--check-config]\n\n"
			       "Run the node agent in the foreground. Without "
			       "-c it runs on the embedded\n"
			       "defaults: one node, offline autonomous mode "
			       "(no hub), data in the data dir.\n"
			       "SIGINT/SIGTERM stop it cleanly; SIGHUP reloads "
			       "the configuration.\n\n"
			       "  -c, --config FILE   configuration file (INI)\n"
			       "      --data-dir DIR  data directory (overrides "
			       "[node] data_dir)\n"
			       "  -v, --verbose       more log output "
			       "(repeatable)\n"
			       "      --check-config  validate the configuration "
			       "and exit (0 ok, 2 error)\n"
			       "  -h, --help          this help\n");
			return 0;
		}
		if (opt == CLI_OPT_FIRST_FREE) {
			o.check_config = true;
			continue;
		}
		if (opt == '?' || !cli_common_opt(&c, opt, optarg)) {
			return cli_usage_error("agent", "invalid option");
		}
	}
	if (optind < argc) {
		return cli_usage_error("agent", "unexpected argument '%s'",
				       argv[optind]);
	}
	if (c.socket != NULL || c.json) {
		return cli_usage_error("agent",
				       "--socket/--json are client options; "
				       "set [control] socket in the config");
	}
	o.config_path = c.config;
	o.data_dir = c.data_dir;
	o.verbose = c.verbose;
	return agent_main(&o);
}

static int print_status(const struct cli_common *c,
			const Farnode__V1__StatusReply *s)
{
	char up[32];
	cli_fmt_duration(up, sizeof(up), (unsigned long long)s->uptime_ms);
	if (c->json) {
		printf("{\"node_id\":");
		cli_json_str(stdout, s->node_id);
		printf(",\"node_name\":");
		cli_json_str(stdout, s->node_name);
		printf(",\"generation\":%llu,\"uptime_ms\":%llu,\"pid\":%u,"
		       "\"data_dir\":",
		       (unsigned long long)s->generation,
		       (unsigned long long)s->uptime_ms, s->pid);
		cli_json_str(stdout, s->data_dir);
		printf(",\"config_file\":");
		cli_json_str(stdout, s->config_file);
		printf(",\"hub_state\":");
		cli_json_str(stdout, s->hub_state);
		printf(",\"version\":");
		cli_json_str(stdout, s->version);
		printf(",\"log_level\":");
		cli_json_str(stdout, s->log_level);
		printf(",\"notes\":[");
		for (size_t i = 0; i < s->n_notes; i++) {
			if (i) {
				putchar(',');
			}
			cli_json_str(stdout, s->notes[i]);
		}
		printf("]}\n");
		return 0;
	}
	printf("node id:     %s\n", s->node_id);
	printf("node name:   %s\n", s->node_name[0] ? s->node_name : "(host name)");
	printf("generation:  %llu\n", (unsigned long long)s->generation);
	printf("uptime:      %s\n", up);
	printf("pid:         %u\n", s->pid);
	printf("version:     %s\n", s->version);
	printf("data dir:    %s\n", s->data_dir);
	printf("config file: %s\n",
	       s->config_file[0] ? s->config_file : "(embedded defaults)");
	printf("hub:         %s\n", s->hub_state);
	printf("log level:   %s\n", s->log_level);
	for (size_t i = 0; i < s->n_notes; i++) {
		printf("note:        %s\n", s->notes[i]);
	}
	return 0;
}

/* Parse only the shared options; no positional arguments. */
static int simple_opts(const char *cmd, const char *usage, int argc,
		       char **argv, struct cli_common *c)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS,
						 {0, 0, 0, 0}};
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS, longopts,
				  NULL)) != -1) {
		if (opt == 'h') {
			printf("%s\n%s", usage, CLI_COMMON_HELP);
			return -1;
		}
		if (opt == '?' || !cli_common_opt(c, opt, optarg)) {
			return cli_usage_error(cmd, "invalid option");
		}
	}
	if (optind < argc) {
		return cli_usage_error(cmd, "unexpected argument '%s'",
				       argv[optind]);
	}
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct cli_common c = {0};
	int rc = simple_opts("status",
			     "Usage: farnode status [--json]\n\n"
			     "Show the running agent's identity, uptime, data "
			     "dir, configuration and hub state.\n",
			     argc, argv, &c);
	if (rc != 0) {
		return rc < 0 ? 0 : rc;
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__StatusRequest sr = FARNODE__V1__STATUS_REQUEST__INIT;
	req.req_case = FARNODE__V1__REQUEST__REQ_STATUS;
	req.status = &sr;
	Farnode__V1__Reply *rep = NULL;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_STATUS) {
		rc = cli_reply_error("status", rep);
	} else {
		rc = print_status(&c, rep->status);
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

int cmd_reload(int argc, char **argv)
{
	struct cli_common c = {0};
	int rc = simple_opts("reload",
			     "Usage: farnode reload\n\n"
			     "Re-read the agent's configuration file (as "
			     "SIGHUP) and list what changed.\n",
			     argc, argv, &c);
	if (rc != 0) {
		return rc < 0 ? 0 : rc;
	}
	Farnode__V1__Request req = FARNODE__V1__REQUEST__INIT;
	Farnode__V1__ReloadRequest rr = FARNODE__V1__RELOAD_REQUEST__INIT;
	req.req_case = FARNODE__V1__REQUEST__REQ_RELOAD;
	req.reload = &rr;
	Farnode__V1__Reply *rep = NULL;
	rc = cli_call(&c, &req, &rep);
	if (rc != 0) {
		return rc;
	}
	if (rep->code != 0 || rep->rep_case != FARNODE__V1__REPLY__REP_RELOAD) {
		rc = cli_reply_error("reload", rep);
	} else {
		for (size_t i = 0; i < rep->reload->n_applied; i++) {
			printf("applied: %s\n", rep->reload->applied[i]);
		}
		for (size_t i = 0; i < rep->reload->n_pending; i++) {
			printf("needs restart: %s\n", rep->reload->pending[i]);
		}
		if (rep->reload->n_applied + rep->reload->n_pending == 0) {
			printf("no changes\n");
		}
	}
	farnode__v1__reply__free_unpacked(rep, NULL);
	return rc;
}

int cmd_config(int argc, char **argv)
{
	static const char usage[] =
		"Usage: farnode config --sample | --markdown | --check FILE\n\n"
		"  --sample      print an annotated configuration with every "
		"key and default\n"
		"  --markdown    print the key reference as a markdown table\n"
		"  --check FILE  validate FILE (exit 0 ok, 2 error)\n";
	if (argc == 2 && strcmp(argv[1], "--sample") == 0) {
		config_write_sample(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--markdown") == 0) {
		config_write_markdown(stdout);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		struct config cfg;
		char err[CONFIG_ERR_MAX];
		config_defaults(&cfg);
		if (config_load(&cfg, argv[2], err, sizeof(err)) != 0) {
			fprintf(stderr, "farnode: %s\n", err);
			return 2;
		}
		printf("%s: configuration OK\n", argv[2]);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 ||
			  strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	fputs(usage, stderr);
	return 2;
}

int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			printf("Usage: farnode version\n\nPrint the version, "
			       "git revision and library versions.\n");
			return 0;
		}
		return cli_usage_error("version", "unexpected argument '%s'",
				       argv[1]);
	}
	printf("farnode %s (git %s)\n", FARNODE_VERSION, FARNODE_GIT_REV);
	printf("  libuv       %s\n", uv_version_string());
	printf("  protobuf-c  %s\n", protobuf_c_version());
	printf("  mbedtls     %s\n", MBEDTLS_VERSION_STRING);
	printf("  sqlite      %s\n", sqlite3_libversion());
	printf("  libyaml     %s\n", yaml_get_version_string());
	printf("  inih        r%d\n", FARNODE_INIH_VERSION);
	return 0;
}

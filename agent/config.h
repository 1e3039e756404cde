/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: the agent's INI configuration (inih). Every key has a default, a
 * range and a one-line meaning, all in one table (config.c), from which the
 * sample file and the README reference are generated. With no file the
 * embedded defaults describe a single node in offline autonomous mode.
 */
#ifndef FARNODE_CONFIG_H
#define FARNODE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_STR_MAX 256
#define CONFIG_ERR_MAX 512

struct config_node {
	char name[CONFIG_STR_MAX];     /* empty = host name */
	char data_dir[CONFIG_STR_MAX];
	char labels[CONFIG_STR_MAX];   /* k=v,k2=v2 */
	char log_level[16];
};

struct config_control {
	char socket[CONFIG_STR_MAX]; /* empty = DATA_DIR/farnode.sock */
};

struct config_gossip {
	bool enabled;
	char bind[CONFIG_STR_MAX];      /* host:port */
	char advertise[CONFIG_STR_MAX]; /* host:port; empty = bind address */
	char join[CONFIG_STR_MAX];      /* host:port,... */
	char key[CONFIG_STR_MAX];       /* base64 32 bytes; empty = unsealed */
	char profile[8];                /* lan | wan */
	int64_t probe_interval_ms;      /* 0 = profile default */
	int64_t probe_timeout_ms;
	int64_t suspicion_mult;
	int64_t gossip_nodes;
	int64_t gossip_interval_ms;
	int64_t push_pull_interval_s;
	int64_t reap_after_s;
	int64_t join_retry_max_s;
};

struct config_runtime {
	char cgroup_root[CONFIG_STR_MAX]; /* empty = detect */
	int64_t max_workloads;
	int64_t log_max_bytes;
	int64_t restart_backoff_max_s;
};

struct config_metrics {
	int64_t sample_interval_s;
	double idle_watts;
	double watts_per_core;
};

struct config_sched {
	double alpha;
	double gamma;
	double epsilon;
	double epsilon_min;
	double epsilon_decay;
	int64_t neighbours_k;
	int64_t tick_ms;
	int64_t decisions_max;
};

struct config_hub {
	char url[CONFIG_STR_MAX]; /* mqtts://host:port; empty = offline */
	char ca[CONFIG_STR_MAX];
	char cert[CONFIG_STR_MAX];
	char key[CONFIG_STR_MAX];
	char hub_pubkey[CONFIG_STR_MAX];
	char partition[64];
	char topic_prefix[64];
	char policy_file[CONFIG_STR_MAX];
	int64_t keepalive_s;
	int64_t backoff_min_s;
	int64_t backoff_max_s;
	int64_t outbox_max_bytes;
	double outbox_rate; /* events/s flushed to the hub */
	int64_t learning_interval_s; /* Q-table summary period; 0 = off */
};

struct config {
	struct config_node node;
	struct config_control control;
	struct config_gossip gossip;
	struct config_runtime runtime;
	struct config_metrics metrics;
	struct config_sched sched;
	struct config_hub hub;
};

/* Fill cfg with the embedded defaults. Cannot fail. */
void config_defaults(struct config *cfg);

/*
 * Parse an INI file on top of the defaults. On error returns a negative
 * errno and writes "FILE:LINE: key: what is wrong (allowed: ...)" (or
 * "FILE: cannot open: reason") into err.
 */
int config_load(struct config *cfg, const char *path, char *err,
		size_t err_len);

/* Same, from an in-memory string; `name` is used in messages. */
int config_load_string(struct config *cfg, const char *name, const char *text,
		       char *err, size_t err_len);

/*
 * Set one key ("section.key") from text, with the same checks as a file.
 * Used by command-line overrides. Errors as config_load.
 */
int config_set(struct config *cfg, const char *section, const char *key,
	       const char *value, char *err, size_t err_len);

/*
 * Compare two configs. For every key that differs, calls fn with the key's
 * "section.key" name and whether it can change without a restart.
 * Returns the number of differing keys.
 */
typedef void (*config_diff_fn)(const char *name, bool live, void *ud);
int config_diff(const struct config *a, const struct config *b,
		config_diff_fn fn, void *ud);

/*
 * SIGHUP: copy into cur every key that differs in next and may change live;
 * report every differing key through fn (live tells whether it was applied).
 * Returns the number of differing keys that were NOT applied.
 */
int config_merge_live(struct config *cur, const struct config *next,
		      config_diff_fn fn, void *ud);

/* Write the full annotated sample (every key, default, range). */
void config_write_sample(FILE *f);
/* Write the README reference table (markdown). */
void config_write_markdown(FILE *f);

#endif

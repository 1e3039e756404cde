/* SPDX-License-Identifier: Apache-2.0 */
/*
 * agent: the daemon. One libuv loop owns the config, the store, the control
 * socket and the services (gossip, runtime, scheduler, uplink). Startup
 * order: config → data dir + lock → store + identity → control socket →
 * services → READY=1. Shutdown runs the same list backwards.
 */
#ifndef FARNODE_AGENT_H
#define FARNODE_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "node.h"

struct store;
struct ctl;
struct runtime_svc;
struct sched_svc;
struct uplink;
struct crypto_keyring;
struct gossip;
struct offload_svc;
struct placement;

struct agent_opts {
	const char *config_path; /* NULL = embedded defaults */
	const char *data_dir;    /* overrides [node] data_dir when set */
	int verbose;             /* each -v raises the log level one step */
	bool check_config;       /* validate and exit */
};

struct agent {
	uv_loop_t *loop;
	struct config cfg;
	char config_path[CONFIG_STR_MAX]; /* empty = embedded defaults */
	char data_dir[CONFIG_STR_MAX];
	char socket_path[CONFIG_STR_MAX];
	char db_path[CONFIG_STR_MAX + 16];
	int verbose;
	int lock_fd;
	struct store *store;
	struct ctl *ctl;
	struct node_id id;
	char id_str[NODE_ID_STR_LEN];
	uint64_t generation;
	uint64_t start_ms; /* uv_now at start */
	bool stopping;
	int exit_code;
	uint64_t watchdog_ms;
	uv_signal_t sig_int;
	uv_signal_t sig_term;
	uv_signal_t sig_hup;
	uv_timer_t watchdog;
	/* Conditions an operator should see in `status` (e.g. no limits). */
	char notes[8][128];
	int n_notes;
	/* services: fields */
	struct crypto_keyring *keyring; /* gossip keys (crypto_keys.c) */
	struct gossip *gossip; /* membership (gossip.c) */
	struct runtime_svc *runtime;
	struct sched_svc *sched; /* scheduler (sched_svc.c) */
	struct uplink *uplink; /* hub service (uplink.c) */
	struct offload_svc *offload; /* offload protocol (offload_svc.c) */
	struct placement *placement; /* admission (placement.c) */
	/* Application receivers on the gossip transport (gossip_app.h); kept
	 * here so they can be installed before gossip starts. */
	void (*gossip_app_fn)(void *ud, const struct node_id *from,
			      uint32_t type, const uint8_t *body, size_t len,
			      uint64_t now_ms);
	void *gossip_app_ud;
	void (*gossip_member_fn)(void *ud, const struct node_id *id, int ev,
				 uint64_t now_ms);
	void *gossip_member_ud;
};

/* Run the daemon until SIGINT/SIGTERM. Returns the process exit code:
 * 0 clean, 1 runtime failure, 2 configuration error. */
int agent_main(const struct agent_opts *opts);

/* Ask the loop to shut down gracefully (as SIGTERM). */
void agent_request_stop(struct agent *a, int exit_code);

/* Re-read the config file; apply live keys, report the rest. Fills the
 * optional lists with "section.key" names (caller-provided arrays). */
int agent_reload(struct agent *a, char applied[][96], int *n_applied,
		 char pending[][96], int *n_pending, int max);

/* Add an operator-facing note shown by `status` (deduplicated). */
void agent_note(struct agent *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Resolve the data dir and control socket path from config + overrides;
 * shared with the CLI so both find the same socket. */
void agent_paths(const struct config *cfg, const char *data_dir_override,
		 char *data_dir, size_t dd_len, char *socket, size_t s_len);

#endif

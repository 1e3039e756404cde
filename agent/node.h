/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node: the agent's own value types shared by every module — node identity
 * and the node/link state that travels on gossip (DESIGN §6). Plain structs;
 * the wire module converts them to and from protobuf.
 */
#ifndef FARNODE_NODE_H
#define FARNODE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NODE_ID_LEN 16
#define NODE_ID_STR_LEN 37 /* 36 chars of canonical UUID + NUL */
#define NODE_NAME_MAX 64   /* bytes including NUL */
#define NODE_LABELS_MAX 16
#define NODE_LABEL_KEY_MAX 32
#define NODE_LABEL_VALUE_MAX 64

/* A node's identity: a random (v4) UUID made once and kept in the store. */
struct node_id {
	uint8_t b[NODE_ID_LEN];
};

/* Format as canonical lowercase UUID into out (NODE_ID_STR_LEN bytes). */
void node_id_format(const struct node_id *id, char out[NODE_ID_STR_LEN]);
/* Parse a canonical UUID string. Returns 0 or -EINVAL. */
int node_id_parse(const char *s, struct node_id *id);
bool node_id_equal(const struct node_id *a, const struct node_id *b);
bool node_id_is_zero(const struct node_id *id);

struct node_label {
	char key[NODE_LABEL_KEY_MAX];
	char value[NODE_LABEL_VALUE_MAX];
};

/*
 * Parse "k=v,k2=v2" into labels. Returns the count (>= 0) or -EINVAL
 * (malformed, key/value too long) / -E2BIG (more than max).
 */
int node_labels_parse(const char *s, struct node_label *labels, size_t max);

/*
 * State a node gossips about itself (DESIGN §6; CODECO metric names in
 * comments). `version` increases on every change so receivers keep the
 * newest. Fractions are 0..1; unknown numeric values are negative.
 */
struct node_state {
	uint64_t version;
	double cpu_free;         /* avgNodeCpu: idle fraction of all cores */
	uint32_t cpu_cores;      /* online cores */
	uint32_t cpu_milli_free; /* unreserved cpu for workloads, milli-cores */
	uint64_t mem_free_bytes; /* avgNodeMemory: MemAvailable */
	uint64_t mem_total_bytes;
	double energy_watts;     /* avgNodeEnergy: measured or modelled power */
	double failure_rate;     /* avgNodeFailure: failures per hour estimate */
	double temperature_c;    /* hottest thermal zone, < -273 if unknown */
	uint32_t workloads_running;
	bool uplink_connected;
	uint64_t policy_version;
	uint64_t generation;     /* agent start count; changes on restart */
	uint32_t n_labels;
	struct node_label labels[NODE_LABELS_MAX];
};

/* Per-link measurements from this node to a peer. */
struct link_state {
	double rtt_ms;     /* EWMA of probe round trips, < 0 if unknown */
	double loss;       /* fraction of probes unanswered (EWMA), 0..1 */
	double bandwidth_bps; /* optional; < 0 if unknown */
};

#endif

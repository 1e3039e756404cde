/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hub: the operator side of DESIGN §8 — what `farnode hub ...` uses to
 * drive a fleet from a shell (or a Kubernetes operator): reading a policy
 * from an INI file, and a one-shot MQTT-over-TLS client (the agent's own
 * codec and TLS code) that publishes retained signed bundles or watches
 * births, deaths and events.
 */
#ifndef FARNODE_HUB_H
#define FARNODE_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

/*
 * Parse a policy INI text (sections [policy], [hyper], [mask], [reward];
 * see the README) into *p (policy_init'ed here; the caller policy_fini's
 * it). now_ms fills issued_ms and, when [policy] version is absent, the
 * version (so each publish is newer). partition (may be NULL) is used
 * when the file names none. Returns 0, or -EINVAL with "FILE:LINE: why"
 * in err.
 */
int hub_policy_parse(const char *text, const char *file, uint64_t now_ms,
		     const char *partition, struct policy *p, char *err,
		     size_t err_len);

/* Connection settings of the operator's client. */
struct hub_conn_opts {
	const char *url; /* mqtts://host:port */
	const char *ca;
	const char *cert;
	const char *key;
	const char *client_id; /* NULL: farnode-hub-<random> */
	bool durable;	       /* clean session off (queued while away) */
	uint32_t timeout_ms;   /* connect and acknowledge; 0 = 15 s */
};

/*
 * Publish payload (retained, QoS 1) to topic and wait for PUBACK. Returns
 * 0, or -errno with the reason printed to stderr.
 */
int hub_publish(const struct hub_conn_opts *o, const char *topic,
		const uint8_t *payload, size_t len, bool retain);

/*
 * Subscribe to filters and call fn for every message until fn returns
 * non-zero, count messages were handled (0 = no limit) or timeout_s passed
 * (0 = none). Returns 0 (also on timeout), or -errno on connection
 * failure (printed).
 */
typedef int (*hub_msg_fn)(void *ud, const char *topic, size_t topic_len,
			  const uint8_t *payload, size_t len, bool retained);
int hub_watch(const struct hub_conn_opts *o, const char *const *filters,
	      size_t n, uint32_t timeout_s, hub_msg_fn fn, void *ud);

#endif

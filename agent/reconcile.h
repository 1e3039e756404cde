/* SPDX-License-Identifier: Apache-2.0 */
/*
 * reconcile: turns signed bundles from the hub (or the pre-seeded file)
 * into the node's policy and desired workloads (DESIGN §8). A bundle is
 * used only after its signature verifies against a pinned hub key, its
 * version is newer than the one in force, it has not expired and it names
 * this partition (and node). Every rejection has its own reason, counter
 * and log line. Accepted bundles are stored (policy table) as received, so
 * the node runs on the last good ones offline and after a restart.
 * Effects leave through struct reconcile_ops, so tests and the agent plug
 * in different scheduler/runtime ends.
 */
#ifndef FARNODE_RECONCILE_H
#define FARNODE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "node.h"
#include "policy.h"
#include "wire.h"
#include "workload.h"

struct reconcile;
struct store;

/* Why a bundle was refused. Numbers are stable (counters, events). */
enum reconcile_reason {
	RECON_OK = 0,
	RECON_MALFORMED,       /* not a signed bundle we can decode */
	RECON_UNSIGNED,	       /* a bare policy/desired state, no signature */
	RECON_WRONG_KIND,      /* a desired bundle on the policy topic, ... */
	RECON_UNKNOWN_KEY,     /* signed by a key that is not pinned */
	RECON_BAD_SIGNATURE,   /* signature does not verify (tampered) */
	RECON_BAD_PAYLOAD,     /* signed payload does not decode */
	RECON_STALE,	       /* version not newer than the one in force */
	RECON_EXPIRED,	       /* expires_ms in the past */
	RECON_OTHER_PARTITION, /* for another partition */
	RECON_OTHER_NODE,      /* desired state for another node */
	RECON_INVALID,	       /* content refused (bad spec, bad params) */
	RECON_STORE,	       /* could not be stored */
	RECON__COUNT
};

/* Short stable name ("bad-signature"). */
const char *reconcile_reason_name(enum reconcile_reason r);

/*
 * The seam to the scheduler and runtime. Every function may be NULL
 * (the effect is skipped). why/why_len receive a reason on failure.
 */
struct reconcile_ops {
	void *ud;
	/*
	 * Make p the policy in force (scheduler parameters, masks, prior).
	 * Non-zero refuses the policy (RECON_INVALID); nothing is stored.
	 */
	int (*apply_policy)(void *ud, const struct policy *p, char *why,
			    size_t why_len);
	/* Create the workload, or replace it when its spec changed. */
	int (*workload_put)(void *ud, const struct workload_spec *s, char *why,
			    size_t why_len);
	/* Remove a workload the hub no longer wants (stop it first). */
	int (*workload_delete)(void *ud, const char *id);
	/*
	 * A bundle was accepted (reason RECON_OK) or refused. source is
	 * "hub", "store" or "file". For the outbox's POLICY event.
	 */
	void (*report)(void *ud, enum bundle_kind kind, uint64_t version,
		       enum reconcile_reason reason, const char *source,
		       const char *text);
};

struct reconcile_config {
	const char *partition; /* copied */
	struct node_id self;
	const struct crypto_pins *pins; /* borrowed; must outlive */
};

struct reconcile_stats {
	uint64_t accepted[3];		 /* by enum bundle_kind */
	uint64_t rejected[RECON__COUNT]; /* by reason */
	uint64_t unchanged;		 /* the bundle in force, again */
	uint64_t workload_puts;
	uint64_t workload_deletes;
	uint64_t workload_errors; /* put/delete that failed */
};

/*
 * New reconciler. st (borrowed, may be NULL: nothing is stored) must
 * outlive it; ops is copied. Returns 0 and *out, -ENOMEM, -EINVAL.
 */
int reconcile_new(const struct reconcile_config *cfg, struct store *st,
		  const struct reconcile_ops *ops, struct reconcile **out);
/* NULL-safe. */
void reconcile_free(struct reconcile *r);

/*
 * Start-up: take the stored bundles (verified again, expiry honoured) and
 * apply them; when no policy is stored and seed_file is non-empty, read a
 * signed bundle (either kind) from that file instead. The stored versions
 * are the floor for every later bundle even when the stored bundle itself
 * cannot be used any more. Returns 0 (also when nothing was found), or
 * -errno for a store failure. A bad seed file is logged and counted.
 */
int reconcile_load(struct reconcile *r, const char *seed_file, uint64_t now_ms);

/*
 * A bundle arrived (from the topic of kind). Verify, check, apply, store.
 * Returns RECON_OK (0) when it is now in force, else the reason (> 0);
 * why (may be NULL) gets a one-line explanation. now_ms is wall clock.
 * The very bundle already in force (a retained message delivered again
 * after a reconnect) is RECON_OK without any effect or report.
 */
enum reconcile_reason reconcile_input(struct reconcile *r,
				      enum bundle_kind kind, const uint8_t *p,
				      size_t len, uint64_t now_ms, char *why,
				      size_t why_len);

/* Versions in force (0 = none). */
uint64_t reconcile_version(const struct reconcile *r, enum bundle_kind kind);
/* The policy in force, or NULL. Borrowed until the next input. */
const struct policy *reconcile_policy(const struct reconcile *r);
/* The desired state in force, or NULL. Borrowed until the next input. */
const struct desired_state *reconcile_desired(const struct reconcile *r);
void reconcile_stats(const struct reconcile *r, struct reconcile_stats *out);

/*
 * Read every PEM public key in path into pins (a file may carry several,
 * for key rotation). Returns the number pinned (> 0), or -ENOENT/-EACCES,
 * -EBADMSG (no key in it or a bad one), -ENOSPC.
 */
int reconcile_pin_file(struct crypto_pins *pins, const char *path);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gossip: the libuv shell around the SWIM core (swim.h). UDP datagrams
 * sealed with the gossip keyring, TCP push-pull (sealed frames) on join and
 * periodically, joining through [gossip] join seeds and the members kept
 * in the store with retries and backoff, and the node state from the
 * runtime's sampler fed to the core.
 */
#ifndef FARNODE_GOSSIP_H
#define FARNODE_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct swim;

/* Start the service when [gossip] enabled. Returns 0 or -errno (logged). */
int gossip_start(struct agent *a);
/* Stop: close sockets and timers; memory goes in the last close callback. */
void gossip_stop(struct agent *a);

/* The running core, NULL when gossip is off. Borrowed. */
const struct swim *gossip_core(const struct agent *a);

/*
 * Join through the given "host:port" seeds (numeric addresses) now, in
 * addition to the configured ones. Returns how many exchanges started, or
 * -EINVAL when no address parsed, -ENOTCONN when gossip is off.
 */
int gossip_join(struct agent *a, const char *const *addrs, size_t n);

/*
 * Leave gracefully: gossip LEFT about ourselves, then call done(ud) when
 * it was transmitted (or after 5 s). Returns 0 or -ENOTCONN.
 */
int gossip_leave(struct agent *a, void (*done)(void *ud), void *ud);

/* UDP datagrams and bytes (sealed, on the wire) sent since start. */
void gossip_traffic(const struct agent *a, uint64_t *packets, uint64_t *bytes);

#endif

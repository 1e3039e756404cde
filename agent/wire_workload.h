/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wire_workload: conversions of WorkloadSpec shared by the wire files that
 * embed a spec (offload offers, desired state). Internal to agent/wire*.c.
 */
#ifndef FARNODE_WIRE_WORKLOAD_H
#define FARNODE_WIRE_WORKLOAD_H

#include "workload.h"
#include "workload.pb-c.h"

/* Storage the packed form of one spec borrows from. */
struct wire__spec_store {
	Farnode__V1__WorkloadSpec m;
	Farnode__V1__Label loc[4];
	Farnode__V1__Label *locp[4];
	char *argv[WORKLOAD_ARGV_MAX];
	char *env[WORKLOAD_ENV_MAX];
};

/* Fill st->m from s (borrowing s's strings). 0 or -EINVAL. */
int wire__spec_to_pb(const struct workload_spec *s,
		     struct wire__spec_store *st);
/* Convert a decoded spec with bounds checks. 0 or -EBADMSG. */
int wire__spec_from_pb(const Farnode__V1__WorkloadSpec *m,
		       struct workload_spec *s);

#endif

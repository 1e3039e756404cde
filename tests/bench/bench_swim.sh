#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SWIM at scale in the simulator (LAN profile, 1-5 ms links, no loss):
# rounds and seconds to converge, traffic per node, time for a node-state
# change to reach everyone, failure-detection p50/p99 and false positives,
# for 1,000 and 5,000 nodes (SWIM_BENCH_NODES overrides). Deterministic for
# a given SIM_SEED. Prints numbers, asserts nothing.
set -u
BUILD=${FARNODE_BUILD:-build}
SIM="$BUILD/sim/sim_swim"
if [ ! -x "$SIM" ]; then
	echo "bench_swim: $SIM not built (make $SIM)" >&2
	exit 1
fi
# shellcheck disable=SC2086
exec "$SIM" bench ${SWIM_BENCH_NODES:-1000 5000}

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark program in $BUILD/bench and the size/RSS baseline.
# Numbers are printed, never asserted.
set -u
BUILD=${BUILD:-build}
export FARNODE_BIN="$PWD/$BUILD/farnode"
export FARNODE_BUILD="$PWD/$BUILD"
for b in tests/bench/bench_*.sh; do
	[ -f "$b" ] || continue
	echo "== $(basename "$b" .sh)"
	bash "$b" || echo "(bench $(basename "$b") failed: exit $?)"
done
for b in "$BUILD"/bench/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b" || echo "(bench $(basename "$b") failed: exit $?)"
done

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The full scheduler study (tests/sim/sim_sched.c --study): every scheduler
# on the same seeded 600 s stream, in two scenarios (exact neighbour loads;
# loads 250 ms old as gossip carries them). Writes build/bench/
# sched_study.csv, sched_curves_<scenario>.csv and sched_curves.png
# (deadline-met ratio per 10 s window). Prints the comparison table.
# Environment: FARNODE_BUILD (build dir), SCHED_SECONDS (default 600),
# SCHED_SEED (default 1).
set -u
BUILD=${FARNODE_BUILD:-build}
OUT=${BENCH_OUT:-$BUILD/bench}
SIM=$BUILD/sim/sim_sched
mkdir -p "$OUT"
if [ ! -x "$SIM" ]; then
	echo "bench_sched: $SIM not built (make $SIM)" >&2
	exit 1
fi
"$SIM" --study "$OUT" --seconds "${SCHED_SECONDS:-600}" \
	--seed "${SCHED_SEED:-1}" || exit 1
echo "csv: $OUT/sched_study.csv $OUT/sched_curves_exact.csv" \
	"$OUT/sched_curves_gossip250.csv"
if ! command -v gnuplot >/dev/null; then
	echo "bench_sched: gnuplot not installed; no plot"
	exit 0
fi
gnuplot <<GP || { echo "bench_sched: gnuplot failed"; exit 1; }
set terminal pngcairo size 1400,560 font ",10"
set output "$OUT/sched_curves.png"
set datafile separator ","
set key outside right top
set xlabel "simulated time (s)"
set ylabel "deadline-met ratio (per 10 s window)"
set yrange [0:1.02]
set grid
set multiplot layout 1,2 title "farnode scheduler study: learning curves (seed ${SCHED_SEED:-1})"
set title "exact neighbour loads"
plot for [c=2:10] "$OUT/sched_curves_exact.csv" using 1:c with lines lw 2 title columnheader(c)
set title "neighbour loads 250 ms old (gossip)"
plot for [c=2:10] "$OUT/sched_curves_gossip250.csv" using 1:c with lines lw 2 title columnheader(c)
unset multiplot
GP
echo "plot: $OUT/sched_curves.png"

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every suite against the binaries in $BUILD and ends with one line
# "N passed, N failed". Each suite program prints TAP ("ok N - name" /
# "not ok N - name"); a program that exits non-zero without reporting a
# failure counts as one failed test.
#
# Environment: BUILD (build dir), QEMU (prefix for cross binaries; only unit
# and fuzz-replay suites then), SUITES (comma list: unit,fuzz,sim,integration),
# VALGRIND=1 (unit tests under valgrind), ONLY (extended regex: run only
# the programs whose name, e.g. "integration/test_gossip.py", matches).
set -u
BUILD=${BUILD:-build}
QEMU=${QEMU:-}
if [ -n "$QEMU" ]; then
	SUITES=${SUITES:-unit,fuzz}
else
	SUITES=${SUITES:-unit,fuzz,sim,integration}
fi
export FARNODE_BIN="$PWD/$BUILD/farnode"
export FARNODE_BUILD="$PWD/$BUILD"
export CMOCKA_MESSAGE_OUTPUT=TAP
pass=0
fail=0
skipped=0
failed_names=()
failed_logs=()
logdir=$(mktemp -d "${TMPDIR:-/tmp}/farnode-test.XXXXXX")

has_suite() { [[ ",$SUITES," == *",$1,"* ]]; }

# run_prog NAME CMD...: run, echo output, count TAP lines.
run_prog() {
	local name=$1
	shift
	if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then
		return 0
	fi
	local out="$logdir/$(echo "$name" | tr '/ ' '__').log"
	local t0=$SECONDS
	"$@" >"$out" 2>&1 </dev/null
	local rc=$?
	local p f s
	# cmocka reports a skipped test as "not ok N # SKIP"; TAP as "ok N # SKIP"
	p=$(grep -E '^ok [0-9]+' "$out" | grep -cvE '# ?(SKIP|TODO)')
	s=$(grep -E '^(not )?ok [0-9]+' "$out" | grep -cE '# ?(SKIP|TODO)')
	f=$(grep -E '^not ok [0-9]+' "$out" | grep -cvE '# ?(SKIP|TODO)')
	skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -gt 0 ]; then
		failed_names+=("$name")
		failed_logs+=("$out")
		echo "FAIL $name ($p passed, $f failed, exit $rc, $((SECONDS - t0))s)"
		grep -vE '^ok [0-9]+' "$out" | tail -n 60 | sed 's/^/    /'
	else
		echo "ok   $name ($p passed$([ "$s" -gt 0 ] && echo ", $s skipped"), $((SECONDS - t0))s)"
		grep -E '^(not )?ok [0-9]+.*# ?(SKIP|TODO)' "$out" | sed 's/^/    /'
		grep -E '^# ' "$out" | grep -vE '^# (ok|not ok) - ' | head -n 20 | sed 's/^/    /'
	fi
}

if has_suite unit; then
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		if [ "${VALGRIND:-0}" = 1 ]; then
			run_prog "unit/$(basename "$t")" valgrind -q --error-exitcode=99 \
				--leak-check=full --errors-for-leak-kinds=definite,indirect \
				--track-fds=no "$t"
		else
			# shellcheck disable=SC2086
			run_prog "unit/$(basename "$t")" $QEMU "$t"
		fi
	done
fi

if has_suite fuzz; then
	for r in "$BUILD"/fuzz/fuzz_*-replay; do
		[ -x "$r" ] || continue
		tgt=$(basename "$r" -replay)
		tgt=${tgt#fuzz_}
		# shellcheck disable=SC2086
		run_prog "fuzz/$tgt" $QEMU "$r" "tests/fuzz/corpus/$tgt"
	done
fi

if has_suite sim; then
	for s in "$BUILD"/sim/sim_*; do
		[ -x "$s" ] || continue
		run_prog "sim/$(basename "$s")" "$s"
	done
fi

if has_suite integration; then
	for t in tests/integration/test_*; do
		[ -f "$t" ] || continue
		case "$t" in
		*.sh) run_prog "integration/$(basename "$t")" bash "$t" ;;
		*.py) run_prog "integration/$(basename "$t")" python3 "$t" ;;
		esac
	done
fi

if [ "$fail" -gt 0 ]; then
	# the failures again, with their details, where a truncated log keeps
	# them: next to the summary
	for i in "${!failed_names[@]}"; do
		echo "== ${failed_names[$i]}"
		awk '/^not ok [0-9]+/ && !/# ?(SKIP|TODO)/ {n = 12; print; next}
		     n > 0 && /^#/ {print; n--; next} {n = 0}' \
			"${failed_logs[$i]}" | head -n 40 | sed 's/^/    /'
	done
	echo "failed suites: ${failed_names[*]}"
	echo "logs: $logdir"
else
	rm -rf "$logdir"
fi
echo "$skipped skipped (each with its reason above)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make fuzz`: builds every tests/fuzz/fuzz_*.c with clang libFuzzer +
# ASan/UBSan into build/fuzz/ and runs each for FUZZ_SECONDS against a
# working copy of its seed corpus (tests/fuzz/corpus/<target>/ is never
# modified). The agent library is compiled once with the same flags from
# agent/*.c (except main.c), ports/linux/*.c and the generated protobuf-c
# sources, so any target can use any module.
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_TARGETS (space list of
# target names, default all), FUZZ_JOBS (parallel compiles, default 2),
# CLANG (default clang). Include dirs are -iquote, as in the Makefile, so
# agent/sched.h cannot shadow the system <sched.h>. Prints one TAP line per
# target with its executions; exits non-zero on any finding (artifacts in
# build/fuzz/artifacts/<target>).
set -u
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
CLANG=${CLANG:-clang}
OUT=build/fuzz
OBJ=$OUT/obj
PKGS="libuv libprotobuf-c sqlite3 inih yaml-0.1"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"

command -v "$CLANG" >/dev/null || { echo "fuzz: $CLANG not found" >&2; exit 2; }

# generated protobuf-c sources (shared with the normal build)
gens=()
for p in proto/*.proto; do
	[ -f "$p" ] || continue
	gens+=("build/gen/$(basename "$p" .proto).pb-c.c")
done
if [ ${#gens[@]} -gt 0 ]; then
	make --no-print-directory -s "${gens[@]}" || exit 2
fi

CFLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer $SAN \
	-fsanitize=fuzzer-no-link -iquote agent -iquote ports/linux -iquote build/gen \
	$(pkg-config --cflags $PKGS) -DFARNODE_VERSION=\"fuzz\" \
	-DFARNODE_GIT_REV=\"fuzz\" -DFARNODE_INIH_VERSION=0 -w"
LIBS="$(pkg-config --libs $PKGS) -lmbedtls -lmbedx509 -lmbedcrypto -lm"
mkdir -p "$OBJ"

# compile the library sources whose object is missing or older than the
# source or any header
newest_h=$(ls -t agent/*.h ports/linux/*.h build/gen/*.h 2>/dev/null | head -1)
srcs=()
for s in agent/*.c ports/linux/*.c build/gen/*.c; do
	[ -f "$s" ] || continue
	[ "$s" = agent/main.c ] && continue
	srcs+=("$s")
done
todo=()
for s in "${srcs[@]}"; do
	o="$OBJ/$(echo "$s" | tr '/' '_').o"
	if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || { [ -n "$newest_h" ] && [ "$newest_h" -nt "$o" ]; }; then
		todo+=("$s")
	fi
done
if [ ${#todo[@]} -gt 0 ]; then
	echo "fuzz: compiling ${#todo[@]} library sources with $CLANG"
	export CLANG CFLAGS OBJ
	# shellcheck disable=SC2016
	# a source that does not compile (work in progress elsewhere) is left
	# out with a warning; only targets that need it fail to link
	printf '%s\n' "${todo[@]}" | xargs -P "$FUZZ_JOBS" -I{} sh -c \
		'o="$OBJ/$(echo "{}" | tr / _).o"; $CLANG $CFLAGS -c -o "$o" "{}" 2>"$o.err" || { rm -f "$o"; echo "fuzz: warning: {} does not compile, left out:" >&2; head -n 5 "$o.err" >&2; }'
fi
libobjs=()
for s in "${srcs[@]}"; do
	o="$OBJ/$(echo "$s" | tr '/' '_').o"
	[ -f "$o" ] && libobjs+=("$o")
done
rm -f "$OUT/libfarnode-fuzz.a"
ar rcs "$OUT/libfarnode-fuzz.a" "${libobjs[@]}" || exit 2

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
	for t in $FUZZ_TARGETS; do targets+=("tests/fuzz/fuzz_$t.c"); done
else
	for f in tests/fuzz/fuzz_*.c; do [ -f "$f" ] && targets+=("$f"); done
fi

n=0
failed=0
for src in "${targets[@]}"; do
	name=$(basename "$src" .c)
	tgt=${name#fuzz_}
	n=$((n + 1))
	bin="$OUT/$name"
	if ! $CLANG $CFLAGS -fsanitize=fuzzer -o "$bin" "$src" \
		"$OUT/libfarnode-fuzz.a" $LIBS; then
		echo "not ok $n - fuzz $tgt: build failed"
		failed=$((failed + 1))
		continue
	fi
	work="$OUT/corpus/$tgt"
	art="$OUT/artifacts/$tgt/"
	mkdir -p "$work" "$art"
	if [ -d "tests/fuzz/corpus/$tgt" ]; then
		cp -n tests/fuzz/corpus/"$tgt"/* "$work"/ 2>/dev/null
	fi
	log="$OUT/$name.log"
	"$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
		-artifact_prefix="$art" -rss_limit_mb=1024 "$work" >"$log" 2>&1
	rc=$?
	execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - fuzz $tgt: ${execs:-?} executions in ${FUZZ_SECONDS}s (${cov:-cov: ?}, corpus $(ls "$work" | wc -l))"
	else
		failed=$((failed + 1))
		echo "not ok $n - fuzz $tgt: exit $rc after ${execs:-?} executions; see $log and $art"
		grep -E 'ERROR|SUMMARY|fuzz_' "$log" | head -n 10 | sed 's/^/    /'
	fi
done
echo "fuzz: $n targets, $failed failed"
[ "$failed" -eq 0 ]

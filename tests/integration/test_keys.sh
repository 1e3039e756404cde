#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Keys with the real binary: `keygen gossip|signing`, and a live rotation
# of a running agent's gossip keyring with `keys install|use|remove`
# (primary protected, bad keys refused), persisted across a restart.
. "$(dirname "$0")/lib.sh"

# keygen gossip: base64 of 32 bytes, different every time
k1=$("$FARNODE" keygen gossip)
k2=$("$FARNODE" keygen gossip)
check "keygen gossip prints base64 of 32 bytes" \
	python3 -c 'import base64,sys; assert len(base64.b64decode(sys.argv[1], validate=True)) == 32' "$k1"
check "keygen gossip keys differ" test "$k1" != "$k2"

# keygen signing
mkdir -p "$WORK/sign"
out=$("$FARNODE" keygen signing --out "$WORK/sign")
check "keygen signing writes a 0600 private key" \
	test "$(stat -c %a "$WORK/sign/signing.key")" = 600
check "keygen signing writes a PEM public key" \
	grep -q "BEGIN PUBLIC KEY" "$WORK/sign/signing.pub"
check "keygen signing prints a 16-hex key id" grep -qE '^key id [0-9a-f]{16}$' <<<"$out"
"$FARNODE" keygen signing --out "$WORK/sign" >/dev/null 2>"$WORK/again.err"
rc=$?
check "keygen signing never overwrites (exit 1)" test "$rc" -eq 1
check "and says so" grep -q "already exists" "$WORK/again.err"
"$FARNODE" keygen signing >/dev/null 2>&1
check "keygen signing without --out is a usage error (exit 2)" test $? -eq 2

cat >"$WORK/k.conf" <<CONF
[gossip]
enabled = false
key = $k1
CONF

quiet() { "$@" >/dev/null; }
keys_json() { "$FARNODE" keys list --json --data-dir "$WORK/k"; }
primary_id() { keys_json | python3 -c 'import json,sys; print([k["id"] for k in json.load(sys.stdin)["keys"] if k["primary"]][0])'; }
n_keys() { keys_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["keys"]))'; }

check "agent starts with [gossip] key" start_agent k -c "$WORK/k.conf"
PID=$AGENT_PID
id1=$(primary_id)
check "keyring seeded from the config: one primary key" test "$(n_keys)" = 1
out=$("$FARNODE" keys install "$k2" --data-dir "$WORK/k")
id2=$(sed -nE 's/^installed key ([0-9]+)$/\1/p' <<<"$out")
check "keys install reports the new key id" test -n "$id2"
check "two keys installed, primary unchanged" \
	test "$(n_keys)" = 2 -a "$(primary_id)" = "$id1"
"$FARNODE" keys remove "$id1" --data-dir "$WORK/k" >/dev/null 2>"$WORK/rm.err"
check "removing the primary is refused (exit 1)" test $? -eq 1
check "with a reason" grep -q "is the primary" "$WORK/rm.err"
"$FARNODE" keys install "not-a-key" --data-dir "$WORK/k" >/dev/null 2>"$WORK/bad.err"
check "a malformed key is refused" test $? -eq 1
check "with a reason" grep -q "base64" "$WORK/bad.err"
"$FARNODE" keys use 999 --data-dir "$WORK/k" >/dev/null 2>&1
check "key id out of range is a usage error" test $? -eq 2
check "keys use switches the primary" quiet "$FARNODE" keys use "$id2" --data-dir "$WORK/k"
check "primary is the new key" test "$(primary_id)" = "$id2"
check "keys remove drops the old key" quiet "$FARNODE" keys remove "$id1" --data-dir "$WORK/k"
check "one key left" test "$(n_keys)" = 1
check "the database holding the keys is private (0600)" \
	test "$(stat -c %a "$WORK/k/farnode.db")" = 600
check "key material never printed by list" bash -c "! '$FARNODE' keys list --data-dir '$WORK/k' | grep -qF -- '$k2'"

kill -TERM "$PID"
wait "$PID" 2>/dev/null
check "agent restarts" start_agent k -c "$WORK/k.conf"
check "rotation survived the restart (stored keyring wins over config)" \
	test "$(n_keys)" = 1 -a "$(primary_id)" = "$id2"
check "the stale config key is reported" grep -q "not in the stored keyring" "$WORK/k.log"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null

plan_done

#!/usr/bin/env bash
# System test: ./mw up brings the embedded Kafka broker and schema registry up,
# ./mw status --json reports both healthy with their addresses, a second up is
# a no-op, a taken port gives a one-line error, and ./mw down leaves no process
# of the state directory behind. Runs on free ports and its own state dir, so it
# never touches a stack that is already running (--only kafka,registry: the
# later services have their own system tests).
set -euo pipefail
MW_ROOT=${MW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
MW_DIST=${MW_DIST:-$MW_ROOT/var/dist}   # share the downloaded distributions
export MW_DIST
ST=${MW_TEST_STATE:-$(mktemp -d /tmp/mw-systest.XXXXXX)}
mkdir -p "$ST"
ST=$(cd "$ST" && pwd)
MW=("$MW_ROOT/mw" --state-dir "$ST")
fails=0
blocker_pid=""

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
ok()   { echo "ok   - $*"; }
bad()  { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null; then ok "$what"; else bad "$what"; fi; }
# no_procs: no process has this test's state dir on its command line (our own
# shell does not: the state dir is only in variables).
no_procs() { local p; p=$(pgrep -f -- "$ST/" || true); [ -z "$p" ] || { ps -fp $p >&2; return 1; }; }
cleanup() {
  [ -n "$blocker_pid" ] && kill "$blocker_pid" 2>/dev/null || true
  "${MW[@]}" down >/dev/null 2>&1 || true
  # Last resort for a broken down: only processes naming this test's state dir.
  local p; for p in $(pgrep -f -- "$ST/" || true); do kill -9 "$p" 2>/dev/null || true; done
  [ -z "${MW_TEST_STATE:-}" ] && rm -rf "$ST"
  return 0
}
trap cleanup EXIT

KP=$(free_port); KC=$(free_port); RP=$(free_port); RM=$(free_port)
PORTS=(--only kafka,registry --kafka-port "$KP" --kafka-controller-port "$KC" --registry-port "$RP" --registry-management-port "$RM")
echo "# state dir $ST; kafka $KP (controller $KC), registry $RP (management $RM)"

# 1. up
if "${MW[@]}" up "${PORTS[@]}"; then ok "./mw up exits 0"; else bad "./mw up exits 0"; exit 1; fi

# 2. status --json: both healthy, with their addresses
js=$("${MW[@]}" status --json) && rc=0 || rc=$?
echo "$js" | jq -c '.services[] | {name, healthy, endpoint, pid}'
check "status exits 0 when healthy" [ "$rc" = 0 ]
check "status: overall healthy" jq -e '.healthy == true' <<<"$js"
check "status: kafka healthy at 127.0.0.1:$KP" \
  jq -e --arg b "127.0.0.1:$KP" '.services.kafka.healthy == true and .services.kafka.bootstrap == $b' <<<"$js"
check "status: registry healthy at its ccompat URL" \
  jq -e --arg u "http://127.0.0.1:$RP/apis/ccompat/v7" '.services.registry.healthy == true and .services.registry.url == $u' <<<"$js"
check "registry answers the Confluent API" curl -fsS -o /dev/null "http://127.0.0.1:$RP/apis/ccompat/v7/subjects"
check "registry bound to loopback only" bash -c "! ss -ltnH | awk '{print \$4}' | grep -Eq '^(0\.0\.0\.0|\*|\[::\]):($RP|$RM)\$'"
check "mw.conf records the bootstrap servers" grep -qx "kafka.bootstrap=127.0.0.1:$KP" "$ST/mw.conf"

# 3. a second up is a no-op: same pids, nothing started
kpid=$(jq -r .services.kafka.pid <<<"$js"); rpid=$(jq -r .services.registry.pid <<<"$js")
out=$("${MW[@]}" up "${PORTS[@]}" 2>&1) && rc=0 || rc=$?
check "second up exits 0" [ "$rc" = 0 ]
check "second up starts nothing" bash -c "! grep -q 'starting' <<<\"\$0\"" "$out"
js2=$("${MW[@]}" status --json || true)
check "second up keeps the same processes" \
  jq -e --argjson k "$kpid" --argjson r "$rpid" '.services.kafka.pid == $k and .services.registry.pid == $r' <<<"$js2"

# 4. changing a setting while up is refused with one line
out=$("${MW[@]}" up --kafka-port "$(free_port)" 2>&1) && rc=0 || rc=$?
check "up with a changed port while running is refused" [ "$rc" != 0 ]
check "  ... with a one-line error" bash -c '[ "$(wc -l <<<"$0")" = 1 ] && grep -q "^mw: error: .*down first" <<<"$0"' "$out"

# 5. down leaves nothing behind, twice
check "down exits 0" "${MW[@]}" down
check "no process of the state dir left" no_procs
check "no listener left on the test ports" bash -c "[ -z \"\$(ss -ltnH '( sport = :$KP or sport = :$KC or sport = :$RP or sport = :$RM )')\" ]"
check "second down exits 0" "${MW[@]}" down
js3=$("${MW[@]}" status --json) && rc=0 || rc=$?
check "status after down exits 1 and reports unhealthy" bash -c "[ $rc = 1 ] && jq -e '.healthy == false and .services.kafka.running == false' <<<\"\$0\" >/dev/null" "$js3"

# 6. stale pid file: a dead pid and a recycled one (this shell) are ignored
echo "999999 1" > "$ST/run/kafka.pid"; echo "$$ 1" > "$ST/run/registry.pid"
check "down with stale pid files exits 0 and kills nothing" "${MW[@]}" down
check "  ... stale pid files removed" bash -c "[ ! -e '$ST/run/kafka.pid' ] && [ ! -e '$ST/run/registry.pid' ]"

# 7. port taken by something else: one-line error naming the port, nothing left running
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(600)' "$KP" &
blocker_pid=$!
for _ in $(seq 50); do ss -ltnH "sport = :$KP" | grep -q . && break; sleep 0.1; done
out=$("${MW[@]}" up "${PORTS[@]}" 2>&1) && rc=0 || rc=$?
echo "# $out"
check "up with the Kafka port taken fails" [ "$rc" != 0 ]
check "  ... with one line naming the port and the taker" \
  bash -c '[ "$(wc -l <<<"$0")" = 1 ] && grep -q "^mw: error: kafka listener port 127.0.0.1:$1 is already in use by python3" <<<"$0"' "$out" "$KP"
check "  ... and starts nothing" no_procs
kill "$blocker_pid" 2>/dev/null; wait "$blocker_pid" 2>/dev/null || true; blocker_pid=""

# 8. bad options: one-line errors
out=$("${MW[@]}" up --isolation bogus 2>&1) && rc=0 || rc=$?
check "up --isolation bogus is rejected with one line" bash -c '[ "$1" != 0 ] && [ "$(wc -l <<<"$0")" = 1 ]' "$out" "$rc"
out=$("${MW[@]}" up --no-such-flag 1 2>&1) && rc=0 || rc=$?
check "up with an unknown option is rejected with one line" bash -c '[ "$1" != 0 ] && [ "$(wc -l <<<"$0")" = 1 ]' "$out" "$rc"

echo "# $fails failure(s)"
[ "$fails" = 0 ]

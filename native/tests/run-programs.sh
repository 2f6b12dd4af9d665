#!/usr/bin/env bash
# Runs every socket-semantics test program under the shim against a private mwcomms + INS
# (temporary rendezvous, NetFlow on an ephemeral port), then checks that the socket table is
# back to empty and the INS holds no more descriptors than before. Cleans up after itself.
set -euo pipefail
B=${MW_NATIVE_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
# mwcomms and the INS may come from another build (make asan-test runs them under ASan/UBSan,
# with the regular shim and test programs, which must not load the sanitizer runtime)
D=${MW_DAEMON_BUILD:-$B}
T=$(mktemp -d /tmp/mw-progtest.XXXXXX)
MWC_PID=""
cleanup() {
  [ -n "$MWC_PID" ] && kill "$MWC_PID" 2>/dev/null && wait "$MWC_PID" 2>/dev/null || true
  rm -rf "$T"
}
sanitizer_reports() {
  if ls "$T"/asan* >/dev/null 2>&1; then
    echo "FAIL: sanitizer reports from mwcomms/INS:" >&2
    cat "$T"/asan* >&2
    return 1
  fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- mwcomms log:" >&2; tail -n 30 "$T/mwcomms.log" >&2; exit 1; }

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path="$T/asan" \
  "$D/mwcomms" --rendezvous "$T/mw.sock" --netflow 127.0.0.1:0 >"$T/mwcomms.log" 2>&1 &
MWC_PID=$!
"$B/mwctl" --rendezvous "$T/mw.sock" wait 10 || fail "mwcomms did not start"
export MW_RENDEZVOUS="$T/mw.sock"
status() { "$B/mwctl" --rendezvous "$T/mw.sock" status; }
for _ in $(seq 100); do ins_pid=$(status | jq -r '.ins[0].pid'); [ -d /proc/"$ins_pid"/fd ] && break; sleep 0.1; done
sleep 0.5   # a sanitized INS maps its shadow memory first; let it settle before the baseline
base_fds=$(ls /proc/"$ins_pid"/fd | wc -l)

run() {
  local name=$1; shift
  echo "-- $name"
  env "$@" LD_PRELOAD="$B/libmwshim.so" timeout 300 "$B/tests/$name" || fail "$name (exit $?)"
}
run t_coalesce   # first: it needs an INS that has not yet learned to stop coalescing
run t_connect
run t_server
run t_bulk MW_BULK_MB="${MW_BULK_MB:-1024}"
run t_many MW_MANY_CONNS="${MW_MANY_CONNS:-5000}"
echo "-- t_malformed (no shim: raw control messages at mwcomms)"
timeout 60 "$B/tests/t_malformed" "$T/mw.sock" || fail "t_malformed"

# Everything closed: the table is empty and the INS is back to its baseline descriptors.
for i in $(seq 50); do
  s=$(status | jq '.sockets'); f=$(ls /proc/"$ins_pid"/fd | wc -l)
  [ "$s" = 0 ] && [ "$f" -le "$base_fds" ] && break
  sleep 0.1
done
[ "$s" = 0 ] || fail "socket table not empty after the programs: $s sockets ($(status))"
[ "$f" -le "$base_fds" ] || fail "INS holds $f descriptors, baseline $base_fds"
[ "$(status | jq -r '.ins[0].pid')" = "$ins_pid" ] || fail "the INS restarted during the programs"
kill -0 "$MWC_PID" || fail "mwcomms died"
# stop it now so that leak checks of a sanitized build run and report
kill "$MWC_PID"; wait "$MWC_PID" 2>/dev/null || true; MWC_PID=""
sanitizer_reports || exit 1
echo "run-programs: all passed (socket table empty, INS descriptors at baseline $base_fds)"

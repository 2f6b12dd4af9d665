# Shared helpers for the data-plane system tests (tests/system/3x-*.sh). Sourced, never run.
# Each test gets a private mwcomms + INS (temporary rendezvous, NetFlow on an ephemeral port)
# and cleans up every process and file it made, whatever happens.
set -euo pipefail
MW_ROOT=${MW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
B="$MW_ROOT/native/build"
# MW_DAEMON_BUILD=.../build-asan runs mwcomms and the INS under ASan/UBSan (reports fail the test)
D=${MW_DAEMON_BUILD:-$B}
T=$(mktemp -d /tmp/mw-systest.XXXXXX)
chmod 755 "$T"
SYS_PIDS=()
SYS_MWC=""
SYS_NAME=${SYS_NAME:-$(basename "$0" .sh)}

sys_cleanup() {
  local p
  for p in "${SYS_PIDS[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  done
  sleep 0.3
  for p in "${SYS_PIDS[@]}"; do
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
  done
  if [ -n "$SYS_MWC" ]; then
    kill -TERM "$SYS_MWC" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SYS_MWC" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SYS_MWC" 2>/dev/null || true
  fi
  local rc=0
  if ls "$T"/asan* >/dev/null 2>&1; then
    echo "FAIL [$SYS_NAME]: sanitizer reports from mwcomms/INS:" >&2
    cat "$T"/asan* >&2
    rc=1
  fi
  rm -rf "$T"
  return $rc
}
sys_exit() {
  local rc=$?
  sys_cleanup || rc=1
  exit $rc
}
trap sys_exit EXIT

sys_fail() {
  echo "FAIL [$SYS_NAME]: $*" >&2
  [ -f "$T/mwcomms.log" ] && { echo "--- mwcomms log (tail):" >&2; tail -n 20 "$T/mwcomms.log" >&2; }
  exit 1
}
sys_ok() { echo "ok [$SYS_NAME]: $*"; }

sys_need() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || sys_fail "needs $c (install it: launcher/install-deps.sh)"; done
}

# sys_need_netns: skip the test (exit 0) unless root with network namespaces.
sys_need_netns() {
  if [ "$(id -u)" != 0 ] || ! unshare --net true 2>/dev/null; then
    echo "skip [$SYS_NAME]: isolation netns needs root and network namespaces"; exit 0
  fi
}

# sys_netns_echo_server NINS: mwcomms with isolation netns and NINS INS, and the epoll echo server
# (t_echosrv) under the shim in a namespace of its own with only lo up; sets P to its port once
# every INS holds the listener.
sys_netns_echo_server() {
  local nins=$1 pf="$T/port" i
  [ -x "$B/tests/t_echosrv" ] && [ -x "$B/tests/t_connmany" ] || sys_fail "test programs not built"
  sys_mwcomms --isolation netns --ins "$nins"
  setsid unshare --net -- sh -c 'ip link set lo up; exec "$@"' mw-protect env LD_PRELOAD="$B/libmwshim.so" \
    MW_RENDEZVOUS="$T/mw.sock" "$B/tests/t_echosrv" 127.0.0.1 0 "$pf" > "$T/srv.out" 2>&1 < /dev/null &
  SYS_PIDS+=($!)
  for i in $(seq 100); do [ -s "$pf" ] && break; sleep 0.1; done
  [ -s "$pf" ] || { cat "$T/srv.out" >&2; sys_fail "echo server did not start"; }
  P=$(cat "$pf")
  for i in $(seq 100); do
    [ "$(sys_status | jq '[.listeners[0].replicas[]] | length')" -eq $((nins - 1)) ] && return 0
    sleep 0.1
  done
  sys_fail "listener not on all $nins INS"
}

sys_build() {
  [ -x "$B/mwcomms" ] && [ -f "$B/libmwshim.so" ] && [ -x "$B/mwctl" ] ||
    make -s -C "$MW_ROOT/native" -j2 >&2 || sys_fail "native build failed"
}

# sys_mwcomms [extra mwcomms args]: start the private hub and INS.
sys_mwcomms() {
  sys_build
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path="$T/asan" \
    "$D/mwcomms" --rendezvous "$T/mw.sock" --netflow 127.0.0.1:0 "$@" >"$T/mwcomms.log" 2>&1 &
  SYS_MWC=$!
  "$B/mwctl" --rendezvous "$T/mw.sock" wait 10 >/dev/null || sys_fail "mwcomms did not start"
  export MW_RENDEZVOUS="$T/mw.sock"
}
sys_status() { "$B/mwctl" --rendezvous "$T/mw.sock" status; }

# sys_free_port: an unused loopback TCP port.
sys_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# sys_bg NAME CMD...: start CMD under the shim in its own process group, remember it.
sys_bg() {
  local name=$1; shift
  setsid env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@" >"$T/$name.out" 2>&1 < /dev/null &
  SYS_PIDS+=($!)
}

# sys_wait_http URL [SECONDS]: until it answers (through whatever carries it).
sys_wait_http() {
  local url=$1 secs=${2:-15} i
  for ((i = 0; i < secs * 10; i++)); do
    curl -s -o /dev/null -m 2 "$url" && return 0
    sleep 0.1
  done
  return 1
}

# sys_listener_count: listeners mwcomms knows about (proves the program's sockets are carried).
sys_listener_count() { sys_status | jq '.listeners | length'; }

# sys_settle_sockets N: wait until the socket table has at most N entries.
sys_settle_sockets() {
  local want=$1 i s
  for ((i = 0; i < 100; i++)); do
    s=$(sys_status | jq '.sockets')
    [ "$s" -le "$want" ] && return 0
    sleep 0.1
  done
  echo "socket table still has $s entries (wanted <= $want)" >&2
  return 1
}

#!/usr/bin/env bash
# Listening-socket replication over several INS. A protected epoll echo server (t_echosrv) opens
# listener A; one more INS joins (NetFlow ins spawn); the server then opens listener B. Both
# listeners must accept connections on every INS (per-INS connection counts from the status
# JSON while the connections are held), and an option the program sets on its listeners after
# listen() (SO_RCVBUF) must reach every replica.
#   isolation netns (root): the front end in mwcomms hands each connection to the INS with the
#     fewest connections (counts must be even);
#   isolation off ($1 = off, or no root): every INS holds a replica on the same address with
#     SO_REUSEPORT and the kernel spreads connections (counts only need to be non-zero).
SYS_NAME=${SYS_NAME:-80-ins-replication}
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need jq python3 ss
ISO=${1:-netns}
if [ "$ISO" = netns ] && { [ "$(id -u)" != 0 ] || ! unshare --net true 2>/dev/null; }; then
  echo "skip [$SYS_NAME]: isolation netns needs root and network namespaces"; exit 0
fi
[ -x "$B/tests/t_echosrv" ] && [ -x "$B/tests/t_connmany" ] && [ -x "$B/mwnf" ] || sys_fail "test programs not built"
sys_mwcomms --isolation "$ISO" --ins 2
NF=$(sys_status | jq -r .netflow)
nf() { "$B/mwnf" --connect "$NF" "$@"; }

PF="$T/port"
if [ "$ISO" = netns ]; then
  setsid unshare --net -- sh -c 'ip link set lo up; exec "$@"' mw-protect env LD_PRELOAD="$B/libmwshim.so" \
    MW_RENDEZVOUS="$T/mw.sock" "$B/tests/t_echosrv" 127.0.0.1 0 "$PF" > "$T/srv.out" 2>&1 < /dev/null &
  SYS_PIDS+=($!)
else
  sys_bg srv "$B/tests/t_echosrv" 127.0.0.1 0 "$PF"
fi
for _ in $(seq 100); do [ -s "$PF" ] && break; sleep 0.1; done
[ -s "$PF" ] || { cat "$T/srv.out" >&2; sys_fail "echo server did not start"; }
PA=$(cat "$PF")
srv_pid=$(pgrep -f "t_echosrv 127.0.0.1 0 $PF" | head -1)

# replicas of the listener on port $1 (beside the primary)
replicas() { sys_status | jq --arg a "127.0.0.1:$1" '[.listeners[] | select(.address == $a) | .replicas[]] | length'; }
wait_replicas() {
  local i
  for i in $(seq 100); do [ "$(replicas "$1")" -eq "$2" ] && return 0; sleep 0.1; done
  sys_status | jq -c .listeners >&2
  return 1
}
wait_replicas "$PA" 1 || sys_fail "listener A not replicated to the second INS"

out=$(nf ins spawn 1) || sys_fail "ins spawn: $out"
wait_replicas "$PA" 2 || sys_fail "listener A not replicated to the INS that joined later"
echo 0 > "$PF.2"
kill -USR1 "$srv_pid"
for _ in $(seq 100); do [ -s "$PF.2.bound" ] && break; sleep 0.1; done
[ -s "$PF.2.bound" ] || { cat "$T/srv.out" >&2; sys_fail "second listener not opened"; }
PB=$(cat "$PF.2.bound")
wait_replicas "$PB" 2 || sys_fail "listener B (opened after the join) not on all 3 INS"
sys_ok "listener A (before the join) and B (after) are each held by all 3 INS"

# N connections to a listener, held; per-INS connection counts while they are open
check_spread() {   # PORT N
  local port=$1 n=$2 st="$T/cm.$1" i counts min max
  "$B/tests/t_connmany" 127.0.0.1 "$port" "$n" 20 2 4 "$st" > "$T/cm.$port.out" 2>&1 &
  local cm=$!
  for i in $(seq 200); do grep -q '^established' "$st" 2>/dev/null && break; sleep 0.1; done
  grep -q "^established $n 0" "$st" || { cat "$T/cm.$port.out" >&2; sys_fail "port $port: not all $n connections established"; }
  sleep 0.5
  counts=$(sys_status | jq -c '[.ins[] | .connections]')
  wait "$cm" || { cat "$T/cm.$port.out" >&2; sys_fail "port $port: connections broke while held"; }
  min=$(echo "$counts" | jq min); max=$(echo "$counts" | jq max)
  [ "$(echo "$counts" | jq length)" -eq 3 ] || sys_fail "expected 3 INS, got $counts"
  [ "$min" -gt 0 ] || sys_fail "port $port: an INS took no connection: $counts"
  if [ "$ISO" = netns ]; then
    # least connections: within 10% of the mean (at least 1) of each other
    local tol=$(( n / 3 / 10 )); [ "$tol" -ge 1 ] || tol=1
    [ $((max - min)) -le "$tol" ] || sys_fail "port $port: least-connections spread uneven: $counts"
  fi
  sys_ok "port $port: $n connections spread over every INS: $counts"
}
check_spread "$PA" 60
drained=0
for _ in $(seq 150); do [ "$(sys_status | jq '[.ins[].connections] | add')" -eq 0 ] && { drained=1; break; }; sleep 0.1; done
[ "$drained" = 1 ] || sys_fail "connections of the first round still counted: $(sys_status | jq -c '[.ins[].connections]')"
check_spread "$PB" 60

# an option set after listen() reaches every replica (SO_RCVBUF 100000 -> the kernel doubles it)
kill -USR2 "$srv_pid"
for _ in $(seq 50); do grep -q "SO_RCVBUF set" "$T/srv.out" && break; sleep 0.1; done
sleep 0.5
if [ "$ISO" = netns ]; then
  rbs=$(for ns in $(sys_status | jq -r '.ins[].netns'); do ip netns exec "$ns" ss -ltmn "sport = :$PA"; done)
else
  rbs=$(ss -ltmn "sport = :$PA")
fi
n=$(echo "$rbs" | grep -c 'rb200000' || true)
[ "$n" -eq 3 ] || { echo "$rbs" >&2; sys_fail "SO_RCVBUF reached $n of 3 replicas of listener A"; }
sys_ok "SO_RCVBUF set by the program after listen() is in effect on all 3 replicas"

#!/usr/bin/env bash
# NetFlow through the real mwcomms: time-valued socket options (sndtimeo/rcvtimeo, seconds +
# microseconds both ways, enforced by the INS: idle or non-reading peers aborted, close record
# extra = ETIMEDOUT), tcp-info, and the INS lifecycle extensions (ins list, spawn, limit,
# stop, respawn) on a pool whose listeners are replicated to every INS. Isolation off (no root
# needed): every INS holds a replica of the listener on the same address (SO_REUSEPORT).
SYS_NAME=41-netflow-ins
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need python3 curl jq
[ -x "$B/mwnf" ] || sys_fail "mwnf client not built (make -C native)"
sys_mwcomms --ins 2
NF=$(sys_status | jq -r .netflow)
nf() { "$B/mwnf" --connect "$NF" "$@"; }
# rows of `mwnf ins list`: ID PID OPEN MAX
ins_rows() { nf ins list | awk 'NF == 4 && $1 ~ /^[0-9]+$/'; }
P=$(sys_free_port)
mkdir -p "$T/www"; echo "ins page" > "$T/www/index.html"
sys_bg py python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$P"
sys_wait_http "http://127.0.0.1:$P/" 20 || sys_fail "server did not start"

# replicas: wait until every INS holds the listener
wait_replicas() {   # N: listener on N INS (primary + N-1 replicas)
  local i
  for i in $(seq 100); do
    [ "$(sys_status | jq '[.listeners[0].replicas[]] | length')" -eq $(($1 - 1)) ] && return 0
    sleep 0.1
  done
  sys_status | jq -c .listeners >&2
  return 1
}
wait_replicas 2 || sys_fail "listener not replicated to the second INS"
n=$(ss -ltn "sport = :$P" | grep -c LISTEN || true)
[ "$n" -eq 2 ] || sys_fail "expected 2 real listeners on port $P (one per INS), found $n"
sys_ok "listener replicated: 2 INS each hold a real listener on port $P"

# fetch N pages, print how many failed
fails() {
  local f=0 i
  for i in $(seq "$1"); do
    [ "$(curl -s -m 3 "http://127.0.0.1:$P/index.html")" = "ins page" ] || f=$((f + 1))
  done
  echo $f
}

# 1. a held connection and its socket id
python3 - "$P" > "$T/held.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(s.getsockname()[1], flush=True)
time.sleep(30)
PY
held=$!
for _ in $(seq 100); do [ -s "$T/held.out" ] && break; sleep 0.1; done
cport=$(head -1 "$T/held.out")
case "$cport" in ''|*[!0-9]*) sys_fail "held client did not connect: $(cat "$T/held.out")" ;; esac
id=""
for _ in $(seq 50); do
  id=$(nf sockets | awk -v c=":$cport" '$4 == "127.0.0.1"c {print $1}' | sort -n | tail -1)
  [ -n "$id" ] && break; sleep 0.1
done
[ -n "$id" ] || { nf sockets >&2; sys_fail "held connection (client port $cport) not listed by NetFlow"; }

# 2. time-valued options: written as seconds + microseconds, read back the same (multiples of
#    20 ms: the kernel keeps them in jiffies, so 5.25 s would read back as 5.252 s at HZ=250)
nf set sndtimeo 5.24 --socket "$id" >/dev/null || sys_fail "set sndtimeo"
v=$(nf get sndtimeo --socket "$id")
[ "$v" = "5.240000 s" ] || sys_fail "sndtimeo read back '$v', wanted '5.240000 s'"
nf set rcvtimeo 2.5 --socket "$id" >/dev/null || sys_fail "set rcvtimeo"
v=$(nf get rcvtimeo --socket "$id")
[ "$v" = "2.500000 s" ] || sys_fail "rcvtimeo read back '$v', wanted '2.500000 s'"
v=$(nf get sndtimeo --socket "$id")
[ "$v" = "5.240000 s" ] || sys_fail "sndtimeo changed by the rcvtimeo write: '$v'"
sys_ok "sndtimeo 5.24 s and rcvtimeo 2.5 s set and read back on socket $id"
nf set rcvtimeo 0 --socket "$id" >/dev/null && nf set sndtimeo 0 --socket "$id" >/dev/null ||
  sys_fail "clearing the held connection's timeouts"

# 2b. the INS enforces them (the program's reads and writes are on its AF_UNIX end, where a
#     timeout on the TCP socket would never fire): an idle peer past rcvtimeo, and a peer that
#     does not read past sndtimeo, get their connection aborted; the held one (cleared) stays.
sock_of() {   # client port -> socket id of the INS connection
  local i sid
  for i in $(seq 50); do
    sid=$(nf sockets | awk -v c=":$1" '$4 == "127.0.0.1"c {print $1}' | sort -n | tail -1)
    [ -n "$sid" ] && { echo "$sid"; return 0; }
    sleep 0.1
  done
  return 1
}
head -c 67108864 /dev/zero > "$T/www/big.bin"
python3 - "$P" > "$T/idle.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(s.getsockname()[1], flush=True)
s.settimeout(30)
try:
    how = "eof" if s.recv(1) == b"" else "data"
except ConnectionResetError:
    how = "reset"
except socket.timeout:
    how = "open"
print(how, "%.3f" % time.time(), flush=True)
PY
idle_cli=$!
python3 - "$P" > "$T/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
print(s.getsockname()[1], flush=True)
time.sleep(30)   # never reads
PY
slow_cli=$!
for _ in $(seq 100); do [ -s "$T/idle.out" ] && [ -s "$T/slow.out" ] && break; sleep 0.1; done
idle_id=$(sock_of "$(head -1 "$T/idle.out")") || sys_fail "idle client's connection not listed by NetFlow"
slow_id=$(sock_of "$(head -1 "$T/slow.out")") || sys_fail "non-reading client's connection not listed by NetFlow"
sleep 0.5   # let the big response fill the buffers towards the non-reading client
nf watch > "$T/watch.txt" 2>&1 &
watch_pid=$!
sleep 0.3
t_set=$(date +%s.%N)
nf set rcvtimeo 1 --socket "$idle_id" >/dev/null || sys_fail "set rcvtimeo 1 on $idle_id"
nf set sndtimeo 1 --socket "$slow_id" >/dev/null || sys_fail "set sndtimeo 1 on $slow_id"
for _ in $(seq 100); do [ "$(wc -l < "$T/idle.out")" -ge 2 ] && break; sleep 0.1; done
read -r how t_end < <(sed -n 2p "$T/idle.out")
case "$how" in eof|reset) ;; *) sys_fail "idle connection past rcvtimeo 1 s: '$how' (want eof or reset)" ;; esac
dt=$(echo "$t_end - $t_set" | bc)
[ "$(echo "$dt >= 0.9 && $dt < 6" | bc)" = 1 ] || sys_fail "idle connection aborted after ${dt}s (rcvtimeo 1 s)"
gone=""
for _ in $(seq 60); do nf get is-open --socket "$slow_id" >/dev/null 2>&1 || { gone=1; break; }; sleep 0.1; done
[ -n "$gone" ] || sys_fail "connection $slow_id (peer not reading) still open 6 s after sndtimeo 1 s"
nf get is-open --socket "$idle_id" >/dev/null 2>&1 && sys_fail "aborted connection $idle_id still listed"
[ "$(nf get is-open --socket "$id")" = 1 ] || sys_fail "held connection $id (timeouts cleared) was closed"
kill "$slow_cli" 2>/dev/null || true; wait "$idle_cli" "$slow_cli" 2>/dev/null || true
sleep 0.3; kill "$watch_pid" 2>/dev/null || true; wait "$watch_pid" 2>/dev/null || true
for sid in "$idle_id" "$slow_id"; do
  grep -Eq "close +sock=$sid .* extra=110\$" "$T/watch.txt" ||
    { grep "sock=$sid " "$T/watch.txt" >&2; sys_fail "close record of $sid lacks extra=110 (ETIMEDOUT)"; }
done
grep -q "rcvtimeo expired\|sndtimeo expired" "$T/mwcomms.log" || sys_fail "no log line for the expired timeout"
sys_ok "rcvtimeo 1 s: idle peer's connection aborted after ${dt}s ($how); sndtimeo 1 s: non-reading peer's connection aborted; both close records extra=110; held one (cleared) open"
v=$(nf get tcp-info --socket "$id") || sys_fail "tcp-info: $v"
echo "$v" | grep -Eq '^rtt=[0-9]+us rttvar=[0-9]+us cwnd=[1-9][0-9]* retrans=[0-9]+$' || sys_fail "tcp-info '$v'"
sys_ok "tcp-info of socket $id: $v"

# 3. ins list / spawn: the new instances get the listener
ins_rows > "$T/list.txt" || sys_fail "ins list"
[ "$(wc -l < "$T/list.txt")" -eq 2 ] || { cat "$T/list.txt" >&2; sys_fail "ins list shows not 2 INS"; }
out=$(nf ins spawn 2) || sys_fail "ins spawn 2: $out"
[ "$(nf get ins-count)" = 4 ] || sys_fail "ins-count after spawn: $(nf get ins-count)"
wait_replicas 4 || sys_fail "spawned INS did not get replicas of the listener"
for _ in $(seq 50); do
  n=$(ss -ltn "sport = :$P" | grep -c LISTEN || true); [ "$n" -eq 4 ] && break; sleep 0.1
done
[ "$n" -eq 4 ] || sys_fail "expected 4 real listeners on port $P after spawn, found $n"
[ "$(fails 20)" -eq 0 ] || sys_fail "pages failed with 4 INS"
sys_ok "ins spawn 2: 4 INS, each with a replica of the listener, service intact"
lid=$(sys_status | jq '.listeners[0].socket')
nf set rcvbuf 100000 --socket "$lid" >/dev/null || sys_fail "set rcvbuf on listener $lid"
sleep 0.3
n=$(ss -ltmn "sport = :$P" | grep -c 'rb200000' || true)
[ "$n" -eq 4 ] || { ss -ltmn "sport = :$P" >&2; sys_fail "NetFlow rcvbuf on the listener reached $n of 4 replicas"; }
sys_ok "NetFlow rcvbuf written on listener $lid is in effect on all 4 replicas"

# 4. limit: an instance at its limit refuses new connections (the kernel still sends it some)
new=$(ins_rows | awk '{print $1}' | tail -1)
nf ins limit "$new" 1 >/dev/null || sys_fail "ins limit $new 1"
[ "$(ins_rows | awk -v i="$new" '$1 == i {print $4}')" = 1 ] || sys_fail "limit not shown by ins list"
f=$(fails 40)
[ "$f" -gt 0 ] || sys_fail "INS $new at its limit (1 socket: its listener) still took connections"
nf ins limit "$new" 0 >/dev/null || sys_fail "ins limit $new 0"
[ "$(fails 20)" -eq 0 ] || sys_fail "pages failed after lifting the limit"
sys_ok "ins limit: INS $new at 1 socket refused $f of 40 connections the kernel gave it; limit 0 lifts it"

# 5. stop one (not the held connection's), respawn another
hold_ins=$(sys_status | jq --argjson p "$cport" '.ins[] | select(.connections > 0) | .id' | head -1)
victim=$(ins_rows | awk -v h="$hold_ins" '$1 != h {print $1}' | head -1)
nf ins stop "$victim" >/dev/null || sys_fail "ins stop $victim"
[ "$(nf get ins-count)" = 3 ] || sys_fail "ins-count after stop: $(nf get ins-count)"
ins_rows | awk '{print $1}' | grep -qx "$victim" && sys_fail "stopped INS $victim still listed"
[ "$(fails 20)" -eq 0 ] || sys_fail "pages failed after stopping INS $victim"
kill -0 "$held" 2>/dev/null || sys_fail "held connection's client died"
[ "$(nf get is-open --socket "$id")" = 1 ] || sys_fail "held connection closed by stopping another INS"
sys_ok "ins stop $victim: 3 INS, service intact, the held connection (INS $hold_ins) untouched"
victim=$(ins_rows | awk -v h="$hold_ins" '$1 != h {print $1}' | head -1)
out=$(nf ins respawn "$victim") || sys_fail "ins respawn $victim: $out"
newid=$(echo "$out" | awk '{print $NF}')
ins_rows | awk '{print $1}' | grep -qx "$newid" || sys_fail "respawned INS $newid not listed"
wait_replicas 3 || sys_fail "respawned INS did not get the listener back"
[ "$(fails 20)" -eq 0 ] || sys_fail "pages failed after respawn"
sys_ok "ins respawn $victim -> INS $newid, listener back on it, service intact"
sleep 0.3
n=$(ss -ltmn "sport = :$P" | grep -c 'rb200000' || true)
[ "$n" -eq 3 ] || { ss -ltmn "sport = :$P" >&2; sys_fail "rcvbuf written over NetFlow on the listener: $n of 3 replicas after respawn"; }
sys_ok "the listener's NetFlow-written rcvbuf was recorded: the respawned INS's replica has it too"

# 6. supervisor: a killed INS is replaced and gets the listener again
pid=$(sys_status | jq --argjson h "$hold_ins" '.ins[] | select(.id != $h) | .pid' | head -1)
kill -9 "$pid"
for _ in $(seq 50); do
  sys_status | jq -e --argjson p "$pid" '[.ins[] | select(.pid == $p)] | length == 0' >/dev/null && break
  sleep 0.1
done
wait_replicas 3 || sys_fail "replacement INS did not get the listener"
[ "$(fails 20)" -eq 0 ] || sys_fail "pages failed after an INS was killed"
grep -q "replaces the dead instance" "$T/mwcomms.log" || sys_fail "no log line for the replacement"
sys_ok "killed INS (pid $pid) replaced, joined with a replica of the listener"
kill "$held" 2>/dev/null || true

#!/usr/bin/env bash
# NetFlow interface black-box (issue 4): a protected netcat session is observed through the stream
# (create/bind/accept/recv/send with the right byte totals), listed by `mwnf sockets` and closed
# through a feature request (`mwnf close`); then a protected HTTP server is loaded with 4 NetFlow
# clients attached, one of them never reading: the others get every record without a gap and the
# server's throughput stays within reach of a run without NetFlow clients.
SYS_NAME=40-netflow
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need nc python3 curl ab jq ss
[ -x "$B/mwnf" ] || make -s -C "$MW_ROOT/native" build/mwnf >&2 || sys_fail "building mwnf failed"
sys_mwcomms --ins 2
NF=""
for _ in $(seq 50); do
  NF=$(sed -n 's/.*netflow: listening on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' "$T/mwcomms.log" | head -n1)
  [ -n "$NF" ] && break; sleep 0.1
done
[ -n "$NF" ] || sys_fail "no NetFlow port in the mwcomms log"
A="127.0.0.1:$NF"
mwnf() { "$B/mwnf" --connect "$A" "$@"; }
shim() { env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@"; }

# ---- 1. netcat session observed, then closed by a feature request
setsid "$B/mwnf" --connect "$A" watch > "$T/watch1.txt" 2>&1 < /dev/null &
SYS_PIDS+=($!)
sleep 0.3
P=$(sys_free_port)
head -c 2000 /dev/urandom > "$T/s2c"
head -c 3000 /dev/urandom > "$T/c2s"
# the server sends 2000 bytes and keeps its side open; the client sends 3000 and keeps its side open
setsid bash -c "(cat '$T/s2c'; sleep 60) | env LD_PRELOAD='$B/libmwshim.so' MW_RENDEZVOUS='$T/mw.sock' nc -l 127.0.0.1 $P > '$T/srv.got'" < /dev/null > /dev/null 2>&1 &
SYS_PIDS+=($!)
for _ in $(seq 50); do [ "$(sys_listener_count)" -ge 1 ] && break; sleep 0.1; done
setsid bash -c "(cat '$T/c2s'; sleep 60) | nc 127.0.0.1 $P > '$T/cli.got'" < /dev/null > /dev/null 2>&1 &
SYS_PIDS+=($!)
for _ in $(seq 100); do
  [ "$(stat -c %s "$T/srv.got" 2>/dev/null || echo 0)" -ge 3000 ] &&
    [ "$(stat -c %s "$T/cli.got" 2>/dev/null || echo 0)" -ge 2000 ] && break
  sleep 0.1
done
cmp -s "$T/srv.got" "$T/c2s" || sys_fail "protected nc -l did not receive the client's 3000 bytes"
cmp -s "$T/cli.got" "$T/s2c" || sys_fail "the client did not receive the protected server's 2000 bytes"
cport=$(ss -Htn state established "( dport = :$P )" | awk '{print $3}' | sed 's/.*://' | head -n1)
[ -n "$cport" ] || sys_fail "no established client connection to port $P"
# the stream: listener created, bound, accepted the client; the accepted socket's totals
sleep 0.5
grep -q " create " "$T/watch1.txt" || sys_fail "no create record: $(cat "$T/watch1.txt")"
grep -Eq " bind +sock=[0-9]+ +127\.0\.0\.1:$P " "$T/watch1.txt" || sys_fail "no bind record for port $P"
acc=$(grep -E " accept +sock=[0-9]+ +127\.0\.0\.1:$P -> 127\.0\.0\.1:$cport " "$T/watch1.txt" | head -n1)
[ -n "$acc" ] || sys_fail "no accept record with the client's address 127.0.0.1:$cport: $(cat "$T/watch1.txt")"
sid=$(sed -n 's/.* new=\([0-9]*\).*/\1/p' <<< "$acc")
[ -n "$sid" ] || sys_fail "accept record without the new socket id: $acc"
grep -Eq " recv +sock=$sid .* in=3000 " "$T/watch1.txt" || sys_fail "no recv record of socket $sid reaching in=3000"
grep -Eq " send +sock=$sid .* out=2000" "$T/watch1.txt" || sys_fail "no send record of socket $sid reaching out=2000"
sys_ok "stream: create, bind 127.0.0.1:$P, accept from 127.0.0.1:$cport (new socket $sid), recv in=3000, send out=2000"
mwnf sockets > "$T/sockets.txt" || sys_fail "mwnf sockets failed: $(cat "$T/sockets.txt")"
grep -Eq "^$sid +.*127\.0\.0\.1:$cport" "$T/sockets.txt" || sys_fail "socket $sid not listed: $(cat "$T/sockets.txt")"
mwnf get rcvbuf --socket "$sid" > "$T/rcvbuf.txt" || sys_fail "get rcvbuf failed: $(cat "$T/rcvbuf.txt")"
grep -Eq '^[0-9]+$' "$T/rcvbuf.txt" && [ "$(cat "$T/rcvbuf.txt")" -gt 0 ] || sys_fail "rcvbuf answer: $(cat "$T/rcvbuf.txt")"
sys_ok "mwnf sockets lists socket $sid; get rcvbuf --socket $sid = $(cat "$T/rcvbuf.txt")"
mwnf close "$sid" > "$T/close.txt" 2>&1 || sys_fail "mwnf close $sid failed: $(cat "$T/close.txt")"
gone=""
for _ in $(seq 100); do
  [ -z "$(ss -Htn state established "( dport = :$P )")" ] && { gone=1; break; }
  sleep 0.1
done
[ -n "$gone" ] || sys_fail "the peer still has an established connection after mwnf close $sid"
for _ in $(seq 50); do grep -Eq " close +sock=$sid " "$T/watch1.txt" && break; sleep 0.1; done
grep -Eq " close +sock=$sid " "$T/watch1.txt" || sys_fail "no close record for socket $sid"
rc=0; mwnf get rcvbuf --socket "$sid" > "$T/gone.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q EBADF "$T/gone.txt" || sys_fail "a closed socket should answer EBADF (exit 1), got $rc: $(cat "$T/gone.txt")"
sys_ok "mwnf close $sid: the peer's connection ended, a close record followed, the socket now answers EBADF"
for p in "${SYS_PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
SYS_PIDS=()
sys_settle_sockets 0 || sys_fail "sockets left after the netcat part: $(sys_status)"

# ---- garbage: unknown signature -> EPROTO and a disconnect; truncated request; mwcomms keeps serving
python3 - "$NF" <<'PY' || sys_fail "garbage client check failed"
import socket, struct, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
# skip info records (116 bytes) that may precede the answer
i = 0
while i + 2 <= len(data) and struct.unpack(">H", data[i:i+2])[0] == 0xd310:
    i += 116
sig, rid, status = struct.unpack(">HII", data[i:i+10])
assert sig == 0xd32f and status == 71, (hex(sig), status)   # EPROTO, then EOF
t = socket.create_connection(("127.0.0.1", port), timeout=5)
t.sendall(struct.pack(">HIHH", 0xd320, 5, 0, 0x2001)[:9])  # a truncated request, then hang up
t.close()
PY
mwnf ins list > "$T/ins.txt" || sys_fail "mwcomms stopped answering after garbage: $(cat "$T/ins.txt")"
grep -q "^2 INS" "$T/ins.txt" || sys_fail "ins list: $(cat "$T/ins.txt")"
sys_ok "garbage got EPROTO and a disconnect, a truncated request was dropped; mwcomms still answers (ins list: 2 INS)"

# ---- 2. HTTP server under load, 4 NetFlow clients, one never reading
P=$(sys_free_port)
mkdir -p "$T/www"; echo "netflow load test" > "$T/www/index.html"
sys_bg python python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$P"
sys_wait_http "http://127.0.0.1:$P/" 20 || sys_fail "http.server did not answer"
N=${MW_NETFLOW_TEST_REQUESTS:-1500}
rps() { ab -q -n "$N" -c 8 "http://127.0.0.1:$P/index.html" > "$T/ab.txt" 2>&1 || { cat "$T/ab.txt" >&2; sys_fail "ab failed"; }
        [ "$(awk '/^Failed requests:/ {print $3}' "$T/ab.txt")" = 0 ] || sys_fail "ab reported failed requests"
        awk '/^Requests per second:/ {print $4}' "$T/ab.txt"; }
rps > /dev/null   # warm-up, so that the first measured run is not the slower one by construction
base=$(rps)
for i in 1 2 3; do
  setsid "$B/mwnf" --connect "$A" watch > "$T/w$i.txt" 2> "$T/w$i.err" < /dev/null &
  SYS_PIDS+=($!)
done
# the stuck client: connects, never reads a byte
setsid python3 -c "import socket,time; s=socket.create_connection(('127.0.0.1',$NF)); time.sleep(120)" < /dev/null > /dev/null 2>&1 &
SYS_PIDS+=($!)
sleep 0.5
with=$(rps)
sleep 1
for i in 1 2 3; do
  grep -q "!! gap" "$T/w$i.txt" && sys_fail "watcher $i saw a gap while keeping up: $(grep '!! gap' "$T/w$i.txt" | head -n1)"
  n=$(grep -c " accept " "$T/w$i.txt" || true)
  [ "$n" -ge "$N" ] || sys_fail "watcher $i saw $n accept records for $N requests"
done
ratio=$(awk -v a="$with" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
echo "  http.server: $base req/s without NetFlow clients, $with req/s with 4 (one stuck): ratio $ratio"
awk -v r="$ratio" 'BEGIN { exit !(r >= 0.6) }' || sys_fail "throughput fell to $ratio of the run without NetFlow clients"
sys_ok "$N requests with 4 NetFlow clients (1 never reading): 3 watchers got every accept, no gaps; throughput ratio $ratio"

#!/usr/bin/env bash
# NetFlow by-socket requests on connections the INS accepted but the protected program has not
# accept()ed yet (a server that is not accepting: the program's accept queue fills, the INS holds
# the next connection). Socket ids come from the telemetry (accept records' new socket id).
# Checks: `mwnf sockets` lists them; rcvtimeo set/get and close (is-open := 0) answer in < 200 ms;
# a closed connection's client sees EOF/reset at once; the program never gets the held connection
# that was closed and gets a queued closed one already at EOF; the INS survives (no restart, no
# sanitizer report: the daemons run under ASan/UBSan unless MW_DAEMON_BUILD says otherwise).
set -euo pipefail
ROOT=${MW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ -z "${MW_DAEMON_BUILD:-}" ]; then
  make -s -C "$ROOT/native" -j2 asan >&2 || { echo "FAIL [41-netflow-bysock]: make asan" >&2; exit 1; }
  export MW_DAEMON_BUILD="$ROOT/native/build-asan"
fi
SYS_NAME=41-netflow-bysock
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need python3 jq
[ -x "$B/mwnf" ] || sys_fail "mwnf client not built (make -C native)"
sys_mwcomms ${MW_BYSOCK_MWCOMMS_ARGS:-}   # e.g. "--isolation netns --ins 2" (root)
NF=$(sys_status | jq -r .netflow)
nf() { "$B/mwnf" --connect "$NF" "$@"; }
# NetFlow requests on one connection, each timed from send to its response (the time the data
# plane takes, not a client's start-up): nfreq.py HOST:PORT REQ... with REQ one of
#   set-rcvtimeo:ID:SEC  get-rcvtimeo:ID  close:ID  block:A.B.C.D  unblock:A.B.C.D
# prints "REQ errno ms [value]" per request.
cat > "$T/nfreq.py" <<'PY'
import socket, struct, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=float(__import__("os").environ.get("NFREQ_TIMEOUT", "5")))
def call(rid, flags, name, val=b"", ident=b""):
    global buf
    t0 = time.monotonic()
    s.sendall(struct.pack(">HIHH16s20s", 0xd320, rid, flags, name, val.ljust(16, b"\0"), ident.ljust(20, b"\0")))
    while True:
        # frames by signature: info records (and snapshots) 116 bytes, responses 26
        while len(buf) < 2 or len(buf) < {0xd310: 116, 0xd311: 116}.get(struct.unpack(">H", buf[:2])[0], 26):
            d = s.recv(65536)
            if not d: sys.exit("server closed the connection")
            buf += d
        sig = struct.unpack(">H", buf[:2])[0]
        if sig in (0xd310, 0xd311):
            buf = buf[116:]
            continue
        sig, got, status, val = struct.unpack(">HII16s", buf[:26]); buf = buf[26:]
        if sig == 0xd32f and got == rid:
            return status, (time.monotonic() - t0) * 1000, val
buf = b""
call(1000, 1, 0x0002)   # monitor-off: no info records on this connection
for rid, req in enumerate(sys.argv[2:], 1):
    kind, _, arg = req.partition(":")
    if kind in ("set-rcvtimeo", "get-rcvtimeo", "close"):
        sid, _, sec = arg.partition(":")
        ident = struct.pack(">q", int(sid))
        if kind == "close":
            st, ms, v = call(rid, 3, 0x0101, struct.pack(">I", 0), ident)
        elif kind == "set-rcvtimeo":
            st, ms, v = call(rid, 3, 0x010c, struct.pack(">QQ", int(sec), 0), ident)
        else:
            st, ms, v = call(rid, 2, 0x010c, b"", ident)
        out = struct.unpack(">Q", v[:8])[0]
    else:
        ident = struct.pack(">I", 4) + socket.inet_aton(arg)
        st, ms, v = call(rid, 1, 0x1103, struct.pack(">I", 1 if kind == "block" else 0), ident)
        out = ""
    print(req, st, "%.2f" % ms, out, flush=True)
PY
# nf_timed REQ...: run them, fail on any error or any response slower than 200 ms
nf_timed() {
  python3 "$T/nfreq.py" "$NF" "$@" > "$T/nf.out" 2>&1 || { cat "$T/nf.out" >&2; sys_fail "NetFlow requests $*"; }
  awk '$2 != 0 { print "errno " $2 " for " $1; bad = 1 } $3 >= 200 { print $1 " took " $3 " ms"; bad = 1 }
       END { exit bad }' "$T/nf.out" >&2 || { cat "$T/nf.out" >&2; sys_fail "NetFlow requests failed or were slow"; }
  awk '{ printf "%s%s %s ms", sep, $1, $3; sep = ", " }' "$T/nf.out"
}
INS_PID=$(sys_status | jq '.ins[0].pid')
P=$(sys_free_port)
N=${MW_BYSOCK_CONNS:-400}

# A server that does not accept until $T/go exists, then accepts everything it is given.
cat > "$T/srv.py" <<'PY'
import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(4096)
print("listening", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
s.settimeout(2)
try:
    while True:
        c, a = s.accept()
        c.settimeout(0.05)
        try:
            d = c.recv(16)
            r = "eof" if d == b"" else "data"
        except socket.timeout:
            r = "open"
        except OSError:
            r = "reset"
        print("conn", a[1], r, flush=True)
        c.close()
except socket.timeout:
    print("done", flush=True)
PY
sys_bg srv python3 "$T/srv.py" "$P" "$T/go"
for _ in $(seq 100); do grep -q listening "$T/srv.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$T/srv.out" || sys_fail "server did not start"
nf watch > "$T/watch.txt" 2>&1 &
SYS_PIDS+=($!)
# Clients: N connections that send nothing; report each one the server side closes.
python3 - "$P" "$N" > "$T/cli.out" 2>&1 <<'PY' &
import select, socket, sys, time
cs = {}
for i in range(int(sys.argv[2])):
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
        cs[c] = c.getsockname()[1]
    except OSError as e:
        print("connect-failed", e, flush=True)
print("opened", len(cs), flush=True)
end = time.time() + 60
while cs and time.time() < end:
    r, _, _ = select.select(list(cs), [], [], 0.2)
    for c in r:
        try:
            d = c.recv(16)
            how = "eof" if d == b"" else None
        except OSError:
            how = "reset"
        if how:
            print("closed", cs.pop(c), how, flush=True)
            c.close()
PY
SYS_PIDS+=($!)
for _ in $(seq 300); do grep -q opened "$T/cli.out" 2>/dev/null && break; sleep 0.1; done
grep -q "opened $N" "$T/cli.out" || sys_fail "clients: $(head -3 "$T/cli.out")"
sleep 1
# accept records: "... accept sock=L LOCAL -> PEER ... new=ID"; the first one waits in the program's
# queue, the last one is the connection the INS holds until the queue has room
acc=$(grep ' accept ' "$T/watch.txt" || true)
nacc=$(echo "$acc" | grep -c new= || true)
[ "$nacc" -ge 10 ] || sys_fail "only $nacc accept records in the telemetry"
[ "$nacc" -lt "$N" ] || sys_fail "the program's queue took all $N connections; raise MW_BYSOCK_CONNS"
first=$(echo "$acc" | head -1 | grep -o 'new=[0-9]*' | cut -d= -f2)
second=$(echo "$acc" | sed -n 2p | grep -o 'new=[0-9]*' | cut -d= -f2)
held=$(echo "$acc" | tail -1 | grep -o 'new=[0-9]*' | cut -d= -f2)
port_of() { echo "$acc" | grep "new=$1\$" | sed 's/.*-> [0-9.]*:\([0-9]*\) .*/\1/'; }
pfirst=$(port_of "$first"); pheld=$(port_of "$held")
nf sockets > "$T/socks.txt"
for id in $first $second $held; do
  grep -q "^$id " "$T/socks.txt" || { tail -3 "$T/socks.txt" >&2; sys_fail "socket $id (from the telemetry) not listed by mwnf sockets"; }
done
sys_ok "$nacc of $N connections accepted by the INS (program not accepting), queued ($first) and held ($held) ones listed"

r=$(nf_timed "set-rcvtimeo:$second:5" "get-rcvtimeo:$second")
v=$(awk 'NR == 2 { print $4 }' "$T/nf.out")
[ "$v" = 5 ] || sys_fail "rcvtimeo read back $v s, want 5"
sys_ok "queued socket $second: $r (read back $v s)"

r=$(nf_timed "close:$first" "close:$held" "block:127.0.0.99" "unblock:127.0.0.99")
sys_ok "queued $first and held $held closed, address block behind them: $r"
for p in $pfirst $pheld; do
  for _ in $(seq 50); do grep -q "^closed $p " "$T/cli.out" && break; sleep 0.1; done
  grep -q "^closed $p " "$T/cli.out" || sys_fail "client port $p: TCP connection not closed"
done
sys_ok "both clients saw their connection end ($(grep -E "^closed ($pfirst|$pheld) " "$T/cli.out" | tr '\n' ' '))"

touch "$T/go"
for _ in $(seq 300); do grep -q '^done' "$T/srv.out" && break; sleep 0.1; done
grep -q '^done' "$T/srv.out" || sys_fail "server did not drain its queue"
if grep -q "^conn $pheld " "$T/srv.out"; then sys_fail "the program got the closed held connection: $(grep "^conn $pheld " "$T/srv.out")"; fi
r=$(grep "^conn $pfirst " "$T/srv.out" | awk '{print $3}')
case "$r" in eof|reset) ;; *) sys_fail "the closed queued connection reached the program as '$r' (want eof)" ;; esac
got=$(grep -c '^conn ' "$T/srv.out" || true)
[ "$got" -ge $((N - 2)) ] || sys_fail "the program accepted only $got of $((N - 2)) remaining connections"
st=$(sys_status)
[ "$(echo "$st" | jq '.ins[0].pid')" = "$INS_PID" ] || sys_fail "the INS was restarted: $(echo "$st" | jq -c .ins)"
b=$(nf_timed "block:127.0.0.98" "unblock:127.0.0.98")
sys_ok "program accepted $got connections, never the closed held one, the queued one at $r; INS alive (pid $INS_PID); $b"

#!/usr/bin/env bash
# The data plane behind the NetFlow interface: observations of a protected server's connections
# reach NetFlow clients (accept, recv, send, close with byte counts), and NetFlow feature requests
# act on the INS: close a socket (is-open := 0), socket options, address block / unblock,
# congestion control. Uses the mwnf client (native/tools/mwnf).
SYS_NAME=39-netflow-dataplane
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need python3 curl jq
[ -x "$B/mwnf" ] || sys_fail "mwnf client not built (make -C native)"
sys_mwcomms
NF=$(sys_status | jq -r .netflow)
[ "$NF" != null ] || sys_fail "mwcomms has no NetFlow server"
nf() { "$B/mwnf" --connect "$NF" "$@"; }
P=$(sys_free_port)
mkdir -p "$T/www"; echo "netflow page" > "$T/www/index.html"
sys_bg py python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$P"
sys_wait_http "http://127.0.0.1:$P/" 20 || sys_fail "server did not start"

# 1. observations of one request
nf watch --count 6 > "$T/watch.txt" 2>&1 & w=$!
sleep 0.5
curl -sS -o /dev/null "http://127.0.0.1:$P/index.html" || sys_fail "curl"
for _ in $(seq 50); do kill -0 "$w" 2>/dev/null || break; sleep 0.1; done
kill "$w" 2>/dev/null || true
for o in accept recv send close; do
  grep -q " $o " "$T/watch.txt" || { cat "$T/watch.txt" >&2; sys_fail "no '$o' observation on the NetFlow stream"; }
done
sys_ok "NetFlow stream carries accept, recv, send and close of a protected connection"

# 2. close a held connection by socket id
python3 - "$P" > "$T/held.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(s.getsockname()[1], flush=True)
s.settimeout(15)
t0 = time.time()
try:
    d = s.recv(100)
    print("eof" if d == b"" else "data")
except ConnectionResetError:
    print("reset")
except socket.timeout:
    print("hang")
PY
held=$!
for _ in $(seq 100); do [ -s "$T/held.out" ] && [ "$(sys_status | jq '.ins[0].connections')" -ge 1 ] && break; sleep 0.1; done
cport=$(head -1 "$T/held.out")
# the accepted connection: local port $P, remote = the client's port (the listener's row also
# shows its last accept, so match the remote port, and take the newest id)
id=""
for _ in $(seq 50); do
  id=$(nf sockets | awk -v p=":$P" -v c=":$cport" '$3 ~ p"$" && $4 ~ c"$" {print $1}' | sort -n | tail -1)
  [ -n "$id" ] && break; sleep 0.1
done
[ -n "$id" ] || { nf sockets >&2; sys_fail "held connection not listed by NetFlow"; }
nf set rcvbuf 131072 --socket "$id" >/dev/null || sys_fail "set rcvbuf on socket $id"
v=$(nf get rcvbuf --socket "$id")
echo "$v" | grep -q "26214[0-9]\|131072" || sys_fail "get rcvbuf returned '$v'"
nf close "$id" >/dev/null || sys_fail "close socket $id"
wait "$held" || true
res=$(tail -1 "$T/held.out")
case "$res" in eof|reset) ;; *) sys_fail "closed connection saw '$res'" ;; esac
sys_wait_http "http://127.0.0.1:$P/index.html" 5 || sys_fail "the listener suffered from closing one connection"
sys_ok "feature requests: rcvbuf set/get on socket $id, is-open:=0 closed it (client saw $res), listener unaffected"

# 3. address block and unblock
nf block 127.0.0.1 >/dev/null || sys_fail "block"
if curl -s -m 3 -o /dev/null "http://127.0.0.1:$P/index.html"; then sys_fail "blocked address still served"; fi
nf unblock 127.0.0.1 >/dev/null || sys_fail "unblock"
sys_wait_http "http://127.0.0.1:$P/index.html" 5 || sys_fail "unblocked address not served"
sys_ok "address block refuses new connections from 127.0.0.1; unblock restores service"

# 4. INS-wide congestion control
nf set congctl reno >/dev/null || sys_fail "congctl reno"
[ "$(curl -sS "http://127.0.0.1:$P/index.html")" = "netflow page" ] || sys_fail "service after congctl change"
nf set congctl cubic >/dev/null || sys_fail "congctl cubic"
sys_ok "congestion control switched reno -> cubic on the INS, service unaffected"

#!/usr/bin/env bash
# Faults: the INS is killed (mwcomms notices at once, connections see EOF instead of hanging, a new
# INS takes over the listeners, new connections work); the protected program is killed (every socket
# it held is closed in the INS, descriptors back to baseline); hostile control messages (error
# replies, nothing crashes).
SYS_NAME=36-faults
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need python3 curl jq nc
sys_mwcomms
ins_pid=$(sys_status | jq -r '.ins[0].pid')
base_fds=$(ls /proc/"$ins_pid"/fd | wc -l)
P=$(sys_free_port)
mkdir -p "$T/www"; echo "page" > "$T/www/index.html"
sys_bg py python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$P"
sys_wait_http "http://127.0.0.1:$P/" 20 || sys_fail "server did not start"

# a connection held open by a plain client (the server waits for its request)
python3 - "$P" > "$T/held.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(10)
t0 = time.time()
try:
    d = s.recv(100)
    print("eof" if d == b"" else "data", round(time.time() - t0, 2))
except ConnectionResetError:
    print("reset", round(time.time() - t0, 2))
except socket.timeout:
    print("hang")
PY
held=$!
for _ in $(seq 100); do [ "$(sys_status | jq '.ins[0].connections')" -ge 1 ] && break; sleep 0.05; done
[ "$(sys_status | jq '.ins[0].connections')" -ge 1 ] || sys_fail "held connection not in the table: $(sys_status)"

# 1. kill the INS
t0=$(date +%s.%N)
kill -KILL "$ins_pid"
for _ in $(seq 50); do
  np=$(sys_status | jq -r '.ins[0].pid')
  [ "$np" != "$ins_pid" ] && [ "$(sys_status | jq -r '.ins[0].alive')" = true ] && break
  sleep 0.05
done
[ "$np" != "$ins_pid" ] || sys_fail "mwcomms did not start a new INS"
dt=$(echo "$(date +%s.%N) - $t0" | bc)
wait "$held" || true
res=$(cat "$T/held.out")
case "$res" in eof*|reset*) ;; *) sys_fail "held connection after INS death: '$res' (expected EOF or reset)" ;; esac
sys_ok "INS killed: new INS (pid $np) within ${dt}s; the held connection saw '${res% *}' after ${res#* }s"
[ "$(sys_status | jq '.ins[0].restarts')" = 1 ] || sys_fail "restart count: $(sys_status)"
[ "$(sys_listener_count)" = 1 ] || sys_fail "listener not restored: $(sys_status)"
sys_wait_http "http://127.0.0.1:$P/index.html" 5 || sys_fail "new connections fail after the INS restart"
[ "$(curl -sS "http://127.0.0.1:$P/index.html")" = page ] || sys_fail "wrong page after restart"
sys_ok "listener restored on the new INS; the unchanged server answers new connections on port $P"
kill -0 "${SYS_PIDS[0]}" || sys_fail "the protected program died with the INS"

# 2. kill the protected program: its sockets close in the INS, descriptors back to baseline
ins_pid=$np
base_fds=$(ls /proc/"$ins_pid"/fd | wc -l)
conns=()
for i in 1 2 3; do (exec 3<>"/dev/tcp/127.0.0.1/$P"; sleep 3) & conns+=($!); done
sleep 0.5
[ "$(sys_status | jq '.sockets')" -ge 2 ] || sys_fail "expected open sockets before the kill: $(sys_status)"
kill -KILL -- "-${SYS_PIDS[0]}"
sys_settle_sockets 0 || sys_fail "sockets left after the program was killed: $(sys_status)"
for _ in $(seq 50); do f=$(ls /proc/"$ins_pid"/fd | wc -l); [ "$f" -le "$((base_fds - 2))" ] && break; sleep 0.1; done
# baseline was taken with the listener open (2 fds: TCP listener + seqpacket end)
[ "$f" -le "$((base_fds - 2))" ] || sys_fail "INS holds $f descriptors, expected <= $((base_fds - 2))"
wait "${conns[@]}" 2>/dev/null || true
sys_ok "program killed: socket table empty, INS descriptors back to baseline ($f)"

# 3. hostile control messages
"$B/tests/t_malformed" "$T/mw.sock" > "$T/malformed.out" 2>&1 || { cat "$T/malformed.out" >&2; sys_fail "malformed-message test"; }
kill -0 "$SYS_MWC" || sys_fail "mwcomms died"
[ "$(sys_status | jq -r '.ins[0].pid')" = "$ins_pid" ] || sys_fail "the INS restarted during the hostile messages"
sys_ok "hostile control messages: error replies, mwcomms and the INS still running ($(sys_status | jq .malformed) rejected)"

# 4. mwcomms restarts: the INS dies with it, the program does not crash; its listener is re-created
#    with the new mwcomms (on its next accept) and serves the same port again.
P2=$(sys_free_port)
sys_bg py2 python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$P2"
sys_wait_http "http://127.0.0.1:$P2/" 20 || sys_fail "second server did not start"
py2=${SYS_PIDS[-1]}
kill -TERM "$SYS_MWC"
for _ in $(seq 100); do kill -0 "$SYS_MWC" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SYS_MWC" 2>/dev/null && sys_fail "mwcomms did not stop"
curl -s -m 2 -o /dev/null "http://127.0.0.1:$P2/" && sys_fail "the port still answered with mwcomms down"
"$B/mwcomms" --rendezvous "$T/mw.sock" --netflow 127.0.0.1:0 >>"$T/mwcomms.log" 2>&1 &
SYS_MWC=$!
"$B/mwctl" --rendezvous "$T/mw.sock" wait 10 >/dev/null || sys_fail "mwcomms did not restart"
sys_wait_http "http://127.0.0.1:$P2/index.html" 15 || { cat "$T/py2.out" >&2; sys_fail "the program's listener did not come back after the mwcomms restart"; }
[ "$(curl -sS "http://127.0.0.1:$P2/index.html")" = page ] || sys_fail "wrong page after the mwcomms restart"
kill -0 "$py2" || sys_fail "the program died when mwcomms restarted"
grep -q "re-created with the restarted mwcomms" "$T/py2.out" || sys_fail "no re-creation message from the shim"
sys_ok "mwcomms restarted: program still running, its listener re-created on port $P2 and serving"

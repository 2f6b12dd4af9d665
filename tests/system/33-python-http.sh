#!/usr/bin/env bash
# python3 -m http.server (ThreadingHTTPServer: a thread per request, the shim's channel shared by
# threads) under the shim, served to plain curl and loaded with ab.
SYS_NAME=33-python-http
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need python3 curl ab jq
sys_mwcomms
P=$(sys_free_port)
mkdir -p "$T/www"
echo "hello from python through the INS" > "$T/www/index.html"
head -c 2000000 /dev/urandom > "$T/www/big.bin"
sys_bg python python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$P"
sys_wait_http "http://127.0.0.1:$P/" 20 || { cat "$T/python.out" >&2; sys_fail "http.server did not answer"; }
[ "$(sys_listener_count)" = 1 ] || sys_fail "expected the server's listener in mwcomms: $(sys_status)"
[ "$(curl -sS "http://127.0.0.1:$P/index.html")" = "hello from python through the INS" ] || sys_fail "wrong body"
curl -sS -o "$T/big.got" "http://127.0.0.1:$P/big.bin" || sys_fail "big download"
cmp -s "$T/big.got" "$T/www/big.bin" || sys_fail "2 MB download differs"
grep -q '^127.0.0.1 - -' "$T/python.out" || sys_fail "the server's log lacks the client's IP address"
sys_ok "http.server on 127.0.0.1:$P: page, 2 MB byte-exact, client IP logged"
# parallel clients exercise the threaded server (several threads use the control channel)
pids=()
for i in $(seq 8); do curl -sS -o "$T/par$i" "http://127.0.0.1:$P/big.bin" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || sys_fail "a parallel download failed"; done
for i in $(seq 8); do cmp -s "$T/par$i" "$T/www/big.bin" || sys_fail "parallel download $i differs"; done
ab -q -n 300 -c 8 "http://127.0.0.1:$P/index.html" > "$T/ab.txt" 2>&1 || { cat "$T/ab.txt" >&2; sys_fail "ab failed"; }
[ "$(awk '/^Failed requests:/ {print $3}' "$T/ab.txt")" = 0 ] || sys_fail "ab reported failed requests"
sys_ok "8 parallel 2 MB downloads byte-exact; ab 300 requests at concurrency 8, 0 failed"
kill -TERM -- "-${SYS_PIDS[0]}"
sys_settle_sockets 0 || sys_fail "sockets left after the server stopped: $(sys_status)"
sys_ok "server stopped; socket table empty"

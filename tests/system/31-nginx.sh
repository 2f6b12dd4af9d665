#!/usr/bin/env bash
# nginx (Debian package) under the shim with a default-like config in a temporary prefix: epoll,
# IPv4 and IPv6 listeners, sendfile on, 4 workers (master + worker processes, fork). Checked with
# curl (small and large files, both families, keep-alive), ab and wrk; then nginx stops and every
# socket it held is gone from the INS.
SYS_NAME=31-nginx
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need nginx curl ab wrk jq python3

sys_mwcomms
P=$(sys_free_port)
mkdir -p "$T/html" "$T/logs" "$T/tmp"
echo "hello from nginx through the INS" > "$T/html/index.html"
head -c 5000000 /dev/urandom > "$T/html/big.bin"
cat > "$T/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 4;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
events { worker_connections 1024; use epoll; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    access_log $T/logs/access.log;
    client_body_temp_path $T/tmp/body;
    proxy_temp_path $T/tmp/proxy;
    fastcgi_temp_path $T/tmp/fastcgi;
    uwsgi_temp_path $T/tmp/uwsgi;
    scgi_temp_path $T/tmp/scgi;
    server {
        listen 127.0.0.1:$P;
        listen [::1]:$P;
        root $T/html;
    }
}
CONF
[ "$(id -u)" = 0 ] && sed -i "1i user root;" "$T/nginx.conf"
sys_bg nginx nginx -p "$T" -c "$T/nginx.conf"
sys_wait_http "http://127.0.0.1:$P/" 15 || { cat "$T/nginx.out" "$T/logs/error.log" >&2; sys_fail "nginx did not answer"; }
[ "$(sys_listener_count)" = 2 ] || sys_fail "expected nginx's 2 listeners in mwcomms, got $(sys_status)"
sys_ok "nginx up on 127.0.0.1:$P and [::1]:$P, both listeners carried by the INS"

body=$(curl -sS "http://127.0.0.1:$P/index.html") || sys_fail "curl IPv4"
[ "$body" = "hello from nginx through the INS" ] || sys_fail "unexpected body '$body'"
body=$(curl -sS "http://[::1]:$P/index.html") || sys_fail "curl IPv6"
[ "$body" = "hello from nginx through the INS" ] || sys_fail "unexpected IPv6 body '$body'"
curl -sS -o "$T/big.got" "http://127.0.0.1:$P/big.bin" || sys_fail "curl big file"
cmp -s "$T/big.got" "$T/html/big.bin" || sys_fail "5 MB sendfile download differs"
# keep-alive: several requests on one connection
n=$(curl -sS -w '%{num_connects}\n' -o /dev/null -o /dev/null -o /dev/null \
      "http://127.0.0.1:$P/index.html" "http://127.0.0.1:$P/index.html" "http://127.0.0.1:$P/index.html" | paste -sd+ | bc)
[ "$n" = 1 ] || sys_fail "keep-alive: expected 1 connection for 3 requests, got $n"
# the access log shows the client's real address (the INS passed the IP peer through)
grep -q '^127.0.0.1 ' "$T/logs/access.log" || sys_fail "access log lacks the IPv4 peer address"
grep -q '^::1 ' "$T/logs/access.log" || sys_fail "access log lacks the IPv6 peer address"
sys_ok "curl: IPv4, IPv6, 5 MB sendfile byte-exact, keep-alive, real peer addresses in the log"

ab -q -n 2000 -c 20 "http://127.0.0.1:$P/index.html" > "$T/ab.txt" 2>&1 || { cat "$T/ab.txt" >&2; sys_fail "ab failed"; }
failed=$(awk '/^Failed requests:/ {print $3}' "$T/ab.txt")
[ "$failed" = 0 ] || sys_fail "ab: $failed failed requests"
sys_ok "ab: 2000 requests, concurrency 20, 0 failed ($(awk '/^Requests per second/ {print $4}' "$T/ab.txt") req/s)"
wrk -t 2 -c 50 -d 3s "http://127.0.0.1:$P/index.html" > "$T/wrk.txt" 2>&1 || { cat "$T/wrk.txt" >&2; sys_fail "wrk failed"; }
grep -q "Socket errors" "$T/wrk.txt" && { cat "$T/wrk.txt" >&2; sys_fail "wrk saw socket errors"; }
reqs=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
[ "${reqs:-0}" -gt 500 ] || sys_fail "wrk: only ${reqs:-0} requests in 3s"
sys_ok "wrk: $reqs requests in 3s at 50 connections, no socket errors"

# Stop nginx: every socket it held is closed in the INS.
kill -QUIT "$(cat "$T/nginx.pid")"
for _ in $(seq 100); do [ -f "$T/nginx.pid" ] || break; kill -0 "$(cat "$T/nginx.pid" 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done
sys_settle_sockets 0 || sys_fail "sockets left in the INS after nginx stopped: $(sys_status)"
sys_ok "nginx stopped; socket table empty"

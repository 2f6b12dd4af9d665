#!/usr/bin/env bash
# nginx protected with isolation netns (root): nginx runs in a namespace with only loopback, the INS
# in its own namespace, and plain clients on the host reach nginx's IPv4 and IPv6 listeners
# through mwcomms's front ends (accepted on the host, handed to the INS). Load with ab and wrk.
SYS_NAME=38-nginx-netns
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need_netns
sys_need nginx curl ab wrk jq python3 unshare ip
sys_mwcomms --isolation netns
P=$(sys_free_port)
mkdir -p "$T/html" "$T/logs" "$T/tmp"
echo "hello from nginx in an empty namespace" > "$T/html/index.html"
head -c 2000000 /dev/urandom > "$T/html/big.bin"
cat > "$T/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
events { worker_connections 1024; use epoll; }
http {
    sendfile on; keepalive_timeout 65;
    access_log $T/logs/access.log;
    client_body_temp_path $T/tmp/b; proxy_temp_path $T/tmp/p; fastcgi_temp_path $T/tmp/f;
    uwsgi_temp_path $T/tmp/u; scgi_temp_path $T/tmp/s;
    server { listen 127.0.0.1:$P; listen [::1]:$P; root $T/html; }
}
CONF
setsid unshare --net -- sh -c 'ip link set lo up; exec "$@"' mw-protect env LD_PRELOAD="$B/libmwshim.so" \
  MW_RENDEZVOUS="$T/mw.sock" nginx -p "$T" -c "$T/nginx.conf" > "$T/nginx.out" 2>&1 < /dev/null &
SYS_PIDS+=($!)
sys_wait_http "http://127.0.0.1:$P/" 20 || { cat "$T/nginx.out" "$T/logs/error.log" >&2; sys_fail "nginx did not answer through the front end"; }
[ "$(sys_status | jq '[.listeners[] | select(.front_end)] | length')" = 2 ] || sys_fail "expected 2 front ends: $(sys_status)"
[ "$(curl -sS "http://127.0.0.1:$P/index.html")" = "hello from nginx in an empty namespace" ] || sys_fail "IPv4 page"
[ "$(curl -sS "http://[::1]:$P/index.html")" = "hello from nginx in an empty namespace" ] || sys_fail "IPv6 page"
curl -sS -o "$T/big.got" "http://127.0.0.1:$P/big.bin" && cmp -s "$T/big.got" "$T/html/big.bin" || sys_fail "2 MB download differs"
sys_ok "nginx in an empty namespace: IPv4 and IPv6 through the front ends, 2 MB byte-exact"
ab -q -n 1000 -c 10 "http://127.0.0.1:$P/index.html" > "$T/ab.txt" 2>&1 || sys_fail "ab failed"
[ "$(awk '/^Failed requests:/ {print $3}' "$T/ab.txt")" = 0 ] || sys_fail "ab: failed requests"
wrk -t 2 -c 20 -d 3s "http://127.0.0.1:$P/index.html" > "$T/wrk.txt" 2>&1 || sys_fail "wrk failed"
if grep -q "Socket errors" "$T/wrk.txt"; then cat "$T/wrk.txt" >&2; sys_fail "wrk socket errors"; fi
sys_ok "ab 1000 requests (0 failed), wrk $(awk '/requests in/ {print $1}' "$T/wrk.txt") requests without socket errors"
# a raw socket from nginx's namespace reaches nothing on the host
ns_pid=$(pgrep -f "nginx -p $T" | head -1)
[ -n "$ns_pid" ] || sys_fail "nginx master not found"
if nsenter -t "$ns_pid" -n curl -s -m 2 -o /dev/null "http://127.0.0.1:$P/" 2>/dev/null; then
  sys_fail "a plain connection from nginx's namespace reached the port (it must go nowhere)"
fi
sys_ok "a plain connection from nginx's namespace reaches nothing"

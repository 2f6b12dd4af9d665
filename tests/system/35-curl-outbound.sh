#!/usr/bin/env bash
# curl under the shim making outbound requests (non-blocking connect, happy eyeballs, keep-alive,
# IPv4/IPv6, refused port) to a plain python3 http.server.
SYS_NAME=35-curl-outbound
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need curl python3 jq
sys_mwcomms
P=$(sys_free_port)
mkdir -p "$T/www"
echo "plain server page" > "$T/www/index.html"
head -c 4000000 /dev/urandom > "$T/www/big.bin"
python3 -m http.server --bind :: --directory "$T/www" "$P" > "$T/plain.out" 2>&1 &
SYS_PIDS+=($!)
sys_wait_http "http://127.0.0.1:$P/" 20 || sys_fail "plain server did not start"
shim() { env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@"; }
"$B/mwctl" --rendezvous "$T/mw.sock" trace on >/dev/null
[ "$(shim curl -sS "http://127.0.0.1:$P/index.html")" = "plain server page" ] || sys_fail "IPv4 fetch"
[ "$(shim curl -sS "http://[::1]:$P/index.html")" = "plain server page" ] || sys_fail "IPv6 fetch"
[ "$(shim curl -sS "http://localhost:$P/index.html")" = "plain server page" ] || sys_fail "fetch by name (localhost)"
shim curl -sS -o "$T/big.got" "http://127.0.0.1:$P/big.bin" || sys_fail "big fetch"
cmp -s "$T/big.got" "$T/www/big.bin" || sys_fail "4 MB fetch differs"
# the connect really went through the hub (trace counts it)
n=$("$B/mwctl" --rendezvous "$T/mw.sock" trace show | jq '.ops.connect.count // 0')
[ "$n" -ge 4 ] || sys_fail "expected >= 4 connects in the trace, got $n"
# curl reports the local/peer IP it saw (getsockname/getpeername through the shim)
info=$(shim curl -sS -o /dev/null -w '%{remote_ip} %{remote_port} %{local_ip}' "http://127.0.0.1:$P/")
[ "$info" = "127.0.0.1 $P 127.0.0.1" ] || sys_fail "curl saw '$info'"
# refused
Q=$(sys_free_port)
shim curl -sS -m 5 "http://127.0.0.1:$Q/" >/dev/null 2>"$T/refused.err" && sys_fail "connect to a closed port succeeded"
grep -qi "refused\|couldn't connect" "$T/refused.err" || sys_fail "refused connect gave: $(cat "$T/refused.err")"
sys_ok "curl under the shim: IPv4, IPv6, localhost, 4 MB byte-exact, IP-level names, refused port; $n connects traced"
sys_settle_sockets 0 || sys_fail "sockets left: $(sys_status)"

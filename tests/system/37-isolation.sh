#!/usr/bin/env bash
# Isolation netns (root): mwcomms runs every INS in its own network namespace with a veth pair and
# its own address; the protected program runs in a namespace with only loopback.
#  - a connection that bypasses the shim (raw syscall(SYS_connect)) reaches nothing, while the same
#    program's shimmed sockets reach the target through the INS (t_isolation);
#  - a protected server is reached by plain clients through mwcomms's host-side front end on the
#    port it listens on (loopback);
#  - when mwcomms stops, its namespaces and veths are gone.
SYS_NAME=37-isolation
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need_netns
sys_need python3 curl jq ip unshare
sys_mwcomms --isolation netns
ns=$(sys_status | jq -r '.ins[0].netns')
ins_ip=$(sys_status | jq -r '.ins[0].address')
[ -n "$ns" ] && ip netns list | grep -q "^$ns " || sys_fail "INS namespace '$ns' not found"
host_ip=${ins_ip%.2}.1
veth=$(ip -o link | awk -F': ' -v ip="$host_ip" '{print $2}' | grep "^mwh" | while read -r l; do l=${l%%@*}; ip -o addr show dev "$l" | grep -q "$host_ip/" && echo "$l"; done | head -1)
[ -n "$veth" ] || sys_fail "no host-side veth with $host_ip"
[ "$(ip netns exec "$ns" readlink /proc/self/ns/net)" = "$(readlink /proc/"$(sys_status | jq -r '.ins[0].pid')"/ns/net)" ] ||
  sys_fail "the INS does not run in its namespace $ns"
sys_ok "INS in namespace $ns with address $ins_ip (host side $veth $host_ip)"

protect() { unshare --net -- sh -c 'ip link set lo up; exec "$@"' mw-protect env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@"; }

# a plain server on the host, reachable from the INS namespace through the veth
P=$(sys_free_port)
mkdir -p "$T/www"; echo "host page" > "$T/www/index.html"
python3 -m http.server --bind 0.0.0.0 --directory "$T/www" "$P" > "$T/host.out" 2>&1 &
SYS_PIDS+=($!)
sys_wait_http "http://127.0.0.1:$P/" 20 || sys_fail "host server did not start"
protect timeout 30 "$B/tests/t_isolation" "$host_ip" "$P" > "$T/iso.out" 2>&1 || { cat "$T/iso.out" >&2; sys_fail "t_isolation"; }
grep -q "raw connect to $host_ip:$P -> " "$T/iso.out" || sys_fail "t_isolation output unexpected"
sys_ok "raw connect bypassing the shim: '$(sed -n "s/.*raw connect to $host_ip:$P -> //p" "$T/iso.out")'; the shimmed connect got HTTP 200"
[ "$(protect curl -sS -m 5 "http://$host_ip:$P/index.html")" = "host page" ] || sys_fail "curl under the shim in the protected namespace"
sys_ok "curl in the protected namespace fetches through the INS"

# a protected server behind the front end
Q=$(sys_free_port)
(setsid unshare --net -- sh -c 'ip link set lo up; exec "$@"' mw-protect env LD_PRELOAD="$B/libmwshim.so" \
   MW_RENDEZVOUS="$T/mw.sock" python3 -m http.server --bind 127.0.0.1 --directory "$T/www" "$Q" > "$T/prot.out" 2>&1 < /dev/null) &
for _ in $(seq 100); do [ "$(sys_listener_count)" -ge 1 ] && break; sleep 0.1; done
SYS_PIDS+=($(pgrep -f "http.server --bind 127.0.0.1 --directory $T/www $Q" | head -1))
sys_wait_http "http://127.0.0.1:$Q/index.html" 20 || { cat "$T/prot.out" >&2; sys_fail "front end did not answer on 127.0.0.1:$Q"; }
[ "$(curl -sS "http://127.0.0.1:$Q/index.html")" = "host page" ] || sys_fail "wrong page through the front end"
[ "$(sys_status | jq '.listeners[0].front_end')" = true ] || sys_fail "listener without a front end: $(sys_status)"
sys_ok "protected server in its empty namespace answers plain curl through the front end on 127.0.0.1:$Q"

# stop mwcomms: namespaces and veths are deleted
kill -TERM "$SYS_MWC"
for _ in $(seq 100); do kill -0 "$SYS_MWC" 2>/dev/null || break; sleep 0.1; done
SYS_MWC=""
ip netns list | grep -q "^$ns " && sys_fail "namespace $ns left behind"
ip link show "$veth" >/dev/null 2>&1 && sys_fail "veth $veth left behind"
sys_ok "mwcomms stopped: namespace $ns and veth $veth removed"

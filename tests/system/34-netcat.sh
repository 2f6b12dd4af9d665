#!/usr/bin/env bash
# netcat-openbsd under the shim, as a server (nc -l) and as a client, against plain nc peers;
# data both ways, half-close (-N), IPv4 and IPv6.
SYS_NAME=34-netcat
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need nc jq python3 sha256sum
sys_mwcomms
head -c 1000000 /dev/urandom > "$T/data"
shim() { env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@"; }

# 1. shimmed server, plain client: 1 MB in, then the server answers after the client's EOF
for fam in 4 6; do
  P=$(sys_free_port); host=127.0.0.1; [ $fam = 6 ] && host=::1
  (shim timeout 20 nc -$fam -l "$host" "$P" > "$T/srv.got" < "$T/data") &
  spid=$!
  for _ in $(seq 50); do [ "$(sys_listener_count)" -ge 1 ] && break; sleep 0.1; done
  timeout 20 nc -$fam -N "$host" "$P" < "$T/data" > "$T/cli.got" || sys_fail "plain nc client (IPv$fam) failed"
  wait "$spid" || sys_fail "shimmed nc -l (IPv$fam) failed"
  cmp -s "$T/srv.got" "$T/data" || sys_fail "server received wrong bytes (IPv$fam)"
  cmp -s "$T/cli.got" "$T/data" || sys_fail "client received wrong bytes (IPv$fam)"
  sys_ok "shimmed nc -l on IPv$fam: 1 MB each way byte-exact"
done

# 2. plain server, shimmed client
P=$(sys_free_port)
(timeout 20 nc -l 127.0.0.1 "$P" > "$T/srv2.got" < "$T/data") &
spid=$!
for _ in $(seq 50); do ss -Hltn "sport = :$P" | grep -q . && break; sleep 0.1; done
shim timeout 20 nc -N 127.0.0.1 "$P" < "$T/data" > "$T/cli2.got" || sys_fail "shimmed nc client failed"
wait "$spid" || sys_fail "plain nc -l failed"
cmp -s "$T/srv2.got" "$T/data" || sys_fail "plain server received wrong bytes from the shimmed client"
cmp -s "$T/cli2.got" "$T/data" || sys_fail "shimmed client received wrong bytes"
sys_ok "shimmed nc client to a plain nc -l: 1 MB each way byte-exact"

# 3. both ends shimmed (two INS connections back to back)
P=$(sys_free_port)
(shim timeout 20 nc -l 127.0.0.1 "$P" > "$T/srv3.got" < /dev/null) &
spid=$!
for _ in $(seq 50); do [ "$(sys_listener_count)" -ge 1 ] && break; sleep 0.1; done
shim timeout 20 nc -N 127.0.0.1 "$P" < "$T/data" || sys_fail "shimmed client to shimmed server failed"
wait "$spid" || sys_fail "shimmed server (both ends shimmed) failed"
cmp -s "$T/srv3.got" "$T/data" || sys_fail "both-shimmed transfer differs"
sys_ok "shimmed client to shimmed server: 1 MB byte-exact"
sys_settle_sockets 0 || sys_fail "sockets left: $(sys_status)"
sys_ok "socket table empty"

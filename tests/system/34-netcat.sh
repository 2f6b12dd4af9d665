#!/usr/bin/env bash
# netcat-openbsd under the shim, as a server (nc -l) and as a client, against plain nc peers:
# 1 MB each way (one direction per connection: nc -l quits once its peer's input ends), half-close
# with -N, IPv4 and IPv6, and both ends shimmed.
SYS_NAME=34-netcat
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need nc jq python3 ss
sys_mwcomms
head -c 1000000 /dev/urandom > "$T/data"
shim() { env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@"; }
wait_shim_listener() { for _ in $(seq 50); do [ "$(sys_listener_count)" -ge 1 ] && return 0; sleep 0.1; done; return 1; }
wait_plain_listener() { for _ in $(seq 50); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.1; done; return 1; }

# 1. shimmed server, plain client, both directions, IPv4 and IPv6
for fam in 4 6; do
  host=127.0.0.1; [ $fam = 6 ] && host=::1
  P=$(sys_free_port)
  (shim timeout 20 nc -$fam -l "$host" "$P" > "$T/srv.got" < /dev/null) & spid=$!
  wait_shim_listener || sys_fail "shimmed nc -l did not listen"
  timeout 20 nc -$fam -N "$host" "$P" < "$T/data" > /dev/null || sys_fail "plain client (IPv$fam) failed"
  wait "$spid" || sys_fail "shimmed nc -l (IPv$fam, receiving) failed"
  cmp -s "$T/srv.got" "$T/data" || sys_fail "shimmed server received wrong bytes (IPv$fam)"
  sys_settle_sockets 0 || sys_fail "sockets left: $(sys_status)"
  P=$(sys_free_port)
  (shim timeout 20 nc -$fam -N -l "$host" "$P" < "$T/data") & spid=$!
  wait_shim_listener || sys_fail "shimmed nc -l did not listen"
  timeout 20 nc -$fam -d "$host" "$P" > "$T/cli.got" || sys_fail "plain client (IPv$fam, receiving) failed"
  wait "$spid" || sys_fail "shimmed nc -N -l (IPv$fam, sending) failed"
  cmp -s "$T/cli.got" "$T/data" || sys_fail "plain client received wrong bytes (IPv$fam)"
  sys_settle_sockets 0 || sys_fail "sockets left: $(sys_status)"
  sys_ok "shimmed nc -l on IPv$fam: 1 MB in, 1 MB out (shutdown -N), byte-exact"
done

# 2. plain server, shimmed client, both directions
P=$(sys_free_port)
(timeout 20 nc -l 127.0.0.1 "$P" > "$T/srv2.got" < /dev/null) & spid=$!
wait_plain_listener "$P" || sys_fail "plain nc -l did not listen"
shim timeout 20 nc -N 127.0.0.1 "$P" < "$T/data" > /dev/null || sys_fail "shimmed client (sending) failed"
wait "$spid" || sys_fail "plain nc -l failed"
cmp -s "$T/srv2.got" "$T/data" || sys_fail "plain server received wrong bytes from the shimmed client"
P=$(sys_free_port)
(timeout 20 nc -N -l 127.0.0.1 "$P" < "$T/data") & spid=$!
wait_plain_listener "$P" || sys_fail "plain nc -l did not listen"
shim timeout 20 nc -d 127.0.0.1 "$P" > "$T/cli2.got" || sys_fail "shimmed client (receiving) failed"
wait "$spid" || sys_fail "plain nc -N -l failed"
cmp -s "$T/cli2.got" "$T/data" || sys_fail "shimmed client received wrong bytes"
sys_ok "shimmed nc client with a plain nc -l: 1 MB each way byte-exact"

# 3. both ends shimmed
P=$(sys_free_port)
(shim timeout 20 nc -l 127.0.0.1 "$P" > "$T/srv3.got" < /dev/null) & spid=$!
wait_shim_listener || sys_fail "shimmed nc -l did not listen"
shim timeout 20 nc -N 127.0.0.1 "$P" < "$T/data" > /dev/null || sys_fail "shimmed client to shimmed server failed"
wait "$spid" || sys_fail "shimmed server (both ends shimmed) failed"
cmp -s "$T/srv3.got" "$T/data" || sys_fail "both-shimmed transfer differs"
sys_ok "shimmed client to shimmed server: 1 MB byte-exact"
sys_settle_sockets 0 || sys_fail "sockets left: $(sys_status)"
sys_ok "socket table empty"

#!/usr/bin/env bash
# Autoscale: with --autoscale-conns 50 and 1..3 INS, 240 held connections make mwcomms add INS
# up to the maximum (log line per action, each new INS gets the listener), and when the
# connections end it drains and stops the extra ones back down to the minimum. Isolation off
# (no root needed).
SYS_NAME=84-ins-autoscale
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need jq
[ -x "$B/tests/t_echosrv" ] && [ -x "$B/tests/t_connmany" ] || sys_fail "test programs not built"
sys_mwcomms --ins 1 --ins-max 3 --autoscale-conns 50
grep -q "autoscale: one more INS when connections per INS pass 50 (up to 3)" "$T/mwcomms.log" ||
  sys_fail "autoscale settings not logged"
PF="$T/port"
sys_bg srv "$B/tests/t_echosrv" 127.0.0.1 0 "$PF"
for _ in $(seq 100); do [ -s "$PF" ] && break; sleep 0.1; done
[ -s "$PF" ] || { cat "$T/srv.out" >&2; sys_fail "echo server did not start"; }
P=$(cat "$PF")
"$B/tests/t_connmany" 127.0.0.1 "$P" 240 60 2 14 "$T/cm" > "$T/cm.out" 2>&1 & cm=$!
SYS_PIDS+=($cm)
n=1
for _ in $(seq 150); do
  n=$(sys_status | jq '[.ins[] | select(.alive)] | length')
  [ "$n" -eq 3 ] && break; sleep 0.1
done
[ "$n" -eq 3 ] || sys_fail "no scale-out to 3 INS under 240 connections: $(sys_status | jq -c .ins)"
[ "$(grep -c 'added (autoscale out' "$T/mwcomms.log")" -eq 2 ] || sys_fail "expected 2 scale-out log lines"
for _ in $(seq 50); do [ "$(sys_status | jq '[.listeners[0].replicas[]] | length')" -eq 2 ] && break; sleep 0.1; done
[ "$(sys_status | jq '[.listeners[0].replicas[]] | length')" -eq 2 ] || sys_fail "new INS did not get the listener"
sleep 4
[ "$(sys_status | jq '[.ins[]] | length')" -eq 3 ] || sys_fail "went past --ins-max 3"
sys_ok "240 connections: scaled out 1 -> 3 INS (the maximum), each with the listener: $(grep -o 'ins[0-9]* added (autoscale out[^)]*)' "$T/mwcomms.log" | tr '\n' ';')"
wait "$cm" || { cat "$T/cm.out" >&2; sys_fail "connections broke while scaling out"; }
# under the threshold but not idle: 30 held connections; a draining INS gives up its listener
# replica at once (nothing new reaches it, even though the kernel spreads by hash) and stops
# when its own connections end
"$B/tests/t_connmany" 127.0.0.1 "$P" 30 64 2 12 "$T/cm3" > "$T/cm3.out" 2>&1 & cm3=$!
SYS_PIDS+=($cm3)
dr=""
for _ in $(seq 150); do
  dr=$(sys_status | jq -c '[.ins[] | select(.draining) | {id, connections}] | select(length > 0)')
  [ -n "$dr" ] && break; sleep 0.1
done
[ -n "$dr" ] || sys_fail "no INS marked draining with 30 connections (< 50/2 per INS)"
sleep 0.5
nl=$(ss -ltn "sport = :$P" | grep -c LISTEN || true)
[ "$nl" -eq 2 ] || sys_fail "draining INS $dr still holds its replica: $nl real listeners on port $P"
"$B/tests/t_connmany" 127.0.0.1 "$P" 40 70 1 0 > "$T/cm4.out" 2>&1 || { cat "$T/cm4.out" >&2; sys_fail "new connections failed while draining"; }
sys_ok "draining INS $dr released its listener replica (2 real listeners left), new connections all served"
wait "$cm3" || { cat "$T/cm3.out" >&2; sys_fail "held connections broke while draining"; }
for _ in $(seq 300); do
  [ "$(sys_status | jq '[.ins[]] | length')" -eq 1 ] && break; sleep 0.1
done
[ "$(sys_status | jq '[.ins[]] | length')" -eq 1 ] || sys_fail "no scale-in back to 1 INS: $(sys_status | jq -c .ins)"
grep -q "draining (autoscale in" "$T/mwcomms.log" && grep -q "stopping (scale in: drained)" "$T/mwcomms.log" ||
  sys_fail "scale-in not logged"
"$B/tests/t_connmany" 127.0.0.1 "$P" 20 70 1 0 > "$T/cm2.out" 2>&1 || { cat "$T/cm2.out" >&2; sys_fail "service after scale-in"; }
sys_ok "connections ended: drained and stopped back to 1 INS (logged), service intact"

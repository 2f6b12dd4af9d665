#!/usr/bin/env bash
# 10,350 simultaneous established connections through the front end to a protected epoll echo
# server, spread over 4 INS (isolation netns, root), held 30 s, every one verified alive at the end
# with a second echo round trip; per-INS connection counts within +-10% of each other.
# Descriptor budget (the per-process limit is 20,000 here): the server holds one fd per
# connection (10,350), each INS two (TCP socket + the program's relay end: ~5,200), mwcomms none
# (the front end hands each accepted socket over), each of the 2 client processes ~5,200.
# MW_SCALE_CONNS overrides the number (e.g. for a quick run).
SYS_NAME=82-ins-scale
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need_netns
sys_need jq
N=${MW_SCALE_CONNS:-10350}
HOLD=${MW_SCALE_HOLD:-30}
NINS=4
sys_netns_echo_server $NINS

# two client processes, each from its own 4 source addresses
h1=$((N / 2)); h2=$((N - h1))
t0=$(date +%s)
"$B/tests/t_connmany" 127.0.0.1 "$P" "$h1" 10 4 "$HOLD" "$T/c1" > "$T/c1.out" 2>&1 & c1=$!
"$B/tests/t_connmany" 127.0.0.1 "$P" "$h2" 14 4 "$HOLD" "$T/c2" > "$T/c2.out" 2>&1 & c2=$!
SYS_PIDS+=($c1 $c2)
for _ in $(seq 1800); do
  grep -q '^established' "$T/c1" 2>/dev/null && grep -q '^established' "$T/c2" 2>/dev/null && break
  kill -0 $c1 2>/dev/null || kill -0 $c2 2>/dev/null || break
  sleep 0.1
done
e1=$(awk '/^established/ {print $2}' "$T/c1" 2>/dev/null); e2=$(awk '/^established/ {print $2}' "$T/c2" 2>/dev/null)
est=$(( ${e1:-0} + ${e2:-0} ))
[ "$est" -eq "$N" ] || { cat "$T/c1.out" "$T/c2.out" >&2; sys_status | jq -c .ins >&2;
  sys_fail "established $est of $N connections"; }
sys_ok "$N connections established and echoed in $(( $(date +%s) - t0 )) s"
# per-INS counts (the hub's table, from the INS observations)
for _ in $(seq 100); do
  counts=$(sys_status | jq -c '[.ins[] | .connections]')
  [ "$(echo "$counts" | jq add)" -ge "$N" ] && break; sleep 0.1
done
echo "per-INS connections: $counts"
[ "$(echo "$counts" | jq length)" -eq $NINS ] || sys_fail "expected $NINS INS: $counts"
[ "$(echo "$counts" | jq add)" -ge "$N" ] || sys_fail "the INS count $(echo "$counts" | jq add) connections, wanted $N"
echo "$counts" | jq -e '(add / length) as $m | all(.[]; . >= $m * 0.9 and . <= $m * 1.1)' >/dev/null ||
  sys_fail "per-INS counts not within 10% of the mean: $counts"
fds=$(for p in $(sys_status | jq -r '.ins[].pid') "$SYS_MWC"; do ls /proc/"$p"/fd | wc -l; done | tr '\n' ' ')
sys_ok "per-INS connection counts within 10%: $counts; open fds per INS and mwcomms: $fds"
rc=0
wait $c1 || rc=1
wait $c2 || rc=1
cat "$T/c1.out" "$T/c2.out"
[ "$rc" = 0 ] || sys_fail "not every connection was alive after $HOLD s: $(cat "$T/c1" "$T/c2" | tr '\n' ' ')"
sys_ok "all $N connections alive after being held $HOLD s (second echo round trip on each)"

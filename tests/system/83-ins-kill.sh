#!/usr/bin/env bash
# Killing one INS while 10,350 connections are open (isolation netns, root; MW_KILL_CONNS sets the
# number; one client process holds them: 10,350 fds, under the 20,000 limit): only the connections
# that INS carried break, every other one stays alive; the supervisor starts a replacement that
# gets the listener and joins the rotation; new connections all succeed and are spread over the
# survivors and the replacement (least connections: the replacement takes the most).
SYS_NAME=83-ins-kill
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need_netns
sys_need jq
N=${MW_KILL_CONNS:-10350}
NINS=4
sys_netns_echo_server $NINS

"$B/tests/t_connmany" 127.0.0.1 "$P" "$N" 30 4 12 "$T/c1" > "$T/c1.out" 2>&1 & c1=$!
SYS_PIDS+=($c1)
for _ in $(seq 600); do grep -q '^established' "$T/c1" 2>/dev/null && break; kill -0 $c1 2>/dev/null || break; sleep 0.1; done
grep -q "^established $N 0" "$T/c1" || { cat "$T/c1.out" >&2; sys_fail "not all $N connections established"; }
for _ in $(seq 100); do [ "$(sys_status | jq '[.ins[].connections] | add')" -ge "$N" ] && break; sleep 0.1; done
before=$(sys_status | jq -c '[.ins[] | {id, pid, connections}]')
victim_pid=$(echo "$before" | jq '.[1].pid'); victim_id=$(echo "$before" | jq '.[1].id')
victim_n=$(echo "$before" | jq '.[1].connections')
kill -9 "$victim_pid"
sys_ok "$N connections open, per INS: $before; killed INS $victim_id (pid $victim_pid, $victim_n connections)"

# the replacement joins: a new INS id, alive, with the listener
for _ in $(seq 100); do
  sys_status | jq -e --argjson p "$victim_pid" --argjson n $NINS \
    '([.ins[] | select(.alive and .pid != $p)] | length) == $n and ([.listeners[0].replicas[]] | length) == $n - 1' \
    >/dev/null && break
  sleep 0.1
done
after=$(sys_status | jq -c '[.ins[] | {id, pid, connections}]')
new_id=$(echo "$after" | jq --argjson p "$victim_pid" '[.[] | select(.pid != $p)] | .[1].id')
[ "$new_id" != "$victim_id" ] && [ "$(echo "$after" | jq --argjson p "$victim_pid" '[.[] | select(.pid == $p)] | length')" = 0 ] ||
  sys_fail "no replacement INS: $after"
grep -q "replaces the dead instance" "$T/mwcomms.log" || sys_fail "no replacement log line"
sys_ok "replacement INS $new_id started and joined: $after"

# new connections all succeed, spread by least connections (replacement first)
"$B/tests/t_connmany" 127.0.0.1 "$P" 600 40 2 2 "$T/c2" > "$T/c2.out" 2>&1 || { cat "$T/c2.out" >&2; sys_fail "new connections failed after the kill"; }
sys_ok "600 new connections after the kill all established and alive"

# the held ones: exactly the victim's broke
wait $c1 || true
cat "$T/c1.out"
alive=$(awk '/^alive/ {print $2}' "$T/c1"); broken=$(awk '/^alive/ {print $4}' "$T/c1")
[ "$broken" -eq "$victim_n" ] && [ "$alive" -eq $((N - victim_n)) ] ||
  sys_fail "after killing an INS with $victim_n connections: $alive alive, $broken broken (of $N)"
sys_ok "only the killed INS's $victim_n connections broke; the other $alive stayed alive"

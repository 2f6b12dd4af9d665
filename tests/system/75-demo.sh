#!/usr/bin/env bash
# End-to-end closed loop, a shorter ./mw demo with assertions: a private stack on free ports
# (Kafka, registry, mwcomms, INS, ingest, streams, detector, sink), Apache prefork under the shim,
# benign load, slowloris then slow read, once with protection and once with the sink stopped.
# Checks (loose for a busy 2-core machine, strict enough to fail when the loop is broken):
#   protection ON : for each attack a mitigation is applied within 5 s of its start, and the
#                   benign success rate is back to >= 99 % within 10 s and stays there;
#                   no benign source is blocked
#   protection OFF: benign success during slowloris (after its first 5 s) below 50 %
#   afterwards    : no process of the private stack, no demo Apache, no traffic tool left.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=$(mktemp -d /tmp/mw-demo-test.XXXXXX)
# Apache drops to its unprivileged user: it must be able to traverse the state dir.
chmod 755 "$STATE"
cleanup() {
  "$ROOT/mw" --state-dir "$STATE" down >/dev/null 2>&1 || true
  rm -rf "$STATE"
}
trap cleanup EXIT
fail() { echo "FAIL - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
for t in apache2 java python3 jq ss curl; do
  command -v "$t" >/dev/null || fail "$t is needed"
done

free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r KP KC RP RM NF OI OS OD OK AP <<<"$(free_ports 10)"
UP="--kafka-port $KP --kafka-controller-port $KC --registry-port $RP --registry-management-port $RM"
UP+=" --netflow 127.0.0.1:$NF --ingest-ops-port $OI --streams-ops-port $OS --detector-ops-port $OD --sink-ops-port $OK"

rc=0
timeout --signal=INT 900 "$ROOT/mw" --state-dir "$STATE" demo --plain --port "$AP" --up-args "$UP" \
  --timeline benign=5,slowloris=20,pause=5,slowread=20,tail=2 > "$STATE/demo.out" 2>&1 || rc=$?
[ $rc = 0 ] || { tail -n 30 "$STATE/demo.out" >&2; fail "./mw demo exited with $rc"; }
report=$(ls -d "$STATE"/demo/*/report.json 2>/dev/null | head -n1)
[ -f "$report" ] || fail "no report.json (see $STATE/demo.out)"
sed -n '/MAGICWAND demo report/,$p' "$STATE/demo.out"

python3 - "$report" <<'PY' || fail "closed-loop figures (report above)"
import json, sys
runs = {r["label"]: r for r in json.load(open(sys.argv[1]))["runs"]}
on, off = runs["on"], runs["off"]
errors = []
for a in on["attacks"]:
    n = a["attack"]
    if a["first_mitigation_s"] is None or a["first_mitigation_s"] > 5:
        errors.append("ON %s: first mitigation applied after %s s (want <= 5)" % (n, a["first_mitigation_s"]))
    if a["recovery_s"] is None or a["recovery_s"] > 10:
        errors.append("ON %s: benign back to >= 99%% after %s s (want <= 10)" % (n, a["recovery_s"]))
    if a["blocked_other"]:
        errors.append("ON %s: non-attack sources blocked: %s" % (n, a["blocked_other"]))
sl = next(a for a in off["attacks"] if a["attack"] == "slowloris")
if sl["benign_pct_after_5s"] is None or sl["benign_pct_after_5s"] >= 50:
    errors.append("OFF slowloris: benign success %s%% (want < 50%%: the attack must hurt without protection)"
                  % sl["benign_pct_after_5s"])
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
PY
ok "protection ON: mitigation within 5 s and benign >= 99% within 10 s for slowloris and slow read; OFF: slowloris collapses benign service"

left=$(pgrep -af -- "$STATE" || true)
[ -z "$left" ] || fail "processes left after the demo: $left"
pgrep -af "mwtraffic.py" | grep -q -- "127.0.0.1:$AP" && fail "traffic tools left running"
mw_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $KP $RP $NF $OK $AP; do mw_port_free "$p" || fail "port $p still in use after the demo"; done
ok "nothing left running: stack down, Apache and traffic tools gone, ports free"

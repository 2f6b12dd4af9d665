#!/usr/bin/env bash
# summary: nginx small page, native vs through the INS (ab -c1 latency, wrk -c50 throughput), with ratios
#
# Runs its own mwcomms/INS (private rendezvous) and two identical nginx instances (4 workers,
# sendfile, epoll) on loopback: one native, one under the shim; both measured in the same run,
# in alternating rounds (native, INS, native, INS, ...) so drift hits both sides alike; prints
# every round, then the medians and the median of the per-round differences/ratios.
# Options (env): MW_BENCH_ROUNDS (default 5), MW_BENCH_AB_N requests per round (2000),
# MW_BENCH_WRK_SECS per round (5), MW_BENCH_WRK_CONNS (50), MW_BENCH_BUSY_POLL_US and
# MW_BENCH_COALESCE_US (the INS busy-poll and response-coalescing windows; mwcomms defaults
# when unset, 0 turns each off).
# Works when run directly (bash launcher/bench/http.sh) or sourced by ./mw bench.
set -euo pipefail
MW_ROOT=${MW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
declare -F mw_conf_get >/dev/null 2>&1 || . "$MW_ROOT/launcher/lib.sh"

bench_http_main() {
  local a
  for a in "$@"; do
    case "$a" in -h|--help) sed -n '2,13p' "$MW_ROOT/launcher/bench/http.sh" | sed 's/^# \{0,1\}//'; return 0 ;; esac
  done
  local B="$MW_ROOT/native/build" T P1 P2 mwc="" n secs conns rounds bp_args=()
  n=${MW_BENCH_AB_N:-2000}; secs=${MW_BENCH_WRK_SECS:-5}; conns=${MW_BENCH_WRK_CONNS:-50}
  rounds=${MW_BENCH_ROUNDS:-5}
  for a in "$n" "$secs" "$conns" "$rounds"; do
    [[ "$a" =~ ^[1-9][0-9]*$ ]] || mw_die "bench http: MW_BENCH_* values must be positive integers, got '$a'"
  done
  [ -n "${MW_BENCH_BUSY_POLL_US:-}" ] && bp_args+=(--ins-busy-poll-us "$MW_BENCH_BUSY_POLL_US")
  [ -n "${MW_BENCH_COALESCE_US:-}" ] && bp_args+=(--ins-coalesce-us "$MW_BENCH_COALESCE_US")
  for c in nginx ab wrk curl python3; do command -v "$c" >/dev/null || mw_die "bench http: $c not installed"; done
  [ -x "$B/mwcomms" ] && [ -f "$B/libmwshim.so" ] || make -s -C "$MW_ROOT/native" -j2 >&2 || mw_die "bench http: native build failed"
  T=$(mktemp -d /tmp/mw-bench-http.XXXXXX); chmod 755 "$T"
  # shellcheck disable=SC2064
  trap "bench_http_cleanup '$T'" EXIT
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  P1=$(free_port); P2=$(free_port)
  mkdir -p "$T/html"
  printf '<html><body>%s</body></html>\n' "$(head -c 400 /dev/zero | tr '\0' 'x')" > "$T/html/index.html"
  for side in native ins; do
    local port=$P1; [ $side = ins ] && port=$P2
    mkdir -p "$T/$side/logs" "$T/$side/tmp"
    cat > "$T/$side/nginx.conf" <<CONF
daemon off;
worker_processes 4;
pid $T/$side/nginx.pid;
error_log $T/$side/logs/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 2048; use epoll; }
http {
    sendfile on; tcp_nopush on; keepalive_timeout 65; access_log off;
    client_body_temp_path $T/$side/tmp/b; proxy_temp_path $T/$side/tmp/p; fastcgi_temp_path $T/$side/tmp/f;
    uwsgi_temp_path $T/$side/tmp/u; scgi_temp_path $T/$side/tmp/s;
    server { listen 127.0.0.1:$port; root $T/html; }
}
CONF
  done
  "$B/mwcomms" --rendezvous "$T/mw.sock" --netflow off "${bp_args[@]}" > "$T/mwcomms.log" 2>&1 &
  mwc=$!; echo "$mwc" > "$T/mwcomms.pid"
  "$B/mwctl" --rendezvous "$T/mw.sock" wait 10 >/dev/null || mw_die "bench http: mwcomms did not start"
  setsid nginx -p "$T/native" -c "$T/native/nginx.conf" > "$T/native.out" 2>&1 < /dev/null & echo $! >> "$T/pids"
  setsid env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" nginx -p "$T/ins" -c "$T/ins/nginx.conf" \
    > "$T/ins.out" 2>&1 < /dev/null & echo $! >> "$T/pids"
  for port in $P1 $P2; do
    local ok=""
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && { ok=1; break; }; sleep 0.1; done
    [ -n "$ok" ] || mw_die "bench http: nginx on port $port did not answer"
  done
  [ "$("$B/mwctl" --rendezvous "$T/mw.sock" status | jq '.listeners | length')" = 1 ] ||
    mw_die "bench http: the INS side's listener is not carried by the INS"
  mw_log "bench http: nginx native on :$P1, through the INS on :$P2 (same config); warming up"
  ab -q -n 500 -c 1 "http://127.0.0.1:$P1/" >/dev/null 2>&1; ab -q -n 500 -c 1 "http://127.0.0.1:$P2/" >/dev/null 2>&1
  local bp; bp=$("$B/mwctl" --rendezvous "$T/mw.sock" status | jq -r '"busy-poll \(.ins_busy_poll_us) us, coalescing \(.ins_coalesce_us) us"')
  local round side port
  : > "$T/ab.rounds"; : > "$T/wrk.rounds"
  for round in $(seq "$rounds"); do
    local line="$round"
    for side in native ins; do
      port=$P1; [ $side = ins ] && port=$P2
      ab -q -n "$n" -c 1 -e "$T/ab-$side.csv" "http://127.0.0.1:$port/" > "$T/ab-$side.txt" 2>&1 || mw_die "bench http: ab ($side) failed"
      [ "$(awk '/^Failed requests:/ {print $3}' "$T/ab-$side.txt")" = 0 ] || mw_die "bench http: ab ($side) had failed requests"
      line+=" $(awk -F, '$1=="50" {printf "%.0f", $2*1000}' "$T/ab-$side.csv") $(awk -F, '$1=="99" {printf "%.0f", $2*1000}' "$T/ab-$side.csv")"
    done
    echo "$line" >> "$T/ab.rounds"
    mw_log "bench http: round $round/$rounds ab -n $n -c 1: p50/p99 native $(cut -d' ' -f2-3 <<<"$line" | tr ' ' /) us, through the INS $(cut -d' ' -f4-5 <<<"$line" | tr ' ' /) us"
  done
  for round in $(seq "$rounds"); do
    local line="$round"
    for side in native ins; do
      port=$P1; [ $side = ins ] && port=$P2
      wrk -t 2 -c "$conns" -d "${secs}s" --latency "http://127.0.0.1:$port/" > "$T/wrk-$side.txt" 2>&1 || mw_die "bench http: wrk ($side) failed"
      grep -q "Socket errors" "$T/wrk-$side.txt" && mw_warn "wrk ($side): $(grep 'Socket errors' "$T/wrk-$side.txt")"
      line+=" $(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$T/wrk-$side.txt")"
      line+=" $(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); printf "%.0f", v}
                        else if (v ~ /ms$/) {sub(/ms/,"",v); printf "%.0f", v*1000}
                        else if (v ~ /s$/) {sub(/s/,"",v); printf "%.0f", v*1000000}}' "$T/wrk-$side.txt")"
    done
    echo "$line" >> "$T/wrk.rounds"
    mw_log "bench http: round $round/$rounds wrk -t2 -c$conns -d${secs}s: req/s native $(cut -d' ' -f2 <<<"$line"), through the INS $(cut -d' ' -f4 <<<"$line")"
  done
  python3 - "$T/ab.rounds" "$T/wrk.rounds" "$(stat -c %s "$T/html/index.html")" "$n" "$secs" "$conns" "$rounds" "$bp" <<'PY'
import statistics as st, sys
ab = [list(map(float, l.split()[1:])) for l in open(sys.argv[1]) if l.strip()]
wrk = [list(map(float, l.split()[1:])) for l in open(sys.argv[2]) if l.strip()]
size, n, secs, conns, rounds, bp = sys.argv[3:9]
med = lambda xs: st.median(list(xs))
print(f"\nnginx small page ({size} bytes), loopback, {rounds} alternating rounds: ab -n {n} -c1, "
      f"wrk {secs}s -c{conns} (INS {bp})")
print(f"{'metric (median of rounds)':30} {'native':>10} {'through INS':>12} {'ratio':>8}")
def row(name, a, b):
    print(f"{name:30} {a:>10.0f} {b:>12.0f} {b / a if a else float('nan'):>8.2f}")
row("ab -c1 p50 (us)", med(r[0] for r in ab), med(r[2] for r in ab))
row("ab -c1 p99 (us)", med(r[1] for r in ab), med(r[3] for r in ab))
row(f"wrk -c{conns} req/s", med(r[0] for r in wrk), med(r[2] for r in wrk))
row(f"wrk -c{conns} p99 (us)", med(r[1] for r in wrk), med(r[3] for r in wrk))
added = med(r[2] - r[0] for r in ab)
share = med(r[2] / r[0] for r in wrk if r[0])
print(f"added median latency at c1 (median of per-round differences): {added:.0f} us "
      f"(target <= 50: {'met' if added <= 50 else 'missed'})")
print(f"throughput at c{conns} (median of per-round ratios): {100 * share:.0f}% of native "
      f"(target >= 70%: {'met' if share >= 0.70 else 'missed'})")
PY
}

bench_http_cleanup() {
  local T=$1 p
  for p in $(cat "$T/pids" 2>/dev/null); do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $(cat "$T/pids" 2>/dev/null); do kill -KILL -- "-$p" 2>/dev/null || true; done
  [ -f "$T/mwcomms.pid" ] && kill -TERM "$(cat "$T/mwcomms.pid")" 2>/dev/null || true
  sleep 0.3
  rm -rf "$T"
}

bench_http_main "$@"

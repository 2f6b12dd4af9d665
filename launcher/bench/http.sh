#!/usr/bin/env bash
# summary: nginx small page, native vs through the INS (ab -c1 latency, wrk -c50 throughput), with ratios
#
# Runs its own mwcomms/INS (private rendezvous) and two identical nginx instances (4 workers,
# sendfile, epoll) on loopback: one native, one under the shim; both measured in the same run.
# Options (env): MW_BENCH_AB_N (default 5000), MW_BENCH_WRK_SECS (10), MW_BENCH_WRK_CONNS (50).
# Works when run directly (bash launcher/bench/http.sh) or sourced by ./mw bench.
set -euo pipefail
MW_ROOT=${MW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
declare -F mw_conf_get >/dev/null 2>&1 || . "$MW_ROOT/launcher/lib.sh"

bench_http_main() {
  local a
  for a in "$@"; do
    case "$a" in -h|--help) sed -n '2,8p' "$MW_ROOT/launcher/bench/http.sh" | sed 's/^# \{0,1\}//'; return 0 ;; esac
  done
  local B="$MW_ROOT/native/build" T P1 P2 mwc="" pids=() n secs conns
  n=${MW_BENCH_AB_N:-5000}; secs=${MW_BENCH_WRK_SECS:-10}; conns=${MW_BENCH_WRK_CONNS:-50}
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
  "$B/mwcomms" --rendezvous "$T/mw.sock" --netflow off > "$T/mwcomms.log" 2>&1 &
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
  local -A r
  for side in native ins; do
    local port=$P1; [ $side = ins ] && port=$P2
    mw_log "bench http: ab -n $n -c 1 ($side)"
    ab -q -n "$n" -c 1 -e "$T/ab-$side.csv" "http://127.0.0.1:$port/" > "$T/ab-$side.txt" 2>&1 || mw_die "bench http: ab ($side) failed"
    [ "$(awk '/^Failed requests:/ {print $3}' "$T/ab-$side.txt")" = 0 ] || mw_die "bench http: ab ($side) had failed requests"
    r[$side.p50]=$(awk -F, '$1=="50" {printf "%.0f", $2*1000}' "$T/ab-$side.csv")
    r[$side.p99]=$(awk -F, '$1=="99" {printf "%.0f", $2*1000}' "$T/ab-$side.csv")
  done
  for side in native ins; do
    local port=$P1; [ $side = ins ] && port=$P2
    mw_log "bench http: wrk -t2 -c$conns -d${secs}s ($side)"
    wrk -t 2 -c "$conns" -d "${secs}s" --latency "http://127.0.0.1:$port/" > "$T/wrk-$side.txt" 2>&1 || mw_die "bench http: wrk ($side) failed"
    grep -q "Socket errors" "$T/wrk-$side.txt" && mw_warn "wrk ($side): $(grep 'Socket errors' "$T/wrk-$side.txt")"
    r[$side.rps]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$T/wrk-$side.txt")
    r[$side.wp99]=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); printf "%.0f", v}
                        else if (v ~ /ms$/) {sub(/ms/,"",v); printf "%.0f", v*1000}
                        else if (v ~ /s$/) {sub(/s/,"",v); printf "%.0f", v*1000000}}' "$T/wrk-$side.txt")
  done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  printf '\nnginx small page (%s bytes), %s requests ab -c1, wrk %ss -c%s, same run, loopback\n' \
    "$(stat -c %s "$T/html/index.html")" "$n" "$secs" "$conns"
  printf '%-22s %12s %12s %10s\n' metric native "through INS" ratio
  printf '%-22s %12s %12s %10s\n' "ab -c1 p50 (us)" "${r[native.p50]}" "${r[ins.p50]}" "$(ratio "${r[ins.p50]}" "${r[native.p50]}")"
  printf '%-22s %12s %12s %10s\n' "ab -c1 p99 (us)" "${r[native.p99]}" "${r[ins.p99]}" "$(ratio "${r[ins.p99]}" "${r[native.p99]}")"
  printf '%-22s %12s %12s %10s\n' "wrk -c$conns req/s" "${r[native.rps]}" "${r[ins.rps]}" "$(ratio "${r[ins.rps]}" "${r[native.rps]}")"
  printf '%-22s %12s %12s %10s\n' "wrk -c$conns p99 (us)" "${r[native.wp99]}" "${r[ins.wp99]}" "$(ratio "${r[ins.wp99]}" "${r[native.wp99]}")"
  printf 'added median latency at c1: %s us; throughput at c%s: %s%% of native\n' \
    "$(( ${r[ins.p50]} - ${r[native.p50]} ))" "$conns" "$(awk -v a="${r[ins.rps]}" -v b="${r[native.rps]}" 'BEGIN {printf "%.0f", 100*a/b}')"
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

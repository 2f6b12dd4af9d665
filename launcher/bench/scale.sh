#!/usr/bin/env bash
# summary: one protected nginx over 1, 2 and 4 INS in one run (wrk req/s, p99, ratio to 1 INS) + max simultaneous connections
#
# Runs its own mwcomms (isolation netns with the front end when root, else off with SO_REUSEPORT
# replicas) and one nginx under the shim. The INS pool grows 1 -> 2 -> 4 with NetFlow ins-spawn
# while the same nginx keeps running; wrk measures at each size. Then the most simultaneous
# connections: t_connmany clients (4 processes) against a protected epoll echo server over 4 INS.
# Options (env): MW_BENCH_WRK_SECS (10), MW_BENCH_WRK_CONNS (100), MW_BENCH_MAX_CONNS (19000).
set -euo pipefail
MW_ROOT=${MW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
declare -F mw_conf_get >/dev/null 2>&1 || . "$MW_ROOT/launcher/lib.sh"

bench_scale_main() {
  local a
  for a in "$@"; do
    case "$a" in -h|--help) sed -n '2,9p' "$MW_ROOT/launcher/bench/scale.sh" | sed 's/^# \{0,1\}//'; return 0 ;; esac
  done
  local B="$MW_ROOT/native/build" T P NF iso secs conns maxc
  secs=${MW_BENCH_WRK_SECS:-10}; conns=${MW_BENCH_WRK_CONNS:-100}; maxc=${MW_BENCH_MAX_CONNS:-19000}
  for c in nginx wrk curl jq python3; do command -v "$c" >/dev/null || mw_die "bench scale: $c not installed"; done
  make -s -C "$MW_ROOT/native" -j2 >&2 || mw_die "bench scale: native build failed"
  iso=off
  [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null && iso=netns
  T=$(mktemp -d /tmp/mw-bench-scale.XXXXXX); chmod 755 "$T"
  # shellcheck disable=SC2064
  trap "bench_scale_cleanup '$T'" EXIT
  P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$T/html" "$T/logs" "$T/tmp"
  printf '<html><body>%s</body></html>\n' "$(head -c 400 /dev/zero | tr '\0' 'x')" > "$T/html/index.html"
  cat > "$T/nginx.conf" <<CONF
daemon off;
worker_processes 2;
pid $T/nginx.pid;
error_log $T/logs/error.log warn;
$( [ "$(id -u)" = 0 ] && echo "user root;" )
events { worker_connections 4096; use epoll; }
http {
    sendfile on; tcp_nopush on; keepalive_timeout 65; keepalive_requests 1000000; access_log off;
    client_body_temp_path $T/tmp/b; proxy_temp_path $T/tmp/p; fastcgi_temp_path $T/tmp/f;
    uwsgi_temp_path $T/tmp/u; scgi_temp_path $T/tmp/s;
    server { listen 127.0.0.1:$P; root $T/html; }
}
CONF
  "$B/mwcomms" --rendezvous "$T/mw.sock" --netflow 127.0.0.1:0 --isolation "$iso" --ins 1 > "$T/mwcomms.log" 2>&1 &
  echo $! > "$T/mwcomms.pid"
  "$B/mwctl" --rendezvous "$T/mw.sock" wait 15 >/dev/null || mw_die "bench scale: mwcomms did not start"
  st() { "$B/mwctl" --rendezvous "$T/mw.sock" status; }
  NF=$(st | jq -r .netflow)
  nf() { "$B/mwnf" --connect "$NF" "$@"; }
  run_protected() {   # NAME CMD...: under the shim (in an empty namespace with isolation netns)
    local name=$1; shift
    if [ "$iso" = netns ]; then
      setsid unshare --net -- sh -c 'ip link set lo up; exec "$@"' mw-protect env LD_PRELOAD="$B/libmwshim.so" \
        MW_RENDEZVOUS="$T/mw.sock" "$@" > "$T/$name.out" 2>&1 < /dev/null & echo $! >> "$T/pids"
    else
      setsid env LD_PRELOAD="$B/libmwshim.so" MW_RENDEZVOUS="$T/mw.sock" "$@" > "$T/$name.out" 2>&1 < /dev/null &
      echo $! >> "$T/pids"
    fi
  }
  run_protected nginx nginx -p "$T" -c "$T/nginx.conf"
  local ok=""
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P/" && { ok=1; break; }; sleep 0.1; done
  [ -n "$ok" ] || mw_die "bench scale: protected nginx did not answer"
  mw_log "bench scale: protected nginx on :$P (isolation $iso); wrk -t2 -c$conns -d${secs}s at 1, 2, 4 INS"
  wrk -t 2 -c "$conns" -d 2s "http://127.0.0.1:$P/" >/dev/null 2>&1 || true   # warm-up
  local -A rps p99 cnt
  local k
  for k in 1 2 4; do
    local have
    have=$(nf get ins-count)
    if [ "$have" -lt "$k" ]; then
      nf ins spawn $((k - have)) >/dev/null || mw_die "bench scale: ins spawn failed"
      for _ in $(seq 100); do
        [ "$(st | jq '[.listeners[0].replicas[]] | length')" -eq $((k - 1)) ] && break; sleep 0.1
      done
    fi
    mw_log "bench scale: $k INS"
    wrk -t 2 -c "$conns" -d "${secs}s" --latency "http://127.0.0.1:$P/" > "$T/wrk-$k.txt" 2>&1 & local wp=$!
    sleep $(( secs / 2 ))
    cnt[$k]=$(st | jq -c '[.ins[] | .connections]')   # wrk's connections, per INS, mid-run
    wait "$wp" || mw_die "bench scale: wrk failed at $k INS"
    grep -q "Socket errors" "$T/wrk-$k.txt" && mw_warn "wrk ($k INS): $(grep 'Socket errors' "$T/wrk-$k.txt")"
    rps[$k]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$T/wrk-$k.txt")
    p99[$k]=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); printf "%.2f", v/1000}
                  else if (v ~ /ms$/) {sub(/ms/,"",v); printf "%.2f", v}
                  else if (v ~ /s$/) {sub(/s/,"",v); printf "%.2f", v*1000}}' "$T/wrk-$k.txt")
  done
  # the most simultaneous connections: a protected echo server over 4 INS, 4 client processes
  local PF="$T/echoport" per est=0 i
  run_protected echo "$B/tests/t_echosrv" 127.0.0.1 0 "$PF"
  for _ in $(seq 100); do [ -s "$PF" ] && break; sleep 0.1; done
  [ -s "$PF" ] || mw_die "bench scale: echo server did not start"
  for _ in $(seq 100); do [ "$(st | jq '[.listeners[] | select(.address == "127.0.0.1:'"$(cat "$PF")"'") | .replicas[]] | length')" -eq 3 ] && break; sleep 0.1; done
  per=$(( (maxc + 3) / 4 ))
  mw_log "bench scale: opening $maxc simultaneous connections to the protected echo server (4 clients x $per)"
  for i in 0 1 2 3; do
    "$B/tests/t_connmany" 127.0.0.1 "$(cat "$PF")" "$per" $((50 + i * 4)) 4 5 "$T/cm$i" > "$T/cm$i.out" 2>&1 &
    echo $! >> "$T/cmpids"
  done
  for _ in $(seq 1800); do
    local done_n=0
    for i in 0 1 2 3; do grep -q '^established' "$T/cm$i" 2>/dev/null && done_n=$((done_n + 1)); done
    [ "$done_n" = 4 ] && break
    sleep 0.1
  done
  for i in 0 1 2 3; do est=$((est + $(awk '/^established/ {print $2}' "$T/cm$i" 2>/dev/null || echo 0))); done
  local maxcnt srvfd
  maxcnt=$(st | jq -c '[.ins[] | .connections]')
  srvfd=$(ls /proc/"$(pgrep -f "t_echosrv 127.0.0.1 0 $PF" | head -1)"/fd 2>/dev/null | wc -l)
  for p in $(cat "$T/cmpids"); do wait "$p" 2>/dev/null || true; done
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  printf '\nprotected nginx (%s bytes page), wrk -t2 -c%s %ss keep-alive, isolation %s, same nginx, one run\n' \
    "$(stat -c %s "$T/html/index.html")" "$conns" "$secs" "$iso"
  printf '%-6s %10s %12s %14s  %s\n' INS "req/s" "p99 (ms)" "req/s vs 1" "wrk connections per INS (mid-run)"
  for k in 1 2 4; do
    printf '%-6s %10s %12s %14s  %s\n' "$k" "${rps[$k]}" "${p99[$k]}" "$(ratio "${rps[$k]}" "${rps[1]}")" "${cnt[$k]}"
  done
  printf 'simultaneous connections: %s of %s established over 4 INS (per INS %s); protected server fds %s (limit %s)\n' \
    "$est" "$maxc" "$maxcnt" "$srvfd" "$(ulimit -Hn)"
}

bench_scale_cleanup() {
  local T=$1 p
  for p in $(cat "$T/cmpids" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  for p in $(cat "$T/pids" 2>/dev/null); do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $(cat "$T/pids" 2>/dev/null); do kill -KILL -- "-$p" 2>/dev/null || true; done
  if [ -f "$T/mwcomms.pid" ]; then
    p=$(cat "$T/mwcomms.pid")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  fi
  rm -rf "$T"
}

bench_scale_main "$@"

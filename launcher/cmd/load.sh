# summary: benign HTTP load with a per-second success-rate and latency sensor (loopback only)
cmd_help() {
  cat <<H
usage: ./mw load --target HOST:PORT --sources CIDR --rate R --duration S [OPTIONS]

Sends R benign GET requests per second (one connection each, Connection: close),
round-robin over the source addresses of CIDR, and reports every second the
success rate and p50/p99 latency; at the end a JSON report with per-second
figures. A request fails on a connect error, a non-2xx/3xx status, or no full
answer within --timeout. Loopback only (127.0.0.0/8 for target and sources).

Options:
  --path PATH          request path (default /)
  --timeout S          per-request timeout (default 2)
  --json-report FILE   write the final report (with per_second series) as JSON
  --stats-file FILE    append one JSON line of live figures per second
  --quiet              no per-second lines
H
}
cmd_main() {
  command -v python3 >/dev/null || mw_die "load: python3 is needed (install it with launcher/install-deps.sh)"
  exec python3 "$MW_ROOT/tools/traffic/mwtraffic.py" load "$@"
}

# summary: slow-attack generator (slowloris, slowpost, slowread, range, flood) against a loopback target
cmd_help() {
  cat <<H
usage: ./mw attack slowloris|slowpost|slowread|range|flood --target HOST:PORT --sources CIDR
                   --connections N --duration S [OPTIONS]

Opens attack connections from distinct source addresses of CIDR, so that the
detector can tell sources apart. Loopback only: the target and the sources must
be inside 127.0.0.0/8 (anything else is refused). Stops by itself after S
seconds (Ctrl-C stops early); prints one line per second and a JSON summary.

  slowloris  request line and headers trickled, never completed
  slowpost   complete headers with Content-Length: 100000000, body 1 byte per interval
  slowread   full GET, then reads --read-bytes per interval with a tiny SO_RCVBUF
             (point --path at a large resource)
  range      GET with --ranges overlapping Range values (0-,5-0,5-1,...), repeated
  flood      N new connections per second (--connections is the rate), from the
             first address of CIDR

Options:
  --interval S         seconds between trickled bytes / reads (default 2)
  --path PATH          request path (default /)
  --rcvbuf BYTES       slowread receive buffer (default 1024)
  --read-bytes N       slowread bytes per read (default 16)
  --ranges N           range: number of ranges (default 200)
  --json-report FILE   write the final report as JSON
  --stats-file FILE    append one JSON line of live figures per second
  --quiet              no per-second lines
H
}
cmd_main() {
  command -v python3 >/dev/null || mw_die "attack: python3 is needed (install it with launcher/install-deps.sh)"
  [ $# -ge 1 ] || mw_die "attack: say which attack: slowloris|slowpost|slowread|range|flood (see ./mw attack --help)"
  exec python3 "$MW_ROOT/tools/traffic/mwtraffic.py" attack "$@"
}

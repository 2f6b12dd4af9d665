# summary: mwcomms request tracing: per message type counts and latency histograms

cmd_help() {
  cat <<'HELP'
usage: ./mw trace on|off|show|reset [--rendezvous PATH]

  on      start counting every control request (count, errors, latency histogram per type)
  off     stop (near-zero cost when off: no clock reads)
  show    print the counters as JSON (default)
  reset   zero the counters
HELP
}

cmd_main() {
  local act=show rdv="${MW_RENDEZVOUS:-}"
  while [ $# -gt 0 ]; do
    case "$1" in
      on|off|show|reset) act=$1; shift ;;
      --rendezvous) [ $# -ge 2 ] || mw_die "trace: --rendezvous needs a path"; rdv=$2; shift 2 ;;
      *) mw_die "trace: unknown argument '$1' (see ./mw trace --help)" ;;
    esac
  done
  [ -n "$rdv" ] || rdv=$(mw_conf_get mwcomms.socket "$MW_STATE/run/mwcomms.sock")
  [ -x "$MW_ROOT/native/build/mwctl" ] || make -s -C "$MW_ROOT/native" -j2 >&2 ||
    mw_die "trace: native build failed"
  "$MW_ROOT/native/build/mwctl" --rendezvous "$rdv" trace "$act" ||
    mw_die "trace: mwcomms at $rdv did not answer (is the stack up? ./mw up)"
}

# summary: stop everything ./mw up started (safe to run twice)
cmd_help() {
  cat <<H
usage: ./mw down [--purge]

Stops the services of ./mw up in reverse order and checks that no process of
this state directory ($MW_STATE) is left. Stale pid files are ignored.
  --purge   also delete the services' data (Kafka log dirs, registry database,
            generated config, mw.conf); downloaded distributions are kept
H
}
cmd_main() {
  local purge=0 f n rc=0 left
  while [ $# -gt 0 ]; do
    case "$1" in
      --purge) purge=1 ;;
      *) mw_die "down: unknown option '$1' (see ./mw down --help)" ;;
    esac; shift
  done
  for f in $(mw_services | sort -r); do
    # shellcheck disable=SC1090
    . "$f"
    n=$(mw_service_name "$f")
    ( "${n}_stop" ) || { mw_warn "stopping $n failed"; rc=1; }
  done
  # Anything still running with this state directory on its command line was
  # started by us (every service names the state dir in its arguments).
  left=$(mw_state_procs)
  if [ -n "$left" ]; then
    mw_die "down: processes of $MW_STATE still running: $(echo $left) (see ps -fp PID)"
  fi
  if [ $purge = 1 ]; then
    mw_log "purging data under $MW_STATE (data/, conf/, mw.conf)"
    rm -rf "$MW_STATE/data" "$MW_STATE/conf" "$MW_STATE/mw.conf"
    mkdir -p "$MW_STATE/data"
  fi
  [ $rc = 0 ] || exit 1
  mw_log "stack is down"
}

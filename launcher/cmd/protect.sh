# summary: run an unmodified program with its TCP sockets carried by the INS (LD_PRELOAD shim)

cmd_help() {
  cat <<'HELP'
usage: ./mw protect [--isolation netns|off] [--rendezvous PATH] -- CMD [ARGS...]

Runs CMD under the MAGICWAND shim (native/build/libmwshim.so) against the running mwcomms
(./mw up starts it). Every IPv4/IPv6 TCP socket of CMD and its children is carried by an INS;
reads and writes stay on real kernel descriptors, so poll/epoll/fork/exec/sendfile work unchanged.

  --isolation netns   run CMD in a new network namespace with only loopback (root): nothing but
                      the shim's channel leads out; its listeners are reached through mwcomms's
                      host-side front end on the same port (when mwcomms runs with netns), or
                      through the INS in the host namespace (mwcomms with isolation off)
  --isolation off     run CMD in the host namespace (default: the 'isolation' of ./mw up, or off)
  --rendezvous PATH   mwcomms's socket (default: $MW_RENDEZVOUS or the one ./mw up configured)

Examples:
  ./mw protect -- python3 -m http.server 8080
  ./mw protect --isolation netns -- nginx -c /path/to/nginx.conf
HELP
}

cmd_main() {
  local iso="" rdv="${MW_RENDEZVOUS:-}" shim
  while [ $# -gt 0 ]; do
    case "$1" in
      --isolation) [ $# -ge 2 ] || mw_die "protect: --isolation needs netns or off"; iso=$2; shift 2 ;;
      --isolation=*) iso=${1#*=}; shift ;;
      --rendezvous) [ $# -ge 2 ] || mw_die "protect: --rendezvous needs a path"; rdv=$2; shift 2 ;;
      --rendezvous=*) rdv=${1#*=}; shift ;;
      --) shift; break ;;
      -*) mw_die "protect: unknown option '$1' (see ./mw protect --help)" ;;
      *) break ;;
    esac
  done
  [ $# -ge 1 ] || mw_die "protect: no command given (usage: ./mw protect [--isolation netns|off] -- CMD ARGS...)"
  [ -n "$iso" ] || iso=$(mw_conf_get isolation off)
  case "$iso" in netns|off) ;; *) mw_die "protect: --isolation must be netns or off, not '$iso'" ;; esac
  [ -n "$rdv" ] || rdv=$(mw_conf_get mwcomms.socket "$MW_STATE/run/mwcomms.sock")
  shim="$MW_ROOT/native/build/libmwshim.so"
  if [ ! -f "$shim" ] || [ ! -x "$MW_ROOT/native/build/mwctl" ]; then
    mw_log "protect: building the native parts"
    make -s -C "$MW_ROOT/native" -j2 >&2 || mw_die "protect: native build failed (make -C native)"
  fi
  "$MW_ROOT/native/build/mwctl" --rendezvous "$rdv" wait 2 >/dev/null 2>&1 ||
    mw_die "protect: mwcomms does not answer on $rdv (start it with ./mw up, or pass --rendezvous)"
  local pre="$shim${LD_PRELOAD:+:$LD_PRELOAD}"
  if [ "$iso" = netns ]; then
    [ "$(id -u)" = 0 ] || mw_die "protect: --isolation netns needs root (use --isolation off)"
    command -v unshare >/dev/null || mw_die "protect: unshare(1) not found (util-linux)"
    # A fresh namespace has only a down loopback: bring lo up (the program may talk to itself),
    # nothing else exists, so a socket that bypasses the shim reaches nothing outside.
    exec unshare --net -- sh -c 'ip link set lo up 2>/dev/null || true; exec "$@"' mw-protect \
      env LD_PRELOAD="$pre" MW_RENDEZVOUS="$rdv" "$@"
  fi
  exec env LD_PRELOAD="$pre" MW_RENDEZVOUS="$rdv" "$@"
}

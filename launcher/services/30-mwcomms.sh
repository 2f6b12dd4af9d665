# Service: mwcomms, the data-plane hub, which starts and supervises the INS pool.
#
# Config (mw.conf): isolation (netns|off), ins.count, ins.max (most INS: NetFlow spawn and
# autoscale, default 32), ins.autoscale.conns (connections per INS that start one more; 0 = no
# autoscale), ins.busy_poll_us (INS polling window after activity, default 200; 0 = off),
# ins.coalesce_us (INS response coalescing window, default 20; 0 = off), netflow.address
# (HOST:PORT), mwcomms.socket (rendezvous path). Binaries: native/build/{mwcomms,ins,mwctl,
# libmwshim.so}, built on demand.

mwcomms_bin() { echo "$MW_ROOT/native/build/$1"; }
mwcomms_log() { echo "$MW_STATE/log/mwcomms.log"; }
mwcomms_sock() { mw_conf_get mwcomms.socket "$MW_STATE/run/mwcomms.sock"; }

mwcomms_build() {
  local b
  for b in mwcomms ins mwctl libmwshim.so; do
    if [ ! -e "$(mwcomms_bin $b)" ]; then
      mw_log "mwcomms: building native parts (make -C native)"
      make -s -C "$MW_ROOT/native" -j2 >&2 || mw_die "mwcomms: native build failed (run make -C native)"
      return 0
    fi
  done
}

mwcomms_start() {
  local iso nins nmax scale nf sock pid bpoll coal
  iso=$(mw_conf_get isolation off)
  nins=$(mw_conf_get ins.count 1)
  nmax=$(mw_conf_get ins.max 32)
  scale=$(mw_conf_get ins.autoscale.conns 0)
  bpoll=$(mw_conf_get ins.busy_poll_us 200)
  coal=$(mw_conf_get ins.coalesce_us 20)
  nf=$(mw_conf_get netflow.address 127.0.0.1:2055)
  sock=$(mwcomms_sock)
  if [ -n "$(mw_pid mwcomms)" ]; then
    mw_log "mwcomms already running (pid $(mw_pid mwcomms))"
    return 0
  fi
  if [ "$iso" = netns ] && [ "$(id -u)" != 0 ]; then
    mw_warn "mwcomms: isolation netns needs root; using isolation off"
    iso=off
  fi
  mwcomms_build
  mkdir -p "$(dirname "$sock")"
  local kv
  for kv in "ins.max=$nmax" "ins.autoscale.conns=$scale" "ins.busy_poll_us=$bpoll" "ins.coalesce_us=$coal"; do
    case "${kv#*=}" in *[!0-9]*) mw_die "mwcomms: $kv in mw.conf is not a number" ;; esac
  done
  mw_log "mwcomms: starting (isolation $iso, $nins INS (at most $nmax), autoscale ${scale} conns/INS, NetFlow $nf, rendezvous $sock)"
  mw_start mwcomms "$(mwcomms_log)" "$(mwcomms_bin mwcomms)" --rendezvous "$sock" --ins "$nins" \
    --ins-max "$nmax" --autoscale-conns "$scale" --isolation "$iso" --netflow "$nf" \
    --ins-busy-poll-us "$bpoll" --ins-coalesce-us "$coal"
  if ! "$(mwcomms_bin mwctl)" --rendezvous "$sock" wait 15 >/dev/null 2>&1 || [ -z "$(mw_pid mwcomms)" ]; then
    tail -n 5 "$(mwcomms_log)" >&2 2>/dev/null || true
    mw_stop mwcomms 5
    mw_die "mwcomms: did not come up; see $(mwcomms_log)"
  fi
}

mwcomms_stop() {
  mw_stop mwcomms 15
}

mwcomms_status() {
  local pid sock js
  pid=$(mw_pid mwcomms)
  sock=$(mwcomms_sock)
  if [ -n "$pid" ] && js=$("$(mwcomms_bin mwctl)" --rendezvous "$sock" status 2>/dev/null) && [ -n "$js" ]; then
    echo "$js" | jq -c --arg log "$(mwcomms_log)" '. + {name:"mwcomms", running:true, log:$log}'
  else
    jq -cn --arg sock "$sock" --arg pid "${pid:-}" --arg log "$(mwcomms_log)" \
      '{name:"mwcomms", healthy:false, running:($pid!=""), rendezvous:$sock, log:$log}'
  fi
}

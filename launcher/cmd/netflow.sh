# summary: NetFlow client: watch the stream, list/close sockets, block addresses, get/set features, manage INS
cmd_help() {
  cat <<H
usage: ./mw netflow [--connect HOST:PORT] [--token T] COMMAND ...
Runs the NetFlow command-line client (native/build/mwnf) against the running stack. The address
comes from \$MW_STATE/mw.conf (key netflow.address, or netflow_addr; default 127.0.0.1:2055) and
the token from netflow.token / \$MW_NETFLOW_TOKEN, unless given on the command line.

H
  mw_netflow_bin >/dev/null 2>&1 && "$(mw_netflow_bin)" --help | sed -n '/^commands:/,$p'
  echo
  echo "Protocol and every message layout: docs/protocol.md"
}

# mw_netflow_bin: path of mwnf, built when missing.
mw_netflow_bin() {
  local bin="$MW_ROOT/native/build/mwnf"
  if [ ! -x "$bin" ]; then
    mw_log "building the NetFlow client (make -C native build/mwnf)"
    make -s -C "$MW_ROOT/native" build/mwnf >&2 || mw_die "netflow: building native/build/mwnf failed (see output above)"
  fi
  echo "$bin"
}

cmd_main() {
  [ $# -ge 1 ] || { cmd_help; exit 2; }
  local bin addr token have_connect="" have_token="" a
  bin=$(mw_netflow_bin) || exit 1
  for a in "$@"; do
    case "$a" in
      --connect|--connect=*) have_connect=1 ;;
      --token|--token=*) have_token=1 ;;
    esac
  done
  addr=$(mw_conf_get netflow.address "")
  [ -n "$addr" ] || addr=$(mw_conf_get netflow_addr 127.0.0.1:2055)
  token=$(mw_conf_get netflow.token "${MW_NETFLOW_TOKEN:-}")
  local -a pre=()
  [ -n "$have_connect" ] || pre+=(--connect "$addr")
  [ -n "$have_token" ] || [ -z "$token" ] || export MW_NETFLOW_TOKEN="$token"
  exec "$bin" "${pre[@]}" "$@"
}

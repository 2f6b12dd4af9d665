# Shared helpers for ./mw subcommands. Sourced, never run.
# Conventions:
#   - mw_log prints progress to stderr with a prefix; mw_die prints one line and exits 1.
#   - State lives under $MW_STATE (default $MW_ROOT/var): pids in run/, logs in log/,
#     service data in data/, downloaded distributions in dist/.
#   - Every service is tracked by a pid file run/NAME.pid; stale pid files are removed.

MW_STATE=${MW_STATE:-$MW_ROOT/var}

mw_log()  { printf '[mw] %s\n' "$*" >&2; }
mw_warn() { printf '[mw] warning: %s\n' "$*" >&2; }
mw_die()  { printf 'mw: error: %s\n' "$*" >&2; exit 1; }

mw_init_state() {
  mkdir -p "$MW_STATE" || mw_die "cannot create state directory $MW_STATE"
  MW_STATE=$(cd "$MW_STATE" && pwd)
  export MW_STATE
  mkdir -p "$MW_STATE/run" "$MW_STATE/log" "$MW_STATE/data" "$MW_STATE/dist"
}

# mw_pid NAME: print the pid of a running service, or nothing (removes a stale pid file).
mw_pid() {
  local f="$MW_STATE/run/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
  else
    rm -f "$f"
  fi
}

# mw_start NAME LOGFILE CMD...: start CMD in the background in its own process
# group, record its pid.
mw_start() {
  local name=$1 log=$2; shift 2
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  echo $! > "$MW_STATE/run/$name.pid"
}

# mw_stop NAME [TIMEOUT_S]: TERM the service's process group, KILL after the timeout.
mw_stop() {
  local name=$1 timeout=${2:-20} pid i
  pid=$(mw_pid "$name")
  [ -n "$pid" ] || return 0
  mw_log "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    mw_warn "$name did not stop in ${timeout}s, killing it"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$MW_STATE/run/$name.pid"
}

# mw_port_free HOST PORT: true when nothing listens there.
mw_port_free() {
  ! (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# mw_wait_port HOST PORT TIMEOUT_S PIDNAME: wait until the port accepts, fail
# early if the service died.
mw_wait_port() {
  local host=$1 port=$2 timeout=$3 name=$4 i
  for ((i = 0; i < timeout * 5; i++)); do
    if ! mw_port_free "$host" "$port"; then return 0; fi
    if [ -n "$name" ] && [ -z "$(mw_pid "$name")" ]; then return 1; fi
    sleep 0.2
  done
  return 1
}

# mw_conf_get KEY DEFAULT: read KEY from $MW_STATE/mw.conf (written by `up`).
mw_conf_get() {
  local v
  v=$(sed -n "s/^$1=//p" "$MW_STATE/mw.conf" 2>/dev/null | tail -n1)
  echo "${v:-$2}"
}
mw_conf_set() {
  touch "$MW_STATE/mw.conf"
  sed -i "/^$1=/d" "$MW_STATE/mw.conf"
  echo "$1=$2" >> "$MW_STATE/mw.conf"
}

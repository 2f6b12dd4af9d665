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

# mw_proc_start PID: the process's start time in clock ticks since boot (field 22
# of /proc/PID/stat), or nothing. Stored beside the pid so that a recycled pid
# is never mistaken for our service.
mw_proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }            # the command name may contain spaces: cut after ") "
  set -- $stat
  echo "${20}"
}

# mw_pid NAME: print the pid of a running service, or nothing (removes a stale
# pid file: process gone, or the pid now belongs to another process).
mw_pid() {
  local f="$MW_STATE/run/$1.pid" pid start now
  [ -f "$f" ] || return 0
  read -r pid start < "$f" 2>/dev/null || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    now=$(mw_proc_start "$pid")
    if [ -z "$start" ] || [ "$start" = "$now" ]; then
      echo "$pid"
      return 0
    fi
  fi
  rm -f "$f"
}

# mw_start NAME LOGFILE CMD...: start CMD in the background in its own process
# group (setsid), record "pid starttime" in run/NAME.pid.
mw_start() {
  local name=$1 log=$2 pid; shift 2
  setsid "$@" >>"$log" 2>&1 < /dev/null &
  pid=$!
  echo "$pid $(mw_proc_start "$pid")" > "$MW_STATE/run/$name.pid"
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
  ! timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# mw_port_owner PORT: "NAME pid N" of the process listening on PORT, if visible.
mw_port_owner() {
  local line
  line=$(ss -ltnpH "sport = :$1" 2>/dev/null | head -n1)
  case "$line" in
    *users:*) echo "$line" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 pid \2/p' ;;
    "") ;;
    *) echo "another process" ;;
  esac
}

# mw_require_port WHAT HOST PORT HINT: die with one line when the port is taken.
mw_require_port() {
  local what=$1 host=$2 port=$3 hint=$4 owner
  if ! mw_port_free "$host" "$port" || [ -n "$(ss -ltnH "sport = :$port" 2>/dev/null)" ]; then
    owner=$(mw_port_owner "$port")
    mw_die "$what port $host:$port is already in use${owner:+ by $owner}; stop it or choose another port ($hint)"
  fi
}

# mw_free_port: print a TCP port on 127.0.0.1 that nothing listens on now.
mw_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# mw_valid_port VALUE WHAT: die unless VALUE is a TCP port number.
mw_valid_port() {
  case "$1" in ''|*[!0-9]*) mw_die "$2: '$1' is not a port number" ;; esac
  [ "$1" -ge 1 ] && [ "$1" -le 65535 ] || mw_die "$2: '$1' is not a port number (1-65535)"
}

# mw_json_str VALUE: VALUE as a JSON string literal.
mw_json_str() {
  jq -Rn --arg v "$1" '$v'
}

# mw_tail_log FILE: the last non-empty line of a log, shortened, for one-line errors.
mw_tail_log() {
  grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n1 | cut -c1-200
}

# mw_dist_dir: where downloaded distributions are cached. $MW_DIST when set
# (tests share one cache), else $MW_STATE/dist.
mw_dist_dir() {
  local d=${MW_DIST:-$MW_STATE/dist}
  mkdir -p "$d" || mw_die "cannot create distribution cache $d"
  (cd "$d" && pwd)
}

# mw_java_major JAVA: the feature release of a java binary (17, 21, 25...), or nothing.
mw_java_major() {
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = //p' | head -n1 | sed 's/^1\.//'
}

# mw_find_java MIN: print a java binary of at least release MIN: $JAVA<MIN>_HOME,
# then $JAVA_HOME, then the java on PATH, then /usr/lib/jvm/* (newest first).
mw_find_java() {
  local min=$1 var cand major
  var="JAVA${min}_HOME"
  for cand in ${!var:+"${!var}/bin/java"} ${JAVA_HOME:+"$JAVA_HOME/bin/java"} \
              "$(command -v java 2>/dev/null)" $(ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV); do
    [ -x "$cand" ] || continue
    major=$(mw_java_major "$cand")
    [ -n "$major" ] && [ "$major" -ge "$min" ] 2>/dev/null && { echo "$cand"; return 0; }
  done
  return 1
}

# mw_state_procs: pids of processes that name $MW_STATE/ on their command line
# (every service must: a config or socket path under it, or -Dmw.state=DIR), except
# ./mw launcher shells and the private stacks of ./mw test under $MW_STATE/test/.
mw_state_procs() {
  local p args
  for p in $(pgrep -f -- "$MW_STATE/" || true); do
    [ "$p" = "$$" ] && continue
    { args=$(tr '\0' ' ' < "/proc/$p/cmdline"); } 2>/dev/null || continue   # gone meanwhile
    case "$args" in *bash*/mw\ *|*bash\ mw\ *|*bash*/launcher/*|*"$MW_STATE/test/"*) continue ;; esac
    echo "$p"
  done
}

# mw_services: the service files of ./mw up, in start order.
mw_services() {
  ls "$MW_ROOT"/launcher/services/[0-9][0-9]-*.sh 2>/dev/null | sort
}
# mw_service_enabled NAME: true unless mw.conf's `services` (set by up --only) leaves NAME out.
mw_service_enabled() {
  local list
  list=$(mw_conf_get services)
  [ -z "$list" ] && return 0
  case ",$list," in *",$1,"*) return 0 ;; *) return 1 ;; esac
}
# mw_service_name FILE: 10-kafka.sh -> kafka (function prefix: '-' becomes '_').
mw_service_name() {
  local n
  n=$(basename "$1" .sh); n=${n#[0-9][0-9]-}
  echo "${n//-/_}"
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
# Keys are dotted names (kafka.bootstrap, registry.url, ...); values run to the end of the line.
mw_conf_get() {
  local v k=${1//./\\.}
  v=$(sed -n "s|^$k=||p" "$MW_STATE/mw.conf" 2>/dev/null | tail -n1)
  echo "${v:-${2:-}}"
}
mw_conf_set() {
  local k=${1//./\\.}
  touch "$MW_STATE/mw.conf"
  sed -i "\|^$k=|d" "$MW_STATE/mw.conf"
  printf '%s=%s\n' "$1" "$2" >> "$MW_STATE/mw.conf"
}

# mw_ensure_jar MODULE NAME: build MODULE/target/MODULE-all.jar, and the modules it needs,
# when it is missing (a fresh checkout), so `up` and `demo` work before any `./mw build`.
mw_ensure_jar() {
  local module=$1 name=$2
  [ -f "$MW_ROOT/$module/target/$module-all.jar" ] && return 0
  mw_log "$name: building $module (mvn -pl $module -am install -DskipTests)"
  (cd "$MW_ROOT" && mvn -q -B -pl "$module" -am install -DskipTests) >&2 ||
    mw_die "$name: build of $module failed; run ./mw build to see why"
}

# mw_already_up NAME OPS_PORT LOG: true when the service is running with its /health up
# (logged, so `up` twice is a no-op); stops with a one-line error when its pid lives but
# /health does not answer; false when it is not running.
mw_already_up() {
  local name=$1 port=$2 log=$3 pid
  pid=$(mw_pid "$name")
  [ -n "$pid" ] || return 1
  if curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    mw_log "$name: already running (pid $pid, ops http://127.0.0.1:$port)"
    return 0
  fi
  mw_die "$name: pid $pid is running but http://127.0.0.1:$port/health is not up; run ./mw down, then see $log"
}

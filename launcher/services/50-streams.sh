# Service: the feature topology (Kafka Streams): mw.socket-events -> mw.flow-features,
# mw.peer-features, mw.ins-load. Shaded jar streams-topology/target/streams-topology-all.jar.
#
# Config (mw.conf): kafka.bootstrap, registry.url, kafka.config (through services.config,
# the common --config file of the Java services), streams.ops_port (18092),
# streams.heap (384m), streams.args (extra options, e.g. "--set flow.emit.interval.ms=2000").
# State: $MW_STATE/data/streams (Kafka Streams state.dir; rebuilt from the changelogs if lost).

streams_flags="--streams-ops-port:streams.ops_port"

# mw_streams_app_start NAME APP OPS_PORT HEAP EXTRA_ARGS: start one app of the jar and wait
# until its /health is up (Kafka Streams RUNNING/REBALANCING). Shared with 60-detector.sh.
mw_streams_app_start() {
  local name=$1 app=$2 port=$3 heap=$4 extra=$5 jar java conf log i health
  jar="$MW_ROOT/streams-topology/target/streams-topology-all.jar"
  mw_ensure_jar streams-topology "$name"
  java=$(mw_find_java 17) || mw_die "$name: no Java 17 or newer found (install openjdk-17-jdk-headless or set JAVA_HOME)"
  log="$MW_STATE/log/$name.log"
  mw_already_up "$name" "$port" "$log" && return 0
  mw_valid_port "$port" "$name ops port"
  mw_require_port "$name ops" 127.0.0.1 "$port" "--set ${name}.ops_port=PORT"
  mkdir -p "$MW_STATE/data/$name"
  local args=("$app" --state-dir "$MW_STATE/data/$name" --ops-port "$port")
  conf=$(mw_conf_get services.config)
  if [ -n "$conf" ] && [ -f "$conf" ]; then
    args+=(--config "$conf")
  else
    args+=(--bootstrap-servers "$(mw_conf_get kafka.bootstrap 127.0.0.1:19092)"
           --registry "$(mw_conf_get registry.url http://127.0.0.1:18081/apis/ccompat/v7)")
    local kconf; kconf=$(mw_conf_get kafka.config)
    if [ -n "$kconf" ] && [ -f "$kconf" ]; then
      local k v
      while IFS='=' read -r k v; do
        case "$k" in ''|\#*|\!*|bootstrap.servers) continue ;; esac
        args+=(--set "kafka.$k=$v")
      done < "$kconf"
    fi
  fi
  # shellcheck disable=SC2206
  [ -n "$extra" ] && args+=($extra)
  mw_log "$name: starting ($app, ops http://127.0.0.1:$port, log $log)"
  printf '\n=== %s ./mw up: starting %s\n' "$(date -u +%FT%TZ)" "$name" >> "$log"
  mw_start "$name" "$log" "$java" -Xms64m "-Xmx$heap" -XX:+UseG1GC "-Dmw.state=$MW_STATE/" -jar "$jar" "${args[@]}"
  for ((i = 0; i < 600; i++)); do
    [ -n "$(mw_pid "$name")" ] || mw_die "$name: exited during startup ($(mw_tail_log "$log")); see $log"
    health=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null || true)
    if curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      mw_log "$name: running (ops http://127.0.0.1:$port)"
      return 0
    fi
    sleep 0.2
    if (( i % 50 == 49 )); then mw_log "$name: waiting for Kafka Streams to reach RUNNING (${health:-no answer yet})"; fi
  done
  mw_stop "$name" 30
  mw_die "$name: not healthy within 120s; see $log"
}

mw_streams_app_status() {
  local name=$1 port=$2 pid healthy=false running=false state=null
  pid=$(mw_pid "$name")
  if [ -n "$pid" ]; then
    running=true
    local body; body=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null || true)
    curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && healthy=true
    state=$(printf '%s' "$body" | jq -c '.. | .state? // empty' 2>/dev/null | head -n1)
    [ -n "$state" ] || state=null
  fi
  jq -cn --arg name "$name" --arg pid "${pid:-}" --arg ops "http://127.0.0.1:$port" \
     --arg log "$MW_STATE/log/$name.log" --argjson healthy $healthy --argjson running $running \
     --argjson state "$state" \
     '{name:$name, healthy:$healthy, running:$running, endpoint:$ops, ops:$ops, streams_state:$state,
       pid:(if $pid=="" then null else ($pid|tonumber) end), log:$log}'
}

streams_start() {
  mw_streams_app_start streams features "$(mw_conf_get streams.ops_port 18092)" \
    "$(mw_conf_get streams.heap 384m)" "$(mw_conf_get streams.args)"
}

streams_stop() {
  mw_stop streams 40
}

streams_status() {
  mw_streams_app_status streams "$(mw_conf_get streams.ops_port 18092)"
}

# Service: netflow-ingest: the mwcomms NetFlow stream -> Avro SocketEvents on mw.socket-events.
# Shaded jar netflow-ingest/target/netflow-ingest-all.jar (main io.magicwand.ingest.IngestMain).
#
# Config (mw.conf): netflow.address (the mwcomms NetFlow port; ingest starts only when it is
# known), ingest.host (host tag of that source, default "local"), ingest.sources (HOST=ADDR:PORT,...
# to read several mwcomms instead), kafka.bootstrap, registry.url, kafka.config (through
# services.config, the common --config file of the Java services), ingest.ops_port (18091),
# ingest.capture_dir (write rotating NetFlow capture files there; empty = off), ingest.heap (256m),
# ingest.args (extra options, e.g. "--compression zstd --set kafka.linger.ms=20").

ingest_flags="--ingest-ops-port:ingest.ops_port --ingest-capture-dir:ingest.capture_dir"

ingest_jar() { echo "$MW_ROOT/netflow-ingest/target/netflow-ingest-all.jar"; }
ingest_log() { echo "$MW_STATE/log/ingest.log"; }
ingest_port() { mw_conf_get ingest.ops_port 18091; }

# The --source list: ingest.sources, else "<ingest.host>=<netflow.address>"; empty when unknown.
ingest_sources() {
  local s nf
  s=$(mw_conf_get ingest.sources)
  if [ -n "$s" ]; then echo "$s"; return 0; fi
  nf=$(mw_conf_get netflow.address)
  [ -n "$nf" ] && echo "$(mw_conf_get ingest.host local)=$nf"
  return 0
}

ingest_start() {
  local jar java port log conf sources extra i health cap
  jar=$(ingest_jar); port=$(ingest_port); log=$(ingest_log)
  sources=$(ingest_sources)
  if [ -z "$sources" ]; then
    mw_log "ingest: no NetFlow address known (netflow.address / ingest.sources unset); not starting"
    return 0
  fi
  mw_ensure_jar netflow-ingest ingest
  java=$(mw_find_java 17) || mw_die "ingest: no Java 17 or newer found (install openjdk-17-jdk-headless or set JAVA_HOME)"
  mw_already_up ingest "$port" "$log" && return 0
  mw_valid_port "$port" "ingest ops port"
  mw_require_port "ingest ops" 127.0.0.1 "$port" "--ingest-ops-port PORT"
  local args=(--ops-port "$port")
  local src
  for src in ${sources//,/ }; do args+=(--source "$src"); done
  conf=$(mw_conf_get services.config)
  if [ -n "$conf" ] && [ -f "$conf" ]; then
    args+=(--config "$conf")
  else
    args+=(--bootstrap-servers "$(mw_conf_get kafka.bootstrap 127.0.0.1:19092)"
           --registry "$(mw_conf_get registry.url http://127.0.0.1:18081/apis/ccompat/v7)")
  fi
  cap=$(mw_conf_get ingest.capture_dir)
  if [ -n "$cap" ]; then
    mkdir -p "$cap" || mw_die "ingest: cannot create capture directory $cap"
    args+=(--capture-dir "$cap")
  fi
  extra=$(mw_conf_get ingest.args)
  # shellcheck disable=SC2206
  [ -n "$extra" ] && args+=($extra)
  mw_log "ingest: starting (NetFlow $sources, ops http://127.0.0.1:$port, log $log)"
  printf '\n=== %s ./mw up: starting netflow-ingest\n' "$(date -u +%FT%TZ)" >> "$log"
  mw_start ingest "$log" "$java" -Xms32m "-Xmx$(mw_conf_get ingest.heap 256m)" "-Dmw.state=$MW_STATE" \
    -jar "$jar" "${args[@]}"
  for ((i = 0; i < 300; i++)); do
    [ -n "$(mw_pid ingest)" ] || mw_die "ingest: exited during startup ($(mw_tail_log "$log")); see $log"
    if curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      mw_log "ingest: running (ops http://127.0.0.1:$port)"
      return 0
    fi
    sleep 0.2
    if (( i % 50 == 49 )); then
      health=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null | jq -r '.reason // empty' 2>/dev/null || true)
      mw_log "ingest: waiting for ingest to be healthy (${health:-no answer yet})"
    fi
  done
  health=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null | jq -r '.reason // empty' 2>/dev/null || true)
  mw_stop ingest 20
  mw_die "ingest: not healthy within 60s (${health:-no answer}); see $log"
}

ingest_stop() {
  mw_stop ingest 40
}

ingest_status() {
  local pid port healthy=false running=false body="" sources
  pid=$(mw_pid ingest); port=$(ingest_port); sources=$(ingest_sources)
  if [ -n "$pid" ]; then
    running=true
    body=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null || true)
    curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && healthy=true
  fi
  [ -n "$body" ] && printf '%s' "$body" | jq -e . >/dev/null 2>&1 || body=null
  jq -cn --arg pid "${pid:-}" --arg ops "http://127.0.0.1:$port" --arg log "$(ingest_log)" --arg src "$sources" \
     --argjson healthy $healthy --argjson running $running --argjson health "$body" \
     '{name:"ingest", healthy:$healthy, running:$running, endpoint:$ops, ops:$ops, sources:$src,
       reason:($health.reason // null), pid:(if $pid=="" then null else ($pid|tonumber) end), log:$log}'
}

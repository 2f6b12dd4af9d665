# Service: the mitigation sink: mw.mitigation-decisions -> NetFlow feature requests to mwcomms ->
# mw.mitigation-results. Shaded jar mitigation-sink/target/mitigation-sink-all.jar.
#
# Config (mw.conf): kafka.bootstrap, registry.url, kafka.config (through services.config, the
# common --config file of the Java services), netflow.address (the mwcomms NetFlow port; used for
# every host tag unless sink.netflow_targets maps tags to addresses), sink.netflow_targets
# (HOST=ADDR:PORT,...; default ingest.sources), sink.ops_port (18094), sink.heap (192m), sink.args (extra options, e.g.
# "--set sink.unblock.on.expiry=false" when the detector sends its own unblocks).
# sink.unblock_on_expiry (true|false): whether the sink lifts a BLOCK itself when its ttl ends.
# Default false while the built-in detector (60-detector.sh) is part of the stack, because that
# detector sends its own UNBLOCK decisions; true otherwise (an external engine that only sends
# BLOCKs with a ttl).
# sink.block_close_existing (default true): a BLOCK also closes the address's open connections
# (ADDRESS_BLOCK value 2, an extension), which is what frees the workers a slow attack holds.
# State: $MW_STATE/data/sink (pending unblocks of bans that end by themselves).

sink_flags="--sink-ops-port:sink.ops_port"

sink_jar() { echo "$MW_ROOT/mitigation-sink/target/mitigation-sink-all.jar"; }
sink_log() { echo "$MW_STATE/log/sink.log"; }
sink_port() { mw_conf_get sink.ops_port 18094; }

sink_start() {
  local jar java port log conf targets extra i health
  jar=$(sink_jar); port=$(sink_port); log=$(sink_log)
  mw_ensure_jar mitigation-sink sink
  java=$(mw_find_java 17) || mw_die "sink: no Java 17 or newer found (install openjdk-17-jdk-headless or set JAVA_HOME)"
  mw_already_up sink "$port" "$log" && return 0
  mw_valid_port "$port" "sink ops port"
  mw_require_port "sink ops" 127.0.0.1 "$port" "--sink-ops-port PORT"
  mkdir -p "$MW_STATE/data/sink"
  local args=(--state-dir "$MW_STATE/data/sink" --ops-port "$port" --netflow "$(mw_conf_get netflow.address 127.0.0.1:2055)")
  local unblock=true
  [ -f "$MW_ROOT/launcher/services/60-detector.sh" ] && unblock=false
  unblock=$(mw_conf_get sink.unblock_on_expiry "$unblock")
  args+=(--set "sink.unblock.on.expiry=$unblock")
  # A ban cuts the source off: its open (slow) connections are closed too (ADDRESS_BLOCK val 2).
  args+=(--set "sink.block.close.existing=$(mw_conf_get sink.block_close_existing true)")
  # The same host tags as netflow-ingest reads (ingest.sources), so decisions about a host go back
  # to the mwcomms its telemetry came from; any other tag goes to netflow.address.
  targets=$(mw_conf_get sink.netflow_targets "$(mw_conf_get ingest.sources)")
  [ -n "$targets" ] && args+=(--netflow-targets "$targets")
  conf=$(mw_conf_get services.config)
  if [ -n "$conf" ] && [ -f "$conf" ]; then
    args+=(--config "$conf")
  else
    args+=(--bootstrap-servers "$(mw_conf_get kafka.bootstrap 127.0.0.1:19092)"
           --registry "$(mw_conf_get registry.url http://127.0.0.1:18081/apis/ccompat/v7)")
    local kconf; kconf=$(mw_conf_get kafka.config)
    [ -n "$kconf" ] && [ -f "$kconf" ] && args+=(--kafka-config "$kconf")
  fi
  extra=$(mw_conf_get sink.args)
  # shellcheck disable=SC2206
  [ -n "$extra" ] && args+=($extra)
  mw_log "sink: starting (NetFlow $(mw_conf_get netflow.address 127.0.0.1:2055), ops http://127.0.0.1:$port, log $log)"
  printf '\n=== %s ./mw up: starting mitigation-sink\n' "$(date -u +%FT%TZ)" >> "$log"
  mw_start sink "$log" "$java" -Xms32m "-Xmx$(mw_conf_get sink.heap 192m)" -jar "$jar" "${args[@]}"
  for ((i = 0; i < 600; i++)); do
    [ -n "$(mw_pid sink)" ] || mw_die "sink: exited during startup ($(mw_tail_log "$log")); see $log"
    if curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      mw_log "sink: running (ops http://127.0.0.1:$port)"
      return 0
    fi
    sleep 0.2
    if (( i % 50 == 49 )); then
      health=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null || true)
      mw_log "sink: waiting for the sink to be healthy (${health:-no answer yet})"
    fi
  done
  mw_stop sink 20
  mw_die "sink: not healthy within 120s; see $log"
}

sink_stop() {
  mw_stop sink 30
}

sink_status() {
  local pid port healthy=false running=false body="" nf=null
  pid=$(mw_pid sink); port=$(sink_port)
  if [ -n "$pid" ]; then
    running=true
    body=$(curl -sS -m 2 "http://127.0.0.1:$port/health" 2>/dev/null || true)
    curl -fsS -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1 && healthy=true
    nf=$(printf '%s' "$body" | jq -c '.. | .netflow? // empty' 2>/dev/null | head -n1)
    [ -n "$nf" ] || nf=null
  fi
  jq -cn --arg pid "${pid:-}" --arg ops "http://127.0.0.1:$port" --arg log "$(sink_log)" \
     --argjson healthy $healthy --argjson running $running --argjson nf "$nf" \
     '{name:"sink", healthy:$healthy, running:$running, endpoint:$ops, ops:$ops, netflow:$nf,
       pid:(if $pid=="" then null else ($pid|tonumber) end), log:$log}'
}

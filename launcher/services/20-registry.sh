# Service: the embedded schema registry, Apicurio Registry 3.3.3 (a Quarkus app
# that needs Java 21+), serving the Confluent-compatible API at /apis/ccompat/v7
# on loopback; or an external registry given with --registry URL.
#
# Config (mw.conf): registry.mode embedded|external, registry.url, registry.host,
# registry.port (18081), registry.management_port (18082), registry.heap (512m).
# The functions only use $MW_STATE and mw.conf, so `./mw test` runs a private
# instance by calling them with another state directory and port.

REGISTRY_VERSION=3.3.3
REGISTRY_ARTIFACT="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all"
registry_flags="--registry-port:registry.port --registry-management-port:registry.management_port --registry-heap:registry.heap"

registry_java() {
  local j
  j=$(mw_find_java 21) ||
    mw_die "registry: Apicurio Registry $REGISTRY_VERSION needs Java 21 or newer and none was found (set JAVA21_HOME, install a JDK 21+ under /usr/lib/jvm, or use --registry URL)"
  echo "$j"
}

# registry_dist: print the unpacked distribution directory, fetching it with Maven when missing.
registry_dist() {
  local dir tmp
  dir="$(mw_dist_dir)/apicurio-$REGISTRY_VERSION"
  if [ ! -f "$dir/.complete" ]; then
    mw_log "registry: fetching $REGISTRY_ARTIFACT with Maven (once, into $dir)"
    rm -rf "$dir"; tmp="$dir.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
    if ! (cd "$tmp" && mvn -B -q dependency:copy -Dartifact="$REGISTRY_ARTIFACT" \
            -DoutputDirectory="$tmp" -Dmdep.stripVersion=true) >"$tmp/mvn.log" 2>&1; then
      cp "$tmp/mvn.log" "$MW_STATE/log/registry-fetch.log" 2>/dev/null || true
      rm -rf "$tmp"
      mw_die "registry: could not fetch $REGISTRY_ARTIFACT with Maven; see $MW_STATE/log/registry-fetch.log"
    fi
    mw_log "registry: unpacking"
    tar xzf "$tmp"/apicurio-registry-app*.tar.gz -C "$tmp" || { rm -rf "$tmp"; mw_die "registry: could not unpack the Apicurio distribution"; }
    rm -f "$tmp"/apicurio-registry-app*.tar.gz "$tmp/mvn.log"
    [ -f "$tmp/quarkus-run.jar" ] || { rm -rf "$tmp"; mw_die "registry: the Apicurio archive has no quarkus-run.jar"; }
    touch "$tmp/.complete"
    mv "$tmp" "$dir"
  fi
  echo "$dir"
}

registry_log() { echo "$MW_STATE/log/registry.log"; }

registry_url() {
  mw_conf_get registry.url "http://$(mw_conf_get registry.host 127.0.0.1):$(mw_conf_get registry.port 18081)/apis/ccompat/v7"
}

# registry_healthy URL: the Confluent-compatible subjects listing answers 200.
registry_healthy() {
  local code
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "${1%/}/subjects" 2>/dev/null) || true
  [ "$code" = 200 ]
}

registry_start() {
  local mode url host port mport heap java dist data log i
  mode=$(mw_conf_get registry.mode embedded)
  url=$(registry_url)
  if [ "$mode" = external ]; then
    registry_healthy "$url" || mw_die "registry: external registry $url does not answer GET ${url%/}/subjects with 200 (check --registry)"
    mw_log "registry: using external registry at $url"
    return 0
  fi
  host=$(mw_conf_get registry.host 127.0.0.1)
  port=$(mw_conf_get registry.port 18081)
  mport=$(mw_conf_get registry.management_port 18082)
  heap=$(mw_conf_get registry.heap 512m)
  log=$(registry_log)
  if [ -n "$(mw_pid registry)" ]; then
    if registry_healthy "$url"; then
      mw_log "registry: already running at $url (pid $(mw_pid registry))"
      return 0
    fi
    mw_die "registry: pid $(mw_pid registry) is running but $url does not answer; run ./mw down, then see $log"
  fi
  mw_require_port "registry HTTP" "$host" "$port" "--registry-port"
  mw_require_port "registry management" "$host" "$mport" "--registry-management-port"
  java=$(registry_java)
  dist=$(registry_dist)
  data="$MW_STATE/data/registry"; mkdir -p "$data"
  mw_log "registry: starting Apicurio Registry $REGISTRY_VERSION at $url (log $log)"
  printf '\n=== %s ./mw up: starting Apicurio Registry %s\n' "$(date -u +%FT%TZ)" "$REGISTRY_VERSION" >> "$log"
  # Schemas persist in an H2 file under the state dir, so schema ids stay valid
  # for the records already in Kafka across down/up. Both HTTP servers bind to
  # loopback only (Quarkus's management interface defaults to 0.0.0.0:9000).
  mw_start registry "$log" env -C "$data" "$java" -Xms64m "-Xmx$heap" \
    "-Dmw.state=$MW_STATE" \
    "-Dquarkus.http.host=$host" "-Dquarkus.http.port=$port" \
    "-Dquarkus.management.host=$host" "-Dquarkus.management.port=$mport" \
    "-Dapicurio.datasource.url=jdbc:h2:file:$data/registry;DB_CLOSE_ON_EXIT=FALSE" \
    -jar "$dist/quarkus-run.jar"
  for ((i = 1; i <= 900; i++)); do
    [ -n "$(mw_pid registry)" ] || mw_die "registry: exited during startup ($(mw_tail_log "$log")); see $log"
    registry_healthy "$url" && break
    sleep 0.2
    (( i % 25 == 0 )) && mw_log "registry: waiting for $url ($(( i / 5 ))s)"
  done
  if ! registry_healthy "$url"; then
    mw_stop registry 20
    mw_die "registry: did not come up within 180s; see $log"
  fi
  mw_log "registry: ready at $url"
}

registry_stop() {
  [ "$(mw_conf_get registry.mode embedded)" = external ] && return 0
  mw_stop registry 30
}

registry_status() {
  local mode url pid healthy=false running=false
  mode=$(mw_conf_get registry.mode embedded)
  url=$(registry_url)
  if [ "$mode" = external ]; then
    registry_healthy "$url" && { healthy=true; running=true; }
  else
    pid=$(mw_pid registry)
    if [ -n "$pid" ]; then
      running=true
      registry_healthy "$url" && healthy=true
    fi
  fi
  jq -cn --arg url "$url" --arg mode "$mode" --arg pid "${pid:-}" --arg log "$(registry_log)" \
     --argjson healthy $healthy --argjson running $running \
     '{name:"registry", healthy:$healthy, running:$running, mode:$mode, endpoint:$url, url:$url,
       pid:(if $pid=="" then null else ($pid|tonumber) end),
       log:(if $mode=="embedded" then $log else null end)}'
}

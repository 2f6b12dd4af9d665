# summary: end-to-end scenario: protected Apache httpd under benign load and slow attacks, live summary, report
cmd_help() {
  cat <<H
usage: ./mw demo [OPTIONS]

Builds what is missing, starts the embedded stack (./mw up) unless it is already
running, runs Apache httpd (prefork, small MaxRequestWorkers, temporary config on
a high loopback port) under ./mw protect, and plays the same scenario twice:

  protection ON   benign load; slowloris from several sources; pause; slow read
  protection OFF  the same with the mitigation sink stopped (detections still
                  happen, nothing is applied); other attacker addresses, so that
                  bans of the first run cannot help the second

A one-screen live summary shows the benign success rate and latency, open server
connections per source (ss), detections and mitigations applied. The final report
compares the two runs. Ctrl-C stops cleanly; everything the demo started is
stopped (the stack too, when the demo started it).

Options:
  --quick              shorter phases (about 2 x 45 s instead of 2 x 75 s)
  --timeline SPEC      phases, e.g. benign=10,slowloris=25,pause=8,slowread=25,tail=4
  --rate R             benign requests per second (default 20)
  --connections N      connections per attack (default 60)
  --workers N          Apache MaxRequestWorkers (default 16)
  --port P             Apache port (default: a free port in 18100-18199)
  --no-off             skip the protection-off run
  --keep-up            leave the stack running at the end even if the demo started it
  --plain              one status line per second instead of a refreshed screen
  --up-args "ARGS"     options for ./mw up when the demo starts the stack
                       (e.g. "--kafka-port 29092 --registry-port 28181")
Results: \$MW_STATE/demo/<time>/ (run JSON, tool logs, report.txt, report.json).
H
}

DEMO_STARTED_STACK=0
DEMO_WATCH_PID=""
DEMO_DIR=""
DEMO_SINK_STOPPED=0

demo_free_port() {
  local p
  for p in $(seq 18100 18199); do
    mw_port_free 127.0.0.1 "$p" && { echo "$p"; return 0; }
  done
  return 1
}

demo_jar_missing() { [ ! -f "$MW_ROOT/$1/target/$1-all.jar" ]; }

demo_build() {
  local mods=() m
  for m in netflow-ingest streams-topology mitigation-sink; do
    demo_jar_missing "$m" && mods+=("$m")
  done
  if [ ${#mods[@]} -gt 0 ]; then
    mw_log "demo: building ${mods[*]} (mvn install -DskipTests)"
    (cd "$MW_ROOT" && mvn -q -B -pl "$(IFS=,; echo "${mods[*]}")" -am install -DskipTests) ||
      mw_die "demo: Java build failed (see above)"
  fi
  if [ ! -x "$MW_ROOT/native/build/mwcomms" ] || [ ! -f "$MW_ROOT/native/build/libmwshim.so" ]; then
    mw_log "demo: building native parts (make -C native)"
    make -s -C "$MW_ROOT/native" -j2 || mw_die "demo: native build failed (make -C native)"
  fi
}

# demo_httpd_conf DIR PORT WORKERS: a throw-away prefork config serving DIR/htdocs.
demo_httpd_conf() {
  local dir=$1 port=$2 workers=$3 mods=/usr/lib/apache2/modules m
  mkdir -p "$dir/htdocs" "$dir/logs"
  chmod 755 "$dir" "$dir/htdocs"; chmod 777 "$dir/logs"
  # Apache's workers run as nobody: every directory above the document root must be traversable
  # (a state dir made by mktemp -d is 0700). o+x only: traversal, no listing.
  local d=$dir
  while [ "$d" != / ] && [ "$d" != "$(dirname "$MW_STATE")" ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
  echo "hello from the protected Apache httpd" > "$dir/htdocs/index.html"
  # A large (sparse) file for the slow-read attack: the response must outlast the attack.
  truncate -s 256M "$dir/htdocs/big.bin"
  chmod 644 "$dir/htdocs/"*
  {
    echo "ServerRoot $dir"
    echo "LoadModule mpm_prefork_module $mods/mod_mpm_prefork.so"
    for m in authz_core mime dir; do echo "LoadModule ${m}_module $mods/mod_${m}.so"; done
    cat <<CONF
ServerName localhost
Listen 127.0.0.1:$port
PidFile $dir/httpd.pid
ErrorLog $dir/logs/error.log
LogLevel warn
LogFormat "%a %t \"%r\" %>s %D" timed
CustomLog $dir/logs/access.log timed
DocumentRoot $dir/htdocs
DirectoryIndex index.html
TypesConfig /etc/mime.types
Mutex file:$dir
# Small on purpose: a few dozen slow connections tie up every worker (mod_reqtimeout is not
# loaded, so Apache itself does not cut slow clients off).
Timeout 60
KeepAlive Off
StartServers 4
MinSpareServers 2
MaxSpareServers 8
ServerLimit $workers
MaxRequestWorkers $workers
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory $dir/htdocs>
  AllowOverride None
  Require all granted
</Directory>
CONF
    [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup nogroup\n'
  } > "$dir/httpd.conf"
  apache2 -t -f "$dir/httpd.conf" > "$dir/configtest.txt" 2>&1 ||
    mw_die "demo: Apache config test failed: $(tail -n1 "$dir/configtest.txt")"
}

demo_httpd_start() {
  local dir=$1 port=$2 i
  mw_log "demo: starting Apache httpd (prefork) under ./mw protect on 127.0.0.1:$port"
  mw_start demo-httpd "$dir/httpd.out" "$MW_ROOT/mw" --state-dir "$MW_STATE" protect -- \
    apache2 -f "$dir/httpd.conf" -DFOREGROUND
  for ((i = 0; i < 100; i++)); do
    curl -fsS -m 2 -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && return 0
    [ -n "$(mw_pid demo-httpd)" ] || break
    sleep 0.2
  done
  tail -n 5 "$dir/httpd.out" "$dir/logs/error.log" >&2 2>/dev/null || true
  mw_die "demo: Apache did not answer on 127.0.0.1:$port (see $dir/httpd.out)"
}

demo_httpd_stop() {
  [ -n "$(mw_pid demo-httpd)" ] || return 0
  mw_stop demo-httpd 20
}

demo_cleanup() {
  local rc=$?
  trap - INT TERM EXIT
  set +e
  demo_httpd_stop
  if [ -n "$DEMO_WATCH_PID" ]; then
    kill -TERM -- "-$DEMO_WATCH_PID" 2>/dev/null || kill -TERM "$DEMO_WATCH_PID" 2>/dev/null
    wait "$DEMO_WATCH_PID" 2>/dev/null
  fi
  if [ "$DEMO_STARTED_STACK" = 1 ] && [ "${DEMO_KEEP_UP:-0}" = 0 ]; then
    mw_log "demo: stopping the stack it started (./mw down)"
    "$MW_ROOT/mw" --state-dir "$MW_STATE" down >&2 || mw_warn "demo: ./mw down reported an error"
  elif [ "$DEMO_SINK_STOPPED" = 1 ]; then
    mw_log "demo: restarting the mitigation sink it stopped"
    ( sink_start ) || mw_warn "demo: could not restart the sink; run ./mw up"
  fi
  [ -n "$DEMO_DIR" ] && mw_log "demo: results in $DEMO_DIR"
  exit "$rc"
}

cmd_main() {
  local quick=0 timeline="" rate=20 conns=60 workers=16 port="" off=1 plain="" upargs=""
  DEMO_KEEP_UP=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) quick=1; shift ;;
      --timeline) [ $# -ge 2 ] || mw_die "demo: --timeline needs a value"; timeline=$2; shift 2 ;;
      --rate) [ $# -ge 2 ] || mw_die "demo: --rate needs a value"; rate=$2; shift 2 ;;
      --connections) [ $# -ge 2 ] || mw_die "demo: --connections needs a value"; conns=$2; shift 2 ;;
      --workers) [ $# -ge 2 ] || mw_die "demo: --workers needs a value"; workers=$2; shift 2 ;;
      --port) [ $# -ge 2 ] || mw_die "demo: --port needs a value"; port=$2; shift 2 ;;
      --no-off) off=0; shift ;;
      --keep-up) DEMO_KEEP_UP=1; shift ;;
      --plain) plain=--plain; shift ;;
      --up-args) [ $# -ge 2 ] || mw_die "demo: --up-args needs a value"; upargs=$2; shift 2 ;;
      *) mw_die "demo: unknown option '$1' (see ./mw demo --help)" ;;
    esac
  done
  [[ "$rate" =~ ^[0-9]+(\.[0-9]+)?$ ]] || mw_die "demo: --rate must be a number, not '$rate'"
  [[ "$conns" =~ ^[0-9]+$ ]] && [ "$conns" -ge 1 ] || mw_die "demo: --connections must be a positive number"
  [[ "$workers" =~ ^[0-9]+$ ]] && [ "$workers" -ge 2 ] || mw_die "demo: --workers must be at least 2"
  if [ -z "$timeline" ]; then
    if [ $quick = 1 ]; then timeline="benign=6,slowloris=15,pause=6,slowread=15,tail=3"
    else timeline="benign=10,slowloris=25,pause=8,slowread=25,tail=4"; fi
  fi
  [[ "$timeline" =~ ^([a-z]+=[0-9]+,)*[a-z]+=[0-9]+$ ]] || mw_die "demo: --timeline must look like benign=10,slowloris=25,..."
  local t
  for t in apache2 python3 curl ss jq; do
    command -v "$t" >/dev/null || mw_die "demo: $t is needed (launcher/install-deps.sh installs it)"
  done
  [ -f /usr/lib/apache2/modules/mod_mpm_prefork.so ] || mw_die "demo: Apache's prefork MPM module is missing"

  DEMO_DIR="$MW_STATE/demo/$(date -u +%Y%m%dT%H%M%SZ)"
  mkdir -p "$DEMO_DIR"
  trap demo_cleanup EXIT
  trap 'exit 130' INT TERM

  demo_build
  # shellcheck disable=SC1091
  . "$MW_ROOT/launcher/services/70-sink.sh"
  if "$MW_ROOT/mw" --state-dir "$MW_STATE" status --json 2>/dev/null | jq -e '.healthy' >/dev/null 2>&1; then
    mw_log "demo: using the running stack (state $MW_STATE)"
  else
    mw_log "demo: starting the stack (./mw up)"
    DEMO_STARTED_STACK=1
    # shellcheck disable=SC2086
    "$MW_ROOT/mw" --state-dir "$MW_STATE" up $upargs >&2 || mw_die "demo: ./mw up failed (see above)"
  fi
  [ -n "$(mw_pid sink)" ] || { ( sink_start ) || mw_die "demo: the mitigation sink does not start"; }

  # Decisions and results, as JSON lines, for the live summary and the report.
  local conf jar
  conf=$(mw_conf_get services.config)
  jar="$MW_ROOT/mitigation-sink/target/mitigation-sink-all.jar"
  local watch_args=(--bootstrap-servers "$(mw_conf_get kafka.bootstrap 127.0.0.1:19092)"
                    --registry "$(mw_conf_get registry.url http://127.0.0.1:18081/apis/ccompat/v7)")
  [ -n "$conf" ] && [ -f "$conf" ] && watch_args=(--config "$conf")
  setsid "$(mw_find_java 17)" -Xmx96m -cp "$jar" io.magicwand.sink.TopicWatch "${watch_args[@]}" \
    mw.mitigation-decisions mw.mitigation-results > "$DEMO_DIR/topics.jsonl" 2> "$DEMO_DIR/watch.log" &
  DEMO_WATCH_PID=$!
  for ((t = 0; t < 150; t++)); do
    grep -q '"watching"' "$DEMO_DIR/topics.jsonl" 2>/dev/null && break
    kill -0 "$DEMO_WATCH_PID" 2>/dev/null || mw_die "demo: topic watcher failed: $(tail -n2 "$DEMO_DIR/watch.log")"
    sleep 0.2
  done

  [ -n "$port" ] || port=$(demo_free_port) || mw_die "demo: no free port in 18100-18199 (use --port)"
  mw_valid_port "$port" "demo: --port"
  demo_httpd_conf "$DEMO_DIR/httpd" "$port" "$workers"
  local runs=() label srcs_l srcs_r rc
  for label in on off; do
    [ "$label" = off ] && [ $off = 0 ] && continue
    if [ "$label" = on ]; then
      srcs_l=127.0.66.0/28; srcs_r=127.0.67.0/28
    else
      srcs_l=127.0.76.0/28; srcs_r=127.0.77.0/28
      mw_log "demo: protection OFF: stopping the mitigation sink for this run"
      sink_stop; DEMO_SINK_STOPPED=1
    fi
    demo_httpd_start "$DEMO_DIR/httpd" "$port"
    mw_log "demo: run with protection ${label^^} ($timeline)"
    rc=0
    python3 "$MW_ROOT/tools/traffic/mwdemo.py" run --label "$label" --target "127.0.0.1:$port" \
      --topics "$DEMO_DIR/topics.jsonl" --dir "$DEMO_DIR" --out "$DEMO_DIR/run-$label.json" \
      --timeline "$timeline" --rate "$rate" --connections "$conns" \
      --slowloris-sources "$srcs_l" --slowread-sources "$srcs_r" $plain || rc=$?
    demo_httpd_stop
    [ $rc = 0 ] || { mw_warn "demo: run interrupted"; exit 130; }
    runs+=("$DEMO_DIR/run-$label.json")
  done
  python3 "$MW_ROOT/tools/traffic/mwdemo.py" report "${runs[@]}" --json "$DEMO_DIR/report.json" |
    tee "$DEMO_DIR/report.txt"
}

# summary: start the embedded stack (or attach to an external Kafka/registry) and wait until healthy
cmd_help() {
  cat <<H
usage: ./mw up [OPTIONS]

Starts the services of launcher/services/ in order (Kafka broker, schema
registry, then mwcomms, INS pool, ingest, streams, detector, sink as they
exist), waits until each is healthy and prints where everything is. Running
it again while the stack is up changes nothing.

Options:
  --isolation netns|off     INS isolation (default: netns as root, off otherwise)
  --ins N                   number of INS instances (default 2)
  --bootstrap-servers H:P[,H:P...]
                            use this Kafka cluster instead of the embedded broker
  --registry URL            use this schema registry (Confluent-compatible API,
                            e.g. http://host:8081 or http://host/apis/ccompat/v7)
                            instead of the embedded Apicurio Registry
  --kafka-config FILE       Kafka client properties (security.protocol, sasl.*,
                            ssl.*, ...) handed to every service; bootstrap.servers
                            in it selects an external cluster
  --netflow HOST:PORT       NetFlow interface address (default 127.0.0.1:2055)
  --set KEY=VALUE           record any setting in \$MW_STATE/mw.conf for the services
  --only NAME[,NAME...]     start only these services (e.g. kafka,registry);
                            status then judges health on these alone
$(mw_up_service_flag_help)
The resulting settings are written to \$MW_STATE/mw.conf; ./mw status shows health.
H
}

# Flags declared by service files: NAME_flags="--flag:conf.key ...".
mw_up_load_services() {
  local f
  for f in $(mw_services); do
    # shellcheck disable=SC1090
    . "$f"
  done
}
mw_up_service_flags() {
  local f n v
  for f in $(mw_services); do
    n=$(mw_service_name "$f"); v="${n}_flags"
    [ -n "${!v:-}" ] && echo "${!v}"
  done
}
mw_up_service_flag_help() {
  mw_up_load_services
  local spec
  for spec in $(mw_up_service_flags); do
    printf '  %-25s sets %s\n' "${spec%%:*} VALUE" "${spec#*:}"
  done
}

mw_up_default_isolation() {
  if [ "$(id -u)" = 0 ]; then echo netns; else echo off; fi
}

cmd_main() {
  mw_up_load_services
  local -A set=()
  local -a order=()
  local opt val spec key kconf="" found
  put() { [ -n "${set[$1]+x}" ] || order+=("$1"); set[$1]=$2; }
  while [ $# -gt 0 ]; do
    opt=$1
    case "$opt" in
      --*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
      --*) val=${2-}; [ $# -ge 2 ] || mw_die "up: $opt needs a value"; shift 2 ;;
      *) mw_die "up: unexpected argument '$opt' (see ./mw up --help)" ;;
    esac
    case "$opt" in
      --isolation)
        case "$val" in netns|off) put isolation "$val" ;; *) mw_die "up: --isolation must be netns or off, not '$val'" ;; esac ;;
      --ins)
        case "$val" in ''|*[!0-9]*) mw_die "up: --ins needs a positive number, not '$val'" ;; esac
        [ "$val" -ge 1 ] && [ "$val" -le 64 ] || mw_die "up: --ins must be between 1 and 64"
        put ins.count "$val" ;;
      --bootstrap-servers)
        [[ "$val" =~ ^[^,:[:space:]]+:[0-9]+(,[^,:[:space:]]+:[0-9]+)*$ ]] ||
          mw_die "up: --bootstrap-servers must be HOST:PORT[,HOST:PORT...], not '$val'"
        put kafka.mode external; put kafka.bootstrap "$val" ;;
      --registry)
        [[ "$val" =~ ^https?://[^[:space:]]+$ ]] || mw_die "up: --registry must be an http(s) URL, not '$val'"
        put registry.mode external; put registry.url "${val%/}" ;;
      --kafka-config)
        [ -f "$val" ] && [ -r "$val" ] || mw_die "up: --kafka-config: cannot read '$val'"
        kconf=$val ;;
      --netflow)
        [[ "$val" =~ ^[^[:space:]]+:[0-9]+$ ]] || mw_die "up: --netflow must be HOST:PORT, not '$val'"
        mw_valid_port "${val##*:}" "up: --netflow"
        put netflow.address "$val" ;;
      --only)
        local svc names=""
        for f in $(mw_services); do names+="$(mw_service_name "$f") "; done
        for svc in ${val//,/ }; do
          case " $names" in *" $svc "*) ;; *) mw_die "up: --only: no service '$svc' (services: ${names% })" ;; esac
        done
        put services "$val" ;;
      --set)
        [[ "$val" =~ ^[A-Za-z0-9_.-]+=.*$ ]] || mw_die "up: --set needs KEY=VALUE, not '$val'"
        put "${val%%=*}" "${val#*=}" ;;
      *)
        found=""
        for spec in $(mw_up_service_flags); do
          if [ "${spec%%:*}" = "$opt" ]; then found=${spec#*:}; break; fi
        done
        [ -n "$found" ] || mw_die "up: unknown option '$opt' (see ./mw up --help)"
        case "$found" in *port) mw_valid_port "$val" "up: $opt" ;; esac
        put "$found" "$val" ;;
    esac
  done

  # Client properties: copied into the state dir so the services read one stable file.
  if [ -n "$kconf" ]; then
    grep -Evq '^[[:space:]]*(#|!|$)|^[[:space:]]*[A-Za-z0-9_.-]+[[:space:]]*[=:]' "$kconf" &&
      mw_die "up: --kafka-config $kconf: line $(grep -Evn '^[[:space:]]*(#|!|$)|^[[:space:]]*[A-Za-z0-9_.-]+[[:space:]]*[=:]' "$kconf" | head -n1 | cut -d: -f1) is not a 'key=value' property"
    mkdir -p "$MW_STATE/conf"
    cp "$kconf" "$MW_STATE/conf/kafka-client.properties.new"
    put kafka.config "$MW_STATE/conf/kafka-client.properties"
    if [ -z "${set[kafka.bootstrap]+x}" ]; then
      val=$(sed -n 's/^[[:space:]]*bootstrap\.servers[[:space:]]*[=:][[:space:]]*//p' "$kconf" | tail -n1 | tr -d '[:space:]')
      [ -n "$val" ] && { put kafka.mode external; put kafka.bootstrap "$val"; }
    fi
  fi

  # Already up? Then only a no-op is allowed: refuse changed settings instead of
  # silently running with the old ones.
  local running="" f n
  for f in $(mw_services); do
    n=$(mw_service_name "$f")
    [ -n "$(mw_pid "$n")" ] && running+="$n "
  done
  if [ -n "$running" ] && [ -f "$MW_STATE/mw.conf" ]; then
    for key in "${order[@]}"; do
      [ "$key" = kafka.config ] && continue
      [ "$(mw_conf_get "$key")" = "${set[$key]}" ] ||
        mw_die "up: the stack is already running (${running% }) with $key=$(mw_conf_get "$key"); run ./mw down first to change it to ${set[$key]}"
    done
    mw_log "stack already running (${running% }); checking every service"
    rm -f "$MW_STATE/conf/kafka-client.properties.new"
  else
    [ -f "$MW_STATE/conf/kafka-client.properties.new" ] &&
      mv "$MW_STATE/conf/kafka-client.properties.new" "$MW_STATE/conf/kafka-client.properties"
    mw_up_write_conf order set
  fi

  # Start in order; on failure stop what this run started, so nothing is left half up.
  local -a started=()
  for f in $(mw_services); do
    n=$(mw_service_name "$f")
    mw_service_enabled "$n" || continue
    local was_running=""; [ -n "$(mw_pid "$n")" ] && was_running=1
    if ! ( "${n}_start" ); then
      local i
      for ((i = ${#started[@]} - 1; i >= 0; i--)); do ( "${started[$i]}_stop" ) || true; done
      exit 1
    fi
    [ -n "$was_running" ] || started+=("$n")
  done
  mw_log "stack is up (state: $MW_STATE); ./mw status for health, ./mw down to stop"
  # shellcheck disable=SC1090
  . "$MW_ROOT/launcher/cmd/status.sh"
  mw_status_print table || true
}

# mw_up_write_conf ORDER_ARRAY SET_ASSOC: a fresh mw.conf = defaults + options.
mw_up_write_conf() {
  local -n _order=$1 _set=$2
  local host port tmp key
  tmp="$MW_STATE/mw.conf.tmp"
  {
    echo "# Written by ./mw up at $(date -u +%FT%TZ); read by the services and commands (mw_conf_get)."
    echo "# Change settings with ./mw down && ./mw up OPTIONS (or --set KEY=VALUE)."
  } > "$tmp"
  local -A conf=(
    [isolation]=$(mw_up_default_isolation)
    [ins.count]=2
    [kafka.mode]=embedded
    [kafka.host]=127.0.0.1
    [kafka.port]=19092
    [kafka.controller_port]=19093
    [kafka.config]=""
    [registry.mode]=embedded
    [registry.host]=127.0.0.1
    [registry.port]=18081
    [registry.management_port]=18082
    [services]=""
    [netflow.address]=127.0.0.1:2055
    [mwcomms.socket]=$MW_STATE/run/mwcomms.sock
    [ingest.ops_port]=18091
    [streams.ops_port]=18092
    [detector.ops_port]=18093
    [sink.ops_port]=18094
  )
  for key in "${_order[@]}"; do conf[$key]=${_set[$key]}; done
  [ "${conf[kafka.mode]}" = external ] || conf[kafka.bootstrap]="${conf[kafka.host]}:${conf[kafka.port]}"
  [ "${conf[registry.mode]}" = external ] ||
    conf[registry.url]="http://${conf[registry.host]}:${conf[registry.port]}/apis/ccompat/v7"
  conf[services.config]="$MW_STATE/conf/services.properties"
  for key in $(printf '%s\n' "${!conf[@]}" | sort); do
    printf '%s=%s\n' "$key" "${conf[$key]}" >> "$tmp"
  done
  mw_up_write_services_config "${conf[kafka.bootstrap]}" "${conf[registry.url]}" "${conf[kafka.config]}" \
    "${conf[services.config]}"
  mv "$tmp" "$MW_STATE/mw.conf"
}

# The Java services' common --config file (io.magicwand.config.CliConfig keys):
# bootstrap servers, registry URL, and every --kafka-config property with the
# kafka. prefix that CliConfig passes through to the Kafka clients.
mw_up_write_services_config() {
  local bs=$1 url=$2 kconf=$3 out=$4
  mkdir -p "$(dirname "$out")"
  {
    echo "# Generated by ./mw up; every Java service reads it with --config. Do not edit:"
    echo "# use ./mw up --kafka-config FILE / --bootstrap-servers / --registry instead."
    echo "kafka.bootstrap.servers=$bs"
    echo "schema.registry.url=$url"
    if [ -n "$kconf" ] && [ -f "$kconf" ]; then
      grep -Ev '^[[:space:]]*(#|!|$)|^[[:space:]]*bootstrap\.servers[[:space:]]*[=:]' "$kconf" |
        sed -E 's/^[[:space:]]*/kafka./'
    fi
  } > "$out.tmp" && mv "$out.tmp" "$out"
}

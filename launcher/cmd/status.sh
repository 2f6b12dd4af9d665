# summary: health and endpoints of every service (--json for machines)
cmd_help() {
  cat <<H
usage: ./mw status [--json]

Prints each service of ./mw up with its health and endpoints: Kafka bootstrap,
registry URL and whatever later services report (NetFlow address, front-end
ports, INS instances...). Exit status 0 when every service is healthy, 1 otherwise.
  --json   one JSON object: {"healthy": BOOL, "state_dir": DIR, "services": {NAME: {...}}}
H
}

# mw_status_json: the aggregated status object on stdout.
mw_status_json() {
  local f n out
  {
    for f in $(mw_services); do
      # shellcheck disable=SC1090
      . "$f"
      n=$(mw_service_name "$f")
      if ! mw_service_enabled "$n"; then
        jq -cn --arg n "$n" '{name:$n, enabled:false, healthy:false, running:false, detail:"not started (up --only)"}'
        continue
      fi
      out=$( ( "${n}_status" ) 2>/dev/null | tail -n1 ) || true   # a broken status function must not hide the others
      if [ -z "$out" ] || ! jq -e 'type == "object" and has("name") and has("healthy")' >/dev/null 2>&1 <<<"$out"; then
        out=$(jq -cn --arg n "$n" '{name:$n, healthy:false, error:"status check failed"}')
      fi
      echo "$out"
    done
  } | jq -s --arg dir "$MW_STATE" \
      '{healthy: (length > 0 and all(.enabled == false or .healthy == true)), state_dir: $dir,
        services: (map({key: .name, value: .}) | from_entries)}'
}

# mw_status_print json|table: print the status; returns 0 when all are healthy.
mw_status_print() {
  local js
  js=$(mw_status_json)
  if [ "$1" = json ]; then
    echo "$js"
  else
    printf '%-10s %-10s %-45s %s\n' SERVICE STATE ENDPOINT DETAIL
    jq -r '.services[] | [ .name,
        (if .enabled == false then "disabled" elif .healthy then "healthy" elif (.running // false) then "unhealthy" else "stopped" end),
        (.endpoint // "-"),
        ([ (if .pid then "pid \(.pid)" else empty end), (if .mode == "external" then "external" else empty end),
           (.detail // empty | tostring), (.error // empty | tostring) ] | join(" ")) ] | @tsv' <<<"$js" |
      while IFS=$'\t' read -r name state ep detail; do
        printf '%-10s %-10s %-45s %s\n' "$name" "$state" "$ep" "$detail"
      done
    [ -f "$MW_STATE/mw.conf" ] || echo "(no stack configured in $MW_STATE: run ./mw up)"
  fi
  [ "$(jq -r .healthy <<<"$js")" = true ]
}

cmd_main() {
  local fmt=table
  while [ $# -gt 0 ]; do
    case "$1" in
      --json) fmt=json ;;
      *) mw_die "status: unknown option '$1' (see ./mw status --help)" ;;
    esac; shift
  done
  command -v jq >/dev/null || mw_die "status: jq is required (apt-get install jq, or run launcher/install-deps.sh)"
  mw_status_print "$fmt"
}

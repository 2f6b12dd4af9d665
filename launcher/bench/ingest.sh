#!/usr/bin/env bash
# summary: NetFlow ingest throughput (synthetic source -> ingest -> Kafka) next to a raw KafkaProducer
#
# Runs io.magicwand.ingest.Bench from the ingest jar against the running stack's broker and
# registry (./mw up, at least --only kafka,registry); both sides run in one JVM, one after the
# other, with the same records, keys, value bytes and producer settings. Options are passed on:
#   --records N (1,000,000)  --warmup N (200,000)  --partitions N (6)  --compression CODEC (lz4)
#   --bootstrap-servers H:P and --registry URL to use another broker and registry.
# Works when run directly (bash launcher/bench/ingest.sh ...) or sourced by ./mw bench.
set -euo pipefail
MW_ROOT=${MW_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
declare -F mw_conf_get >/dev/null 2>&1 || . "$MW_ROOT/launcher/lib.sh"

bench_ingest_main() {
  local jar java bs reg conf a
  for a in "$@"; do
    case "$a" in -h|--help) sed -n '2,9p' "$MW_ROOT/launcher/bench/ingest.sh" | sed 's/^# \{0,1\}//'; return 0 ;; esac
  done
  jar="$MW_ROOT/netflow-ingest/target/netflow-ingest-all.jar"
  mw_ensure_jar netflow-ingest "bench ingest"
  java=$(mw_find_java 17) || mw_die "bench ingest: no Java 17 or newer found"
  local -a args=()
  case " $* " in
    *" --bootstrap-servers "*|*" --bootstrap-servers="*) ;;
    *)
      bs=$(mw_conf_get kafka.bootstrap)
      [ -n "$bs" ] || mw_die "bench ingest: no running stack; start it with ./mw up --only kafka,registry (or give --bootstrap-servers and --registry)"
      mw_port_free "${bs%%:*}" "${bs##*:}" &&
        mw_die "bench ingest: Kafka at $bs is not answering; start it with ./mw up --only kafka,registry"
      conf=$(mw_conf_get services.config)
      if [ -n "$conf" ] && [ -f "$conf" ]; then
        args+=(--config "$conf")
      else
        reg=$(mw_conf_get registry.url http://127.0.0.1:18081/apis/ccompat/v7)
        args+=(--bootstrap-servers "$bs" --registry "$reg")
      fi ;;
  esac
  "$java" -Xms512m -Xmx1g -cp "$jar" io.magicwand.ingest.Bench "${args[@]}" "$@"
}

bench_ingest_main "$@"

# summary: run a benchmark (both sides in one run, ratio printed): http, ingest, scale
cmd_help() {
  local f
  echo "usage: ./mw bench NAME [ARGS...]"
  echo
  echo "Benchmarks (each runs the workload both ways in the same run and prints the ratio):"
  for f in "$MW_ROOT"/launcher/bench/*.sh; do
    [ -f "$f" ] || continue
    printf '  %-8s %s\n' "$(basename "$f" .sh)" "$(sed -n 's/^# summary: //p' "$f" | head -n1)"
  done
  echo
  echo "Figures from earlier runs and how to read them: docs/dataplane.md, docs/ingest.md."
}
cmd_main() {
  [ $# -ge 1 ] || { cmd_help; exit 2; }
  local name=$1; shift
  case "$name" in *[!a-z0-9-]*) mw_die "bench: unknown benchmark '$name' (see ./mw bench --help)" ;; esac
  local f="$MW_ROOT/launcher/bench/$name.sh"
  [ -f "$f" ] || mw_die "bench: unknown benchmark '$name' (see ./mw bench --help)"
  bash "$f" "$@"
}

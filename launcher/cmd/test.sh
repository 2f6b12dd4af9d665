# summary: run every test suite: native (unit, ASan/UBSan, fuzz smoke), Java (mvn verify), system tests
cmd_help() {
  cat <<H
usage: ./mw test [--only native|java|system] [--quick] [--keep]

Runs, each as its own step with a pass/fail line, continuing after failures:
  native   make -C native all test; make -C native asan-test; make -C native fuzz-smoke
           (MW_FUZZ_SECONDS, default 10); a step is skipped only when it has no
           sources yet
  java     mvn -B verify at the root (unit tests + integration tests), against a
           private schema registry started under \$MW_STATE/test on a free port
           (MW_TEST_REGISTRY_URL is exported to the build)
  system   every tests/system/*.sh in order, with MW_ROOT, MW_TEST_REGISTRY_URL,
           MW_TEST_STATE (a fresh state dir per script) and MW_DIST exported
Options:
  --only SUITE   run only native, java or system (repeatable, or comma-separated)
  --quick        skip the ASan/UBSan and fuzz steps
  --keep         leave the private test registry running afterwards
Step logs: \$MW_STATE/test/log/. The last line is 'mw test: N passed, N failed';
the exit status is 1 when any step failed.
H
}

MW_T_NAMES=(); MW_T_RESULTS=()
mw_t_record() { MW_T_NAMES+=("$1"); MW_T_RESULTS+=("$2"); }
mw_t_section() { printf '\n==================== [mw test] %s ====================\n' "$1"; }

# mw_t_step NAME CMD...: run one step, output to the terminal and to a log file.
mw_t_step() {
  local name=$1 log rc; shift
  log="$MW_T_STATE/log/$(echo "$name" | tr -c 'A-Za-z0-9._-' '_').log"
  mw_t_section "$name"
  local t0=$SECONDS
  set +e
  ( "$@" ) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" = 0 ]; then
    printf -- '---- PASS %s (%ss)\n' "$name" $((SECONDS - t0)); mw_t_record "$name" PASS
  else
    printf -- '---- FAIL %s (exit %s, %ss, log %s)\n' "$name" "$rc" $((SECONDS - t0)) "$log"; mw_t_record "$name" FAIL
  fi
}
mw_t_skip() {
  mw_t_section "$1"; printf -- '---- SKIP %s: %s\n' "$1" "$2"; mw_t_record "$1" "SKIP ($2)"
}

mw_t_has() { compgen -G "$MW_ROOT/native/$1" >/dev/null; }

mw_t_native() {
  local mk=(make -C "$MW_ROOT/native" -j2)
  mw_t_step "native: build" "${mk[@]}" all
  if mw_t_has 'tests/unit/*.c' && mw_t_has 'tests/run-*.sh'; then
    mw_t_step "native: unit and program tests" "${mk[@]}" test
  elif mw_t_has 'tests/unit/*.c'; then
    mw_t_step "native: unit tests" "${mk[@]}" unit-test
  elif mw_t_has 'tests/run-*.sh'; then
    mw_t_step "native: program tests" "${mk[@]}" program-test
  else
    mw_t_skip "native: tests" "no native/tests/unit/*.c or tests/run-*.sh yet"
  fi
  [ "$MW_T_QUICK" = 1 ] && return 0
  if mw_t_has 'tests/unit/*.c'; then
    mw_t_step "native: ASan/UBSan tests" "${mk[@]}" asan-test
  else
    mw_t_skip "native: ASan/UBSan tests" "no native/tests/unit/*.c yet"
  fi
  if mw_t_has 'fuzz/fuzz_*.c'; then
    mw_t_step "native: fuzz smoke" env MW_FUZZ_SECONDS="${MW_FUZZ_SECONDS:-10}" "${mk[@]}" fuzz-smoke
  else
    mw_t_skip "native: fuzz smoke" "no native/fuzz/fuzz_*.c yet"
  fi
}

# The private test stack: the 20-registry service's own functions, run with
# MW_STATE pointing at $MW_STATE/test and a free port from its mw.conf.
mw_t_stack() {
  ( MW_STATE=$MW_T_STATE; . "$MW_ROOT/launcher/services/20-registry.sh"; "registry_$1" )
}
mw_t_stack_start() {
  if [ -z "$(MW_STATE=$MW_T_STATE mw_pid registry)" ]; then
    rm -f "$MW_T_STATE/mw.conf"
    MW_STATE=$MW_T_STATE mw_conf_set registry.mode embedded
    MW_STATE=$MW_T_STATE mw_conf_set registry.port "$(mw_free_port)"
    MW_STATE=$MW_T_STATE mw_conf_set registry.management_port "$(mw_free_port)"
  fi
  MW_T_STACK_STARTED=1
  mw_t_step "test stack: schema registry" mw_t_stack start
  MW_TEST_REGISTRY_URL=$(MW_STATE=$MW_T_STATE; . "$MW_ROOT/launcher/services/20-registry.sh"; registry_url)
  export MW_TEST_REGISTRY_URL
  echo "MW_TEST_REGISTRY_URL=$MW_TEST_REGISTRY_URL"
}
mw_t_stack_stop() {
  [ "${MW_T_STACK_STARTED:-0}" = 1 ] || return 0
  MW_T_STACK_STARTED=0
  if [ "$MW_T_KEEP" = 1 ]; then
    mw_log "test registry left running at $MW_TEST_REGISTRY_URL (--keep); stop it with ./mw --state-dir $MW_T_STATE down"
  else
    mw_t_stack stop || true
  fi
}

mw_t_java() {
  mw_t_step "java: mvn verify" bash -c 'cd "$MW_ROOT" && mvn -B -ntp --fail-at-end verify'
}

mw_t_system() {
  local t name st found=0
  for t in $(ls "$MW_ROOT"/tests/system/*.sh 2>/dev/null | sort); do
    found=1
    name=$(basename "$t" .sh)
    st="$MW_T_STATE/system/$name"
    rm -rf "$st"; mkdir -p "$st"
    mw_t_step "system: $name" env MW_ROOT="$MW_ROOT" MW_TEST_REGISTRY_URL="${MW_TEST_REGISTRY_URL:-}" \
      MW_TEST_STATE="$st" MW_DIST="$MW_DIST" timeout 1800 bash "$t"
  done
  [ $found = 1 ] || mw_t_skip "system tests" "no tests/system/*.sh"
}

cmd_main() {
  local suites="" s
  MW_T_QUICK=0; MW_T_KEEP=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --only) [ $# -ge 2 ] || mw_die "test: --only needs native, java or system"; suites+="${2//,/ } "; shift ;;
      --only=*) s=${1#*=}; suites+="${s//,/ } " ;;
      --quick) MW_T_QUICK=1 ;;
      --keep) MW_T_KEEP=1 ;;
      *) mw_die "test: unknown option '$1' (see ./mw test --help)" ;;
    esac; shift
  done
  for s in $suites; do
    case "$s" in native|java|system) ;; *) mw_die "test: --only takes native, java or system, not '$s'" ;; esac
  done
  [ -n "$suites" ] || suites="native java system"
  MW_T_STATE="$MW_STATE/test"
  mkdir -p "$MW_T_STATE/run" "$MW_T_STATE/log" "$MW_T_STATE/data"
  # Distributions (Kafka, Apicurio) are downloaded once and shared by every test state dir.
  MW_DIST=$(mw_dist_dir); export MW_DIST MW_ROOT
  trap 'mw_t_stack_stop' EXIT
  trap 'echo "[mw test] interrupted" >&2; exit 130' INT TERM

  case " $suites " in *" native "*) mw_t_native ;; esac
  case " $suites " in *" java "*|*" system "*) mw_t_stack_start ;; esac
  case " $suites " in *" java "*) mw_t_java ;; esac
  case " $suites " in *" system "*) mw_t_system ;; esac
  mw_t_stack_stop

  local i pass=0 fail=0 skip=0
  mw_t_section summary
  for i in "${!MW_T_NAMES[@]}"; do
    case "${MW_T_RESULTS[$i]}" in
      SKIP*) printf '%-5s %s %s\n' SKIP "${MW_T_NAMES[$i]}" "${MW_T_RESULTS[$i]#SKIP }" ;;
      *) printf '%-5s %s\n' "${MW_T_RESULTS[$i]}" "${MW_T_NAMES[$i]}" ;;
    esac
    case "${MW_T_RESULTS[$i]}" in PASS) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; *) skip=$((skip + 1)) ;; esac
  done
  [ $skip = 0 ] || echo "($skip skipped: nothing to test there yet)"
  echo "mw test: $pass passed, $fail failed"
  [ $fail = 0 ]
}

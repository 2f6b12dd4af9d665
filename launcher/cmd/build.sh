# summary: build native and Java parts that are out of date
cmd_help() {
  cat <<H
usage: ./mw build [--native-only|--java-only]
Builds native/ with make and the Java modules with Maven (skipping tests).
H
}
cmd_main() {
  local native=1 java=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --native-only) java=0 ;;
      --java-only) native=0 ;;
      *) mw_die "build: unknown option '$1'" ;;
    esac; shift
  done
  if [ $native = 1 ]; then
    mw_log "building native parts (make -C native)"
    make -s -C "$MW_ROOT/native" -j"$(nproc)" all || mw_die "native build failed (see output above)"
  fi
  if [ $java = 1 ]; then
    mw_log "building Java modules (mvn install -DskipTests)"
    (cd "$MW_ROOT" && mvn -q -B install -DskipTests) || mw_die "Java build failed (see output above)"
  fi
}

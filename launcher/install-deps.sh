#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian (12) machine.
#   - Debian packages: toolchain (gcc, make, clang + libFuzzer runtime), Java 17
#     JDK and Maven, and the real peers the tests drive (nginx, Apache httpd, ab,
#     wrk, curl, netcat, tcpdump, iproute2, python3, jq).
#   - A JDK 21 or newer for the embedded schema registry (Apicurio Registry is a
#     Java 21 Quarkus app); Debian 12 has none, these machines carry one under
#     /usr/lib/jvm. Installed from apt when some configured repository offers it.
#   - Maven artifacts need no step here: `mvn verify` resolves the build's, and
#     the launcher's Kafka and registry services fetch their distributions with
#     Maven the first time they start (cached under $MW_STATE/dist).
# Debian starts nginx and apache2 when it installs them; the tests run their own
# instances on their own ports, so the system services are kept from starting
# during installation and stopped if they run. Safe to run twice. Needs root for apt.
set -euo pipefail
MW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[install-deps] %s\n' "$*"; }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

PKGS=(build-essential make gcc clang libclang-rt-14-dev llvm
      openjdk-17-jdk-headless maven
      nginx apache2 apache2-utils wrk curl netcat-openbsd tcpdump iproute2
      python3 jq procps psmisc util-linux coreutils tar gzip ca-certificates)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages (${missing[*]}); run this script as root"
  log "installing: ${missing[*]}"
  # policy-rc.d exit 101 = "do not start services" while apt installs them.
  policy=/usr/sbin/policy-rc.d; made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1
  fi
  trap '[ $made_policy = 1 ] && rm -f "$policy"' EXIT
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
  [ $made_policy = 1 ] && rm -f "$policy"
  trap - EXIT
else
  log "Debian packages: all ${#PKGS[@]} present"
fi

# Stop the system nginx/apache2 if apt (or anyone) started them. Only the Debian
# system instances (their pid files under /run), never test instances.
stop_system_service() {
  local name=$1 pidfile=$2 pid
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$name" 2>/dev/null; then
    log "stopping the system $name service"; systemctl stop "$name" || true
    systemctl disable -q "$name" 2>/dev/null || true
  fi
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping the system $name (pid $pid from $pidfile)"
    if command -v service >/dev/null 2>&1; then service "$name" stop >/dev/null 2>&1 || true; fi
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && die "the system $name (pid $pid) did not stop"
  fi
  return 0
}
stop_system_service nginx /run/nginx.pid
stop_system_service apache2 /run/apache2/apache2.pid

# A JDK >= 21 for the embedded registry.
. "$MW_ROOT/launcher/lib.sh"
if j=$(mw_find_java 21); then
  log "Java 21+ for the schema registry: $j"
else
  cand=""
  for p in temurin-25-jdk temurin-21-jdk openjdk-25-jdk-headless openjdk-21-jdk-headless; do
    if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then cand=$p; break; fi
  done
  [ -n "$cand" ] || die "no JDK 21 or newer is installed and no apt repository offers one; install one under /usr/lib/jvm (or set JAVA21_HOME) — the embedded schema registry needs it"
  log "installing $cand (the schema registry needs Java 21+)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$cand" || die "apt-get install $cand failed"
  mw_find_java 21 >/dev/null || die "installed $cand but still found no Java 21+"
fi

for t in java mvn make gcc clang jq curl; do
  command -v "$t" >/dev/null || die "$t is not on PATH after installation"
done
log "done"

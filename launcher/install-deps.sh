#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine:
# Debian packages (real peers for the tests, toolchain extras) and the Maven
# artifacts (the Java build's dependencies, the Kafka broker and the schema
# registry distributions). Safe to run twice.
set -euo pipefail
MW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PKGS=(nginx apache2 apache2-utils netcat-openbsd iproute2 tcpdump curl wrk
      clang libclang-rt-14-dev llvm jq procps psmisc python3)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[install-deps] apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian starts nginx and apache2 on install; the tests run their own instances.
for s in nginx apache2; do
  if command -v systemctl >/dev/null && systemctl is-active -q "$s" 2>/dev/null; then systemctl stop "$s" || true; fi
  pkill -x "$s" 2>/dev/null || true
done

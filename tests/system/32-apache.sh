#!/usr/bin/env bash
# Apache httpd (Debian apache2) under the shim with the prefork MPM and with the event MPM:
# a temporary ServerRoot and config (apache2 -f, LoadModule lines from /usr/lib/apache2/modules),
# IPv4 + IPv6 listeners. Checked with curl, ab and wrk; after a graceful stop the INS holds
# nothing of it.
SYS_NAME=32-apache
. "$(dirname "$0")/../../native/tests/lib-sys.sh"
sys_need apache2 curl ab wrk jq python3
MODS=/usr/lib/apache2/modules
[ -f "$MODS/mod_mpm_prefork.so" ] && [ -f "$MODS/mod_mpm_event.so" ] || sys_fail "apache2 MPM modules missing in $MODS"

sys_mwcomms
mkdir -p "$T/htdocs"
chmod 755 "$T" "$T/htdocs"
echo "hello from apache through the INS" > "$T/htdocs/index.html"
head -c 3000000 /dev/urandom > "$T/htdocs/big.bin"
chmod 644 "$T/htdocs/"*

run_mpm() {
  local mpm=$1 P dir="$T/$1"
  P=$(sys_free_port)
  mkdir -p "$dir/logs"
  chmod 777 "$dir/logs"
  {
    echo "ServerRoot $dir"
    echo "LoadModule mpm_${mpm}_module $MODS/mod_mpm_${mpm}.so"
    for m in authz_core mime dir; do echo "LoadModule ${m}_module $MODS/mod_${m}.so"; done
    cat <<CONF
ServerName localhost
Listen 127.0.0.1:$P
Listen [::1]:$P
PidFile $dir/httpd.pid
ErrorLog $dir/logs/error.log
LogLevel warn
LogFormat "%a %r %>s" short
CustomLog $dir/logs/access.log short
DocumentRoot $T/htdocs
DirectoryIndex index.html
TypesConfig /etc/mime.types
EnableSendfile On
KeepAlive On
MaxKeepAliveRequests 0
Mutex file:$dir
<Directory $T/htdocs>
  Require all granted
</Directory>
CONF
    if [ "$mpm" = prefork ]; then
      printf 'StartServers 24\nMinSpareServers 24\nMaxSpareServers 32\nMaxRequestWorkers 32\nServerLimit 32\n'
    else
      # spare threads within MaxRequestWorkers: with the defaults (75/250 spare threads for 32
      # workers) a fresh event MPM churns its children for its first seconds and closes
      # keep-alive connections under wrk -- read errors natively too, in 1 of 8 fresh starts
      printf 'StartServers 2\nThreadsPerChild 16\nMaxRequestWorkers 32\nServerLimit 4\n'
      printf 'MinSpareThreads 8\nMaxSpareThreads 32\n'
    fi
    [ "$(id -u)" = 0 ] && printf 'User nobody\nGroup nogroup\n'
  } > "$dir/httpd.conf"
  apache2 -t -f "$dir/httpd.conf" >"$dir/configtest.txt" 2>&1 || { cat "$dir/configtest.txt" >&2; sys_fail "$mpm: config test failed"; }
  sys_bg "apache-$mpm" apache2 -f "$dir/httpd.conf" -DFOREGROUND
  sys_wait_http "http://127.0.0.1:$P/" 20 || { cat "$T/apache-$mpm.out" "$dir/logs/error.log" >&2; sys_fail "$mpm: apache did not answer"; }
  [ "$(sys_listener_count)" = 2 ] || sys_fail "$mpm: expected 2 listeners in mwcomms: $(sys_status)"
  body=$(curl -sS "http://127.0.0.1:$P/index.html") || sys_fail "$mpm: curl IPv4"
  [ "$body" = "hello from apache through the INS" ] || sys_fail "$mpm: body '$body'"
  body=$(curl -sS "http://[::1]:$P/index.html") || sys_fail "$mpm: curl IPv6"
  [ "$body" = "hello from apache through the INS" ] || sys_fail "$mpm: IPv6 body '$body'"
  curl -sS -o "$dir/big.got" "http://127.0.0.1:$P/big.bin" || sys_fail "$mpm: big download"
  cmp -s "$dir/big.got" "$T/htdocs/big.bin" || sys_fail "$mpm: 3 MB download differs"
  grep -q '^127.0.0.1 ' "$dir/logs/access.log" || sys_fail "$mpm: access log lacks the IPv4 peer"
  grep -q '^::1 ' "$dir/logs/access.log" || sys_fail "$mpm: access log lacks the IPv6 peer"
  sys_ok "$mpm: up on 127.0.0.1:$P and [::1]:$P; curl IPv4/IPv6, 3 MB byte-exact, real peer addresses"
  ab -q -n 1500 -c 10 "http://127.0.0.1:$P/index.html" > "$dir/ab.txt" 2>&1 || { cat "$dir/ab.txt" >&2; sys_fail "$mpm: ab failed"; }
  failed=$(awk '/^Failed requests:/ {print $3}' "$dir/ab.txt")
  [ "$failed" = 0 ] || sys_fail "$mpm: ab: $failed failed requests"
  sys_ok "$mpm: ab 1500 requests at concurrency 10, 0 failed ($(awk '/^Requests per second/ {print $4}' "$dir/ab.txt") req/s)"
  wrk -t 2 -c 20 -d 3s "http://127.0.0.1:$P/index.html" > "$dir/wrk.txt" 2>&1 || { cat "$dir/wrk.txt" >&2; sys_fail "$mpm: wrk failed"; }
  if grep -q "Socket errors" "$dir/wrk.txt"; then cat "$dir/wrk.txt" >&2; sys_fail "$mpm: wrk socket errors"; fi
  reqs=$(awk '/requests in/ {print $1}' "$dir/wrk.txt")
  [ "${reqs:-0}" -gt 300 ] || sys_fail "$mpm: wrk only ${reqs:-0} requests"
  sys_ok "$mpm: wrk $reqs requests in 3s at 20 connections, no socket errors"
  apache2 -f "$dir/httpd.conf" -k graceful-stop >/dev/null 2>&1 || kill -WINCH "$(cat "$dir/httpd.pid")"
  for _ in $(seq 150); do [ -f "$dir/httpd.pid" ] || break; sleep 0.1; done
  sys_settle_sockets 0 || sys_fail "$mpm: sockets left after apache stopped: $(sys_status)"
  sys_ok "$mpm: stopped; socket table empty"
}
run_mpm prefork
run_mpm event

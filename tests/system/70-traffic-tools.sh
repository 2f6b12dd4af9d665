#!/usr/bin/env bash
# System test of the traffic tools (./mw attack, ./mw load): every attack against a recording
# loopback HTTP server opens the expected connections from the expected source addresses with the
# expected byte patterns and stops by itself; the load sensor measures a real python http.server;
# argument errors are one-line errors; non-loopback targets and sources are refused.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MW="$ROOT/mw"
TMP=$(mktemp -d /tmp/mw-traffic-test.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
export MW_STATE="$TMP/state"
checks=0
ok() { checks=$((checks + 1)); echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }

# ---- a recording HTTP server: logs every connection (peer, byte chunks with times, bytes it
# managed to send) to a JSON file when it gets SIGTERM.
cat > "$TMP/recorder.py" <<'PY'
import asyncio, json, signal, sys, time
out, portfile = sys.argv[1], sys.argv[2]
BIG = 50 * 1024 * 1024
conns = []
async def handle(reader, writer):
    c = {"peer": writer.get_extra_info("peername")[0], "t0": time.monotonic(), "chunks": [], "data": "",
         "sent": 0, "closed": False}
    conns.append(c)
    data = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            c["chunks"].append([round(time.monotonic() - c["t0"], 3), len(chunk)])
            if len(data) < 65536:
                data += chunk
                c["data"] = data[:65536].decode("latin1")
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and head.startswith(b"GET") and not c.get("answered"):
                c["answered"] = True
                if b" /big " in head.split(b"\r\n")[0]:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % BIG)
                    block = b"x" * 65536
                    while c["sent"] < BIG:
                        writer.write(block)
                        await writer.drain()
                        c["sent"] += len(block)
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    await writer.drain()
                    break
    except (ConnectionError, OSError):
        pass
    finally:
        c["closed"] = True
        writer.close()
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    open(portfile, "w").write(str(srv.sockets[0].getsockname()[1]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    json.dump(conns, open(out, "w"))
asyncio.run(main())
PY

# recorder_run NAME: start a fresh recorder; sets PORT.
recorder_start() {
  rm -f "$TMP/port"
  python3 "$TMP/recorder.py" "$TMP/$1.json" "$TMP/port" & RECPID=$!
  PIDS+=("$RECPID")
  for _ in $(seq 50); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  [ -s "$TMP/port" ] || fail "recorder did not start"
  PORT=$(cat "$TMP/port")
}
recorder_stop() {
  kill -TERM "$RECPID"; wait "$RECPID" || true
  [ -s "$TMP/$1.json" ] || fail "recorder wrote no log for $1"
}
# run_bounded LIMIT_S CMD...: the tool must end by itself within LIMIT_S.
run_bounded() {
  local limit=$1; shift
  local t0=$SECONDS
  timeout --signal=KILL "$limit" "$@" > "$TMP/out.txt" 2> "$TMP/err.txt" || fail "'$*' failed or did not stop by itself within ${limit}s: $(tail -n3 "$TMP/err.txt")"
  echo $((SECONDS - t0))
}
q() { python3 - "$@"; }

# ---- slowloris: 4 sources, headers trickled, never completed
recorder_start slowloris
run_bounded 15 "$MW" attack slowloris --target 127.0.0.1:"$PORT" --sources 127.0.70.0/29 --connections 4 \
  --duration 4 --interval 0.5 --json-report "$TMP/slowloris-report.json" >/dev/null
recorder_stop slowloris
q "$TMP/slowloris.json" <<'PY' || fail "slowloris pattern"
import json, sys
cs = json.load(open(sys.argv[1]))
assert len(cs) == 4, "expected 4 connections, got %d" % len(cs)
assert sorted(c["peer"] for c in cs) == ["127.0.70.%d" % i for i in range(1, 5)], [c["peer"] for c in cs]
for c in cs:
    d = c["data"]
    assert d.startswith("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"), d[:60]
    assert "\r\n\r\n" not in d, "slowloris must never finish its headers"
    assert len(c["chunks"]) >= 4, "headers must arrive in many pieces: %s" % c["chunks"]
    assert c["chunks"][-1][0] - c["chunks"][0][0] >= 2.0, "trickled over time: %s" % c["chunks"]
PY
ok "slowloris: 4 connections from 127.0.70.1-4, headers trickled in >= 4 pieces over >= 2 s, never completed"
jq -e '.connections_per_source | length == 4' "$TMP/slowloris-report.json" >/dev/null || fail "slowloris report"
ok "slowloris: JSON report lists the 4 sources"

# ---- slowpost: complete headers with a huge Content-Length, body 1 byte at a time
recorder_start slowpost
run_bounded 15 "$MW" attack slowpost --target 127.0.0.1:"$PORT" --sources 127.0.71.8/30 --connections 2 \
  --duration 3 --interval 0.5 --quiet >/dev/null
recorder_stop slowpost
q "$TMP/slowpost.json" <<'PY' || fail "slowpost pattern"
import json, sys
cs = json.load(open(sys.argv[1]))
assert {c["peer"] for c in cs} == {"127.0.71.9", "127.0.71.10"} and len(cs) == 2, [c["peer"] for c in cs]
for c in cs:
    head, sep, body = c["data"].partition("\r\n\r\n")
    assert head.startswith("POST / HTTP/1.1") and "Content-Length: 100000000" in head, head
    assert sep and 3 <= len(body) <= 10 and set(body) == {"a"}, "body trickled byte by byte: %r" % body
    assert len(c["chunks"]) >= 4, c["chunks"]
PY
ok "slowpost: 2 connections from 127.0.71.9-10, Content-Length 100000000, body trickled one byte per interval"

# ---- slowread: full request, then tiny reads through a small receive window
recorder_start slowread
run_bounded 15 "$MW" attack slowread --target 127.0.0.1:"$PORT" --sources 127.0.72.0/30 --connections 2 \
  --duration 4 --interval 0.5 --path /big --read-bytes 16 --json-report "$TMP/slowread-report.json" --quiet >/dev/null
recorder_stop slowread
q "$TMP/slowread.json" "$TMP/slowread-report.json" <<'PY' || fail "slowread pattern"
import json, sys
cs = json.load(open(sys.argv[1])); rep = json.load(open(sys.argv[2]))
assert sorted(c["peer"] for c in cs) == ["127.0.72.1", "127.0.72.2"], [c["peer"] for c in cs]
for c in cs:
    assert c["data"].startswith("GET /big HTTP/1.1") and c["data"].endswith("\r\n\r\n"), c["data"]
    # 50 MB offered; a slow reader lets only kernel buffers' worth out.
    assert c["sent"] < 8 * 1024 * 1024, "server could send %d bytes: the client is not reading slowly" % c["sent"]
assert 0 < rep["bytes_read"] <= 2 * 16 * 9, "client read %d bytes" % rep["bytes_read"]
PY
ok "slowread: complete GET /big from 2 sources, server stuck after < 8 MB of 50 MB, client read <= 16 B per interval"

# ---- range: many overlapping ranges
recorder_start range
run_bounded 15 "$MW" attack range --target 127.0.0.1:"$PORT" --sources 127.0.73.0/30 --connections 2 \
  --duration 2 --ranges 150 --quiet >/dev/null
recorder_stop range
q "$TMP/range.json" <<'PY' || fail "range pattern"
import json, sys
cs = json.load(open(sys.argv[1]))
assert len(cs) >= 2 and {c["peer"] for c in cs} == {"127.0.73.1", "127.0.73.2"}, {c["peer"] for c in cs}
for c in cs:
    line = [l for l in c["data"].split("\r\n") if l.startswith("Range: ")]
    assert line, c["data"][:200]
    assert line[0].startswith("Range: bytes=0-,5-0,5-1,5-2,") and line[0].count(",") == 150, line[0][:80]
PY
ok "range: GETs from 2 sources with 151 overlapping ranges (bytes=0-,5-0,5-1,...)"

# ---- flood: many connections per second from one source
recorder_start flood
run_bounded 15 "$MW" attack flood --target 127.0.0.1:"$PORT" --sources 127.0.74.16/28 --connections 40 \
  --duration 2 --quiet >/dev/null
recorder_stop flood
q "$TMP/flood.json" <<'PY' || fail "flood pattern"
import json, sys
cs = json.load(open(sys.argv[1]))
assert {c["peer"] for c in cs} == {"127.0.74.17"}, {c["peer"] for c in cs}
assert len(cs) >= 60, "expected about 80 connections in 2 s at 40/s, got %d" % len(cs)
assert all(c["data"].startswith("GET / HTTP/1.1") for c in cs)
PY
ok "flood: >= 60 connections in 2 s, all from the single source 127.0.74.17"

# ---- load sensor against a real python http.server
mkdir -p "$TMP/www"; echo hello > "$TMP/www/index.html"
HPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$HPORT" --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$HPORT/" >/dev/null && break; sleep 0.1; done
run_bounded 20 "$MW" load --target 127.0.0.1:"$HPORT" --sources 127.0.75.0/29 --rate 20 --duration 3 \
  --json-report "$TMP/load.json" --stats-file "$TMP/load-stats.jsonl" >/dev/null
grep -q "^load t=1s ok=" "$TMP/out.txt" || fail "load prints per-second lines"
q "$TMP/load.json" "$TMP/load-stats.jsonl" <<'PY' || fail "load report"
import json, sys
r = json.load(open(sys.argv[1]))
assert 50 <= r["requests"] <= 62, r["requests"]
assert r["success_pct"] == 100.0 and r["failed"] == 0, r
assert r["p50_ms"] is not None and r["p99_ms"] >= r["p50_ms"], r
assert r["sources_used"] == 6, r["sources_used"]
assert len(r["per_second"]) == 3 and all(s["success_pct"] == 100.0 for s in r["per_second"]), r["per_second"]
lines = [json.loads(l) for l in open(sys.argv[2])]
assert len(lines) >= 2 and all("success_pct" in l and "p99_ms" in l for l in lines)
PY
ok "load: ~60 requests at 20/s from 6 sources, 100% success, p50/p99 and a per-second series in the JSON report"
# and it sees failures: nothing listens on a closed port
run_bounded 20 "$MW" load --target 127.0.0.1:1 --sources 127.0.75.0/29 --rate 10 --duration 1 \
  --json-report "$TMP/load-fail.json" --quiet >/dev/null
jq -e '.success_pct == 0 and .failed >= 8' "$TMP/load-fail.json" >/dev/null || fail "load must report failures"
ok "load: a dead target is reported as 0% success"

# ---- argument errors: one line, non-zero exit, nothing sent
expect_error() {
  local want=$1; shift
  local rc=0
  "$MW" "$@" > "$TMP/o" 2> "$TMP/e" || rc=$?
  [ "$rc" -ne 0 ] || fail "'$*' should fail"
  [ "$(wc -l < "$TMP/e")" -eq 1 ] || fail "'$*' should print one line, got: $(cat "$TMP/e")"
  grep -q -- "$want" "$TMP/e" || fail "'$*': expected '$want' in: $(cat "$TMP/e")"
}
expect_error "only loopback targets" attack slowloris --target 192.0.2.1:80 --sources 127.0.0.0/30 --connections 1 --duration 1
expect_error "only loopback targets" load --target '[::1]:80' --sources 127.0.0.0/30 --rate 1 --duration 1
expect_error "only source ranges inside 127.0.0.0/8" attack flood --target 127.0.0.1:80 --sources 10.0.0.0/8 --connections 1 --duration 1
expect_error "only source ranges inside 127.0.0.0/8" load --target 127.0.0.1:80 --sources 0.0.0.0/0 --rate 1 --duration 1
expect_error "unknown attack 'teardrop'" attack teardrop --target 127.0.0.1:80 --sources 127.0.0.0/30 --connections 1 --duration 1
expect_error "required: --target" attack slowloris --sources 127.0.0.0/30 --connections 1 --duration 1
expect_error "--connections must be" attack slowloris --target 127.0.0.1:80 --sources 127.0.0.0/30 --connections 0 --duration 1
expect_error "--duration must be" load --target 127.0.0.1:80 --sources 127.0.0.0/30 --rate 1 --duration forever
expect_error "not a CIDR\|must be a CIDR" load --target 127.0.0.1:80 --sources banana --rate 1 --duration 1
expect_error "port must be 1..65535" load --target 127.0.0.1:99999 --sources 127.0.0.0/30 --rate 1 --duration 1
ok "argument errors: 10 bad invocations each give one line and a non-zero exit (incl. non-loopback refusals)"

echo "70-traffic-tools: $checks checks passed"

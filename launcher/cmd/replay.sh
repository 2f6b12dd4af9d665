# summary: replay a NetFlow capture (or, with --pcap, a TCP pcap) into Kafka as SocketEvents
cmd_help() {
  cat <<H
usage: ./mw replay FILE|DIR... [--speed N | --max] [--topic T] [--host TAG]
       ./mw replay --pcap FILE --host TAG [--server-ports P[,P...]] [--speed N | --max] [--topic T]

Re-publishes NetFlow capture files (written by netflow-ingest --capture-dir; a
directory means its *.mwcap files in name order) to Kafka as Avro SocketEvents,
at the recorded speed (default), N times faster (--speed N) or as fast as
possible (--max). Events keep their per-socket order (one producer, keyed by
host/socket, idempotent).

With --pcap, the TCP connections of a pcap (tcpdump -w; Ethernet, Linux cooked
SLL/SLL2; IPv4/IPv6) become the same event stream: the connection open as
ACCEPT (to a --server-ports port; default: the port that received the SYN) or
CONNECT, payload as RECV/SEND with cumulative bytes, FIN/RST as CLOSE.

Options:
  --speed N                 replay N times faster than recorded (default 1)
  --max                     no pacing
  --topic T                 topic (default mw.socket-events)
  --host TAG                host tag of the events (required with --pcap)
  --server-ports P[,P...]   pcap: server ports (see above)
  --bootstrap-servers H:P   Kafka (default: the running stack's, from mw.conf)
  --registry URL            schema registry (default: the running stack's)
  --config FILE             properties (kafka.* client settings, topic, ...)
  --set KEY=VALUE           any setting, e.g. --set kafka.linger.ms=50

Exit status: 0 done, 1 Kafka failed, 2 bad arguments, 3 malformed input file
(the error names the byte offset).
H
}
cmd_main() {
  local jar java conf
  jar="$MW_ROOT/netflow-ingest/target/netflow-ingest-all.jar"
  [ $# -gt 0 ] || mw_die "replay: nothing to replay (see ./mw replay --help)"
  if [ ! -f "$jar" ]; then
    mw_log "replay: building netflow-ingest (mvn -pl netflow-ingest -am install -DskipTests)"
    (cd "$MW_ROOT" && mvn -q -B -pl netflow-ingest -am install -DskipTests) >&2 ||
      mw_die "replay: build failed; run ./mw build"
  fi
  java=$(mw_find_java 17) || mw_die "replay: no Java 17 or newer found"
  local -a pre=()
  conf=$(mw_conf_get services.config)
  if [ -n "$conf" ] && [ -f "$conf" ]; then
    pre+=(--config "$conf")   # the running stack's Kafka and registry; options given here win
  fi
  exec "$java" -Xmx512m -cp "$jar" io.magicwand.ingest.Replay "${pre[@]}" "$@"
}

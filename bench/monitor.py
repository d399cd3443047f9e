#!/usr/bin/env python3
"""What MONITOR costs: ringproxy over three local redis-servers, plain GET/SET through it
(redis-benchmark, 50 clients, 32-byte values, -P 1 and -P 16) in interleaved rounds, as
  - ringproxy with nobody monitoring (the request path reads one false flag per request);
  - the baseline build (--baseline PATH: a build from before MONITOR existed), to show that
    having it compiled in costs nothing measurable while nobody monitors;
  - ringproxy while one MONITOR client (in another connection, reading and discarding every
    line) watches, so every request is formatted once and written to it.
Reported per run, medians over the rounds: requests/s, p50/p99 latency, and the proxy's CPU
time per request (utime+stime from /proc). Writes bench/MONITOR.md (--out names another file).

Run: bench/monitor.py [--rounds 3] [--requests 200000] [--threads 1] [--baseline PATH] [--only get-p16-32]
Needs redis-server, redis-benchmark and a ringproxy build (make build); installs nothing.
"""
import argparse
import datetime
import os
import socket
import statistics
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (its process, /proc and redis-benchmark helpers)
from compare import Workload, cpu_seconds, free_port, run_benchmark, start, wait_port  # noqa: E402

NOBODY, BASELINE, WATCHED = "ringproxy, nobody monitoring", "baseline build (no MONITOR)", "ringproxy, one MONITOR client"


def monitor_reader(port, stop, counts):
    """A MONITOR client that reads and drops its lines, as `redis-cli monitor > /dev/null`."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(compare.resp("MONITOR"))
    f = s.makefile("rb")
    if f.readline() != b"+OK\r\n":
        raise RuntimeError("MONITOR refused")
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            break
        counts[0] += chunk.count(b"\n")
    s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000, help="requests per -P 1 run (x4 with -P 16)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ringproxy", default=os.path.join(compare.ROOT, ".build/release/ringproxy"))
    ap.add_argument("--baseline", help="a ringproxy build from before MONITOR, run in the same rounds")
    ap.add_argument("--out", default=os.path.join(compare.BENCH, "MONITOR.md"))
    ap.add_argument("--only", help="workload ids, comma-separated (get-p1-32, set-p1-32, get-p16-32, set-p16-32)")
    args = ap.parse_args()
    procs = []
    tmp = tempfile.mkdtemp(prefix="ringproxy-monitor-")
    try:
        servers = []
        for _ in range(3):
            p = free_port()
            start(["redis-server", "--port", str(p), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"], procs)
            wait_port(p)
            servers.append(p)
        compare.prefill(servers, 32)
        targets = []
        for name, binary in [(NOBODY, args.ringproxy), (BASELINE, args.baseline)]:
            if not binary:
                continue
            port = free_port()
            conf = os.path.join(tmp, "%d.yml" % port)
            with open(conf, "w") as f:
                f.write(compare.twemproxy_yaml(port, servers, "  deny_commands: []\n"))
            proc = start([binary, "-c", conf, "--threads", str(args.threads), "-s", str(free_port())], procs)
            wait_port(port)
            compare.smoke_test(port)
            targets.append((name, port, proc))
        runs = [(n, p, pr) for n, p, pr in targets] + [(WATCHED, targets[0][1], targets[0][2])]
        workloads = [Workload("get", 1, 32), Workload("set", 1, 32), Workload("get", 16, 32), Workload("set", 16, 32)]
        if args.only:
            workloads = [w for w in workloads if w.id in args.only.split(",")]
        results = {}
        lines_seen = {}
        for r in range(args.rounds):
            order = runs if r % 2 == 0 else list(reversed(runs))
            for w in workloads:
                for name, port, proc in order:
                    stop, counts = threading.Event(), [0]
                    reader = None
                    if name == WATCHED:
                        reader = threading.Thread(target=monitor_reader, args=(port, stop, counts))
                        reader.start()
                    n = args.requests * (4 if w.pipeline > 1 else 1)
                    before = cpu_seconds(proc.pid)
                    rps, p50, p99 = run_benchmark(port, w, n)
                    cpu_us = (cpu_seconds(proc.pid) - before) * 1e6 / n
                    if reader:
                        stop.set()
                        reader.join()
                        lines_seen[w.id] = counts[0]
                    results.setdefault((w.id, name), []).append((rps, p50, p99, cpu_us))
                    print("round %d %-10s %-32s %10.0f req/s  p50 %.3f  p99 %.3f  cpu %.2f us/req"
                          % (r + 1, w.id, name, rps, p50, p99, cpu_us), flush=True)
        med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
        out = ["# MONITOR's cost", "",
               "Generated by bench/monitor.py on %s: %d rounds, %d requests per -P 1 run (x4 with -P 16), "
               "50 clients, 32-byte values, %d worker thread(s), three local redis-servers. Medians."
               % (datetime.date.today(), args.rounds, args.requests, args.threads), "",
               "| workload | target | requests/s | vs nobody | p50 ms | p99 ms | proxy CPU us/request |",
               "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for w in workloads:
            base = med(results[(w.id, NOBODY)], 0)
            for name, _, _ in runs:
                xs = results[(w.id, name)]
                out.append("| %s | %s | %.0f | %.2fx | %.3f | %.3f | %.2f |" % (
                    w.title, name, med(xs, 0), med(xs, 0) / base, med(xs, 1), med(xs, 2), med(xs, 3)))
        out += ["", "The MONITOR client received %s lines in the last round's runs (one per request)."
                % ", ".join("%s: %d" % (k, v) for k, v in lines_seen.items())]
        with open(args.out, "w") as f:
            f.write("\n".join(out) + "\n")
        print("wrote %s" % args.out)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


if __name__ == "__main__":
    sys.exit(main())

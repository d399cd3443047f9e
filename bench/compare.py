#!/usr/bin/env python3
"""Side-by-side benchmark: one redis-server directly, nutcracker and ringproxy over the same
three redis-servers, with identical redis-benchmark workloads run in interleaved rounds
(A B C, then C B A, ...). Reports medians of requests/s, p50 and p99 latency, and each
proxy's own CPU time per request (utime+stime of all its threads from /proc/PID/stat),
with ratios against nutcracker, into bench/RESULTS.md.

Usage: bench/compare.py [--rounds 3] [--requests 200000] [--threads 1]
Needs: redis-server, redis-benchmark, nutcracker, and .build/release/ringproxy (make build).
Envoy and the connection-scale workloads are not part of this first version.
"""
import argparse
import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (all threads)


def run_benchmark(port, test, pipeline, clients, size, requests):
    cmd = ["redis-benchmark", "-p", str(port), "-t", test, "-P", str(pipeline), "-c", str(clients),
           "-d", str(size), "-n", str(requests), "-r", "100000", "--csv"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split(",")]
        if cols and cols[0] == test.upper():
            return float(cols[1]), float(cols[4]), float(cols[6])  # rps, p50 ms, p99 ms
    raise RuntimeError("no result in: %s" % out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ringproxy-bench-")
    procs = []
    try:
        ports = [free_port() for _ in range(3)]
        for p in ports:
            procs.append(subprocess.Popen(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                                           "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL))
        for p in ports:
            wait_port(p)
        servers = "".join("    - 127.0.0.1:%d:1 cache-%d\n" % (p, i) for i, p in enumerate(ports))
        targets = {}
        for name in ("nutcracker", "ringproxy"):
            port = free_port()
            conf = os.path.join(tmp, name + ".yml")
            with open(conf, "w") as f:
                f.write("bench:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n"
                        "  redis: true\n  server_connections: 1\n  preconnect: true\n  servers:\n%s" % (port, servers))
            if name == "nutcracker":
                cmd = ["nutcracker", "-c", conf, "-s", str(free_port()), "-a", "127.0.0.1"]
            else:
                admin_port = free_port()
                cmd = [os.path.join(ROOT, ".build/release/ringproxy"), "-c", conf, "--threads", str(args.threads),
                       "-s", str(admin_port)]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            wait_port(port)
            targets[name] = (port, proc.pid)
        targets["redis (direct)"] = (ports[0], procs[0].pid)
        # The same ringproxy while /metrics and /stats are read every second, as a scraper
        # and a dashboard would.
        targets["ringproxy, stats read 1/s"] = targets["ringproxy"]
        names = ["redis (direct)", "nutcracker", "ringproxy", "ringproxy, stats read 1/s"]
        workloads = [(t, p, 50, 32) for t in ("set", "get") for p in (1, 16)]
        results = {}  # (workload, name) -> list of (rps, p50, p99, cpu_us_per_request)
        for r in range(args.rounds):
            order = names if r % 2 == 0 else list(reversed(names))
            for w in workloads:
                for name in order:
                    port, pid = targets[name]
                    n = args.requests * (4 if w[1] > 1 else 1)
                    stop = threading.Event()
                    scraper = None
                    if name.endswith("stats read 1/s"):
                        scraper = threading.Thread(target=scrape, args=(admin_port, stop))
                        scraper.start()
                    before = cpu_seconds(pid)
                    rps, p50, p99 = run_benchmark(port, w[0], w[1], w[2], w[3], n)
                    cpu = (cpu_seconds(pid) - before) / n * 1e6
                    stop.set()
                    if scraper:
                        scraper.join()
                    results.setdefault((w, name), []).append((rps, p50, p99, cpu))
                    print("round %d %-5s -P %-2d %-15s %10.0f req/s p50 %.3f ms p99 %.3f ms cpu %.2f us/req"
                          % (r + 1, w[0], w[1], name, rps, p50, p99, cpu), flush=True)
        write_results(args, workloads, names, results)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()


def scrape(port, stop):
    while not stop.is_set():
        for path in ("/metrics", "/stats"):
            urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5).read()
        stop.wait(1.0)


def write_results(args, workloads, names, results):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    lines = ["# Benchmark results", "",
             "- date: %s" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
             "- machine: %d cores, %s; redis-benchmark, the servers and the proxies share these cores" % (os.cpu_count(), cpu_model),
             "- commit: %s; ringproxy worker threads: %d; rounds: %d (interleaved, medians shown)" % (commit, args.threads, args.rounds),
             "- command: `bench/compare.py --rounds %d --requests %d --threads %d`" % (args.rounds, args.requests, args.threads),
             "- workloads: redis-benchmark, 50 clients, 32-byte values, random keys (-r 100000)", "",
             "| workload | target | requests/s | p50 ms | p99 ms | proxy CPU us/request | req/s vs nutcracker | CPU vs nutcracker |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for w in workloads:
        med = {n: [statistics.median(x[i] for x in results[(w, n)]) for i in range(4)] for n in names}
        for n in names:
            rps, p50, p99, cpu = med[n]
            ratio = rps / med["nutcracker"][0]
            if n.endswith("stats read 1/s"):
                n = n + " (%.3f of unread)" % (rps / med["ringproxy"][0])
            cpu_ratio = "" if n.startswith("redis") else "%.2f" % (cpu / med["nutcracker"][3])
            lines.append("| %s -P %d | %s | %.0f | %.3f | %.3f | %s | %.2f | %s |" % (
                w[0].upper(), w[1], n, rps, p50, p99, "" if n.startswith("redis") else "%.2f" % cpu, ratio, cpu_ratio))
            n = n.split(" (")[0]
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

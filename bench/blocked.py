#!/usr/bin/env python3
"""Blocked clients beside active ones: ringproxy (one worker) in front of three local
redis-servers, 50 clients running GET -P 1 with redis-benchmark, first with no other client,
then while 1,000 clients wait in BLPOP (each on an empty list of its own, timeout 0), in
interleaved rounds. A blocked client holds a leased server connection of its own, so the
active clients' requests should not wait behind them: the report puts their requests/s and
p99 side by side.

Run: bench/.venv/bin/python bench/blocked.py [--blocked 1000] [--rounds 3] [--requests 100000]
Needs redis-server, redis-benchmark and ringproxy (make build). Writes bench/BLOCKED.md.
"""
import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the side-by-side benchmark's helpers)
from compare import free_port, wait_port  # noqa: E402


def block_clients(port, n):
    """n connections each sent BLPOP on its own empty list with no timeout."""
    socks = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(compare.resp("BLPOP", "blocked:%d" % i, "0"))
        socks.append(s)
    return socks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blocked", type=int, default=1000, help="clients blocked in BLPOP")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--ringproxy", default=os.path.join(compare.ROOT, ".build/release/ringproxy"))
    ap.add_argument("--out", default=os.path.join(compare.BENCH, "BLOCKED.md"))
    args = ap.parse_args()
    compare.raise_nofile()
    procs = []
    with tempfile.TemporaryDirectory(prefix="ringproxy-blocked-") as tmp:
        try:
            servers = [free_port() for _ in range(3)]
            for p in servers:
                compare.start(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", tmp], procs)
                wait_port(p, procs[-1])
            port, admin = free_port(), free_port()
            conf = os.path.join(tmp, "ringproxy.yml")
            yaml = compare.twemproxy_yaml(port, servers, "ringproxy:\n  threads: 1\n  admin: 127.0.0.1:%d\n" % admin)
            # Room for every blocked client on one server (the default cap is 512 per server).
            yaml = yaml.replace("  servers:\n", "  max_blocked_clients: %d\n  servers:\n" % max(args.blocked, 1), 1)
            with open(conf, "w") as f:
                f.write(yaml)
            proxy = compare.start([args.ringproxy, "-c", conf], procs)
            wait_port(port, proxy)
            compare.prefill(servers, 32)
            workload = compare.Workload("get", 1, 32)
            runs = {0: [], args.blocked: []}
            for r in range(args.rounds):
                for n in ([0, args.blocked] if r % 2 == 0 else [args.blocked, 0]):
                    blocked = block_clients(port, n)
                    try:
                        rps, p50, p99 = compare.run_benchmark(port, workload, args.requests)
                    finally:
                        compare.close_all(blocked)
                    runs[n].append((rps, p50, p99))
                    print("round %d, %d blocked: %.0f req/s p50 %.3f p99 %.3f ms" % (r + 1, n, rps, p50, p99), flush=True)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=10)
    med = {n: [statistics.median(x[i] for x in rs) for i in range(3)] for n, rs in runs.items()}
    lines = ["# Blocked clients beside active ones", "",
             "ringproxy, one worker, three local redis-servers; 50 clients run GET -P 1 (32 B values, %d requests)"
             % args.requests,
             "with redis-benchmark, alone and while %s clients wait in BLPOP (each on an empty list of its own)."
             % format(args.blocked, ","),
             "Medians of %d interleaved rounds; `bench/blocked.py --blocked %d --rounds %d --requests %d`."
             % (args.rounds, args.blocked, args.rounds, args.requests), "",
             "| blocked clients | GET requests/s | p50 ms | p99 ms | vs none blocked |", "|---:|---:|---:|---:|---:|"]
    for n in (0, args.blocked):
        rps, p50, p99 = med[n]
        lines.append("| %s | %.0f | %.3f | %.3f | %.2f |" % (format(n, ","), rps, p50, p99, rps / med[0][0]))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

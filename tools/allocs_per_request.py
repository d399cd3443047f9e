#!/usr/bin/env python3
"""Heap allocations per request in steady state, counted by valgrind.

Runs ringproxy under `valgrind --tool=memcheck` twice in front of two redis-servers, drives
it with redis-benchmark (50 clients, -P 1 and -P 16, SET then GET, and MGET of 10 keys over
both servers), once with a short warm-up load and once with that plus N more requests, and
reports (allocations of the long run - allocations of the short run) / N: what each request
costs once connections and buffers exist. Start-up and shutdown cancel out.

Usage: tools/allocs_per_request.py [--requests 20000] [--binary .build/release/ringproxy]
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from loopback import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(port, workload, n):
    tests, pipeline = workload
    if tests == "mget":
        cmd = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n), "-P", str(pipeline), "-r", "1000",
               "MGET"] + ["k:__rand_int__"] * 10
    else:
        cmd = ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n), "-P", str(pipeline), "-r", "1000",
               "-t", tests, "-q"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=900)


def allocations(binary, config, port, loads):
    log = tempfile.mktemp(suffix=".valgrind")
    p = subprocess.Popen(["valgrind", "--tool=memcheck", "--leak-check=no", "--log-file=" + log, binary, "-c", config],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout=60)  # valgrind starts slowly
        for workload, n in loads:
            bench(port, workload, n)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)
    text = open(log).read()
    m = re.search(r"total heap usage: ([\d,]+) allocs", text)
    if not m:
        raise RuntimeError("no heap summary in valgrind's log:\n" + text[-2000:])
    return int(m.group(1).replace(",", ""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/ringproxy"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ringproxy-allocs-")
    ports = [free_port(), free_port()]
    servers = [subprocess.Popen(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "", "--dir", work],
                                stdout=subprocess.DEVNULL) for p in ports]
    for p in ports:
        wait_port(p)
    port = free_port()
    config = os.path.join(work, "allocs.yml")
    with open(config, "w") as f:
        f.write("allocs:\n  listen: 127.0.0.1:%d\n  redis: true\n  servers:\n" % port)
        for i, p in enumerate(ports):
            f.write("    - 127.0.0.1:%d:1 s%d\n" % (p, i + 1))
        f.write("ringproxy:\n  admin: off\n  threads: 1\n")
    # Valgrind 3.19 cannot read the DWARF 5 the Swift toolchain emits: count on a stripped
    # copy (symbols are not needed to count allocations).
    binary = os.path.join(work, "ringproxy")
    subprocess.run(["strip", "-o", binary, args.binary], check=True)
    warmup = 2000
    rows = []
    try:
        for workload in [("set", 1), ("get", 1), ("set", 16), ("get", 16), ("mget", 1)]:
            # Both runs open the same connections (two redis-benchmark runs of 50 clients);
            # only the request count differs.
            short = allocations(binary, config, port, [(workload, warmup), (workload, 100)])
            long = allocations(binary, config, port, [(workload, warmup), (workload, 100 + args.requests)])
            per = (long - short) / args.requests
            name = "%s -P %d" % (workload[0].upper() + (" of 10 keys" if workload[0] == "mget" else ""), workload[1])
            rows.append((name, short, long, per))
            print("%-22s warm-up run %9d allocs, +%d requests %9d allocs: %.3f allocs/request"
                  % (name, short, args.requests, long, per), flush=True)
    finally:
        for s in servers:
            s.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())

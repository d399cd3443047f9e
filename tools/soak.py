#!/usr/bin/env python3
"""Soak: mixed load through ringproxy for a fixed time while one upstream is killed and
restarted every 30 s; reports the proxy's RSS and open file descriptors after warm-up and at
the end, and fails if either grew by more than 10%.

Usage: tools/soak.py [--seconds 600] [--warmup 60] [--binary .build/release/ringproxy]
Load: 6 client threads (redis-py) sending pipelines of mixed commands (SET, GET, MGET across
servers, DEL, INCR, HSET/HGETALL, EXPIRE, unknown commands), two of them reconnecting every
200 pipelines so connection set-up and tear-down are soaked too, plus 100 idle connections.
The pool ejects a dead server (auto_eject_hosts) and health checks bring it back. Every loop
is bounded by the deadline.
"""
import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

from loopback import free_port, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_redis(port, workdir):
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", workdir],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def proc_status(pid):
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds


def client_loop(port, deadline, counts, reconnect, seed):
    rng = random.Random(seed)
    r = None
    pipelines = 0
    while time.time() < deadline:
        if r is None or (reconnect and pipelines % 200 == 0):
            if r is not None:
                r.close()
            r = redis.Redis(port=port, socket_timeout=5, protocol=rng.choice([2, 3]))
        pipelines += 1
        p = r.pipeline(transaction=False)
        keys = ["soak:%d" % rng.randrange(10000) for _ in range(10)]
        for k in keys[:4]:
            p.set(k, "v" * rng.choice([8, 100, 2000]))
        p.get(keys[0])
        p.mget(keys)
        p.incr("soak:counter:%d" % rng.randrange(100))
        p.hset("soak:h:%d" % rng.randrange(100), mapping={"a": "1", "b": "2"})
        p.hgetall("soak:h:%d" % rng.randrange(100))
        p.expire(keys[1], 60)
        p.delete(keys[2], keys[3])
        p.execute_command("NOSUCHCOMMAND")
        try:
            results = p.execute(raise_on_error=False)
            counts["replies"] += len(results)
            counts["errors"] += sum(1 for x in results if isinstance(x, Exception)
                                    and not str(x).startswith("unknown command"))
        except (redis.ConnectionError, redis.TimeoutError):
            counts["connection_errors"] += 1
            r = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--kill-every", type=int, default=30)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build/release/ringproxy"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="ringproxy-soak-")
    ports = [free_port() for _ in range(3)]
    servers = [start_redis(p, work) for p in ports]
    proxy_port = free_port()
    config = os.path.join(work, "soak.yml")
    with open(config, "w") as f:
        f.write("soak:\n  listen: 127.0.0.1:%d\n  redis: true\n  hash: fnv1a_64\n  timeout: 1000\n"
                "  auto_eject_hosts: true\n  server_failure_limit: 2\n  health_check_interval: 500\n"
                "  servers:\n" % proxy_port)
        for i, p in enumerate(ports):
            f.write("    - 127.0.0.1:%d:1 cache-%d\n" % (p, i + 1))
        f.write("ringproxy:\n  admin: off\n")
    proxy = subprocess.Popen([args.binary, "-c", config], stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(work, "proxy.log"), "w"))
    wait_port(proxy_port)

    start = time.time()
    deadline = start + args.seconds
    counts = {"replies": 0, "errors": 0, "connection_errors": 0}
    idle = [socket.create_connection(("127.0.0.1", proxy_port)) for _ in range(100)]
    threads = [threading.Thread(target=client_loop, args=(proxy_port, deadline, counts, i < 2, i))
               for i in range(6)]
    for t in threads:
        t.start()

    kills = 0
    warm = None
    next_kill = start + args.kill_every
    victim = 0
    try:
        while time.time() < deadline:
            now = time.time()
            if warm is None and now - start >= args.warmup:
                warm = proc_status(proxy.pid)
                print("after %d s warm-up: RSS %d KiB, %d fds" % (args.warmup, warm[0], warm[1]), flush=True)
            if now >= next_kill and now + 5 < deadline:
                servers[victim].send_signal(signal.SIGKILL)
                servers[victim].wait()
                time.sleep(3)
                servers[victim] = start_redis(ports[victim], work)
                kills += 1
                victim = (victim + 1) % len(servers)
                next_kill += args.kill_every
            time.sleep(0.2)
            if proxy.poll() is not None:
                print("FAIL: ringproxy exited with %s" % proxy.returncode)
                return 1
    finally:
        for t in threads:
            t.join(timeout=30)
        end = proc_status(proxy.pid) if proxy.poll() is None else (0, 0)
        for s in idle:
            s.close()
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.kill()
        for s in servers:
            s.kill()
    if warm is None:
        warm = end
    print("at the end (%d s): RSS %d KiB, %d fds" % (args.seconds, end[0], end[1]))
    print("upstream kills/restarts: %d; replies: %d (error replies other than the unknown command's: %d, connection errors %d)"
          % (kills, counts["replies"], counts["errors"], counts["connection_errors"]))
    rss_growth = (end[0] - warm[0]) / max(warm[0], 1)
    fd_growth = (end[1] - warm[1]) / max(warm[1], 1)
    print("RSS change %+.1f%%, fd change %+.1f%% (limit 10%%)" % (100 * rss_growth, 100 * fd_growth))
    if proxy.returncode not in (0, None) and proxy.returncode != -signal.SIGTERM:
        print("FAIL: ringproxy exit status %s" % proxy.returncode)
        return 1
    if rss_growth > 0.10 or fd_growth > 0.10:
        print("FAIL: growth above 10%")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

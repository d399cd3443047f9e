#!/usr/bin/env python3
"""Pub/sub fan-out: one publisher, 1,000 subscribers on one channel, messages delivered per
second, and the connections the server holds for them, for one redis-server directly and
for ringproxy in front of three redis-servers, in interleaved rounds of the same run.

Each subscriber is a plain socket (two reader processes share them); the publisher is
redis-benchmark sending PUBLISH with pipelining. A round ends when every subscriber has
every message (counted by bytes, every frame being the same size); deliveries/s is
subscribers x messages over the time from the first PUBLISH to the last byte read.
Server connections are the servers' own `connected_clients` once the subscribers are
connected, before publishing (for ringproxy: every connection it holds, data, health check
and subscriber connections alike).

Run: bench/.venv/bin/python bench/fanout.py [--subscribers 1000] [--messages 2000] [--rounds 3]
Needs redis-server, redis-benchmark and ringproxy (make build). Writes bench/FANOUT.md.
"""
import argparse
import multiprocessing
import os
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the side-by-side benchmark's helpers)
from compare import free_port, wait_port  # noqa: E402

CHANNEL = "fanout"
PAYLOAD = "x" * 32
# One message frame as a RESP2 subscriber receives it: all the same size.
FRAME = len(compare.resp("message", CHANNEL, PAYLOAD))
# A round that has not delivered everything by then has lost messages: it fails.
ROUND_LIMIT_S = 120


def reader(port, count, messages, ready, go, done):
    """Subscribes `count` sockets, then reads until each has `messages` frames."""
    sel = selectors.DefaultSelector()
    want = {}
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(compare.resp("SUBSCRIBE", CHANNEL))
        got = b""
        while not got.endswith(b":1\r\n"):
            got += s.recv(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        want[s] = messages * FRAME
    ready.put(count)
    go.wait()
    deadline = time.time() + ROUND_LIMIT_S
    left = len(want)
    while left and time.time() < deadline:
        for k, _ in sel.select(timeout=0.5):
            data = k.fileobj.recv(1 << 20)
            before = want[k.fileobj]
            want[k.fileobj] -= len(data)
            if before > 0 >= want[k.fileobj]:
                left -= 1
    done.put((time.time(), left))
    for s in want:
        s.close()


def connected_clients(ports):
    """The servers' clients, less the connection asking each of them."""
    total = -len(ports)
    for p in ports:
        info = compare.command(p, "INFO", "clients").decode()
        total += int(info.split("connected_clients:")[1].split("\r\n")[0])
    return total


def round_trip(port, server_ports, subscribers, messages, readers=2):
    ready, done = multiprocessing.Queue(), multiprocessing.Queue()
    go = multiprocessing.Event()
    share = [subscribers // readers + (1 if i < subscribers % readers else 0) for i in range(readers)]
    procs = [multiprocessing.Process(target=reader, args=(port, n, messages, ready, go, done)) for n in share]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    upstream = connected_clients(server_ports)
    start = time.time()
    go.set()
    subprocess.run(["redis-benchmark", "-p", str(port), "-c", "1", "-P", "16", "-n", str(messages), "-q",
                    "PUBLISH", CHANNEL, PAYLOAD], check=True, stdout=subprocess.DEVNULL)
    ends = [done.get(timeout=ROUND_LIMIT_S + 30) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    missing = sum(left for _, left in ends)
    if missing:
        raise SystemExit("%d subscribers did not get every message" % missing)
    elapsed = max(t for t, _ in ends) - start
    return subscribers * messages / elapsed, upstream


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="ringproxy worker threads")
    ap.add_argument("--ringproxy", default=os.path.join(compare.ROOT, ".build/release/ringproxy"))
    ap.add_argument("--out", default=os.path.join(compare.BENCH, "FANOUT.md"))
    args = ap.parse_args()
    # redis-benchmark sends whole pipelines of 16: a multiple of 16 is sent exactly.
    args.messages = max(16, args.messages // 16 * 16)
    compare.raise_nofile()
    procs = []
    runs = {"redis-server": [], "ringproxy": []}
    with tempfile.TemporaryDirectory(prefix="ringproxy-fanout-") as tmp:
        try:
            direct = free_port()
            servers = [free_port() for _ in range(3)]
            for p in [direct] + servers:
                compare.start(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", tmp, "--maxclients", "20000"], procs)
                wait_port(p, procs[-1])
            port = free_port()
            conf = os.path.join(tmp, "ringproxy.yml")
            with open(conf, "w") as f:
                f.write(compare.twemproxy_yaml(port, servers, "ringproxy:\n  threads: %d\n" % args.threads))
            proxy = compare.start([args.ringproxy, "-c", conf], procs)
            wait_port(port, proxy)
            targets = {"redis-server": (direct, [direct]), "ringproxy": (port, servers)}
            for r in range(args.rounds):
                order = ["redis-server", "ringproxy"] if r % 2 == 0 else ["ringproxy", "redis-server"]
                for name in order:
                    rate, upstream = round_trip(targets[name][0], targets[name][1], args.subscribers, args.messages)
                    runs[name].append((rate, upstream))
                    print("round %d, %s: %.0f deliveries/s, %d server connections" % (r + 1, name, rate, upstream),
                          flush=True)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=10)
    med = {n: (statistics.median(x[0] for x in rs), max(x[1] for x in rs)) for n, rs in runs.items()}
    lines = ["# Pub/sub fan-out", "",
             "One publisher (redis-benchmark, PUBLISH -P 16, %d messages of %d bytes) and %s subscribers of one"
             % (args.messages, len(PAYLOAD), format(args.subscribers, ",")),
             "channel: to one redis-server directly, and through ringproxy (%d worker%s) in front of three"
             % (args.threads, "" if args.threads == 1 else "s"),
             "redis-servers. Medians of %d interleaved rounds; server connections are the servers'"
             % args.rounds,
             "`connected_clients` once the subscribers are connected, before publishing (for ringproxy every",
             "connection it holds: data, health-check and subscriber connections).",
             "`bench/fanout.py --subscribers %d --messages %d --rounds %d --threads %d`."
             % (args.subscribers, args.messages, args.rounds, args.threads), "",
             "| target | deliveries/s | vs redis-server | server connections |", "|---|---:|---:|---:|"]
    for name in ("redis-server", "ringproxy"):
        rate, upstream = med[name]
        lines.append("| %s | %.0f | %.2f | %s |" % (name, rate, rate / med["redis-server"][0], format(upstream, ",")))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

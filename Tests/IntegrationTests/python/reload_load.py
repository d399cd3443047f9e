"""Load through ringproxy while it reloads (or is replaced): 50 clients doing SET, GET and
MGET over many keys (so over every server), pipelined and not, some through one shared
redis-py connection pool. Nothing retries: an error reply or a broken connection is
counted, not hidden.

Usage: reload_load.py PORT STOPFILE MAX_SECONDS
Runs until STOPFILE exists (bounded by MAX_SECONDS), then prints one JSON line:
{"ops": n, "errors": n, "dropped": n, "samples": [...], "max_ms": x, "clients": 50}
"""
import json
import os
import sys
import threading
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

port, stopfile, max_seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
NO_RETRY = Retry(NoBackoff(), 0)
PLAIN, PIPELINED, POOLED = 20, 20, 10
# Keys each client cycles over: enough that every server holds some of them.
KEYS = 64

lock = threading.Lock()
totals = {"ops": 0, "errors": 0, "dropped": 0, "samples": [], "max_ms": 0.0}
deadline = time.monotonic() + max_seconds


def stopping():
    return time.monotonic() > deadline or os.path.exists(stopfile)


def record(ops, errors, dropped, samples, max_ms):
    with lock:
        totals["ops"] += ops
        totals["errors"] += errors
        totals["dropped"] += dropped
        totals["samples"] += samples[:3]
        totals["max_ms"] = max(totals["max_ms"], max_ms)


def client(kind, n, pool):
    if pool is None:
        r = redis.Redis(host="127.0.0.1", port=port, protocol=2, retry=NO_RETRY, socket_timeout=10,
                        single_connection_client=True)
    else:
        r = redis.Redis(connection_pool=pool)
    keys = ["load:%s:%d:%d" % (kind, n, i) for i in range(KEYS)]
    ops = errors = dropped = 0
    samples = []
    max_ms = 0.0
    i = 0
    while not stopping():
        k = keys[i % KEYS]
        started = time.monotonic()
        try:
            if kind == "pipe":
                with r.pipeline(transaction=False) as p:
                    for j in range(8):
                        kk = keys[(i + j) % KEYS]
                        p.set(kk, "v%d" % i)
                        p.get(kk)
                    p.mget(keys[i % KEYS:i % KEYS + 6])
                    out = p.execute(raise_on_error=False)
                for x in out:
                    if isinstance(x, Exception):
                        errors += 1
                        samples.append(repr(x))
                ops += len(out)
            else:
                r.set(k, "v%d" % i)
                r.get(k)
                r.mget(keys[i % KEYS:i % KEYS + 6])
                ops += 3
        except redis.exceptions.ResponseError as e:
            errors += 1
            samples.append(repr(e))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as e:
            dropped += 1
            samples.append(repr(e))
            if pool is None:
                # A client whose connection broke reconnects (and the break is counted).
                r = redis.Redis(host="127.0.0.1", port=port, protocol=2, retry=NO_RETRY, socket_timeout=10,
                                single_connection_client=True)
        max_ms = max(max_ms, (time.monotonic() - started) * 1000)
        i += 1
    record(ops, errors, dropped, samples, max_ms)


shared = redis.ConnectionPool(host="127.0.0.1", port=port, protocol=3, retry=NO_RETRY, socket_timeout=10,
                              max_connections=POOLED)
threads = [threading.Thread(target=client, args=("plain", n, None)) for n in range(PLAIN)]
threads += [threading.Thread(target=client, args=("pipe", n, None)) for n in range(PIPELINED)]
threads += [threading.Thread(target=client, args=("pool", n, shared)) for n in range(POOLED)]
for t in threads:
    t.start()
print("started", flush=True, file=sys.stderr)
for t in threads:
    t.join()
totals["clients"] = len(threads)
totals["samples"] = totals["samples"][:10]
print(json.dumps(totals), flush=True)

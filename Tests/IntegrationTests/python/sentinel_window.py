"""redis-py's Sentinel client through a failover, for comparison with the proxy's window.

Usage: sentinel_window.py SENTINEL_PORTS(comma-separated) MASTER_NAME
Runs SET+GET on the master redis-py's `Sentinel.master_for` finds until SIGTERM, then prints
one line: `REDISPY {"errors": N, "ok": N, "first_error": T, "last_error": T, "version": V}`
(times in seconds since the epoch, null when there was no error).
"""
import json
import signal
import sys
import time

import redis
from redis.sentinel import Sentinel

# The client-side timeouts a careful application would set on loopback: a dead master is
# noticed in half a second, not at the OS's TCP timeout.
SOCKET_TIMEOUT = 0.5
# The same pause between rounds as the Swift load (Load.run), so the two see the same window.
PAUSE = 0.002

ports = [int(p) for p in sys.argv[1].split(",")]
name = sys.argv[2]
stopping = False


def stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGTERM, stop)
sentinel = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=SOCKET_TIMEOUT)
master = sentinel.master_for(name, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
errors, ok, first, last, i = 0, 0, None, None, 0
print("READY", flush=True)
while not stopping:
    i += 1
    for op in ("set", "get"):
        try:
            if op == "set":
                master.set("pyha:%d" % (i % 8), i)
            else:
                master.get("pyha:%d" % (i % 8))
            ok += 1
        except (redis.exceptions.RedisError, OSError):
            now = time.time()
            errors += 1
            first = first or now
            last = now
    time.sleep(PAUSE)
print("REDISPY " + json.dumps({"errors": errors, "ok": ok, "first_error": first, "last_error": last,
                               "version": redis.__version__}), flush=True)

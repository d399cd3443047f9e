"""redis-py's Lock with two contenders through ringproxy: while holding the lock each
contender increments a counter with a plain GET then SET (not atomic on its own), so the
final count equals the increments only if the lock excluded the other. Lock's release and
extend are Lua scripts run with EVALSHA (SCRIPT LOAD first, on NOSCRIPT).

Usage: lock_check.py PROXY_PORT
"""
import sys
import threading

import redis

port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port)
counter = "lock-check:counter"
r.delete(counter)
ROUNDS = 100


def contender():
    c = redis.Redis(host="127.0.0.1", port=port)
    lock = c.lock("lock-check:resource", timeout=10, blocking_timeout=30)
    for _ in range(ROUNDS):
        assert lock.acquire()
        try:
            value = int(c.get(counter) or 0)
            c.set(counter, value + 1)
            lock.extend(5)
        finally:
            lock.release()


threads = [threading.Thread(target=contender) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
final = int(r.get(counter))
print("lock: final", final)
assert final == 2 * ROUNDS, final

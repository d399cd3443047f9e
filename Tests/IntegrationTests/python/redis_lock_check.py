"""python-redis-lock through ringproxy, with a tagged lock name so its lock key and its
signal list live on one server: two contenders increment a counter with GET then SET while
holding the lock; waiters block in BLPOP on the signal list until the holder releases.

Usage: redis_lock_check.py PROXY_PORT
"""
import sys
import threading

import redis
import redis_lock

port = int(sys.argv[1])
r = redis.StrictRedis(host="127.0.0.1", port=port)
counter = "{plock}counter"
r.delete(counter)
ROUNDS = 50


def contender():
    conn = redis.StrictRedis(host="127.0.0.1", port=port)
    for _ in range(ROUNDS):
        with redis_lock.Lock(conn, "{plock}resource", expire=30):
            value = int(conn.get(counter) or 0)
            conn.set(counter, value + 1)


threads = [threading.Thread(target=contender) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
final = int(r.get(counter))
print("python-redis-lock: final", final)
assert final == 2 * ROUNDS, final

"""The WATCH/MULTI/EXEC retry loop (redis-py's transaction helper) under two concurrent
writers through ringproxy: the final count equals the increments made, and conflicts were
seen and retried. A second part runs redis-py's non-WATCH transactional pipeline.

Usage: watch_check.py PROXY_PORT
"""
import sys
import threading

import redis

port = int(sys.argv[1])
key = "{watch}counter"
client = redis.Redis(host="127.0.0.1", port=port)
client.delete(key)
PER_WRITER = 300
retries = [0, 0]


def writer(n):
    r = redis.Redis(host="127.0.0.1", port=port)

    def incr(pipe):
        value = int(pipe.get(key) or 0)
        pipe.multi()
        pipe.set(key, value + 1)

    for _ in range(PER_WRITER):
        while True:
            try:
                with r.pipeline() as pipe:
                    pipe.watch(key)
                    incr(pipe)
                    pipe.execute()
                    break
            except redis.WatchError:
                retries[n] += 1


threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join(120)
final = int(client.get(key))
print("final", final, "retries", retries)
assert final == 2 * PER_WRITER, final

# A transactional pipeline (MULTI..EXEC written in one go), keys under one tag.
with client.pipeline(transaction=True) as p:
    p.set("{tx}a", 1).incr("{tx}a").get("{tx}a").lpush("{tx}l", "x", "y")
    assert p.execute() == [True, 2, b"2", 2]
print("transactional pipeline: ok")

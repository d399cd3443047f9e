"""redis-py through ringproxy with a database in the URL (redis://host:port/3): the keys it
writes are in database 3 of their server, and database 0 does not see them.

Usage: select_check.py PROXY_PORT
Exits non-zero (an AssertionError) on the first wrong answer.
"""
import sys

import redis

port = int(sys.argv[1])
in3 = redis.Redis.from_url("redis://127.0.0.1:%d/3" % port)
in0 = redis.Redis.from_url("redis://127.0.0.1:%d/0" % port)
keys = ["url:%d" % i for i in range(40)]
assert in3.mset({k: "three" for k in keys}) is True
assert in3.mget(keys) == [b"three"] * len(keys)
assert in0.mget(keys) == [None] * len(keys), "database 0 must not see database 3's keys"
with in3.pipeline(transaction=False) as p:
    for k in keys:
        p.incr(k + ":n")
    assert p.execute() == [1] * len(keys)
assert in0.exists(*[k + ":n" for k in keys]) == 0
assert in3.exists(*[k + ":n" for k in keys]) == len(keys)
print("redis-py", redis.__version__, "database 3 through the URL: ok")

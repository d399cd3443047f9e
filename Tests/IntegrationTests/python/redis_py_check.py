"""redis-py against ringproxy: pipelines, MGET/MSET across servers, hashes, errors.

Usage: redis_py_check.py PORT default|2   ("default" leaves redis-py's own protocol choice)
Exits non-zero (an AssertionError) on the first wrong answer.
"""
import sys

import redis

port, proto = int(sys.argv[1]), sys.argv[2]
kwargs = {} if proto == "default" else {"protocol": int(proto)}
r = redis.Redis(host="127.0.0.1", port=port, **kwargs)
print("redis-py", redis.__version__, "protocol", r.connection_pool.connection_kwargs.get("protocol", "library default"))

assert r.ping() is True
conn = r.connection_pool.get_connection()
negotiated = int(conn.protocol or 2)
r.connection_pool.release(conn)
print("negotiated protocol", negotiated)
if proto == "default":
    # redis-py 8 sends HELLO 3 on every new connection by default.
    assert negotiated == 3, negotiated
else:
    assert negotiated == int(proto), negotiated
keys = ["py:%s:%d" % (proto, i) for i in range(200)]
assert r.mset({k: "v%d" % i for i, k in enumerate(keys)}) is True
assert r.mget(keys + ["py:absent"]) == [("v%d" % i).encode() for i in range(200)] + [None]
assert r.delete(*keys[:50]) == 50
assert r.exists(*keys) == 150

with r.pipeline(transaction=False) as p:
    for i in range(500):
        p.set("py:pipe:%s:%d" % (proto, i), i)
        p.incr("py:cnt:%s:%d" % (proto, i))
        p.get("py:pipe:%s:%d" % (proto, i))
    out = p.execute()
assert out[0::3] == [True] * 500
assert out[1::3] == [1] * 500
assert out[2::3] == [str(i).encode() for i in range(500)]

r.hset("py:hash:" + proto, mapping={"a": "1", "b": "2"})
assert r.hgetall("py:hash:" + proto) == {b"a": b"1", b"b": b"2"}
assert r.hget("py:hash:" + proto, "a") == b"1"

try:
    r.execute_command("NOSUCHCOMMAND", "x")
    raise AssertionError("unknown command did not fail")
except redis.ResponseError as e:
    assert "unknown command" in str(e), e
try:
    r.execute_command("FUNCTION", "LIST")
    raise AssertionError("FUNCTION LIST did not fail")
except redis.ResponseError as e:
    assert "not supported" in str(e), e
assert set(r.keys("py:%s:*" % proto)) == {k.encode() for k in keys[50:]}
try:
    r.sunion("py:{a}x", "py:{b}y", "py:{c}z", "py:{d}w", "py:{e}v")
except redis.ResponseError as e:
    assert "different servers" in str(e), e
assert r.ping() is True, "connection usable after errors"
print("redis-py protocol", proto, "ok")

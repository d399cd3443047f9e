"""Django's own Redis cache backend (django.core.cache.backends.redis.RedisCache), unmodified,
through ringproxy with `multi_across_servers: per_server`. set_many is a redis-py transaction
(MULTI, MSET over every key, EXPIRE per key, EXEC) whose keys span the servers; get_many is
MGET, delete_many DEL, incr EXISTS then INCRBY. Every value is also read on the redis-servers
directly: each key lives on exactly one of them, with its TTL.

Usage: django_cache_check.py PROXY_PORT SERVER_PORT...
"""
import pickle
import sys

import django
import redis
from django.conf import settings

port = int(sys.argv[1])
servers = [redis.Redis(port=int(p)) for p in sys.argv[2:]]
settings.configure(CACHES={"default": {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": "redis://127.0.0.1:%d" % port,
}})
django.setup()
from django.core.cache import cache  # noqa: E402 (needs the settings above)


def direct(key):
    """The raw value of Django's key on the one server that holds it, and that server."""
    full = cache.make_and_validate_key(key)
    holders = [(i, s.get(full)) for i, s in enumerate(servers) if s.exists(full)]
    assert len(holders) <= 1, (key, holders)
    return holders[0] if holders else (None, None)


data = {"n%d" % i: i for i in range(24)}
data.update({"user:%d:%s" % (i, "abcdefgh"[i % 8] * (i % 5 + 1)): i * 100 for i in range(40)})
data["text"] = "déjà vu"
cache.set_many(data, timeout=600)
where = {}
for key, value in data.items():
    server, raw = direct(key)
    assert server is not None, ("set_many lost", key)
    where.setdefault(server, []).append(key)
    # Django stores integers as their digits and everything else pickled.
    stored = int(raw) if isinstance(value, int) else pickle.loads(raw)
    assert stored == value, (key, raw)
    ttl = servers[server].ttl(cache.make_and_validate_key(key))
    assert 0 < ttl <= 600, (key, ttl)
assert len(where) >= 3, ("keys on too few servers to span them", {s: len(k) for s, k in where.items()})
print("set_many: %d keys on %d servers, each with its TTL" % (len(data), len(where)))

got = cache.get_many(list(data) + ["missing"])
assert got == data, got
print("get_many: %d values, the missing key left out" % len(got))

assert cache.incr("n7", 5) == 12
assert cache.incr("n7") == 13
assert int(direct("n7")[1]) == 13
try:
    cache.incr("missing")
    raise AssertionError("incr of a missing key")
except ValueError:
    pass
print("incr: 7 -> 12 -> 13 on its server; a missing key raises ValueError")

# A second set_many over the same keys overwrites every server's part.
cache.set_many({k: "v2-" + k for k in data}, timeout=None)
for key in data:
    server, raw = direct(key)
    assert pickle.loads(raw) == "v2-" + key, (key, raw)
    # No timeout: no EXPIRE follows, and MSET drops the earlier TTL, as on one server.
    assert servers[server].ttl(cache.make_and_validate_key(key)) == -1, key
print("set_many again, without timeout: every value replaced, no TTL left")

doomed = [k for k in data if k != "text"]
cache.delete_many(doomed)
for key in doomed:
    assert direct(key) == (None, None), ("delete_many left", key)
assert cache.get("text") == "v2-text"
assert cache.get_many(doomed) == {}
print("delete_many: %d keys gone from every server, the other kept" % len(doomed))

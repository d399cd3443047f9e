"""The `limits` library (behind Flask-Limiter and slowapi) through ringproxy: fixed, moving
and sliding windows each allow exactly the limit and refuse the rest. Moving and sliding
windows run Lua scripts (EVALSHA after SCRIPT LOAD).

Usage: limits_check.py PROXY_PORT
"""
import sys

from limits import parse, storage, strategies

port = int(sys.argv[1])
store = storage.RedisStorage("redis://127.0.0.1:%d" % port)
assert store.check(), "storage check"
item = parse("5/minute")
for name, strategy in [("fixed", strategies.FixedWindowRateLimiter),
                       ("moving", strategies.MovingWindowRateLimiter),
                       ("sliding", strategies.SlidingWindowCounterRateLimiter)]:
    limiter = strategy(store)
    for user in ("alice", "bob"):
        hits = [limiter.hit(item, name, user) for _ in range(7)]
        assert hits == [True] * 5 + [False] * 2, (name, user, hits)
        assert not limiter.test(item, name, user)
    stats = limiter.get_window_stats(item, name, "alice")
    assert stats.remaining == 0, (name, stats)
    print("limits", name, "window: 5 of 7 allowed, remaining", stats.remaining)

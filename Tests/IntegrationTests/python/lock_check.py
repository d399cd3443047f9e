"""redis-py's Lock with two contenders through ringproxy (see contenders.py). Lock's release
and extend are Lua scripts run with EVALSHA (SCRIPT LOAD first, on NOSCRIPT).

Usage: lock_check.py PROXY_PORT
"""
import contextlib
import sys

from contenders import count_under_lock


@contextlib.contextmanager
def locked(conn):
    lock = conn.lock("lock-check:resource", timeout=10, blocking_timeout=30)
    assert lock.acquire()
    try:
        yield
        lock.extend(5)
    finally:
        lock.release()


print("redis-py Lock: final", count_under_lock(int(sys.argv[1]), "lock-check:counter", 100, locked))

"""python-redis-lock through ringproxy (see contenders.py), with a tagged lock name so its
lock key and its signal list live on one server; waiters block in BLPOP on the signal list
until the holder releases.

Usage: redis_lock_check.py PROXY_PORT
"""
import sys

import redis_lock

from contenders import count_under_lock

final = count_under_lock(int(sys.argv[1]), "{plock}counter", 50,
                         lambda conn: redis_lock.Lock(conn, "{plock}resource", expire=30))
print("python-redis-lock: final", final)

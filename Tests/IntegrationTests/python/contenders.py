"""Two contenders for one lock, each incrementing a counter with a plain GET then SET (not
atomic on its own) while holding it: the final count equals the increments only if the lock
excluded the other. Shared by the lock checks of redis-py and python-redis-lock."""
import threading

import redis


def count_under_lock(port, counter, rounds, locked):
    """`locked(conn)` returns a context manager holding the lock on connection `conn`."""
    r = redis.Redis(host="127.0.0.1", port=port)
    r.delete(counter)

    def contender():
        conn = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(rounds):
            with locked(conn):
                value = int(conn.get(counter) or 0)
                conn.set(counter, value + 1)

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    final = int(r.get(counter))
    assert final == 2 * rounds, final
    return final

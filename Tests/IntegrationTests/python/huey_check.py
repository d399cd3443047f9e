"""huey through ringproxy, blocking (BRPOP) and non-blocking dequeue: tasks are enqueued,
dequeued and executed, and their results read back.

Usage: huey_check.py PROXY_PORT
"""
import sys

from huey import RedisHuey

port = int(sys.argv[1])
for blocking in (True, False):
    huey = RedisHuey("check-%s" % blocking, host="127.0.0.1", port=port, blocking=blocking, read_timeout=1)
    huey.flush()

    @huey.task()
    def add(a, b):
        return a + b

    results = [add(i, i) for i in range(10)]
    assert len(huey) == 10, len(huey)
    for _ in range(10):
        task = huey.dequeue()
        assert task is not None
        huey.execute(task)
    assert [r.get(blocking=True, timeout=5) for r in results] == [2 * i for i in range(10)]
    assert huey.dequeue() is None, "the queue is empty"
    print("huey blocking=%s: 10 tasks run, results read" % blocking)

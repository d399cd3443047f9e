"""rq through ringproxy with `key_routes: {"rq:": ...}`: rq's transactions span its own keys
(queue, job, registries), which cannot carry a hash tag, so the route keeps them on one
server. A job is enqueued, a burst worker runs it, and its result is read back.

Usage: rq_check.py PROXY_PORT
"""
import sys

import redis
from rq import Queue, SimpleWorker

import rq_jobs

port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port)
q = Queue("default", connection=r)
jobs = [q.enqueue(rq_jobs.add, i, 1) for i in range(5)]
assert len(q) == 5, len(q)
SimpleWorker([q], connection=r).work(burst=True)
for i, job in enumerate(jobs):
    job.refresh()
    assert job.get_status() == "finished", job.get_status()
    assert job.return_value() == i + 1, job.return_value()
assert len(q) == 0
print("rq: 5 jobs enqueued, run by a burst worker, results read")

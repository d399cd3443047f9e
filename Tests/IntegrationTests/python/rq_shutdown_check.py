"""An rq worker told to shut down through its control channel, through ringproxy with
`key_routes: {"rq:": ...}` (its keys and its channel `rq:pubsub:<worker name>` on one
server). A real worker (`rq worker`, not burst, a subprocess) runs a job, so it has
subscribed to its channel; then rq.command.send_shutdown_command() publishes `shutdown` there
and the worker must exit by itself, status 0, within a bounded time, and leave the set of
registered workers. Everything is done within DEADLINE seconds, and the worker dies with
this process if it is killed.

Usage: rq_shutdown_check.py PROXY_PORT
"""
import os
import subprocess
import sys
import time
import uuid

import redis
from rq import Queue, Worker
from rq.command import PUBSUB_CHANNEL_TEMPLATE, send_shutdown_command

import rq_jobs
from worker_process import WorkerProcess

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE = time.monotonic() + 120
port = int(sys.argv[1])
name = "ringproxy-check-%s" % uuid.uuid4().hex[:8]
channel = PUBSUB_CHANNEL_TEMPLATE % name
r = redis.Redis(host="127.0.0.1", port=port)
q = Queue("control", connection=r)


worker_process = WorkerProcess(
    "rq-worker-",
    [sys.executable, "-m", "rq.cli", "worker", "--url", "redis://127.0.0.1:%d" % port, "--name", name,
     "--path", HERE, "control"],
    cwd=HERE)
worker, worker_log, fail = worker_process.process, worker_process.output, worker_process.fail


def wait(what, seconds, ready):
    deadline = min(DEADLINE, time.monotonic() + seconds)
    while not ready():
        if worker.poll() is not None:
            fail("the worker exited with status %s while waiting for %s" % (worker.returncode, what))
        if time.monotonic() > deadline:
            fail("no %s within %d s" % (what, seconds))
        time.sleep(0.05)


try:
    started = time.monotonic()
    # The worker subscribes to its channel before it takes its first job.
    job = q.enqueue(rq_jobs.add, 20, 22)
    wait("job run by the worker", 60, lambda: job.get_status(refresh=True) == "finished")
    assert job.return_value() == 42, job.return_value()
    assert name in [w.name for w in Worker.all(connection=r)], "the worker is registered"
    print("rq: worker %s ran a job (20 + 22 = %s) %.1f s after it was started"
          % (name, job.return_value(), time.monotonic() - started))

    sent = time.monotonic()
    send_shutdown_command(r, name)
    try:
        status = worker.wait(timeout=max(1.0, min(30, DEADLINE - time.monotonic())))
    except subprocess.TimeoutExpired:
        fail("the worker did not exit within 30 s of the shutdown command on %s" % channel)
    took = time.monotonic() - sent
    if status != 0:
        fail("the worker exited with status %d" % status)
    if "Received shutdown command" not in worker_log():
        fail("the worker exited without logging the shutdown command")
    assert name not in [w.name for w in Worker.all(connection=r)], "the worker deregistered itself"
    print("rq: shutdown command published on %s; the worker received it, exited 0 after %.2f s and "
          "left the registered workers" % (channel, took))
finally:
    worker_process.cleanup()

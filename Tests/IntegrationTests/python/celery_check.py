"""celery through ringproxy: a real worker (`celery worker --pool=solo`, a subprocess) and
this process share the proxy as redis broker and redis result backend, both with the
documented `global_keyprefix` option set to the hash tag `{celery}` (celery_app.py), so that
kombu's BRPOP over several queue keys and its transactions stay on one server.

Checked, each with a deadline: the worker answers a remote-control ping (kombu's pidbox:
a fanout exchange, PUBLISH and PSUBSCRIBE, with a reply queue); tasks are sent and their
results fetched with AsyncResult.get(), which waits on the redis result backend's pub/sub
(SUBSCRIBE to the task's meta channel) and must receive every result as a message there;
then the worker is told to shut down by remote control and must exit by itself, status 0,
having logged no error. Everything is done within DEADLINE seconds, and the worker dies with
this process if it is killed.

Usage: celery_check.py PROXY_PORT
"""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ["CELERY_CHECK_PORT"] = sys.argv[1]
sys.path.insert(0, HERE)

from celery_app import QUEUE, app, slow_add  # noqa: E402
from worker_process import WorkerProcess  # noqa: E402

TASKS = 5
TASK_SECONDS = 0.5
NODE = "ringproxy-check@localhost"
DEADLINE = time.monotonic() + 150


def remaining(at_most):
    return max(1.0, min(at_most, DEADLINE - time.monotonic()))


worker_process = WorkerProcess(
    "celery-worker-",
    [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "--pool=solo", "--concurrency=1",
     "-Q", QUEUE, "-n", NODE, "--loglevel=INFO"],
    cwd=HERE, env=os.environ.copy())
worker, worker_log, fail = worker_process.process, worker_process.output, worker_process.fail


try:
    # The worker is up when it answers a ping sent by remote control.
    start = time.monotonic()
    replies = []
    while not replies:
        if worker.poll() is not None:
            fail("the worker exited with status %s before answering a ping" % worker.returncode)
        if time.monotonic() - start > 60:
            fail("no ping reply from the worker in 60 s")
        if time.monotonic() > DEADLINE:
            fail("out of time")
        replies = app.control.ping(destination=[NODE], timeout=1.0)
    assert replies == [{NODE: {"ok": "pong"}}], replies
    print("celery: worker answered a remote-control ping after %.1f s: %s" % (time.monotonic() - start, replies))

    by_pubsub = 0
    for i in range(TASKS):
        messages = []
        sent = time.monotonic()
        result = slow_add.delay(i, 100, TASK_SECONDS)
        value = result.get(timeout=remaining(30), on_message=messages.append)
        took = time.monotonic() - sent
        assert value == i + 100, value
        assert result.state == "SUCCESS", result.state
        # on_message sees only what get() read from the pub/sub channel, not its first GET.
        states = [m["status"] for m in messages]
        if "SUCCESS" in states:
            by_pubsub += 1
        print("celery: task %d: %d + 100 = %s in %.2f s; pub/sub messages to get(): %s" % (i, i, value, took, states))
    assert by_pubsub == TASKS, "%d of %d results came by pub/sub" % (by_pubsub, TASKS)

    # The task's result is stored under the hash-tagged key.
    key = app.backend.get_key_for_task(result.id).decode()
    assert key.startswith("{celery}"), key
    print("celery: %d results received by pub/sub; result key %s" % (by_pubsub, key))

    stop = time.monotonic()
    app.control.shutdown(destination=[NODE])
    try:
        status = worker.wait(timeout=remaining(30))
    except subprocess.TimeoutExpired:
        fail("the worker did not exit within %.0f s of the shutdown command" % (time.monotonic() - stop))
    if status != 0:
        fail("the worker exited with status %d" % status)
    errors = [line for line in worker_log().splitlines() if "ERROR/" in line or "CRITICAL/" in line]
    if errors:
        fail("the worker logged %d errors, the first: %s" % (len(errors), errors[0]))
    print("celery: worker shut down by remote control, exited 0 after %.1f s, no error logged"
          % (time.monotonic() - stop))
finally:
    worker_process.cleanup()

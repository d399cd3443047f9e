"""The celery application of celery_check.py, imported by the check and by its worker
(`celery -A celery_app worker`). Broker and result backend are both the proxy on the port in
CELERY_CHECK_PORT; the documented global key prefix `{celery}` is a hash tag, so every key
and channel of celery and kombu lands on one server.
"""
import os
import time

from celery import Celery

URL = "redis://127.0.0.1:%d" % int(os.environ["CELERY_CHECK_PORT"])
QUEUE = "ringproxy-check"

app = Celery("celery_app", broker=URL, backend=URL)
app.conf.update(
    broker_transport_options={"global_keyprefix": "{celery}"},
    result_backend_transport_options={"global_keyprefix": "{celery}"},
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task
def slow_add(a, b, seconds):
    # Slow enough that the caller is already waiting (subscribed to the task's channel)
    # when the result is stored: the result then reaches it by pub/sub, not by a GET.
    time.sleep(seconds)
    return a + b

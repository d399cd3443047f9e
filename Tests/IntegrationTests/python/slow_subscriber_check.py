"""A subscriber that never reads is closed at the proxy's pubsub_output_hard_limit, while
another subscriber of the same channel receives every message.

Usage: slow_subscriber_check.py PROXY_PORT ADMIN_PORT CHANNEL MESSAGES SIZE
"""
import socket
import sys
import threading
import time
import urllib.request

import redis

port, admin, channel, messages, size = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])

slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel holds little for it
slow.connect(("127.0.0.1", port))
slow.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(channel), channel.encode()))

r = redis.Redis(host="127.0.0.1", port=port)
fast = r.pubsub()
fast.subscribe(channel)
assert fast.get_message(timeout=5)["type"] == "subscribe"
received = []


def read():
    deadline = time.time() + 60
    while len(received) < messages and time.time() < deadline:
        m = fast.get_message(timeout=0.5)
        if m and m["type"] == "message":
            received.append(m["data"])


reader = threading.Thread(target=read)
reader.start()
time.sleep(0.3)
payload = b"x" * size
# In batches the fast subscriber keeps up with (its unread bytes stay far below the bound,
# however slow this process is), while the slow one falls further behind with each.
batch = 20
for start in range(0, messages, batch):
    pipe = r.pipeline(transaction=False)
    for i in range(start, min(messages, start + batch)):
        pipe.publish(channel, b"%08d" % i + payload)
    pipe.execute()
    deadline = time.time() + 10
    while len(received) < min(messages, start + batch) and time.time() < deadline:
        time.sleep(0.001)
reader.join()
assert len(received) == messages, ("the fast subscriber lost messages", len(received), messages)
assert received == [b"%08d" % i + payload for i in range(messages)], "out of order"
print("fast subscriber: %d messages of %d bytes, all in order" % (messages, size + 8))

# The slow one was closed: after what the kernel held, its stream ends.
slow.settimeout(10)
total, closed = 0, False
try:
    while True:
        data = slow.recv(1 << 16)
        if not data:
            closed = True
            break
        total += len(data)
except ConnectionResetError:
    closed = True
assert closed, "the slow subscriber was not closed"
assert total < messages * size, (total, messages * size)
metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=10).read().decode()
closed_count = sum(float(l.rsplit(" ", 1)[1]) for l in metrics.splitlines()
                   if l.startswith("ringproxy_pool_pubsub_slow_clients_closed_total{"))
assert closed_count == 1, closed_count
print("slow subscriber: closed after %d of %d bytes; pubsub_slow_clients_closed_total %d" % (
    total, messages * (size + 8), closed_count))

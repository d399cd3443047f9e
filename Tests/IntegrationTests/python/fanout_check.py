"""Many subscribers through ringproxy: CLIENTS raw connections each SUBSCRIBE to every
channel given, then MESSAGES messages per channel are published through the proxy. Every
client must receive every message exactly once. Prints the proxy's subscriber connections
and subscriptions from /metrics.

Usage: fanout_check.py PROXY_PORT ADMIN_PORT CLIENTS MESSAGES CHANNEL...
"""
import selectors
import socket
import sys
import time
import urllib.request

import redis

port, admin, clients, messages = (int(a) for a in sys.argv[1:5])
channels = sys.argv[5:]


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def frames(buf):
    """Whole RESP2 arrays of bulk strings/integers at the start of buf: (frames, used)."""
    out, i = [], 0
    while True:
        if i >= len(buf) or buf[i:i + 1] != b"*":
            return out, i
        end = buf.find(b"\r\n", i)
        if end < 0:
            return out, i
        n, j, items = int(buf[i + 1:end]), end + 2, []
        for _ in range(n):
            e = buf.find(b"\r\n", j)
            if e < 0:
                return out, i
            if buf[j:j + 1] == b":":
                items.append(int(buf[j + 1:e]))
                j = e + 2
                continue
            length = int(buf[j + 1:e])
            if e + 2 + length + 2 > len(buf):
                return out, i
            items.append(buf[e + 2:e + 2 + length])
            j = e + 2 + length + 2
        out.append(items)
        i = j


sel = selectors.DefaultSelector()
state = {}
start = time.time()
for c in range(clients):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(enc("SUBSCRIBE", *channels))
    s.setblocking(False)
    state[s] = {"buf": b"", "confirmed": 0, "got": []}
    sel.register(s, selectors.EVENT_READ)


def pump(until, seconds):
    deadline = time.time() + seconds
    while not until() and time.time() < deadline:
        for key, _ in sel.select(timeout=0.2):
            st = state[key.fileobj]
            try:
                data = key.fileobj.recv(1 << 16)
            except BlockingIOError:
                continue
            assert data, "the proxy closed a subscriber"
            st["buf"] += data
            fs, used = frames(st["buf"])
            st["buf"] = st["buf"][used:]
            for f in fs:
                if f[0] == b"subscribe":
                    st["confirmed"] += 1
                else:
                    assert f[0] == b"message", f
                    st["got"].append((f[1], f[2]))


pump(lambda: all(st["confirmed"] == len(channels) for st in state.values()), 60)
assert all(st["confirmed"] == len(channels) for st in state.values()), "not every SUBSCRIBE was confirmed"
print("%d clients subscribed to %d channels in %.1f s" % (clients, len(channels), time.time() - start))

publisher = redis.Redis(host="127.0.0.1", port=port)
sent = []
for i in range(messages):
    for ch in channels:
        payload = b"%s-%d" % (ch.encode(), i)
        publisher.publish(ch, payload)
        sent.append((ch.encode(), payload))
total = len(sent)
pump(lambda: all(len(st["got"]) >= total for st in state.values()), 60)
for st in state.values():
    assert sorted(st["got"]) == sorted(sent), ("a client's messages differ", len(st["got"]), total)
pump(lambda: False, 0.5)  # nothing more may come
for st in state.values():
    assert len(st["got"]) == total, "a message came twice"
print("each of %d clients received each of %d messages exactly once" % (clients, total))

metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin, timeout=10).read().decode()


def metric(name):
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


print("subscriber_connections %d subscriptions %d pubsub_clients %d" % (
    metric("ringproxy_upstream_subscriber_connections"), metric("ringproxy_upstream_subscriptions"),
    metric("ringproxy_pool_pubsub_clients")))
for s in state:
    s.close()

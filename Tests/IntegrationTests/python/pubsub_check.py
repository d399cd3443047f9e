"""redis-py's PubSub through ringproxy, in one protocol: subscribe, psubscribe and
get_message; run_in_thread with handlers; keyspace notifications from every server through
one PSUBSCRIBE. The channels given lie on different servers (the test picks them from the
proxy's own placement), so messages come over every server's subscriber connection.

Usage: pubsub_check.py PROXY_PORT PROTOCOL REDIS_PORTS(comma-separated) CHANNEL...
"""
import sys
import threading
import time

import redis

port, protocol = int(sys.argv[1]), int(sys.argv[2])
redis_ports = [int(p) for p in sys.argv[3].split(",")]
channels = sys.argv[4:]
r = redis.Redis(host="127.0.0.1", port=port, protocol=protocol)


def drain(p, want, seconds=10):
    """Messages (not confirmations) until `want` have come, or the time is up."""
    got, deadline = [], time.time() + seconds
    while len(got) < want and time.time() < deadline:
        m = p.get_message(timeout=0.2)
        if m and m["type"] in ("message", "pmessage"):
            got.append((m["type"], m["channel"].decode(), m["pattern"] and m["pattern"].decode(), m["data"].decode()))
    return got


# subscribe + psubscribe + get_message: each channel's message once, and once more through
# the pattern that matches them all.
p = r.pubsub()
p.subscribe(*channels)
p.psubscribe("ps-*")
confirmations = [p.get_message(timeout=5) for _ in range(len(channels) + 1)]
assert [c["type"] for c in confirmations] == ["subscribe"] * len(channels) + ["psubscribe"], confirmations
assert [c["data"] for c in confirmations] == list(range(1, len(channels) + 2)), confirmations
for ch in channels:
    receivers = r.publish(ch, "to-" + ch)
    assert receivers == 2, (ch, receivers)  # the channel and the pattern, as redis-server counts them
got = drain(p, 2 * len(channels))
want = [("message", ch, None, "to-" + ch) for ch in channels] + [("pmessage", ch, "ps-*", "to-" + ch) for ch in channels]
assert sorted(got) == sorted(want), (got, want)
assert drain(p, 1, seconds=0.5) == [], "no message twice"
p.unsubscribe()
p.punsubscribe()
p.close()
print("protocol %d: %d channels and one pattern, %d messages, each once" % (protocol, len(channels), len(got)))

# run_in_thread with a handler per channel.
seen = {ch: [] for ch in channels}
lock = threading.Lock()


def handler_for(ch):
    def handler(message):
        with lock:
            seen[ch].append(message["data"].decode())
    return handler


p2 = r.pubsub()
p2.subscribe(**{ch: handler_for(ch) for ch in channels})
worker = p2.run_in_thread(sleep_time=0.01, daemon=True)
# p2.subscribe sent the SUBSCRIBE; its confirmations reach the thread, which runs handlers
# for messages only. A publish after a moment is after the proxy had the confirmations.
time.sleep(0.5)
for i in range(10):
    for ch in channels:
        r.publish(ch, "%s-%d" % (ch, i))
deadline = time.time() + 10
while time.time() < deadline and any(len(v) < 10 for v in seen.values()):
    time.sleep(0.05)
worker.stop()
worker.join(timeout=5)
p2.close()
for ch in channels:
    assert seen[ch] == ["%s-%d" % (ch, i) for i in range(10)], (ch, seen[ch])
print("protocol %d: run_in_thread handlers got %d messages in order" % (protocol, sum(len(v) for v in seen.values())))

# Keyspace notifications from every server through one pattern.
for rp in redis_ports:
    redis.Redis(host="127.0.0.1", port=rp).config_set("notify-keyspace-events", "KA")
p3 = r.pubsub()
p3.psubscribe("__keyspace@0__:ks-*")
assert p3.get_message(timeout=5)["type"] == "psubscribe"
keys = ["ks-" + ch for ch in channels]
for k in keys:
    r.set(k, "v")
got = drain(p3, len(keys))
events = sorted((m[2], m[1], m[3]) for m in got)
assert events == sorted(("__keyspace@0__:ks-*", "__keyspace@0__:" + k, "set") for k in keys), events
servers_seen = set()
for k in keys:
    for i, rp in enumerate(redis_ports):
        if redis.Redis(host="127.0.0.1", port=rp).exists(k):
            servers_seen.add(i)
assert len(servers_seen) == len(redis_ports), servers_seen
p3.close()
print("protocol %d: keyspace notifications from %d servers through one PSUBSCRIBE" % (protocol, len(servers_seen)))

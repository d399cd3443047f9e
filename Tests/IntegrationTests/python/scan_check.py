"""SCAN, KEYS, DBSIZE and RANDOMKEY through ringproxy, checked against what the
redis-servers behind it hold (asked directly, never hard-coded).

Usage: scan_check.py MODE PROXY_PORT REDIS_PORT,REDIS_PORT,... [OTHER_PROXY_PORT]
Modes:
  full    100,000 keys: SCAN with COUNT 100, with MATCH, with TYPE, each key exactly once;
          KEYS equals the union of the servers' KEYS, DBSIZE their sum; RANDOMKEY a key
  purge   redis-py scan_iter(match="page:/blog/*") then DEL: that prefix gone, others stay
  resume  a scan begun on one connection continues on a new one, and on OTHER_PROXY_PORT
          (another ringproxy with the same servers)
  select  SELECT 3 then SCAN sees database 3's keys only
  down    one server is down (REDIS_PORT lists the live ones) and the pool answers misses:
          SCAN, KEYS and RANDOMKEY answer the live servers' keys
Exits non-zero (an AssertionError) on the first wrong answer.
"""
import sys
import time

import redis

mode = sys.argv[1]
port = int(sys.argv[2])
servers = [redis.Redis(port=int(p)) for p in sys.argv[3].split(",")]
proxy = redis.Redis(port=port)


def server_keys(pattern="*", db=0):
    """Every server's KEYS, asked directly; no key may live on two servers."""
    union = set()
    total = 0
    for s in servers:
        c = s if db == 0 else redis.Redis(port=s.connection_pool.connection_kwargs["port"], db=db)
        keys = c.keys(pattern)
        total += len(keys)
        union.update(keys)
    assert total == len(union), "a key on two servers"
    return union


def scan_all(client, **options):
    """Every key a whole SCAN returns, as a list (duplicates kept), and the pages walked."""
    cursor, found, pages = 0, [], 0
    while True:
        cursor, keys = client.scan(cursor=cursor, **options)
        found.extend(keys)
        pages += 1
        if cursor == 0:
            return found, pages
        assert pages < 1_000_000, "the scan does not end"


def exactly_once(found, expected, what):
    assert len(found) == len(set(found)), "%s: %d duplicates" % (what, len(found) - len(set(found)))
    assert set(found) == expected, "%s: %d missing, %d extra" % (
        what, len(expected - set(found)), len(set(found) - expected))


def load(count, every_page=10):
    """`count` keys through the proxy in MSET batches: every tenth is page:/blog/N."""
    names = ["page:/blog/%d" % i if i % every_page == 0 else "item:%d" % i for i in range(count)]
    with proxy.pipeline(transaction=False) as p:
        for start in range(0, count, 1000):
            p.mset({k: "v" for k in names[start:start + 1000]})
        assert all(p.execute())
    return names


if mode == "full":
    t0 = time.time()
    names = load(100_000)
    for i in range(50):
        proxy.hset("hash:%d" % i, "f", "v")
    expected = server_keys()
    assert len(expected) == 100_050 and {n.encode() for n in names} <= expected
    assert proxy.dbsize() == sum(s.dbsize() for s in servers) == len(expected)

    found, pages = scan_all(proxy, count=100)
    exactly_once(found, expected, "SCAN COUNT 100")
    assert pages >= len(expected) // 200, "pages of about COUNT keys: %d pages" % pages

    found, _ = scan_all(proxy, match="page:/blog/*", count=1000)
    blog = server_keys("page:/blog/*")
    assert len(blog) == 10_000
    exactly_once(found, blog, "SCAN MATCH")

    found, _ = scan_all(proxy, count=1000, _type="hash")
    exactly_once(found, server_keys("hash:*"), "SCAN TYPE hash")

    keys = proxy.keys("*")
    exactly_once(keys, expected, "KEYS *")
    exactly_once(proxy.keys("page:/blog/1*"), server_keys("page:/blog/1*"), "KEYS pattern")
    assert proxy.keys("nosuch:*") == []

    # RESP3: the same keys, the same page shape through redis-py's RESP3 parser.
    resp3 = redis.Redis(port=port, protocol=3)
    found, _ = scan_all(resp3, match="hash:*", count=1000)
    exactly_once(found, server_keys("hash:*"), "RESP3 SCAN")
    exactly_once(resp3.keys("hash:*"), server_keys("hash:*"), "RESP3 KEYS")

    seen = {proxy.randomkey() for _ in range(40)}
    assert None not in seen and seen <= expected, "RANDOMKEY answers existing keys"
    assert len(seen) > 1, "RANDOMKEY is random"
    for s in servers:
        s.flushdb()
    assert proxy.randomkey() is None and proxy.keys("*") == [] and proxy.dbsize() == 0
    assert scan_all(proxy) == ([], len(servers)), "an empty ring: one empty page per server"
    print("full: %d keys scanned exactly once in %.1f s" % (len(expected), time.time() - t0))

elif mode == "purge":
    load(20_000)
    blog = server_keys("page:/blog/*")
    others = server_keys() - blog
    batch = []
    for key in proxy.scan_iter(match="page:/blog/*", count=100):
        batch.append(key)
        if len(batch) == 500:
            proxy.delete(*batch)
            batch = []
    if batch:
        proxy.delete(*batch)
    assert server_keys("page:/blog/*") == set(), "the prefix is purged"
    assert server_keys() == others, "other keys stay"
    print("purge: %d page:/blog/ keys deleted, %d others kept" % (len(blog), len(others)))

elif mode == "resume":
    load(5_000)
    expected = server_keys()
    first = redis.Redis(port=port)
    cursor, found = 0, []
    for _ in range(10):
        cursor, keys = first.scan(cursor=cursor, count=100)
        found.extend(keys)
    assert cursor != 0
    first.close()
    second = redis.Redis(port=port)  # a new client connection
    for _ in range(10):
        cursor, keys = second.scan(cursor=cursor, count=100)
        found.extend(keys)
    assert cursor != 0
    other = redis.Redis(port=int(sys.argv[4]))  # another ringproxy, same servers
    while cursor != 0:
        cursor, keys = other.scan(cursor=cursor, count=100)
        found.extend(keys)
    exactly_once(found, expected, "resumed SCAN")
    print("resume: %d keys over two connections and two proxies" % len(found))

elif mode == "select":
    in3 = redis.Redis(port=port, db=3)
    with in3.pipeline(transaction=False) as p:
        for start in range(0, 2000, 500):
            p.mset({"db3:%d" % i: "v" for i in range(start, start + 500)})
        p.execute()
    load(1000)
    three = server_keys(db=3)
    assert len(three) == 2000 and len(server_keys()) == 1000
    found, _ = scan_all(in3, count=100)
    exactly_once(found, three, "SCAN in database 3")
    exactly_once(in3.keys("*"), three, "KEYS in database 3")
    assert in3.dbsize() == 2000
    print("select: database 3 scanned alone")

elif mode == "down":
    expected = server_keys()
    assert expected, "keys on the live servers"
    found, _ = scan_all(proxy, count=50)
    exactly_once(found, expected, "SCAN with a server down")
    exactly_once(proxy.keys("*"), expected, "KEYS with a server down")
    assert {proxy.randomkey() for _ in range(20)} <= expected
    print("down: %d keys of the live servers" % len(expected))

else:
    raise SystemExit("unknown mode " + mode)

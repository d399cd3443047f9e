"""Binary upgrade under load: ringproxy is replaced ROUNDS times in a row while 50 clients run
GET/SET/MGET through it (raw RESP clients over TCP and the unix socket, pipelined and not, and
threads sharing a redis-py connection pool with its retries turned off).

A client checks a connection before using it, as a pooled client does (redis-py's pool looks
for pending data or the end of the connection on checkout): one the proxy closed while idle
is replaced, and that reconnect is the only thing ever retried. Any refused connection
attempt, error reply, wrong value, or connection lost with a request on it fails the run.
At the end every raw client asks, on the connection it has, which process serves it: the
last one must (idle connections move to the new process, so they need no reconnect).

With NEXT_CONFIG, the upgrades alternate between it and CONFIG: NEXT_CONFIG drops the pool
listening on GONE_PORT and adds one on ADDED_PORT (the load runs on the pools both keep).
After each upgrade the pool the new config has answers, and the one it dropped refuses.

Usage: upgrade_check.py BINARY CONFIG CONTROL PORT SOCKET ADMIN_PORT WORKDIR [ROUNDS
                        [NEXT_CONFIG GONE_PORT ADDED_PORT]]
Prints each round's longest request and exits non-zero on the first broken promise.
"""
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

binary, config, control, port, sock_path, admin_port, workdir = sys.argv[1:8]
port, admin_port = int(port), int(admin_port)
ROUNDS = int(sys.argv[8]) if len(sys.argv) > 8 else 5
next_config, gone_port, added_port = (sys.argv[9], int(sys.argv[10]), int(sys.argv[11])) if len(sys.argv) > 11 else (None, 0, 0)
RAW_TCP, RAW_UNIX, POOL_THREADS = 32, 8, 10   # 50 clients
LOAD_BETWEEN = 1.0     # seconds of load before each upgrade and after the last
OLD_EXIT_LIMIT = 15.0  # the old process must be gone this long after the new one starts
START_LIMIT = 10.0     # the new process must take over within this
IO_TIMEOUT = 5.0       # no single request may take longer

lock = threading.Lock()
stop = threading.Event()
current_round = [0]
longest = [0.0] * (ROUNDS + 1)
counts = {"requests": 0, "reconnects": 0, "refused": 0}
failures = []
final_pids = []


def fail(message):
    with lock:
        if len(failures) < 20:
            failures.append(message)


def note(started, round_index):
    elapsed = time.monotonic() - started
    with lock:
        counts["requests"] += 1
        longest[round_index] = max(longest[round_index], elapsed)


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, unix):
        self.unix, self.sock, self.buf = unix, None, b""

    def connect(self):
        s = socket.socket(socket.AF_UNIX if self.unix else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(IO_TIMEOUT)
        try:
            s.connect(sock_path if self.unix else ("127.0.0.1", port))
        except (ConnectionRefusedError, FileNotFoundError) as e:
            s.close()
            with lock:
                counts["refused"] += 1
            raise RuntimeError("connection refused: %r" % e)
        self.sock, self.buf = s, b""
        self.served = 0

    def checkout(self):
        """A pooled client's check: a connection the server ended while idle is replaced."""
        if self.sock is None:
            self.connect()
            return
        readable, _, _ = select.select([self.sock], [], [], 0)
        if not readable:
            return
        try:
            ended = self.sock.recv(1, socket.MSG_PEEK) == b""
        except ConnectionResetError:
            ended = True
        if not ended:
            raise RuntimeError("data on an idle connection")
        self.close()
        with lock:
            counts["reconnects"] += 1
        self.connect()

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed with a request on it")
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError("error reply: %s" % rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("connection closed in a reply")
                self.buf += chunk
            value, self.buf = self.buf[:n], self.buf[n + 2:]
            return value
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("unexpected reply %r" % line)

    def call(self, commands):
        self.sock.sendall(b"".join(encode(c) for c in commands))
        replies = [self.reply() for _ in commands]
        self.served += 1
        return replies


def raw_client(index, unix):
    conn = Conn(unix)
    keys = ["up:%d:%d:%d" % (os.getpid(), index, j) for j in range(12)]
    values = {}
    n = 0
    while not stop.is_set():
        n += 1
        k = keys[n % len(keys)]
        v = b"%d-%d" % (index, n)
        shape = n % 3
        if shape == 0:      # one request at a time
            batches = [[["SET", k, v]], [["GET", k]]]
        elif shape == 1:    # a pipeline of ten
            batches = [[["SET", k, v], ["GET", k]] + [["GET", x] for x in keys[:4]] + [["MGET"] + keys] * 4]
        else:               # MGET over all servers
            batches = [[["MGET"] + keys]]
        for commands in batches:
            round_index = current_round[0]
            started = time.monotonic()
            try:
                conn.checkout()
                replies = conn.call(commands)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                fail("client %d: %s (request %d on its connection)" % (index, e, conn.served + 1))
                conn.close()
                break
            note(started, round_index)
            for c, r in zip(commands, replies):
                if c[0] == "SET":
                    values[c[1]] = c[2]
                    if r != "OK":
                        fail("client %d: SET answered %r" % (index, r))
                elif c[0] == "GET" and r != values.get(c[1]):
                    fail("client %d: GET %s answered %r, not %r" % (index, c[1], r, values.get(c[1])))
                elif c[0] == "MGET" and r != [values.get(x) for x in c[1:]]:
                    fail("client %d: MGET answered %r" % (index, r))
    try:
        conn.checkout()
        text = conn.call([["INFO", "server"]])[0].decode()
        with lock:
            final_pids.append(int(next(l.split(":")[1] for l in text.split("\r\n") if l.startswith("process_id:"))))
    except Exception as e:  # noqa: BLE001
        fail("client %d: INFO at the end: %s" % (index, e))
    conn.close()


def pool_client(index, client):
    n = 0
    while not stop.is_set():
        n += 1
        key = "pool:%d:%d" % (index, n % 8)
        round_index = current_round[0]
        started = time.monotonic()
        try:
            if n % 2:
                assert client.set(key, n) is True
                assert client.get(key) == str(n).encode()
            else:
                pipe = client.pipeline(transaction=False)
                for j in range(8):
                    pipe.set("pool:%d:p%d" % (index, j), j)
                pipe.mget(["pool:%d:p%d" % (index, j) for j in range(8)])
                result = pipe.execute()
                assert result[-1] == [str(j).encode() for j in range(8)], result
        except Exception as e:  # noqa: BLE001
            fail("pool client %d: %r" % (index, e))
        note(started, round_index)


def start(name, config_file):
    log = open(os.path.join(workdir, name + ".log"), "w")
    return subprocess.Popen([binary, "-c", config_file, "-T", "2", "--takeover-socket", control],
                            stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, limit):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def stats():
    with urllib.request.urlopen("http://127.0.0.1:%d/stats" % admin_port, timeout=IO_TIMEOUT) as r:
        return json.loads(r.read())


def info_pid(unix):
    c = Conn(unix)
    c.connect()
    text = c.call([["INFO", "server"]])[0].decode()
    c.close()
    return int(next(l.split(":")[1] for l in text.split("\r\n") if l.startswith("process_id:")))


def answers(p):
    """PING on a pool of the checker's own (not a load client: a refusal here is expected)."""
    try:
        s = socket.create_connection(("127.0.0.1", p), timeout=IO_TIMEOUT)
    except ConnectionRefusedError:
        return False
    try:
        s.sendall(encode(["PING"]))
        return s.recv(64) == b"+PONG\r\n"
    finally:
        s.close()


proxy = start("ringproxy-0", config)
if not wait_for(lambda: os.path.exists(control) and os.path.exists(sock_path), START_LIMIT):
    sys.exit("the first ringproxy did not start")
time.sleep(0.2)
pool = redis.ConnectionPool(host="127.0.0.1", port=port, max_connections=POOL_THREADS,
                            retry=Retry(NoBackoff(), 0), socket_timeout=IO_TIMEOUT)
shared = redis.Redis(connection_pool=pool)
threads = [threading.Thread(target=raw_client, args=(i, i >= RAW_TCP)) for i in range(RAW_TCP + RAW_UNIX)]
threads += [threading.Thread(target=pool_client, args=(i, shared)) for i in range(POOL_THREADS)]
for t in threads:
    t.start()
try:
    for round_index in range(1, ROUNDS + 1):
        time.sleep(LOAD_BETWEEN)
        current_round[0] = round_index
        before = counts["requests"]
        changed = next_config is not None and round_index % 2 == 1
        old, proxy = proxy, start("ringproxy-%d" % round_index, next_config if changed else config)
        if not wait_for(lambda: old.poll() is not None, OLD_EXIT_LIMIT):
            fail("round %d: the old process (pid %d) still runs after %.0f s" % (round_index, old.pid, OLD_EXIT_LIMIT))
            old.kill()
        elif old.returncode != 0:
            fail("round %d: the old process exited with %d" % (round_index, old.returncode))
        if proxy.poll() is not None:
            fail("round %d: the new process exited with %d" % (round_index, proxy.returncode))
            break
        # Connections passed on in the old process's last moments are still being taken up.
        wait_for(lambda: stats()["curr_connections"] >= RAW_TCP + RAW_UNIX + POOL_THREADS, 1.0)
        s = stats()
        if next_config is not None:
            kept, dropped = (added_port, gone_port) if changed else (gone_port, added_port)
            if not answers(kept) or answers(dropped):
                fail("round %d: the pool on %d should answer and the one on %d refuse" % (round_index, kept, dropped))
        served = [info_pid(False), info_pid(True)]
        if served != [proxy.pid, proxy.pid]:
            fail("round %d: clients reach pid %s, not the new pid %d" % (round_index, served, proxy.pid))
        print("round %d: pid %d -> %d, %d requests meanwhile, longest %.1f ms, %d clients on the new process when asked" %
              (round_index, old.pid, proxy.pid, counts["requests"] - before, longest[round_index] * 1000,
               s["curr_connections"]), flush=True)
    time.sleep(LOAD_BETWEEN)
finally:
    stop.set()
    for t in threads:
        t.join(IO_TIMEOUT * 2)
    if final_pids != [proxy.pid] * (RAW_TCP + RAW_UNIX):
        fail("at the end, clients were served by pids %s, not only by %d" % (sorted(set(final_pids)), proxy.pid))
    proxy.terminate()
    proxy.wait(10)
print("requests %(requests)d, reconnects after an idle close %(reconnects)d, refused %(refused)d" % counts)
print("connections on the last process at the end: %d of %d" % (final_pids.count(proxy.pid), RAW_TCP + RAW_UNIX))
print("longest request per round (ms): " + ", ".join("%.1f" % (x * 1000) for x in longest[1:]))
print("longest request during warm-up (threads starting, no upgrade): %.1f ms" % (longest[0] * 1000))
if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("ok")

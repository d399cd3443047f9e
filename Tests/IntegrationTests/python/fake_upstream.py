"""A tiny Redis stand-in that misbehaves on purpose, for faults a real Redis cannot produce.

Usage: fake_upstream.py PORT
It answers PING (+PONG), SET (+OK, storing the value) and GET (the stored value or nil),
like Redis, except for GETs of keys ending in these names (so a hash tag in front can steer
them to this server):
  ...garbage   -> "?not resp\r\n" (an invalid type byte)
  ...cut       -> "$10\r\nabc" and the connection is closed mid-reply
  ...surprise  -> the right reply, then 0.3 s later an unsolicited "+SURPRISE\r\n"
  ...slow      -> the right reply written one byte at a time Every connection runs in its own thread; the test kills the
process, and it exits by itself after 120 s so that it can never be left behind.
"""
import socket
import sys
import threading
import time

store = {}
lock = threading.Lock()


def read_request(conn, buf):
    """Returns (args, rest of buffer) for one multibulk request, or (None, buf) at EOF."""
    while True:
        parsed = parse(buf)
        if parsed is not None:
            return parsed
        chunk = conn.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk


def parse(buf):
    if not buf.startswith(b"*") or b"\r\n" not in buf:
        return None
    line, rest = buf.split(b"\r\n", 1)
    count = int(line[1:])
    args = []
    for _ in range(count):
        if b"\r\n" not in rest:
            return None
        header, rest = rest.split(b"\r\n", 1)
        n = int(header[1:])
        if len(rest) < n + 2:
            return None
        args.append(rest[:n])
        rest = rest[n + 2:]
    return args, rest


def bulk(value):
    return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)


def serve(conn):
    buf = b""
    try:
        while True:
            args, buf = read_request(conn, buf)
            if args is None:
                return
            name = args[0].upper()
            key = args[1] if len(args) > 1 else b""
            if name == b"GET" and key.endswith(b"garbage"):
                conn.sendall(b"?not resp\r\n")
                continue
            if name == b"GET" and key.endswith(b"cut"):
                conn.sendall(b"$10\r\nabc")
                conn.close()
                return
            if name == b"PING":
                reply = b"+PONG\r\n"
            elif name == b"SET":
                with lock:
                    store[key] = args[2]
                reply = b"+OK\r\n"
            elif name == b"GET":
                with lock:
                    reply = bulk(store.get(key))
            else:
                reply = b"-ERR fake upstream knows only PING, GET, SET\r\n"
            if name == b"GET" and key.endswith(b"slow"):
                for b in reply:
                    conn.sendall(bytes([b]))
            else:
                conn.sendall(reply)
            if name == b"GET" and key.endswith(b"surprise"):
                time.sleep(0.3)
                conn.sendall(b"+SURPRISE\r\n")
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port = int(sys.argv[1])
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    deadline = time.time() + 120
    listener.settimeout(0.5)
    while time.time() < deadline:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes Sources/RingCore/Protocol/RedisCommands.swift from a live redis-server's COMMAND,
and with "docs" Sources/RingCore/Protocol/RedisCommandDocs.swift from its RESP3 COMMAND and
COMMAND DOCS replies (what the proxy's COMMAND INFO, DOCS and LIST answer).

Usage: tools/gen_command_table.py PORT > Sources/RingCore/Protocol/RedisCommands.swift
       tools/gen_command_table.py PORT docs > Sources/RingCore/Protocol/RedisCommandDocs.swift
The table is data, not code: arity, key positions, flags and the request/response policy
tips exactly as Redis reports them,
so routing follows the server's own metadata. Regenerate against the Redis version the
proxy targets (7.0 today) rather than editing the output by hand.
"""
import socket
import sys

FLAGS = ["write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
         "loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth",
         "may_replicate", "movablekeys", "no_mandatory_keys", "no_multi", "allow_busy",
         "asking", "no_async_loading"]


def read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        return rest
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ValueError("unexpected reply %r" % line)


def command_info(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"*1\r\n$7\r\nCOMMAND\r\n")
    return read_reply(s.makefile("rb"))


def pairs(lst):
    return {lst[i].decode(): lst[i + 1] for i in range(0, len(lst), 2)}


def keynum_spec(specs):
    """(numkeys argument index, first key index, step) of a keynum key-spec, if any."""
    for spec in specs:
        d = pairs(spec)
        begin, find = pairs(d["begin_search"]), pairs(d["find_keys"])
        if begin["type"] == b"index" and find["type"] == b"keynum":
            b = pairs(begin["spec"])["index"]
            k = pairs(find["spec"])
            return (b + k["keynumidx"], b + k["firstkey"], k["keystep"])
    return None


REQUEST_POLICIES = {"all_nodes": "allNodes", "all_shards": "allShards", "multi_shard": "multiShard",
                    "special": "special"}
RESPONSE_POLICIES = {"one_succeeded": "oneSucceeded", "all_succeeded": "allSucceeded",
                     "agg_logical_and": "aggLogicalAnd", "agg_logical_or": "aggLogicalOr",
                     "agg_min": "aggMin", "agg_max": "aggMax", "agg_sum": "aggSum", "special": "special"}


def keys_in_options(specs):
    """Whether a key spec finds keys other than by position: after a keyword (STORE,
    STREAMS, KEYS) or by a rule only the command's own code knows (SORT's "unknown")."""
    for spec in specs:
        d = pairs(spec)
        begin, find = pairs(d["begin_search"]), pairs(d["find_keys"])
        if begin["type"] != b"index" or find["type"] == b"unknown":
            return True
    return False


def policies(info):
    """Redis's request_policy and response_policy tips (COMMAND's eighth field), as the
    Swift enum cases; "none" where the command has no such tip."""
    tips = [t.decode() for t in info[7]] if len(info) > 7 else []
    request, response = "none", "none"
    for tip in tips:
        key, _, value = tip.partition(":")
        if key == "request_policy":
            request = REQUEST_POLICIES[value]
        elif key == "response_policy":
            response = RESPONSE_POLICIES[value]
    return request, response


def camel(flag):
    head, *rest = flag.split("_")
    return head + "".join(p.capitalize() for p in rest)


def entry(info, name=None):
    name = name or info[0].decode()
    arity, flags, first, last, step = info[1], [f.decode() for f in info[2]], info[3], info[4], info[5]
    specs = info[8] if len(info) > 8 else []
    kn = keynum_spec(specs)
    mask = "[" + ", ".join("." + camel(f) for f in flags if f in FLAGS) + "]"
    subs = info[9] if len(info) > 9 else []
    kn_s = "nil" if kn is None else "(%d, %d, %d)" % kn
    request, response = policies(info)
    hidden = ", keysInOptions: true" if keys_in_options(specs) else ""
    return '    RedisCommandSpec("%s", %d, %d, %d, %d, %s, %s, %s, .%s, .%s%s),' % (
        name, arity, first, last, step, mask, kn_s, "true" if subs else "false", request, response, hidden), subs


def raw_replies(port, commands):
    """The raw RESP3 bytes of each top-level element of the replies to `commands` (each a
    list of words), sent after HELLO 3."""
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    s.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
    skip_reply(f, bytearray())
    out = []
    for words in commands:
        s.sendall(b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
        header = f.readline()
        assert header[:1] in (b"*", b"%"), header
        n = int(header[1:-2]) * (2 if header[:1] == b"%" else 1)
        elements = []
        for _ in range(n):
            raw = bytearray()
            skip_reply(f, raw)
            elements.append(bytes(raw))
        out.append(elements)
    return out


def skip_reply(f, raw):
    """Reads one RESP3 reply from `f`, appending its bytes to `raw`."""
    line = f.readline()
    raw += line
    t = line[:1]
    if t in (b"$", b"=", b"!"):
        raw += f.read(int(line[1:-2]) + 2)
    elif t in (b"*", b"~", b">", b"%", b"|"):
        n = int(line[1:-2]) * (2 if t in (b"%", b"|") else 1)
        for _ in range(n):
            skip_reply(f, raw)


def swift_literal(b):
    """A Swift string literal of the bytes (all of them ASCII in Redis 7.0's docs)."""
    out = []
    for c in b.decode("utf-8"):
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\r":
            out.append("\\r")
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) > 0x7e:
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def docs_main(port):
    infos, docs = raw_replies(port, [[b"COMMAND"], [b"COMMAND", b"DOCS"]])
    names = [d for d in docs[0::2]]
    by_name = {names[i]: docs[2 * i + 1] for i in range(len(names))}
    rows = []
    for info in infos:
        # An entry starts with its name: "*10\r\n$3\r\nget\r\n".
        start = info.index(b"\r\n") + 2
        length = int(info[start + 1:info.index(b"\r\n", start)])
        bulk_end = info.index(b"\r\n", start) + 2 + length + 2
        name = info[start:bulk_end]
        rows.append((name.split(b"\r\n")[1], info, by_name.get(name, b"%0\r\n")))
    rows.sort()
    print("// Generated by tools/gen_command_table.py from redis-server 7.0's RESP3 COMMAND and")
    print("// COMMAND DOCS replies. Do not edit by hand: regenerate. One row per top-level")
    print("// command: its name, its COMMAND INFO entry and its COMMAND DOCS map (subcommands")
    print("// nested in both, as Redis nests them), each as RESP3 bytes (CommandDocs reads them).")
    print("let redisCommandDocs: [(name: StaticString, info: StaticString, docs: StaticString)] = [")
    for name, info, doc in rows:
        print("    (%s,\n     %s,\n     %s)," % (swift_literal(name), swift_literal(info), swift_literal(doc)))
    print("]")


def main():
    port = int(sys.argv[1])
    if len(sys.argv) > 2 and sys.argv[2] == "docs":
        docs_main(port)
        return
    rows = []
    for info in command_info(port):
        row, subs = entry(info)
        rows.append(row)
        for sub in subs:
            rows.append(entry(sub)[0])
    rows.sort()
    print("// Generated by tools/gen_command_table.py from redis-server 7.0's COMMAND reply.")
    print("// Do not edit by hand: regenerate. Fields: name (lowercase, \"container|sub\" for")
    print("// subcommands), arity, first key, last key, key step, flags, keynum key-spec")
    print("// (numkeys index, first key index, step), whether it has subcommands, and the")
    print("// request_policy / response_policy tips.")
    print("let redisCommandSpecs: [RedisCommandSpec] = [")
    for r in rows:
        print(r)
    print("]")


if __name__ == "__main__":
    main()

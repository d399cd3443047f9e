// ringproxy in front of real redis-servers: ordering of pipelined replies across servers,
// split and merged multi-key commands, refusals with clear errors, RESP3, protocol errors,
// redis-cli, redis-benchmark and redis-py as clients.

import Foundation
import RingCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ProxyBehaviourTests: XCTestCase {
    static var fixture: ProxyFixture!

    override class func setUp() {
        super.setUp()
        fixture = try! ProxyFixture()
    }

    override class func tearDown() {
        fixture?.stop()
        fixture = nil
        super.tearDown()
    }

    var f: ProxyFixture { Self.fixture }

    // MARK: pipelining

    /// One client pipelines 10,000 mixed commands (keys on every server, unknown and
    /// malformed commands among them) and must get 10,000 replies, each the right one.
    func pipelineOf10000(resp3: Bool) throws {
        let client = try RESPClient(port: f.port)
        if resp3 {
            let hello = try client.command("HELLO", "3")
            XCTAssertEqual(hello.first, UInt8(ascii: "%"), "HELLO 3 answers a map: \(hello.text)")
        }
        let tag = resp3 ? "p3" : "p2"
        var batch: [UInt8] = []
        var expected: [(String) -> Bool] = []
        let nilReply = resp3 ? "_\r\n" : "$-1\r\n"
        func keyFor(_ i: Int) -> String {
            "\(tag):\(MD5.digest(Array("\(i)".utf8)).prefix(4).map { String($0, radix: 16) }.joined()):\(i)"
        }
        for i in 0..<10_000 {
            let key = keyFor(i)
            switch i % 10 {
            case 0, 1, 2:
                batch += RESPClient.encode(["SET", key, "value-\(i)"])
                expected.append { $0 == "+OK\r\n" }
            case 3, 4:
                // The value written three commands earlier (cases 0 and 1 of this decade).
                let value = "value-\(i - 3)"
                batch += RESPClient.encode(["GET", keyFor(i - 3)])
                expected.append { $0 == "$\(value.utf8.count)\r\n\(value)\r\n" }
            case 5:
                batch += RESPClient.encode(["NOSUCHCOMMAND", key])
                expected.append { $0.hasPrefix("-ERR unknown command 'NOSUCHCOMMAND'") }
            case 6:
                batch += RESPClient.encode(["GET"])
                expected.append { $0 == "-ERR wrong number of arguments for 'get' command\r\n" }
            case 7:
                batch += RESPClient.encode(["MGET", key, "\(key):x", "missing:\(i)", "{\(key)}y"])
                expected.append { $0 == "*4\r\n\(nilReply)\(nilReply)\(nilReply)\(nilReply)" }
            case 8:
                batch += RESPClient.encode(["ECHO", "e\(i)"])
                let e = "e\(i)"
                expected.append { $0 == "$\(e.utf8.count)\r\n\(e)\r\n" }
            default:
                batch += RESPClient.encode(["INCR", "counter:\(tag):\(i)"])
                expected.append { $0 == ":1\r\n" }
            }
        }
        try client.send(batch)
        var wrong = 0
        for (i, check) in expected.enumerated() {
            let reply = try client.readReply().text
            if !check(reply) {
                wrong += 1
                if wrong < 5 { XCTFail("reply \(i) (\(resp3 ? "RESP3" : "RESP2")) unexpected: \(reply.prefix(200))") }
            }
        }
        print("pipeline \(resp3 ? "RESP3" : "RESP2"): \(expected.count) commands, \(expected.count - wrong) right replies in order")
        XCTAssertEqual(wrong, 0)
        XCTAssertEqual(try client.command("PING").text, "+PONG\r\n", "the connection stays open")
    }

    func testPipelineOf10000InRESP2() throws { try pipelineOf10000(resp3: false) }
    func testPipelineOf10000InRESP3() throws { try pipelineOf10000(resp3: true) }

    // MARK: multi-key

    func testMultiKeyCommandsAcrossServers() throws {
        let keys = f.keysOnDistinctServers(prefix: "mk:")
        XCTAssertEqual(keys.count, 4, "found a key for each server")
        let client = try RESPClient(port: f.port)
        var mset = ["MSET"]
        for (i, k) in keys.enumerated() { mset += [k, "v\(i)"] }
        try client.send(RESPClient.encode(mset))
        XCTAssertEqual(try client.readReply().text, "+OK\r\n")
        // Each key is on the server the ring names, not merely somewhere.
        for (i, k) in keys.enumerated() {
            let direct = try RESPClient(port: f.redis[f.serverIndex(of: k)].port)
            XCTAssertEqual(try direct.command("GET", k).text, "$2\r\nv\(i)\r\n")
        }
        let reversed = Array(keys.reversed())
        let mget = try client.command(bytes: (["MGET"] + [reversed[0], "absent:1"] + reversed.dropFirst()).map { Array($0.utf8) })
        XCTAssertEqual(mget.text, "*5\r\n$2\r\nv3\r\n$-1\r\n$2\r\nv2\r\n$2\r\nv1\r\n$2\r\nv0\r\n")
        XCTAssertEqual(try client.command(bytes: (["EXISTS"] + keys + ["absent:2"]).map { Array($0.utf8) }).text, ":4\r\n")
        XCTAssertEqual(try client.command(bytes: (["TOUCH"] + keys).map { Array($0.utf8) }).text, ":4\r\n")
        XCTAssertEqual(try client.command(bytes: (["DEL"] + keys.prefix(2) + ["absent:3"]).map { Array($0.utf8) }).text, ":2\r\n")
        XCTAssertEqual(try client.command(bytes: (["UNLINK"] + keys).map { Array($0.utf8) }).text, ":2\r\n")
        XCTAssertEqual(try client.command("MSET", "a").text, "-ERR wrong number of arguments for 'mset' command\r\n")
    }

    func testCommandsNeedingOneServer() throws {
        let keys = f.keysOnDistinctServers(prefix: "one:")
        let client = try RESPClient(port: f.port)
        let cross = try client.command("SUNION", keys[0], keys[1]).text
        XCTAssertTrue(cross.hasPrefix("-ERR ringproxy: the keys of 'SUNION' live on different servers"), cross)
        XCTAssertTrue(cross.contains("hash tag"), cross)
        XCTAssertTrue(try client.command("RENAME", keys[0], keys[1]).text.hasPrefix("-ERR ringproxy: the keys of 'RENAME'"))
        XCTAssertTrue(try client.command("EVAL", "return 1", "2", keys[0], keys[1]).text.hasPrefix("-ERR ringproxy: the keys of 'EVAL'"))
        // With a common hash tag they are served.
        XCTAssertEqual(try client.command("SADD", "{u1}:a", "x", "y").text, ":2\r\n")
        XCTAssertEqual(try client.command("SADD", "{u1}:b", "y", "z").text, ":2\r\n")
        XCTAssertEqual(try client.command("SINTER", "{u1}:a", "{u1}:b").text, "*1\r\n$1\r\ny\r\n")
        XCTAssertEqual(try client.command("EVAL", "return redis.call('SCARD', KEYS[1]) + redis.call('SCARD', KEYS[2])", "2", "{u1}:a", "{u1}:b").text, ":4\r\n")
        XCTAssertEqual(try client.command("RPUSH", "{q}:src", "1", "2").text, ":2\r\n")
        XCTAssertEqual(try client.command("LMOVE", "{q}:src", "{q}:dst", "LEFT", "RIGHT").text, "$1\r\n1\r\n")
        XCTAssertEqual(try client.command("EVAL", "return 1", "0").text.hasPrefix("-ERR ringproxy: 'EVAL' without keys"), true)
        XCTAssertEqual(try client.command("EVAL", "return 1", "5", "k").text, "-ERR Number of keys can't be greater than number of args\r\n")
        for (args, command, reason) in [(["FUNCTION", "LIST"], "FUNCTION LIST", "every server"),
                                         (["SYNC"], "SYNC", "connection of its own")] {
            let reply = try client.command(bytes: args.map { Array($0.utf8) }).text
            XCTAssertTrue(reply.hasPrefix("-ERR ringproxy: '\(command)' is not supported") && reply.contains(reason), reply)
        }
        XCTAssertEqual(try client.command("PING").text, "+PONG\r\n")
    }

    // MARK: local commands and RESP3

    func testLocalCommands() throws {
        let client = try RESPClient(port: f.port)
        XCTAssertEqual(try client.command("PING", "hi").text, "$2\r\nhi\r\n")
        XCTAssertEqual(try client.command("SELECT", "0").text, "+OK\r\n")
        XCTAssertTrue(try client.command("SELECT", "16").text.hasPrefix("-ERR DB index is out of range"))
        XCTAssertEqual(try client.command("CLIENT", "SETNAME", "app-1").text, "+OK\r\n")
        XCTAssertEqual(try client.command("CLIENT", "GETNAME").text, "$5\r\napp-1\r\n")
        XCTAssertEqual(try client.command("CONFIG", "GET", "appendonly").text, "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n")
        XCTAssertTrue(try client.command("COMMAND", "COUNT").text.hasPrefix(":"))
        XCTAssertEqual(try client.command("HELLO", "4").text, "-NOPROTO unsupported protocol version\r\n")
        let hello2 = try client.command("HELLO", "2", "SETNAME", "n2")
        XCTAssertTrue(hello2.text.hasPrefix("*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"), hello2.text)
        XCTAssertEqual(try client.command("HSET", "h:local", "f1", "a", "f2", "b").text, ":2\r\n")
        XCTAssertEqual(try client.command("HGETALL", "h:local").text, "*4\r\n$2\r\nf1\r\n$1\r\na\r\n$2\r\nf2\r\n$1\r\nb\r\n")
        let hello3 = try client.command("HELLO", "3")
        XCTAssertTrue(hello3.text.hasPrefix("%7\r\n"), hello3.text)
        // The same hash now comes back as a RESP3 map, straight from a RESP3 upstream connection.
        XCTAssertEqual(try client.command("HGETALL", "h:local").text, "%2\r\n$2\r\nf1\r\n$1\r\na\r\n$2\r\nf2\r\n$1\r\nb\r\n")
        XCTAssertEqual(try client.command("GET", "absent:resp3").text, "_\r\n")
        XCTAssertEqual(try client.command("CONFIG", "GET", "save").text, "%1\r\n$4\r\nsave\r\n$0\r\n\r\n")
        XCTAssertEqual(try client.command("QUIT").text, "+OK\r\n")
        XCTAssertTrue(client.isClosedByPeer())
    }

    /// A request that cannot be framed gets an error after the replies owed before it, and
    /// only then is that connection closed; other clients notice nothing.
    func testProtocolErrorAfterPendingReplies() throws {
        let other = try RESPClient(port: f.port)
        let client = try RESPClient(port: f.port)
        var bytes = RESPClient.encode(["SET", "perr:1", "x"]) + RESPClient.encode(["GET", "perr:1"])
        bytes += Array("*2\r\n$3\r\nGET\r\n:oops\r\n".utf8)
        try client.send(bytes)
        XCTAssertEqual(try client.readReply().text, "+OK\r\n")
        XCTAssertEqual(try client.readReply().text, "$1\r\nx\r\n")
        let error = try client.readReply().text
        XCTAssertTrue(error.hasPrefix("-ERR Protocol error: expected '$', got ':'"), error)
        XCTAssertTrue(client.isClosedByPeer())
        XCTAssertEqual(try other.command("GET", "perr:1").text, "$1\r\nx\r\n")
    }

    func testInlineCommands() throws {
        let client = try RESPClient(port: f.port)
        try client.send(Array("PING\r\nSET inline:k \"hello world\"\r\nGET inline:k\r\n\r\nECHO 'a b'\n".utf8))
        XCTAssertEqual(try client.readReply().text, "+PONG\r\n")
        XCTAssertEqual(try client.readReply().text, "+OK\r\n")
        XCTAssertEqual(try client.readReply().text, "$11\r\nhello world\r\n")
        XCTAssertEqual(try client.readReply().text, "$3\r\na b\r\n")
    }

    // MARK: real clients

    func testRedisCli() throws {
        guard let cli = Harness.which("redis-cli") else { throw XCTSkip("redis-cli missing") }
        XCTAssertEqual(Harness.run(cli, ["-p", "\(f.port)", "SET", "cli:k", "v"], timeout: 10).stdout, "OK\n")
        XCTAssertEqual(Harness.run(cli, ["-p", "\(f.port)", "GET", "cli:k"], timeout: 10).stdout, "v\n")
        XCTAssertEqual(Harness.run(cli, ["-s", f.socketPath, "GET", "cli:k"], timeout: 10).stdout, "v\n")
        let keys = Harness.run(cli, ["-p", "\(f.port)", "KEYS", "cli:*"], timeout: 10).stdout
        XCTAssertEqual(keys, "cli:k\n")
        let scan = Harness.run(cli, ["-p", "\(f.port)", "--scan", "--pattern", "cli:*"], timeout: 10).stdout
        XCTAssertEqual(scan, "cli:k\n")
    }

    /// Every default redis-benchmark test, PING_INLINE, MSET and LRANGE_* included; recent
    /// redis-benchmark exits at the first error reply, so finishing them all with a rate
    /// each means there was none.
    func benchmark(_ target: [String], label: String) throws {
        guard let bench = Harness.which("redis-benchmark") else { throw XCTSkip("redis-benchmark missing") }
        let r = Harness.run(bench, target + ["-q", "-n", "100000"], timeout: 600)
        XCTAssertFalse(r.timedOut, "redis-benchmark timed out")
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.components(separatedBy: "\r").flatMap { $0.components(separatedBy: "\n") }
            .filter { $0.contains("requests per second") }
        for name in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET",
                     "SPOP", "ZADD", "ZPOPMIN", "LRANGE_100", "LRANGE_300", "LRANGE_500", "LRANGE_600", "MSET"] {
            XCTAssertTrue(lines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name) }, "\(label): no result for \(name)")
        }
        XCTAssertFalse(r.stdout.contains("ERR") || r.stderr.contains("ERR"), r.stderr)
        print("redis-benchmark \(label):\n" + lines.joined(separator: "\n"))
    }

    func testRedisBenchmarkOverTCP() throws { try benchmark(["-p", "\(f.port)"], label: "tcp") }
    func testRedisBenchmarkOverUnixSocket() throws { try benchmark(["-s", f.socketPath], label: "unix socket") }

    func testRedisPy() throws {
        let script = Harness.packageRoot + "/Tests/IntegrationTests/python/redis_py_check.py"
        for proto in ["default", "2"] {
            let r = Harness.run("/usr/bin/env", ["python3", script, "\(f.port)", proto], timeout: 120)
            print(r.stdout)
            if r.stderr.contains("No module named 'redis'") { throw XCTSkip("redis-py missing (make test installs it)") }
            XCTAssertEqual(r.status, 0, "redis-py protocol \(proto): \(r.stdout)\n\(r.stderr)")
        }
    }
}

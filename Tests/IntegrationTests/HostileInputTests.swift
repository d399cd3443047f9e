// Hostile and careless clients against real redis-servers: malformed requests, a client that
// pipelines without reading, too many clients, idle clients, credentials and the deny-list.
// Each bad client gets an error naming the problem; other clients notice nothing.

import Foundation
import RingConfig
import XCTest

/// A one-pool proxy over `redis` with extra pool settings.
final class SmallProxy {
    let proxy: Background
    let port: Int
    let adminPort: Int

    init(servers: [Int], settings: [String] = [], processSettings: [String] = []) throws {
        port = Harness.freePort()
        adminPort = Harness.freePort()
        var yaml = "p:\n  listen: 127.0.0.1:\(port)\n  redis: true\n  timeout: 2000\n"
        for line in settings { yaml += "  \(line)\n" }
        yaml += "  servers:\n"
        for (i, s) in servers.enumerated() { yaml += "    - 127.0.0.1:\(s):1 s\(i + 1)\n" }
        yaml += "ringproxy:\n  admin: 127.0.0.1:\(adminPort)\n"
        for line in processSettings { yaml += "  \(line)\n" }
        let path = Harness.tempDir() + "/small.yml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        proxy = try startRingproxy(config: path, port: port)
    }

    /// VmRSS of the proxy in KiB.
    var rssKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(proxy.pid)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
        }
        return -1
    }

    func stop() { proxy.stop() }
}

final class HostileInputTests: XCTestCase {
    /// Every malformed request: the PING before it is answered, then the error naming the
    /// problem, then the connection closes; a second client on the same proxy is unaffected.
    func testMalformedRequestsGetAnErrorThenClose() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port])
        defer { p.stop() }
        let bystander = try RESPClient(port: p.port)
        XCTAssertEqual(try bystander.command("SET", "k", "v").text, "+OK\r\n")

        let cases: [(name: String, bytes: String, error: String)] = [
            ("bulk over 512 MB", "*2\r\n$3\r\nGET\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length"),
            ("multibulk over 1048576", "*1048577\r\n", "-ERR Protocol error: invalid multibulk length"),
            ("negative bulk length", "*2\r\n$3\r\nGET\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"),
            ("non-numeric bulk length", "*2\r\n$3\r\nGET\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length"),
            ("non-numeric multibulk count", "*x\r\n", "-ERR Protocol error: invalid multibulk length"),
            ("overlong length header", "*2\r\n$3\r\nGET\r\n$" + String(repeating: "9", count: 40) + "\r\n",
             "-ERR Protocol error: invalid bulk length"),
            ("bad type byte inside a request", "*2\r\n$3\r\nGET\r\n:5\r\n", "-ERR Protocol error: expected '$', got ':'"),
            ("nested array in a request", "*2\r\n$3\r\nGET\r\n*1\r\n$1\r\nk\r\n", "-ERR Protocol error: expected '$', got '*'"),
            ("bulk longer than declared", "*2\r\n$3\r\nGET\r\n$1\r\nkey\r\n",
             "-ERR Protocol error: bulk string longer than its declared length"),
            ("inline line over 64 KiB", String(repeating: "a", count: 70_000), "-ERR Protocol error: too big inline request"),
            ("unbalanced quotes inline", "GET \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request"),
        ]
        for c in cases {
            let client = try RESPClient(port: p.port)
            try client.send(RESPClient.encode(["PING"]) + Array(c.bytes.utf8))
            XCTAssertEqual(try client.readReply().text, "+PONG\r\n", c.name)
            let error = try client.readReply().text
            XCTAssertTrue(error.hasPrefix(c.error), "\(c.name): \(error)")
            XCTAssertTrue(client.isClosedByPeer(), "\(c.name): connection closed after the error")
            print("bad input \(c.name): \(error.trimmingCharacters(in: .whitespacesAndNewlines)), then closed")
            XCTAssertEqual(try bystander.command("GET", "k").text, "$1\r\nv\r\n", "bystander after \(c.name)")
        }
        // A type byte other than '*' starts an inline request, as in Redis.
        let inline = try RESPClient(port: p.port)
        try inline.send(Array("$3\r\n".utf8))
        XCTAssertTrue(try inline.readReply().text.hasPrefix("-ERR unknown command '$3'"))
        XCTAssertEqual(try bystander.command("PING").text, "+PONG\r\n")
    }

    /// The limits are settings: lowered, they refuse what the defaults let through.
    func testLimitsFromTheConfig() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port], processSettings: ["max_bulk_len: 1000", "max_multibulk_len: 5", "max_inline_len: 100"])
        defer { p.stop() }
        let ok = try RESPClient(port: p.port)
        XCTAssertEqual(try ok.command("SET", "k", String(repeating: "v", count: 1000)).text, "+OK\r\n")
        XCTAssertTrue(try ok.command("MGET", "a", "b", "c", "d").text.hasPrefix("*4\r\n"))
        for (request, error) in [(RESPClient.encode(["SET", "k", String(repeating: "v", count: 1001)]), "-ERR Protocol error: invalid bulk length"),
                                 (RESPClient.encode(["MGET", "a", "b", "c", "d", "e"]), "-ERR Protocol error: invalid multibulk length"),
                                 (Array(("GET " + String(repeating: "k", count: 120) + "\r\n").utf8), "-ERR Protocol error: too big inline request")] {
            let c = try RESPClient(port: p.port)
            try c.send(request)
            XCTAssertTrue(try c.readReply().text.hasPrefix(error), error)
            XCTAssertTrue(c.isClosedByPeer())
        }
        XCTAssertEqual(try ok.command("PING").text, "+PONG\r\n")
    }

    /// A client pipelining 20,000 GETs of a 64 KiB value without reading (1.3 GB of replies)
    /// is paused: the proxy's memory stays bounded, and when the client reads, every reply
    /// arrives, in order. Another client is served meanwhile.
    func testPipelinerThatDoesNotReadIsPausedAndMemoryStaysBounded() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port])
        defer { p.stop() }
        let value = String(repeating: "x", count: 64 * 1024)
        let setup = try RESPClient(port: p.port)
        XCTAssertEqual(try setup.command("SET", "big", value).text, "+OK\r\n")
        let rssBefore = p.rssKiB

        let count = 20_000
        let hog = try RESPClient(port: p.port, timeoutSeconds: 30)
        let sender = Thread {
            let one = RESPClient.encode(["GET", "big"])
            var batch: [UInt8] = []
            for _ in 0..<100 { batch += one }
            for _ in 0..<(count / 100) { try? hog.send(batch) }
        }
        sender.start()
        Thread.sleep(forTimeInterval: 2)
        let rssPaused = p.rssKiB
        XCTAssertEqual(try setup.command("GET", "small-key").text, "$-1\r\n", "another client is served")
        let stats = Harness.run("/usr/bin/env", ["python3", "-c",
            "import urllib.request,json;print(json.load(urllib.request.urlopen('http://127.0.0.1:\(p.adminPort)/stats'))['p']['client_read_pauses'])"],
            timeout: 20)
        XCTAssertGreaterThanOrEqual(Int(stats.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 1, stats.stderr)

        var good = 0
        let expected = Array("$65536\r\n\(value)\r\n".utf8)
        for _ in 0..<count {
            guard let r = try? hog.readReply() else { break }
            if r == expected { good += 1 }
        }
        print("pipelined 20000 x 64 KiB GETs unread: RSS \(rssBefore) KiB before, \(rssPaused) KiB while paused; \(good) replies right")
        XCTAssertEqual(good, count)
        // At most 1024 pending replies of 64 KiB (64 MiB) plus the 4 MiB output mark, and
        // the allocator's slack; unbounded, it would be 1.3 GB.
        // (AddressSanitizer keeps freed memory in quarantine, so RSS says nothing there.)
        if ProcessInfo.processInfo.environment["RINGPROXY_SANITIZER"] == nil {
            XCTAssertLessThan(rssPaused - rssBefore, 100 * 1024, "RSS growth while paused")
        }
    }

    /// client_connections is enforced across the pool: the client over it gets an error and
    /// is closed; once a client leaves, a new one is accepted.
    func testClientConnectionsLimit() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port], settings: ["client_connections: 3"])
        defer { p.stop() }
        Thread.sleep(forTimeInterval: 0.2)  // the start-up probe's connection is gone
        var clients = try (0..<3).map { _ in try RESPClient(port: p.port) }
        for c in clients { XCTAssertEqual(try c.command("PING").text, "+PONG\r\n") }
        let extra = try RESPClient(port: p.port)
        XCTAssertEqual(try extra.readReply().text, "-ERR max number of clients reached\r\n")
        XCTAssertTrue(extra.isClosedByPeer())
        clients.removeLast().close()
        Thread.sleep(forTimeInterval: 0.2)
        let next = try RESPClient(port: p.port)
        XCTAssertEqual(try next.command("PING").text, "+PONG\r\n")
        for c in clients { XCTAssertEqual(try c.command("PING").text, "+PONG\r\n") }
    }

    /// client_idle_timeout closes a client that stays silent, and only that one.
    func testIdleClientTimeout() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port], settings: ["client_idle_timeout: 700"])
        defer { p.stop() }
        let idle = try RESPClient(port: p.port)
        let busy = try RESPClient(port: p.port)
        XCTAssertEqual(try idle.command("PING").text, "+PONG\r\n")
        for _ in 0..<12 {
            XCTAssertEqual(try busy.command("GET", "k").text, "$-1\r\n")
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTAssertTrue(idle.isClosedByPeer(), "idle for 2.4 s with a 0.7 s timeout (checked each second)")
        XCTAssertEqual(try busy.command("PING").text, "+PONG\r\n")
    }

    /// redis_auth keeps nutcracker's meaning: clients must AUTH with it (NOAUTH before),
    /// and the proxy authenticates upstream; redis_db is selected on every connection.
    func testRedisAuthAndDB() throws {
        let redis = try RedisServer(extraArgs: ["--requirepass", "s3cret"])
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port], settings: ["redis_auth: s3cret", "redis_db: 3"])
        defer { p.stop() }
        let c = try RESPClient(port: p.port)
        XCTAssertEqual(try c.command("GET", "k").text, "-NOAUTH Authentication required.\r\n")
        XCTAssertEqual(try c.command("AUTH", "wrong").text, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        XCTAssertEqual(try c.command("AUTH", "default", "wrong").text, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        XCTAssertEqual(try c.command("GET", "k").text, "-NOAUTH Authentication required.\r\n")
        XCTAssertEqual(try c.command("AUTH", "s3cret").text, "+OK\r\n")
        XCTAssertEqual(try c.command("SET", "k", "in-db-3").text, "+OK\r\n")
        let acl = try RESPClient(port: p.port)
        XCTAssertEqual(try acl.command("AUTH", "default", "s3cret").text, "+OK\r\n")
        XCTAssertEqual(try acl.command("GET", "k").text, "$7\r\nin-db-3\r\n")
        let direct = try RESPClient(port: redis.port)
        XCTAssertEqual(try direct.command("AUTH", "s3cret").text, "+OK\r\n")
        XCTAssertEqual(try direct.command("GET", "k").text, "$-1\r\n", "not in db 0")
        XCTAssertEqual(try direct.command("SELECT", "3").text, "+OK\r\n")
        XCTAssertEqual(try direct.command("GET", "k").text, "$7\r\nin-db-3\r\n")
    }

    /// A client user and password of their own (client_user, client_auth) in front of an
    /// upstream ACL user (redis_user, redis_auth).
    func testSeparateClientCredentialsAndUpstreamACLUser() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let direct = try RESPClient(port: redis.port)
        XCTAssertEqual(try direct.command("ACL", "SETUSER", "proxy", "on", ">upstream-pw", "~*", "+@all").text, "+OK\r\n")
        XCTAssertEqual(try direct.command("ACL", "SETUSER", "default", "off").text, "+OK\r\n")
        let p = try SmallProxy(servers: [redis.port], settings: [
            "redis_auth: upstream-pw", "redis_user: proxy", "client_auth: app-pw", "client_user: app",
        ])
        defer { p.stop() }
        let c = try RESPClient(port: p.port)
        XCTAssertEqual(try c.command("PING").text, "-NOAUTH Authentication required.\r\n")
        XCTAssertEqual(try c.command("AUTH", "upstream-pw").text, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        XCTAssertEqual(try c.command("AUTH", "app-pw").text, "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
                       "a named client user needs the ACL form")
        XCTAssertEqual(try c.command("AUTH", "proxy", "upstream-pw").text, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        XCTAssertEqual(try c.command("AUTH", "app", "app-pw").text, "+OK\r\n")
        XCTAssertEqual(try c.command("SET", "k", "v").text, "+OK\r\n", "the proxy authenticated upstream as 'proxy'")
        XCTAssertEqual(try c.command("GET", "k").text, "$1\r\nv\r\n")
        let hello = try RESPClient(port: p.port)
        let r = try hello.command("HELLO", "3", "AUTH", "app", "app-pw").text
        XCTAssertTrue(r.hasPrefix("%"), r)
    }

    /// The deny-list: dangerous commands are refused by default, naming the setting; a pool
    /// can set its own list.
    func testDenyList() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let p = try SmallProxy(servers: [redis.port])
        defer { p.stop() }
        let c = try RESPClient(port: p.port)
        XCTAssertEqual(try c.command("SET", "k", "v").text, "+OK\r\n")
        for command in [["FLUSHALL"], ["flushdb"], ["CONFIG", "SET", "maxmemory", "1"], ["SHUTDOWN"], ["DEBUG", "SLEEP", "1"],
                        ["MIGRATE", "127.0.0.1", "1", "k", "0", "100"], ["SCRIPT", "FLUSH"], ["ACL", "WHOAMI"], ["REPLICAOF", "NO", "ONE"]] {
            let r = try c.command(bytes: command.map { Array($0.utf8) }).text
            XCTAssertTrue(r.hasPrefix("-ERR ringproxy: '") && r.contains("is denied by this proxy (deny_commands of pool p)"),
                          "\(command): \(r)")
        }
        XCTAssertEqual(try c.command("GET", "k").text, "$1\r\nv\r\n", "nothing was flushed")
        XCTAssertTrue(try c.command("CONFIG", "GET", "maxmemory").text.hasPrefix("*"), "CONFIG GET stays allowed")

        let own = try SmallProxy(servers: [redis.port], settings: ["deny_commands: [get, \"object encoding\"]"])
        defer { own.stop() }
        let d = try RESPClient(port: own.port)
        XCTAssertTrue(try d.command("GET", "k").text.contains("'GET' is denied"))
        XCTAssertTrue(try d.command("OBJECT", "ENCODING", "k").text.contains("is denied"))
        XCTAssertEqual(try d.command("SET", "k", "w").text, "+OK\r\n")
        // Off the pool's list, FLUSHDB is no longer denied: it goes to every server.
        XCTAssertEqual(try d.command("FLUSHDB").text, "+OK\r\n")
        XCTAssertEqual(try d.command("EXISTS", "k").text, ":0\r\n", "flushed")
    }
}

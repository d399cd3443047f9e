// An upstream that answers garbage, closes mid-reply, speaks when nobody asked, or dribbles
// one byte at a time (python/fake_upstream.py; a real Redis never does these). The proxy
// drops and replaces that connection, fails only the requests that were on it with an
// error naming the server, never matches a reply to the wrong request, and keeps serving
// the same client and the other server of the pool.

import Foundation
import XCTest

final class MisbehavingUpstreamTests: XCTestCase {
    var fake: Background!
    var fakePort = 0
    var redis: RedisServer!
    var proxy: SmallProxy!
    /// Hash tags that place a key on the fake (s1) and on the real Redis (s2).
    var fakeTag = "", redisTag = ""
    var fakeKey: String { "{\(fakeTag)}k" }
    var redisKey: String { "{\(redisTag)}k" }

    override func setUpWithError() throws {
        fakePort = Harness.freePort()
        fake = try Background("fake-upstream", "/usr/bin/env",
                              ["python3", Harness.packageRoot + "/Tests/IntegrationTests/python/fake_upstream.py", "\(fakePort)"])
        guard Harness.waitForListener(port: fakePort) else { throw HarnessError.notListening("fake upstream: \(fake.log)") }
        redis = try RedisServer()
        proxy = try SmallProxy(servers: [fakePort, redis.port], settings: ["hash_tag: \"{}\"", "health_check_interval: 100"])
        // Learn which tags land where: SET through the proxy, then ask the fake directly.
        let c = try RESPClient(port: proxy.port)
        let fakeDirect = try RESPClient(port: fakePort)
        for i in 0..<200 where fakeTag.isEmpty || redisTag.isEmpty {
            let tag = "t\(i)"
            XCTAssertEqual(try c.command("SET", "{\(tag)}probe", "x").text, "+OK\r\n")
            if try fakeDirect.command("GET", "{\(tag)}probe").text == "$1\r\nx\r\n" {
                if fakeTag.isEmpty { fakeTag = tag }
            } else if redisTag.isEmpty {
                redisTag = tag
            }
        }
        XCTAssertFalse(fakeTag.isEmpty || redisTag.isEmpty)
    }

    override func tearDown() {
        proxy?.stop()
        redis?.stop()
        fake?.stop(signal: SIGKILL)
    }

    func testGarbageReply() throws {
        try checkFault(key: "garbage", expect: "protocol error in reply")
    }

    func testConnectionClosedMidReply() throws {
        try checkFault(key: "cut", expect: "connection closed by server")
    }

    /// One client pipelines: a good GET to the fake, the faulty GET, and a GET to the real
    /// Redis. The good one gets its value, the faulty one an error naming the fake, the
    /// Redis one its own value; afterwards the fake's connection is replaced and serves.
    func checkFault(key: String, expect: String) throws {
        let proxyFake = try keyOnFake(named: key)
        let c = try RESPClient(port: proxy.port)
        XCTAssertEqual(try c.command("SET", fakeKey, "good").text, "+OK\r\n")
        XCTAssertEqual(try c.command("SET", redisKey, "real").text, "+OK\r\n")
        try c.send(RESPClient.encode(["GET", fakeKey]) + RESPClient.encode(["GET", proxyFake])
                   + RESPClient.encode(["GET", redisKey]) + RESPClient.encode(["PING"]))
        XCTAssertEqual(try c.readReply().text, "$4\r\ngood\r\n")
        let error = try c.readReply().text
        XCTAssertTrue(error.hasPrefix("-ERR upstream s1 (127.0.0.1:\(fakePort))") && error.contains(expect), error)
        XCTAssertEqual(try c.readReply().text, "$4\r\nreal\r\n")
        XCTAssertEqual(try c.readReply().text, "+PONG\r\n")
        // The broken connection is replaced. A garbled reply is replaced on the next
        // request; a connection the server closed marks it down (as a crash would) until
        // its health checks pass (every 100 ms here). Then every reply is right again.
        let deadline = Date().addingTimeInterval(3)
        var recoveredAfter: TimeInterval?
        let broke = Date()
        while Date() < deadline {
            if (try? c.command("GET", fakeKey).text) == "$4\r\ngood\r\n" { recoveredAfter = Date().timeIntervalSince(broke); break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertNotNil(recoveredAfter, "the fake serves again")
        print("\(key): error '\(error.trimmingCharacters(in: .whitespacesAndNewlines))'; served again after \(Int((recoveredAfter ?? -1) * 1000)) ms")
        for _ in 0..<20 { XCTAssertEqual(try c.command("GET", fakeKey).text, "$4\r\ngood\r\n") }
        let other = try RESPClient(port: proxy.port)
        XCTAssertEqual(try other.command("GET", redisKey).text, "$4\r\nreal\r\n")
    }

    /// An unsolicited reply on an idle connection: dropped with the connection; the next
    /// request gets its own reply, never the stray one.
    func testUnsolicitedReply() throws {
        let surprise = try keyOnFake(named: "surprise")
        let c = try RESPClient(port: proxy.port)
        XCTAssertEqual(try c.command("SET", fakeKey, "good").text, "+OK\r\n")
        XCTAssertEqual(try c.command("GET", surprise).text, "$-1\r\n")
        Thread.sleep(forTimeInterval: 0.6)  // the stray "+SURPRISE" arrives meanwhile
        var replies: [String] = []
        for _ in 0..<5 { replies.append(try c.command("GET", fakeKey).text) }
        XCTAssertFalse(replies.contains("+SURPRISE\r\n"), "\(replies)")
        XCTAssertEqual(replies.filter { $0 == "$4\r\ngood\r\n" }.count, replies.count - replies.filter { $0.hasPrefix("-ERR upstream s1") }.count)
        XCTAssertEqual(replies.last, "$4\r\ngood\r\n")
    }

    /// Replies dribbled one byte at a time still frame correctly, in a long pipeline
    /// interleaved with another server's replies.
    func testOneByteAtATime() throws {
        let slow = try keyOnFake(named: "slow")
        let c = try RESPClient(port: proxy.port)
        XCTAssertEqual(try c.command("SET", slow, "v").text, "+OK\r\n")
        XCTAssertEqual(try c.command("GET", slow).text, "$1\r\nv\r\n")
        var pipeline: [UInt8] = []
        for i in 0..<300 { pipeline += RESPClient.encode(i % 2 == 0 ? ["GET", slow] : ["GET", redisKey]) }
        try c.send(pipeline)
        var right = 0
        for i in 0..<300 {
            let r = try c.readReply().text
            if (i % 2 == 0 && r == "$1\r\nv\r\n") || (i % 2 == 1 && r == "$-1\r\n") { right += 1 }
        }
        XCTAssertEqual(right, 300)
    }

    /// A key on the fake whose name makes the fake misbehave.
    func keyOnFake(named special: String) throws -> String { "{\(fakeTag)}\(special)" }
}

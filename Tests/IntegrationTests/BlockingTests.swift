// Blocking commands on leased connections: a BLPOP is answered when another client pushes,
// other clients are not delayed meanwhile, XREADGROUP BLOCK and XACK work as a consumer
// group does, when a server dies every client blocked on it is answered at once, and a
// client that disconnects while blocked leaves no command blocked on the server.

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class BlockingTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testBLPOPIsAnsweredByAnotherClientsPush() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let waiter = try RESPClient(port: f.port)
        try waiter.send(RESPClient.encode(["BLPOP", "{q}jobs", "5"]))
        usleep(200_000)
        let other = try RESPClient(port: f.port)
        // The blocked client holds no shared connection: others go on at once.
        for i in 0..<50 { XCTAssertEqual(text(try other.command("SET", "{q}k\(i)", "v")), "+OK\r\n") }
        XCTAssertEqual(text(try other.command("RPUSH", "{q}jobs", "job-1")), ":1\r\n")
        XCTAssertEqual(text(try waiter.readReply()), "*2\r\n$7\r\n{q}jobs\r\n$5\r\njob-1\r\n")
        // A timeout answers the null array, and the client goes on.
        XCTAssertEqual(text(try waiter.command("BLPOP", "{q}empty", "0.1")), "*-1\r\n")
        XCTAssertEqual(text(try waiter.command("GET", "{q}k1")), "$1\r\nv\r\n")
    }

    func testConsumerGroupWithXREADGROUPBlock() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let c = try RESPClient(port: f.port)
        XCTAssertEqual(text(try c.command("XGROUP", "CREATE", "{s}events", "workers", "$", "MKSTREAM")), "+OK\r\n")
        let consumer = try RESPClient(port: f.port)
        try consumer.send(RESPClient.encode(["XREADGROUP", "GROUP", "workers", "w1", "BLOCK", "5000", "COUNT", "1",
                                             "STREAMS", "{s}events", ">"]))
        usleep(200_000)
        let id = text(try c.command("XADD", "{s}events", "*", "job", "1"))
        XCTAssertTrue(id.hasPrefix("$"), id)
        let entry = text(try consumer.readReply())
        XCTAssertTrue(entry.contains("{s}events") && entry.contains("job"), entry)
        let idValue = String(id.split(separator: "\r\n")[1])
        XCTAssertEqual(text(try consumer.command("XACK", "{s}events", "workers", idValue)), ":1\r\n")
        // Without BLOCK, XREAD is an ordinary routed read.
        XCTAssertTrue(text(try c.command("XREAD", "COUNT", "1", "STREAMS", "{s}events", "0")).contains("job"))
    }

    func testKilledServerAnswersEveryBlockedClient() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let key = f.keysOnDistinctServers(prefix: "bq:")[2]
        let victim = f.serverIndex(of: key)
        let clients = try (0..<200).map { _ in try RESPClient(port: f.port, timeoutSeconds: 10) }
        for c in clients { try c.send(RESPClient.encode(["BRPOP", key, "0"])) }
        usleep(500_000)
        let killedAt = Date()
        f.redis[victim].stop()
        var errors = 0
        for c in clients where text(try c.readReply()).hasPrefix("-ERR upstream cache-\(victim + 1)") { errors += 1 }
        let took = Date().timeIntervalSince(killedAt)
        print("200 clients blocked in BRPOP: \(errors) answered with the server's error \(Int(took * 1000)) ms after SIGKILL")
        // Each read would throw after the client's 10 s timeout: BRPOP 0 never times out on
        // its own, so every reply here came from the proxy noticing the server's death.
        XCTAssertEqual(errors, 200)
    }

    func testAClientGoneWhileBlockedTakesNothingPushedAfter() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        // Requests sent while blocked are handled once the block is answered.
        let waiter = try RESPClient(port: f.port)
        try waiter.send(RESPClient.encode(["BLPOP", "{gone}jobs", "0.3"]) + RESPClient.encode(["PING"]))
        XCTAssertEqual(text(try waiter.readReply()), "*-1\r\n")
        XCTAssertEqual(text(try waiter.readReply()), "+PONG\r\n")
        // More than the proxy reads from a blocked client (64 KiB): the rest is read after.
        let payload = String(repeating: "x", count: 200)
        var burst = RESPClient.encode(["BLPOP", "{gone}jobs", "0.3"])
        for _ in 0..<500 { burst += RESPClient.encode(["ECHO", payload]) }
        try waiter.send(burst)
        XCTAssertEqual(text(try waiter.readReply()), "*-1\r\n")
        var echoed = 0
        for _ in 0..<500 where text(try waiter.readReply()) == "$200\r\n\(payload)\r\n" { echoed += 1 }
        XCTAssertEqual(echoed, 500)
        // A client that goes away while blocked: its BLPOP must end with it, as in Redis, or
        // the server would pop the next element for nobody.
        let leaving = try RESPClient(port: f.port)
        try leaving.send(RESPClient.encode(["BLPOP", "{gone}jobs", "30"]))
        usleep(200_000)
        leaving.close()
        usleep(300_000)
        let other = try RESPClient(port: f.port)
        XCTAssertEqual(text(try other.command("RPUSH", "{gone}jobs", "job-1")), ":1\r\n")
        usleep(100_000)
        XCTAssertEqual(text(try other.command("LRANGE", "{gone}jobs", "0", "-1")), "*1\r\n$5\r\njob-1\r\n")
    }

    func testMaxBlockedClientsRefusesPastTheCap() throws {
        let f = try ProxyFixture(extraSettings: ["max_blocked_clients: 1"])
        defer { f.stop() }
        let clients = try (0..<5).map { _ in try RESPClient(port: f.port) }
        for c in clients { try c.send(RESPClient.encode(["BLPOP", "{cap}q", "1"])) }
        var refused = 0, timedOut = 0
        for c in clients {
            let reply = text(try c.readReply())
            if reply.hasPrefix("-ERR ringproxy: too many clients blocked on upstream") { refused += 1 }
            if reply == "*-1\r\n" { timedOut += 1 }
        }
        // One blocked client per worker at most; the others are told at once.
        XCTAssertGreaterThanOrEqual(refused, 3)
        XCTAssertEqual(refused + timedOut, 5)
    }

    func testTheBlockTimeIsNotCutShortButBoundsAFrozenServer() throws {
        let f = try ProxyFixture(timeoutMs: 200)
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        // One second of block under a 200 ms pool timeout: Redis's own answer, not a timeout.
        XCTAssertEqual(text(try client.command("BLPOP", "{fz}list", "1")), "*-1\r\n")
        // A frozen server: the block (0.3 s) plus the timeout (0.2 s) bound the wait.
        let victim = f.redis[f.serverIndex(of: "fz")]
        kill(victim.process.pid, SIGSTOP)
        defer { kill(victim.process.pid, SIGCONT) }
        let reply = text(try client.command("BLPOP", "{fz}list", "0.3"))
        XCTAssertTrue(reply.hasPrefix("-ERR upstream") && reply.contains("timed out"), reply)
    }
}

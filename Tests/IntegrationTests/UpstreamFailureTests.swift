// What clients see when a Redis server dies or hangs behind the proxy: a clear error naming
// that server for its keys only, other servers' keys unaffected, no hang beyond the pool's
// timeout, and recovery once the server is back.

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class UpstreamFailureTests: XCTestCase {
    func testDeadServerGivesClearErrorsAndRecovers() throws {
        let f = try ProxyFixture(timeoutMs: 500)
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "dead:")
        let client = try RESPClient(port: f.port)
        for k in keys { XCTAssertEqual(try client.command("SET", k, "v").text, "+OK\r\n") }
        let victim = f.serverIndex(of: keys[1])
        let victimPort = f.redis[victim].port
        f.redis[victim].stop()

        let started = Date()
        let reply = try client.command("GET", keys[1]).text
        XCTAssertTrue(reply.hasPrefix("-ERR upstream cache-\(victim + 1) (127.0.0.1:\(victimPort))"), reply)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "answered, not hung")
        for (i, k) in keys.enumerated() where i != 1 {
            XCTAssertEqual(try client.command("GET", k).text, "$1\r\nv\r\n", "other servers unaffected")
        }
        // A split read degrades per shard: nil for the dead server's key, values for the rest.
        let mget = try client.command(bytes: (["MGET"] + keys).map { Array($0.utf8) }).text
        XCTAssertEqual(mget, "*4\r\n$1\r\nv\r\n$-1\r\n$1\r\nv\r\n$1\r\nv\r\n")
        XCTAssertEqual(try client.command(bytes: (["EXISTS"] + keys).map { Array($0.utf8) }).text, ":3\r\n")
        let mset = try client.command(bytes: (["MSET"] + keys.flatMap { [$0, "w"] }).map { Array($0.utf8) }).text
        XCTAssertTrue(mset.hasPrefix("-ERR upstream cache-\(victim + 1)"), "MSET names the failed shard: \(mset)")

        // Back on the same port: served again after the retry back-off.
        let restarted = try RedisServer(port: victimPort)
        defer { restarted.stop() }
        var recovered = false
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if try client.command("SET", keys[1], "again").text == "+OK\r\n" { recovered = true; break }
            usleep(100_000)
        }
        XCTAssertTrue(recovered, "the server's keys are served again after it restarts")
        XCTAssertEqual(try client.command("GET", keys[1]).text, "$5\r\nagain\r\n")
    }

    func testHungServerIsBoundedByTimeout() throws {
        let f = try ProxyFixture(timeoutMs: 300)
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "hung:")
        let slow = try RESPClient(port: f.port)
        let other = try RESPClient(port: f.port)
        let victim = f.serverIndex(of: keys[2])
        kill(f.redis[victim].process.pid, SIGSTOP)
        defer { kill(f.redis[victim].process.pid, SIGCONT) }

        let started = Date()
        try slow.send(RESPClient.encode(["GET", keys[2]]) + RESPClient.encode(["PING"]))
        // Meanwhile another client's requests to other servers are answered at once.
        let otherStarted = Date()
        XCTAssertEqual(try other.command("SET", keys[0], "x").text, "+OK\r\n")
        XCTAssertLessThan(Date().timeIntervalSince(otherStarted), 0.25, "other servers are not delayed")
        // More clients ask the hung server at staggered times; each is answered within
        // timeout + 50 ms of its own request.
        var late: [(RESPClient, Date)] = []
        for _ in 0..<3 {
            usleep(80_000)
            let c = try RESPClient(port: f.port)
            try c.send(RESPClient.encode(["GET", keys[2]]))
            late.append((c, Date()))
        }
        let reply = try slow.readReply().text
        let waited = Date().timeIntervalSince(started)
        XCTAssertTrue(reply.contains("timed out after 300 ms"), reply)
        XCTAssertTrue(reply.contains("cache-\(victim + 1)"), reply)
        var waits = [Int(waited * 1000)]
        XCTAssertLessThan(waited, 0.35, "answered within timeout + 50 ms")
        for (c, sent) in late {
            let r = try c.readReply().text
            let w = Date().timeIntervalSince(sent)
            waits.append(Int(w * 1000))
            XCTAssertTrue(r.hasPrefix("-ERR upstream cache-\(victim + 1)"), r)
            XCTAssertLessThan(w, 0.35, "answered within timeout + 50 ms")
        }
        print("hung server: requests answered after \(waits) ms with timeout 300 ms")
        XCTAssertEqual(try slow.readReply().text, "+PONG\r\n", "later replies still arrive in order")
    }
}

final class AllServersDownTests: XCTestCase {
    /// Every server dies: every request is answered at once, and the proxy recovers by
    /// itself as the servers return.
    func testAllDownAnsweredAtOnceThenRecovers() throws {
        let f = try ProxyFixture(timeoutMs: 500, extraSettings: ["health_check_interval: 200"])
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "all:")
        let client = try RESPClient(port: f.port)
        let ports = f.redis.map(\.port)
        f.redis.forEach { $0.stop() }
        usleep(600_000)  // three check intervals: every server is down on the board
        for k in keys {
            let started = Date()
            let r = try client.command("GET", k).text
            XCTAssertTrue(r.hasPrefix("-ERR upstream cache-"), r)
            XCTAssertLessThan(Date().timeIntervalSince(started), 0.1, "answered at once, not after a connect attempt")
        }
        let mget = try client.command(bytes: (["MGET"] + keys).map { Array($0.utf8) }).text
        XCTAssertEqual(mget, "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n")
        let back = try ports.map { try RedisServer(port: $0) }
        defer { back.forEach { $0.stop() } }
        var served = 0
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && served < keys.count {
            served = 0
            for k in keys where (try? client.command("SET", k, "v").text) == "+OK\r\n" { served += 1 }
            usleep(100_000)
        }
        XCTAssertEqual(served, keys.count, "every server serves again after it returns")
    }
}

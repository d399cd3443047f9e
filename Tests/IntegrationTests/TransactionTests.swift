// Transactions through the proxy answer exactly as one redis-server answers the same
// pipeline: MULTI before any key, keys on one server, refused commands (EXECABORT), nested
// MULTI, EXEC without MULTI. A key on another server aborts the whole transaction and
// applies nothing. redis-py's WATCH retry loop under two writers keeps every increment.
// With multi_across_servers: per_server the same transaction runs as one MULTI/EXEC per
// server and answers what one redis-server answers; a down server applies nothing anywhere.

import Foundation
import XCTest

final class TransactionTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Sends `commands` in one write and reads one reply per command.
    func pipeline(_ client: RESPClient, _ commands: [[String]]) throws -> [String] {
        try client.send(commands.flatMap { RESPClient.encode($0) })
        return try commands.map { _ in text(try client.readReply()) }
    }

    /// The same pipeline through the proxy and against one redis-server directly.
    func assertSameAsRedis(_ f: ProxyFixture, _ commands: [[String]], file: StaticString = #filePath, line: UInt = #line) throws {
        let proxied = try pipeline(try RESPClient(port: f.port), commands)
        let fresh = try RedisServer()
        defer { fresh.stop() }
        let direct = try pipeline(try RESPClient(port: fresh.port), commands)
        XCTAssertEqual(proxied, direct, "\(commands)", file: file, line: line)
    }

    func testTransactionsAnswerAsRedis() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        try assertSameAsRedis(f, [["MULTI"], ["SET", "{t}a", "1"], ["INCR", "{t}a"], ["GET", "{t}a"], ["EXEC"]])
        try assertSameAsRedis(f, [["MULTI"], ["PING"], ["ECHO", "x"], ["SET", "{u}a", "1"], ["EXEC"]])
        try assertSameAsRedis(f, [["MULTI"], ["PING"], ["EXEC"]])
        try assertSameAsRedis(f, [["MULTI"], ["EXEC"]])
        try assertSameAsRedis(f, [["EXEC"], ["DISCARD"], ["UNWATCH"]])
        try assertSameAsRedis(f, [["MULTI"], ["SET", "{v}a", "1"], ["MULTI"], ["WATCH", "{v}a"], ["EXEC"]])
        try assertSameAsRedis(f, [["MULTI"], ["SET", "{w}a", "1"], ["GET"], ["SET", "{w}b", "2"], ["EXEC"], ["GET", "{w}a"]])
        try assertSameAsRedis(f, [["MULTI"], ["SET", "{x}a", "1"], ["DISCARD"], ["GET", "{x}a"]])
        try assertSameAsRedis(f, [["SET", "{y}k", "0"], ["GET", "{y}k"], ["MULTI"], ["INCR", "{y}k"], ["EXEC"], ["GET", "{y}k"]])
    }

    func testACrossServerKeyAbortsAndAppliesNothing() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "tx:")
        let client = try RESPClient(port: f.port)
        let replies = try pipeline(client, [["MULTI"], ["SET", keys[0], "applied"], ["SET", keys[1], "applied"], ["EXEC"]])
        XCTAssertEqual(replies[0], "+OK\r\n")
        XCTAssertEqual(replies[1], "+QUEUED\r\n")
        XCTAssertTrue(replies[2].hasPrefix("-ERR ringproxy: the keys of 'MULTI' live on different servers"), replies[2])
        XCTAssertEqual(replies[3], "-EXECABORT Transaction discarded because of previous errors.\r\n")
        for k in keys.prefix(2) {
            let direct = try RESPClient(port: f.redis[f.serverIndex(of: k)].port)
            XCTAssertEqual(text(try direct.command("GET", k)), "$-1\r\n", "nothing applied on any server")
        }
        // The connection goes on normally, and the lease was returned clean.
        XCTAssertEqual(text(try client.command("SET", keys[0], "later")), "+OK\r\n")
        XCTAssertEqual(try pipeline(client, [["MULTI"], ["GET", keys[0]], ["EXEC"]]), ["+OK\r\n", "+QUEUED\r\n", "*1\r\n$5\r\nlater\r\n"])
        // INFO counts them on the server the transaction leased.
        let info = text(try client.command("INFO"))
        let line = info.split(separator: "\r\n").first { $0.hasPrefix("upstream_cache-\(f.serverIndex(of: keys[0]) + 1):") } ?? ""
        XCTAssertTrue(line.contains("transactions=1,transactions_aborted=1,"), String(line))
    }

    /// A transaction over keys on all four servers: SET, INCR, MSET over two servers, a
    /// keyless PING, MGET and DEL over all of them, GET.
    func spanningTransaction(_ keys: [String]) -> [[String]] {
        [["MULTI"], ["SET", keys[0], "a"], ["INCR", keys[1]], ["MSET", keys[2], "c", keys[3], "d"], ["PING"],
         ["MGET", keys[3], keys[0], keys[2], keys[1]], ["APPEND", keys[2], "+"], ["DEL", keys[0], keys[3], "nokey"],
         ["GET", keys[2]], ["EXEC"]]
    }

    func testPerServerAppliesAllAndAnswersAsOneRedis() throws {
        let f = try ProxyFixture(extraSettings: ["multi_across_servers: per_server"])
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "ps:")
        XCTAssertEqual(Set(keys.map { f.serverIndex(of: $0) }).count, 4)
        try assertSameAsRedis(f, spanningTransaction(keys))
        // Every part was applied, on its own server.
        let expected = [keys[0]: "$-1\r\n", keys[1]: "$1\r\n1\r\n", keys[2]: "$2\r\nc+\r\n", keys[3]: "$-1\r\n"]
        for (k, value) in expected {
            let direct = try RESPClient(port: f.redis[f.serverIndex(of: k)].port)
            XCTAssertEqual(text(try direct.command("GET", k)), value, k)
        }
        // Queue-time errors, DISCARD and the connection afterwards answer as Redis does.
        let fresh = f.keysOnDistinctServers(prefix: "pu:")
        try assertSameAsRedis(f, [["MULTI"], ["SET", fresh[0], "1"], ["GET"], ["SET", fresh[1], "2"], ["EXEC"], ["GET", fresh[0]]])
        try assertSameAsRedis(f, [["MULTI"], ["SET", fresh[2], "x"], ["SET", fresh[3], "y"], ["DISCARD"], ["MGET", fresh[2], fresh[3]]])
        try assertSameAsRedis(f, [["MULTI"], ["PING"], ["ECHO", "x"], ["EXEC"], ["MULTI"], ["EXEC"]])
        // A transaction after WATCH stays on the watched server, as with the default.
        let client = try RESPClient(port: f.port)
        let watched = try pipeline(client, [["WATCH", keys[0]], ["MULTI"], ["SET", keys[0], "w"], ["SET", keys[1], "w"], ["EXEC"]])
        XCTAssertTrue(watched[3].hasPrefix("-ERR ringproxy: the keys of 'MULTI' live on different servers"), watched[3])
        XCTAssertEqual(watched[4], "-EXECABORT Transaction discarded because of previous errors.\r\n")
        // Pipelined after EXEC, a read sees the transaction's writes.
        let after = try pipeline(client, [["MULTI"], ["SET", keys[0], "p"], ["SET", keys[1], "q"], ["EXEC"], ["MGET", keys[0], keys[1]]])
        XCTAssertEqual(after, ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n+OK\r\n+OK\r\n", "*2\r\n$1\r\np\r\n$1\r\nq\r\n"])
    }

    func testPerServerWithADownServerAppliesNothing() throws {
        let f = try ProxyFixture(extraSettings: ["multi_across_servers: per_server", "health_check_interval: 100"])
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "pd:")
        let down = f.serverIndex(of: keys[1])
        f.redis[down].stop()
        let client = try RESPClient(port: f.port)
        // Until the health checks mark it down, a part sent to it would fail after the
        // others were applied: that is the case this test is not about.
        for _ in 0..<100 where !text(try client.command("GET", keys[1])).contains(" is down") { usleep(50_000) }
        let replies = try pipeline(client, [["MULTI"], ["SET", keys[0], "x"], ["SET", keys[1], "x"], ["EXEC"]])
        XCTAssertEqual(Array(replies.prefix(3)), ["+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n"])
        XCTAssertTrue(replies[3].hasPrefix("-ERR upstream cache-\(down + 1) ") && replies[3].contains(" is down"), replies[3])
        let direct = try RESPClient(port: f.redis[f.serverIndex(of: keys[0])].port)
        XCTAssertEqual(text(try direct.command("GET", keys[0])), "$-1\r\n", "the live server's part was not sent")
    }

    func testTheDefaultStillAbortsTheSameTransaction() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "ps:")
        let replies = try pipeline(try RESPClient(port: f.port), spanningTransaction(keys))
        XCTAssertEqual(replies.last, "-EXECABORT Transaction discarded because of previous errors.\r\n")
        for k in keys {
            let direct = try RESPClient(port: f.redis[f.serverIndex(of: k)].port)
            XCTAssertEqual(text(try direct.command("EXISTS", k)), ":0\r\n", "nothing applied on any server")
        }
    }
}

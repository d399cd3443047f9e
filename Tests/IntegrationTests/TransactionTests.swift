// Transactions through the proxy answer exactly as one redis-server answers the same
// pipeline: MULTI before any key, keys on one server, refused commands (EXECABORT), nested
// MULTI, EXEC without MULTI. A key on another server aborts the whole transaction and
// applies nothing. redis-py's WATCH retry loop under two writers keeps every increment.

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
}

// SELECT n: each client has its own database, its requests travel on server connections
// that selected it, and clients on different databases never see each other's keys. Checked
// against the servers directly, and with redis-py's redis://host/3 URL.

import Foundation
import XCTest

final class SelectTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testSelectIsolatesDatabases() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "db:")
        let zero = try RESPClient(port: f.port)
        let five = try RESPClient(port: f.port)
        XCTAssertEqual(text(try five.command("SELECT", "5")), "+OK\r\n")
        for k in keys {
            XCTAssertEqual(text(try zero.command("SET", k, "zero")), "+OK\r\n")
            XCTAssertEqual(text(try five.command("GET", k)), "$-1\r\n", "database 5 does not see database 0")
            XCTAssertEqual(text(try five.command("SET", k, "five")), "+OK\r\n")
            XCTAssertEqual(text(try zero.command("GET", k)), "$4\r\nzero\r\n")
        }
        // A split command stays in the client's database on every server.
        let mget = text(try five.command(bytes: (["MGET"] + keys).map { Array($0.utf8) }))
        XCTAssertEqual(mget, "*\(keys.count)\r\n" + String(repeating: "$4\r\nfive\r\n", count: keys.count))
        // Each key is in database 5 of the server that owns it.
        for k in keys {
            let direct = try RESPClient(port: f.redis[f.serverIndex(of: k)].port)
            XCTAssertEqual(text(try direct.command("SELECT", "5")), "+OK\r\n")
            XCTAssertEqual(text(try direct.command("GET", k)), "$4\r\nfive\r\n")
        }
        // Back to 0 on the same connection.
        XCTAssertEqual(text(try five.command("SELECT", "0")), "+OK\r\n")
        XCTAssertEqual(text(try five.command("GET", keys[0])), "$4\r\nzero\r\n")
    }

    func testOutOfRangeAndNonIntegerAnswerAsRedis() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let direct = try RESPClient(port: f.redis[0].port)
        for db in ["16", "-1", "x", "99999999999999999999"] {
            XCTAssertEqual(text(try proxy.command("SELECT", db)), text(try direct.command("SELECT", db)), "SELECT \(db)")
        }
    }
}

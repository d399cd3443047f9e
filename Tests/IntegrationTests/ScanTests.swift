// SCAN, KEYS, DBSIZE and RANDOMKEY over the whole ring, in front of four real redis-servers:
// every answer is compared with what those servers hold or answer themselves (asked
// directly), through redis-py where a real client's parsing matters (python/scan_check.py).

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ScanTests: XCTestCase {
    func python(_ mode: String, _ f: ProxyFixture, servers: [RedisServer]? = nil, extra: [String] = [],
                file: StaticString = #filePath, line: UInt = #line) {
        let path = Harness.packageRoot + "/Tests/IntegrationTests/python/scan_check.py"
        let ports = (servers ?? f.redis).map { "\($0.port)" }.joined(separator: ",")
        let r = Harness.run("/usr/bin/env", ["python3", path, mode, "\(f.port)", ports] + extra, timeout: 120)
        print(r.stdout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr, file: file, line: line)
    }

    /// Another ringproxy over `servers` of the fixture (all of them: the same ring).
    func secondProxy(_ f: ProxyFixture, servers: [RedisServer]) throws -> (Background, Int) {
        let port = Harness.freePort()
        var yaml = "other:\n  listen: 127.0.0.1:\(port)\n  hash: fnv1a_64\n  hash_tag: \"{}\"\n  redis: true\n  servers:\n"
        for r in servers {
            let i = f.redis.firstIndex { $0 === r }!
            yaml += "    - 127.0.0.1:\(r.port):1 cache-\(i + 1)\n"
        }
        let path = Harness.tempDir() + "/other.yml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return (try startRingproxy(config: path, port: port), port)
    }

    func testScanKeysDBSizeAndRandomKeyOver100000Keys() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        python("full", f)
    }

    func testRedisPyScanIterThenDeletePurgesExactlyThePrefix() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        python("purge", f)
    }

    func testCursorResumesOnANewConnectionAndOnAnotherProxy() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let (other, port) = try secondProxy(f, servers: f.redis)
        defer { other.stop() }
        python("resume", f, extra: ["\(port)"])
    }

    func testSelectThenScanSeesThatDatabaseOnly() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        python("select", f)
    }

    /// The cursor's own element of a SCAN reply removed: what is left is the keys' array.
    static func keysPart(_ reply: [UInt8]) -> [UInt8] {
        let head = Array("*2\r\n$".utf8)
        guard reply.starts(with: head), let cr = reply[head.count...].firstIndex(of: 13),
              let n = Int(String(decoding: reply[head.count..<cr], as: UTF8.self)) else { return reply }
        return Array(reply[(cr + 2 + n + 2)...])
    }

    func testBadCursorsGetRedisErrorOrAClearOne() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        let direct = try RESPClient(port: f.redis[0].port)
        for bogus in ["abc", "12x", "99999999999999999999999", "18446744073709551616"] {
            let expected = try direct.command("SCAN", bogus)
            XCTAssertTrue(expected.text.hasPrefix("-"), expected.text)
            XCTAssertEqual(try client.command("SCAN", bogus).text, expected.text, bogus)
        }
        // Redis reads an empty cursor as 0, and so does the proxy.
        XCTAssertEqual(try direct.command("SCAN", "").text, try direct.command("SCAN", "0").text)
        XCTAssertEqual(try client.command("SCAN", "").text, try client.command("SCAN", "0").text)
        XCTAssertEqual(try client.command("SCAN").text, try direct.command("SCAN").text)
        // A cursor made by this ring of four, mid-scan, taken to a ring of three.
        let first = try client.command("SCAN", "0", "COUNT", "10").text
        let cursor = first.split(separator: "\r\n")[2]
        XCTAssertNotEqual(cursor, "0")
        let (three, port) = try secondProxy(f, servers: Array(f.redis.prefix(3)))
        defer { three.stop() }
        let other = try RESPClient(port: port)
        let refused = try other.command("SCAN", String(cursor)).text
        XCTAssertTrue(refused.hasPrefix("-ERR ringproxy: this SCAN cursor was made for a ring with another number of servers (this pool has 3)"),
                      refused)
        XCTAssertEqual(try other.command("PING").text, "+PONG\r\n")
    }

    /// A RESP3 client gets Redis's own page: the keys' array exactly as the server sends it
    /// to a RESP3 connection, after the ring's cursor.
    func testRESP3PagesHaveRedisShape() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let key = f.keysOnDistinctServers(prefix: "shape:")[2]
        let s = f.serverIndex(of: key)
        let client = try RESPClient(port: f.port)
        XCTAssertTrue(try client.command("HELLO", "3").text.hasPrefix("%"))
        XCTAssertEqual(try client.command("SET", key, "v").text, "+OK\r\n")
        let direct = try RESPClient(port: f.redis[s].port)
        XCTAssertTrue(try direct.command("HELLO", "3").text.hasPrefix("%"))
        let expected = Self.keysPart(try direct.command("SCAN", "0", "COUNT", "1000"))
        XCTAssertEqual(expected.text, "*1\r\n" + bulk(key).text)
        var cursor = "0"
        var pages: [[UInt8]] = []
        repeat {
            let page = try client.command("SCAN", cursor, "COUNT", "1000")
            XCTAssertTrue(page.text.hasPrefix("*2\r\n$"), page.text)
            cursor = String(page.text.split(separator: "\r\n")[2])
            pages.append(page)
        } while cursor != "0" && pages.count < 100
        XCTAssertEqual(pages.count, f.redis.count, "one page per server")
        XCTAssertEqual(Self.keysPart(pages[s]).text, expected.text)
        for (i, page) in pages.enumerated() where i != s { XCTAssertEqual(Self.keysPart(page).text, "*0\r\n") }
    }

    /// Keys on every server, then one server killed and seen down by the health checks.
    func killOne(_ f: ProxyFixture) throws -> Int {
        let client = try RESPClient(port: f.port)
        for i in 0..<400 { XCTAssertEqual(try client.command("SET", "down:\(i)", "v").text, "+OK\r\n") }
        let victim = 1
        f.redis[victim].stop()
        let deadline = Date().addingTimeInterval(10)
        while !f.proxy.log.contains("upstream cache-\(victim + 1)") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(f.proxy.log.contains("upstream cache-\(victim + 1)"), "marked down: \(f.proxy.log)")
        return victim
    }

    func testDownServerIsSkippedInMissMode() throws {
        let f = try ProxyFixture(timeoutMs: 500, extraSettings: ["down_server_reply: miss", "health_check_interval: 100",
                                                                  "health_check_timeout: 100"])
        defer { f.stop() }
        let victim = try killOne(f)
        python("down", f, servers: f.redis.enumerated().filter { $0.offset != victim }.map(\.element))
    }

    func testDownServerIsAnErrorNamingItByDefault() throws {
        let f = try ProxyFixture(timeoutMs: 500, extraSettings: ["health_check_interval: 100", "health_check_timeout: 100"])
        defer { f.stop() }
        let victim = try killOne(f)
        let client = try RESPClient(port: f.port)
        let name = "ERR upstream cache-\(victim + 1) (127.0.0.1:\(f.redis[victim].port))"
        var cursor = "0"
        var error = ""
        for _ in 0..<100 {
            let page = try client.command("SCAN", cursor, "COUNT", "1000").text
            if page.hasPrefix("-") { error = page; break }
            cursor = String(page.split(separator: "\r\n")[2])
            if cursor == "0" { break }
        }
        XCTAssertTrue(error.hasPrefix("-" + name), "SCAN reaching the down server: \(error)")
        let keys = try client.command("KEYS", "*").text
        XCTAssertTrue(keys.hasPrefix("-" + name), keys)
        XCTAssertEqual(try client.command("PING").text, "+PONG\r\n")
    }
}

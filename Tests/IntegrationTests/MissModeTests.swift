// With `down_server_reply: miss`, reads of a down server's keys get the reply a missing key
// would get, shaped as the command's reply: an MGET whose keys all live on the down server
// is answered one nil per key (an array), byte for byte what redis-server answers for two
// missing keys, never a lone nil a client would misparse.

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class MissModeTests: XCTestCase {
    func testMGETOfADownServersKeysIsAnArrayOfNils() throws {
        let f = try ProxyFixture(timeoutMs: 500, extraSettings: ["down_server_reply: miss", "health_check_interval: 100",
                                                                  "health_check_timeout: 100"])
        defer { f.stop() }
        // Two keys on one server (the victim) and one on another.
        let victimKey = f.keysOnDistinctServers(prefix: "miss:")[1]
        let victim = f.serverIndex(of: victimKey)
        var sameServer: [String] = []
        var i = 0
        while sameServer.count < 2 && i < 100_000 {
            let k = "miss:v\(i)"
            if f.serverIndex(of: k) == victim { sameServer.append(k) }
            i += 1
        }
        let liveKey = f.keysOnDistinctServers(prefix: "live:").first { f.serverIndex(of: $0) != victim }!
        let client = try RESPClient(port: f.port)
        XCTAssertEqual(try client.command("SET", liveKey, "v"), Array("+OK\r\n".utf8))

        // What Redis itself answers for two missing keys, asked of a live server directly.
        let direct = try RESPClient(port: f.redis[(victim + 1) % f.redis.count].port)
        let expected = try direct.command("MGET", "nosuch:a", "nosuch:b")
        XCTAssertEqual(expected, Array("*2\r\n$-1\r\n$-1\r\n".utf8))

        f.redis[victim].stop()
        // Bounded wait for the health checks to mark it down.
        let deadline = Date().addingTimeInterval(10)
        while !f.proxy.log.contains("upstream cache-\(victim + 1)") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue(f.proxy.log.contains("upstream cache-\(victim + 1)"), "marked down: \(f.proxy.log)")

        XCTAssertEqual(String(decoding: try client.command(bytes: (["MGET"] + sameServer).map { Array($0.utf8) }), as: UTF8.self),
                       String(decoding: expected, as: UTF8.self), "all keys on the down server")
        let mixed = try client.command("MGET", sameServer[0], liveKey)
        XCTAssertEqual(String(decoding: mixed, as: UTF8.self), "*2\r\n$-1\r\n$1\r\nv\r\n", "split over a down and a live server")
        XCTAssertEqual(try client.command("GET", sameServer[0]), Array("$-1\r\n".utf8))
        XCTAssertEqual(try client.command("EXISTS", sameServer[0], sameServer[1]), Array(":0\r\n".utf8))
        let write = String(decoding: try client.command("SET", sameServer[0], "x"), as: UTF8.self)
        XCTAssertTrue(write.hasPrefix("-ERR upstream cache-\(victim + 1)"), write)
    }
}

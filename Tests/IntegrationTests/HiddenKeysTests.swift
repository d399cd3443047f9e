// Keys hidden in options, in front of three real redis-servers: SORT with BY/GET patterns
// and STORE, GEORADIUS with STORE/STOREDIST are forwarded when every key they touch shares
// the sorted key's hash tag (the answer compared with the owning redis-server's own), and
// refused otherwise with nothing written anywhere. MOVE and COPY ... DB move keys between
// the proxy's databases on the key's own server.

import Foundation
import XCTest

final class HiddenKeysTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// A direct connection to the server that owns `key`.
    func owner(_ f: ProxyFixture, _ key: String) throws -> RESPClient {
        try RESPClient(port: f.redis[f.serverIndex(of: key)].port)
    }

    /// The same data through the proxy and on the owning server directly (the proxy writes
    /// it there too: one tag, one server), and each SORT asked of both.
    func testSortWithTaggedPatternsAnswersAsTheServer() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let direct = try owner(f, "{u1}:list")
        for c in [proxy, direct] {
            _ = try c.command("DEL", "{u1}:list", "{u1}:dst")
            XCTAssertEqual(text(try c.command("RPUSH", "{u1}:list", "3", "1", "2")), ":3\r\n")
            for (i, w) in [("1", "30"), ("2", "10"), ("3", "20")] {
                _ = try c.command("SET", "{u1}:w_\(i)", w)
                _ = try c.command("HSET", "{u1}:o_\(i)", "name", "n\(i)")
            }
        }
        let requests: [[String]] = [
            ["SORT", "{u1}:list", "BY", "{u1}:w_*", "GET", "#", "GET", "{u1}:o_*->name"],
            ["SORT_RO", "{u1}:list", "BY", "{u1}:w_*", "DESC", "GET", "{u1}:o_*->name"],
            ["SORT", "{u1}:list", "BY", "nosort", "GET", "{u1}:w_*"],
            ["SORT", "{u1}:list", "LIMIT", "0", "2", "ALPHA", "DESC"],
        ]
        for r in requests {
            let viaProxy = text(try proxy.command(bytes: r.map { Array($0.utf8) }))
            XCTAssertFalse(viaProxy.hasPrefix("-"), "\(r): \(viaProxy)")
            XCTAssertEqual(viaProxy, text(try direct.command(bytes: r.map { Array($0.utf8) })), "\(r)")
        }
        // STORE writes where a later read through the proxy finds it.
        let store = ["SORT", "{u1}:list", "BY", "{u1}:w_*", "STORE", "{u1}:dst"]
        XCTAssertEqual(text(try proxy.command(bytes: store.map { Array($0.utf8) })), ":3\r\n")
        XCTAssertEqual(text(try proxy.command("LRANGE", "{u1}:dst", "0", "-1")), "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n")
        XCTAssertEqual(text(try proxy.command("LRANGE", "{u1}:dst", "0", "-1")),
                       text(try direct.command("LRANGE", "{u1}:dst", "0", "-1")))
    }

    func testSortAcrossServersIsRefusedAndWritesNothing() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let keys = f.keysOnDistinctServers(prefix: "s:")
        XCTAssertEqual(keys.count, 3)
        _ = try proxy.command("RPUSH", keys[0], "1", "2")
        _ = try proxy.command("SET", "user:1", "a")
        for r in [["SORT", keys[0], "GET", "user:*"], ["SORT", keys[0], "BY", "w_*"],
                  ["SORT_RO", keys[0], "GET", "#", "GET", "*:{x}"]] {
            let reply = text(try proxy.command(bytes: r.map { Array($0.utf8) }))
            XCTAssertTrue(reply.hasPrefix("-ERR ringproxy: the pattern"), "\(r): \(reply)")
        }
        let reply = text(try proxy.command("SORT", keys[0], "STORE", keys[1]))
        XCTAssertTrue(reply.hasPrefix("-ERR ringproxy: the keys of 'SORT' live on different servers"), reply)
        for r in f.redis {
            XCTAssertEqual(text(try RESPClient(port: r.port).command("EXISTS", keys[1])), ":0\r\n", "nothing stored")
        }
        // GET # and BY without '*' read no other key: forwarded.
        XCTAssertEqual(text(try proxy.command("SORT", keys[0], "BY", "nosort", "GET", "#")),
                       text(try owner(f, keys[0]).command("SORT", keys[0], "BY", "nosort", "GET", "#")))
    }

    func testGeoradiusStoreWithItsKeyOrRefused() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let direct = try owner(f, "{g}:geo")
        for c in [proxy, direct] {
            _ = try c.command("DEL", "{g}:geo", "{g}:near", "{g}:dist")
            _ = try c.command("GEOADD", "{g}:geo", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
        }
        // Through the proxy, then compared with the same command run on the owner directly
        // under other destination names.
        XCTAssertEqual(text(try proxy.command("GEORADIUS", "{g}:geo", "15", "37", "200", "km", "STORE", "{g}:near")), ":2\r\n")
        XCTAssertEqual(text(try direct.command("GEORADIUS", "{g}:geo", "15", "37", "200", "km", "STORE", "{g}:near2")), ":2\r\n")
        XCTAssertEqual(text(try proxy.command("ZRANGE", "{g}:near", "0", "-1", "WITHSCORES")),
                       text(try direct.command("ZRANGE", "{g}:near2", "0", "-1", "WITHSCORES")))
        XCTAssertEqual(text(try proxy.command("GEORADIUSBYMEMBER", "{g}:geo", "Palermo", "200", "km", "STOREDIST", "{g}:dist")),
                       text(try direct.command("GEORADIUSBYMEMBER", "{g}:geo", "Palermo", "200", "km", "STOREDIST", "{g}:dist2")))
        XCTAssertEqual(text(try proxy.command("ZRANGE", "{g}:dist", "0", "-1", "WITHSCORES")),
                       text(try direct.command("ZRANGE", "{g}:dist2", "0", "-1", "WITHSCORES")))
        // A destination on another server: refused, and not written there.
        let elsewhere = f.keysOnDistinctServers(prefix: "d:").first { f.serverIndex(of: $0) != f.serverIndex(of: "{g}:geo") }!
        let reply = text(try proxy.command("GEORADIUS", "{g}:geo", "15", "37", "200", "km", "STORE", elsewhere))
        XCTAssertTrue(reply.hasPrefix("-ERR ringproxy: the keys of 'GEORADIUS' live on different servers"), reply)
        XCTAssertEqual(text(try owner(f, elsewhere).command("EXISTS", elsewhere)), ":0\r\n")
    }

    func testMoveAndCopyBetweenTheProxysDatabases() throws {
        let f = try ProxyFixture(extraSettings: ["databases: 4"], servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let keys = f.keysOnDistinctServers(prefix: "mv:")
        for k in keys {
            XCTAssertEqual(text(try proxy.command("SET", k, "v-\(k)")), "+OK\r\n")
            XCTAssertEqual(text(try proxy.command("MOVE", k, "1")), ":1\r\n")
            XCTAssertEqual(text(try proxy.command("EXISTS", k)), ":0\r\n")
        }
        XCTAssertEqual(text(try proxy.command("SELECT", "1")), "+OK\r\n")
        for k in keys {
            XCTAssertEqual(text(try proxy.command("GET", k)), text(bulk("v-\(k)")), "moved within its server")
            let direct = try owner(f, k)
            _ = try direct.command("SELECT", "1")
            XCTAssertEqual(text(try direct.command("GET", k)), text(bulk("v-\(k)")))
            // COPY to another database under a name with the same tag.
            XCTAssertEqual(text(try proxy.command("COPY", k, "{\(k)}:copy", "DB", "2")), ":1\r\n")
        }
        XCTAssertEqual(text(try proxy.command("SELECT", "2")), "+OK\r\n")
        for k in keys { XCTAssertEqual(text(try proxy.command("GET", "{\(k)}:copy")), text(bulk("v-\(k)"))) }
        // A database the pool does not offer: Redis's own error, as a server with 4
        // databases answers it.
        let small = try RedisServer(extraArgs: ["--databases", "4"])
        defer { small.stop() }
        let four = try RESPClient(port: small.port)
        _ = try four.command("SET", "x", "1")
        XCTAssertEqual(text(try proxy.command("MOVE", keys[0], "4")), text(try four.command("MOVE", "x", "4")))
        XCTAssertEqual(text(try proxy.command("COPY", keys[0], "y", "DB", "7")), text(try four.command("COPY", "x", "y", "DB", "7")))
        XCTAssertEqual(text(try proxy.command("MOVE", keys[0], "-1")), text(try four.command("MOVE", "x", "-1")))
    }
}

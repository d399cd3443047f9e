// Administration through the proxy in front of three real redis-servers, each answer
// compared with what the servers answer when asked directly: ROLE, LASTSAVE, DBSIZE, TIME,
// LOLWUT as a standalone master; MEMORY USAGE and OBJECT by key; SLOWLOG, LATENCY and
// MEMORY STATS gathered from every server and tagged by server; ACL SETUSER/DELUSER/LIST on
// every server; REPLICAOF, SHUTDOWN, DEBUG and FAILOVER refused.

import Foundation
import RingCore
import XCTest

final class AdministrationTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    func value(_ c: RESPClient, _ args: String...) throws -> RESPValue {
        let reply = try c.command(bytes: args.map { Array($0.utf8) })
        guard let v = RESPValue.parse(reply) else { throw HarnessError.protocolError(text(reply)) }
        return v
    }
    func direct(_ f: ProxyFixture) throws -> [RESPClient] { try f.redis.map { try RESPClient(port: $0.port) } }
    func names(_ f: ProxyFixture) -> [String] { (1...f.redis.count).map { "cache-\($0)" } }

    func testStandaloneMasterAnswers() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let servers = try direct(f)
        XCTAssertEqual(text(try proxy.command("ROLE")), text(try servers[0].command("ROLE")))
        for k in f.keysOnDistinctServers(prefix: "adm:") { _ = try proxy.command("SET", k, "1") }
        let sizes = try servers.map { try value($0, "DBSIZE").integerValue ?? -1 }
        XCTAssertEqual(try value(proxy, "DBSIZE"), .integer(sizes.reduce(0, +)))
        _ = try servers[1].command("SAVE")
        let saves = try servers.map { try value($0, "LASTSAVE").integerValue ?? -1 }
        XCTAssertEqual(try value(proxy, "LASTSAVE"), .integer(saves.min()!), "every server saved since then")
        guard case let .array(time) = try value(proxy, "TIME"), case let .array(serverTime) = try value(servers[0], "TIME"),
              let s = time[0].text.flatMap(Int.init), let t = serverTime[0].text.flatMap(Int.init) else { return XCTFail() }
        XCTAssertEqual(time.count, 2)
        XCTAssertLessThanOrEqual(abs(s - t), 2)
        // LOLWUT's art differs per call; its closing version line is the servers'.
        let art = try value(proxy, "LOLWUT").text ?? ""
        let serverArt = try value(servers[0], "LOLWUT").text ?? ""
        XCTAssertEqual(art.split(separator: "\n").last, serverArt.split(separator: "\n").last)
        XCTAssertTrue(art.contains("Redis ver."), art)
        for refused in [["REPLICAOF", "127.0.0.1", "1"], ["SHUTDOWN"], ["DEBUG", "SLEEP", "0"], ["FAILOVER"]] {
            let reply = text(try proxy.command(bytes: refused.map { Array($0.utf8) }))
            XCTAssertTrue(reply.hasPrefix("-ERR ringproxy:"), "\(refused): \(reply)")
        }
        XCTAssertEqual(text(try proxy.command("PING")), "+PONG\r\n", "still serving")
    }

    func testKeyedIntrospection() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        for k in f.keysOnDistinctServers(prefix: "mem:") {
            _ = try proxy.command("RPUSH", k, "a", "b", "c")
            let owner = try RESPClient(port: f.redis[f.serverIndex(of: k)].port)
            for args in [["MEMORY", "USAGE", k], ["MEMORY", "USAGE", k, "SAMPLES", "0"], ["OBJECT", "ENCODING", k],
                         ["OBJECT", "REFCOUNT", k], ["TYPE", k]] {
                let viaProxy = text(try proxy.command(bytes: args.map { Array($0.utf8) }))
                XCTAssertFalse(viaProxy.hasPrefix("-"), "\(args): \(viaProxy)")
                XCTAssertEqual(viaProxy, text(try owner.command(bytes: args.map { Array($0.utf8) })), "\(args)")
            }
        }
    }

    func testSlowlogFromEveryServerTaggedByServer() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let servers = try direct(f)
        for s in servers { _ = try s.command("SLOWLOG", "RESET"); _ = try s.command("CONFIG", "SET", "slowlog-log-slower-than", "0") }
        for k in f.keysOnDistinctServers(prefix: "slow:") { _ = try proxy.command("SET", k, "v") }
        // Logging off again, so that the logs stay as they are while compared.
        for s in servers { _ = try s.command("CONFIG", "SET", "slowlog-log-slower-than", "-1") }
        let lengths = try servers.map { try value($0, "SLOWLOG", "LEN").integerValue ?? -1 }
        XCTAssertEqual(try value(proxy, "SLOWLOG", "LEN"), .integer(lengths.reduce(0, +)))
        var expected: [[RESPValue]] = []
        for (i, s) in servers.enumerated() {
            for e in try value(s, "SLOWLOG", "GET", "-1").elements ?? [] {
                var fields = e.elements ?? []
                fields[5] = .string(names(f)[i])
                expected.append(fields)
            }
        }
        let all = try value(proxy, "SLOWLOG", "GET", "-1").elements?.compactMap(\.elements) ?? []
        XCTAssertEqual(all.count, expected.count)
        XCTAssertEqual(Set(all.map { "\($0)" }), Set(expected.map { "\($0)" }), "the same entries, tagged by server")
        XCTAssertEqual(all.map { $0[1].integerValue ?? 0 }, all.map { $0[1].integerValue ?? 0 }.sorted(by: >), "newest first")
        XCTAssertTrue(all.contains { $0[3].elements?.first?.text == "SET" })
        XCTAssertEqual(try value(proxy, "SLOWLOG", "GET", "2").elements?.count, min(2, expected.count))
        XCTAssertEqual(try value(proxy, "SLOWLOG", "GET").elements?.count, min(10, expected.count))
        XCTAssertEqual(text(try proxy.command("SLOWLOG", "RESET")), "+OK\r\n")
        for s in servers { XCTAssertEqual(try value(s, "SLOWLOG", "LEN"), .integer(0)) }
    }

    func testLatencyAndMemoryStatsFromEveryServer() throws {
        let f = try ProxyFixture(servers: 3, redisArgs: ["--enable-debug-command", "yes"])
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let servers = try direct(f)
        for s in servers {
            _ = try s.command("CONFIG", "SET", "latency-monitor-threshold", "1")
            _ = try s.command("DEBUG", "SLEEP", "0.01")
            _ = try s.command("CONFIG", "SET", "latency-monitor-threshold", "0")
        }
        guard case let .array(latest) = try value(proxy, "LATENCY", "LATEST") else { return XCTFail() }
        XCTAssertEqual(Set(latest.compactMap { $0.elements?.first?.text }), Set(names(f).map { "command@\($0)" }))
        for e in latest { XCTAssertEqual(e.elements?.count, 4, "Redis's four fields") }
        let histories = try servers.map { try value($0, "LATENCY", "HISTORY", "command").elements?.count ?? 0 }
        XCTAssertEqual(try value(proxy, "LATENCY", "HISTORY", "command").elements?.count, histories.reduce(0, +))
        XCTAssertTrue((try value(proxy, "LATENCY", "DOCTOR").text ?? "").contains("cache-3:"))
        // Per-command histograms add up over the servers.
        _ = try proxy.command("GET", "h1")
        let calls = try servers.map { try value($0, "LATENCY", "HISTOGRAM", "get")["get"]?["calls"]?.integerValue ?? 0 }
        XCTAssertEqual(try value(proxy, "LATENCY", "HISTOGRAM", "get")["get"]?["calls"], .integer(calls.reduce(0, +)))
        // MEMORY STATS: one map per server, with the fields the server itself reports.
        let stats = try value(proxy, "MEMORY", "STATS")
        for (i, s) in servers.enumerated() {
            let own = try value(s, "MEMORY", "STATS")
            guard let mine = stats[names(f)[i]]?.elements, let theirs = own.elements else { return XCTFail("\(stats)") }
            XCTAssertEqual(stride(from: 0, to: mine.count, by: 2).map { mine[$0].text },
                           stride(from: 0, to: theirs.count, by: 2).map { theirs[$0].text })
        }
        let resets = try value(proxy, "LATENCY", "RESET")
        XCTAssertEqual(resets, .integer(3), "one event reset on each server")
        XCTAssertEqual(try value(proxy, "LATENCY", "LATEST"), .array([]))
    }

    func testACLChangesReachEveryServer() throws {
        let f = try ProxyFixture(extraSettings: ["deny_commands: []"], servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let servers = try direct(f)
        XCTAssertEqual(text(try proxy.command("ACL", "SETUSER", "alice", "on", ">pw", "~*", "+get")), "+OK\r\n")
        for s in servers {
            XCTAssertTrue(text(try s.command("ACL", "LIST")).contains("user alice on"), "alice on every server")
        }
        XCTAssertEqual(text(try proxy.command("ACL", "LIST")), text(try servers[2].command("ACL", "LIST")))
        let bad = text(try proxy.command("ACL", "SETUSER", "bob", "nonsense"))
        XCTAssertEqual(bad, text(try servers[0].command("ACL", "SETUSER", "bob", "nonsense")), "the servers' error")
        XCTAssertEqual(text(try proxy.command("ACL", "DELUSER", "alice")), ":1\r\n")
        for s in servers { XCTAssertFalse(text(try s.command("ACL", "LIST")).contains("alice")) }
        XCTAssertTrue(text(try proxy.command("ACL", "WHOAMI")).hasPrefix("-ERR ringproxy:"))
        // Denied by default.
        let g = try ProxyFixture(servers: 1)
        defer { g.stop() }
        XCTAssertTrue(text(try RESPClient(port: g.port).command("ACL", "LIST")).contains("is denied by this proxy"))
    }
}

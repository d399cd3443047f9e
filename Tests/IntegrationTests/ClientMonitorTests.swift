// CLIENT and MONITOR through the proxy, with clients spread over several workers: CLIENT LIST
// and INFO in redis-server's format (the same fields in the same order) showing the test's
// own connection with its name and database; KILL by filter and in its old form; PAUSE
// holding writes only (WRITE) or everything; the small subcommands byte for byte as
// redis-server answers them; MONITOR's lines of a pipelined batch from a client of another
// worker, in order and in redis-server's format.

import Foundation
import XCTest

final class ClientMonitorTests: XCTestCase {
    /// Field names of a CLIENT LIST line, in order.
    func fieldNames(_ line: Substring) -> [Substring] { line.split(separator: " ").map { $0.prefix { $0 != "=" } } }

    func fields(_ line: Substring) -> [String: String] {
        var d: [String: String] = [:]
        for kv in line.split(separator: " ") {
            let parts = kv.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            d[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return d
    }

    /// `count` named connections; the proxy's client ids carry their worker in the top bits.
    func connections(_ f: ProxyFixture, _ count: Int) throws -> [RESPClient] {
        try (0..<count).map { i in
            let c = try RESPClient(port: f.port)
            _ = try c.command("CLIENT", "SETNAME", "conn-\(i)")
            return c
        }
    }

    func testClientListAndInfoAsRedisPrintsThem() throws {
        let f = try ProxyFixture(servers: 3, globalSettings: ["threads: 3"])
        defer { f.stop() }
        let me = try RESPClient(port: f.port)
        XCTAssertEqual(try me.command("CLIENT", "SETNAME", "the-test"), Array("+OK\r\n".utf8))
        _ = try me.command("SELECT", "5")
        let others = try connections(f, 9)
        // The unix socket pool is a server of its own: its clients are not this pool's.
        let otherPool = try RESPClient(path: f.socketPath)
        _ = try otherPool.command("CLIENT", "SETNAME", "other-pool")
        let list = bulkText(try me.command("CLIENT", "LIST"))
        let lines = list.split(separator: "\n")
        XCTAssertTrue(list.hasSuffix("\n"))
        XCTAssertEqual(lines.count, 10, list)
        let direct = try RESPClient(port: f.redis[0].port)
        let redisLine = bulkText(try direct.command("CLIENT", "LIST")).split(separator: "\n")[0]
        for line in lines { XCTAssertEqual(fieldNames(line), fieldNames(redisLine), String(line)) }
        let mine = lines.map(fields).first { $0["name"] == "the-test" }
        XCTAssertEqual(mine?["db"], "5")
        XCTAssertEqual(mine?["cmd"], "client|list")
        XCTAssertEqual(mine?["flags"], "N")
        XCTAssertEqual(Set(lines.map { fields($0)["name"] ?? "" }), Set(["the-test"] + (0..<9).map { "conn-\($0)" }))
        let workers = Set(lines.compactMap { UInt64(fields($0)["id"] ?? "") }.map { $0 >> 48 })
        XCTAssertGreaterThan(workers.count, 1, "ten connections over three workers")
        // CLIENT INFO: this connection, the same fields, its own id.
        let info = bulkText(try me.command("CLIENT", "INFO"))
        XCTAssertEqual(fieldNames(info.dropLast()), fieldNames(redisLine))
        XCTAssertEqual(fields(info.dropLast())["id"], mine?["id"])
        XCTAssertEqual(fields(info.dropLast())["cmd"], "client|info")
        // Filters.
        let id = fields(lines.first { $0.contains("name=conn-3 ") }!)["id"]!
        let one = bulkText(try me.command("CLIENT", "LIST", "ID", id)).split(separator: "\n")
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(fields(one[0])["name"], "conn-3")
        XCTAssertEqual(try me.command("CLIENT", "LIST", "TYPE", "pubsub"), try direct.command("CLIENT", "LIST", "TYPE", "pubsub"))
        XCTAssertEqual(try me.command("CLIENT", "LIST", "TYPE", "nope"), try direct.command("CLIENT", "LIST", "TYPE", "nope"))
        XCTAssertEqual(bulkText(try otherPool.command("CLIENT", "LIST")).split(separator: "\n").count, 1)
        XCTAssertEqual(try me.command("CLIENT", "KILL", "TYPE", "normal"), Array(":9\r\n".utf8), "not the other pool's")
        XCTAssertEqual(try otherPool.command("PING"), Array("+PONG\r\n".utf8))
        _ = others
    }

    func testClientKillByFilterAndOldForm() throws {
        let f = try ProxyFixture(servers: 3, globalSettings: ["threads: 3"])
        defer { f.stop() }
        let me = try RESPClient(port: f.port)
        let others = try connections(f, 6)
        let lines = bulkText(try me.command("CLIENT", "LIST")).split(separator: "\n").map(fields)
        func line(_ name: String) -> [String: String] { lines.first { $0["name"] == name }! }
        XCTAssertEqual(try me.command("CLIENT", "KILL", "ID", line("conn-1")["id"]!), Array(":1\r\n".utf8))
        XCTAssertEqual(try me.command("CLIENT", "KILL", "ADDR", line("conn-2")["addr"]!), Array(":1\r\n".utf8))
        XCTAssertEqual(try me.command("CLIENT", "KILL", line("conn-3")["addr"]!), Array("+OK\r\n".utf8))
        let direct = try RESPClient(port: f.redis[0].port)
        XCTAssertEqual(try me.command("CLIENT", "KILL", "127.0.0.1:1"), try direct.command("CLIENT", "KILL", "127.0.0.1:1"))
        XCTAssertEqual(try me.command("CLIENT", "KILL", "ID", "999999"), try direct.command("CLIENT", "KILL", "ID", "999999"))
        XCTAssertEqual(try me.command("CLIENT", "KILL", "TYPE", "x"), try direct.command("CLIENT", "KILL", "TYPE", "x"))
        for i in [1, 2, 3] {
            XCTAssertThrowsError(try others[i].command("PING"), "conn-\(i) was killed")
        }
        XCTAssertEqual(try others[0].command("PING"), Array("+PONG\r\n".utf8))
        // TYPE normal spares the caller (SKIPME yes) and closes the rest, in every worker.
        XCTAssertEqual(try me.command("CLIENT", "KILL", "TYPE", "normal"), Array(":3\r\n".utf8))
        XCTAssertEqual(try me.command("PING"), Array("+PONG\r\n".utf8))
        XCTAssertEqual(bulkText(try me.command("CLIENT", "LIST")).split(separator: "\n").count, 1)
    }

    func testClientPauseAndSmallSubcommands() throws {
        let f = try ProxyFixture(servers: 3, globalSettings: ["threads: 2"])
        defer { f.stop() }
        let me = try RESPClient(port: f.port)
        let other = try RESPClient(port: f.port)
        let direct = try RESPClient(port: f.redis[0].port)
        for sub in [["TRACKINGINFO"], ["GETREDIR"], ["NO-EVICT", "on"], ["NO-EVICT", "off"], ["PAUSE", "x"],
                    ["PAUSE", "10", "SOME"], ["NOSUCH"]] {
            let args = (["CLIENT"] + sub).map { Array($0.utf8) }
            XCTAssertEqual(String(decoding: try me.command(bytes: args), as: UTF8.self),
                           String(decoding: try direct.command(bytes: args), as: UTF8.self), "CLIENT \(sub)")
        }
        XCTAssertEqual(try me.command("CLIENT", "NO-TOUCH", "off"), Array("+OK\r\n".utf8))
        for sub in [["NO-TOUCH", "on"], ["TRACKING", "on"], ["CACHING", "yes"], ["REPLY", "OFF"], ["UNBLOCK", "1"]] {
            let r = String(decoding: try me.command(bytes: (["CLIENT"] + sub).map { Array($0.utf8) }), as: UTF8.self)
            XCTAssertTrue(r.hasPrefix("-ERR ringproxy: ") && r.contains("CLIENT \(sub[0])"), r)
        }
        // WRITE: reads go on, a write waits for the end of the pause.
        XCTAssertEqual(try me.command("CLIENT", "PAUSE", "400", "WRITE"), Array("+OK\r\n".utf8))
        var start = Date()
        _ = try other.command("GET", "k")
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.2)
        start = Date()
        XCTAssertEqual(try other.command("SET", "k", "v"), Array("+OK\r\n".utf8))
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.3)
        // ALL: everything waits; UNPAUSE from a client ends it early... except that in ALL
        // mode UNPAUSE waits too, as in Redis, so the pause runs out.
        XCTAssertEqual(try me.command("CLIENT", "PAUSE", "300"), Array("+OK\r\n".utf8))
        start = Date()
        XCTAssertEqual(try other.command("GET", "k"), bulk("v"))
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.2)
        XCTAssertEqual(try me.command("CLIENT", "PAUSE", "5000", "WRITE"), Array("+OK\r\n".utf8))
        XCTAssertEqual(try me.command("CLIENT", "UNPAUSE"), Array("+OK\r\n".utf8))
        start = Date()
        XCTAssertEqual(try other.command("SET", "k", "w"), Array("+OK\r\n".utf8))
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.5, "UNPAUSE ended the pause in every worker")
    }

    func testMonitorShowsAnotherClientsPipelinedBatchInOrder() throws {
        let denied = try ProxyFixture(servers: 3)
        let refused = String(decoding: try RESPClient(port: denied.port).command("MONITOR"), as: UTF8.self)
        denied.stop()
        XCTAssertTrue(refused.hasPrefix("-ERR") && refused.contains("deny_commands"), refused)

        let f = try ProxyFixture(extraSettings: ["deny_commands: []"], servers: 3, globalSettings: ["threads: 3"])
        defer { f.stop() }
        let monitor = try RESPClient(port: f.port)
        XCTAssertEqual(try monitor.command("MONITOR"), Array("+OK\r\n".utf8))
        let monitorID = try RESPClient(port: f.port).command("CLIENT", "LIST")
        // A client in another worker than the monitor (ids carry the worker in the top bits).
        let lines = bulkText(monitorID).split(separator: "\n").map(fields)
        let monitorWorker = (lines.first { $0["flags"] == "O" }.flatMap { UInt64($0["id"] ?? "") } ?? 0) >> 48
        var client: RESPClient?
        var clientAddr = ""
        var kept: [RESPClient] = []
        for _ in 0..<30 where client == nil {
            let c = try RESPClient(port: f.port)
            let info = fields(bulkText(try c.command("CLIENT", "INFO")).dropLast())
            if (UInt64(info["id"] ?? "") ?? 0) >> 48 != monitorWorker {
                client = c
                clientAddr = info["addr"] ?? ""
            } else {
                kept.append(c)
            }
        }
        guard let client else { return XCTFail("no connection landed in another worker") }
        // One pipelined batch: SELECT, writes and reads, an argument with quotes and a newline.
        var batch: [UInt8] = []
        var expected: [String] = []
        let commands: [[String]] = [["SELECT", "2"]] + (0..<20).map { ["SET", "mon:\($0)", "v\($0)"] }
            + [["GET", "mon:3"], ["SET", "odd", "a \"b\"\nc"], ["DEL", "mon:1", "mon:2"]]
        var db = 0
        for c in commands {
            batch += RESPClient.encode(c)
            let quoted = c.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n") + "\"" }
            expected.append("[\(db) \(clientAddr)] " + quoted.joined(separator: " "))
            if c[0] == "SELECT" { db = 2 }
        }
        _ = try RESPClient(path: f.socketPath).command("SET", "other-pool-key", "v")  // another pool: not shown
        try client.send(batch)
        for _ in commands { _ = try client.readReply() }
        var seen: [String] = []
        while seen.count < expected.count {
            let line = String(decoding: try monitor.readReply(), as: UTF8.self)
            XCTAssertFalse(line.contains("other-pool-key"), line)
            // Other connections' lines, and this one's CLIENT INFO before the batch.
            guard line.contains(clientAddr), !line.contains("\"CLIENT\" \"INFO\"") else { continue }
            XCTAssertTrue(line.range(of: "^\\+\\d{10}\\.\\d{6} \\[", options: .regularExpression) != nil, line)
            seen.append(String(line.drop { $0 != " " }.dropFirst().dropLast()))  // "\r\n" is one Character
        }
        XCTAssertEqual(seen, expected)

        // The same command on a redis-server's own MONITOR prints the same arguments.
        let direct = try RESPClient(port: f.redis[0].port)
        _ = try direct.command("MONITOR")
        let writer = try RESPClient(port: f.redis[0].port)
        _ = try writer.command("SET", "odd", "a \"b\"\nc")
        let theirs = String(decoding: try direct.readReply(), as: UTF8.self)
        XCTAssertTrue(theirs.hasSuffix("] \"SET\" \"odd\" \"a \\\"b\\\"\\nc\"\r\n"), theirs)
        // A monitor's own keyspace commands are refused as Redis refuses them.
        XCTAssertEqual(try monitor.command("GET", "x"), try direct.command("GET", "x"))
        _ = kept
    }
}

// INFO and CONFIG through the proxy against three redis-servers, compared with what a
// redis-server answers directly: the same sections for every section argument, every field
// a server prints present, the keyspace and additive counters equal to the servers' sums,
// the servers' identity fields, the proxy's own clients and process; CONFIG GET's parameter
// names; CONFIG SET on every server or an error naming the server; RESETSTAT. Also redis-py's
// connect-time probes, info() sections, config_get and client_list (admin_check.py).

import Foundation
import XCTest

/// The text of a bulk (or RESP3 verbatim) string reply.
func bulkText(_ reply: [UInt8]) -> String {
    guard let cr = reply.firstIndex(of: 13) else { return "" }
    var body = Array(reply[(cr + 2)..<max(cr + 2, reply.count - 2)])
    if reply.first == UInt8(ascii: "=") { body = Array(body.dropFirst(4)) }
    return String(decoding: body, as: UTF8.self)
}

/// INFO text as [section: [field: value]], and its section names in order.
func infoSections(_ text: String) -> (order: [String], fields: [String: [String: String]]) {
    var order: [String] = []
    var fields: [String: [String: String]] = [:]
    var current = ""
    for line in text.split(whereSeparator: \.isNewline) {
        if line.hasPrefix("# ") {
            current = String(line.dropFirst(2))
            order.append(current)
            fields[current] = [:]
        } else if let colon = line.firstIndex(of: ":") {
            fields[current, default: [:]][String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
    }
    return (order, fields)
}

/// A flat RESP2 array of bulk strings.
func bulkArray(_ reply: [UInt8]) -> [String] {
    var out: [String] = []
    var i = reply.firstIndex(of: 10).map { $0 + 1 } ?? reply.count
    while i < reply.count, reply[i] == UInt8(ascii: "$"), let cr = reply[i...].firstIndex(of: 13),
          let n = Int(String(decoding: reply[(i + 1)..<cr], as: UTF8.self)) {
        out.append(String(decoding: reply[(cr + 2)..<(cr + 2 + n)], as: UTF8.self))
        i = cr + 2 + n + 2
    }
    return out
}

final class InfoConfigTests: XCTestCase {
    func info(_ client: RESPClient, _ args: [String]) throws -> (order: [String], fields: [String: [String: String]]) {
        infoSections(bulkText(try client.command(bytes: (["INFO"] + args).map { Array($0.utf8) })))
    }

    func testInfoSectionsAndSumsMatchTheServers() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        for i in 0..<40 { _ = try client.command("SET", "info:\(i)", "v") }
        _ = try client.command("SELECT", "3")
        for i in 0..<7 { _ = try client.command("SET", "db3:\(i)", "v", "EX", "1000") }
        _ = try client.command("SELECT", "0")
        _ = try client.command("GET", "nothing")
        let direct = try f.redis.map { try RESPClient(port: $0.port) }
        _ = try direct[0].command("SET", "warm", "up")  // so the server has commandstats too
        _ = try direct[0].command("DEL", "warm")

        let variants: [[String]] = [[], ["default"], ["all"], ["everything"], ["server"], ["clients"], ["memory"],
                                    ["persistence"], ["stats"], ["replication"], ["cpu"], ["modules"],
                                    ["commandstats"], ["errorstats"], ["latencystats"], ["cluster"], ["keyspace"],
                                    ["server", "keyspace", "cpu"], ["SERVER", "Clients"], ["nosuchsection"]]
        for args in variants {
            let mine = try info(client, args)
            let theirs = try info(direct[0], args)
            let sections = mine.order.filter { $0 != "Ringproxy" }
            XCTAssertEqual(sections, theirs.order, "sections of INFO \(args)")
            for (section, fields) in theirs.fields where section != "Commandstats" && section != "Latencystats"
                && section != "Errorstats" && section != "Keyspace" {
                let missing = fields.keys.filter { mine.fields[section]?[$0] == nil && !$0.hasPrefix("slave") }
                XCTAssertEqual(missing.sorted(), [], "fields of \(section) in INFO \(args)")
            }
        }
        // The shapes of the per-command lines are Redis's.
        let all = try info(client, ["all"])
        let shape = try NSRegularExpression(pattern: "^calls=\\d+,usec=\\d+,usec_per_call=\\d+\\.\\d\\d,rejected_calls=\\d+,failed_calls=\\d+$")
        let serverSet = try info(direct[0], ["commandstats"]).fields["Commandstats"]?["cmdstat_set"] ?? ""
        for value in [all.fields["Commandstats"]?["cmdstat_set"] ?? "", serverSet] {
            XCTAssertEqual(shape.numberOfMatches(in: value, range: NSRange(value.startIndex..., in: value)), 1, value)
        }
        XCTAssertTrue(all.fields["Commandstats"]?["cmdstat_set"]?.hasPrefix("calls=47,") ?? false, "\(all.fields["Commandstats"] ?? [:])")
        XCTAssertNotNil(all.fields["Latencystats"]?["latency_percentiles_usec_set"])

        // Sums over the servers, read while nothing else writes.
        let servers = try direct.map { try info($0, ["all"]) }
        func sum(_ section: String, _ field: String, _ part: String? = nil) -> Int {
            servers.reduce(0) { total, s in
                guard let v = s.fields[section]?[field] else { return total }
                guard let part else { return total + (Int(v) ?? 0) }
                let kv = v.split(separator: ",").first { $0.hasPrefix(part + "=") }
                return total + (kv.flatMap { Int($0.dropFirst(part.count + 1)) } ?? 0)
            }
        }
        let mine = try info(client, ["all"])
        XCTAssertEqual(mine.fields["Keyspace"]?["db0"], "keys=\(sum("Keyspace", "db0", "keys")),expires=0,avg_ttl=0")
        XCTAssertEqual(sum("Keyspace", "db0", "keys"), 40)
        XCTAssertTrue(mine.fields["Keyspace"]?["db3"]?.hasPrefix("keys=7,expires=7,avg_ttl=") ?? false, "\(mine.fields["Keyspace"] ?? [:])")
        for field in ["rdb_changes_since_last_save"] {
            XCTAssertEqual(Int(mine.fields["Persistence"]?[field] ?? ""), sum("Persistence", field), field)
        }
        for field in ["keyspace_misses", "expired_keys", "evicted_keys"] {
            XCTAssertEqual(Int(mine.fields["Stats"]?[field] ?? ""), sum("Stats", field), field)
        }
        XCTAssertEqual(mine.fields["Stats"]?["keyspace_misses"], "1")
        // Identity from a live server; the proxy's own process, clients and cluster flag.
        for field in ["redis_version", "arch_bits", "redis_mode", "os"] {
            XCTAssertEqual(mine.fields["Server"]?[field], servers[0].fields["Server"]?[field], field)
        }
        XCTAssertEqual(mine.fields["Server"]?["process_id"], String(f.proxy.pid))
        XCTAssertEqual(mine.fields["Server"]?["tcp_port"], String(f.port))
        XCTAssertEqual(mine.fields["Clients"]?["connected_clients"], "1")
        XCTAssertEqual(mine.fields["Cluster"]?["cluster_enabled"], "0")
        XCTAssertEqual(mine.fields["Replication"]?["role"], "master")

        // RESP3: a verbatim string, as Redis answers.
        _ = try client.command("HELLO", "3")
        _ = try direct[0].command("HELLO", "3")
        XCTAssertEqual(try client.command("INFO", "keyspace").first, try direct[0].command("INFO", "keyspace").first)
    }

    func testConfigGetFromAServerWithTheProxysOwn() throws {
        let f = try ProxyFixture(extraSettings: ["client_connections: 321", "client_idle_timeout: 45000"], servers: 3)
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        let direct = try RESPClient(port: f.redis[0].port)
        let mine = bulkArray(try client.command("CONFIG", "GET", "*"))
        let theirs = bulkArray(try direct.command("CONFIG", "GET", "*"))
        func pairs(_ a: [String]) -> [String: String] {
            Dictionary(stride(from: 0, to: a.count - 1, by: 2).map { (a[$0], a[$0 + 1]) }, uniquingKeysWith: { x, _ in x })
        }
        let m = pairs(mine), t = pairs(theirs)
        XCTAssertGreaterThan(t.count, 100)
        XCTAssertEqual(Set(m.keys), Set(t.keys), "the same parameters")
        XCTAssertEqual(m["maxmemory-policy"], t["maxmemory-policy"])
        XCTAssertEqual(m["maxclients"], "321")
        XCTAssertEqual(m["timeout"], "45")
        XCTAssertEqual(m["port"], String(f.port))
        XCTAssertEqual(pairs(bulkArray(try client.command("CONFIG", "GET", "maxmemory*", "databases"))).keys.sorted(),
                       pairs(bulkArray(try direct.command("CONFIG", "GET", "maxmemory*", "databases"))).keys.sorted())
        XCTAssertEqual(try client.command("CONFIG", "GET", "nosuch*"), try direct.command("CONFIG", "GET", "nosuch*"))
        // Denied by default: they change servers other clients share.
        for sub in [["SET", "maxmemory-samples", "7"], ["REWRITE"], ["RESETSTAT"]] {
            let r = String(decoding: try client.command(bytes: (["CONFIG"] + sub).map { Array($0.utf8) }), as: UTF8.self)
            XCTAssertTrue(r.hasPrefix("-ERR") && r.contains("deny_commands"), r)
        }
    }

    func testConfigSetGoesToEveryServer() throws {
        let f = try ProxyFixture(extraSettings: ["deny_commands: []"], servers: 3)
        defer { f.stop() }
        let client = try RESPClient(port: f.port)
        let direct = try f.redis.map { try RESPClient(port: $0.port) }
        XCTAssertEqual(try client.command("CONFIG", "SET", "maxmemory-samples", "7"), Array("+OK\r\n".utf8))
        for d in direct {
            XCTAssertEqual(bulkArray(try d.command("CONFIG", "GET", "maxmemory-samples")), ["maxmemory-samples", "7"])
        }
        let bad = String(decoding: try client.command("CONFIG", "SET", "nosuchparameter", "1"), as: UTF8.self)
        let theirs = String(decoding: try direct[0].command("CONFIG", "SET", "nosuchparameter", "1"), as: UTF8.self)
        XCTAssertTrue(bad.hasPrefix("-ERR server cache-"), bad)
        XCTAssertTrue(bad.hasSuffix(String(theirs.dropFirst(5))), "\(bad) vs \(theirs)")
        // A down server fails the whole command, named.
        f.redis[2].stop()
        let down = String(decoding: try client.command("CONFIG", "SET", "maxmemory-samples", "5"), as: UTF8.self)
        XCTAssertTrue(down.hasPrefix("-") && down.contains("cache-3"), down)

        // RESETSTAT: the proxy's commandstats count from zero, the servers' too.
        for _ in 0..<5 { _ = try client.command("SET", "{a}x", "1") }
        XCTAssertNotNil(try info(client, ["commandstats"]).fields["Commandstats"]?["cmdstat_set"])
        _ = try client.command("CONFIG", "RESETSTAT")
        XCTAssertNil(try info(client, ["commandstats"]).fields["Commandstats"]?["cmdstat_set"])
        XCTAssertNil(try info(direct[0], ["commandstats"]).fields["Commandstats"]?["cmdstat_set"])
    }

    func testRedisPyProbesAndSections() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let script = Harness.packageRoot + "/Tests/IntegrationTests/python/admin_check.py"
        let r = Harness.run("/usr/bin/env", ["python3", script, "\(f.port)"] + f.redis.map { "\($0.port)" }, timeout: 120)
        print(r.stdout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }
}

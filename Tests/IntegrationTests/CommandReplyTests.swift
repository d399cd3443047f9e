// COMMAND through the proxy against redis-server 7.0 asked directly: COUNT, LIST, INFO and
// DOCS with Redis's shapes and contents in RESP2 and RESP3 (DOCS' summaries of what the
// proxy refuses carrying the proxy's note), GETKEYS and GETKEYSANDFLAGS on a sample of
// valid requests.

import Foundation
import RingCore
import XCTest

final class CommandReplyTests: XCTestCase {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
    func value(_ c: RESPClient, _ args: [String]) throws -> RESPValue {
        let reply = try c.command(bytes: args.map { Array($0.utf8) })
        guard let v = RESPValue.parse(reply) else { throw HarnessError.protocolError(text(reply)) }
        return v
    }

    /// Name -> value of a map (or a RESP2 flat array).
    func pairs(_ v: RESPValue) -> [String: RESPValue] {
        let e = v.elements ?? []
        var out: [String: RESPValue] = [:]
        for i in stride(from: 0, to: e.count - 1, by: 2) { out[e[i].text ?? ""] = e[i + 1] }
        return out
    }

    func testCountListInfoAndDocsAsRedisInBothProtocols() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        for version in ["2", "3"] {
            let proxy = try RESPClient(port: f.port)
            let redis = try RESPClient(port: f.redis[0].port)
            for c in [proxy, redis] { _ = try c.command("HELLO", version) }
            XCTAssertEqual(text(try proxy.command("COMMAND", "COUNT")), text(try redis.command("COMMAND", "COUNT")))
            let names = try value(redis, ["COMMAND", "LIST"]).elements?.compactMap(\.text) ?? []
            XCTAssertEqual(Set(try value(proxy, ["COMMAND", "LIST"]).elements?.compactMap(\.text) ?? []), Set(names))
            let filter = ["COMMAND", "LIST", "FILTERBY", "ACLCAT", "hyperloglog"]
            let hll = Set(try value(redis, filter).elements?.compactMap(\.text) ?? [])
            XCTAssertEqual(Set(try value(proxy, filter).elements?.compactMap(\.text) ?? []), hll)
            XCTAssertTrue(hll.contains("pfadd"))
            // Every entry of COMMAND (all of them) and of COMMAND INFO name... as Redis's.
            // A container's subcommands come in the order of a redis-server's own hash table,
            // which differs from process to process: compared in name order.
            func normalized(_ v: RESPValue) -> RESPValue {
                guard case var .array(e) = v, e.count > 9, let subs = e[9].elements else { return v }
                let sorted = subs.sorted { ($0.elements?.first?.text ?? "") < ($1.elements?.first?.text ?? "") }
                if case .set = e[9] { e[9] = .set(sorted) } else { e[9] = .array(sorted) }
                return .array(e)
            }
            func byName(_ v: RESPValue) -> [String: RESPValue] {
                Dictionary(uniqueKeysWithValues: (v.elements ?? []).map { ($0.elements?.first?.text ?? "", normalized($0)) })
            }
            let all = byName(try value(proxy, ["COMMAND"]))
            let redisAll = byName(try value(redis, ["COMMAND"]))
            XCTAssertEqual(Set(all.keys), Set(redisAll.keys))
            XCTAssertEqual(all.keys.filter { all[$0] != redisAll[$0] }.sorted(), [], "RESP\(version) COMMAND entries differ")
            let sample = ["get", "config|get", "sort", "nosuch", "xreadgroup", "georadius", "eval"]
            XCTAssertEqual(try value(proxy, ["COMMAND", "INFO"] + sample), try value(redis, ["COMMAND", "INFO"] + sample))
            // DOCS: Redis's, but a refused command's summary says why.
            let docs = pairs(try value(proxy, ["COMMAND", "DOCS"]))
            let theirs = pairs(try value(redis, ["COMMAND", "DOCS"]))
            XCTAssertEqual(Set(docs.keys), Set(theirs.keys))
            var marked = 0
            for (name, doc) in theirs {
                let mine = pairs(docs[name] ?? .null), redisDoc = pairs(doc)
                XCTAssertEqual(Set(mine.keys), Set(redisDoc.keys), name)
                for (field, v) in redisDoc where field != "summary" && field != "subcommands" {
                    XCTAssertEqual(mine[field], v, "\(name) \(field)")
                }
                if let subs = redisDoc["subcommands"] {
                    XCTAssertEqual(Set(pairs(mine["subcommands"] ?? .null).keys), Set(pairs(subs).keys), name)
                }
                let summary = mine["summary"]?.text ?? "", redisSummary = redisDoc["summary"]?.text ?? ""
                XCTAssertTrue(summary.hasPrefix(redisSummary), name)
                if summary != redisSummary {
                    marked += 1
                    XCTAssertTrue(summary.hasSuffix("]") && summary.contains("[ringproxy: "), summary)
                }
            }
            XCTAssertTrue(pairs(docs["migrate"] ?? .null)["summary"]?.text?.contains("[ringproxy:") ?? false)
            XCTAssertGreaterThan(marked, 10, "refused and denied commands are marked")
        }
    }

    func testGetKeysAsRedisOnValidRequests() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let proxy = try RESPClient(port: f.port)
        let redis = try RESPClient(port: f.redis[0].port)
        let sample: [[String]] = [
            ["get", "a"], ["set", "a", "b", "EX", "10"], ["mset", "a", "1", "b", "2"], ["del", "a", "b", "c"],
            ["lmove", "a", "b", "LEFT", "RIGHT"], ["blmove", "a", "b", "LEFT", "RIGHT", "0"], ["copy", "a", "b", "DB", "1"],
            ["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"], ["eval", "return 1", "2", "k1", "k2", "arg"],
            ["fcall", "f", "1", "k", "a"], ["lmpop", "2", "a", "b", "LEFT"], ["sintercard", "2", "a", "b"],
            ["xread", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
            ["xreadgroup", "GROUP", "g", "c", "STREAMS", "s1", ">"],
            ["sort", "a", "BY", "w_*", "GET", "#", "STORE", "d"], ["sort_ro", "a", "GET", "x_*"],
            ["georadius", "g", "0", "0", "5", "km", "STORE", "d"],
            ["georadiusbymember", "g", "m", "5", "km", "STOREDIST", "d"], ["geosearchstore", "d", "s", "FROMMEMBER", "m",
                                                                          "BYRADIUS", "5", "km"],
            ["object", "encoding", "k"], ["memory", "usage", "k"], ["bitop", "AND", "d", "a", "b"],
            ["rename", "a", "b"], ["smove", "a", "b", "m"], ["watch", "a", "b"], ["getex", "a", "PERSIST"],
            ["xadd", "s", "*", "f", "v"], ["bitfield", "a", "GET", "u8", "0"], ["lcs", "a", "b"],
        ]
        for args in sample {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let request = ["COMMAND", sub] + args
                let mine = text(try proxy.command(bytes: request.map { Array($0.utf8) }))
                XCTAssertFalse(mine.hasPrefix("-"), "\(request): \(mine)")
                XCTAssertEqual(mine, text(try redis.command(bytes: request.map { Array($0.utf8) })), "\(request)")
            }
        }
        // The proxy's refusal where it refuses; Redis's error where Redis errs.
        XCTAssertTrue(text(try proxy.command("COMMAND", "GETKEYS", "migrate", "h", "1", "k", "0", "5")).hasPrefix("-ERR ringproxy:"))
        for args in [["nosuch", "a"], ["set", "a"], ["config", "get", "x"]] {
            let request = ["COMMAND", "GETKEYS"] + args
            XCTAssertEqual(text(try proxy.command(bytes: request.map { Array($0.utf8) })),
                           text(try redis.command(bytes: request.map { Array($0.utf8) })), "\(args)")
        }
    }
}

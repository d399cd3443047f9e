// INFO's merge, CONFIG's gathered replies, CLIENT's filters and MONITOR's line format: the
// pure parts of the proxy's administration answers.

import XCTest
@testable import RingCore

final class AdminReplyTests: XCTestCase {
    let serverA = "# Server\r\nredis_version:7.0.15\r\narch_bits:64\r\nprocess_id:11\r\n\r\n# Clients\r\nconnected_clients:5\r\n\r\n"
        + "# Memory\r\nused_memory:1000\r\nused_memory_human:1000B\r\nused_memory_dataset:2048\r\nused_memory_dataset_human:2.00K\r\n"
        + "mem_fragmentation_ratio:1.50\r\nmaxmemory_policy:noeviction\r\n\r\n"
        + "# Persistence\r\nloading:0\r\nrdb_last_bgsave_status:ok\r\nrdb_changes_since_last_save:3\r\n\r\n"
        + "# Stats\r\ntotal_commands_processed:10\r\ninstantaneous_input_kbps:0.50\r\npubsub_patterns:2\r\n\r\n"
        + "# Errorstats\r\nerrorstat_ERR:count=2\r\n\r\n# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    let serverB = "# Server\r\nredis_version:7.0.15\r\narch_bits:64\r\nprocess_id:12\r\n\r\n# Clients\r\nconnected_clients:7\r\n\r\n"
        + "# Memory\r\nused_memory:3000\r\nused_memory_human:2.93K\r\nused_memory_dataset:2048\r\nused_memory_dataset_human:2.00K\r\n"
        + "mem_fragmentation_ratio:2.50\r\nmaxmemory_policy:noeviction\r\n\r\n"
        + "# Persistence\r\nloading:1\r\nrdb_last_bgsave_status:err\r\nrdb_changes_since_last_save:4\r\n\r\n"
        + "# Stats\r\ntotal_commands_processed:20\r\ninstantaneous_input_kbps:0.25\r\npubsub_patterns:2\r\n\r\n"
        + "# Errorstats\r\nerrorstat_ERR:count=1\r\nerrorstat_WRONGTYPE:count=4\r\n\r\n# Keyspace\r\ndb0:keys=5,expires=6,avg_ttl=200\r\n"

    func fields(_ text: String) -> [String: String] {
        var d: [String: String] = [:]
        for s in InfoReport.parse(text) { for f in s.fields { d[f.name] = f.value } }
        return d
    }

    func testParseSplitsSectionsOnCRLF() {
        let sections = InfoReport.parse(serverA)
        XCTAssertEqual(sections.map(\.name), ["server", "clients", "memory", "persistence", "stats", "errorstats", "keyspace"])
        XCTAssertEqual(sections[0].fields.first, InfoField("redis_version", "7.0.15"))
    }

    func testMergeTakesUpstreamSumsAndProxyFields() {
        let proxy = [InfoSection("server", [InfoField("process_id", "99")]),
                     InfoSection("clients", [InfoField("connected_clients", "1")]),
                     InfoSection("cluster", [InfoField("cluster_enabled", "0")])]
        let text = InfoReport.merge(servers: [InfoReport.parse(serverA), InfoReport.parse(serverB)], proxy: proxy,
                                    query: InfoQuery(arguments: []))
        let d = fields(text)
        XCTAssertEqual(d["redis_version"], "7.0.15")
        XCTAssertEqual(d["arch_bits"], "64")
        XCTAssertEqual(d["process_id"], "99", "the proxy's own")
        XCTAssertEqual(d["connected_clients"], "1", "clients are the proxy's, not the servers' sum")
        XCTAssertEqual(d["used_memory_dataset"], "4096")
        XCTAssertEqual(d["used_memory_dataset_human"], "4.00K")
        XCTAssertEqual(d["mem_fragmentation_ratio"], "1.50", "ratios come from one server")
        XCTAssertEqual(d["loading"], "1", "flags: any server")
        XCTAssertEqual(d["rdb_last_bgsave_status"], "err")
        XCTAssertEqual(d["rdb_changes_since_last_save"], "7")
        XCTAssertEqual(d["total_commands_processed"], "30")
        XCTAssertEqual(d["instantaneous_input_kbps"], "0.75")
        XCTAssertEqual(d["pubsub_patterns"], "2", "every server holds every pattern")
        XCTAssertEqual(d["errorstat_ERR"], "count=3")
        XCTAssertEqual(d["errorstat_WRONGTYPE"], "count=4")
        XCTAssertEqual(d["db0"], "keys=15,expires=8,avg_ttl=175")
        XCTAssertEqual(d["db3"], "keys=1,expires=0,avg_ttl=0")
        XCTAssertEqual(d["cluster_enabled"], "0")
        let headers = text.split(separator: "\r\n").filter { $0.hasPrefix("#") }
        XCTAssertEqual(headers, ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Errorstats",
                                 "# Cluster", "# Keyspace"])
    }

    func testSectionSelection() {
        XCTAssertFalse(InfoQuery(arguments: []).includes("commandstats"))
        XCTAssertTrue(InfoQuery(arguments: ["ALL"]).includes("commandstats"))
        XCTAssertTrue(InfoQuery(arguments: ["all"]).includes("latencystats"))
        XCTAssertFalse(InfoQuery(arguments: ["all"]).includes("somemodule"))
        XCTAssertTrue(InfoQuery(arguments: ["everything"]).includes("somemodule"))
        XCTAssertEqual(InfoQuery(arguments: ["default"]), InfoQuery(arguments: []))
        let q = InfoQuery(arguments: ["keyspace", "Server"])
        XCTAssertTrue(q.includes("server") && q.includes("keyspace"))
        XCTAssertFalse(q.includes("clients"))
        let text = InfoReport.merge(servers: [InfoReport.parse(serverA)], proxy: [], query: q)
        XCTAssertEqual(text.split(separator: "\r\n").filter { $0.hasPrefix("#") }, ["# Server", "# Keyspace"])
    }

    func testFieldSources() {
        XCTAssertEqual(InfoReport.source(section: "server", field: "redis_version"), .upstream)
        XCTAssertEqual(InfoReport.source(section: "clients", field: "connected_clients"), .proxy)
        XCTAssertEqual(InfoReport.source(section: "stats", field: "keyspace_hits"), .sum)
        XCTAssertEqual(InfoReport.source(section: "keyspace", field: "db0", value: "keys=1"), .sum)
        XCTAssertEqual(InfoReport.source(section: "persistence", field: "rdb_bgsave_in_progress"), .max)
        XCTAssertEqual(InfoReport.bytesToHuman(1023), "1023B")
        XCTAssertEqual(InfoReport.bytesToHuman(1536), "1.50K")
        XCTAssertEqual(InfoReport.bytesToHuman(3 * 1024 * 1024), "3.00M")
    }

    func testInfoReplyInBothProtocols() {
        let parts: [[UInt8]?] = [Array("$\(serverA.utf8.count)\r\n\(serverA)\r\n".utf8),
                                 Array("-ERR down\r\n".utf8)]
        let plan = GatherPlan.info(InfoQuery(arguments: ["keyspace"]), proxy: [])
        let out = ByteBuffer()
        plan.write(parts: parts, into: out, version: .resp2)
        let expected = "# Keyspace\r\ndb0:keys=10,expires=2,avg_ttl=100\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "$\(expected.utf8.count)\r\n\(expected)\r\n")
        out.clear()
        plan.write(parts: parts, into: out, version: .resp3)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "=\(expected.utf8.count + 4)\r\ntxt:\(expected)\r\n")
    }

    func testConfigGetOverridesAndEveryServerErrors() {
        let reply = Array("*4\r\n$9\r\ndatabases\r\n$2\r\n16\r\n$7\r\ntimeout\r\n$1\r\n0\r\n".utf8)
        let out = ByteBuffer()
        GatherPlan.configGet(overrides: [InfoField("databases", "4")]).write(parts: [reply], into: out, version: .resp2)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self),
                       "*4\r\n$7\r\ntimeout\r\n$1\r\n0\r\n$9\r\ndatabases\r\n$1\r\n4\r\n")
        out.clear()
        GatherPlan.everyServerOK(servers: ["server a", "server b"])
            .write(parts: [Array("+OK\r\n".utf8), Array("-ERR Unknown option 'x'\r\n".utf8)], into: out, version: .resp2)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "-ERR server b: Unknown option 'x'\r\n")
        out.clear()
        GatherPlan.everyServerOK(servers: ["a", "b"]).write(parts: [Array("+OK\r\n".utf8)] + [Array("+OK\r\n".utf8)],
                                                            into: out, version: .resp2)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "+OK\r\n")
    }

    func testGlobMatchesAsRedis() {
        XCTAssertTrue(Glob.matches("*", "maxmemory"))
        XCTAssertTrue(Glob.matches("max*", "maxmemory-policy"))
        XCTAssertTrue(Glob.matches("DATA?ases", "databases"))
        XCTAssertTrue(Glob.matches("[a-d]atabases", "databases"))
        XCTAssertFalse(Glob.matches("[^d]atabases", "databases"))
        XCTAssertFalse(Glob.matches("port", "tcp-port"))
    }

    func testClientFilters() {
        let c = ClientDescription(id: 7, addr: "127.0.0.1:5000", laddr: "127.0.0.1:6380", fd: 9, name: "app", ageSeconds: 1,
                                  idleSeconds: 0, flags: "N", db: 2, sub: 0, psub: 0, ssub: 0, multi: -1, queryBuffer: 0,
                                  queryBufferFree: 0, outputBytes: 0, writing: false, command: "client|list",
                                  user: "default", resp: 2)
        XCTAssertTrue(c.line.hasPrefix("id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6380 fd=9 name=app age=1 idle=0 flags=N db=2 "))
        XCTAssertTrue(c.line.hasSuffix("events=r cmd=client|list user=default redir=-1 resp=2"))
        guard case let .success(kill) = ClientKillFilter.parse(["ADDR", "127.0.0.1:5000", "SKIPME", "no"]) else { return XCTFail() }
        XCTAssertTrue(kill.matches(c, caller: 7))
        guard case let .success(skip) = ClientKillFilter.parse(["ID", "7"]) else { return XCTFail() }
        XCTAssertFalse(skip.matches(c, caller: 7), "SKIPME yes by default")
        XCTAssertTrue(skip.matches(c, caller: 8))
        guard case let .success(old) = ClientKillFilter.parse(["127.0.0.1:5000"]) else { return XCTFail() }
        XCTAssertTrue(old.oldForm && old.matches(c, caller: 7))
        XCTAssertEqual(ClientKillFilter.parse(["TYPE", "foo"]), .failure(ClientCommandError("ERR Unknown client type 'foo'")))
        guard case let .success(pubsub) = ClientListFilter.parse(["TYPE", "pubsub"]) else { return XCTFail() }
        XCTAssertFalse(pubsub.matches(c))
        let pause = ClientPause(mode: .write, untilMs: 10)
        XCTAssertTrue(pause.holds([.write]))
        XCTAssertFalse(pause.holds([.readonly]))
        XCTAssertTrue(ClientPause(mode: .all, untilMs: 10).holds([.readonly]))
    }

    func testMonitorLineAsRedisPrintsIt() {
        let request = Array("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\"b\nc\r\n$2\r\n\u{1}\u{7f}\r\n".utf8)
        var parser = RequestParser(limits: RequestLimits())
        request.withUnsafeBytes { bytes in
            guard case let .request(length) = parser.parse(bytes) else { return XCTFail() }
            let view = RequestView(bytes: UnsafeRawBufferPointer(rebasing: bytes[0..<length]), args: parser.args,
                                   isInline: false)
            let out = ByteBuffer()
            MonitorLine.write(view, seconds: 1700000000, microseconds: 1234, db: 3, address: "127.0.0.1:54321", into: out)
            XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self),
                           "+1700000000.001234 [3 127.0.0.1:54321] \"SET\" \"k\" \"a\\\"b\\nc\" \"\\x01\\x7f\"\r\n")
        }
    }
}

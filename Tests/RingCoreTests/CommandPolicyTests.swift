// Checks the one command policy table against Redis's metadata: every command of Redis 7.0
// is classified by a named rule, every split command has a wire name, and every read that
// can name several keys has a miss of its own (one null cannot answer for several keys).
import XCTest
@testable import RingCore

final class CommandPolicyTests: XCTestCase {
    let table = CommandTable.redis70

    func info(_ name: String) -> CommandInfo? { table.commands.first { $0.spec.name == name } }

    /// The commands a request can reach: top-level ones, and the subcommands of containers
    /// that are routed per subcommand.
    var reachable: [CommandInfo] {
        table.commands.filter { c in
            guard let bar = c.spec.name.firstIndex(of: "|") else { return true }
            return info(String(c.spec.name[..<bar]))?.route == .keyed
        }
    }

    func testEveryCommandIsClassifiedByANamedRule() {
        let unclassified = reachable.filter { CommandTable.classify($0.spec).rule == .fallback }.map(\.spec.name)
        XCTAssertEqual(unclassified, [], "commands routed by no rule: add them to ProxyCommandPolicy")
        XCTAssertEqual(table.commands.count, 366, "Redis 7.0 has 366 commands and subcommands")
    }

    func testEveryProxyTableRowNamesARedisCommand() {
        for row in ProxyCommandPolicy.rows {
            XCTAssertNotNil(info(row.name), "ProxyCommandPolicy names \(row.name), which Redis 7.0 does not have")
        }
    }

    func testEverySplitCommandHasAWireName() {
        let split = table.commands.filter { if case .split = $0.route { return true } else { return false } }
        XCTAssertEqual(Set(split.map(\.spec.name)), ["mget", "mset", "del", "unlink", "exists", "touch"])
        for c in split {
            guard let wire = c.wireName else { XCTFail("\(c.spec.name) has no wire name"); continue }
            XCTAssertEqual(wire.description, c.displayName, "a part is sent under the client's command")
        }
    }

    func testSplitKindsComeFromRedisTips() {
        XCTAssertEqual(info("mget")?.route, .split(.values))
        XCTAssertEqual(info("mset")?.route, .split(.allOK))
        for name in ["del", "unlink", "exists", "touch"] { XCTAssertEqual(info(name)?.route, .split(.sum), name) }
        XCTAssertEqual(CommandTable.classify(info("mget")!.spec).rule, .requestPolicy)
        // Tipped multi_shard by Redis, but all-or-nothing: one server only.
        XCTAssertEqual(info("msetnx")?.route, .keyed)
    }

    func testKeyspaceCommandsRouteByNamedRules() {
        // KEYS has no response_policy tip: Redis's default for all_shards is concatenation.
        XCTAssertEqual(info("keys")?.route, .broadcast(.concat))
        XCTAssertEqual(CommandTable.classify(info("keys")!.spec).rule, .requestPolicy)
        XCTAssertEqual(info("randomkey")?.route, .broadcast(.firstNonNull))
        XCTAssertEqual(info("scan")?.route, .scan)
        for name in ["randomkey", "scan"] { XCTAssertEqual(CommandTable.classify(info(name)!.spec).rule, .proxyTable, name) }
        for name in ["hscan", "sscan", "zscan"] { XCTAssertEqual(info(name)?.route, .keyed, name) }
        // What reads the keyspace counts every server, down ones too.
        XCTAssertTrue(SplitKind.concat.readsKeyspace && SplitKind.firstNonNull.readsKeyspace)
        XCTAssertFalse(SplitKind.sum.readsKeyspace, "DBSIZE keeps summing the live servers")
    }

    func testEveryMultiKeyReadHasItsOwnMiss() {
        let reads = reachable.filter {
            $0.spec.flags.contains(.readonly) && $0.spec.mayHaveSeveralKeys && !$0.spec.flags.contains(.blocking)
        }
        XCTAssertTrue(reads.contains { $0.spec.name == "mget" })
        for c in reads where c.route != .unsupported(.needsDedicatedConnection) {
            XCTAssertNotNil(ProxyCommandPolicy.row(c.spec.name)?.miss, "\(c.spec.name) reads several keys: give it a miss")
            XCTAssertNotEqual(c.miss, .nullBulk, "\(c.spec.name): one null cannot answer for several keys")
        }
    }

    func testMGETMissIsOneNullPerKey() {
        let mget = info("mget")!
        XCTAssertEqual(mget.miss, .nulls(fromArgument: 1))
        let out = ByteBuffer()
        XCTAssertTrue(mget.miss.write(into: out, version: .resp2, argumentCount: 3))
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "*2\r\n$-1\r\n$-1\r\n")
        out.clear()
        _ = mget.miss.write(into: out, version: .resp3, argumentCount: 2)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "*1\r\n_\r\n")
    }

    func testMissesOfOtherShapes() {
        XCTAssertEqual(info("get")?.miss, .nullBulk)
        XCTAssertEqual(info("set")?.miss, .error, "a write cannot be answered without its server")
        XCTAssertEqual(info("getrange")?.miss, .emptyBulk)
        XCTAssertEqual(info("hgetall")?.miss, .emptyMap)
        XCTAssertEqual(info("exists")?.miss, .zero)
        for name in ["hscan", "sscan", "zscan"] {
            XCTAssertEqual(info(name)?.miss, .emptyScan, "a missing key scans as cursor 0, nothing found")
        }
    }

    func testDefaultDenyListComesFromTheTable() {
        let denied = Set(ProxyCommandPolicy.deniedByDefault)
        for name in ["flushall", "flushdb", "config|set", "shutdown", "monitor", "script|flush"] {
            XCTAssertTrue(denied.contains(name), name)
        }
        XCTAssertFalse(denied.contains("get"))
        for name in denied { XCTAssertNotNil(info(name), "denied by default but unknown: \(name)") }
    }
}

// Checks CommandTable lookups (case, unknown names, subcommands), routing policy, arity and KeyPositions.
import XCTest
@testable import RingCore

final class CommandTableTests: XCTestCase {
    let table = CommandTable.redis70

    func info(_ name: String) -> CommandInfo? {
        Array(name.utf8).withUnsafeBytes { table.lookup($0) }
    }

    func route(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> CommandRoute? {
        let i = info(name)
        XCTAssertNotNil(i, "\(name) not found", file: file, line: line)
        return i?.route
    }

    func keys(_ name: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) -> [Int] {
        guard let spec = info(name)?.spec else { XCTFail("\(name) not found", file: file, line: line); return [] }
        var countValue: Int?
        if let kc = spec.keyCount, kc.countIndex < args.count {
            countValue = Array(args[kc.countIndex].utf8).withUnsafeBytes { parseInteger($0) }
        }
        var found: [Int] = []
        KeyPositions.forEach(spec, argc: args.count, keyCountValue: countValue) { found.append($0) }
        return found
    }

    func testLookupIsCaseInsensitive() {
        for name in ["GET", "get", "GeT", "gEt"] {
            XCTAssertEqual(info(name)?.spec.name, "get", name)
            XCTAssertEqual(info(name)?.displayName, "GET", name)
        }
        XCTAssertEqual(info("ZUNIONSTORE")?.spec.name, "zunionstore")
    }

    func testUnknownNamesReturnNil() {
        for name in ["", "nosuchcommand", "gett", "ge", "get ", "g\u{e9}t", String(repeating: "a", count: 40)] {
            XCTAssertNil(info(name), name)
        }
    }

    func testEveryCommandIsFoundByItsOwnNameInAnyCase() {
        XCTAssertEqual(table.commands.count, 366)
        for c in table.commands {
            XCTAssertEqual(info(c.spec.name)?.spec.name, c.spec.name)
            XCTAssertEqual(info(c.spec.name.uppercased())?.spec.name, c.spec.name)
        }
    }

    func testRoutes() {
        XCTAssertEqual(route("get"), .keyed)
        XCTAssertEqual(route("set"), .keyed)
        XCTAssertEqual(route("eval"), .keyed)
        XCTAssertEqual(route("mget"), .split(.values))
        XCTAssertEqual(route("mset"), .split(.allOK))
        for name in ["del", "exists", "unlink", "touch"] {
            XCTAssertEqual(route(name), .split(.sum), name)
        }
        XCTAssertEqual(route("msetnx"), .keyed, "MSETNX must be atomic, so it is not split")
        XCTAssertEqual(route("ping"), .local(.ping))
        XCTAssertEqual(route("PING"), .local(.ping))
        XCTAssertEqual(route("hello"), .local(.hello))
        XCTAssertEqual(route("dbsize"), .broadcast(.sum))
        XCTAssertEqual(route("flushdb"), .broadcast(.sameReply))
        XCTAssertEqual(route("monitor"), .local(.monitor))
        XCTAssertEqual(route("subscribe"), .subscription(SubscriptionCommand(.channel, subscribe: true)))
        XCTAssertEqual(route("punsubscribe"), .subscription(SubscriptionCommand(.pattern, subscribe: false)))
        XCTAssertEqual(route("ssubscribe"), .subscription(SubscriptionCommand(.shard, subscribe: true)))
        XCTAssertEqual(route("reset"), .local(.reset))
        XCTAssertEqual(route("keys"), .broadcast(.concat))
        XCTAssertEqual(route("randomkey"), .broadcast(.firstNonNull))
        XCTAssertEqual(route("scan"), .scan)
        XCTAssertEqual(route("hscan"), .keyed)
        XCTAssertEqual(route("function|list"), .unsupported(.needsAllServers))
        XCTAssertEqual(route("multi"), .transaction(.multi))
        XCTAssertEqual(route("watch"), .transaction(.watch))
        XCTAssertEqual(route("exec"), .transaction(.exec))
        for name in ["blpop", "brpop", "blmpop", "xread", "publish"] {
            XCTAssertEqual(route(name), .keyed, name)
        }
        XCTAssertEqual(info("blpop")?.blocks, true)
        XCTAssertEqual(route("wait"), .unsupported(.replicationWait))
        for name in ["shutdown", "debug", "replicaof", "bgsave"] {
            XCTAssertEqual(route(name), .unsupported(.serverAdministration), name)
        }
    }

    func testArity() {
        XCTAssertEqual(info("get")?.spec.arity, 2)
        XCTAssertEqual(info("set")?.spec.arity, -3)
        let get = info("get")!.spec, set = info("set")!.spec
        XCTAssertTrue(get.arityAccepts(2))
        XCTAssertFalse(get.arityAccepts(1))
        XCTAssertFalse(get.arityAccepts(3))
        XCTAssertFalse(set.arityAccepts(2))
        XCTAssertTrue(set.arityAccepts(3))
        XCTAssertTrue(set.arityAccepts(7))
    }

    func testKeyPositions() {
        XCTAssertEqual(keys("get", ["get", "k"]), [1])
        XCTAssertEqual(keys("mset", ["mset", "a", "1", "b", "2", "c", "3"]), [1, 3, 5])
        XCTAssertEqual(keys("mget", ["mget", "a", "b", "c"]), [1, 2, 3])
        XCTAssertEqual(keys("blpop", ["blpop", "a", "b", "0"]), [1, 2], "the timeout is not a key")
        XCTAssertEqual(keys("eval", ["eval", "return 1", "2", "k1", "k2", "arg1"]), [3, 4])
        XCTAssertEqual(keys("eval", ["eval", "return 1", "0", "arg1"]), [])
        XCTAssertEqual(keys("zunionstore", ["zunionstore", "dest", "2", "k1", "k2", "WEIGHTS", "1", "2"]), [1, 3, 4])
        // A count larger than the arguments stops at the last argument.
        XCTAssertEqual(keys("eval", ["eval", "s", "5", "k1"]), [3])
    }

    func testValidateKeyCount() {
        let eval = info("eval")!.spec
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: 2), .success(2))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 3, value: 0), .success(0))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: 3), .failure(.keyCountTooLarge))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: -1), .failure(.badKeyCount))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: nil), .failure(.badKeyCount))
    }

    func testParseInteger() {
        func p(_ s: String) -> Int? { Array(s.utf8).withUnsafeBytes { parseInteger($0) } }
        XCTAssertEqual(p("0"), 0)
        XCTAssertEqual(p("42"), 42)
        XCTAssertEqual(p("-7"), -7)
        XCTAssertNil(p(""))
        XCTAssertNil(p("-"))
        XCTAssertNil(p("+1"))
        XCTAssertNil(p(" 1"))
        XCTAssertNil(p("1x"))
    }

    func testContainerLookup() {
        let sub = Array("ENCODING".utf8).withUnsafeBytes { table.lookup(container: "object", sub: $0) }
        XCTAssertEqual(sub?.spec.name, "object|encoding")
        XCTAssertEqual(sub?.spec.firstKey, 2)
        XCTAssertEqual(sub?.route, .keyed)
        XCTAssertEqual(keys("object|encoding", ["object", "encoding", "mykey"]), [2])
        XCTAssertNil(Array("nosuch".utf8).withUnsafeBytes { table.lookup(container: "object", sub: $0) })
        XCTAssertEqual(info("object")?.spec.hasSubcommands, true)
        XCTAssertEqual(Array("help".utf8).withUnsafeBytes { table.lookup(container: "object", sub: $0) }?.route,
                       .unsupported(.serverAdministration))
    }
}

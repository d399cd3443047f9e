// Checks RoutePlanner's decisions: forward, split, local and every kind of refusal, on a
// three-server ketama pool, with keys whose servers are computed from the pool itself.
import XCTest
@testable import RingCore

final class RoutePlannerTests: XCTestCase {
    let table = CommandTable.redis70
    var planner = RoutePlanner(table: CommandTable.redis70)
    let placement: KeyPlacement = {
        let servers = ["10.0.0.1:6379:1", "10.0.0.2:6379:1", "10.0.0.3:6379:1"].map { line -> ServerSpec in
            guard case let .success(s) = ServerSpec.parse(line) else { fatalError(line) }
            return s
        }
        return KeyPlacement(hash: .fnv1a_64, tag: HashTag("{}"),
                            ring: KetamaRing(distribution: .ketama, servers: servers, live: [true, true, true]),
                            serverCount: 3)
    }()
    lazy var pool = PoolPolicy(name: "p", denyCommands: ["flushdb", "config|set"], hashTag: HashTag("{}"), table: table)

    func server(_ key: String) -> Int { Array(key.utf8).withUnsafeBytes { placement.server(forKey: $0) } }

    /// Two keys on different servers, found by trying names.
    func keysOnTwoServers() -> (String, String) {
        let a = "k0"
        for i in 1..<1000 where server("k\(i)") != server(a) { return (a, "k\(i)") }
        fatalError("no second server")
    }

    func plan(_ args: [String], authenticated: Bool = true, placement: KeyPlacement? = nil) -> RouteDecision {
        var bytes: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for a in args {
            spans.append(ArgumentSpan(offset: bytes.count, count: a.utf8.count))
            bytes += Array(a.utf8)
        }
        let state = SessionState(id: 1, authenticated: authenticated)
        let p = pool
        let place = placement ?? self.placement
        return bytes.withUnsafeBytes { planner.plan(RequestView(bytes: $0, args: spans), state: state, pool: p, placement: place) }
    }

    func index(_ name: String) -> Int { table.commands.first { $0.spec.name == name }!.index }

    func testKeyedCommandGoesToItsKeysServer() {
        XCTAssertEqual(plan(["GET", "user:1"]), .forward(server: server("user:1"), command: index("get"), miss: .nullBulk))
        XCTAssertEqual(plan(["set", "user:1", "v"]), .forward(server: server("user:1"), command: index("set"), miss: .error))
    }

    func testKeysOnSeveralServersAreRefusedWithAHashTagHint() {
        let (a, b) = keysOnTwoServers()
        guard case let .reject(error) = plan(["SUNION", a, b]) else { return XCTFail("not refused") }
        XCTAssertEqual(error, .crossServer(command: "SUNION", hashTag: HashTag("{}")))
        XCTAssertTrue(error.message.contains("{user1}:a"), error.message)
        // The same keys under one tag stay together.
        guard case .forward = plan(["SUNION", "{t}\(a)", "{t}\(b)"]) else { return XCTFail("tagged keys not forwarded") }
    }

    func testSplitPlansEachKeysServer() {
        let (a, b) = keysOnTwoServers()
        XCTAssertEqual(plan(["MGET", a, b, a]), .split(.values, command: index("mget")))
        XCTAssertEqual(planner.keyServers, [server(a), server(b), server(a)])
        XCTAssertEqual(planner.partServers, [server(a), server(b)])
        XCTAssertEqual(plan(["MSET", a, "1", b, "2"]), .split(.allOK, command: index("mset")))
        XCTAssertEqual(planner.keyServers, [server(a), server(b)])
        XCTAssertEqual(plan(["MSET", a, "1", b]), .reject(.wrongArity(command: "mset")))
    }

    func testSplitOnOneServerIsForwardedWithAnArrayMiss() {
        XCTAssertEqual(plan(["MGET", "{x}a", "{x}b"]), .forward(server: server("x"), command: index("mget"), miss: .nulls(fromArgument: 1)))
    }

    func testLocalCommands() {
        XCTAssertEqual(plan(["PING"]), .local(.ping, command: index("ping")))
        XCTAssertEqual(plan(["client", "setname", "x"]), .local(.client, command: index("client")))
    }

    func testRefusals() {
        XCTAssertEqual(plan(["NOSUCH", "a", "b", "c", "d"]), .reject(.unknownCommand(name: "NOSUCH", args: ["a", "b", "c"])))
        XCTAssertEqual(plan(["GET", "k"], authenticated: false), .reject(.noAuth))
        guard case .local(.auth, _) = plan(["AUTH", "pw"], authenticated: false) else { return XCTFail("AUTH refused") }
        XCTAssertEqual(plan(["FLUSHDB"]), .reject(.denied(command: "FLUSHDB", pool: "p")))
        XCTAssertEqual(plan(["CONFIG", "SET", "a", "b"]), .reject(.denied(command: "CONFIG SET", pool: "p")))
        XCTAssertEqual(plan(["GET"]), .reject(.wrongArity(command: "get")))
        XCTAssertEqual(plan(["FUNCTION", "LIST"]), .reject(.unsupported(command: "FUNCTION LIST", .needsAllServers)))
        XCTAssertEqual(plan(["OBJECT", "NOSUCH", "k"]), .reject(.unknownSubcommand(sub: "NOSUCH", container: "OBJECT")))
        XCTAssertEqual(plan(["EVAL", "return 1", "x"]), .reject(.notInteger))
        XCTAssertEqual(plan(["EVAL", "return 1", "-1"]), .reject(.negativeKeyCount))
        XCTAssertEqual(plan(["EVAL", "return 1", "3", "k"]), .reject(.keyCountTooLarge))
        XCTAssertEqual(plan(["EVAL", "return 1", "0"]), .reject(.noKeys(command: "EVAL")))
    }

    func testBlockingTransactionAndChannelDecisions() {
        XCTAssertEqual(plan(["BLPOP", "{q}a", "{q}b", "0"]), .block(server: server("q"), command: index("blpop")))
        guard case .reject(.crossServer) = plan(["BLPOP", keysOnTwoServers().0, keysOnTwoServers().1, "0"]) else {
            return XCTFail("a blocking command's keys must share a server")
        }
        XCTAssertEqual(plan(["XREAD", "COUNT", "2", "STREAMS", "s1", "0"]),
                       .forward(server: server("s1"), command: index("xread"), miss: .error), "XREAD without BLOCK is ordinary")
        XCTAssertEqual(plan(["xreadgroup", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s1", ">"]),
                       .block(server: server("s1"), command: index("xreadgroup")))
        XCTAssertEqual(plan(["XREAD", "STREAMS", "s1", "s2", "0"]), .reject(.syntax), "keys and ids must pair up")
        XCTAssertEqual(plan(["PUBLISH", "news", "hello"]), .forward(server: server("news"), command: index("publish"), miss: .zero))
        XCTAssertEqual(plan(["MULTI"]), .transaction(.multi, server: nil, command: index("multi")))
        XCTAssertEqual(plan(["WATCH", "{w}a", "{w}b"]), .transaction(.watch, server: server("w"), command: index("watch")))
        XCTAssertEqual(plan(["WAIT", "1", "0"]), .reject(.unsupported(command: "WAIT", .replicationWait)))
    }

    func testKeyspaceCommandsGoToEveryServer() {
        XCTAssertEqual(plan(["KEYS", "page:*"]), .broadcast(.concat, command: index("keys"), subcommand: index("keys")))
        XCTAssertEqual(plan(["randomkey"]), .broadcast(.firstNonNull, command: index("randomkey"), subcommand: index("randomkey")))
        XCTAssertEqual(plan(["DBSIZE"]), .broadcast(.sum, command: index("dbsize"), subcommand: index("dbsize")))
        XCTAssertEqual(plan(["KEYS"]), .reject(.wrongArity(command: "keys")))
        XCTAssertEqual(plan(["RANDOMKEY", "x"]), .reject(.wrongArity(command: "randomkey")))
    }

    func testScanDecodesItsCursorForThisRing() {
        XCTAssertEqual(plan(["SCAN", "0"]), .scan(.start, command: index("scan")))
        let position = ScanCursor(server: 2, serverCursor: 1234)
        let cursor = String(position.encoded(serverCount: 3)!)
        XCTAssertEqual(plan(["scan", cursor, "MATCH", "a*", "COUNT", "10"]), .scan(position, command: index("scan")))
        XCTAssertEqual(plan(["SCAN", "nope"]), .reject(.invalidCursor))
        XCTAssertEqual(plan(["SCAN", "-1"]), .reject(.invalidCursor))
        let fourServers = String(ScanCursor(server: 2, serverCursor: 1234).encoded(serverCount: 4)!)
        XCTAssertEqual(plan(["SCAN", fourServers]), .reject(.scanCursorOtherRing(servers: 3)))
        XCTAssertEqual(plan(["SCAN"]), .reject(.wrongArity(command: "scan")))
        // HSCAN, SSCAN and ZSCAN stay with their key's server.
        XCTAssertEqual(plan(["HSCAN", "h1", "0"]), .forward(server: server("h1"), command: index("hscan"), miss: .emptyScan))
    }

    func testSubcommandsRouteByTheirOwnKeys() {
        XCTAssertEqual(plan(["OBJECT", "ENCODING", "k9"]), .forward(server: server("k9"), command: index("object"), miss: .nullBulk))
    }

    func testNoLiveServer() {
        let dead = KeyPlacement(hash: .fnv1a_64, tag: nil,
                                ring: KetamaRing(distribution: .ketama, servers: [], live: []), serverCount: 3)
        XCTAssertEqual(plan(["GET", "k"], placement: dead), .reject(.noLiveUpstream(pool: "p")))
        XCTAssertEqual(plan(["MGET", "a", "b"], placement: dead), .reject(.noLiveUpstream(pool: "p")))
    }

    func testEveryErrorIsOneLineOfText() {
        let errors: [ProxyError] = [.noAuth, .notInteger, .unknownCommand(name: "a\r\nb", args: ["x"]),
                                    .crossServer(command: "X", hashTag: nil), .noLiveUpstream(pool: "p"),
                                    .invalidCursor, .scanCursorOtherRing(servers: 4), .scanCursorTooLarge(serverCursor: 9),
                                    .unexpectedScanReply]
        for e in errors {
            let out = ByteBuffer()
            out.appendError(e.message)
            var scanner = ReplyScanner()
            XCTAssertEqual(scanner.scan(out.readable), .reply(length: out.readableCount), "\(e)")
        }
    }
}

// Keys hidden in options: every command of the table whose keys the key spec cannot place
// is listed and placed (or refused), SORT's and GEORADIUS's options are read as Redis reads
// them, and SORT's BY/GET patterns are placed by the hash tag rule Redis Cluster uses.
import XCTest
@testable import RingCore

final class OptionKeysTests: XCTestCase {
    let table = CommandTable.redis70
    var planner = RoutePlanner(table: CommandTable.redis70)
    static func placement(tag: String? = "{}", servers count: Int = 3, routes: KeyRoutes = .none) -> KeyPlacement {
        let servers = (1...count).map { i -> ServerSpec in
            guard case let .success(s) = ServerSpec.parse("10.0.0.\(i):6379:1") else { fatalError() }
            return s
        }
        return KeyPlacement(hash: .fnv1a_64, tag: tag.flatMap(HashTag.init),
                            ring: KetamaRing(distribution: .ketama, servers: servers, live: Array(repeating: true, count: count)),
                            serverCount: count, routes: routes)
    }
    let placement = OptionKeysTests.placement()
    lazy var pool = PoolPolicy(name: "p", denyCommands: [], hashTag: HashTag("{}"), table: table)

    func server(_ key: String, _ p: KeyPlacement? = nil) -> Int {
        Array(key.utf8).withUnsafeBytes { (p ?? placement).server(forKey: $0) }
    }
    func other(than key: String, prefix: String = "o") -> String {
        for i in 0..<1000 where server("\(prefix)\(i)") != server(key) { return "\(prefix)\(i)" }
        fatalError("one server only")
    }
    func same(as key: String, prefix: String = "s") -> String {
        for i in 0..<1000 where server("\(prefix)\(i)") == server(key) { return "\(prefix)\(i)" }
        fatalError("no key on that server")
    }

    static func withRequest<T>(_ args: [String], _ body: (RequestView) -> T) -> T {
        var bytes: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for a in args {
            spans.append(ArgumentSpan(offset: bytes.count, count: a.utf8.count))
            bytes += Array(a.utf8)
        }
        return bytes.withUnsafeBytes { body(RequestView(bytes: $0, args: spans)) }
    }

    func plan(_ args: [String], placement: KeyPlacement? = nil) -> RouteDecision {
        let state = SessionState(id: 1, authenticated: true)
        let p = pool
        let place = placement ?? self.placement
        return OptionKeysTests.withRequest(args) { planner.plan($0, state: state, pool: p, placement: place) }
    }

    func keys(_ args: [String]) -> [String] {
        let info = table.commands.first { $0.spec.name == args[0].lowercased() }!
        return OptionKeysTests.withRequest(args) { r in
            guard case let .success(k) = RequestKeys.indices(info.spec, layout: info.keyLayout, r) else { return ["error"] }
            return k.map { r.string($0) }
        }
    }

    func place(_ pattern: String, _ p: KeyPlacement? = nil) -> PatternPlace {
        Array(pattern.utf8).withUnsafeBytes { (p ?? placement).place(sortPattern: $0) }
    }

    /// The list the issue asks for: every command whose keys hide in options (by Redis's
    /// key specs, or its movablekeys flag) and how the proxy finds them. A regenerated table
    /// with a new such command fails here until it is placed or refused.
    func testEveryCommandWithKeysInOptionsIsPlacedOrRefused() {
        var placed: [String: String] = [:]
        for c in table.commands where c.spec.keysInOptions || c.spec.flags.contains(.movablekeys) {
            if case .unsupported = c.route {
                placed[c.spec.name] = "refused"
            } else if c.keyLayout != .spec {
                placed[c.spec.name] = "\(c.keyLayout)"
            } else if c.spec.keyCount != nil && !c.spec.keysInOptions {
                placed[c.spec.name] = "keynum"
            } else {
                XCTFail("\(c.spec.name) has keys in options but no KeyLayout in ProxyCommandPolicy")
            }
        }
        let keynum = ["blmpop", "bzmpop", "eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro", "lmpop",
                      "sintercard", "zdiff", "zdiffstore", "zinter", "zintercard", "zinterstore", "zmpop", "zunion",
                      "zunionstore"]
        var expected = Dictionary(uniqueKeysWithValues: keynum.map { ($0, "keynum") })
        expected["sort"] = "sort"
        expected["sort_ro"] = "sortReadOnly"
        expected["georadius"] = "storeOption"
        expected["georadiusbymember"] = "storeOption"
        expected["xread"] = "afterStreams"
        expected["xreadgroup"] = "afterStreams"
        expected["migrate"] = "refused"
        XCTAssertEqual(placed, expected)
        // The read-only GEORADIUS forms take no STORE: their one key is the spec's.
        for name in ["georadius_ro", "georadiusbymember_ro"] {
            XCTAssertFalse(table.commands.first { $0.spec.name == name }!.spec.keysInOptions, name)
        }
    }

    func testSortKeysAreTheKeyAndTheLastStore() {
        XCTAssertEqual(keys(["SORT", "a"]), ["a"])
        XCTAssertEqual(keys(["SORT", "a", "BY", "w_*", "LIMIT", "0", "5", "GET", "#", "DESC", "ALPHA", "STORE", "d"]), ["a", "d"])
        XCTAssertEqual(keys(["SORT", "a", "STORE", "d1", "STORE", "d2"]), ["a", "d2"], "the last STORE wins, as in Redis")
        XCTAssertEqual(keys(["SORT", "a", "GET", "store", "STORE", "d"]), ["a", "d"], "a pattern named store is no option")
        XCTAssertEqual(keys(["SORT_RO", "a", "GET", "x*"]), ["a"])
        XCTAssertEqual(keys(["GEORADIUS", "g", "0", "0", "5", "km", "STORE", "d"]), ["g", "d"])
        XCTAssertEqual(keys(["GEORADIUSBYMEMBER", "g", "m", "5", "km", "STORE", "d1", "STOREDIST", "d2"]), ["g", "d2"])
        XCTAssertEqual(keys(["GEORADIUS", "g", "0", "0", "5", "km", "WITHDIST"]), ["g"])
    }

    func testPatternsArePlacedByTheirFixedHashTag() {
        XCTAssertEqual(place("#"), .noKey)
        XCTAssertEqual(place("nosort"), .noKey, "no '*': Redis reads no key")
        XCTAssertEqual(place("{user1}:*->name"), .server(server("user1")))
        XCTAssertEqual(place("w_{user1}*"), .server(server("user1")))
        XCTAssertEqual(place("user:*"), .anywhere)
        XCTAssertEqual(place("*:{user1}"), .anywhere, "the element comes before the tag and may hold a '{'")
        XCTAssertEqual(place("{user*}"), .anywhere, "the element is inside the tag")
        XCTAssertEqual(place("{}:*"), .anywhere, "an empty tag hashes the whole key")
        XCTAssertEqual(place("{a{b}:*"), .server(Array("a{b".utf8).withUnsafeBytes { placement.server(forHashedPart: $0) }))
        let untagged = OptionKeysTests.placement(tag: nil)
        XCTAssertEqual(place("{user1}:*", untagged), .anywhere, "no hash_tag: the whole key is hashed")
        let one = OptionKeysTests.placement(servers: 1)
        XCTAssertEqual(place("user:*", one), .server(0), "one server holds every key")
    }

    func testPatternsUnderKeyRoutes() {
        let routed = OptionKeysTests.placement(routes: KeyRoutes([(prefix: "rq:", server: 2), (prefix: "rq:job:", server: 1)]))
        XCTAssertEqual(place("rq:job:*", routed), .server(1))
        XCTAssertEqual(place("rq:queue:*", routed), .server(2))
        XCTAssertEqual(place("rq:*", routed), .anywhere, "some formed keys start with rq:job:, others not")
    }

    func testSortIsForwardedOnlyWhenEveryKeyIsOnTheKeysServer() {
        let key = "{u1}:list"
        let s = server(key)
        guard case .forward(server: s, _, _) = plan(["SORT", key, "BY", "{u1}:w_*", "GET", "#", "GET", "{u1}:o_*->f"]) else {
            return XCTFail("tagged patterns not forwarded")
        }
        guard case .forward(server: s, _, _) = plan(["SORT", key, "STORE", "{u1}:dst"]) else { return XCTFail("STORE") }
        guard case let .reject(error) = plan(["SORT", key, "GET", "user:*"]) else { return XCTFail("untagged GET forwarded") }
        XCTAssertEqual(error, .patternOnOtherServers(command: "SORT", pattern: "user:*", hashTag: HashTag("{}")))
        guard case .reject(.patternOnOtherServers) = plan(["SORT_RO", key, "BY", "w_*"]) else { return XCTFail("BY") }
        let elsewhere = other(than: "u1", prefix: "t")
        guard case .reject(.patternOnOtherServers) = plan(["SORT", key, "GET", "{\(elsewhere)}:*"]) else {
            return XCTFail("a pattern tagged for another server forwarded")
        }
        let dst = other(than: key)
        XCTAssertEqual(plan(["SORT", key, "STORE", dst]), .reject(.crossServer(command: "SORT", hashTag: HashTag("{}"))))
        // BY without '*' only means "do not sort": no key read.
        guard case .forward = plan(["SORT", key, "BY", "nosort"]) else { return XCTFail("BY nosort") }
        // One server: any pattern.
        let one = OptionKeysTests.placement(servers: 1)
        guard case .forward = plan(["SORT", "a", "GET", "user:*", "STORE", "b"], placement: one) else {
            return XCTFail("one server refused a pattern")
        }
    }

    func testGeoradiusStoreGoesWithItsKey() {
        let key = "{g}:geo"
        guard case .forward = plan(["GEORADIUS", key, "0", "0", "5", "km", "STORE", "{g}:dst"]) else { return XCTFail() }
        let dst = other(than: key)
        XCTAssertEqual(plan(["GEORADIUSBYMEMBER", key, "m", "5", "km", "STOREDIST", dst]),
                       .reject(.crossServer(command: "GEORADIUSBYMEMBER", hashTag: HashTag("{}"))))
        // Redis writes only the last destination named, so only that one must be with the key.
        guard case .forward = plan(["GEORADIUS", key, "0", "0", "5", "km", "STORE", dst, "STOREDIST", "{g}:d"]) else {
            return XCTFail("the last destination is the key's")
        }
    }

    func testMoveAndCopyNameOnlyTheProxysDatabases() {
        // The pool offers databases 0-15 (PoolPolicy's default, as Redis's).
        guard case .forward = plan(["MOVE", "k", "15"]) else { return XCTFail("MOVE to database 15") }
        XCTAssertEqual(plan(["MOVE", "k", "16"]), .reject(.databaseOutOfRange))
        XCTAssertEqual(plan(["MOVE", "k", "-1"]), .reject(.databaseOutOfRange))
        guard case .forward = plan(["MOVE", "k", "x"]) else { return XCTFail("the server answers a non-integer") }
        guard case .forward = plan(["COPY", "{k}a", "{k}b", "DB", "3", "REPLACE"]) else { return XCTFail("COPY DB 3") }
        XCTAssertEqual(plan(["COPY", "{k}a", "{k}b", "REPLACE", "db", "16"]), .reject(.databaseOutOfRange))
        XCTAssertEqual(ProxyError.databaseOutOfRange.message, "ERR DB index is out of range")
    }
}

// COMMAND answered from Redis's own metadata, and COMMAND GETKEYS checked against the
// router on every command of the table: the router must place a request by exactly the
// keys GETKEYS names (moving any of them to another server changes the decision, moving
// any other argument does not).
import XCTest
@testable import RingCore

final class CommandCommandTests: XCTestCase {
    let table = CommandTable.redis70
    var planner = RoutePlanner(table: CommandTable.redis70)
    let placement = OptionKeysTests.placement()
    lazy var pool = PoolPolicy(name: "p", denyCommands: [], hashTag: HashTag("{}"), table: table)

    func server(_ key: String) -> Int { Array(key.utf8).withUnsafeBytes { placement.server(forKey: $0) } }

    /// Two hash tags on different servers.
    lazy var tags: (String, String) = {
        let a = "t0"
        for i in 1..<1000 where server("t\(i)") != server(a) { return (a, "t\(i)") }
        fatalError("one server")
    }()

    func answer(_ args: [String], version: RESPVersion = .resp2, settings: LocalSettings? = nil) -> RESPValue {
        let out = ByteBuffer()
        var state = SessionState(id: 1, authenticated: true)
        state.version = version
        let s = settings ?? LocalSettings(password: nil, user: nil, commandCount: 0)
        OptionKeysTests.withRequest(["COMMAND"] + args) { CommandCommand.run($0, state: state, settings: s, out: out) }
        guard let v = RESPValue.parse(out.bytes) else { XCTFail("not one reply: \(args)"); return .null }
        return v
    }

    func plan(_ args: [String]) -> RouteDecision {
        let state = SessionState(id: 1, authenticated: true)
        let p = pool
        return OptionKeysTests.withRequest(args) { planner.plan($0, state: state, pool: p, placement: placement) }
    }

    /// The server a decision sends the request to as a whole, nil for a refusal or a split.
    func target(_ d: RouteDecision) -> Int? {
        switch d {
        case let .forward(server, _, _), let .block(server, _): return server
        case let .transaction(.watch, server, _): return server
        default: return nil
        }
    }

    /// A request for `info` that satisfies its arity, every argument under tag `tag`.
    func sample(_ info: CommandInfo, tag: String) -> [String] {
        let name = info.spec.name
        var words: [String] = name.split(separator: "|").map(String.init)
        let argc = max(abs(info.spec.arity), words.count + 1)
        while words.count < argc { words.append("{\(tag)}a\(words.count)") }
        if let kc = info.spec.keyCount {
            while words.count <= kc.firstKey + 1 { words.append("{\(tag)}a\(words.count)") }
            words[kc.countIndex] = "2"
        }
        switch info.keyLayout {
        case .afterStreams:
            words = name == "xread" ? ["xread", "STREAMS", "{\(tag)}s1", "{\(tag)}s2", "0", "0"]
                : ["xreadgroup", "GROUP", "g", "c", "STREAMS", "{\(tag)}s1", "{\(tag)}s2", ">", ">"]
        case .sort: words += ["BY", "{\(tag)}w_*", "GET", "#", "STORE", "{\(tag)}dst"]
        case .sortReadOnly: words += ["GET", "{\(tag)}o_*->f"]
        case .storeOption: words += ["STORE", "{\(tag)}dst"]
        default: break
        }
        return words
    }

    func testGetKeysAgreesWithTheRouterOnEveryCommand() {
        let (a, b) = tags
        var keyed = 0
        for info in table.commands {
            if let bar = info.spec.name.firstIndex(of: "|"),
               table.commands.first(where: { $0.spec.name == info.spec.name[..<bar] })?.route != .keyed { continue }
            // Shard channels are placed one by one by the subscription table, not as keys of
            // one request.
            if info.spec.hasSubcommands { continue }
            if case .subscription = info.route { continue }
            let words = sample(info, tag: a)
            let reply = answer(["GETKEYS"] + words)
            let decision = plan(words)
            guard case let .array(keys) = reply else {
                // No keys: the router must not place the request by any argument.
                if case .forward = decision { XCTFail("\(info.spec.name): forwarded, but GETKEYS says \(reply)") }
                continue
            }
            let keyWords = keys.compactMap(\.text)
            let keyIndices = words.indices.filter { $0 > 0 && keyWords.contains(words[$0]) }
            XCTAssertEqual(keyIndices.count, keyWords.count, "\(info.spec.name): GETKEYS named \(keyWords) of \(words)")
            if keyWords.isEmpty { continue }
            keyed += 1
            if case .split = info.route {
                XCTAssertNotNil(target(decision), "\(info.spec.name): keys of one server travel whole")
            } else {
                XCTAssertEqual(target(decision), server(a), "\(info.spec.name) \(words): \(decision)")
            }
            for i in words.indices.dropFirst() {
                var moved = words
                moved[i] = words[i].replacingOccurrences(of: "{\(a)}", with: "{\(b)}")
                if moved[i] == words[i] { continue }
                let d = plan(moved)
                let isPattern = (info.keyLayout == .sort || info.keyLayout == .sortReadOnly)
                    && ["by", "get"].contains(words[i - 1].lowercased())
                if isPattern {
                    // No key, but it names keys: under another server's tag it is refused.
                    XCTAssertNil(target(d), "\(info.spec.name): a pattern moved to another server, still \(d)")
                } else if keyIndices.contains(i) {
                    XCTAssertNotEqual(target(d), target(decision), "\(info.spec.name): key \(i) moved to another server, still \(d)")
                } else if case .array = answer(["GETKEYS"] + moved) {
                    XCTAssertEqual(target(d), target(decision), "\(info.spec.name): argument \(i) is no key, yet \(d)")
                }
            }
        }
        XCTAssertGreaterThan(keyed, 180, "most commands have keys")
    }

    func testCountListInfoAndDocsComeFromTheTable() {
        let top = table.commands.filter { !$0.spec.name.contains("|") }
        XCTAssertEqual(answer(["COUNT"]), .integer(top.count))
        guard case let .array(all) = answer(["LIST"]) else { return XCTFail() }
        XCTAssertEqual(Set(all.compactMap(\.text)), Set(table.commands.map(\.spec.name)))
        guard case let .array(configs) = answer(["LIST", "FILTERBY", "PATTERN", "CONFIG*"]) else { return XCTFail() }
        XCTAssertEqual(Set(configs.compactMap(\.text)), Set(table.commands.map(\.spec.name).filter { $0.hasPrefix("config") }))
        // Each INFO entry matches the table's arity and key positions.
        guard case let .array(infos) = answer(["INFO", "get", "nosuch", "config|get", "zunionstore"]) else { return XCTFail() }
        XCTAssertEqual(infos.count, 4)
        XCTAssertEqual(infos[1], .null)
        for entry in [infos[0], infos[2], infos[3]] {
            guard let e = entry.elements, let name = e[0].text,
                  let spec = table.commands.first(where: { $0.spec.name == name })?.spec else { return XCTFail("\(entry)") }
            XCTAssertEqual(e[1], .integer(spec.arity), name)
            XCTAssertEqual(e[3], .integer(spec.firstKey), name)
        }
        // RESP3: flags are a set, key specs maps; RESP2: arrays.
        guard case let .array(v3) = answer(["INFO", "get"], version: .resp3), case .set = v3[0].elements?[2] else {
            return XCTFail("RESP3 flags are not a set")
        }
        guard case let .array(v2) = answer(["INFO", "get"]), case .array = v2[0].elements?[2] else { return XCTFail() }
    }

    func testDocsMarkWhatTheProxyRefuses() {
        var settings = LocalSettings(password: nil, user: nil, commandCount: 0)
        settings.denied = table.commands.map { $0.spec.name == "flushall" }
        let docs = answer(["DOCS", "get", "migrate", "flushall", "config|set", "nosuch"], version: .resp3, settings: settings)
        guard case let .map(e) = docs else { return XCTFail("\(docs)") }
        XCTAssertEqual(e.count, 8, "unknown names are left out, as Redis does")
        XCTAssertEqual(docs["get"]?["summary"]?.text, "Get the value of a key")
        XCTAssertTrue(docs["migrate"]?["summary"]?.text?.contains("[ringproxy: 'MIGRATE' is not supported") ?? false,
                      "\(String(describing: docs["migrate"]?["summary"]))")
        XCTAssertTrue(docs["flushall"]?["summary"]?.text?.hasSuffix("[ringproxy: denied by deny_commands]") ?? false)
        XCTAssertNotNil(docs["config|set"]?["arguments"])
        // Subcommands: a container answered by the proxy marks none; a refused one all, with
        // its own reason; a routed one each by its own route.
        let subs = answer(["DOCS", "config|get", "cluster|info", "memory|usage", "memory|doctor"], version: .resp3)
        XCTAssertEqual(subs["config|get"]?["summary"]?.text?.contains("ringproxy"), false)
        XCTAssertTrue(subs["cluster|info"]?["summary"]?.text?.contains("'CLUSTER' is not supported through the proxy") ?? false)
        XCTAssertEqual(subs["memory|usage"]?["summary"]?.text?.contains("ringproxy"), false)
        XCTAssertTrue(subs["memory|doctor"]?["summary"]?.text?.contains("it would need every server") ?? false)
    }

    func testGetKeysErrorsAsRedis() {
        XCTAssertEqual(answer(["GETKEYS", "nosuch", "a"]), CommandCommand.error("ERR Invalid command specified"))
        XCTAssertEqual(answer(["GETKEYS", "set", "a"]), CommandCommand.error("ERR Invalid number of arguments specified for command"))
        XCTAssertEqual(answer(["GETKEYS", "config", "get", "x"]), CommandCommand.error("ERR The command has no key arguments"))
        XCTAssertEqual(answer(["GETKEYS", "eval", "return 1", "0"]), .array([]))
        XCTAssertEqual(answer(["GETKEYS", "zunionstore", "d", "x", "a"]),
                       CommandCommand.error("ERR Invalid arguments specified for command"))
        XCTAssertEqual(answer(["GETKEYSANDFLAGS", "lmove", "a", "b", "left", "right"], version: .resp3),
                       .array([.array([.string("a"), .set([.simple(Array("RW".utf8)), .simple(Array("access".utf8)),
                                                            .simple(Array("delete".utf8))])]),
                               .array([.string("b"), .set([.simple(Array("RW".utf8)), .simple(Array("insert".utf8))])])]))
        guard case .error = answer(["GETKEYS", "migrate", "h", "1", "k", "0", "5"]) else { return XCTFail("MIGRATE is refused") }
    }

    func testGlob() {
        func m(_ p: String, _ s: String) -> Bool { Glob.matches(Array(p.utf8), Array(s.utf8), caseless: true) }
        XCTAssertTrue(m("config*", "CONFIG|get"))
        XCTAssertTrue(m("h?llo", "hallo"))
        XCTAssertTrue(m("h[a-c]llo", "hbllo"))
        XCTAssertFalse(m("h[^a-c]llo", "hbllo"))
        XCTAssertTrue(m("a\\*b", "a*b"))
        XCTAssertFalse(m("a\\*b", "axb"))
        XCTAssertFalse(m("*x", "abc"))
    }
}

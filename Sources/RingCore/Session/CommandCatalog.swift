// Redis 7.0's COMMAND INFO entries and COMMAND DOCS maps (RedisCommandDocs.swift), indexed
// by name once, the first time a client asks COMMAND; and COMMAND GETKEYS from the
// router's own key finder.

struct CommandCatalog {
    static let shared = CommandCatalog()

    /// Top-level command names, sorted (COMMAND COUNT counts them).
    let topLevel: [String]
    /// Every command and subcommand ("config|get"), sorted (COMMAND LIST).
    let all: [String]
    /// COMMAND INFO's entry of every command and subcommand.
    let infos: [String: RESPValue]
    /// COMMAND DOCS' map of every top-level command (its subcommands' nested in it).
    private let topDocs: [String: RESPValue]

    init() {
        var infos: [String: RESPValue] = [:]
        var docs: [String: RESPValue] = [:]
        var top: [String] = []
        for row in redisCommandDocs {
            let name = row.name.description
            top.append(name)
            guard let info = CommandCatalog.parse(row.info), let doc = CommandCatalog.parse(row.docs) else {
                preconditionFailure("RedisCommandDocs.swift holds a malformed entry for \(name): regenerate it")
            }
            infos[name] = info
            docs[name] = doc
            for sub in info.elements.flatMap({ $0.count > 9 ? $0[9].elements : nil }) ?? [] {
                if let subName = sub.elements?.first?.text { infos[subName] = sub }
            }
        }
        topLevel = top.sorted()
        all = infos.keys.sorted()
        self.infos = infos
        topDocs = docs
    }

    static func parse(_ s: StaticString) -> RESPValue? {
        RESPValue.parse(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))?.value
    }

    /// The COMMAND DOCS map of `name` ("container|sub" for a subcommand).
    func docs(_ name: String) -> RESPValue? {
        guard let bar = name.firstIndex(of: "|") else { return topDocs[name] }
        return topDocs[String(name[..<bar])]?["subcommands"]?[name]
    }

    /// The flags of each key spec of `name`, in order (COMMAND GETKEYSANDFLAGS).
    func keySpecFlags(_ name: String) -> [RESPValue] {
        guard let entry = infos[name]?.elements, entry.count > 8 else { return [] }
        return (entry[8].elements ?? []).map { $0["flags"] ?? .set([]) }
    }
}

extension CommandCommand {
    static func error(_ text: String) -> RESPValue { .error(Array(text.utf8)) }

    /// COMMAND GETKEYS / GETKEYSANDFLAGS <command> <args...>: the keys the router places the
    /// command by, or the error it would answer (Redis's texts where Redis has them).
    static func getKeys(_ request: RequestView, flags: Bool, catalog: CommandCatalog) -> RESPValue {
        let table = CommandTable.redis70
        let inner = RequestView(bytes: request.bytes, args: Array(request.args[2...]))
        guard let top = table.lookup(inner[0]) else { return error("ERR Invalid command specified") }
        var info = top
        if top.spec.hasSubcommands {
            guard inner.count >= 2, let sub = table.lookup(container: info.spec.name, sub: inner[1]) else {
                return error("ERR Invalid command specified")
            }
            info = sub
        }
        guard info.spec.arityAccepts(inner.count) else {
            return error("ERR Invalid number of arguments specified for command")
        }
        // A container the proxy answers or refuses as a whole decides for its subcommands.
        if case let .unsupported(reason) = top.route {
            return error(ProxyError.unsupported(command: top.displayName, reason).message)
        }
        if top.route == .keyed, case let .unsupported(reason) = info.route {
            return error(ProxyError.unsupported(command: info.displayName.replacingPipe(), reason).message)
        }
        if info.keyLayout == .spec && info.spec.firstKey <= 0 && info.spec.keyCount == nil {
            return error("ERR The command has no key arguments")
        }
        guard case let .success(keys) = RequestKeys.indices(info.spec, layout: info.keyLayout, inner),
              !keys.isEmpty || info.spec.flags.contains(.noMandatoryKeys) else {
            return error("ERR Invalid arguments specified for command")
        }
        let specFlags = flags ? catalog.keySpecFlags(info.spec.name) : []
        let variable = flags ? variableFlags(info.spec.name, inner) : nil
        return .array(keys.enumerated().map { rank, i in
            let key = RESPValue.bulk(Array(inner[i]))
            guard flags else { return key }
            if let variable { return .array([key, variable]) }
            let spec = specIndex(rank: rank, keyIndex: i, layout: info.keyLayout, inner, specCount: specFlags.count)
            return .array([key, spec < 0 ? .set([]) : specFlags[spec]])
        })
    }

    /// Which key spec finds the key of rank `rank` (at argument `keyIndex`): specs are in
    /// the order of the keys they find, the last one finding any further keys; SORT's
    /// destination is its last spec (after the one for BY/GET patterns), GEORADIUS's is the
    /// STORE or the STOREDIST spec by the keyword before it.
    static func specIndex(rank: Int, keyIndex: Int, layout: KeyLayout, _ request: RequestView, specCount: Int) -> Int {
        guard specCount > 0 else { return -1 }
        switch layout {
        case .sort, .sortReadOnly:
            return rank == 0 ? 0 : specCount - 1
        case .storeOption where rank > 0 && specCount >= 3:
            return request.argument(keyIndex - 1, is: "storedist") ? 2 : 1
        default:
            return min(rank, specCount - 1)
        }
    }

    /// The key flags of the two Redis 7.0 commands whose key spec says `variable_flags`,
    /// decided by their arguments as setGetKeys and bitfieldGetKeys decide them.
    static func variableFlags(_ name: String, _ request: RequestView) -> RESPValue? {
        func flags(_ words: String...) -> RESPValue { .set(words.map { .simple(Array($0.utf8)) }) }
        switch name {
        case "set":
            for i in 3..<max(3, request.count) where request.argument(i, is: "get") {
                return flags("RW", "access", "update")
            }
            return flags("OW", "update")
        case "bitfield":
            var i = 2
            while i < request.count {
                let left = request.count - i - 1
                if request.argument(i, is: "get") && left >= 2 {
                    i += 3
                } else if request.argument(i, is: "overflow") && left >= 1 {
                    i += 2
                } else {
                    return flags("RW", "access", "update")  // a write, or a syntax error: not read-only
                }
            }
            return flags("RO", "access")
        default:
            return nil
        }
    }
}

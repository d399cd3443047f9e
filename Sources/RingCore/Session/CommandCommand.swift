// COMMAND, answered by the proxy from Redis 7.0's own metadata (RedisCommandDocs.swift,
// generated from redis-server's COMMAND and COMMAND DOCS replies), so clients that read it
// (go-redis, Lettuce, redis-cli's hints) see exactly Redis's shapes:
// - COUNT, LIST [FILTERBY MODULE|ACLCAT|PATTERN], INFO [name ...], DOCS [name ...] as Redis;
//   COMMAND alone is COMMAND INFO of every command.
// - What the proxy refuses (its policy or the pool's deny_commands) is marked in DOCS: the
//   summary ends with "[ringproxy: ...]" saying why. INFO stays Redis's, byte for byte,
//   since clients parse its flags and key specs to route.
// - GETKEYS and GETKEYSANDFLAGS answer from RequestKeys, the key finder the router uses:
//   the keys that decide where the proxy sends the command (PUBLISH's channel included),
//   and the proxy's refusal for a command it refuses. A key's flags are those of the key
//   spec that finds it (the spec at the key's rank, the last one for any further keys).

public enum CommandCommand {
    public static func run(_ request: RequestView, state: SessionState, settings: LocalSettings, out: ByteBuffer) {
        let v = state.version
        guard request.count >= 2 else {
            return RESPValue.array(CommandCatalog.shared.topLevel.compactMap { CommandCatalog.shared.infos[$0] })
                .write(into: out, version: v)
        }
        let sub = request.lowercased(1)
        let catalog = CommandCatalog.shared
        switch sub {
        case "count" where request.count == 2:
            out.appendInteger(catalog.topLevel.count)
        case "list":
            switch list(request, catalog) {
            case let .success(names):
                out.appendArrayHeader(names.count)
                for n in names { out.appendBulk(string: n) }
            case let .failure(e): out.appendError(e.message)
            }
        case "info":
            let names = request.count == 2 ? catalog.topLevel : (2..<request.count).map { request.lowercased($0) }
            out.appendArrayHeader(names.count)
            for n in names {
                if let info = catalog.infos[n] { info.write(into: out, version: v) } else { out.appendNull(v) }
            }
        case "docs":
            let names = request.count == 2 ? catalog.topLevel : (2..<request.count).map { request.lowercased($0) }
            var entries: [RESPValue] = []
            for n in names {
                guard let d = catalog.docs(n) else { continue }
                entries.append(.string(n))
                entries.append(marked(d, name: n, settings: settings))
            }
            RESPValue.map(entries).write(into: out, version: v)
        case "getkeys" where request.count >= 3, "getkeysandflags" where request.count >= 3:
            getKeys(request, flags: sub == "getkeysandflags", catalog: catalog).write(into: out, version: v)
        case "help" where request.count == 2:
            out.appendArrayHeader(helpLines.count)
            for line in helpLines { out.append(UInt8(ascii: "+")); out.append(string: line); out.append("\r\n") }
        case "count", "help", "getkeys", "getkeysandflags":
            out.appendError(ProxyError.wrongArity(command: "command|\(sub)").message)
        default:
            out.appendError(ProxyError.unknownSubcommand(sub: request.string(1), container: "COMMAND").message)
        }
    }

    /// ROLE as a standalone master without replicas answers it.
    public static func role(out: ByteBuffer) {
        out.appendArrayHeader(3)
        out.appendBulk(string: "master")
        out.appendInteger(0)
        out.appendArrayHeader(0)
    }

    static let helpLines = [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)", "    Return details about all Redis commands.",
        "COUNT", "    Return the total number of commands in this Redis server.",
        "LIST", "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all", "    commands are returned.",
        "DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all", "    commands are returned.",
        "GETKEYS <full-command>", "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>", "    Return the keys and the access flags from a full Redis command.",
        "HELP", "    Print this help.",
    ]

    /// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
    static func list(_ request: RequestView, _ catalog: CommandCatalog) -> Result<[String], ProxyError> {
        if request.count == 2 { return .success(catalog.all) }
        guard request.count == 5, request.argument(2, is: "filterby") else { return .failure(.syntax) }
        let arg = request.string(4)
        if request.argument(3, is: "module") { return .success([]) }
        if request.argument(3, is: "pattern") {
            return .success(catalog.all.filter { Glob.matches(Array(arg.utf8), Array($0.utf8), caseless: true) })
        }
        if request.argument(3, is: "aclcat") {
            let category = "@" + ASCII.lowercasedString(request[4])
            return .success(catalog.all.filter { name in
                catalog.infos[name]?.elements.flatMap { $0.count > 6 ? $0[6].elements : nil }?
                    .contains { $0.text == category } ?? false
            })
        }
        return .failure(.syntax)
    }

    /// A docs map with the proxy's refusal appended to its summary (and its subcommands').
    static func marked(_ docs: RESPValue, name: String, settings: LocalSettings) -> RESPValue {
        guard case var .map(e) = docs else { return docs }
        var i = 0
        while i + 1 < e.count {
            if e[i].text == "summary", let note = refusal(name, settings: settings), let summary = e[i + 1].text {
                e[i + 1] = .string("\(summary) [ringproxy: \(note)]")
            } else if e[i].text == "subcommands", case let .map(subs) = e[i + 1] {
                var s = subs
                var j = 0
                while j + 1 < s.count {
                    if let subName = s[j].text { s[j + 1] = marked(s[j + 1], name: subName, settings: settings) }
                    j += 2
                }
                e[i + 1] = .map(s)
            }
            i += 2
        }
        return .map(e)
    }

    /// Why the proxy refuses `name` ("container|sub" for subcommands), nil if it does not.
    static func refusal(_ name: String, settings: LocalSettings) -> String? {
        let table = CommandTable.redis70
        guard let info = table.commands.first(where: { $0.spec.name == name }) else { return nil }
        if let bar = name.firstIndex(of: "|"), let container = table.commands.first(where: { $0.spec.name == name[..<bar] }) {
            // A container the proxy answers itself (CONFIG, CLIENT) or refuses as a whole
            // decides for its subcommands; only a routed one leaves it to each subcommand.
            if let note = refusal(container.spec.name, settings: settings) { return note }
            if container.route != .keyed { return nil }
        }
        if info.index < settings.denied.count && settings.denied[info.index] { return "denied by deny_commands" }
        if case let .unsupported(reason) = info.route {
            let text = ProxyError.unsupported(command: info.displayName.replacingPipe(), reason).message
            return String(text.dropFirst("ERR ringproxy: ".count))
        }
        return nil
    }
}

// CONFIG through the proxy. GET reads a live server's parameters, except those that describe
// the proxy rather than a server (databases, maxclients, timeout, port), which the proxy
// answers itself. SET, REWRITE and RESETSTAT (denied by default: they change servers shared
// by others) go to every server and answer OK only when every server did.

extension LocalCommands {
    static func configCommand(_ request: RequestView, state: SessionState, settings: LocalSettings,
                              out: ByteBuffer) -> LocalEffect {
        let argc = request.count
        let sub = request.lowercased(1)
        switch sub {
        case "get" where argc >= 3:
            let patterns = (2..<argc).map { request.string($0) }
            let all = settings.configOverrides + [InfoField("databases", String(settings.databases))]
            let matched = all.filter { o in patterns.contains { Glob.matches($0, o.name) } }
            return .askServers(.configGet(overrides: matched))
        case "set" where argc >= 4 && argc % 2 == 0, "rewrite" where argc == 2, "resetstat" where argc == 2:
            return .askServers(.everyServer(resetsProxyStats: sub == "resetstat"))
        case "get", "set", "rewrite", "resetstat":
            out.appendError("ERR wrong number of arguments for 'config|\(sub)' command")
        case "help" where argc == 2:
            let lines = ["CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                         "GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
                         "    (from a live server, except those the proxy answers itself)",
                         "SET <directive> <value>", "    Set the configuration <directive> to <value> on every server.",
                         "RESETSTAT", "    Reset statistics reported by the INFO command, on every server and in the proxy.",
                         "REWRITE", "    Rewrite every server's configuration file.",
                         "HELP", "    Print this help."]
            out.appendArrayHeader(lines.count)
            for l in lines { out.append("+"); out.append(string: l); out.append("\r\n") }
        default:
            out.appendError("ERR unknown subcommand '\(request.string(1))'. Try CONFIG HELP.")
        }
        return .none
    }
}

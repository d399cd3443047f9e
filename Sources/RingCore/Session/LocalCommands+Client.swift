// CLIENT through the proxy: about the proxy's own clients, never a server's connections.
// What concerns this client alone is answered here; LIST, KILL and PAUSE need every worker's
// clients and are carried out by the connection layer (WorkerQuery); INFO needs this
// connection's socket and buffers (describeSelf).

extension LocalCommands {
    static func clientCommand(_ request: RequestView, state: inout SessionState, settings: LocalSettings,
                              out: ByteBuffer) -> LocalEffect {
        let argc = request.count
        let sub = request.lowercased(1)
        let rest = (2..<max(2, argc)).map { request.string($0) }
        switch (sub, argc) {
        case ("setname", 3):
            let name = request[2]
            if name.contains(where: { $0 <= 0x20 || $0 >= 0x7f }) {
                out.appendError("ERR Client names cannot contain spaces, newlines or special characters.")
                break
            }
            state.clientName = name.isEmpty ? nil : request.string(2)
            out.append("+OK\r\n")
        case ("getname", 2):
            if let n = state.clientName { out.appendBulk(string: n) } else { out.appendNull(state.version) }
        case ("setinfo", 4):
            out.append("+OK\r\n")
        case ("id", 2):
            out.appendInteger(Int(truncatingIfNeeded: state.id))
        case ("info", 2):
            return .describeSelf
        case ("list", _):
            switch ClientListFilter.parse(rest) {
            case let .success(f): return .askWorkers(.list(f))
            case let .failure(e): out.appendError(e.message)
            }
        case ("kill", 3...):
            switch ClientKillFilter.parse(rest) {
            case let .success(f): return .askWorkers(.kill(f))
            case let .failure(e): out.appendError(e.message)
            }
        case ("pause", 3...4):
            // Parsed against a clock at 0, so `untilMs` is the duration: the connection
            // layer, which has the clock, makes it a deadline.
            switch ClientPause.parse(rest, nowMs: 0) {
            case let .success(p): return .askWorkers(.pause(p.mode, milliseconds: Int(p.untilMs)))
            case let .failure(e): out.appendError(e.message)
            }
        case ("unpause", 2):
            return .askWorkers(.unpause)
        case ("no-evict", 3):
            // The proxy never evicts clients for memory: ON and OFF both hold already.
            guard onOff(request, 2) != nil else { out.appendError("ERR syntax error"); break }
            out.append("+OK\r\n")
        case ("no-touch", 3):
            switch onOff(request, 2) {
            case false?: out.append("+OK\r\n")
            case true?:
                // The servers see the proxy's shared connections, not this client: they would
                // stop touching keys for every client of the pool.
                out.appendError("ERR ringproxy: CLIENT NO-TOUCH ON is not supported: the servers' connections are shared by every client of the pool")
            case nil: out.appendError("ERR syntax error")
            }
        case ("trackinginfo", 2):
            let v = state.version
            out.appendMapHeader(3, v)
            out.appendBulk(string: "flags"); out.appendSetHeader(1, v); out.appendBulk(string: "off")
            out.appendBulk(string: "redirect"); out.appendInteger(-1)
            out.appendBulk(string: "prefixes"); out.appendArrayHeader(0)
        case ("getredir", 2):
            out.appendInteger(-1)
        case ("tracking", 3...) where onOff(request, 2) == false:
            out.append("+OK\r\n")
        case ("tracking", _), ("caching", _):
            out.appendError("ERR ringproxy: client-side caching (CLIENT \(sub.uppercased())) is not supported: invalidations would come from several servers over connections shared by every client")
        case ("reply", 3):
            out.appendError("ERR ringproxy: CLIENT REPLY is not supported: the proxy keeps every reply in request order")
        case ("unblock", _):
            out.appendError("ERR ringproxy: CLIENT UNBLOCK is not supported: a blocked client waits on a server connection of its own; close it or let its timeout end")
        case ("help", 2):
            let lines = ["CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are (about the proxy's own clients):",
                         "GETNAME", "SETNAME <name>", "SETINFO <option> <value>", "ID", "INFO",
                         "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> ...]",
                         "KILL <ip:port> | KILL <option> <value> [<option> <value> ...] (ID, ADDR, LADDR, USER, TYPE, SKIPME)",
                         "PAUSE <timeout> [WRITE|ALL]", "UNPAUSE", "NO-EVICT (ON|OFF)", "NO-TOUCH OFF", "TRACKINGINFO",
                         "GETREDIR", "HELP"]
            out.appendArrayHeader(lines.count)
            for l in lines { out.append("+"); out.append(string: l); out.append("\r\n") }
        case ("setname", _), ("getname", _), ("setinfo", _), ("id", _), ("info", _), ("kill", _), ("pause", _),
             ("unpause", _), ("no-evict", _), ("no-touch", _), ("trackinginfo", _), ("getredir", _), ("reply", _):
            out.appendError("ERR wrong number of arguments for 'client|\(sub)' command")
        default:
            out.appendError("ERR unknown subcommand '\(request.string(1))'. Try CLIENT HELP.")
        }
        return .none
    }

    private static func onOff(_ request: RequestView, _ i: Int) -> Bool? {
        if request.argument(i, is: "on") { return true }
        if request.argument(i, is: "off") { return false }
        return nil
    }
}

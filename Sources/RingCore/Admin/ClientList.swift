// CLIENT LIST, CLIENT INFO and CLIENT KILL over the proxy's own clients: one client's line
// in Redis 7.0's format and field order, and the filters of LIST and KILL. The connection
// layer fills a ClientDescription per client (in the client's own worker); everything
// about the format and the filters is here.

public enum ClientType: String, Equatable, Sendable {
    case normal, master, replica, pubsub

    /// Redis's names for CLIENT LIST TYPE and CLIENT KILL TYPE ("slave" is "replica").
    public init?(name: String) {
        switch name.lowercased() {
        case "normal": self = .normal
        case "master": self = .master
        case "replica", "slave": self = .replica
        case "pubsub": self = .pubsub
        default: return nil
        }
    }
}

/// One client as CLIENT LIST prints it.
public struct ClientDescription: Equatable, Sendable {
    public var id: UInt64
    public var addr: String
    public var laddr: String
    public var fd: Int
    public var name: String
    public var ageSeconds: Int
    public var idleSeconds: Int
    /// Redis's letters: N (none), P (pubsub), x (in MULTI), b (blocked), O (monitor).
    public var flags: String
    public var db: Int
    public var sub: Int
    public var psub: Int
    public var ssub: Int
    /// Commands queued in MULTI, or -1 outside one.
    public var multi: Int
    public var queryBuffer: Int
    public var queryBufferFree: Int
    public var outputBytes: Int
    public var writing: Bool
    /// The last command, "container|sub" for subcommands, as Redis prints it.
    public var command: String
    public var user: String
    public var resp: Int

    public init(id: UInt64, addr: String, laddr: String, fd: Int, name: String, ageSeconds: Int, idleSeconds: Int,
                flags: String, db: Int, sub: Int, psub: Int, ssub: Int, multi: Int, queryBuffer: Int,
                queryBufferFree: Int, outputBytes: Int, writing: Bool, command: String, user: String, resp: Int) {
        self.id = id; self.addr = addr; self.laddr = laddr; self.fd = fd; self.name = name
        self.ageSeconds = ageSeconds; self.idleSeconds = idleSeconds; self.flags = flags; self.db = db
        self.sub = sub; self.psub = psub; self.ssub = ssub; self.multi = multi; self.queryBuffer = queryBuffer
        self.queryBufferFree = queryBufferFree; self.outputBytes = outputBytes; self.writing = writing
        self.command = command; self.user = user; self.resp = resp
    }

    public var type: ClientType { flags.contains("P") ? .pubsub : .normal }

    /// The line, without its newline. Fields Redis derives from its own allocator (argv-mem,
    /// multi-mem, rbs, rbp, tot-mem) are the proxy's nearest: its buffers' sizes.
    public var line: String {
        "id=\(id) addr=\(addr) laddr=\(laddr) fd=\(fd) name=\(name) age=\(ageSeconds) idle=\(idleSeconds) "
            + "flags=\(flags) db=\(db) sub=\(sub) psub=\(psub) ssub=\(ssub) multi=\(multi) qbuf=\(queryBuffer) "
            + "qbuf-free=\(queryBufferFree) argv-mem=0 multi-mem=0 rbs=\(queryBuffer + queryBufferFree) rbp=0 "
            + "obl=\(outputBytes) oll=0 omem=\(outputBytes) tot-mem=\(queryBuffer + queryBufferFree + outputBytes) "
            + "events=r\(writing ? "w" : "") cmd=\(command) user=\(user) redir=-1 resp=\(resp)"
    }

    /// CLIENT LIST's reply text: one line per client, each ending in a newline.
    public static func listText(_ clients: [ClientDescription]) -> String {
        clients.sorted { $0.id < $1.id }.map { $0.line + "\n" }.joined()
    }
}

/// CLIENT LIST [TYPE type] [ID id ...].
public struct ClientListFilter: Equatable, Sendable {
    public var type: ClientType?
    public var ids: [UInt64]?

    public init(type: ClientType? = nil, ids: [UInt64]? = nil) {
        self.type = type
        self.ids = ids
    }

    /// The arguments after LIST; an error message when they do not parse.
    public static func parse(_ args: [String]) -> Result<ClientListFilter, ClientCommandError> {
        var f = ClientListFilter()
        if args.isEmpty { return .success(f) }
        switch args[0].lowercased() {
        case "type" where args.count == 2:
            guard let t = ClientType(name: args[1]) else { return .failure(.init("ERR Unknown client type '\(args[1])'")) }
            f.type = t
        case "id" where args.count >= 2:
            var ids: [UInt64] = []
            for a in args.dropFirst() {
                guard let id = UInt64(a), id > 0 else { return .failure(.init("ERR Invalid client ID")) }
                ids.append(id)
            }
            f.ids = ids
        default:
            return .failure(.init("ERR syntax error"))
        }
        return .success(f)
    }

    public func matches(_ c: ClientDescription) -> Bool {
        if let t = type, c.type != t { return false }
        if let ids, !ids.contains(c.id) { return false }
        return true
    }
}

public struct ClientCommandError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// CLIENT KILL's filters, or its old `CLIENT KILL addr:port` form.
public struct ClientKillFilter: Equatable, Sendable {
    public var id: UInt64?
    public var addr: String?
    public var laddr: String?
    public var user: String?
    public var type: ClientType?
    /// Spare the client that asks (the default, as in Redis).
    public var skipMe = true
    /// The old form: answers +OK or "No such client" instead of a count, and does kill the
    /// caller if it names it.
    public var oldForm = false

    public init() {}

    /// The arguments after KILL.
    public static func parse(_ args: [String]) -> Result<ClientKillFilter, ClientCommandError> {
        var f = ClientKillFilter()
        if args.count == 1 {
            f.addr = args[0]
            f.oldForm = true
            f.skipMe = false
            return .success(f)
        }
        guard !args.isEmpty, args.count % 2 == 0 else { return .failure(.init("ERR syntax error")) }
        for i in stride(from: 0, to: args.count, by: 2) {
            let value = args[i + 1]
            switch args[i].lowercased() {
            case "id":
                guard let id = UInt64(value), id > 0 else { return .failure(.init("ERR client-id should be greater than 0")) }
                f.id = id
            case "addr": f.addr = value
            case "laddr": f.laddr = value
            case "user": f.user = value
            case "type":
                guard let t = ClientType(name: value) else { return .failure(.init("ERR Unknown client type '\(value)'")) }
                f.type = t
            case "skipme":
                switch value.lowercased() {
                case "yes": f.skipMe = true
                case "no": f.skipMe = false
                default: return .failure(.init("ERR syntax error"))
                }
            default:
                return .failure(.init("ERR syntax error"))
            }
        }
        return .success(f)
    }

    /// `caller` is the id of the client that sent CLIENT KILL.
    public func matches(_ c: ClientDescription, caller: UInt64) -> Bool {
        if skipMe && c.id == caller { return false }
        if let id, c.id != id { return false }
        if let addr, c.addr != addr { return false }
        if let laddr, c.laddr != laddr { return false }
        if let user, c.user != user { return false }
        if let type, c.type != type { return false }
        return true
    }
}

/// CLIENT PAUSE: until when, and whether only writes wait.
public struct ClientPause: Equatable, Sendable {
    public enum Mode: Equatable, Sendable { case all, write }
    public var mode: Mode
    /// Monotonic milliseconds (the caller's clock) when the pause ends.
    public var untilMs: UInt64

    public init(mode: Mode, untilMs: UInt64) {
        self.mode = mode
        self.untilMs = untilMs
    }

    /// CLIENT PAUSE timeout [WRITE|ALL], `nowMs` on the same clock as `untilMs`.
    public static func parse(_ args: [String], nowMs: UInt64) -> Result<ClientPause, ClientCommandError> {
        guard args.count == 1 || args.count == 2 else { return .failure(.init("ERR syntax error")) }
        guard let ms = Int(args[0]), ms >= 0 else { return .failure(.init("ERR timeout is not an integer or out of range")) }
        var mode = Mode.all
        if args.count == 2 {
            switch args[1].lowercased() {
            case "all": mode = .all
            case "write": mode = .write
            default: return .failure(.init("ERR CLIENT PAUSE mode must be WRITE or ALL"))
            }
        }
        return .success(ClientPause(mode: mode, untilMs: nowMs + UInt64(ms)))
    }

    /// Whether a command with these flags waits: everything in ALL mode; in WRITE mode
    /// what writes or may replicate (EVAL, PUBLISH...), as Redis 7.0 holds them.
    public func holds(_ flags: CommandFlags) -> Bool {
        mode == .all || flags.contains(.write) || flags.contains(.mayReplicate)
    }
}

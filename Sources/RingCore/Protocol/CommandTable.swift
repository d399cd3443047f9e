// Redis's command metadata (from RedisCommands.swift, generated from redis-server 7.0's
// COMMAND reply) and what the proxy does with each command. Lookup is by the raw argument
// bytes, case-insensitive, with no String made on the request path.

public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let movablekeys = CommandFlags(rawValue: 1 << 14)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 15)
    public static let noMulti = CommandFlags(rawValue: 1 << 16)
    public static let allowBusy = CommandFlags(rawValue: 1 << 17)
    public static let asking = CommandFlags(rawValue: 1 << 18)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 19)
}

/// One row of Redis's command table.
public struct RedisCommandSpec: Sendable {
    public let name: String
    /// Redis's arity: N means exactly N arguments (name included), -N means at least N.
    public let arity: Int
    public let firstKey: Int
    /// Negative counts from the end: -1 is the last argument.
    public let lastKey: Int
    public let keyStep: Int
    public let flags: CommandFlags
    /// For commands whose keys follow a count argument (EVAL, ZUNIONSTORE, LMPOP, ...):
    /// the count's index, the first key's index, and the step.
    public let keyCount: (countIndex: Int, firstKey: Int, step: Int)?
    public let hasSubcommands: Bool

    public init(_ name: String, _ arity: Int, _ firstKey: Int, _ lastKey: Int, _ keyStep: Int,
                _ flags: CommandFlags, _ keyCount: (Int, Int, Int)?, _ hasSubcommands: Bool) {
        self.name = name
        self.arity = arity
        self.firstKey = firstKey
        self.lastKey = lastKey
        self.keyStep = keyStep
        self.flags = flags
        self.keyCount = keyCount.map { (countIndex: $0.0, firstKey: $0.1, step: $0.2) }
        self.hasSubcommands = hasSubcommands
    }

    public func arityAccepts(_ argc: Int) -> Bool {
        arity >= 0 ? argc == arity : argc >= -arity
    }
}

/// What the proxy does with a command.
public enum CommandRoute: Equatable, Sendable {
    /// Sent to the server that owns its key(s); all keys must be on one server.
    case keyed
    /// Split per server and merged (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH).
    case split(SplitKind)
    /// Answered by the proxy itself.
    case local(LocalCommand)
    /// Refused with an error that names the command and the reason.
    case unsupported(UnsupportedReason)
}

public enum SplitKind: Equatable, Sendable {
    /// MGET: values in the client's key order.
    case values
    /// MSET: one +OK when every part succeeded.
    case allOK
    /// DEL, UNLINK, EXISTS, TOUCH: the sum of the parts' integers.
    case sum
}

public enum LocalCommand: Equatable, Sendable {
    case ping, echo, quit, select, command, config, client, hello, auth, info, time
}

public enum UnsupportedReason: Equatable, Sendable {
    /// Keyless commands that would need every server (KEYS, SCAN, FLUSHALL, DBSIZE, ...).
    case needsAllServers
    /// MULTI/EXEC/WATCH, SUBSCRIBE and blocking commands tie a client to one server
    /// connection; on shared pipelined connections they would stall other clients.
    case needsDedicatedConnection
    /// Administration of one server (SHUTDOWN, DEBUG, REPLICAOF, ...) has no meaning
    /// through a proxy that hides which server is which.
    case serverAdministration
}

public struct CommandInfo: Sendable {
    public let spec: RedisCommandSpec
    public let route: CommandRoute
    /// The upper-case name, for error messages.
    public let displayName: String
    /// What a read answers when its server is down and the pool answers misses.
    public let miss: MissReply
    /// Position in `CommandTable.commands` (for per-command statistics).
    public let index: Int
}

public struct CommandTable: Sendable {
    public let commands: [CommandInfo]
    /// Open addressing over `commands`, keyed by the lower-cased name; -1 is empty.
    private let slots: [Int32]
    private let mask: Int

    public static let redis70 = CommandTable(specs: redisCommandSpecs)

    public init(specs: [RedisCommandSpec]) {
        commands = specs.enumerated().map { i, spec in
            CommandInfo(spec: spec, route: CommandTable.route(for: spec), displayName: spec.name.uppercased(),
                        miss: MissReply.forCommand(spec), index: i)
        }
        var size = 1
        while size < commands.count * 4 { size <<= 1 }
        var table = [Int32](repeating: -1, count: size)
        for (i, c) in commands.enumerated() {
            var h = Array(c.spec.name.utf8).withUnsafeBytes { CommandTable.hash($0) } & (size - 1)
            while table[h] >= 0 { h = (h + 1) & (size - 1) }
            table[h] = Int32(i)
        }
        slots = table
        mask = size - 1
    }

    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> Int {
        var h: UInt32 = 2166136261
        for c in name { h = (h ^ UInt32(lower(c))) &* 16777619 }
        return Int(h)
    }

    /// The command named by `name` (any case), or nil. For subcommands pass
    /// "container|sub" as two parts via `lookup(container:sub:)`.
    public func lookup(_ name: UnsafeRawBufferPointer) -> CommandInfo? {
        if name.count > 32 { return nil }
        var h = CommandTable.hash(name) & mask
        while true {
            let idx = Int(slots[h])
            if idx < 0 { return nil }
            let candidate = commands[idx]
            if CommandTable.equalsLowercased(name, candidate.spec.name) { return candidate }
            h = (h + 1) & mask
        }
    }

    /// The "container|sub" row, e.g. OBJECT ENCODING, looked up without building a string.
    public func lookup(container: String, sub: UnsafeRawBufferPointer) -> CommandInfo? {
        var full = [UInt8](container.utf8)
        full.append(UInt8(ascii: "|"))
        for c in sub { full.append(CommandTable.lower(c)) }
        return full.withUnsafeBytes { lookup($0) }
    }

    static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ name: String) -> Bool {
        var i = 0
        for c in name.utf8 {
            if i >= bytes.count || lower(bytes[i]) != c { return false }
            i += 1
        }
        return i == bytes.count
    }

    /// The routing policy, derived from the metadata with a few named exceptions.
    static func route(for spec: RedisCommandSpec) -> CommandRoute {
        switch spec.name {
        case "mget": return .split(.values)
        case "mset": return .split(.allOK)
        case "del", "unlink", "exists", "touch": return .split(.sum)
        case "ping": return .local(.ping)
        case "echo": return .local(.echo)
        case "quit": return .local(.quit)
        case "select": return .local(.select)
        case "command": return .local(.command)
        case "config": return .local(.config)
        case "client": return .local(.client)
        case "hello": return .local(.hello)
        case "auth": return .local(.auth)
        case "info": return .local(.info)
        case "time": return .local(.time)
        case "multi", "exec", "discard", "watch", "unwatch", "monitor", "sync", "psync",
             "reset", "xread", "xreadgroup", "wait":
            return .unsupported(.needsDedicatedConnection)
        case "shutdown", "debug", "replicaof", "slaveof", "failover", "migrate", "module",
             "acl", "bgsave", "bgrewriteaof", "save", "lastsave", "cluster", "readonly",
             "readwrite", "asking", "latency", "slowlog", "memory", "lolwut", "swapdb",
             "role", "replconf", "pfdebug", "pfselftest":
            return .unsupported(.serverAdministration)
        default: break
        }
        if spec.flags.contains(.blocking) || spec.flags.contains(.pubsub) {
            return .unsupported(.needsDedicatedConnection)
        }
        if spec.hasSubcommands { return .keyed }  // resolved per subcommand at request time
        if spec.firstKey == 0 && spec.keyCount == nil { return .unsupported(.needsAllServers) }
        return .keyed
    }
}

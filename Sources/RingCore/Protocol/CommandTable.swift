// Redis's command metadata (from RedisCommands.swift, generated from redis-server 7.0's
// COMMAND reply) and what the proxy does with each command. Lookup is by the raw argument
// bytes, case-insensitive, with no String made on the request path.

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
    /// WATCH, MULTI, EXEC, DISCARD, UNWATCH: the session's transaction mode (TransactionRules).
    case transaction(TransactionCommand)
    /// Sent whole to every live server, the replies merged as the kind says.
    case broadcast(SplitKind)
    /// SUBSCRIBE and its kin: on the shared subscriber connections (SubscriptionTable).
    case subscription(SubscriptionCommand)
    /// SCAN: one server at a time, the one the client's cursor names (ScanCursor).
    case scan
}

public enum SplitKind: Equatable, Sendable {
    /// MGET: values in the client's key order.
    case values
    /// MSET: one +OK when every part succeeded.
    case allOK
    /// DEL, UNLINK, EXISTS, TOUCH (and DBSIZE over every server): the sum of the parts' integers.
    case sum
    /// Sent to every server (SCRIPT LOAD, FUNCTION LOAD, FLUSHDB): the reply they all gave
    /// (the first one), or the first error.
    case sameReply
    /// SCRIPT EXISTS: arrays of 0/1, combined element by element with AND.
    case logicalAnd
    /// KEYS: the servers' arrays, one after another (Redis's default for an all_shards
    /// command without a response_policy tip).
    case concat
    /// RANDOMKEY: the first reply that is not null, in part order (the caller starts the
    /// parts at a random server); null when every server answered null.
    case firstNonNull
    /// PUBSUB NUMSUB, SHARDNUMSUB: [name, count, ...] from every server, the counts added
    /// name by name (each server answers the same names in the client's order).
    case sumPairs
    /// PUBSUB NUMPAT: the largest count (the proxy subscribes every pattern on every server,
    /// so any one server counts each pattern once; a sum would count it per server).
    case maxInteger
    /// LASTSAVE: the smallest integer (every server has saved since that time).
    case minInteger
    /// SLOWLOG GET, LATENCY..., MEMORY STATS: every server's reply, combined and tagged with
    /// the server's name (ServerReplies).
    case byServer(ServerMerge)
    /// Not a route: one SCAN page from one server, its cursor rewritten (ScanPage).
    case scanPage
    /// Not a route: administration gathered from the servers (INFO, CONFIG), each part's
    /// reply kept and combined by a GatherPlan.
    case gather
}

public enum LocalCommand: Equatable, Sendable {
    case ping, echo, quit, select, command, config, client, hello, auth, info, time, reset, role, monitor
}

public enum UnsupportedReason: Equatable, Sendable {
    /// Keyless commands that would need every server and that the proxy does not combine
    /// (FUNCTION LIST, FUNCTION DUMP, ...).
    case needsAllServers
    /// MULTI/EXEC/WATCH, SUBSCRIBE and blocking commands tie a client to one server
    /// connection; on shared pipelined connections they would stall other clients.
    case needsDedicatedConnection
    /// Administration of one server (SHUTDOWN, DEBUG, REPLICAOF, ...) has no meaning
    /// through a proxy that hides which server is which.
    case serverAdministration
    /// WAIT counts the replicas of one server that took this client's writes; through the
    /// proxy a client's writes go to several servers, so no count would be true.
    case replicationWait
}

/// Where a command's keys are when Redis's key spec cannot say by position alone.
public enum KeyLayout: Equatable, Sendable {
    /// By the key spec (first, last, step; or a key count).
    case spec
    /// XREAD, XREADGROUP: the first half of the arguments after the STREAMS keyword.
    case afterStreams
    /// PUBLISH: the channel, argument 1, routed as a key would be.
    case channel
    /// SORT: the key, the last STORE destination, and the BY/GET patterns (RequestKeys).
    case sort
    /// SORT_RO: the key and the BY/GET patterns.
    case sortReadOnly
    /// GEORADIUS, GEORADIUSBYMEMBER: the key and the last STORE/STOREDIST destination.
    case storeOption
}

/// Where a command names a database.
public enum DatabaseArgument: Equatable, Sendable {
    /// MOVE key db: the argument at this index.
    case at(Int)
    /// COPY src dst [DB db]: the argument after the DB keyword. No payload: a String here
    /// would be one more retain and release on every copy of a command's row.
    case afterDBKeyword
}

public struct CommandInfo: Sendable {
    public let spec: RedisCommandSpec
    public let route: CommandRoute
    /// The upper-case name, for error messages.
    public let displayName: String
    /// What a read answers when its server is down and the pool answers misses.
    public let miss: MissReply
    /// Split commands: the name each server's part is sent as.
    public let wireName: StaticString?
    /// Where the keys are, when not by the key spec.
    public let keyLayout: KeyLayout
    /// Blocks the client (BLPOP...; XREAD and XREADGROUP only with BLOCK): it runs on a
    /// connection of its own.
    public let blocks: Bool
    /// MOVE, COPY: where the command names a database (checked against the pool's).
    public let databaseArgument: DatabaseArgument?
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
                        miss: MissReply.forCommand(spec), wireName: ProxyCommandPolicy.row(spec.name)?.wireName,
                        keyLayout: ProxyCommandPolicy.row(spec.name)?.keyLayout ?? .spec,
                        blocks: spec.flags.contains(.blocking),
                        databaseArgument: ProxyCommandPolicy.row(spec.name)?.database, index: i)
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
    static func lower(_ c: UInt8) -> UInt8 { ASCII.lower(c) }

    @inline(__always)
    static func hash(_ name: UnsafeRawBufferPointer) -> Int { Int(ASCII.caseFoldedHash(name)) }

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
        ASCII.equalsLowercased(bytes, name)
    }

    /// The routing policy: ProxyCommandPolicy's action where it has one, else derived from
    /// Redis's metadata. `rule` says which fact decided, so a test can check that no command
    /// is routed by the last-resort fallback.
    public static func classify(_ spec: RedisCommandSpec) -> (route: CommandRoute, rule: ClassificationRule) {
        switch ProxyCommandPolicy.row(spec.name)?.action {
        case let .local(command)?: return (.local(command), .proxyTable)
        case let .refuse(reason)?: return (.unsupported(reason), .proxyTable)
        case let .transaction(command)?: return (.transaction(command), .proxyTable)
        case .oneServer?, .routeByKeys?: return (.keyed, .proxyTable)
        case let .subscription(command)?: return (.subscription(command), .proxyTable)
        case .scan?: return (.scan, .proxyTable)
        case let .broadcastMerging(kind)?: return (.broadcast(kind), .proxyTable)
        case .broadcast?:
            // How the replies combine is Redis's response_policy tip; without one, an
            // all_shards command's arrays are concatenated (Redis's documented default).
            switch spec.responsePolicy {
            case .allSucceeded: return (.broadcast(.sameReply), .requestPolicy)
            case .aggLogicalAnd: return (.broadcast(.logicalAnd), .requestPolicy)
            case .aggSum: return (.broadcast(.sum), .requestPolicy)
            case .none where spec.requestPolicy == .allShards: return (.broadcast(.concat), .requestPolicy)
            default: return (.unsupported(.needsAllServers), .fallback)
            }
        case nil: break
        }
        if spec.requestPolicy == .multiShard {
            switch spec.responsePolicy {
            case .none: return (.split(.values), .requestPolicy)
            case .allSucceeded: return (.split(.allOK), .requestPolicy)
            case .aggSum: return (.split(.sum), .requestPolicy)
            default: return (.keyed, .fallback)
            }
        }
        if spec.flags.contains(.pubsub) {
            return (.unsupported(.needsDedicatedConnection), .flags)
        }
        if spec.hasSubcommands { return (.keyed, .subcommands) }  // resolved per subcommand at request time
        if spec.firstKey > 0 || spec.keyCount != nil { return (.keyed, .keySpec) }
        switch spec.requestPolicy {
        case .allShards, .allNodes, .special: return (.unsupported(.needsAllServers), .requestPolicy)
        case .none, .multiShard: break
        }
        if spec.flags.contains(.admin) { return (.unsupported(.serverAdministration), .flags) }
        return (.unsupported(.needsAllServers), .fallback)
    }

    static func route(for spec: RedisCommandSpec) -> CommandRoute { classify(spec).route }
}

/// Which fact decided a command's route (see `CommandTable.classify`).
public enum ClassificationRule: Equatable, Sendable {
    case proxyTable, requestPolicy, flags, subcommands, keySpec
    /// Nothing said: a keyless command refused as needing every server. No command of the
    /// table may end here; CommandPolicyTests lists any that do.
    case fallback
}

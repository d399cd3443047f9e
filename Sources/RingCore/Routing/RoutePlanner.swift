// What to do with one request: forward it whole to one server, split it over several,
// answer it in the proxy, or refuse it with an error. A pure decision from the command
// table, the pool's policy, the session's state and the request's bytes; the connection
// layer carries it out. The fuzz harness calls this very function.

/// What a pool decides about requests, independent of connections and health.
public struct PoolPolicy: Sendable {
    public let name: String
    /// By command index: refused through `deny_commands`.
    public let denied: [Bool]
    public let hashTag: HashTag?
    /// `keyless_scripts: any_server`: EVAL/FCALL with no key go to one server instead of
    /// being refused.
    public let keylessScriptsAnyServer: Bool
    /// `multi_across_servers` (see TransactionRules and PerServerTransaction).
    public let multiAcrossServers: MultiAcrossServers
    /// The pool's `databases`: MOVE and COPY ... DB may name only databases a client can
    /// SELECT, else the key would be where no client of the proxy can reach it.
    public let databases: Int

    public init(name: String, denied: [Bool], hashTag: HashTag?, keylessScriptsAnyServer: Bool = false,
                multiAcrossServers: MultiAcrossServers = .refuse, databases: Int = 16) {
        self.name = name
        self.denied = denied
        self.hashTag = hashTag
        self.keylessScriptsAnyServer = keylessScriptsAnyServer
        self.multiAcrossServers = multiAcrossServers
        self.databases = databases
    }

    /// `denyCommands` are lower-case names, "container|sub" for subcommands.
    public init(name: String, denyCommands: [String], hashTag: HashTag?, table: CommandTable,
                keylessScriptsAnyServer: Bool = false, multiAcrossServers: MultiAcrossServers = .refuse,
                databases: Int = 16) {
        let deny = Set(denyCommands)
        self.init(name: name, denied: table.commands.map { deny.contains($0.spec.name) }, hashTag: hashTag,
                  keylessScriptsAnyServer: keylessScriptsAnyServer, multiAcrossServers: multiAcrossServers,
                  databases: databases)
    }
}

public enum RouteDecision: Equatable, Sendable {
    /// The whole request to `server`; `miss` answers it if that server is down and the
    /// pool answers misses. `command` is the command's index in the table (for stats).
    case forward(server: Int, command: Int, miss: MissReply)
    /// Keys on several servers: the planner's `keyServers` and `partServers` hold where
    /// each key goes, until the next `plan`.
    case split(SplitKind, command: Int)
    /// Answered by the proxy.
    case local(LocalCommand, command: Int)
    /// A blocking command: the whole request to `server`, on a connection of its own.
    case block(server: Int, command: Int)
    /// WATCH (with its keys' server), MULTI, EXEC, DISCARD, UNWATCH: see TransactionRules.
    case transaction(TransactionCommand, server: Int?, command: Int)
    /// The whole request to every live server, the replies merged as `kind` says.
    /// `subcommand` is the row of the command's subcommand (SCRIPT LOAD), else the command.
    case broadcast(SplitKind, command: Int, subcommand: Int)
    /// SUBSCRIBE and its kin: each name on its server's shared subscriber connection
    /// (a pattern on every server).
    case subscription(SubscriptionCommand, command: Int)
    /// SCAN: the request to the server `cursor` names, with that server's cursor; the
    /// caller skips on to later servers when that one is down and the pool answers misses.
    case scan(ScanCursor, command: Int)
    case reject(ProxyError)
}

public struct RoutePlanner {
    public let table: CommandTable
    /// For the last `.split`: each key's server, in the client's key order.
    public private(set) var keyServers: [Int] = []
    /// For the last `.split`: the servers, in the order of their first key.
    public private(set) var partServers: [Int] = []
    /// The row of the last planned command (its subcommand's, for CONFIG GET...), -1 for an
    /// unknown one: CLIENT LIST's cmd= and MONITOR's filter read it.
    public private(set) var lastCommand = -1

    public init(table: CommandTable) {
        self.table = table
    }

    public mutating func plan(_ request: RequestView, state: SessionState, pool: PoolPolicy,
                              placement: KeyPlacement) -> RouteDecision {
        let argc = request.count
        lastCommand = -1
        guard let info = table.lookup(request[0]) else {
            return .reject(.unknownCommand(name: request.string(0), args: (1..<min(argc, 4)).map { request.string($0) }))
        }
        if !state.authenticated {
            switch info.route {
            case .local(.auth), .local(.hello), .local(.quit): break
            default: return .reject(.noAuth)
            }
        }
        if pool.denied[info.index] {
            return .reject(.denied(command: info.displayName, pool: pool.name))
        }
        var sub: CommandInfo?
        if info.spec.hasSubcommands && argc >= 2 {
            sub = table.lookup(container: info.spec.name, sub: request[1])
            if let s = sub, pool.denied[s.index] {
                return .reject(.denied(command: s.displayName.replacingPipe(), pool: pool.name))
            }
        }
        if !info.spec.arityAccepts(argc) {
            return .reject(.wrongArity(command: info.spec.name))
        }
        if case .subscribed = state.mode {
            // RESP2 subscribers may only (un)subscribe, PING, QUIT and RESET (Redis's rule);
            // RESP3 ones run anything but what would tie them to one server connection.
            switch info.route {
            case .subscription, .local(.ping), .local(.quit), .local(.reset): break
            case .transaction:
                return .reject(state.version == .resp2 ? .subscribedMode(command: info.spec.name)
                               : .notWhileSubscribed(command: info.displayName))
            default:
                if state.version == .resp2 { return .reject(.subscribedMode(command: (sub ?? info).spec.name)) }
            }
        }
        // Not `(sub ?? info).index`: that copies the whole row (and its strings) per request.
        lastCommand = sub?.index ?? info.index
        if case .monitoring = state.mode {
            switch info.route {
            case .local: break
            default: return .reject(.monitorKeyspace)
            }
        }
        switch info.route {
        case let .local(command):
            return .local(command, command: info.index)
        case let .unsupported(reason):
            return .reject(.unsupported(command: info.displayName, reason))
        case let .split(kind):
            return planSplit(kind, info, request, pool: pool, placement: placement)
        case let .broadcast(kind):
            return .broadcast(kind, command: info.index, subcommand: info.index)
        case let .subscription(command):
            return .subscription(command, command: info.index)
        case .scan:
            switch ScanCursor.decode(request[1], serverCount: placement.serverCount) {
            case let .success(cursor): return .scan(cursor, command: info.index)
            case .failure(.invalid): return .reject(.invalidCursor)
            case .failure(.otherRing): return .reject(.scanCursorOtherRing(servers: placement.serverCount))
            }
        case let .transaction(command):
            guard command == .watch else { return .transaction(command, server: nil, command: info.index) }
            let keyed = planKeyed(info.spec, info.displayName, request, miss: .error, command: info.index,
                                  layout: .spec, pool: pool, placement: placement)
            guard case let .forward(server, _, _) = keyed else { return keyed }
            return .transaction(.watch, server: server, command: info.index)
        case .keyed:
            guard info.spec.hasSubcommands else {
                if let argument = info.databaseArgument, let db = RoutePlanner.databaseNamed(argument, request),
                   db < 0 || db >= pool.databases {
                    return .reject(.databaseOutOfRange)
                }
                let keyed = planKeyed(info.spec, info.displayName, request, miss: info.miss, command: info.index,
                                      layout: info.keyLayout, pool: pool, placement: placement)
                if info.blocks, case let .forward(server, command, _) = keyed,
                   info.keyLayout != .afterStreams || RoutePlanner.hasBlockOption(request) {
                    // A subscriber's connection must keep taking messages.
                    if case .subscribed = state.mode { return .reject(.notWhileSubscribed(command: info.displayName)) }
                    return .block(server: server, command: command)
                }
                return keyed
            }
            guard let s = sub else {
                return .reject(.unknownSubcommand(sub: argc >= 2 ? request.string(1) : "", container: info.displayName))
            }
            let display = s.displayName.replacingPipe()
            if case let .unsupported(reason) = s.route { return .reject(.unsupported(command: display, reason)) }
            if !s.spec.arityAccepts(argc) { return .reject(.wrongArity(command: s.spec.name)) }
            if case let .broadcast(kind) = s.route { return .broadcast(kind, command: info.index, subcommand: s.index) }
            return planKeyed(s.spec, display, request, miss: s.miss, command: info.index, layout: .spec, pool: pool,
                             placement: placement)
        }
    }

    /// Every key must live on one server, and every key a SORT pattern can name on that
    /// server too. The keys are RequestKeys' (what COMMAND GETKEYS answers).
    private func planKeyed(_ spec: RedisCommandSpec, _ display: String, _ request: RequestView, miss: MissReply,
                           command: Int, layout: KeyLayout, pool: PoolPolicy, placement: KeyPlacement) -> RouteDecision {
        var target = -2
        var conflict = false
        var badPattern = -1
        let error = RequestKeys.visit(spec, layout: layout, request, key: { i in
            let s = placement.server(forKey: request[i])
            if target == -2 { target = s } else if s != target { conflict = true }
        }, pattern: { i in
            // SORT visits its key first, so `target` is the sorted key's server here.
            guard badPattern < 0 else { return }
            switch placement.place(sortPattern: request[i]) {
            case .noKey: break
            case let .server(s) where s == target: break
            default: badPattern = i
            }
        })
        if let error { return .reject(error) }
        if target == -2 {
            // EVAL and FCALL without keys touch no key: with `keyless_scripts: any_server` they
            // run on the server an empty key hashes to (a stable choice while the ring is).
            guard pool.keylessScriptsAnyServer, spec.keyCount != nil, layout == .spec else {
                return .reject(.noKeys(command: display))
            }
            target = placement.server(forKey: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        if conflict { return .reject(.crossServer(command: display, hashTag: pool.hashTag)) }
        if target < 0 { return .reject(.noLiveUpstream(pool: pool.name)) }
        if badPattern >= 0 {
            return .reject(.patternOnOtherServers(command: display, pattern: request.string(badPattern), hashTag: pool.hashTag))
        }
        return .forward(server: target, command: command, miss: miss)
    }

    /// MGET, MSET, DEL...: each key's server; one server means the request goes whole.
    private mutating func planSplit(_ kind: SplitKind, _ info: CommandInfo, _ request: RequestView,
                                    pool: PoolPolicy, placement: KeyPlacement) -> RouteDecision {
        let argc = request.count
        let step = kind.argumentsPerKey
        if (argc - 1) % step != 0 { return .reject(.wrongArity(command: info.spec.name)) }
        keyServers.removeAll(keepingCapacity: true)
        partServers.removeAll(keepingCapacity: true)
        for i in stride(from: 1, to: argc, by: step) {
            let s = placement.server(forKey: request[i])
            if s < 0 { return .reject(.noLiveUpstream(pool: pool.name)) }
            keyServers.append(s)
            if !partServers.contains(s) { partServers.append(s) }
        }
        if partServers.count == 1 {
            return .forward(server: partServers[0], command: info.index, miss: info.miss)
        }
        return .split(kind, command: info.index)
    }
}

extension RoutePlanner {
    /// The database a MOVE or COPY names, if it names one as an integer (anything else is
    /// left to the server, which answers Redis's own error).
    static func databaseNamed(_ argument: DatabaseArgument, _ request: RequestView) -> Int? {
        switch argument {
        case let .at(i):
            return i < request.count ? request.integer(i) : nil
        case .afterDBKeyword:
            var i = 1
            while i + 1 < request.count {
                if request.argument(i, is: "db") { return request.integer(i + 1) }
                i += 1
            }
            return nil
        }
    }

    /// XREAD and XREADGROUP block only with a BLOCK option before STREAMS.
    public static func hasBlockOption(_ request: RequestView) -> Bool {
        var i = 1
        while i < request.count {
            if request.argument(i, is: "streams") { return false }
            if request.argument(i, is: "block") { return true }
            i += 1
        }
        return false
    }
}

extension SplitKind {
    /// MSET's parts carry each key's value after it.
    @inlinable public var argumentsPerKey: Int { self == .allOK ? 2 : 1 }

    /// KEYS and RANDOMKEY read the keyspace: every server takes part, and a down one either
    /// counts as holding no keys (where the pool treats its keys as missing) or fails the
    /// command with an error naming it. Other broadcasts go to the live servers only.
    public var readsKeyspace: Bool { self == .concat || self == .firstNonNull }

    /// What a server holding no keys answers: the part of a down server that is skipped.
    public var emptyReply: StaticString { self == .firstNonNull ? "$-1\r\n" : "*0\r\n" }
}

extension String {
    /// "OBJECT|ENCODING" -> "OBJECT ENCODING", for error messages.
    public func replacingPipe() -> String {
        String(map { $0 == "|" ? " " : $0 })
    }
}

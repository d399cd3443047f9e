// What the proxy knows about one client connection besides its bytes: its mode, protocol,
// authentication and name. A value type: the session's modes are an explicit state machine
// here, changed only through `apply`, never through flags spread over the connection class.

public enum SessionMode: Equatable, Sendable {
    /// Requests are read and handled.
    case normal
    /// WATCH: the client holds a connection leased to `server`, where its keys are watched.
    case watching(server: Int)
    /// Between MULTI and EXEC (see TransactionRules).
    case transaction(Transaction)
    /// A blocking command waits on a connection leased to `server`; nothing more is read
    /// until it answers, as Redis reads nothing more from a blocked client.
    case blocked(server: Int)
    /// At least one subscription: messages may arrive at any time. A RESP2 client may only
    /// (un)subscribe, PING, QUIT and RESET, as in Redis; a RESP3 one runs other commands too,
    /// except transactions and blocking commands (see RoutePlanner).
    case subscribed
    /// A per_server EXEC: it waits for the replies owed before it, then runs on leases; nothing
    /// more is read until its merged reply is written, so no later request overtakes its parts.
    case executing
    /// MONITOR: every request the proxy receives is streamed to this client; its own
    /// commands that touch keys are refused, as Redis refuses a monitor's (RESET ends it).
    case monitoring
    /// QUIT, end of input or a request that cannot be framed: nothing more is read, and the
    /// connection closes once every reply owed for earlier requests is written.
    case closing
}

public enum SessionEvent: Equatable, Sendable {
    case quit
    case protocolError
    /// The client half-closed its side (EOF); replies still owed are written.
    case endOfInput
}

/// What the connection must do after an event.
public enum SessionTransition: Equatable, Sendable {
    /// Stop reading; close when nothing is owed.
    case beginClosing
    /// Already closing: nothing new to do.
    case none
}

public struct SessionState: Sendable {
    public let id: UInt64
    /// Changed by `apply`, `applyTransaction`, `block` and their kin, never from outside.
    public internal(set) var mode: SessionMode = .normal
    public var version: RESPVersion = .resp2
    public var authenticated: Bool
    public var clientName: String?
    /// The database SELECT chose: the client's requests travel on server connections that
    /// selected it. Starts at the pool's redis_db.
    public var database: Int

    public init(id: UInt64, authenticated: Bool, database: Int = 0) {
        self.id = id
        self.authenticated = authenticated
        self.database = database
    }

    /// Requests are read and handled (not blocked, not closing).
    @inlinable public var acceptsRequests: Bool {
        switch mode {
        case .normal, .watching, .transaction, .subscribed, .monitoring: return true
        case .blocked, .executing, .closing: return false
        }
    }

    @inlinable public var isNormal: Bool {
        if case .normal = mode { return true }
        return false
    }

    /// Requests are carried out as routed: no WATCH or MULTI holds the session.
    @inlinable public var outsideTransaction: Bool {
        switch mode {
        case .normal, .subscribed, .monitoring: return true
        default: return false
        }
    }

    @inlinable public var isBlocked: Bool {
        if case .blocked = mode { return true }
        return false
    }

    /// QUIT, EOF or a framing error: nothing more is handled, and the connection closes once
    /// every owed reply is written.
    @inlinable public var isClosing: Bool {
        if case .closing = mode { return true }
        return false
    }

    /// Holding a leased connection's state: WATCH or MULTI.
    @inlinable public var inTransactionMode: Bool {
        switch mode {
        case .watching, .transaction: return true
        default: return false
        }
    }

    /// A request in WATCH or MULTI, or a transaction command (see TransactionRules).
    public mutating func applyTransaction(command: TransactionCommand?, server: Int?, refused: ProxyError?,
                                          acrossServers: MultiAcrossServers = .refuse) -> TransactionStep {
        TransactionRules.step(&mode, command: command, server: server, refused: refused, acrossServers: acrossServers)
    }

    /// A per_server EXEC begins: nothing more is read until `finishExecuting`.
    public mutating func beginExecuting() {
        if mode == .normal { mode = .executing }
    }

    /// Its merged reply was written (or it failed before sending anything).
    public mutating func finishExecuting() {
        if mode == .executing { mode = .normal }
    }

    @inlinable public var isExecuting: Bool {
        if case .executing = mode { return true }
        return false
    }

    /// The lease broke (its server failed): WATCH is gone, a transaction cannot be applied
    /// any more (EXEC will answer EXECABORT), a blocked client is free.
    public mutating func leaseLost() {
        switch mode {
        case .watching, .blocked: mode = .normal
        case let .transaction(tx) where tx.perServer:
            break  // it holds no lease: a lease left over from before is not its own
        case var .transaction(tx):
            tx.failed = true
            tx.server = nil
            tx.deferred = 0
            mode = .transaction(tx)
        case .normal, .executing, .closing, .subscribed, .monitoring: break
        }
    }

    /// The client's subscriptions changed: it enters subscribed mode with its first and
    /// leaves it with its last (SUBSCRIBE is refused in WATCH, MULTI and while blocked).
    public mutating func subscriptionsChanged(active: Bool) {
        switch mode {
        case .normal where active: mode = .subscribed
        case .subscribed where !active: mode = .normal
        default: break
        }
    }

    /// RESET: out of any transaction or subscription, back to RESP2, the pool's database,
    /// no name; authenticated again only if the pool needs no password. The connection
    /// layer drops the lease and the subscriptions first.
    public mutating func reset(database: Int, authenticated: Bool) {
        if mode != .closing { mode = .normal }
        version = .resp2
        self.database = database
        self.authenticated = authenticated
        clientName = nil
    }

    /// MONITOR: from a plain session only (Redis refuses it in MULTI; a subscriber's
    /// connection carries its messages).
    public mutating func beginMonitoring() {
        if mode == .normal { mode = .monitoring }
    }

    @inlinable public var isMonitoring: Bool {
        if case .monitoring = mode { return true }
        return false
    }

    /// A blocking command was sent on a lease to `server`.
    public mutating func block(on server: Int) {
        if mode == .normal { mode = .blocked(server: server) }
    }

    /// The blocking command answered (or its lease failed).
    public mutating func unblock() {
        if case .blocked = mode { mode = .normal }
    }

    public mutating func apply(_ event: SessionEvent) -> SessionTransition {
        switch mode {
        case .closing:
            return .none
        case .normal, .watching, .transaction, .blocked, .executing, .subscribed, .monitoring:
            // A blocked client that half-closes still gets its reply (see ClientSession).
            mode = .closing
            return .beginClosing
        }
    }
}

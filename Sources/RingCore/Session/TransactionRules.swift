// WATCH, MULTI, EXEC, DISCARD and UNWATCH as Redis answers them, for a client whose
// transaction runs on a connection leased to one server. Pure: given the session's mode and
// where a request would go, it says what to send on the lease and what the client gets; the
// connection layer holds the lease and carries it out.

/// The commands that change a session's transaction mode.
public enum TransactionCommand: Equatable, Sendable {
    case multi, exec, discard, watch, unwatch
}

/// A transaction between MULTI and EXEC.
public struct Transaction: Equatable, Sendable {
    /// The server every key must live on: the first key's, or the watched keys'. nil until
    /// then: MULTI and keyless commands before the first key wait in the proxy.
    public var server: Int?
    /// WATCH came first: the lease already exists, and EXEC may answer a null array.
    public var watched: Bool
    /// A command was refused while queuing: EXEC answers EXECABORT and applies nothing.
    public var failed: Bool
    /// Keyless commands (PING, ECHO...) queued before the server was known: they follow
    /// MULTI onto the lease once it is, and their QUEUED replies were given by the proxy.
    public var deferred: Int
    /// `multi_across_servers: per_server` without WATCH: the proxy queues the commands and
    /// runs them per server at EXEC (see PerServerTransaction); no lease is held meanwhile.
    public var perServer: Bool

    public init(server: Int?, watched: Bool, perServer: Bool = false) {
        self.server = server
        self.watched = watched
        self.failed = false
        self.deferred = 0
        self.perServer = perServer
    }
}

/// What to do with a request in the session's current mode.
public enum TransactionStep: Equatable, Sendable {
    /// Not a transaction matter: route it as usual.
    case route
    /// Reply this (Redis's own text) and change nothing else.
    case reply(TransactionReply)
    /// Take a lease on `server` (unless held), then send the request on it. `openMulti`: a
    /// MULTI the proxy already answered must go first, followed by `deferred` keyless
    /// commands the proxy kept; their replies are not the client's.
    case onLease(server: Int, openMulti: Bool, deferred: Int)
    /// Queue a keyless command before any key: the proxy answers QUEUED and keeps it.
    case deferUntilKeyed
    /// The request breaks the transaction (a key on another server, or a command the proxy
    /// refuses): its error goes to the client and EXEC will answer EXECABORT.
    case abort(ProxyError)
    /// EXEC of a transaction that had no keyed command but `deferred` keyless ones: they run
    /// on a lease to any live server, after MULTI.
    case execWithoutServer(deferred: Int)
    /// EXEC or DISCARD on the lease; the lease is released once its reply arrives.
    /// `abort`: the transaction failed, so DISCARD is sent and the client gets EXECABORT.
    case finishOnLease(server: Int, abort: Bool)
    /// UNWATCH on the lease, then release it.
    case unwatchOnLease(server: Int)
    /// per_server: the proxy queues the request (PerServerTransaction says its reply).
    case queueInProxy
    /// per_server EXEC: the proxy's queue runs, one MULTI/EXEC per server.
    case execQueued
    /// per_server DISCARD: the proxy's queue is dropped and the client gets +OK.
    case discardQueued
}

public enum TransactionReply: Equatable, Sendable {
    case ok, queued, emptyArray
    case error(String)

    public func write(into out: ByteBuffer) {
        switch self {
        case .ok: out.append("+OK\r\n")
        case .queued: out.append("+QUEUED\r\n")
        case .emptyArray: out.append("*0\r\n")
        case let .error(text): out.appendError(text)
        }
    }
}

public enum TransactionRules {
    public static let execAbort = "EXECABORT Transaction discarded because of previous errors."

    /// `command` is the request's transaction command, if it is one; `server` is where its
    /// keys live (nil for keyless requests); `refused` is set when the proxy itself would
    /// refuse the request; `acrossServers` is the pool's multi_across_servers. Updates `mode`.
    public static func step(_ mode: inout SessionMode, command: TransactionCommand?, server: Int?,
                            refused: ProxyError?, acrossServers: MultiAcrossServers = .refuse) -> TransactionStep {
        switch mode {
        case .normal:
            switch command {
            case .multi?:
                // After WATCH (below) the transaction stays on the watched server's lease
                // whatever the setting: the watch lives on that one connection.
                mode = .transaction(Transaction(server: nil, watched: false, perServer: acrossServers == .perServer))
                return .reply(.ok)
            case .watch?:
                guard let s = server else { return .route }  // arity already refused a keyless WATCH
                mode = .watching(server: s)
                return .onLease(server: s, openMulti: false, deferred: 0)
            case .exec?: return .reply(.error("ERR EXEC without MULTI"))
            case .discard?: return .reply(.error("ERR DISCARD without MULTI"))
            case .unwatch?: return .reply(.ok)
            case nil: return .route
            }
        case let .watching(watchServer):
            switch command {
            case .multi?:
                mode = .transaction(Transaction(server: watchServer, watched: true))
                return .onLease(server: watchServer, openMulti: false, deferred: 0)
            case .watch?:
                guard server == watchServer else {
                    return .reply(.error(ProxyError.crossServer(command: "WATCH", hashTag: nil).message))
                }
                return .onLease(server: watchServer, openMulti: false, deferred: 0)
            case .unwatch?:
                mode = .normal
                return .unwatchOnLease(server: watchServer)
            case .exec?: return .reply(.error("ERR EXEC without MULTI"))
            case .discard?: return .reply(.error("ERR DISCARD without MULTI"))
            case nil:
                // Reads between WATCH and MULTI go where they would anyway; those on the
                // watched server take the lease, so they follow the WATCH in order.
                if let s = server, s == watchServer { return .onLease(server: s, openMulti: false, deferred: 0) }
                return .route
            }
        case var .transaction(tx):
            switch command {
            case .multi?: return .reply(.error("ERR MULTI calls can not be nested"))
            case .watch?: return .reply(.error("ERR WATCH inside MULTI is not allowed"))
            case .exec? where tx.perServer:
                mode = .normal
                return .execQueued
            case .discard? where tx.perServer:
                mode = .normal
                return .discardQueued
            case .unwatch? where tx.perServer, nil where tx.perServer:
                return .queueInProxy
            case .exec?, .discard?:
                mode = .normal
                let discard = command == .discard
                guard let s = tx.server else {
                    if discard { return .reply(.ok) }
                    if tx.failed { return .reply(.error(execAbort)) }
                    return tx.deferred == 0 ? .reply(.emptyArray) : .execWithoutServer(deferred: tx.deferred)
                }
                // A failed transaction is discarded on the server; the client gets EXECABORT.
                return .finishOnLease(server: s, abort: tx.failed && !discard)
            case .unwatch?, nil:
                let step = queue(&tx, server: server, refused: refused)
                mode = .transaction(tx)
                return step
            }
        case .blocked, .executing, .closing, .subscribed, .monitoring:
            return .route
        }
    }

    /// A command between MULTI and EXEC.
    private static func queue(_ tx: inout Transaction, server: Int?, refused: ProxyError?) -> TransactionStep {
        if let error = refused {
            tx.failed = true
            return .abort(error)
        }
        guard let s = server else {
            if let held = tx.server { return .onLease(server: held, openMulti: false, deferred: 0) }
            tx.deferred += 1
            return .deferUntilKeyed
        }
        if let held = tx.server {
            guard held == s else {
                tx.failed = true
                return .abort(.crossServer(command: "MULTI", hashTag: nil))
            }
            return .onLease(server: s, openMulti: false, deferred: 0)
        }
        tx.server = s
        let deferred = tx.deferred
        tx.deferred = 0
        return .onLease(server: s, openMulti: true, deferred: deferred)
    }
}

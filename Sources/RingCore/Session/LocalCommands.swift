// Commands the proxy answers itself, because they concern the connection (PING, HELLO,
// AUTH, SELECT, CLIENT, QUIT) or because clients ask them at start-up (COMMAND from
// redis-cli, CONFIG GET from redis-benchmark). Each is a function of the request and the
// session's state: it writes the reply (in the client's protocol) and changes the state;
// the connection layer only carries out the returned effect.

#if canImport(Glibc)
import Glibc
#endif

public enum RingProxyVersion {
    public static let string = "0.1.0"
    /// What HELLO and INFO report as the Redis version: the command set the proxy routes.
    public static let redisCompatible = "7.0.15"
}

/// What a pool lets local commands know.
public struct LocalSettings: Sendable {
    /// The password clients must give; nil: no AUTH needed.
    public var password: String?
    /// The user name AUTH must name, if any ("default" otherwise).
    public var user: String?
    /// Top-level commands in the table, for COMMAND COUNT.
    public var commandCount: Int
    /// SELECT takes 0..<databases, as Redis's `databases`.
    public var databases: Int
    /// CONFIG GET parameters the proxy answers itself rather than a server (`databases` is
    /// added from `databases`): maxclients, timeout, port...
    public var configOverrides: [InfoField] = []
    /// The pool's redis_db: where a client starts, and where RESET takes it back.
    public var startDatabase: Int
    /// By command index: in the pool's deny_commands (COMMAND DOCS marks them).
    public var denied: [Bool] = []

    public init(password: String?, user: String?, commandCount: Int, databases: Int = 16, startDatabase: Int = 0) {
        self.password = password
        self.user = user
        self.commandCount = commandCount
        self.databases = databases
        self.startDatabase = startDatabase
    }
}

/// What the connection must do after a local command's reply.
public enum LocalEffect: Equatable, Sendable {
    case none
    /// QUIT: close once the reply is written.
    case close
    /// RESET: the connection drops its lease and subscriptions (the state is reset already).
    case reset
    /// MONITOR: the session entered monitoring mode (the +OK is written); the connection
    /// starts receiving every worker's monitor lines.
    case monitor
    /// The reply needs the servers (INFO, CONFIG): the connection asks them and merges.
    case askServers(ServerQuery)
    /// The reply needs every worker's clients (CLIENT LIST, KILL, PAUSE).
    case askWorkers(WorkerQuery)
    /// CLIENT INFO: the connection describes itself (its address, buffers, last command).
    case describeSelf
}

/// What a local command needs from the servers.
public enum ServerQuery: Equatable, Sendable {
    /// INFO: every live server's sections, merged with the proxy's.
    case info(InfoQuery)
    /// CONFIG GET: one live server's parameters, with the proxy's `overrides` in place.
    case configGet(overrides: [InfoField])
    /// CONFIG SET, REWRITE, RESETSTAT: every server, +OK only if all said so.
    case everyServer(resetsProxyStats: Bool)
}

/// What a local command needs from every worker.
public enum WorkerQuery: Equatable, Sendable {
    case list(ClientListFilter)
    case kill(ClientKillFilter)
    case pause(ClientPause.Mode, milliseconds: Int)
    case unpause
}

public enum LocalCommands {
    /// Answers `command` into `out`, or says what the connection must gather to answer it.
    public static func run(_ command: LocalCommand, _ request: RequestView, state: inout SessionState,
                           settings: LocalSettings, out: ByteBuffer) -> LocalEffect {
        let argc = request.count
        switch command {
        case .ping:
            if state.mode == .subscribed && state.version == .resp2 && argc <= 2 {
                SubscriptionReplies.subscribedPong(argc == 2 ? request[1] : nil, into: out)
            } else if argc == 1 { out.append("+PONG\r\n") } else if argc == 2 { out.appendBulk(request[1]) } else {
                out.appendError(ProxyError.wrongArity(command: "ping").message)
            }
        case .echo:
            out.appendBulk(request[1])
        case .quit:
            out.append("+OK\r\n")
            return .close
        case .select:
            // Redis's own checks and texts (selectCommand in db.c).
            guard let db = request.integer(1) else {
                out.appendError(ProxyError.notInteger.message)
                break
            }
            guard db >= 0, db < settings.databases else {
                out.appendError("ERR DB index is out of range")
                break
            }
            state.database = db
            out.append("+OK\r\n")
        case .command:
            CommandCommand.run(request, state: state, settings: settings, out: out)
        case .role:
            CommandCommand.role(out: out)
        case .config:
            return configCommand(request, state: state, settings: settings, out: out)
        case .client:
            return clientCommand(request, state: &state, settings: settings, out: out)
        case .hello:
            hello(request, state: &state, settings: settings, out: out)
        case .auth:
            if argc == 2 {
                if authenticate(user: nil, password: request[1], state: &state, settings: settings, out: out) {
                    out.append("+OK\r\n")
                }
            } else if argc == 3 {
                if authenticate(user: request[1], password: request[2], state: &state, settings: settings, out: out) {
                    out.append("+OK\r\n")
                }
            } else {
                out.appendError("ERR syntax error")
            }
        case .info:
            return .askServers(.info(InfoQuery(arguments: (1..<argc).map { request.string($0) })))
        case .reset:
            state.reset(database: settings.startDatabase, authenticated: settings.password == nil)
            out.append("+RESET\r\n")
            return .reset
        case .monitor:
            // Again on a monitor: nothing changes (Redis answers OK too). A subscriber's
            // connection carries its messages, and a transaction's its queue.
            if state.isMonitoring {
                out.append("+OK\r\n")
            } else if !state.isNormal {
                out.appendError("ERR ringproxy: MONITOR needs a connection outside subscriptions and transactions")
            } else {
                state.beginMonitoring()
                out.append("+OK\r\n")
                return .monitor
            }
        case .time:
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            out.appendArrayHeader(2)
            out.appendBulk(string: String(now.tv_sec))
            out.appendBulk(string: String(now.tv_nsec / 1000))
        }
        return .none
    }

    /// Compares in time independent of where the first difference is.
    static func constantTimeEquals(_ a: UnsafeRawBufferPointer, _ b: String) -> Bool {
        let expected = Array(b.utf8)
        var diff = UInt8(truncatingIfNeeded: a.count ^ expected.count)
        for i in 0..<max(a.count, expected.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < expected.count ? expected[i] : 0
            diff |= x ^ y
        }
        return diff == 0 && a.count == expected.count
    }

    /// Checks the credentials and marks the session authenticated; on failure writes the
    /// error and returns false. Writes nothing on success.
    static func authenticate(user: UnsafeRawBufferPointer?, password: UnsafeRawBufferPointer,
                             state: inout SessionState, settings: LocalSettings, out: ByteBuffer) -> Bool {
        guard let expected = settings.password else {
            out.appendError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            return false
        }
        // The user name is compared in constant time too, and both comparisons always run,
        // so the reply time tells nothing about which part was wrong.
        let expectedUser = settings.user ?? "default"
        let userOK = user.map { constantTimeEquals($0, expectedUser) } ?? (settings.user == nil)
        let passwordOK = constantTimeEquals(password, expected)
        if userOK && passwordOK {
            state.authenticated = true
            return true
        }
        out.appendError("WRONGPASS invalid username-password pair or user is disabled.")
        return false
    }

    static func hello(_ request: RequestView, state: inout SessionState, settings: LocalSettings, out: ByteBuffer) {
        let argc = request.count
        var newVersion = state.version
        if argc >= 2 {
            switch request.integer(1) {
            case 2: newVersion = .resp2
            case 3: newVersion = .resp3
            default:
                out.appendError("NOPROTO unsupported protocol version")
                return
            }
        }
        var i = 2
        var newName: String?
        while i < argc {
            let option = request.lowercased(i)
            if option == "auth" && i + 2 < argc {
                if !authenticate(user: request[i + 1], password: request[i + 2], state: &state, settings: settings, out: out) {
                    return
                }
                i += 3
            } else if option == "setname" && i + 1 < argc {
                newName = request.string(i + 1)
                i += 2
            } else {
                out.appendError("ERR Syntax error in HELLO option '\(option)'")
                return
            }
        }
        if !state.authenticated {
            out.appendError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        if let n = newName { state.clientName = n }
        state.version = newVersion
        let v = newVersion
        out.appendMapHeader(7, v)
        out.appendBulk(string: "server"); out.appendBulk(string: "redis")
        out.appendBulk(string: "version"); out.appendBulk(string: RingProxyVersion.redisCompatible)
        out.appendBulk(string: "proto"); out.appendInteger(Int(v.rawValue))
        out.appendBulk(string: "id"); out.appendInteger(Int(truncatingIfNeeded: state.id))
        out.appendBulk(string: "mode"); out.appendBulk(string: "standalone")
        out.appendBulk(string: "role"); out.appendBulk(string: "master")
        out.appendBulk(string: "modules"); out.appendArrayHeader(0)
    }
}

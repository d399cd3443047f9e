// Every error the proxy itself answers a request with, and its text. Texts that Redis
// defines are Redis's, word for word (clients match on them); the proxy's own start with
// "ERR ringproxy:" and say what to do instead.

public enum ProxyError: Equatable, Error, Sendable {
    /// The name and up to three arguments, as Redis quotes them.
    case unknownCommand(name: String, args: [String])
    case noAuth
    case denied(command: String, pool: String)
    case wrongArity(command: String)
    case unknownSubcommand(sub: String, container: String)
    case unsupported(command: String, UnsupportedReason)
    case noKeys(command: String)
    case crossServer(command: String, hashTag: HashTag?)
    /// A SORT BY/GET pattern that can name keys on other servers than the sorted key's.
    case patternOnOtherServers(command: String, pattern: String, hashTag: HashTag?)
    case notInteger
    /// MOVE or COPY ... DB naming a database outside the pool's `databases` (Redis's text).
    case databaseOutOfRange
    case negativeKeyCount
    case keyCountTooLarge
    case noLiveUpstream(pool: String)
    case syntax
    /// The upstream's own error text (down, backing off), for a lease that cannot be had.
    case unreachable(String)
    case tooManyBlocked(upstream: String, limit: Int)
    /// A connection-level command the proxy answers itself (SELECT, AUTH, CLIENT...) sent
    /// between MULTI and EXEC, where Redis would queue it.
    case notInTransaction(command: String)
    /// RESP2 subscribed mode: Redis's own error.
    case subscribedMode(command: String)
    /// A MONITOR connection's command that reads or writes keys (Redis's own text: a
    /// monitor is a replica to Redis).
    case monitorKeyspace
    /// A RESP3 subscriber's transaction or blocking command, which would tie its
    /// connection to one server while messages must keep arriving.
    case notWhileSubscribed(command: String)
    /// SUBSCRIBE and its kin inside WATCH or MULTI, which hold a connection leased to one
    /// server.
    case subscribeInTransaction(command: String)
    /// A request that cannot be framed (RequestParser's message).
    case protocolError(String)
    /// A SCAN cursor that is not a 64-bit unsigned number (Redis's own text).
    case invalidCursor
    /// A SCAN cursor whose check digit says it was made for a ring of another server count.
    case scanCursorOtherRing(servers: Int)
    /// A server's SCAN cursor too large to share 64 bits with its server index (ScanCursor).
    case scanCursorTooLarge(serverCursor: UInt64)
    /// A server answered SCAN with something other than a cursor and an array.
    case unexpectedScanReply

    /// Longest name or argument quoted back in an unknown-command error, as Redis cuts them.
    static let quotedArgumentLimit = 128

    public var message: String {
        switch self {
        case let .unknownCommand(name, args):
            var text = "ERR unknown command '\(name.prefix(ProxyError.quotedArgumentLimit))', with args beginning with: "
            for a in args { text += "'\(a.prefix(ProxyError.quotedArgumentLimit))' " }
            return text
        case .noAuth:
            return "NOAUTH Authentication required."
        case let .denied(command, pool):
            return "ERR ringproxy: '\(command)' is denied by this proxy (deny_commands of pool \(pool))"
        case let .wrongArity(command):
            return "ERR wrong number of arguments for '\(command)' command"
        case let .unknownSubcommand(sub, container):
            return "ERR unknown subcommand '\(sub)'. Try \(container) HELP."
        case let .unsupported(command, .needsAllServers):
            return "ERR ringproxy: '\(command)' is not supported: it would need every server of the pool"
        case let .unsupported(command, .needsDedicatedConnection):
            return "ERR ringproxy: '\(command)' is not supported: it needs a server connection of its own, and the proxy shares them"
        case let .unsupported(command, .replicationWait):
            return "ERR ringproxy: '\(command)' is not supported: it counts one server's replicas, and through the proxy a client's writes go to several servers"
        case let .unsupported(command, .serverAdministration):
            return "ERR ringproxy: '\(command)' is not supported through the proxy: run it against a server directly"
        case let .noKeys(command):
            return "ERR ringproxy: '\(command)' without keys cannot be routed: the proxy picks a server by key"
        case let .crossServer(command, tag):
            let hint = tag.map {
                let open = Character(UnicodeScalar($0.open)), close = Character(UnicodeScalar($0.close))
                return "give them a common hash tag, e.g. \(open)user1\(close):a and \(open)user1\(close):b"
            } ?? "set hash_tag in the pool (e.g. \"{}\") and give them a common tag"
            return "ERR ringproxy: the keys of '\(command)' live on different servers; \(hint) to keep them on one server"
        case let .patternOnOtherServers(command, pattern, tag):
            let hint = tag.map {
                let open = Character(UnicodeScalar($0.open)), close = Character(UnicodeScalar($0.close))
                return "put the key's hash tag before the '*', e.g. \(open)user1\(close):* with key \(open)user1\(close):list"
            } ?? "set hash_tag in the pool (e.g. \"{}\") and put the key's tag before the '*'"
            return "ERR ringproxy: the pattern '\(pattern.prefix(ProxyError.quotedArgumentLimit))' of '\(command)' can name keys on other servers than the key's (as Redis Cluster refuses it); \(hint)"
        case .databaseOutOfRange:
            return "ERR DB index is out of range"
        case .notInteger:
            return "ERR value is not an integer or out of range"
        case .negativeKeyCount:
            return "ERR Number of keys can't be negative"
        case .keyCountTooLarge:
            return "ERR Number of keys can't be greater than number of args"
        case let .noLiveUpstream(pool):
            return "ERR ringproxy: pool \(pool) has no live upstream"
        case .syntax:
            return "ERR syntax error"
        case let .unreachable(text):
            return text
        case .monitorKeyspace:
            return "ERR Replica can't interact with the keyspace"
        case let .subscribedMode(command):
            return SubscriptionReplies.notAllowedMessage(command)
        case let .notWhileSubscribed(command):
            return "ERR ringproxy: '\(command)' is not supported on a subscribed connection: use another connection for it"
        case let .subscribeInTransaction(command):
            return "ERR ringproxy: '\(command)' inside WATCH or MULTI is not supported: a subscriber's connection must keep taking messages"
        case let .notInTransaction(command):
            return "ERR ringproxy: '\(command)' inside MULTI is not supported: the proxy answers it itself, outside the transaction"
        case let .tooManyBlocked(upstream, limit):
            return "ERR ringproxy: too many clients blocked on upstream \(upstream) (max_blocked_clients \(limit) per worker); try again later"
        case let .protocolError(message):
            return message
        case .invalidCursor:
            return "ERR invalid cursor"
        case let .scanCursorOtherRing(servers):
            return "ERR ringproxy: this SCAN cursor was made for a ring with another number of servers (this pool has \(servers)); start again from cursor 0"
        case let .scanCursorTooLarge(serverCursor):
            return "ERR ringproxy: a server answered SCAN cursor \(serverCursor), too large to carry with its server index in one 64-bit cursor"
        case .unexpectedScanReply:
            return "ERR ringproxy: unexpected reply to SCAN from a server"
        }
    }
}

// The messages of a binary upgrade's handover, as the running process and its successor
// exchange them over the takeover socket (a SOCK_SEQPACKET unix socket, so one message is one
// record and needs no framing). Pure: encoding and checking only; the descriptors that travel
// with `listener` messages are the system layer's business (RingServer/Handover).
//
// The conversation:
//   new -> old  hello(pid)
//   old -> new  listener(role, address) once per listening socket, its descriptor attached
//   old -> new  end(count, pid)
//   new -> old  serving(pid)        the new process accepts on every socket it took
//   old -> new  released            the old one stopped accepting and let go of the path
//   old -> new  client(...) per idle client connection, its descriptor attached, until the
//               old process exits: the connection itself moves, with the session state
//               the new process needs to go on serving it (see HandoverDrain)
// Text, so a capture or a log line of one is readable; each record starts with the protocol
// name and version, so a stray client of the socket is told apart at once.

/// What a handed-over listening socket served in the old process.
public enum ListenerRole: String, Sendable, CaseIterable {
    /// A pool's listener (TCP: one per worker, SO_REUSEPORT; unix: one).
    case pool
    /// The admin HTTP listener.
    case admin
}

public enum HandoverMessage: Equatable, Sendable {
    case hello(pid: Int32)
    /// `address`: "ip:port" as the socket is bound ("[::1]:6380" for IPv6), or a unix path.
    case listener(role: ListenerRole, address: String)
    case end(count: Int, pid: Int32)
    case serving(pid: Int32)
    case released
    /// An idle client connection of the pool listening on `HandedClient.address`.
    case client(HandedClient)

    /// The first word of every record.
    public static let magic = "ringproxy-handover/1"
    /// A record is at most this long: a unix path is at most 107 bytes, so any valid
    /// record is far shorter, and the receiver's buffer has a fixed size.
    public static let maxBytes = 1024
    /// More listening sockets than this in one handover is refused as garbled: one per
    /// worker (at most 1024 threads, LaunchOptions' bound) per pool, with room for many pools.
    public static let maxListeners = 65_536

    public func encoded() -> [UInt8] {
        let body: String
        switch self {
        case let .hello(pid): body = "hello \(pid)"
        case let .listener(role, address): body = "listener \(role.rawValue) \(address)"
        case let .end(count, pid): body = "end \(count) \(pid)"
        case let .serving(pid): body = "serving \(pid)"
        case .released: body = "released"
        case let .client(c):
            // Hex keeps any name one word; the address is last, as it may hold spaces.
            let name = c.name.map { $0.utf8.isEmpty ? "" : $0.utf8.map { hexByte($0) }.joined() } ?? "-"
            body = "client \(c.authenticated ? 1 : 0) \(c.database) \(c.resp) \(name.isEmpty ? "-" : name) \(c.address)"
        }
        return Array((HandoverMessage.magic + " " + body).utf8)
    }

    /// Reads one record; a clear error for anything that is not one this version writes.
    public static func decode<C: Collection>(_ bytes: C) -> Result<HandoverMessage, HandoverMessageError>
    where C.Element == UInt8 {
        guard bytes.count <= maxBytes else { return .failure(.init("a record of \(bytes.count) bytes (at most \(maxBytes))")) }
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(.init("a record that is not text"))
        }
        let prefix = magic + " "
        guard text.hasPrefix(prefix) else {
            return .failure(.init("not a ringproxy handover record (expected '\(magic)')"))
        }
        let body = text.dropFirst(prefix.count)
        let verb = body.prefix { $0 != " " }
        let rest = body.dropFirst(verb.count).drop { $0 == " " }
        let words = rest.split(separator: " ", omittingEmptySubsequences: false)
        switch verb {
        case "hello":
            return pid(words, in: "hello").map { .hello(pid: $0) }
        case "serving":
            return pid(words, in: "serving").map { .serving(pid: $0) }
        case "released":
            return rest.isEmpty ? .success(.released) : .failure(.init("'released' takes nothing"))
        case "end":
            guard words.count == 2, let count = Int(words[0]), (0...maxListeners).contains(count),
                  let pid = Int32(words[1]), pid > 0
            else { return .failure(.init("'end' needs a listener count (0...\(maxListeners)) and a pid")) }
            return .success(.end(count: count, pid: pid))
        case "client":
            return HandedClient.decode(rest).map { .client($0) }
        case "listener":
            // The address is the rest of the record: a unix path may hold spaces.
            let roleWord = rest.prefix { $0 != " " }
            guard let role = ListenerRole(rawValue: String(roleWord)) else {
                return .failure(.init("unknown listener role '\(roleWord)'"))
            }
            let address = rest.dropFirst(roleWord.count + 1)
            guard rest.count > roleWord.count + 1, !address.isEmpty, !address.contains(where: { $0.isNewline }) else {
                return .failure(.init("a listener without an address"))
            }
            return .success(.listener(role: role, address: String(address)))
        default:
            return .failure(.init("unknown handover record '\(verb)'"))
        }
    }

    private static func pid(_ words: [Substring], in verb: String) -> Result<Int32, HandoverMessageError> {
        guard words.count == 1, let pid = Int32(words[0]), pid > 0 else {
            return .failure(.init("'\(verb)' needs a process id"))
        }
        return .success(pid)
    }

    /// The verb, for errors that name what came instead of what was expected.
    public var name: String {
        switch self {
        case .hello: return "hello"
        case .listener: return "listener"
        case .end: return "end"
        case .serving: return "serving"
        case .released: return "released"
        case .client: return "client"
        }
    }
}

public struct HandoverMessageError: Error, Equatable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Which of the `count` inherited sockets of one address worker `worker` of `workers` takes:
/// every socket is taken by exactly one worker (a socket no one accepts from would strand the
/// connections SO_REUSEPORT hashes to it), spread evenly. Empty: the worker binds a new socket.
public func inheritedShare(count: Int, worker: Int, workers: Int) -> [Int] {
    guard workers > 0, worker >= 0, worker < workers, count > 0 else { return [] }
    return Array(stride(from: worker, to: count, by: workers))
}

/// What a new process needs to go on serving an idle client connection: the session state a
/// client can set (AUTH, SELECT, HELLO's protocol, CLIENT SETNAME) and the pool's address.
public struct HandedClient: Equatable, Sendable {
    public var authenticated: Bool
    public var database: Int
    /// 2 or 3.
    public var resp: Int
    public var name: String?
    /// The pool's listen address, as a listener record writes it.
    public var address: String

    /// Databases a client may have selected: Redis's own upper bound on `databases`.
    public static let databaseLimit = 1 << 20
    /// A longer client name is refused as garbled (the record must fit `maxBytes`).
    public static let maxNameBytes = 256

    public init(authenticated: Bool, database: Int, resp: Int, name: String?, address: String) {
        self.authenticated = authenticated
        self.database = database
        self.resp = resp
        self.name = name
        self.address = address
    }

    static func decode(_ rest: Substring) -> Result<HandedClient, HandoverMessageError> {
        let words = rest.split(separator: " ", maxSplits: 4, omittingEmptySubsequences: false)
        guard words.count == 5, words[0] == "0" || words[0] == "1",
              let database = Int(words[1]), (0..<databaseLimit).contains(database),
              words[2] == "2" || words[2] == "3", !words[4].isEmpty, !words[4].contains(where: { $0.isNewline })
        else { return .failure(.init("'client' needs auth (0/1), a database, a protocol (2/3), a name and an address")) }
        var name: String?
        if words[3] != "-" {
            let hex = Array(words[3].utf8)
            guard hex.count % 2 == 0, hex.count <= 2 * maxNameBytes else {
                return .failure(.init("a client name that is not hex"))
            }
            var bytes: [UInt8] = []
            var i = 0
            while i < hex.count {
                guard let high = hexValue(hex[i]), let low = hexValue(hex[i + 1]) else {
                    return .failure(.init("a client name that is not hex"))
                }
                bytes.append(high << 4 | low)
                i += 2
            }
            guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.init("a client name that is not text")) }
            name = text
        }
        return .success(HandedClient(authenticated: words[0] == "1", database: database, resp: words[2] == "3" ? 3 : 2,
                                     name: name, address: String(words[4])))
    }
}

private func hexByte(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    default: return nil
    }
}

// `multi_across_servers: per_server`: a transaction whose keys may live on several servers.
// The proxy queues its commands (answering +QUEUED, or Redis's queue-time errors), and at
// EXEC each server involved gets one MULTI, its commands in the client's order, EXEC; the
// servers' EXEC arrays are merged into one array in the client's command order (ExecMerge).
// Each server's part is atomic on that server; the whole is not: another client may see one
// server's part applied and not yet another's. Pure: the session answers what `queue`
// returns, sends what ExecPlan writes and feeds the servers' EXEC replies to ExecMerge.

/// multi_across_servers' words: what a transaction whose keys span servers gets.
public enum MultiAcrossServers: String, CaseIterable, Sendable {
    /// The command whose key is on another server gets an error, EXEC answers EXECABORT.
    case refuse
    /// One MULTI/EXEC per server, the replies merged.
    case perServer = "per_server"
}

public struct PerServerTransaction: Sendable {
    /// Commands one transaction may queue in the proxy. Django's set_many and redis-py's
    /// transactional pipelines batch tens to thousands; past this a client that never sends
    /// EXEC would make the proxy hold its commands without bound.
    public static let maxCommands = 100_000
    /// Bytes of queued commands one transaction may hold in the proxy until EXEC. The parser
    /// bounds one request, not their sum; this bounds the sum at what one large batch
    /// plausibly needs, far below what would starve the proxy of memory with a few clients.
    public static let maxBytes = 64 * 1024 * 1024

    /// Where one queued command's reply comes from.
    enum Target: Equatable, Sendable {
        /// PING, ECHO, TIME, UNWATCH: run on the transaction's first keyed server (any live
        /// one if it has none), as a transaction on one server would run them.
        case keyless
        case server(Int)
        /// A multi-key command (MSET, MGET, DEL...) over several servers: one part per server
        /// in `pieces` order; `keyServers` holds each key's server in the client's key order.
        case split(SplitKind, keyServers: [Int])
    }

    /// One queued command: its target and its encoded parts (one for a whole command).
    struct Entry: Sendable {
        let target: Target
        /// The server of each part (-1: keyless) and its bytes in `bytes`.
        let pieces: [(server: Int, bytes: Range<Int>)]
    }

    var entries: [Entry] = []
    /// Every queued part, RESP-encoded, one after the other.
    var bytes: [UInt8] = []
    /// A command was refused while queuing (or the bounds were passed): EXEC answers
    /// EXECABORT and nothing is sent anywhere, as Redis discards such a transaction.
    public private(set) var failed = false

    public init() {}

    public var count: Int { entries.count }
    public var byteCount: Int { bytes.count }

    /// A command whose keys are all on `server` (nil: a keyless one).
    public mutating func queue(_ request: RequestView, server: Int?) -> TransactionReply {
        let start = bytes.count
        if request.isInline {
            PerServerTransaction.encode(request.args.indices, of: request, into: &bytes)
        } else {
            bytes.append(contentsOf: request.bytes)
        }
        return admit(Entry(target: server.map { .server($0) } ?? .keyless,
                           pieces: [(server ?? -1, start..<bytes.count)]), from: start)
    }

    /// A multi-key command whose keys span servers: each part gets its keys (MSET: with
    /// their values) as the command `name`, like a split outside a transaction.
    public mutating func queueSplit(_ request: RequestView, kind: SplitKind, name: StaticString,
                                    keyServers: [Int], partServers: [Int]) -> TransactionReply {
        let start = bytes.count
        let step = kind.argumentsPerKey
        let out = ByteBuffer(capacity: request.bytes.count + 32)
        var pieces: [(server: Int, bytes: Range<Int>)] = []
        for server in partServers {
            var indices: [Int] = []
            for (position, s) in keyServers.enumerated() where s == server { indices.append(1 + position * step) }
            out.clear()
            writeSplitCommand(name: name, args: request.args, request: request.bytes, indices: indices[...],
                              withValues: kind == .allOK, into: out)
            let from = bytes.count
            bytes.append(contentsOf: out.readable)
            pieces.append((server, from..<bytes.count))
        }
        return admit(Entry(target: .split(kind, keyServers: keyServers), pieces: pieces), from: start)
    }

    /// A command the proxy refuses while queuing (unknown, wrong arity, a key it cannot
    /// route...): its error now, EXECABORT at EXEC, as Redis does.
    public mutating func refuse(_ error: ProxyError) -> TransactionReply {
        failed = true
        return .error(error.message)
    }

    private mutating func admit(_ entry: Entry, from start: Int) -> TransactionReply {
        guard entries.count < PerServerTransaction.maxCommands, bytes.count <= PerServerTransaction.maxBytes else {
            bytes.removeSubrange(start...)
            failed = true
            return .error(PerServerTransaction.tooLarge)
        }
        entries.append(entry)
        return .queued
    }

    static let tooLarge = "ERR ringproxy: transaction too large for multi_across_servers: per_server (at most \(maxCommands) commands and \(maxBytes / (1024 * 1024)) MiB queued); it is discarded at EXEC"

    /// What EXEC does with the queue.
    public enum ExecOutcome: Sendable {
        /// Answered by the proxy: EXECABORT, or an empty array for an empty transaction.
        case reply(TransactionReply)
        /// Only keyless commands and no live server to run them.
        case noServer
        case run(ExecPlan)
    }

    /// `liveServer`: where keyless commands run when no command has a key (nil: none is up).
    public func exec(liveServer: Int?) -> ExecOutcome {
        if failed { return .reply(.error(TransactionRules.execAbort)) }
        if entries.isEmpty { return .reply(.emptyArray) }
        var home = liveServer
        for e in entries {
            if case .keyless = e.target { continue }
            home = e.pieces[0].server
            break
        }
        guard let keylessServer = home else { return .noServer }
        var servers: [Int] = []
        var partRanges: [[Range<Int>]] = []
        var planned: [ExecPlan.PlannedEntry] = []
        planned.reserveCapacity(entries.count)
        for e in entries {
            var places: [ExecPlan.Place] = []
            for piece in e.pieces {
                let server = piece.server < 0 ? keylessServer : piece.server
                let part: Int
                if let p = servers.firstIndex(of: server) { part = p } else {
                    part = servers.count
                    servers.append(server)
                    partRanges.append([])
                }
                places.append(ExecPlan.Place(part: part, element: partRanges[part].count))
                partRanges[part].append(piece.bytes)
            }
            if case let .split(kind, keyServers) = e.target {
                // Each key's position in the split command's merge: the index of its part.
                let partOfKey = keyServers.map { s in e.pieces.firstIndex { $0.server == s } ?? 0 }
                planned.append(ExecPlan.PlannedEntry(split: kind, partOfKey: partOfKey, places: places))
            } else {
                planned.append(ExecPlan.PlannedEntry(split: nil, partOfKey: [], places: places))
            }
        }
        return .run(ExecPlan(servers: servers, partRanges: partRanges, bytes: bytes, entries: planned))
    }

    /// RESP-encodes the arguments at `indices` of `request` (an inline one, whose bytes are
    /// not RESP).
    static func encode(_ indices: Range<Int>, of request: RequestView, into out: inout [UInt8]) {
        header(UInt8(ascii: "*"), indices.count, into: &out)
        for i in indices {
            let argument = request[i]
            header(UInt8(ascii: "$"), argument.count, into: &out)
            out.append(contentsOf: argument)
            out.append(contentsOf: [13, 10])
        }
    }

    private static func header(_ type: UInt8, _ n: Int, into out: inout [UInt8]) {
        out.append(type)
        out.append(contentsOf: String(n).utf8)
        out.append(contentsOf: [13, 10])
    }
}

/// EXEC of a per_server transaction: what each server gets, and where each of its EXEC
/// array's elements goes in the client's reply.
public struct ExecPlan: Sendable {
    /// One element of one server's EXEC array.
    struct Place: Equatable, Sendable {
        let part: Int
        let element: Int
    }

    /// A queued command's reply: one element (`split` nil), or a split command's parts,
    /// merged as outside a transaction.
    struct PlannedEntry: Sendable {
        let split: SplitKind?
        let partOfKey: [Int]
        let places: [Place]
    }

    /// The servers involved, in the order of their first command: part i goes to servers[i].
    public let servers: [Int]
    /// Each part's commands (ranges of `bytes`), in the client's order.
    let partRanges: [[Range<Int>]]
    let bytes: [UInt8]
    let entries: [PlannedEntry]

    /// Commands between part `part`'s MULTI and EXEC, each answered +QUEUED by its server.
    public func queuedCount(part: Int) -> Int { partRanges[part].count }

    /// MULTI, part `part`'s commands, EXEC: what its server gets, in one piece.
    public func write(part: Int, into out: ByteBuffer) {
        out.append("*1\r\n$5\r\nMULTI\r\n")
        bytes.withUnsafeBytes { all in
            for r in partRanges[part] { out.append(UnsafeRawBufferPointer(rebasing: all[r])) }
        }
        out.append("*1\r\n$4\r\nEXEC\r\n")
    }

    public func makeMerge() -> ExecMerge {
        ExecMerge(entries: entries, expected: partRanges.map(\.count))
    }
}

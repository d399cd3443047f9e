// Splitting a multi-key command (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) whose keys live on
// several servers into one command per server, and merging the servers' replies into the
// one reply the client expects: MGET's values in the client's key order, MSET's single +OK,
// the others' sum. Pure: the caller sends the parts and feeds back the replies.

/// Writes one server's part of a split command: `name` followed by the arguments at
/// `indices` (for MSET, each key index is followed by its value).
public func writeSplitCommand(name: StaticString, args: [ArgumentSpan], request: UnsafeRawBufferPointer,
                              indices: ArraySlice<Int>, withValues: Bool, into out: ByteBuffer) {
    let argc = 1 + indices.count * (withValues ? 2 : 1)
    out.appendArrayHeader(argc)
    out.append(UInt8(ascii: "$"))
    out.appendDecimal(name.utf8CodeUnitCount)
    out.append("\r\n")
    out.append(name)
    out.append("\r\n")
    for i in indices {
        appendArgument(args[i], request, out)
        if withValues { appendArgument(args[i + 1], request, out) }
    }
}

@inline(__always)
func appendArgument(_ span: ArgumentSpan, _ request: UnsafeRawBufferPointer, _ out: ByteBuffer) {
    out.appendBulk(UnsafeRawBufferPointer(rebasing: request[span.offset..<(span.offset + span.count)]))
}

/// Re-encodes any parsed request (inline ones in particular) as a RESP multibulk.
public func writeRequest(args: [ArgumentSpan], request: UnsafeRawBufferPointer, into out: ByteBuffer) {
    out.appendArrayHeader(args.count)
    for a in args { appendArgument(a, request, out) }
}

/// The state of one split command while its parts are outstanding. Reusable: `reset`
/// keeps the storage, so a worker that recycles them merges without allocating once its
/// pool of states has grown to the split commands in flight.
public final class MergeState {
    public private(set) var kind: SplitKind
    public private(set) var outstanding: Int
    /// MGET: the part each key (by its position in the client's request) was sent with.
    private var partOfKey: [Int32] = []
    /// MGET: where each key's reply element lies in `values`; a length of -1 means no
    /// element yet, which a failed part leaves as nil.
    private var spanStart: [Int] = []
    private var spanLength: [Int] = []
    /// MGET: the elements' bytes, in arrival order.
    private var values: [UInt8] = []
    private var sum = 0
    /// SCRIPT EXISTS: the AND of the parts' answers so far, element by element.
    private var flags: [Bool] = []
    /// The first error a part answered (MSET), or a malformed part; it becomes the reply.
    private var firstError: [UInt8]?
    private var scanner = ReplyScanner()
    /// Parts that failed (for logs and stats).
    public private(set) var failedParts = 0
    /// RANDOMKEY: the part whose non-null reply `values` holds (-1: none yet).
    private var chosenPart = -1
    /// PUBSUB NUMSUB: the counts so far, name by name (the names are in `values`, spans in
    /// `spanStart`/`spanLength`, from the first part).
    private var pairCounts: [Int] = []
    /// SCAN: the server the page comes from and the pool's server count (ScanPage).
    private var scanServer = 0
    private var scanServerCount = 0
    /// `.byServer`: each part's whole reply and its server's name, and SLOWLOG GET's count.
    private var partReplies: [[UInt8]] = []
    private var partNames: [String] = []
    private var serverMergeCount = 0
    /// `.gather`: how the parts combine, and each part's whole reply (errors included).
    public var gather: GatherPlan?
    private var gatherParts: [[UInt8]?] = []

    /// A recycled state keeps at most this much reply storage: a KEYS or SCAN reply may be
    /// megabytes, and an idle worker should not hold them; MGET replies fit well below it.
    static let retainedValuesLimit = 64 * 1024

    public init(kind: SplitKind, keyCount: Int, parts: Int) {
        self.kind = kind
        self.outstanding = parts
        reset(kind: kind, keyCount: keyCount, parts: parts)
    }

    /// Makes the state ready for another split command, keeping its storage.
    public func reset(kind: SplitKind, keyCount: Int, parts: Int) {
        self.kind = kind
        outstanding = parts
        sum = 0
        flags.removeAll(keepingCapacity: true)
        firstError = nil
        failedParts = 0
        chosenPart = -1
        pairCounts.removeAll(keepingCapacity: true)
        partReplies.removeAll()
        partNames.removeAll()
        if kind == .minInteger { sum = Int.max }
        gather = nil
        gatherParts.removeAll()
        if kind == .gather { gatherParts = Array(repeating: nil, count: parts) }
        partOfKey.removeAll(keepingCapacity: true)
        spanStart.removeAll(keepingCapacity: true)
        spanLength.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: values.capacity <= MergeState.retainedValuesLimit)
        if kind == .values {
            partOfKey.append(contentsOf: repeatElement(-1, count: keyCount))
            spanStart.append(contentsOf: repeatElement(0, count: keyCount))
            spanLength.append(contentsOf: repeatElement(-1, count: keyCount))
        }
    }

    /// `.scanPage`: the page comes from `server` of a pool of `serverCount`.
    public func expectScanPage(server: Int, serverCount: Int) {
        scanServer = server
        scanServerCount = serverCount
    }

    /// `.byServer`: part i comes from the server named `names[i]`; `count` is SLOWLOG GET's.
    public func expectServers(names: [String], count: Int) {
        partNames = names
        partReplies = Array(repeating: [], count: names.count)
        serverMergeCount = count
    }

    /// Records that part `part` carries the key at client position `position` (MGET).
    public func assign(position: Int, toPart part: Int) {
        partOfKey[position] = Int32(truncatingIfNeeded: part)
    }

    public var isComplete: Bool { outstanding == 0 }

    /// Feeds one part's whole reply.
    public func apply(part: Int, reply: UnsafeRawBufferPointer) {
        outstanding -= 1
        if kind == .gather {
            if part < gatherParts.count { gatherParts[part] = Array(reply) }
            return
        }
        guard let type = reply.first else { return }
        if type == UInt8(ascii: "-") || type == UInt8(ascii: "!") {
            recordFailure(Array(reply))
            return
        }
        switch kind {
        case .allOK:
            if type != UInt8(ascii: "+"), firstError == nil { firstError = Array("-ERR unexpected reply to MSET part\r\n".utf8) }
        case .byServer:
            if part < partReplies.count { partReplies[part] = Array(reply) }
        case .maxInteger, .minInteger:
            if type == UInt8(ascii: ":"), let end = reply.firstIndex(of: UInt8(ascii: "\r")),
               let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<end])) {
                sum = kind == .minInteger ? min(sum, n) : max(sum, n)
            } else if firstError == nil {
                firstError = Array("-ERR unexpected reply to a part sent to every server\r\n".utf8)
            }
        case .sumPairs:
            applyPairs(reply)
        case .sum:
            if type == UInt8(ascii: ":"), let end = reply.firstIndex(of: UInt8(ascii: "\r")),
               let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<end])) {
                sum = sum &+ n
            } else if firstError == nil {
                firstError = Array("-ERR unexpected reply to a split command part\r\n".utf8)
            }
        case .values:
            applyValues(part: part, reply: reply)
        case .gather:
            break  // kept above
        case .sameReply, .scanPage:
            // The first part's reply is the one written (the others said the same, or an error).
            if values.isEmpty { values.append(contentsOf: reply) }
        case .logicalAnd:
            applyFlags(reply)
        case .concat:
            applyConcat(reply)
        case .firstNonNull:
            let null = reply.starts(with: [UInt8(ascii: "_")]) || reply.starts(with: Array("$-1".utf8))
            if !null && (chosenPart < 0 || part < chosenPart) {
                chosenPart = part
                values.removeAll(keepingCapacity: true)
                values.append(contentsOf: reply)
            }
        }
    }

    /// One part's array (KEYS): its elements follow the earlier parts' in `values`.
    private func applyConcat(_ reply: UnsafeRawBufferPointer) {
        guard reply.first == UInt8(ascii: "*"), let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<cr])), n >= 0 else {
            if firstError == nil { firstError = Array("-ERR unexpected reply to a part sent to every server\r\n".utf8) }
            return
        }
        sum += n
        values.append(contentsOf: reply[(cr + 2)...])
    }

    /// One part's [name, count, ...] array: the first part's names are kept, every part's
    /// counts are added to theirs.
    private func applyPairs(_ reply: UnsafeRawBufferPointer) {
        guard reply.first == UInt8(ascii: "*"), let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<cr])), n >= 0, n % 2 == 0 else {
            if firstError == nil { firstError = Array("-ERR unexpected reply to a part sent to every server\r\n".utf8) }
            return
        }
        let first = spanStart.isEmpty && pairCounts.isEmpty
        var offset = cr + 2
        for i in 0..<n {
            scanner.reset()
            let rest = UnsafeRawBufferPointer(rebasing: reply[offset...])
            guard case let .reply(length) = scanner.scan(rest) else {
                if firstError == nil { firstError = Array("-ERR malformed reply to a part sent to every server\r\n".utf8) }
                return
            }
            if i % 2 == 0 {
                if first {
                    spanStart.append(values.count)
                    spanLength.append(length)
                    values.append(contentsOf: rest[0..<length])
                }
            } else {
                let count = rest.first == UInt8(ascii: ":")
                    ? parseInteger(UnsafeRawBufferPointer(rebasing: rest[1..<(length - 2)])) ?? 0 : 0
                if first { pairCounts.append(count) } else if i / 2 < pairCounts.count { pairCounts[i / 2] += count }
            }
            offset += length
        }
    }

    /// One part's array of :0/:1, ANDed into `flags`.
    private func applyFlags(_ reply: UnsafeRawBufferPointer) {
        guard reply.first == UInt8(ascii: "*"), let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<cr])), n >= 0 else {
            if firstError == nil { firstError = Array("-ERR unexpected reply to a part sent to every server\r\n".utf8) }
            return
        }
        let first = flags.isEmpty
        var offset = cr + 2
        for i in 0..<n {
            scanner.reset()
            let rest = UnsafeRawBufferPointer(rebasing: reply[offset...])
            guard case let .reply(length) = scanner.scan(rest), length >= 4 else {
                if firstError == nil { firstError = Array("-ERR malformed reply to a part sent to every server\r\n".utf8) }
                return
            }
            let one = rest[1] == UInt8(ascii: "1")
            if first { flags.append(one) } else if i < flags.count { flags[i] = flags[i] && one }
            offset += length
        }
    }

    /// Answers part `part` with an error built by the proxy (its server failed).
    public func fail(part: Int, error: [UInt8]) {
        outstanding -= 1
        if kind == .gather {
            if part < gatherParts.count { gatherParts[part] = error }
            return
        }
        recordFailure(error)
    }

    /// One shard failing degrades the command instead of failing it: MGET answers nil for
    /// that shard's keys, DEL/UNLINK/EXISTS/TOUCH count what the other shards answered.
    /// MSET cannot pretend a write happened, so it answers the failed shard's error; KEYS
    /// cannot pretend the shard has no keys, so it does too; RANDOMKEY answers it only when
    /// no other shard gave a key.
    private func recordFailure(_ error: [UInt8]) {
        failedParts += 1
        if kind != .values && kind != .sum && firstError == nil { firstError = error }
    }

    private func applyValues(part: Int, reply: UnsafeRawBufferPointer) {
        let tag = Int32(truncatingIfNeeded: part)
        var expected = 0
        for p in partOfKey where p == tag { expected += 1 }
        guard reply.first == UInt8(ascii: "*"), let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<cr])), n == expected else {
            if firstError == nil { firstError = Array("-ERR unexpected reply to MGET part\r\n".utf8) }
            return
        }
        var offset = cr + 2
        for position in partOfKey.indices where partOfKey[position] == tag {
            scanner.reset()
            let rest = UnsafeRawBufferPointer(rebasing: reply[offset...])
            guard case let .reply(length) = scanner.scan(rest) else {
                if firstError == nil { firstError = Array("-ERR malformed reply to MGET part\r\n".utf8) }
                return
            }
            spanStart[position] = values.count
            spanLength[position] = length
            values.append(contentsOf: rest[0..<length])
            offset += length
        }
    }

    /// `.sameReply`: the reply the servers gave (empty before any, or after an error).
    public var sameReply: [UInt8] { firstError == nil ? values : [] }

    /// The merged reply, once every part has answered.
    public func write(into out: ByteBuffer, version: RESPVersion) {
        // RANDOMKEY: a key from any server answers, whatever the others said.
        if kind == .firstNonNull && chosenPart >= 0 { values.withUnsafeBytes { out.append($0) }; return }
        if kind == .gather {
            gather?.write(parts: gatherParts, into: out, version: version)
            return
        }
        if let e = firstError { out.append(e); return }
        switch kind {
        case .allOK: out.append("+OK\r\n")
        case .sum, .maxInteger, .minInteger: out.appendInteger(sum)
        case let .byServer(kind):
            let parts = zip(partNames, partReplies).map { (name: $0.0, reply: $0.1) }
            ServerReplies.merge(kind, parts: parts, count: serverMergeCount, version: version).write(into: out, version: version)
        case .sumPairs:
            out.appendArrayHeader(2 * pairCounts.count)
            values.withUnsafeBytes { bytes in
                for (i, count) in pairCounts.enumerated() where i < spanStart.count {
                    out.append(UnsafeRawBufferPointer(rebasing: bytes[spanStart[i]..<(spanStart[i] + spanLength[i])]))
                    out.appendInteger(count)
                }
            }
        case .sameReply:
            values.withUnsafeBytes { out.append($0) }
        case .logicalAnd:
            out.appendArrayHeader(flags.count)
            for f in flags { out.append(f ? ":1\r\n" : ":0\r\n") }
        case .concat:
            out.appendArrayHeader(sum)
            values.withUnsafeBytes { out.append($0) }
        case .gather:
            break
        case .firstNonNull:
            if values.isEmpty { out.appendNull(version) } else { values.withUnsafeBytes { out.append($0) } }
        case .scanPage:
            values.withUnsafeBytes {
                ScanPage.rewriteReply($0, server: scanServer, serverCount: scanServerCount, into: out)
            }
        case .values:
            out.appendArrayHeader(spanLength.count)
            values.withUnsafeBytes { bytes in
                for position in spanLength.indices {
                    let length = spanLength[position]
                    if length < 0 {
                        out.appendNull(version)
                    } else {
                        out.append(UnsafeRawBufferPointer(rebasing: bytes[spanStart[position]..<(spanStart[position] + length)]))
                    }
                }
            }
        }
    }
}

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

/// The state of one split command while its parts are outstanding. One is allocated per
/// split request (not per plain request): a split is already several requests' work.
public final class MergeState {
    public let kind: SplitKind
    public private(set) var outstanding: Int
    /// MGET: the original key positions each part carries, by part number.
    private var positions: [[Int]]
    /// MGET: each key's reply element bytes, in the client's order.
    private var elements: [[UInt8]]
    private var sum = 0
    /// The first error a part answered; it becomes the reply.
    private var firstError: [UInt8]?

    public init(kind: SplitKind, keyCount: Int, parts: Int) {
        self.kind = kind
        self.outstanding = parts
        self.positions = Array(repeating: [], count: parts)
        self.elements = kind == .values ? Array(repeating: [], count: keyCount) : []
    }

    /// Records that part `part` carries the key at client position `position` (MGET).
    public func assign(position: Int, toPart part: Int) {
        positions[part].append(position)
    }

    public var isComplete: Bool { outstanding == 0 }

    /// Feeds one part's whole reply.
    public func apply(part: Int, reply: UnsafeRawBufferPointer) {
        outstanding -= 1
        guard let type = reply.first else { return }
        if type == UInt8(ascii: "-") || type == UInt8(ascii: "!") {
            recordFailure(Array(reply))
            return
        }
        switch kind {
        case .allOK:
            if type != UInt8(ascii: "+"), firstError == nil { firstError = Array("-ERR unexpected reply to MSET part\r\n".utf8) }
        case .sum:
            if type == UInt8(ascii: ":"), let end = reply.firstIndex(of: UInt8(ascii: "\r")),
               let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<end])) {
                sum += n
            } else if firstError == nil {
                firstError = Array("-ERR unexpected reply to a split command part\r\n".utf8)
            }
        case .values:
            applyValues(part: part, reply: reply)
        }
    }

    /// Answers part `part` with an error built by the proxy (its server failed).
    public func fail(part: Int, error: [UInt8]) {
        outstanding -= 1
        recordFailure(error)
    }

    /// One shard failing degrades the command instead of failing it: MGET answers nil for
    /// that shard's keys, DEL/UNLINK/EXISTS/TOUCH count what the other shards answered.
    /// MSET cannot pretend a write happened, so it answers the failed shard's error.
    private func recordFailure(_ error: [UInt8]) {
        failedParts += 1
        if kind == .allOK && firstError == nil { firstError = error }
    }

    /// Parts that failed (for logs and stats).
    public private(set) var failedParts = 0

    private func applyValues(part: Int, reply: UnsafeRawBufferPointer) {
        let expected = positions[part]
        guard reply.first == UInt8(ascii: "*"), let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<cr])), n == expected.count else {
            if firstError == nil { firstError = Array("-ERR unexpected reply to MGET part\r\n".utf8) }
            return
        }
        var p = cr + 2
        var scanner = ReplyScanner()
        for position in expected {
            let rest = UnsafeRawBufferPointer(rebasing: reply[p...])
            guard case let .reply(length) = scanner.scan(rest) else {
                if firstError == nil { firstError = Array("-ERR malformed reply to MGET part\r\n".utf8) }
                return
            }
            elements[position] = Array(rest[0..<length])
            p += length
        }
    }

    /// The merged reply, once every part has answered.
    public func write(into out: ByteBuffer, version: RESPVersion) {
        if let e = firstError { out.append(e); return }
        switch kind {
        case .allOK: out.append("+OK\r\n")
        case .sum: out.appendInteger(sum)
        case .values:
            out.appendArrayHeader(elements.count)
            for e in elements {
                if e.isEmpty { out.appendNull(version) } else { out.append(e) }
            }
        }
    }
}

// The one EXEC reply a per_server transaction's client gets: each server's EXEC array taken
// apart and its elements put back in the client's command order; a split command's parts
// (MSET, MGET, DEL... over several servers) merged by MergeState as outside a transaction.
//
// A server whose EXEC did not answer an array of its commands' replies (EXECABORT because it
// refused a command the proxy let through, its connection failing after the parts were sent,
// a timeout) applied nothing of its part, or it is unknown whether it did: each of its
// commands' elements is that failure's error, while the other servers' elements are their
// results, so a client sees which commands failed and that the others ran. When every part
// failed, nothing was applied that the client is told of, and the reply is the first
// failure's error alone, as Redis answers a failed EXEC.

public struct ExecMerge: Sendable {
    let entries: [ExecPlan.PlannedEntry]
    /// Commands each part sent, so elements its EXEC array must hold.
    let expected: [Int]
    /// Each part's EXEC reply as it came.
    private var replies: [[UInt8]]
    /// Where each element of a part's reply lies in it; empty for a failed part.
    private var elements: [[Range<Int>]]
    /// The error a failed part's elements are answered with (nil: the part succeeded).
    private var failures: [[UInt8]?]
    public private(set) var outstanding: Int

    static let unexpected = Array("-ERR ringproxy: a server answered EXEC with something other than its commands' replies\r\n".utf8)

    init(entries: [ExecPlan.PlannedEntry], expected: [Int]) {
        self.entries = entries
        self.expected = expected
        replies = Array(repeating: [], count: expected.count)
        elements = Array(repeating: [], count: expected.count)
        failures = Array(repeating: nil, count: expected.count)
        outstanding = expected.count
    }

    public var isComplete: Bool { outstanding == 0 }

    /// Parts that did not answer their commands' replies.
    public var failedParts: Int { failures.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// Part `part`'s whole EXEC reply (or the proxy's error in its place).
    public mutating func apply(part: Int, reply: UnsafeRawBufferPointer) {
        outstanding -= 1
        replies[part] = Array(reply)
        guard let spans = ExecMerge.elements(of: reply, count: expected[part]) else {
            let type = reply.first
            failures[part] = type == UInt8(ascii: "-") || type == UInt8(ascii: "!") ? Array(reply) : ExecMerge.unexpected
            return
        }
        elements[part] = spans
    }

    /// The spans of an array reply's `count` elements; nil for anything else (an error, a
    /// null, another count, a malformed element).
    static func elements(of reply: UnsafeRawBufferPointer, count: Int) -> [Range<Int>]? {
        guard reply.first == UInt8(ascii: "*"), let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: reply[1..<cr])), n == count else { return nil }
        var spans: [Range<Int>] = []
        spans.reserveCapacity(n)
        var scanner = ReplyScanner()
        var offset = cr + 2
        for _ in 0..<n {
            scanner.reset()
            guard offset <= reply.count,
                  case let .reply(length) = scanner.scan(UnsafeRawBufferPointer(rebasing: reply[offset...])) else { return nil }
            spans.append(offset..<(offset + length))
            offset += length
        }
        return offset == reply.count ? spans : nil
    }

    /// The merged reply, once every part has answered.
    public func write(into out: ByteBuffer, version: RESPVersion) {
        if failures.allSatisfy({ $0 != nil }), let first = failures.first, let error = first {
            out.append(error)
            return
        }
        out.appendArrayHeader(entries.count)
        for entry in entries {
            guard let kind = entry.split else {
                writeElement(entry.places[0], into: out)
                continue
            }
            let merge = MergeState(kind: kind, keyCount: entry.partOfKey.count, parts: entry.places.count)
            if kind == .values {
                for (position, part) in entry.partOfKey.enumerated() { merge.assign(position: position, toPart: part) }
            }
            for (i, place) in entry.places.enumerated() {
                if let error = failures[place.part] {
                    merge.fail(part: i, error: error)
                } else {
                    element(place) { merge.apply(part: i, reply: $0) }
                }
            }
            merge.write(into: out, version: version)
        }
    }

    private func writeElement(_ place: Place, into out: ByteBuffer) {
        if let error = failures[place.part] { out.append(error) } else { element(place) { out.append($0) } }
    }

    private func element(_ place: Place, _ body: (UnsafeRawBufferPointer) -> Void) {
        replies[place.part].withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[elements[place.part][place.element]])) }
    }

    typealias Place = ExecPlan.Place
}

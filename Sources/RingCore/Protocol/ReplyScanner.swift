// Finds where each reply ends in a server's byte stream, for every RESP2 and RESP3 type,
// so replies can be passed on unchanged. It is resumable: on `.incomplete` it keeps its
// position and the counts of the aggregates it is inside, so a large reply arriving in many
// reads is scanned once, not from its start on every read. It never copies or decodes
// values.

public enum ReplyScanResult: Equatable {
    /// A whole reply of `length` bytes from the start of the buffer.
    case reply(length: Int)
    case incomplete
    case error(String)
}

public struct ReplyScanner {
    /// Aggregates nest deeper than this only in a broken or hostile stream; Redis itself
    /// never nests replies more than a few levels.
    public static let maxDepth = 64
    /// A type byte's line ("+OK", ":12", "$5") longer than this means a broken stream
    /// (Redis's own simple strings and errors are far shorter).
    public static let maxLineLength = 1024 * 1024
    /// A declared bulk length or element count above this is a garbled reply, not a big one:
    /// no server holds a value or an aggregate of a trillion bytes or elements, and the bound
    /// keeps the offset arithmetic from overflowing on a length such as 2^63 - 1.
    public static let maxDeclaredLength = 1 << 40

    /// Offset of the first byte not yet accounted for, from the start of the reply.
    private var offset = 0
    /// Elements still expected by each open aggregate, innermost last.
    private var remaining: [Int] = []

    public init() { remaining.reserveCapacity(8) }

    public mutating func reset() {
        offset = 0
        remaining.removeAll(keepingCapacity: true)
    }

    /// Scans `buf`, which starts at the first byte of a reply. After `.reply` the scanner
    /// is ready for the next reply (whose first byte is at `length`).
    public mutating func scan(_ buf: UnsafeRawBufferPointer) -> ReplyScanResult {
        var p = offset
        let end = buf.count
        while true {
            if p >= end { offset = p; return .incomplete }
            let type = buf[p]
            // Find the end of this element's header line.
            var cr = p + 1
            while cr < end, buf[cr] != UInt8(ascii: "\r") { cr += 1 }
            if cr + 1 >= end {
                if end - p > ReplyScanner.maxLineLength { return .error("reply line too long") }
                offset = p
                return .incomplete
            }
            if buf[cr + 1] != UInt8(ascii: "\n") { return .error("bad line ending in reply") }
            let afterLine = cr + 2
            switch type {
            case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: ","),
                 UInt8(ascii: "("), UInt8(ascii: "_"), UInt8(ascii: "#"):
                p = afterLine
            case UInt8(ascii: "$"), UInt8(ascii: "="), UInt8(ascii: "!"):
                guard let n = ReplyScanner.number(buf, p + 1, cr), n <= ReplyScanner.maxDeclaredLength else {
                    return .error("bad bulk length in reply")
                }
                if n < 0 {
                    p = afterLine  // $-1: the RESP2 null bulk string
                } else {
                    let next = afterLine + n + 2
                    if next > end { offset = p; return .incomplete }
                    if buf[next - 2] != UInt8(ascii: "\r") || buf[next - 1] != UInt8(ascii: "\n") {
                        return .error("bulk reply longer than its declared length")
                    }
                    p = next
                }
            case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"), UInt8(ascii: "|"):
                guard let n = ReplyScanner.number(buf, p + 1, cr), n <= ReplyScanner.maxDeclaredLength else {
                    return .error("bad aggregate length in reply")
                }
                p = afterLine
                // An attribute always annotates one more value, even with no pairs.
                if n > 0 || (type == UInt8(ascii: "|") && n == 0) {
                    if remaining.count >= ReplyScanner.maxDepth { return .error("reply nested too deep") }
                    // A map holds key/value pairs. An attribute is pairs followed by the
                    // value it annotates, and together they count as that one value.
                    switch type {
                    case UInt8(ascii: "%"): remaining.append(n * 2)
                    case UInt8(ascii: "|"): remaining.append(n * 2 + 1)
                    default: remaining.append(n)
                    }
                    continue
                }
            default:
                return .error("unknown reply type byte 0x\(String(type, radix: 16))")
            }
            // One value is complete: close every aggregate it completes.
            while let last = remaining.last {
                if last > 1 { remaining[remaining.count - 1] = last - 1; break }
                remaining.removeLast()
            }
            if remaining.isEmpty {
                offset = 0
                return .reply(length: p)
            }
        }
    }

    @inline(__always)
    static func number(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        start < end ? parseInteger(UnsafeRawBufferPointer(rebasing: buf[start..<end])) : nil
    }
}

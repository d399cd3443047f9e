// A whole RESP2/RESP3 reply as a tree, for the few replies the proxy must look inside and
// rebuild: COMMAND INFO and DOCS (stored as RESP3, answered in the client's protocol) and
// the administration replies gathered from every server (SLOWLOG, LATENCY, MEMORY STATS).
// Never used on the request path of ordinary commands.

public indirect enum RESPValue: Equatable, Sendable {
    case simple([UInt8])
    case error([UInt8])
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPValue])
    case set([RESPValue])
    /// Keys and values alternating, as on the wire.
    case map([RESPValue])
    /// A double, kept as its text.
    case double([UInt8])
    case boolean(Bool)
    case verbatim(format: [UInt8], text: [UInt8])
    case bigNumber([UInt8])
    case push([RESPValue])

    /// Deeper replies than this are refused: Redis's own replies nest a few levels.
    static let maximumDepth = 64

    /// The reply at the start of `bytes` and its length, or nil when it is not one whole,
    /// well-formed reply.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> (value: RESPValue, length: Int)? {
        var offset = 0
        guard let v = parse(bytes, &offset, depth: 0) else { return nil }
        return (v, offset)
    }

    public static func parse(_ bytes: [UInt8]) -> RESPValue? {
        bytes.withUnsafeBytes { parse($0)?.value }
    }

    private static func parse(_ b: UnsafeRawBufferPointer, _ offset: inout Int, depth: Int) -> RESPValue? {
        guard depth < maximumDepth, offset < b.count else { return nil }
        let type = b[offset]
        var end = offset + 1
        while end + 1 < b.count && !(b[end] == 13 && b[end + 1] == 10) { end += 1 }
        guard end + 1 < b.count else { return nil }
        let line = Array(b[(offset + 1)..<end])
        offset = end + 2
        func count() -> Int? { line.withUnsafeBytes { parseInteger($0) } }
        func blob() -> [UInt8]? {
            guard let n = count(), n >= 0, offset + n + 2 <= b.count else { return nil }
            defer { offset += n + 2 }
            return Array(b[offset..<(offset + n)])
        }
        func elements(_ n: Int) -> [RESPValue]? {
            var out: [RESPValue] = []
            for _ in 0..<n {
                guard let v = parse(b, &offset, depth: depth + 1) else { return nil }
                out.append(v)
            }
            return out
        }
        switch type {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"): return count().map { .integer($0) }
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: ","): return .double(line)
        case UInt8(ascii: "("): return .bigNumber(line)
        case UInt8(ascii: "#"): return .boolean(line == [UInt8(ascii: "t")])
        case UInt8(ascii: "$"):
            if count() == -1 { return .null }
            return blob().map { .bulk($0) }
        case UInt8(ascii: "!"): return blob().map { .error($0) }
        case UInt8(ascii: "="):
            guard let t = blob(), t.count >= 4 else { return nil }
            return .verbatim(format: Array(t[0..<3]), text: Array(t[4...]))
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "%"):
            guard let n = count() else { return nil }
            if n == -1 && type == UInt8(ascii: "*") { return .null }
            guard n >= 0, n <= b.count else { return nil }
            let isMap = type == UInt8(ascii: "%")
            guard let e = elements(isMap ? 2 * n : n) else { return nil }
            switch type {
            case UInt8(ascii: "~"): return .set(e)
            case UInt8(ascii: ">"): return .push(e)
            case UInt8(ascii: "%"): return .map(e)
            default: return .array(e)
            }
        default:
            return nil
        }
    }

    /// Writes the value in `version`: RESP2 gets maps as flat arrays, sets as arrays,
    /// doubles and big numbers as bulk strings, booleans as 1/0, verbatim text as bulk.
    public func write(into out: ByteBuffer, version: RESPVersion) {
        let v3 = version == .resp3
        switch self {
        case let .simple(s): out.append(UInt8(ascii: "+")); out.append(s); out.append("\r\n")
        case let .error(e): out.append(UInt8(ascii: "-")); out.append(e); out.append("\r\n")
        case let .integer(n): out.appendInteger(n)
        case let .bulk(b): b.withUnsafeBytes { out.appendBulk($0) }
        case .null: out.appendNull(version)
        case let .array(e): RESPValue.writeAggregate(UInt8(ascii: "*"), e, out, version)
        case let .set(e): RESPValue.writeAggregate(UInt8(ascii: v3 ? "~" : "*"), e, out, version)
        case let .push(e): RESPValue.writeAggregate(UInt8(ascii: v3 ? ">" : "*"), e, out, version)
        case let .map(e):
            if v3 {
                out.append(UInt8(ascii: "%")); out.appendDecimal(e.count / 2); out.append("\r\n")
                for x in e { x.write(into: out, version: version) }
            } else {
                RESPValue.writeAggregate(UInt8(ascii: "*"), e, out, version)
            }
        case let .double(d):
            if v3 { out.append(UInt8(ascii: ",")); out.append(d); out.append("\r\n") } else { d.withUnsafeBytes { out.appendBulk($0) } }
        case let .bigNumber(d):
            if v3 { out.append(UInt8(ascii: "(")); out.append(d); out.append("\r\n") } else { d.withUnsafeBytes { out.appendBulk($0) } }
        case let .boolean(t):
            if v3 { out.append(t ? "#t\r\n" : "#f\r\n") } else { out.appendInteger(t ? 1 : 0) }
        case let .verbatim(format, text):
            if v3 {
                out.append(UInt8(ascii: "=")); out.appendDecimal(text.count + 4); out.append("\r\n")
                out.append(format); out.append(UInt8(ascii: ":")); out.append(text); out.append("\r\n")
            } else {
                text.withUnsafeBytes { out.appendBulk($0) }
            }
        }
    }

    private static func writeAggregate(_ type: UInt8, _ e: [RESPValue], _ out: ByteBuffer, _ version: RESPVersion) {
        out.append(type); out.appendDecimal(e.count); out.append("\r\n")
        for x in e { x.write(into: out, version: version) }
    }

    public func bytes(_ version: RESPVersion) -> [UInt8] {
        let out = ByteBuffer()
        write(into: out, version: version)
        return out.bytes
    }

    /// The text of a string-like value (simple, bulk, verbatim), nil for others.
    public var text: String? {
        switch self {
        case let .simple(b), let .bulk(b), let .verbatim(_, b): return String(decoding: b, as: UTF8.self)
        default: return nil
        }
    }

    public static func string(_ s: String) -> RESPValue { .bulk(Array(s.utf8)) }

    /// A map's or a RESP2 flat array's value for `key`.
    public subscript(key: String) -> RESPValue? {
        switch self {
        case let .map(e), let .array(e):
            var i = 0
            while i + 1 < e.count {
                if e[i].text == key { return e[i + 1] }
                i += 2
            }
            return nil
        default:
            return nil
        }
    }

    public var elements: [RESPValue]? {
        switch self {
        case let .array(e), let .set(e), let .map(e), let .push(e): return e
        default: return nil
        }
    }
}

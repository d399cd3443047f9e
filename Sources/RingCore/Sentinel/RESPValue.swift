// A whole RESP2 reply as a value, for the few control-plane replies the proxy reads itself
// (Sentinel's, ROLE's). Never used on the request path: replies to clients are forwarded as
// bytes, framed by ReplyScanner.

public indirect enum RESPValue: Equatable, Sendable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPValue])

    /// A control-plane reply nests a few levels at most (SENTINEL MASTER: 1, a pub/sub
    /// message: 1); deeper input is refused rather than followed down the stack.
    public static let maxDepth = 8

    /// Parses one reply at the start of `bytes`: the value and the bytes it took, nil when
    /// incomplete or malformed.
    public static func parse<C: RandomAccessCollection>(_ bytes: C) -> (RESPValue, Int)? where C.Element == UInt8, C.Index == Int {
        var i = bytes.startIndex
        guard let v = parse(bytes, &i, depth: 0) else { return nil }
        return (v, i - bytes.startIndex)
    }

    private static func parse<C: RandomAccessCollection>(_ b: C, _ i: inout Int, depth: Int) -> RESPValue? where C.Element == UInt8, C.Index == Int {
        guard depth <= maxDepth, i < b.endIndex else { return nil }
        let kind = b[i]
        i += 1
        guard let line = readLine(b, &i) else { return nil }
        switch kind {
        case UInt8(ascii: "+"): return .simple(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"): return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            guard let n = Int(String(decoding: line, as: UTF8.self)) else { return nil }
            return .integer(n)
        case UInt8(ascii: "$"):
            guard let n = Int(String(decoding: line, as: UTF8.self)) else { return nil }
            if n < 0 { return .null }
            guard b.endIndex - i >= n + 2 else { return nil }
            let body = Array(b[i..<(i + n)])
            i += n + 2
            return .bulk(body)
        case UInt8(ascii: "*"):
            guard let n = Int(String(decoding: line, as: UTF8.self)) else { return nil }
            if n < 0 { return .null }
            var items: [RESPValue] = []
            for _ in 0..<n {
                guard let item = parse(b, &i, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            return nil
        }
    }

    private static func readLine<C: RandomAccessCollection>(_ b: C, _ i: inout Int) -> [UInt8]? where C.Element == UInt8, C.Index == Int {
        var j = i
        while j + 1 < b.endIndex {
            if b[j] == UInt8(ascii: "\r") && b[j + 1] == UInt8(ascii: "\n") {
                let line = Array(b[i..<j])
                i = j + 2
                return line
            }
            j += 1
        }
        return nil
    }

    /// A bulk or simple string's text.
    public var text: String? {
        switch self {
        case let .bulk(b): return String(decoding: b, as: UTF8.self)
        case let .simple(s): return s
        default: return nil
        }
    }

    /// A flat key/value array (SENTINEL MASTER's form) as a dictionary.
    public var fields: [String: String]? {
        guard case let .array(items) = self, items.count % 2 == 0 else { return nil }
        var out: [String: String] = [:]
        for k in stride(from: 0, to: items.count, by: 2) {
            guard let key = items[k].text, let value = items[k + 1].text else { return nil }
            out[key] = value
        }
        return out
    }
}

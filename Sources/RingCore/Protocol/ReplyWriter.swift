// Encodes the replies the proxy builds itself (its own commands, errors, merged multi-key
// replies) in the protocol the client chose with HELLO: RESP2 by default, RESP3 after
// HELLO 3. Replies from servers are never re-encoded; they pass through as bytes.

public enum RESPVersion: UInt8, Sendable {
    case resp2 = 2
    case resp3 = 3
}

extension ByteBuffer {
    /// `message` starts with the error code ("ERR ...", "NOAUTH ..."); CR and LF are replaced
    /// so a message can never break the framing.
    public func appendError(_ message: String) {
        append(UInt8(ascii: "-"))
        var m = message
        if m.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
            m = String(decoding: m.utf8.map { $0 == 13 || $0 == 10 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
        }
        append(string: m)
        append("\r\n")
    }

    public func appendInteger(_ value: Int) {
        append(UInt8(ascii: ":")); appendDecimal(value); append("\r\n")
    }

    public func appendBulk(_ bytes: UnsafeRawBufferPointer) {
        append(UInt8(ascii: "$")); appendDecimal(bytes.count); append("\r\n")
        append(bytes); append("\r\n")
    }

    public func appendBulk(string: String) {
        var s = string
        s.withUTF8 { appendBulk(UnsafeRawBufferPointer($0)) }
    }

    public func appendNull(_ version: RESPVersion) {
        if version == .resp3 { append("_\r\n") } else { append("$-1\r\n") }
    }

    public func appendArrayHeader(_ count: Int) {
        append(UInt8(ascii: "*")); appendDecimal(count); append("\r\n")
    }

    /// A map of `count` pairs: "%" in RESP3, a flat array of keys and values in RESP2.
    public func appendMapHeader(_ count: Int, _ version: RESPVersion) {
        if version == .resp3 {
            append(UInt8(ascii: "%")); appendDecimal(count); append("\r\n")
        } else {
            appendArrayHeader(count * 2)
        }
    }
}

extension ByteBuffer {
    /// A set of `count` elements: "~" in RESP3, an array in RESP2.
    public func appendSetHeader(_ count: Int, _ version: RESPVersion) {
        if version == .resp3 {
            append(UInt8(ascii: "~")); appendDecimal(count); append("\r\n")
        } else {
            appendArrayHeader(count)
        }
    }
}

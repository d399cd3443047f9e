// Finds the boundaries of client requests in a receive buffer and records where each
// argument lies, without copying or decoding anything else. It works on any split of the
// input: an incomplete request yields `.incomplete` and is parsed again from its first byte
// once more bytes arrive. Both RESP multibulk and inline ("PING\r\n") requests are accepted.

/// Limits on what one request may declare. The defaults are Redis's own, so a client that
/// works against Redis works here, and one that declares absurd sizes is refused before it
/// costs memory. The first three can be changed in the config (`ringproxy:` settings
/// max_bulk_len, max_multibulk_len, max_inline_len).
public struct RequestLimits: Sendable, Equatable {
    /// Redis's proto-max-bulk-len default: 512 MB.
    public static let maxBulkLength = 512 * 1024 * 1024
    /// Redis refuses a multibulk count above 1024*1024.
    public static let maxArgumentCount = 1024 * 1024
    /// Redis's PROTO_INLINE_MAX_SIZE: an inline request (or a header line) above 64 KiB.
    public static let maxInlineLength = 64 * 1024
    /// A "*<count>" or "$<len>" header holds at most this many bytes before CRLF; more can
    /// only be garbage, so we say so instead of waiting for a CRLF that may never come.
    public static let maxHeaderLength = 32

    public var bulkLength: Int
    public var argumentCount: Int
    public var inlineLength: Int

    public init(bulkLength: Int = RequestLimits.maxBulkLength, argumentCount: Int = RequestLimits.maxArgumentCount,
                inlineLength: Int = RequestLimits.maxInlineLength) {
        self.bulkLength = bulkLength
        self.argumentCount = argumentCount
        self.inlineLength = inlineLength
    }
}

/// Where one argument lies, as an offset from the start of the parsed request's buffer.
public struct ArgumentSpan: Equatable {
    public var offset: Int
    public var count: Int
    @inlinable public init(offset: Int, count: Int) { self.offset = offset; self.count = count }
}

public enum RequestParseResult: Equatable {
    /// A whole request of `length` bytes; `args` holds its arguments.
    case request(length: Int)
    /// Bytes that hold no command (an empty inline line, "*0"): skip them.
    case skip(length: Int)
    case incomplete
    /// The stream cannot be framed any further; the message is the reply to send.
    case error(String)
}

public struct RequestParser {
    /// The arguments of the last request returned; reused between requests.
    public private(set) var args: [ArgumentSpan] = []
    /// True when the last request was inline (its bytes are not RESP and must be re-encoded
    /// before they go to a server).
    public private(set) var wasInline = false

    public let limits: RequestLimits

    public init(limits: RequestLimits = RequestLimits()) {
        // No capacity reserved: `args` grows to the widest request seen and is kept (so the
        // steady state does not allocate), and a client that sends only PING never holds
        // room for sixteen arguments.
        self.limits = limits
    }

    /// Frees the argument list's storage (an idle client's; the next request allocates).
    public mutating func releaseStorage() {
        args = []
    }

    public mutating func parse(_ buf: UnsafeRawBufferPointer) -> RequestParseResult {
        guard buf.count > 0 else { return .incomplete }
        args.removeAll(keepingCapacity: true)
        if buf[0] == UInt8(ascii: "*") {
            wasInline = false
            return parseMultibulk(buf)
        }
        wasInline = true
        return parseInline(buf)
    }

    /// Parses a decimal integer line starting at `start` (just after the type byte).
    /// Returns (value, index after CRLF), nil if incomplete, or a negative index on error.
    @inline(__always)
    static func parseHeaderNumber(_ buf: UnsafeRawBufferPointer, _ start: Int) -> (Int, Int)? {
        let end = buf.count
        var i = start
        // A byte that cannot belong to a number is an error at once, before any CRLF.
        while i < end && buf[i] != UInt8(ascii: "\r") {
            let c = buf[i]
            let digit = c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
            if !(digit || (c == UInt8(ascii: "-") && i == start)) || i - start >= RequestLimits.maxHeaderLength {
                return (0, -1)
            }
            i += 1
        }
        if i + 1 >= end { return nil }
        guard buf[i + 1] == UInt8(ascii: "\n"),
              let value = parseInteger(UnsafeRawBufferPointer(rebasing: buf[start..<i])) else { return (0, -1) }
        return (value, i + 2)
    }

    private mutating func parseMultibulk(_ buf: UnsafeRawBufferPointer) -> RequestParseResult {
        guard let (count, afterHeader) = RequestParser.parseHeaderNumber(buf, 1) else { return .incomplete }
        if afterHeader < 0 { return .error("ERR Protocol error: invalid multibulk length") }
        if count <= 0 { return .skip(length: afterHeader) }
        if count > limits.argumentCount { return .error("ERR Protocol error: invalid multibulk length") }
        var p = afterHeader
        for _ in 0..<count {
            if p >= buf.count { return .incomplete }
            if buf[p] != UInt8(ascii: "$") {
                return .error("ERR Protocol error: expected '$', got '\(printable(buf[p]))'")
            }
            guard let (len, afterLen) = RequestParser.parseHeaderNumber(buf, p + 1) else { return .incomplete }
            if afterLen < 0 || len < 0 || len > limits.bulkLength {
                return .error("ERR Protocol error: invalid bulk length")
            }
            let end = afterLen + len
            if end + 2 > buf.count { return .incomplete }
            if buf[end] != UInt8(ascii: "\r") || buf[end + 1] != UInt8(ascii: "\n") {
                return .error("ERR Protocol error: bulk string longer than its declared length")
            }
            args.append(ArgumentSpan(offset: afterLen, count: len))
            p = end + 2
        }
        return .request(length: p)
    }

    /// Inline requests: one line, arguments split on spaces and tabs, with "..." or '...'
    /// quoting (without escapes; a backslash inside quotes is refused rather than guessed).
    private mutating func parseInline(_ buf: UnsafeRawBufferPointer) -> RequestParseResult {
        var newline = -1
        let scanEnd = Swift.min(buf.count, limits.inlineLength + 2)
        for i in 0..<scanEnd where buf[i] == UInt8(ascii: "\n") { newline = i; break }
        if newline < 0 {
            // Too big only once the whole scanned window has arrived without a newline: a
            // newline may still come at index inlineLength + 1, which is accepted when it
            // arrives in the same read, so refusing earlier would make the result depend
            // on how the bytes were split into reads (found by the fuzzer).
            return buf.count >= limits.inlineLength + 2
                ? .error("ERR Protocol error: too big inline request") : .incomplete
        }
        var lineEnd = newline
        if lineEnd > 0, buf[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
        var i = 0
        while i < lineEnd {
            let c = buf[i]
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") { i += 1; continue }
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                let start = i + 1
                var j = start
                while j < lineEnd, buf[j] != c {
                    if buf[j] == UInt8(ascii: "\\") { return .error("ERR Protocol error: escapes in inline requests are not supported; use RESP") }
                    j += 1
                }
                if j >= lineEnd { return .error("ERR Protocol error: unbalanced quotes in request") }
                if j + 1 < lineEnd, buf[j + 1] != UInt8(ascii: " "), buf[j + 1] != UInt8(ascii: "\t") {
                    return .error("ERR Protocol error: unbalanced quotes in request")
                }
                args.append(ArgumentSpan(offset: start, count: j - start))
                i = j + 1
                continue
            }
            let start = i
            while i < lineEnd, buf[i] != UInt8(ascii: " "), buf[i] != UInt8(ascii: "\t") { i += 1 }
            args.append(ArgumentSpan(offset: start, count: i - start))
        }
        if args.isEmpty { return .skip(length: newline + 1) }
        return .request(length: newline + 1)
    }
}

@usableFromInline func printable(_ byte: UInt8) -> String {
    byte >= 0x20 && byte < 0x7f ? String(UnicodeScalar(byte)) : "\\x" + String(byte, radix: 16)
}

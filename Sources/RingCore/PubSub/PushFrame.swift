// What arrives on a shared subscriber connection: messages, the server's confirmations of
// the proxy's own (un)subscribe commands, and PING's answer. The frame has been framed by
// ReplyScanner; this only reads its first two elements to say whose it is. The frame
// itself is forwarded to clients as it came.

public enum PushKind: Equatable, Sendable {
    /// message, pmessage, smessage: for the subscribers of the name (a pattern for pmessage).
    case message(SubscriptionKind)
    /// The server confirmed a subscription the proxy asked for.
    case subscribed(SubscriptionKind)
    case unsubscribed(SubscriptionKind)
    /// Anything else (PING's answer, an error): nobody's.
    case other
}

public struct PushFrame: Equatable, Sendable {
    public let kind: PushKind
    /// The channel or pattern the frame concerns (the second element), within the frame.
    public let name: Range<Int>

    /// Reads a RESP2 (`*`) or RESP3 (`>`) push; nil when it is not one of an array of bulk
    /// strings (an error reply, for instance).
    public static func parse(_ frame: UnsafeRawBufferPointer) -> PushFrame? {
        guard frame.count > 4, frame[0] == UInt8(ascii: "*") || frame[0] == UInt8(ascii: ">") else { return nil }
        guard var at = lineEnd(frame, from: 1),
              let word = bulk(frame, at: &at), let name = bulk(frame, at: &at) else { return nil }
        let w = UnsafeRawBufferPointer(rebasing: frame[word])
        let kind: PushKind
        if ASCII.equalsLowercased(w, "message") { kind = .message(.channel) }
        else if ASCII.equalsLowercased(w, "pmessage") { kind = .message(.pattern) }
        else if ASCII.equalsLowercased(w, "smessage") { kind = .message(.shard) }
        else if ASCII.equalsLowercased(w, "subscribe") { kind = .subscribed(.channel) }
        else if ASCII.equalsLowercased(w, "psubscribe") { kind = .subscribed(.pattern) }
        else if ASCII.equalsLowercased(w, "ssubscribe") { kind = .subscribed(.shard) }
        else if ASCII.equalsLowercased(w, "unsubscribe") { kind = .unsubscribed(.channel) }
        else if ASCII.equalsLowercased(w, "punsubscribe") { kind = .unsubscribed(.pattern) }
        else if ASCII.equalsLowercased(w, "sunsubscribe") { kind = .unsubscribed(.shard) }
        else { kind = .other }
        return PushFrame(kind: kind, name: name)
    }

    /// The index after the CRLF of the line starting at `from`.
    private static func lineEnd(_ b: UnsafeRawBufferPointer, from: Int) -> Int? {
        var i = from
        while i + 1 < b.count {
            if b[i] == UInt8(ascii: "\r") && b[i + 1] == UInt8(ascii: "\n") { return i + 2 }
            i += 1
        }
        return nil
    }

    /// A bulk string at `at` (advanced past it): its payload's range. A null bulk (an
    /// UNSUBSCRIBE of nothing) is an empty range.
    private static func bulk(_ b: UnsafeRawBufferPointer, at: inout Int) -> Range<Int>? {
        guard at < b.count else { return nil }
        if b[at] == UInt8(ascii: "_") {
            guard let next = lineEnd(b, from: at) else { return nil }
            at = next
            return next..<next
        }
        guard b[at] == UInt8(ascii: "$"), let dataStart = lineEnd(b, from: at + 1) else { return nil }
        guard let length = parseInteger(UnsafeRawBufferPointer(rebasing: b[(at + 1)..<(dataStart - 2)])),
              length <= ReplyScanner.maxDeclaredLength else { return nil }
        if length < 0 {
            at = dataStart
            return dataStart..<dataStart
        }
        guard dataStart + length + 2 <= b.count else { return nil }
        at = dataStart + length + 2
        return dataStart..<(dataStart + length)
    }
}

/// The replies a client gets for its (un)subscribe commands, written by the proxy with the
/// client's own counts, in its protocol.
public enum SubscriptionReplies {
    /// `[word, name, count]`: a nil name is UNSUBSCRIBE's answer when nothing was subscribed.
    public static func confirmation(_ word: StaticString, name: UnsafeRawBufferPointer?, count: Int,
                                    version: RESPVersion, into out: ByteBuffer) {
        out.append(version == .resp3 ? ">3\r\n" : "*3\r\n")
        word.withUTF8Buffer { out.appendBulk(UnsafeRawBufferPointer($0)) }
        if let n = name { out.appendBulk(n) } else { out.append(version == .resp3 ? "_\r\n" : "$-1\r\n") }
        out.appendInteger(count)
    }

    /// PING in RESP2 subscribed mode: `["pong", arg or ""]`, as Redis answers it there.
    public static func subscribedPong(_ argument: UnsafeRawBufferPointer?, into out: ByteBuffer) {
        out.append("*2\r\n$4\r\npong\r\n")
        out.appendBulk(argument ?? UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// The error Redis gives a RESP2 subscriber for any other command.
    public static func notAllowedMessage(_ command: String) -> String {
        "ERR Can't execute '\(command)': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    }
}

// One step of a ring-wide SCAN (see ScanCursor): the request sent to the server the cursor
// names, with that server's own cursor in place of the client's, and the server's reply with
// the ring's cursor in place of the server's. MATCH, COUNT and TYPE pass through unchanged,
// and so do the keys: only the cursor element is rewritten, so a RESP3 client gets the
// reply shape Redis gives it (SCAN answers the same two-element array in both protocols).

public enum ScanPage {
    /// `SCAN <serverCursor>` followed by the client's arguments after its cursor.
    public static func writeRequest(serverCursor: UInt64, args: [ArgumentSpan], request: UnsafeRawBufferPointer,
                                    into out: ByteBuffer) {
        out.appendArrayHeader(args.count)
        out.append("$4\r\nSCAN\r\n")
        appendBulk(serverCursor, out)
        for a in args.dropFirst(2) { appendArgument(a, request, out) }
    }

    /// The page `server` answered, for the client: its cursor becomes the ring's (0 once the
    /// last server is done). An error reply passes unchanged; anything else that is not a
    /// SCAN reply, or a cursor too large to encode, becomes an error.
    public static func rewriteReply(_ reply: UnsafeRawBufferPointer, server: Int, serverCount: Int,
                                    into out: ByteBuffer) {
        if let type = reply.first, type == UInt8(ascii: "-") || type == UInt8(ascii: "!") {
            out.append(reply)
            return
        }
        guard let (serverCursor, keysStart) = parse(reply) else {
            out.appendError(ProxyError.unexpectedScanReply.message)
            return
        }
        let next = ScanCursor.after(server: server, nextServerCursor: serverCursor, serverCount: serverCount)
        // No next position: that was the last server, and 0 ends the scan.
        guard let cursor = next == nil ? 0 : next?.encoded(serverCount: serverCount) else {
            out.appendError(ProxyError.scanCursorTooLarge(serverCursor: serverCursor).message)
            return
        }
        out.append("*2\r\n")
        appendBulk(cursor, out)
        out.append(UnsafeRawBufferPointer(rebasing: reply[keysStart...]))
    }

    /// The reply a scan gets when no server is left to scan (the rest were skipped as down).
    public static func writeEnd(into out: ByteBuffer) {
        out.append("*2\r\n$1\r\n0\r\n*0\r\n")
    }

    /// `*2\r\n$<n>\r\n<cursor>\r\n<keys>`: the server's cursor and where the keys start.
    /// Only the head is read: the keys' array is the server's, passed on as it is.
    static func parse(_ reply: UnsafeRawBufferPointer) -> (UInt64, Int)? {
        let head: [UInt8] = Array("*2\r\n$".utf8)
        guard reply.count > head.count + 3, reply.starts(with: head) else { return nil }
        var p = head.count
        var length = 0
        while p < reply.count, reply[p] != UInt8(ascii: "\r") {
            let c = reply[p]
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9"), length <= ScanCursor.maxDigits else { return nil }
            length = length * 10 + Int(c - UInt8(ascii: "0"))
            p += 1
        }
        let start = p + 2
        let end = start + length
        guard p < reply.count, end + 2 <= reply.count, reply[end] == UInt8(ascii: "\r"),
              let cursor = ScanCursor.parseUnsigned(UnsafeRawBufferPointer(rebasing: reply[start..<end]))
        else { return nil }
        return (cursor, end + 2)
    }

    /// A bulk string of `value`'s decimal digits (ByteBuffer's appendDecimal takes an Int,
    /// and a cursor may use all 64 bits).
    static func appendBulk(_ value: UInt64, _ out: ByteBuffer) {
        var digits: [UInt8] = []
        digits.reserveCapacity(ScanCursor.maxDigits)
        var v = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        } while v > 0
        out.append(UInt8(ascii: "$"))
        out.appendDecimal(digits.count)
        out.append("\r\n")
        out.append(Array(digits.reversed()))
        out.append("\r\n")
    }
}

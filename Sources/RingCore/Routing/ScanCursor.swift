// SCAN over the whole ring with one cursor. The servers are scanned one after another, in
// the order of the pool's server list (the config's order, which is also the ring's); the
// cursor the client sees names the server being scanned and that server's own cursor.
//
// The client's cursor is one unsigned 64-bit number made of three mixed-radix digits:
//
//     cursor = (serverCursor * N + server) * checkModulus + N % checkModulus
//
// where N is the number of servers in the pool. It depends on the config alone, so a cursor
// from one ringproxy works on another with the same config, and on a new connection. 0
// starts the scan and 0 ends it, as in Redis: a cursor the proxy hands out is never 0 until
// the last server is done (it names a server after the first, or a non-zero server cursor).
//
// The last digit is a check: a cursor made for a ring of M servers is refused on a ring of
// N servers whenever M % checkModulus != N % checkModulus, which is every count change
// for pools below checkModulus servers. What it cannot see: a change that keeps the count
// (servers replaced or reordered), counts that differ by a multiple of checkModulus, and a
// made-up number that happens to carry the right check (1 in checkModulus); such a cursor
// names some position on some server, as a made-up cursor does in Redis itself.

public struct ScanCursor: Equatable, Sendable {
    /// The server's index in the pool's server list.
    public let server: Int
    /// That server's own SCAN cursor.
    public let serverCursor: UInt64

    public init(server: Int, serverCursor: UInt64) {
        self.server = server
        self.serverCursor = serverCursor
    }

    /// Cursor 0: the first server, from its start.
    public static let start = ScanCursor(server: 0, serverCursor: 0)

    /// The check digit's radix. 1,024 tells every server count apart in any pool smaller
    /// than that (far more servers than a ketama pool has in practice) while leaving
    /// 2^54 / N server cursor values, orders of magnitude above what a Redis server returns
    /// (its cursors stay below its hash table's size).
    public static let checkModulus: UInt64 = 1024

    /// Longest cursor text: UInt64.max has 20 digits.
    static let maxDigits = 20

    public enum DecodeError: Error, Equatable, Sendable {
        /// Not a decimal number that fits 64 bits (Redis's own "invalid cursor").
        case invalid
        /// A number whose check digit says it was made for a ring of another server count.
        case otherRing
    }

    /// The position the client's `text` names on a ring of `serverCount` servers.
    public static func decode(_ text: UnsafeRawBufferPointer, serverCount: Int) -> Result<ScanCursor, DecodeError> {
        guard let value = parseUnsigned(text) else { return .failure(.invalid) }
        return decode(value, serverCount: serverCount)
    }

    public static func decode(_ value: UInt64, serverCount: Int) -> Result<ScanCursor, DecodeError> {
        if value == 0 { return .success(.start) }
        guard serverCount > 0 else { return .failure(.otherRing) }
        let n = UInt64(serverCount)
        guard value % checkModulus == n % checkModulus else { return .failure(.otherRing) }
        let rest = value / checkModulus
        return .success(ScanCursor(server: Int(rest % n), serverCursor: rest / n))
    }

    /// The client's cursor for this position, or nil when the server cursor is too large to
    /// share 64 bits with the server index and the check (see `checkModulus`).
    public func encoded(serverCount: Int) -> UInt64? {
        if self == .start { return 0 }
        let n = UInt64(serverCount)
        let (scaled, o1) = serverCursor.multipliedReportingOverflow(by: n)
        let (withServer, o2) = scaled.addingReportingOverflow(UInt64(server))
        let (shifted, o3) = withServer.multipliedReportingOverflow(by: ScanCursor.checkModulus)
        let (value, o4) = shifted.addingReportingOverflow(n % ScanCursor.checkModulus)
        if o1 || o2 || o3 || o4 { return nil }
        return value
    }

    /// Where the scan goes after `server` answered `nextServerCursor`: on along that server,
    /// or, when it is done (0), to the start of the next server; nil after the last server.
    public static func after(server: Int, nextServerCursor: UInt64, serverCount: Int) -> ScanCursor? {
        if nextServerCursor != 0 { return ScanCursor(server: server, serverCursor: nextServerCursor) }
        return server + 1 < serverCount ? ScanCursor(server: server + 1, serverCursor: 0) : nil
    }

    /// Where one SCAN step goes from `self`.
    public enum Target: Equatable, Sendable {
        /// Ask this server, from this cursor.
        case server(ScanCursor)
        /// Every server left was skipped: the scan is over.
        case end
        /// This server cannot be reached and its keys may not be skipped.
        case unreachable(server: Int)
    }

    /// The server this step asks: the cursor's own if `reachable`, else, where a server
    /// that cannot be reached counts as holding no keys (`skipUnreachable`), the start of the
    /// next one that is. A skipped server's keys are not returned: the guarantee that a key
    /// present for the whole scan is returned holds for the servers that were reached.
    public func target(serverCount: Int, skipUnreachable: Bool, reachable: (Int) -> Bool) -> Target {
        var position = self
        while position.server < serverCount {
            if reachable(position.server) { return .server(position) }
            if !skipUnreachable { return .unreachable(server: position.server) }
            position = ScanCursor(server: position.server + 1, serverCursor: 0)
        }
        return .end
    }

    /// A decimal number of at most 20 digits that fits 64 bits, nothing else: no sign, no
    /// space (Redis's strtoul would also take a sign; nothing makes such a cursor). The
    /// empty string is 0, as strtoul reads it for Redis.
    static func parseUnsigned(_ text: UnsafeRawBufferPointer) -> UInt64? {
        guard text.count <= maxDigits else { return nil }
        var value: UInt64 = 0
        for c in text {
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }
}

// Error replies from an upstream that say something about the server rather than the
// request: a server still loading its dataset or a replica cut off from its master cannot
// serve (passive failures, as a broken connection is), and READONLY means the "master" has
// been demoted to a replica behind the proxy's back (Sentinel moved the master and the
// proxy has not heard yet).

public enum UpstreamErrorReply: Equatable, Sendable {
    /// `-LOADING`: the server is loading its dataset into memory.
    case loading
    /// `-MASTERDOWN`: a replica with replica-serve-stale-data no whose master link is down.
    case masterDown
    /// `-READONLY`: a write reached a replica.
    case readOnly
    /// Any other reply: about the request alone.
    case other

    /// Classifies a whole reply (only its first bytes are read). Error codes are upper case
    /// and end with a space or the line's end, as Redis sends them.
    public static func classify(_ reply: UnsafeRawBufferPointer) -> UpstreamErrorReply {
        guard reply.first == UInt8(ascii: "-") else { return .other }
        if hasCode(reply, "LOADING") { return .loading }
        if hasCode(reply, "MASTERDOWN") { return .masterDown }
        if hasCode(reply, "READONLY") { return .readOnly }
        return .other
    }

    private static func hasCode(_ reply: UnsafeRawBufferPointer, _ code: StaticString) -> Bool {
        let n = code.utf8CodeUnitCount
        guard reply.count > n + 1 else { return false }
        let c = code.utf8Start
        for i in 0..<n where reply[1 + i] != c[i] { return false }
        let after = reply[1 + n]
        return after == UInt8(ascii: " ") || after == UInt8(ascii: "\r")
    }
}

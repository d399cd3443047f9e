// The Lua script bodies the proxy has seen in SCRIPT LOAD, by their SHA1 as the servers
// answered it. When a server answers NOSCRIPT to an EVALSHA whose body is here (it was
// restarted empty, or joined later), the proxy loads the body there and retries, so the
// client never sees the NOSCRIPT. Bounded; the least recently used body goes first.

public struct ScriptCache: Sendable {
    /// Scripts kept per worker: applications load a handful (a lock's release and extend,
    /// a rate limiter's window); a thousand leaves room without letting a client that
    /// loads generated scripts grow the proxy without bound.
    public static let maxScripts = 1024
    /// Bytes of bodies kept per worker, for the same reason.
    public static let maxBytes = 8 * 1024 * 1024

    private var bodies: [String: (body: [UInt8], used: UInt64)] = [:]
    private var bytes = 0
    private var clock: UInt64 = 0

    public init() {}

    public var count: Int { bodies.count }

    /// Keeps `body` under `sha` (lower case hex), evicting the least recently used ones
    /// past the bounds. A body larger than `maxBytes` is not kept.
    public mutating func store(sha: String, body: [UInt8]) {
        guard body.count <= ScriptCache.maxBytes else { return }
        clock &+= 1
        if let old = bodies[sha] { bytes -= old.body.count }
        bodies[sha] = (body, clock)
        bytes += body.count
        while bodies.count > ScriptCache.maxScripts || bytes > ScriptCache.maxBytes {
            guard let oldest = bodies.min(by: { $0.value.used < $1.value.used }) else { break }
            bytes -= oldest.value.body.count
            bodies[oldest.key] = nil
        }
    }

    /// The body for `sha` (any case), marking it used.
    public mutating func body(sha: String) -> [UInt8]? {
        let key = sha.lowercased()
        guard let entry = bodies[key] else { return nil }
        clock &+= 1
        bodies[key] = (entry.body, clock)
        return entry.body
    }

    public func contains(sha: String) -> Bool { bodies[sha.lowercased()] != nil }

    /// The SHA1 in SCRIPT LOAD's reply (`$40\r\n<sha>\r\n`), lower case; nil for anything else.
    public static func sha(fromReply reply: [UInt8]) -> String? {
        guard reply.count == 47, reply.starts(with: Array("$40\r\n".utf8)) else { return nil }
        return String(decoding: reply[5..<45], as: UTF8.self).lowercased()
    }
}

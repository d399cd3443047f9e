// The commands the proxy sends first on its own upstream connections (AUTH, SELECT, HELLO 3)
// and the one wording of the error a client gets in place of a server's reply. Bytes and text
// only: nothing here reads, checks or sends anything.

public enum UpstreamHandshake {
    /// AUTH [user] password (Redis 6 ACL form when a user is given). One reply.
    public static func writeAuth(user: String?, password: String, into out: ByteBuffer) {
        out.appendArrayHeader(user == nil ? 2 : 3)
        out.appendBulk(string: "AUTH")
        if let u = user { out.appendBulk(string: u) }
        out.appendBulk(string: password)
    }

    /// What a new data connection sends before any request: AUTH when the pool has a
    /// password, SELECT for a database other than 0, HELLO 3 for a RESP3 connection.
    /// Returns how many replies they produce.
    public static func write(user: String?, password: String?, database: Int, resp3: Bool, into out: ByteBuffer) -> Int {
        var replies = 0
        if let p = password {
            writeAuth(user: user, password: p, into: out)
            replies += 1
        }
        if database != 0 {
            out.appendArrayHeader(2)
            out.appendBulk(string: "SELECT")
            out.appendBulk(string: String(database))
            replies += 1
        }
        if resp3 {
            out.appendArrayHeader(2)
            out.appendBulk(string: "HELLO")
            out.appendBulk(string: "3")
            replies += 1
        }
        return replies
    }
}

/// How the server stood when a request could not be answered by it.
public enum UpstreamErrorState: String, Sendable {
    /// Its connection failed while the request waited (the reason says how).
    case failed = ""
    /// The health checks marked it down.
    case down = " is down"
    /// Backing off after failed connects.
    case unavailable = " unavailable"
}

extension ServerSpec {
    /// The error a client gets in place of this server's reply:
    /// "ERR upstream NAME (ADDRESS)[ is down| unavailable]: REASON".
    public func upstreamError(_ state: UpstreamErrorState, _ reason: String) -> String {
        "ERR upstream \(displayName) (\(addressText))\(state.rawValue): \(reason)"
    }

    /// "NAME ADDRESS", as log lines name a server ("upstream cache-2 127.0.0.1:7002 down: ...").
    public var logName: String { "\(displayName) \(addressText)" }
}

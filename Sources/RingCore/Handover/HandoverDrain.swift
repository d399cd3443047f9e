// What a process that handed its listeners over does with each client, once the connection is
// idle (no reply owed, no request half-read), so nothing a client was promised is lost:
//  - an ordinary client's connection itself moves to the new process (its descriptor and
//    session state over the takeover socket, as pgbouncer's takeover moves its clients). A
//    request the client sends meanwhile waits in the kernel for the new owner, so no moment
//    is unsafe and the client notices nothing.
//  - a subscriber or a monitor (whose state is on this process's server connections) is
//    closed, and resubscribes on its reconnect.
//  - without a successor to take connections (its socket failed), an ordinary client is
//    closed instead, at the safest moment there is: right behind a reply (it sees the end of
//    the connection before it sends again, as a pooled client checks on checkout), or after
//    it has been quiet a while. Closing always races with a request already on its way,
//    which is why connections move when they can.
//  - a client mid-conversation (a transaction, a WATCH, a blocking command) is left until it
//    ends or the drain time runs out.

public enum HandoverDrain {
    /// A client that sent nothing and was answered nothing for this long is taken to be idle
    /// in a pool. Closing it races with a request it may be about to send, so this is long
    /// next to a client's pause between checking a pooled connection and sending on it (up to
    /// 200 ms seen for Python threads contending for the interpreter lock, where 100 ms here
    /// failed requests), and short next to the drain limit.
    public static let quietMs: UInt64 = 1_000
    /// The old process exits at the latest this long after it stopped accepting: longer than a
    /// transaction or a blocking command with a typical timeout takes, and still bounded, so
    /// a client that never goes idle cannot keep an old binary running.
    public static let drainLimitMs: UInt64 = 30_000

    /// What the decision looks at of one client.
    public struct Client: Equatable, Sendable {
        public var mode: SessionMode
        /// Replies owed: requests in flight, or output not yet written.
        public var owesReplies: Bool
        /// Bytes read and not yet handled (a partial request, requests held by a pause or a
        /// failover hold).
        public var unhandledInput: Bool
        /// Bytes the kernel holds that the proxy has not read: a request on its way in.
        /// Closing now would reset the connection and lose it.
        public var unreadBytes: Int
        /// A reply was written to it in this loop turn.
        public var answeredThisTurn: Bool
        /// Milliseconds since its last read or reply.
        public var quietForMs: UInt64
        /// The successor takes connections (the takeover socket is still open).
        public var canHandOver: Bool

        public init(mode: SessionMode, owesReplies: Bool, unhandledInput: Bool, unreadBytes: Int,
                    answeredThisTurn: Bool, quietForMs: UInt64, canHandOver: Bool = true) {
            self.mode = mode
            self.owesReplies = owesReplies
            self.unhandledInput = unhandledInput
            self.unreadBytes = unreadBytes
            self.answeredThisTurn = answeredThisTurn
            self.quietForMs = quietForMs
            self.canHandOver = canHandOver
        }
    }

    public enum Decision: Equatable, Sendable {
        /// Send the connection to the successor, then let go of it (without closing it).
        case handOver
        case close
        case wait
    }

    public static func decide(_ c: Client) -> Decision {
        if c.owesReplies || c.unhandledInput { return .wait }
        // Unread bytes are a request on its way: they stay in the kernel for the new owner,
        // but closing now would reset the connection and lose them.
        if case .normal = c.mode, c.canHandOver { return .handOver }
        if c.unreadBytes != 0 { return .wait }
        switch c.mode {
        case .watching, .transaction, .blocked, .executing:
            // Its state lives on a connection of this process: closing would lose it.
            return .wait
        case .closing:
            // It closes itself once its last reply is written.
            return .wait
        case .subscribed, .monitoring:
            // Only pushes go to it; a subscriber resubscribes on its new connection.
            return .close
        case .normal:
            return c.answeredThisTurn || c.quietForMs >= quietMs ? .close : .wait
        }
    }
}

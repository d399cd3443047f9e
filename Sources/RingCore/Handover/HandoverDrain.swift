// When a process that handed its listeners over closes a client: only when the connection is
// idle, so no reply it owes is lost and the client's next request goes, on a new connection,
// to the new process. The moment matters: a client that was just answered gets the close
// right behind its reply (it sees the end of the connection before it sends again, as a pooled
// client checks on checkout); one that is quiet is closed once it has been quiet a while; one
// that is mid-conversation (a transaction, a WATCH, a blocking command) is left until it ends
// or the drain time runs out.

public enum HandoverDrain {
    /// A client that sent nothing and was answered nothing for this long is taken to be idle
    /// in a pool: long next to a busy client's gap between reply and request (microseconds to
    /// a millisecond), short next to the drain limit.
    public static let quietMs: UInt64 = 100
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

        public init(mode: SessionMode, owesReplies: Bool, unhandledInput: Bool, unreadBytes: Int,
                    answeredThisTurn: Bool, quietForMs: UInt64) {
            self.mode = mode
            self.owesReplies = owesReplies
            self.unhandledInput = unhandledInput
            self.unreadBytes = unreadBytes
            self.answeredThisTurn = answeredThisTurn
            self.quietForMs = quietForMs
        }
    }

    public enum Decision: Equatable, Sendable {
        case close
        case wait
    }

    public static func decide(_ c: Client) -> Decision {
        if c.owesReplies || c.unhandledInput || c.unreadBytes != 0 { return .wait }
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

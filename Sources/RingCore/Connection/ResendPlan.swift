// What becomes of the requests queued on an upstream connection that broke: which move to a
// new connection (their bytes never left this one) and which fail. A pure decision over the
// request FIFO and the write bookkeeping; it never moves, copies or answers anything itself.

/// A request waiting for its reply on an upstream connection, as far as resending goes.
public protocol QueuedRequest {
    /// Where the request's bytes start in its connection's output stream.
    var streamOffset: UInt64 { get }
    /// False for the proxy's own handshake commands (AUTH, SELECT, HELLO): a new connection
    /// sends its own, so these never move.
    var isClientRequest: Bool { get }
}

public struct ResendPlan: Equatable, Sendable {
    /// The FIFO position of the first request that moves; every later one moves too (their
    /// offsets only grow). Equal to the queue's length when none moves.
    public let firstMoved: Int
    /// The broken connection's stream offset where the moved requests' bytes start.
    public let bytesFrom: UInt64

    public var movesAny: Bool { bytesFrom != UInt64.max }

    /// With `resendUnsent` (a timeout: the server is slow, not gone), client requests whose
    /// bytes are all still in `writes.output` move; otherwise nothing does. Requests that
    /// reached the socket always fail: the server may have run them.
    public init<Request: QueuedRequest>(queue: RingQueue<Request>, writes: PendingWrites, resendUnsent: Bool) {
        var first = queue.count
        if resendUnsent {
            for i in 0..<queue.count where queue[i].isClientRequest && writes.isUnsent(queue[i].streamOffset) {
                first = i
                break
            }
        }
        firstMoved = first
        bytesFrom = first < queue.count ? queue[first].streamOffset : UInt64.max
    }

    /// A moved request's offset on the connection that takes it over, whose stream ended at
    /// `origin` before the moved bytes were appended.
    @inlinable public func rebased(_ offset: UInt64, onto origin: UInt64) -> UInt64 {
        offset &- bytesFrom &+ origin
    }
}

// When a client's reads stop and resume. A client that pipelines without reading its replies
// would make the proxy hold every reply it has not taken; past either high mark its reads
// stop, and they resume below both low marks. Pure: the caller reads the counts and acts.

public struct Backpressure: Sendable {
    // Requests already forwarded still get their replies, so the most a client can pin is
    // `pauseAtPendingReplies` replies plus `pauseAtOutputBytes`; pausing the shared upstream
    // connections instead would stall every other client on them.

    /// Replies a client may have in flight before its reads stop. Large enough that
    /// pipelines of ordinary depth (redis-benchmark -P 16, redis-py batches of hundreds)
    /// never pause; small enough that 1024 replies of a large value stay tens of MiB.
    public static let pauseAtPendingReplies = 1024
    public static let resumeAtPendingReplies = 256
    /// Unwritten reply bytes (the client is not reading): 4 MiB, above the socket buffers
    /// a reading client keeps full, so only a slow or stalled reader is paused.
    public static let pauseAtOutputBytes = 4 * 1024 * 1024
    public static let resumeAtOutputBytes = 1024 * 1024

    public private(set) var paused = false

    public init() {}

    /// After a request was handled: true when reads must stop now.
    public mutating func shouldPause(pendingReplies: Int, outputBytes: Int) -> Bool {
        if paused { return false }
        if pendingReplies >= Backpressure.pauseAtPendingReplies || outputBytes >= Backpressure.pauseAtOutputBytes {
            paused = true
            return true
        }
        return false
    }

    /// After replies were written or taken: true when a paused client may read again.
    public mutating func shouldResume(pendingReplies: Int, outputBytes: Int) -> Bool {
        guard paused, pendingReplies <= Backpressure.resumeAtPendingReplies,
              outputBytes <= Backpressure.resumeAtOutputBytes else { return false }
        paused = false
        return true
    }
}

// When an upstream may be connected to again after failures: exponential back-off from
// 100 ms to 5 s with jitter. Pure: the caller passes the clock and the random source; it
// never sleeps, connects or logs.

public struct ConnectBackoff: Equatable, Sendable {
    /// The first retry waits this long; each further failure doubles it up to the cap.
    public static let initialMs: UInt64 = 100
    public static let maximumMs: UInt64 = 5_000
    /// Up to 1/5 (20%) of each delay is taken off at random, so the workers (and proxies)
    /// do not reconnect in lockstep.
    public static let jitterDivisor: UInt64 = 5

    /// No connect before this time (the loop's clock, ms).
    public private(set) var retryAtMs: UInt64 = 0
    /// Failures since the last success.
    public private(set) var consecutiveFailures = 0

    public init() {}

    @inlinable public func mayConnect(nowMs: UInt64) -> Bool { nowMs >= retryAtMs }

    /// The delay before jitter after `failures` failures in a row (at least one).
    public static func baseDelayMs(failures: Int) -> UInt64 {
        min(maximumMs, initialMs << UInt64(min(max(failures, 1) - 1, 16)))
    }

    /// A connect or a connection failed at `nowMs`: waits longer. Returns the delay chosen.
    @discardableResult
    public mutating func failed<G: RandomNumberGenerator>(nowMs: UInt64, using random: inout G) -> UInt64 {
        consecutiveFailures += 1
        let base = ConnectBackoff.baseDelayMs(failures: consecutiveFailures)
        let delay = base - UInt64.random(in: 0...(base / ConnectBackoff.jitterDivisor), using: &random)
        retryAtMs = nowMs + delay
        return delay
    }

    @discardableResult
    public mutating func failed(nowMs: UInt64) -> UInt64 {
        var random = SystemRandomNumberGenerator()
        return failed(nowMs: nowMs, using: &random)
    }

    /// A connection that had worked broke (a cut reply, a restart) and this is the only
    /// failure so far: it is replaced on the next request, without waiting. A failure to
    /// reconnect after it backs off as usual.
    public mutating func brokeAfterWorking() {
        if consecutiveFailures == 1 { retryAtMs = 0 }
    }

    /// Connected, or the server came back up: connect at once from now on.
    public mutating func reset() {
        consecutiveFailures = 0
        retryAtMs = 0
    }
}

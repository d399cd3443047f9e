// Whether a Sentinel-managed server's requests wait for its new master (failover_hold)
// instead of being answered with the down error. One per server per worker. The window
// opens when a request first finds the server unreachable and closes when the server is
// back (up again, switched, or a connection succeeded). Requests parked in it wait at most
// `limitMs` from its opening; after that, until the server is back, requests are answered
// at once as without a hold, so a master that never comes back costs each client one wait,
// not one per request.

public struct FailoverHold: Equatable, Sendable {
    /// 0: no hold (the pool's down mode applies at once).
    public let limitMs: UInt64
    /// When the current window opened (the loop's clock, ms); nil while the server is fine.
    public private(set) var since: UInt64?

    public init(limitMs: Int) {
        self.limitMs = UInt64(max(0, limitMs))
    }

    /// A request found the server unreachable at `now`: true if it should be parked.
    public mutating func shouldPark(now: UInt64) -> Bool {
        guard limitMs > 0 else { return false }
        let start = since ?? now
        since = start
        return now < start + limitMs
    }

    /// The window's time is up: parked requests are to be answered now.
    public func isOver(now: UInt64) -> Bool {
        guard let s = since else { return false }
        return now >= s + limitMs
    }

    /// The server is reachable again (a new master, up again, or connected): the next
    /// outage opens a new window.
    public mutating func serverBack() { since = nil }
}

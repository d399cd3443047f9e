// The up/down state machine of one upstream: down after `fall` failed checks in a row or at
// once on a passive failure, up after `rise` passing checks, never on a timer. Pure: the
// caller supplies results and times.

public struct HealthSettings: Equatable, Sendable {
    public var intervalMs = 1000
    public var timeoutMs = 500
    public var fall = 2
    public var rise = 2
    /// The check command and the reply it must get (the simple string, without "+").
    public var command = "PING"
    public var expect = "PONG"

    public init() {}
}

public struct HealthTracker: Sendable {
    public enum Transition: Equatable, Sendable {
        case none
        case wentDown(String)
        case cameUp
    }

    public private(set) var isUp = true
    public private(set) var consecutiveFailures = 0
    public private(set) var consecutiveSuccesses = 0
    public private(set) var failedChecks = 0
    public private(set) var ejections = 0
    /// Milliseconds since the epoch of the last change (0: never changed).
    public private(set) var sinceMs: UInt64 = 0
    public private(set) var reason = ""
    private(set) var fall: Int
    private(set) var rise: Int

    public init(fall: Int, rise: Int) {
        self.fall = max(1, fall)
        self.rise = max(1, rise)
    }

    /// A reload changed health_check_fall/rise: the state and its history stay, the next
    /// transition counts to the new thresholds.
    public mutating func setThresholds(fall: Int, rise: Int) {
        self.fall = max(1, fall)
        self.rise = max(1, rise)
    }

    public mutating func checkPassed(nowMs: UInt64) -> Transition {
        consecutiveFailures = 0
        consecutiveSuccesses += 1
        if !isUp && consecutiveSuccesses >= rise {
            isUp = true
            sinceMs = nowMs
            reason = "\(rise) passing health checks"
            return .cameUp
        }
        return .none
    }

    public mutating func checkFailed(_ why: String, nowMs: UInt64) -> Transition {
        failedChecks += 1
        consecutiveSuccesses = 0
        consecutiveFailures += 1
        if isUp && consecutiveFailures >= fall {
            return goDown("\(consecutiveFailures) failed health checks (\(why))", nowMs)
        }
        return .none
    }

    /// A failure seen on the request path: down now, without waiting for a check.
    public mutating func passiveFailure(_ why: String, nowMs: UInt64) -> Transition {
        consecutiveSuccesses = 0
        if isUp { return goDown(why, nowMs) }
        return .none
    }

    /// Sentinel named a new master and ROLE there answered master: up at once, since
    /// waiting for `rise` checks would keep the group down seconds after its failover.
    public mutating func masterConfirmed(nowMs: UInt64) -> Transition {
        consecutiveFailures = 0
        consecutiveSuccesses = 0
        guard !isUp else { return .none }
        isUp = true
        sinceMs = nowMs
        reason = "new master confirmed by ROLE after a Sentinel failover"
        return .cameUp
    }

    private mutating func goDown(_ why: String, _ nowMs: UInt64) -> Transition {
        isUp = false
        ejections += 1
        sinceMs = nowMs
        reason = why
        return .wentDown(why)
    }
}

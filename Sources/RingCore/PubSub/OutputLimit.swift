// A subscriber that does not read its messages is disconnected rather than let the proxy's
// memory grow, as Redis's `client-output-buffer-limit pubsub 32mb 8mb 60`: at once past the
// hard limit, or after staying past the soft limit for its seconds. Pure: the session asks
// on every message it queues, with what is waiting to be written.

public struct OutputLimit: Equatable, Sendable {
    /// Redis's defaults for pub/sub clients (redis.conf: 32mb 8mb 60).
    public static let redisHardBytes = 32 * 1024 * 1024
    public static let redisSoftBytes = 8 * 1024 * 1024
    public static let redisSoftSeconds = 60

    /// 0: no limit of that kind (Redis's meaning of 0).
    public let hardBytes: Int
    public let softBytes: Int
    public let softSeconds: Int

    public init(hardBytes: Int = OutputLimit.redisHardBytes, softBytes: Int = OutputLimit.redisSoftBytes,
                softSeconds: Int = OutputLimit.redisSoftSeconds) {
        self.hardBytes = hardBytes
        self.softBytes = softBytes
        self.softSeconds = softSeconds
    }

    public enum Verdict: Equatable, Sendable {
        case within
        case overHard
        case overSoftTooLong
    }

    /// `overSoftSince` is the session's: when it went over the soft limit (nil: it is not).
    public func check(pendingBytes: Int, nowMs: UInt64, overSoftSince: inout UInt64?) -> Verdict {
        if hardBytes > 0 && pendingBytes > hardBytes { return .overHard }
        guard softBytes > 0 && pendingBytes > softBytes else {
            overSoftSince = nil
            return .within
        }
        guard let since = overSoftSince else {
            overSoftSince = nowMs
            return .within
        }
        return nowMs - since >= UInt64(softSeconds) * 1000 ? .overSoftTooLong : .within
    }

    public func describe(_ verdict: Verdict) -> String {
        switch verdict {
        case .within: return "within its output limit"
        case .overHard: return "more than \(hardBytes) bytes of messages unread (pubsub_output_hard_limit)"
        case .overSoftTooLong:
            return "more than \(softBytes) bytes of messages unread for \(softSeconds) s (pubsub_output_soft_limit)"
        }
    }
}

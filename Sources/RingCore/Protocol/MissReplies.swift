// The reply a read gets when its server is down and the pool answers such keys as misses
// (`down_server_reply: miss`): what the same command would answer for a key that does not
// exist, so a cache client sees a miss, never an error or a stale value. Writes get an error
// instead (a write cannot be answered honestly without the server).

public enum MissReply: Equatable, Sendable {
    case nullBulk
    /// GETRANGE, LCS: a missing key reads as the empty string.
    case emptyBulk
    case zero
    /// TTL and PTTL of a missing key.
    case minusTwo
    case emptyArray
    /// HGETALL: a map in RESP3, an empty array in RESP2.
    case emptyMap
    /// SMEMBERS, SINTER, ...: a set in RESP3, an empty array in RESP2.
    case emptySet
    /// TYPE of a missing key.
    case none
    /// HSCAN, SSCAN, ZSCAN of a missing key: cursor 0 and no elements.
    case emptyScan
    /// One null per argument from `fromArgument` on (HMGET, GEOPOS, ZMSCORE).
    case nulls(fromArgument: Int)
    /// One zero per argument from `fromArgument` on (SMISMEMBER).
    case zeros(fromArgument: Int)
    /// Writes and anything else that cannot be faked.
    case error

    /// The miss for `spec`: ProxyCommandPolicy's, else an error for writes (a write cannot
    /// be answered honestly without its server) and a null for other reads. A read that can
    /// name several keys must have its own row (CommandPolicyTests checks it): one null
    /// cannot stand for several keys' answers.
    public static func forCommand(_ spec: RedisCommandSpec) -> MissReply {
        if let miss = ProxyCommandPolicy.row(spec.name)?.miss { return miss }
        if spec.flags.contains(.write) { return .error }
        return spec.flags.contains(.readonly) ? .nullBulk : .error
    }

    /// Writes the miss; returns false for `.error` (the caller sends its own error).
    public func write(into out: ByteBuffer, version: RESPVersion, argumentCount: Int) -> Bool {
        switch self {
        case .nullBulk: out.appendNull(version)
        case .emptyBulk: out.append("$0\r\n\r\n")
        case .zero: out.append(":0\r\n")
        case .minusTwo: out.append(":-2\r\n")
        case .emptyArray: out.append("*0\r\n")
        case .emptyMap: out.append(version == .resp3 ? "%0\r\n" : "*0\r\n")
        case .emptySet: out.append(version == .resp3 ? "~0\r\n" : "*0\r\n")
        case .none: out.append("+none\r\n")
        case .emptyScan: ScanPage.writeEnd(into: out)
        case let .nulls(first):
            let n = max(0, argumentCount - first)
            out.appendArrayHeader(n)
            for _ in 0..<n { out.appendNull(version) }
        case let .zeros(first):
            let n = max(0, argumentCount - first)
            out.appendArrayHeader(n)
            for _ in 0..<n { out.append(":0\r\n") }
        case .error:
            return false
        }
        return true
    }
}

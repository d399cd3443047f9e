// The pool keys that make a pool follow Redis Sentinel, in tagged twemproxy's spelling so its
// files load unchanged. They join PoolKey.table (after `servers`, which they check), so the
// loader, the unknown-key error and README.md's reference know them like every other key.

import RingCore

extension PoolKey {
    /// Polling more often than every 100 ms would load the sentinels for nothing (the
    /// subscriptions carry the switch itself); more than an hour is "never".
    static let sentinelPollRangeMs = 100...3_600_000
    /// A sentinel that takes a minute to answer is as good as gone.
    static let maxSentinelTimeoutMs = 60_000
    /// Parking a down group's requests longer than ten minutes would hold client memory and
    /// connections for longer than any failover takes.
    static let maxFailoverHoldMs = 600_000
    /// One sentinel per line; more than 64 is a typo for a smaller list (a quorum is 3 or 5).
    static let maxSentinels = 64

    static let sentinelKeys: [PoolKey] = [
        .form("sentinels", .ringproxy, "list of host:port", default: .described("none"),
              "Redis Sentinels to follow: each server's name is its Sentinel master name, and its address follows failovers",
              show: { pool in
                  pool.sentinel.sentinels.isEmpty ? nil
                      : "[" + pool.sentinel.sentinels.map { "\"\($0.host):\($0.port)\"" }.joined(separator: ", ") + "]"
              }) {
            pool, node throws(PoolKeyError) in
            pool.sentinel.sentinels = try sentinelList(node)
        },
        .integer("sentinel_poll_interval", .ringproxy, sentinelPollRangeMs, default: .value("1000"),
                 "ms between polls of every sentinel (the +switch-master subscriptions act at once; polls back them up)",
                 \.sentinel.pollIntervalMs),
        .integer("sentinel_timeout", .ringproxy, 1...maxSentinelTimeoutMs, default: .value("300"),
                 "ms a sentinel query, connect or ROLE check may take; a slower sentinel is passed over",
                 \.sentinel.timeoutMs),
        .text("sentinel_auth", .ringproxy, "a password", default: .described("none"),
              "sent as AUTH to every sentinel", secret: true, show: { $0.sentinel.password }) { pool, text, _ in
            pool.sentinel.password = text
        },
        .text("sentinel_user", .ringproxy, "an ACL user name", default: .described("none (the default user)"),
              "the sentinels' ACL user, with sentinel_auth", show: { $0.sentinel.user }) { pool, text, node throws(PoolKeyError) in
            guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                throw PoolKeyError(node, "must be one word, an ACL user name")
            }
            guard pool.sentinel.password != nil else { throw PoolKeyError(node, "needs sentinel_auth, the user's password") }
            pool.sentinel.user = text
        },
        .integer("failover_hold", .ringproxy, 0...maxFailoverHoldMs, default: .value("0"),
                 "ms a failing-over group's requests may wait for the new master (0: they get down_server_reply at once)",
                 \.sentinel.failoverHoldMs),
    ]

    static func sentinelList(_ node: YAMLNode) throws(PoolKeyError) -> [HostPort] {
        guard let items = node.sequence, !items.isEmpty else {
            throw PoolKeyError(node, "must be a list of host:port")
        }
        guard items.count <= maxSentinels else { throw PoolKeyError(node, "at most \(maxSentinels) sentinels") }
        var list: [HostPort] = []
        for item in items {
            guard let text = item.string, case let .success(address) = HostPort.parse(text) else {
                throw PoolKeyError(item, "each sentinel must be host:port")
            }
            guard !list.contains(address) else { throw PoolKeyError(item, "sentinel \(text) is listed twice") }
            list.append(address)
        }
        return list
    }

    /// Checks a pool with sentinels once every key is applied: each server needs a name (the
    /// master name Sentinel knows it by) and a TCP address. Returns the server line at fault.
    static func checkSentinelServers(_ servers: YAMLNode, pool: PoolConfig) -> PoolKeyError? {
        guard !pool.sentinel.sentinels.isEmpty else { return nil }
        for item in servers.sequence ?? [] {
            guard let line = item.string, case let .success(spec) = ServerSpec.parse(line) else { continue }
            if spec.name == nil {
                return PoolKeyError(item, "server '\(spec.addressText)' has no name; with sentinels every server needs one, its Sentinel master name")
            }
            if case .unix = spec.address {
                return PoolKeyError(item, "server '\(spec.addressText)' is a unix socket; Sentinel names TCP addresses only")
            }
        }
        return nil
    }
}

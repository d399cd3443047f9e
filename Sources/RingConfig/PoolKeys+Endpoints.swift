// The pool keys for servers whose address moves without Sentinel (a DNS "primary endpoint")
// and for reads from replicas. They join PoolKey.table after the Sentinel keys.

import RingCore

extension PoolKey {
    /// Re-resolving more often than every 100 ms would keep the resolver busy on the
    /// checker's thread for nothing (DNS records live for seconds); more than a day is
    /// "never", which 0 says plainly.
    static let dnsRefreshRangeMs = 0...86_400_000
    static let minDNSRefreshMs = 100

    static let endpointKeys: [PoolKey] = [
        .integer("dns_refresh_interval", .ringproxy, dnsRefreshRangeMs, default: .value("5000"),
                 "ms between re-resolutions of servers given by host name; a changed address retires their connections as a failover does (0: resolved once, at start)",
                 show: { $0.dnsRefreshMs }) { pool, n, node throws(PoolKeyError) in
            guard n == 0 || n >= minDNSRefreshMs else {
                throw PoolKeyError(node, "must be 0 (never) or at least \(minDNSRefreshMs) ms")
            }
            pool.dnsRefreshMs = n
        },
    ]
}

// The pool keys for servers whose address moves without Sentinel (a DNS "primary endpoint")
// and for reads from replicas. They join PoolKey.table after the Sentinel keys, and after
// `servers`, which `replicas` names.

import RingCore

extension PoolKey {
    /// Re-resolving more often than every 100 ms would keep the resolver busy on the
    /// checker's thread for nothing (DNS records live for seconds); more than a day is
    /// "never", which 0 says plainly.
    static let dnsRefreshRangeMs = 0...86_400_000
    static let minDNSRefreshMs = 100
    /// Each replica is a connection per worker and two queries per check on the checker's
    /// thread; a group with more than 16 replicas is a typo or a job for a different tool.
    static let maxReplicasPerServer = 16
    /// More than an hour of lag is data too stale to mean "read from a replica".
    static let maxReplicaLagMs = 3_600_000

    static let endpointKeys: [PoolKey] = [
        .integer("dns_refresh_interval", .ringproxy, dnsRefreshRangeMs, default: .value("5000"),
                 "ms between re-resolutions of servers given by host name; a changed address retires their connections as a failover does (0: resolved once, at start)",
                 show: { $0.dnsRefreshMs }) { pool, n, node throws(PoolKeyError) in
            guard n == 0 || n >= minDNSRefreshMs else {
                throw PoolKeyError(node, "must be 0 (never) or at least \(minDNSRefreshMs) ms")
            }
            pool.dnsRefreshMs = n
        },
        .form("replicas", .ringproxy, "mapping of server name to a list of host:port", default: .described("none"),
              "each server's replicas, which read_from may send read-only commands to (the `servers` list stays nutcracker's)",
              show: { replicasText($0) }) { pool, node throws(PoolKeyError) in
            pool.replicas = try replicas(node, servers: pool.servers)
        },
        .choice("read_from", .ringproxy, ReadFrom.self, default: .value("master"),
                "where read-only commands go: the master, a usable replica if any (prefer_replica), or a usable replica only (replica)",
                show: \.readFrom) { pool, choice, warnings in
            pool.readFrom = choice
            // (A pool with sentinels gets its replicas from them; `sentinels` is applied first.)
            if choice != .master && pool.replicas.isEmpty && !pool.sentinel.isEnabled {
                warnings.append("\(pool.name): read_from \(choice.rawValue) without replicas: \(choice == .replica ? "every read gets an error" : "reads go to the masters")")
            }
        },
        .integer("replica_max_lag", .ringproxy, 0...maxReplicaLagMs, default: .value("10000"),
                 "ms of replication lag past which a replica is not read from (Redis counts lag in whole seconds; 0: any lag)",
                 \.replicaMaxLagMs),
    ]

    /// `replicas:` with each server name resolved to its index in `servers` (applied after
    /// `servers`, which the table lists first).
    static func replicas(_ node: YAMLNode, servers: [ServerSpec]) throws(PoolKeyError) -> [ReplicaSpec] {
        guard let m = node.mapping else {
            throw PoolKeyError(node, "must be a mapping of server name to replicas, e.g. {shard-a: [10.0.0.12:6379]}")
        }
        var list: [ReplicaSpec] = []
        for (k, v) in m {
            guard let name = k.string, let index = servers.firstIndex(where: { $0.displayName == name }) else {
                let known = servers.map(\.displayName).joined(separator: ", ")
                throw PoolKeyError(k, "'\(k.string ?? "")' is not a server of this pool (servers: \(known))")
            }
            guard !list.contains(where: { $0.server == index }) else { throw PoolKeyError(k, "'\(name)' is listed twice") }
            guard let items = v.sequence, !items.isEmpty else { throw PoolKeyError(v, "must be a list of host:port") }
            guard items.count <= maxReplicasPerServer else { throw PoolKeyError(v, "at most \(maxReplicasPerServer) replicas per server") }
            for item in items {
                guard let text = item.string, case let .success(address) = HostPort.parse(text) else {
                    throw PoolKeyError(item, "each replica must be host:port")
                }
                if case let .tcp(host, port) = servers[index].address, host == address.host && port == address.port {
                    throw PoolKeyError(item, "\(text) is '\(name)' itself")
                }
                guard !list.contains(where: { $0.address == address }) else { throw PoolKeyError(item, "replica \(text) is listed twice") }
                list.append(ReplicaSpec(server: index, address: address))
            }
        }
        // Server order, each server's replicas as listed (its rotation order).
        return servers.indices.flatMap { s in list.filter { $0.server == s } }
    }

    /// `replicas:` as a flow mapping in server order; nil when there are none.
    static func replicasText(_ pool: PoolConfig) -> String? {
        guard !pool.replicas.isEmpty else { return nil }
        var entries: [String] = []
        for s in pool.servers.indices {
            let mine = pool.replicas.filter { $0.server == s }.map { "\($0.address.host):\($0.address.port)" }
            if !mine.isEmpty { entries.append("\(yamlQuoted(pool.servers[s].displayName)): \(yamlList(mine))") }
        }
        return "{" + entries.joined(separator: ", ") + "}"
    }
}

extension PoolConfig {
    /// Replica slots per server that a pool with sentinels fills from `SENTINEL REPLICAS`:
    /// each slot is a connection per worker and a check per interval, and a group rarely
    /// has more than a few replicas (further ones are not read from).
    public static let sentinelReplicaSlots = 4

    /// Every replica slot read_from may read from, in stats order: the listed `replicas`,
    /// then, in a pool with sentinels, `sentinelReplicaSlots` per server for the replicas
    /// Sentinel names (an empty host until it names one). Empty with read_from: master.
    public var replicaSlots: [ReplicaSpec] {
        guard readFrom != .master else { return [] }
        var slots = replicas
        if sentinel.isEnabled {
            for s in servers.indices {
                for _ in 0..<PoolConfig.sentinelReplicaSlots { slots.append(ReplicaSpec(server: s, address: HostPort(host: "", port: 0))) }
            }
        }
        return slots
    }
}

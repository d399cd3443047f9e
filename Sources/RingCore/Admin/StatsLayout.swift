// Where a worker's counters live: its pools in order, each with its servers. A reload builds
// a new layout (servers and pools added, removed or reordered), and the counters of
// everything that stays are carried over by identity, so a running total never jumps. Pools
// and servers a reload removed stay in the layout, marked retired, while they finish their
// requests: their counters have somewhere to go, and readers never report them.

public struct StatsLayout: Equatable, Sendable {
    public struct Server: Equatable, Sendable {
        /// The ring identity (what /stats and /metrics name it by).
        public var identity: String
        /// Unique in the process for one server object of one worker: a server removed and
        /// added back by two reloads gets a new uid, so its old counters are not mistaken
        /// for the new one's.
        public var uid: UInt64
        public var retired: Bool

        public init(identity: String, uid: UInt64, retired: Bool = false) {
            self.identity = identity
            self.uid = uid
            self.retired = retired
        }
    }

    public struct Pool: Equatable, Sendable {
        public var name: String
        public var uid: UInt64
        public var retired: Bool
        public var servers: [Server]

        public init(name: String, uid: UInt64, retired: Bool = false, servers: [Server]) {
            self.name = name
            self.uid = uid
            self.retired = retired
            self.servers = servers
        }
    }

    public var pools: [Pool]

    /// The uid of a place nothing counts in (a replica slot with no replica yet): it is
    /// never carried.
    public static let placeholder: UInt64 = 0

    public init(pools: [Pool]) { self.pools = pools }

    /// For each pool of this layout, its index in `old` (nil: new); for each server, its
    /// (pool, server) index in `old`.
    public func sources(from old: StatsLayout) -> (pools: [Int?], servers: [[(pool: Int, server: Int)?]]) {
        var poolAt: [UInt64: Int] = [:]
        var serverAt: [UInt64: (Int, Int)] = [:]
        for (p, pool) in old.pools.enumerated() {
            poolAt[pool.uid] = p
            for (s, server) in pool.servers.enumerated() where server.uid != Self.placeholder { serverAt[server.uid] = (p, s) }
        }
        return (pools.map { poolAt[$0.uid] }, pools.map { $0.servers.map { $0.uid == Self.placeholder ? nil : serverAt[$0.uid] } })
    }

    /// The live pool named `name` (a retired pool of the same name is not it).
    public func pool(named name: String) -> Int? {
        pools.firstIndex { !$0.retired && $0.name == name }
    }

    /// The live server `identity` of pool `pool`.
    public func server(_ identity: String, inPool pool: Int) -> Int? {
        pools[pool].servers.firstIndex { !$0.retired && $0.identity == identity }
    }
}

// The placement of keys on servers, exactly as nutcracker 0.5.0 computes it, for its three
// distributions: ketama (md5 points on a ring), modula (hash mod total weight) and random.
// Built off the request path whenever the set of live servers changes; lookups are a binary
// search over a flat sorted array.

public enum Distribution: String, CaseIterable, Sendable {
    case ketama
    case modula
    case random
}

public struct KetamaRing: Sendable {
    /// Each point is (value, server index); sorted by value, ties in generation order.
    public private(set) var values: [UInt32] = []
    public private(set) var owners: [Int32] = []
    public let distribution: Distribution

    /// nutcracker: 160 points per server, in groups of 4 per md5 digest.
    static let pointsPerServer: Float = 160
    static let pointsPerHash = 4

    /// `servers` must be in nutcracker order (see ServerSpec.nutcrackerOrder); `live`
    /// says which ones are on the ring (all of them unless hosts are ejected).
    public init(distribution: Distribution, servers: [ServerSpec], live: [Bool]) {
        self.distribution = distribution
        switch distribution {
        case .ketama: buildKetama(servers, live)
        case .modula, .random: buildModula(servers, live)
        }
    }

    private mutating func buildKetama(_ servers: [ServerSpec], _ live: [Bool]) {
        let liveCount = live.filter { $0 }.count
        let totalWeight = zip(servers, live).filter { $0.1 }.reduce(0) { $0 + $1.0.weight }
        var points: [(UInt32, Int32)] = []
        for (idx, server) in servers.enumerated() where live[idx] {
            // nutcracker computes this in 32-bit float, in exactly this order; exact
            // arithmetic gives 160 where it gives 156 for some server counts.
            let pct = Float(server.weight) / Float(totalWeight)
            let count = Int((pct * KetamaRing.pointsPerServer / 4 * Float(liveCount)).rounded(.down)) * 4
            let identity = server.ringIdentity
            for i in 0..<(count / KetamaRing.pointsPerHash) {
                let digest = MD5.digest(Array("\(identity)-\(i)".utf8))
                for w in 0..<KetamaRing.pointsPerHash {
                    points.append((MD5.word(digest, w * 4), Int32(idx)))
                }
            }
        }
        // A stable sort keeps equal values in generation (server-name) order.
        let order = points.indices.sorted { points[$0].0 != points[$1].0 ? points[$0].0 < points[$1].0 : $0 < $1 }
        values = order.map { points[$0].0 }
        owners = order.map { points[$0].1 }
    }

    private mutating func buildModula(_ servers: [ServerSpec], _ live: [Bool]) {
        for (idx, server) in servers.enumerated() where live[idx] {
            for _ in 0..<server.weight {
                values.append(0)
                owners.append(Int32(idx))
            }
        }
    }

    public var isEmpty: Bool { owners.isEmpty }

    /// The server index for a key's hash, or -1 when no server is live.
    @inlinable
    public func server(forHash hash: UInt32) -> Int {
        let n = owners.count
        if n == 0 { return -1 }
        switch distribution {
        case .ketama:
            // First point with value >= hash; past the end wraps to the first point.
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) >> 1
                if values[mid] < hash { lo = mid + 1 } else { hi = mid }
            }
            return Int(owners[lo == n ? 0 : lo])
        case .modula:
            return Int(owners[Int(hash % UInt32(n))])
        case .random:
            return Int(owners[Int.random(in: 0..<n)])
        }
    }
}

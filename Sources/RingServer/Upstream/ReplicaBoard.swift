// The process-wide state of every replica slot read_from reads from (PoolConfig.replicaSlots):
// its address (a listed replica's, resolved once at start, or the one Sentinel names), how
// often Sentinel changed it, and whether the checker found it usable (ROLE, link and lag; see
// ReplicaCheck). Written by the checker thread under a lock; workers copy the states on their
// tick when the generation moved. Nothing on the request path takes this lock.

import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public final class ReplicaBoard: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    /// Per pool, each slot's replica (an empty host: a Sentinel slot nobody fills yet).
    private var specs: [[ReplicaSpec]]
    /// Per pool, how many slots are listed in `replicas` (the rest are Sentinel's).
    let listedCounts: [Int]
    let serverNames: [[String]]
    let poolNames: [String]
    /// The HealthBoard layout this board belongs to (a reload makes a new board): a worker
    /// reads it only in the same layout, since it is indexed by pool and slot.
    var layout: UInt64 = 0
    private var addresses: [[sockaddr_storage]]
    private var usable: [[Bool]]
    private var reasons: [[String]]
    private var epochs: [[UInt64]]
    private var changes: UInt64 = 0

    init(config: ProxyConfig) {
        pthread_mutex_init(&lock, nil)
        specs = config.pools.map(\.replicaSlots)
        listedCounts = config.pools.map { $0.readFrom == .master ? 0 : $0.replicas.count }
        serverNames = config.pools.map { $0.servers.map(\.displayName) }
        poolNames = config.pools.map(\.name)
        // Listed replicas are resolved at start, on the main thread, as the servers are; a
        // name that does not resolve leaves the replica unusable rather than failing start.
        addresses = specs.map { list in
            list.map { spec in
                guard !spec.address.host.isEmpty,
                      case let .success(a) = resolveAddress(host: spec.address.host, port: spec.address.port) else { return sockaddr_storage() }
                return a
            }
        }
        // Not usable until the checker's first verdict: a replica is read from only once
        // ROLE says it replicates.
        usable = specs.map { $0.map { _ in false } }
        reasons = specs.map { $0.map { $0.address.host.isEmpty ? "no replica named by Sentinel" : "not checked yet" } }
        epochs = specs.map { $0.map { _ in 0 } }
    }

    var isEmpty: Bool { slots().allSatisfy(\.isEmpty) }

    var generation: UInt64 {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return changes
    }

    /// Every pool's slots as they are now.
    func slots() -> [[ReplicaSpec]] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return specs
    }

    /// The replica's address for a worker in `layout`; nil when a reload has replaced this
    /// board's layout since.
    func address(pool: Int, replica: Int, layout: UInt64) -> sockaddr_storage? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard layout == self.layout, pool < addresses.count, replica < addresses[pool].count else { return nil }
        return addresses[pool][replica]
    }

    /// A reload: slots that stay (same pool, same server, same listed replica; or the same
    /// Sentinel slot of the same server) keep what the checker and Sentinel found, so reads
    /// go on from replicas already checked. Before the board is published.
    func carry(from old: ReplicaBoard) {
        let (oldSpecs, oldStates) = (old.slots(), old.states())
        for (p, name) in poolNames.enumerated() {
            guard let op = old.poolNames.firstIndex(of: name) else { continue }
            for (slot, spec) in specs[p].enumerated() {
                let server = serverNames[p][spec.server]
                let found: Int?
                if slot < listedCounts[p] {
                    found = oldSpecs[op].indices.first { i in
                        i < old.listedCounts[op] && oldSpecs[op][i].address == spec.address
                            && old.serverNames[op][oldSpecs[op][i].server] == server
                    }
                } else {
                    // The n-th Sentinel slot of a server takes the n-th one it had.
                    let ordinal = (listedCounts[p]..<slot).filter { specs[p][$0].server == spec.server }.count
                    let before = oldSpecs[op].indices.filter { i in
                        i >= old.listedCounts[op] && old.serverNames[op][oldSpecs[op][i].server] == server
                    }
                    found = ordinal < before.count ? before[ordinal] : nil
                }
                guard let o = found else { continue }
                specs[p][slot].address = oldSpecs[op][o].address
                addresses[p][slot] = old.address(pool: op, replica: o, layout: old.layout) ?? addresses[p][slot]
                usable[p][slot] = oldStates.usable[op][o]
                reasons[p][slot] = oldStates.reasons[op][o]
                epochs[p][slot] = oldStates.epochs[op][o]
            }
        }
    }


    /// Every slot's usability, the reason when not, and its Sentinel epoch, per pool.
    func states() -> (usable: [[Bool]], reasons: [[String]], epochs: [[UInt64]]) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (usable, reasons, epochs)
    }

    /// The checker's verdict on the replica it checked (`checked`: a slot Sentinel has
    /// refilled since is left alone); a change is logged once.
    func set(_ verdict: ReplicaVerdict, pool: Int, replica: Int, checked: HostPort) {
        pthread_mutex_lock(&lock)
        guard specs[pool][replica].address == checked else { pthread_mutex_unlock(&lock); return }
        let was = usable[pool][replica]
        usable[pool][replica] = verdict.usable
        reasons[pool][replica] = verdict.reason
        if was != verdict.usable { changes += 1 }
        let server = specs[pool][replica].server
        pthread_mutex_unlock(&lock)
        guard was != verdict.usable else { return }
        let name = "replica \(checked.host):\(checked.port) of \(serverNames[pool][server])"
        if verdict.usable { logNotice("\(name) usable for reads") } else { logWarn("\(name) not usable for reads: \(verdict.reason)") }
    }

    /// Sentinel's healthy replicas of server `server` (SENTINEL REPLICAS): new ones take free
    /// slots (past the slots, they are not read from). One already in a slot keeps it even
    /// when a sentinel leaves it out: s_down is each sentinel's own opinion, and sentinels
    /// that disagree must not have the workers reconnect on every poll; the checks (ROLE,
    /// link, lag) decide whether it is read from.
    func sentinelNamed(_ found: [HostPort], pool: Int, server: Int) {
        pthread_mutex_lock(&lock)
        let mine = specs[pool].indices.filter { $0 >= listedCounts[pool] && specs[pool][$0].server == server }
        var added: [HostPort] = []
        for address in found where !mine.contains(where: { specs[pool][$0].address == address }) {
            guard let free = mine.first(where: { specs[pool][$0].address.host.isEmpty }) else { break }
            fill(pool, free, address)
            added.append(address)
        }
        if !added.isEmpty { changes += 1 }
        pthread_mutex_unlock(&lock)
        for a in added { logNotice("replica \(a.host):\(a.port) of \(serverNames[pool][server]) named by Sentinel") }
    }

    /// Under the lock. Resolving here blocks the checker's thread only (Sentinel names IPs).
    /// The slot's epoch moves, so workers retire connections to whatever it held.
    private func fill(_ pool: Int, _ slot: Int, _ address: HostPort) {
        specs[pool][slot].address = address
        addresses[pool][slot] = sockaddr_storage()
        if !address.host.isEmpty, case let .success(a) = resolveAddress(host: address.host, port: address.port) {
            addresses[pool][slot] = a
        }
        usable[pool][slot] = false
        reasons[pool][slot] = address.host.isEmpty ? "no replica named by Sentinel" : "not checked yet"
        epochs[pool][slot] += 1
    }
}

// The process-wide state of every listed replica (read_from): its address, resolved once at
// start, and whether the checker found it usable (ROLE, link and lag; see ReplicaCheck).
// Written by the checker thread under a lock; workers copy the states on their tick when the
// generation moved. Nothing on the request path takes this lock.

import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public final class ReplicaBoard: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    /// Per pool, the pool's `replicas` in order (a replica's index here is its slot).
    let specs: [[ReplicaSpec]]
    let serverNames: [[String]]
    private var addresses: [[sockaddr_storage]]
    private var usable: [[Bool]]
    private var reasons: [[String]]
    private var changes: UInt64 = 0

    init(config: ProxyConfig) {
        pthread_mutex_init(&lock, nil)
        specs = config.pools.map { $0.readFrom == .master ? [] : $0.replicas }
        serverNames = config.pools.map { $0.servers.map(\.displayName) }
        // Resolved at start, on the main thread, as the servers are; a name that does not
        // resolve leaves the replica unusable (reads go elsewhere) rather than failing start.
        addresses = specs.map { list in
            list.map { spec in
                if case let .success(a) = resolveAddress(host: spec.address.host, port: spec.address.port) { return a }
                return sockaddr_storage()
            }
        }
        // Not usable until the checker's first verdict: a replica is read from only once
        // ROLE says it replicates.
        usable = specs.map { $0.map { _ in false } }
        reasons = specs.map { $0.map { _ in "not checked yet" } }
    }

    var isEmpty: Bool { specs.allSatisfy(\.isEmpty) }

    var generation: UInt64 {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return changes
    }

    func address(pool: Int, replica: Int) -> sockaddr_storage {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return addresses[pool][replica]
    }

    /// Every replica's usability and the reason when not, per pool.
    func states() -> (usable: [[Bool]], reasons: [[String]]) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (usable, reasons)
    }

    /// The checker's verdict; a change is logged once.
    func set(_ verdict: ReplicaVerdict, pool: Int, replica: Int) {
        pthread_mutex_lock(&lock)
        let was = usable[pool][replica]
        usable[pool][replica] = verdict.usable
        reasons[pool][replica] = verdict.reason
        if was != verdict.usable { changes += 1 }
        pthread_mutex_unlock(&lock)
        guard was != verdict.usable else { return }
        let spec = specs[pool][replica]
        let name = "replica \(spec.address.host):\(spec.address.port) of \(serverNames[pool][spec.server])"
        if verdict.usable { logNotice("\(name) usable for reads") } else { logWarn("\(name) not usable for reads: \(verdict.reason)") }
    }
}

// What a reload does to one server of one worker: kept (a new place in the list, a new
// weight) or retired (no new requests; those in flight finish, then it closes).

import CLibUV
import RingConfig
import RingCore

extension UpstreamServer {
    // MARK: reload

    /// Shared by every worker's servers (an atomic add; taken only when a server is made).
    nonisolated(unsafe) private static let uidCounter: UnsafeMutablePointer<Int64> = {
        let p = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()

    static func nextUID() -> UInt64 { UInt64(rp_shared_add(uidCounter, 1)) }

    /// Whether a reload can keep this server (and its connections) for `new`: the same
    /// address and connection settings. Otherwise a new server takes its place and this one
    /// retires.
    func canKeep(_ new: ServerSpec, in pool: PoolConfig, was old: PoolConfig) -> Bool {
        new.address == spec.address && pool.serverConnections == old.serverConnections && pool.redisDB == old.redisDB
            && pool.redisAuth == old.redisAuth && pool.redisUser == old.redisUser
    }

    /// Kept by a reload: its new place and spec (a new weight changes only the ring).
    func keep(at index: Int, spec: ServerSpec) {
        self.index = index
        self.spec = spec
        boardKey = HealthBoard.key(pool.config.name, spec.ringIdentity)
        if parked.isEmpty {
            let sentinel = pool.config.sentinel
            hold = FailoverHold(limitMs: sentinel.sentinels.isEmpty ? 0 : sentinel.failoverHoldMs)
        }
    }

    /// Removed by a reload: no new request comes to it (its parked clients are let go by
    /// PoolRuntime.finishReload, to be routed again by the new ring).
    func retire() { retired = true }

    /// A retired server with nothing in flight and no lease held: it may close.
    var isDrained: Bool {
        guard leased.isEmpty else { return false }
        var busy = false
        forEachConnection { if $0.oldestQueuedAt != nil { busy = true } }
        return !busy
    }

    /// Kept by a reload (after `keep`, with the pool's new config): its replicas stay when
    /// its replica slots are the same ones (their stats place follows the new server
    /// count); otherwise new ones take over and the old retire. Returns those retired.
    func reloadReplicas(wasIndex: Int, was old: PoolConfig) -> [UpstreamServer] {
        let new = pool.config
        let before = old.replicaSlots.enumerated().filter { $0.element.server == wasIndex }
        let after = new.replicaSlots.enumerated().filter { $0.element.server == index }
        if before.map(\.element.address) == after.map(\.element.address) && old.readFrom == new.readFrom {
            for (r, slot) in zip(replicas, after.map(\.offset)) {
                r.replicaSlot = slot
                r.index = new.servers.count + slot
            }
            replicaGeneration = 0
            return []
        }
        let retired = replicas
        for r in retired { r.retire() }
        replicas = makeReplicas()
        rotation = ReplicaRotation(count: replicas.count)
        hasReplicas = !replicas.isEmpty
        replicaGeneration = 0
        return retired
    }
}

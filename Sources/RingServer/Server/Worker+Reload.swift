// A reload as one worker applies it: in one loop turn, between two requests, every pool
// takes its new settings and ring (PoolRuntime+Reload), new pools open, removed ones retire,
// and the counters move to the new layout. No request is ever routed by two versions: a
// request is planned and sent within one turn. The worker then tells the reload it is done.

import CLibUV
import RingConfig
import RingCore

/// One reload, handed to every worker: the configuration and the board's addresses in its
/// layout. The reload waits until each worker has applied it.
final class ReloadPlan: @unchecked Sendable {
    let config: ProxyConfig
    let addresses: [[sockaddr_storage]]
    /// The board's layout it belongs to (see HealthBoard.layout).
    let layout: UInt64
    private var lock = pthread_mutex_t()
    private var done = pthread_cond_t()
    private var applied = 0

    init(config: ProxyConfig, addresses: [[sockaddr_storage]], layout: UInt64) {
        self.config = config
        self.addresses = addresses
        self.layout = layout
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&done, nil)
    }

    deinit {
        pthread_cond_destroy(&done)
        pthread_mutex_destroy(&lock)
    }

    /// From a worker: it runs the new configuration.
    func workerApplied() {
        pthread_mutex_lock(&lock)
        applied += 1
        pthread_cond_broadcast(&done)
        pthread_mutex_unlock(&lock)
    }

    /// Waits until `workers` have applied it, or `limitMs`; the number that had.
    func wait(workers: Int, limitMs: Int) -> Int {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let ns = Int(deadline.tv_nsec) + (limitMs % 1000) * 1_000_000
        deadline.tv_sec += limitMs / 1000 + ns / 1_000_000_000
        deadline.tv_nsec = ns % 1_000_000_000
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        while applied < workers {
            if pthread_cond_timedwait(&done, &lock, &deadline) != 0 { break }
        }
        return applied
    }
}

extension Worker {
    /// Runs on the worker's loop (its wake-up).
    func apply(_ plan: ReloadPlan) {
        let now = loop.nowMs
        retiredPools.removeAll { $0.closedAt.map { now >= $0 + PoolRuntime.retiredReleaseMs } ?? false }
        var byName: [String: PoolRuntime] = [:]
        for p in pools { byName[p.config.name] = p }
        // First the structure (nothing counts yet: the counters are in the old layout)...
        var next: [PoolRuntime] = []
        var kept: [(PoolRuntime, PoolRuntime.ReloadEffects)] = []
        var added: [PoolRuntime] = []
        for (i, config) in plan.config.pools.enumerated() {
            if let p = byName.removeValue(forKey: config.name) {
                kept.append((p, p.reconfigure(config, index: i, addresses: plan.addresses[i])))
                next.append(p)
            } else {
                let p = PoolRuntime(worker: self, config: config, index: i, addresses: plan.addresses[i],
                                    clientCount: clientCounts.counter(pool: config.name))
                added.append(p)
                next.append(p)
            }
        }
        let removed = pools.filter { byName[$0.config.name] === $0 }
        pools = next
        retiredPools += removed
        for (k, p) in retiredPools.enumerated() { p.retirePool(at: pools.count + k) }
        let all = pools + retiredPools
        var pauseByName: [String: ClientPause] = [:]
        for (i, p) in pauses.enumerated() where i < all.count { if let pause = p { pauseByName[all[i].config.name] = pause } }
        pauses = all.map { $0.retired ? nil : pauseByName[$0.config.name] }
        pauseActive = pauses.contains { $0 != nil }
        monitorOutgoing = all.map { _ in ByteBuffer(capacity: 0) }
        let fresh = WorkerStats(layout: StatsLayout(pools: all.map(\.statsEntry)), commandCount: commands.commands.count)
        fresh.carry(from: stats)
        stats = fresh
        healthBoard?.setStats(fresh, worker: id)
        // ...then what counts, in the new layout.
        for (p, effects) in kept { p.finishReload(effects, primary: id == 0) }
        for p in added {
            p.openListener(primary: id == 0)
            if p.config.preconnect { p.preconnect() }
        }
        appliedLayout = plan.layout
        forceHealthApply()
        plan.workerApplied()
    }

    /// Every tick while some pool or server is retired: retired servers with nothing in
    /// flight close; a retired pool's clients close once owed nothing (or at the drain
    /// limit), then its servers.
    func sweepRetired(now: UInt64) {
        for p in pools where !p.retiredServers.isEmpty { p.sweepRetired(now: now) }
        for p in retiredPools where p.closedAt == nil {
            if p.retiredAt == 0 { p.retiredAt = now }
            let late = now >= p.retiredAt + Worker.drainLimitMs
            let theirs = clients.values.filter { $0.pool === p && (late || !$0.hasOutstandingReplies) }
            for c in theirs { c.close() }
            p.sweepRetired(now: now)
            if !clients.values.contains(where: { $0.pool === p }) {
                p.closeUpstreams()
                p.closedAt = now
            }
        }
    }
}

// What a reload does to one pool of one worker, between two of its loop's requests: the new
// settings, policy and ring at once; servers kept (with their connections and health),
// added, or retired (no new requests; those in flight finish, then they close); the
// listener reopened if its address changed. A pool the reload removed stops accepting and
// closes each client once it is owed nothing.

import CLibUV
import RingConfig
import RingCore

extension PoolRuntime {
    /// A retired server or pool is let go this long after it closed: its connections' close
    /// callbacks (which still reach it) have long run by then.
    static let retiredReleaseMs: UInt64 = 1_000

    /// What `reconfigure` leaves for `finishReload`: the server list before it, and whether
    /// the listener moved.
    struct ReloadEffects {
        var before: [UpstreamServer]
        var listenMoved: Bool
    }

    /// The new settings, ring and server list, and nothing that counts: the worker's
    /// counters are still in the old layout until every pool is reconfigured (see
    /// Worker.apply), so whatever may count (connections, subscriptions, parked clients
    /// going on) waits for `finishReload`. `addresses`: the board's address of every server
    /// of `new`, in its order.
    func reconfigure(_ new: PoolConfig, index: Int, addresses: [sockaddr_storage]) -> ReloadEffects {
        let old = config
        config = new
        self.index = index
        (policy, localSettings) = PoolRuntime.settings(new, table: worker.commands)
        outputLimit = OutputLimit(hardBytes: new.pubsubOutputHardLimit, softBytes: new.pubsubOutputSoftLimit,
                                  softSeconds: new.pubsubOutputSoftSeconds)
        placement = new.placement()
        let now = worker.loop.nowMs
        retiredServers.removeAll { $0.closedAt.map { now >= $0 + PoolRuntime.retiredReleaseMs } ?? false }
        let before = servers
        var byIdentity: [String: UpstreamServer] = [:]
        for s in servers { byIdentity[s.spec.ringIdentity] = s }
        var next: [UpstreamServer] = []
        for (i, spec) in new.servers.enumerated() {
            if let s = byIdentity.removeValue(forKey: spec.ringIdentity) {
                if s.canKeep(spec, in: new, was: old) {
                    let was = s.index
                    s.keep(at: i, spec: spec)
                    for r in s.reloadReplicas(wasIndex: was, was: old) { retiredServers.append(r) }
                    next.append(s)
                    continue
                }
                retire(s)
            }
            next.append(UpstreamServer(worker: worker, pool: self, spec: spec, index: i, address: addresses[i]))
        }
        for s in before where byIdentity[s.spec.ringIdentity] === s { retire(s) }
        servers = next
        // Stats places: the servers, the replica slots (see UpstreamServer+Replicas), then
        // the retired.
        for (k, s) in retiredServers.enumerated() { s.index = servers.count + new.replicaSlots.count + k }
        return ReloadEffects(before: before, listenMoved: old.listen != new.listen)
    }

    /// Once the worker counts in the new layout: subscriptions follow the new server list,
    /// the listener moves, connections are made, and clients parked on a retired server go
    /// on by the new ring.
    func finishReload(_ effects: ReloadEffects, primary: Bool) {
        pubsub.serversChanged(from: effects.before)
        if effects.listenMoved {
            closeListeners()
            openListener(primary: primary)
        }
        if config.preconnect { preconnect() }
        for s in retiredServers where !s.parked.isEmpty { s.releaseParked() }
    }

    /// A server and its replicas retire together.
    private func retire(_ s: UpstreamServer) {
        s.retire()
        retiredServers.append(s)
        for r in s.replicas {
            r.retire()
            retiredServers.append(r)
        }
    }

    /// A listener a reload asked for; one that cannot be opened is logged, and the pool
    /// serves its existing clients.
    func openListener(primary: Bool) {
        do {
            try listen(primary: primary)
        } catch {
            logError("pool \(config.name): cannot listen on \(ConfigLoader.listenText(config.listen)): \(error)")
        }
    }

    /// The reload removed this pool.
    func retirePool(at index: Int) {
        retired = true
        self.index = index
        closeListeners()
    }

    /// Every tick: retired servers with nothing in flight close.
    func sweepRetired(now: UInt64) {
        for s in retiredServers where s.closedAt == nil && s.isDrained {
            s.closeAll()
            s.closedAt = now
        }
    }

    /// Where this pool's counters go in the worker's layout: its servers, then its retired
    /// ones (counted until they close, never reported).
    var statsEntry: StatsLayout.Pool {
        var replicas = [StatsLayout.Server?](repeating: nil, count: config.replicaSlots.count)
        for s in servers {
            for r in s.replicas {
                if let slot = r.replicaSlot, slot < replicas.count {
                    replicas[slot] = StatsLayout.Server(identity: WorkerStats.replicaIdentity(slot), uid: r.uid)
                }
            }
        }
        // Every slot has its place, filled or not (a slot without a replica object here
        // counts nothing).
        let slots = replicas.enumerated().map { $0.element ?? StatsLayout.Server(identity: WorkerStats.replicaIdentity($0.offset), uid: StatsLayout.placeholder) }
        return StatsLayout.Pool(name: config.name, uid: uid, retired: retired,
                                servers: servers.map { StatsLayout.Server(identity: $0.spec.ringIdentity, uid: $0.uid) } + slots
                                    + retiredServers.map { StatsLayout.Server(identity: $0.spec.ringIdentity, uid: $0.uid, retired: true) })
    }
}

// Checks the replicas read_from reads from, on the health checker's thread (never a
// worker's): every check interval each replica is asked ROLE and INFO replication, and its
// master INFO replication (for the replica's lag), each on a link of its own bounded by the
// pool's health_check_timeout. ReplicaCheck decides; the ReplicaBoard tells the workers.

import RingConfig
import RingCore

final class ReplicaProber {
    unowned let checker: HealthChecker
    private var timers: [LoopTimer] = []
    /// A round still within its timeout is not started again (a slow replica must not pile
    /// up links).
    private var busy: [[Bool]]
    /// With health checks off (interval 0) replicas are still checked, this often: a replica
    /// is read from only on a recent verdict.
    static let defaultIntervalMs = 1000

    /// nil when no pool reads from replicas.
    init?(checker: HealthChecker, config: ProxyConfig) {
        self.checker = checker
        let board = checker.board.replicas
        let slots = board.slots()
        busy = slots.map { $0.map { _ in false } }
        guard !board.isEmpty else { return nil }
        for (p, pool) in config.pools.enumerated() where !slots[p].isEmpty {
            let interval = pool.health.intervalMs > 0 ? pool.health.intervalMs : Self.defaultIntervalMs
            let timer = LoopTimer(checker.loop) { [unowned self] in
                for (r, spec) in board.slots()[p].enumerated() where !spec.address.host.isEmpty {
                    self.check(pool: pool, poolIndex: p, replica: r, spec: spec)
                }
            }
            timer.start(afterMs: 0, repeatMs: UInt64(interval))
            timers.append(timer)
        }
    }

    func close() {
        for t in timers { t.close() }
        timers = []
    }

    private func check(pool: PoolConfig, poolIndex p: Int, replica r: Int, spec: ReplicaSpec) {
        guard !busy[p][r] else { return }
        let board = checker.board
        let masterText = board.addressSnapshot().texts[p][spec.server]
        let timeout = pool.health.timeoutMs
        var role: RESPValue?
        var replicaInfo: String?
        var masterInfo: String?
        var pending = 2
        busy[p][r] = true
        let finish = { [unowned self] in
            pending -= 1
            guard pending == 0 else { return }
            self.busy[p][r] = false
            let verdict = ReplicaCheck.verdict(role: role, replicaInfo: replicaInfo, masterInfo: masterInfo,
                                               replica: spec.address, maxLagMs: pool.replicaMaxLagMs)
            board.replicas.set(verdict, pool: p, replica: r, checked: spec.address)
        }
        // The replica: ROLE, then INFO replication.
        if let link = ControlLink(loop: checker.loop, scheduler: checker, address: spec.address) {
            link.expire(afterMs: timeout, loop: checker.loop)
            var owed = link.auth(user: pool.redisUser, password: pool.redisAuth)
            link.send(["ROLE"])
            link.send(["INFO", "replication"])
            link.onReply = { [unowned link] reply in
                if owed > 0 { owed -= 1; return }
                if role == nil { role = reply; return }
                replicaInfo = reply.text
                link.close()
            }
            link.onEnd = { finish() }
        } else {
            finish()
        }
        // Its master (where the proxy sends writes now): the replica's lag.
        if case let .success(master) = HostPort.parse(masterText),
           let link = ControlLink(loop: checker.loop, scheduler: checker, address: master) {
            link.expire(afterMs: timeout, loop: checker.loop)
            var owed = link.auth(user: pool.redisUser, password: pool.redisAuth)
            link.send(["INFO", "replication"])
            link.onReply = { [unowned link] reply in
                if owed > 0 { owed -= 1; return }
                masterInfo = reply.text
                link.close()
            }
            link.onEnd = { finish() }
        } else {
            finish()
        }
    }
}

// The process-wide up/down state of every upstream, shared by the workers and the health
// checker under a lock; a change logs one line and wakes every worker, which copies the
// states. Nothing on the request path may take this lock.

import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public final class HealthBoard: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var trackers: [[HealthTracker]]
    private var servers: [[ServerSpec]]
    /// "pool\0identity" of every server, in board order: a worker names the server it
    /// reports on, so a report made with indices from before a reload finds its server (or
    /// none) rather than whichever server now has those indices.
    private var keys: [[String]]
    /// The configuration the board is laid out by (the running one; a reload replaces it),
    /// and every worker's counters, for the admin listener and INFO.
    private var running: ProxyConfig
    private var workerStats: [WorkerStats] = []
    private var reloadRecord: HealthBoard.ReloadRecord?
    private var subscribers: [LoopAsync] = []
    /// Bumped (under the lock) on every up/down change.
    private var changes: UInt64 = 0
    /// Read by workers on a wake-up, which is rare: taking the lock costs nothing that
    /// matters, and the checker thread writes it.
    public var generation: UInt64 {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return changes
    }
    /// The latest resolution of every server's host name (the checker re-resolves names on
    /// its own thread, so a server replaced behind the same DNS name is found again and no
    /// worker ever blocks on DNS).
    private var addresses: [[sockaddr_storage]] = []
    /// Each server's address as text and how many times Sentinel moved it (its epoch for
    /// the workers: a worker that has seen fewer switches retires its connections).
    private var addressTexts: [[String]]
    private var switches: [[UInt64]]
    /// Whether each pool's sentinels answered their last poll (written by the checker).
    private var sentinelUp: [[Bool]]
    /// The replicas read_from reads from, and whether each is usable (a reload replaces it).
    private var replicaBoard: ReplicaBoard
    public var replicas: ReplicaBoard {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return replicaBoard
    }
    /// Wakes the checker thread to poll the sentinels and re-resolve host names now (a
    /// worker saw READONLY or a refused connection).
    private var sentinelPollWaker: LoopAsync?

    public init(config: ProxyConfig) {
        pthread_mutex_init(&lock, nil)
        replicaBoard = ReplicaBoard(config: config)
        servers = config.pools.map(\.servers)
        keys = config.pools.map { pool in pool.servers.map { HealthBoard.key(pool.name, $0.ringIdentity) } }
        running = config
        addressTexts = config.pools.map { $0.servers.map(\.addressText) }
        switches = config.pools.map { $0.servers.map { _ in 0 } }
        sentinelUp = config.pools.map { $0.sentinel.sentinels.map { _ in true } }
        trackers = config.pools.map { pool in
            pool.servers.map { _ in HealthTracker(fall: pool.health.fall, rise: pool.health.rise) }
        }
    }

    func setAddresses(_ all: [[sockaddr_storage]]) {
        pthread_mutex_lock(&lock)
        addresses = all
        pthread_mutex_unlock(&lock)
    }

    /// The address a worker's server is to be connected at; nil when a reload has removed
    /// it from the board (it keeps the address it had).
    func address(pool: Int, server: Int, key: String) -> sockaddr_storage? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard let (p, s) = locate(pool, server, key) else { return nil }
        return addresses[p][s]
    }

    static func key(_ pool: String, _ identity: String) -> String { pool + "\0" + identity }

    /// Under the lock: where the server `key` is now (`pool`/`server` first, as it nearly
    /// always is; otherwise a reload moved or removed it).
    private func locate(_ pool: Int, _ server: Int, _ key: String) -> (Int, Int)? {
        if pool < keys.count, server < keys[pool].count, keys[pool][server] == key { return (pool, server) }
        for (p, list) in keys.enumerated() {
            if let s = list.firstIndex(of: key) { return (p, s) }
        }
        return nil
    }

    /// The address to connect to and the switch count it belongs to.
    func currentAddress(pool: Int, server: Int) -> (address: sockaddr_storage, switches: UInt64) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (addresses[pool][server], switches[pool][server])
    }

    /// Every server's switch count and address text, for workers and stats.
    func addressSnapshot() -> (switches: [[UInt64]], texts: [[String]]) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (switches, addressTexts)
    }

    /// Sentinel moved a server (ROLE confirmed the new master): the address changes, the
    /// server is up (ROLE just answered there, and the old master's failures say nothing of
    /// it), and every worker wakes to retire its connections to the old address.
    func switchAddress(_ a: sockaddr_storage, pool: Int, server: Int, change: SentinelSwitch) {
        move(a, text: "\(change.to.host):\(change.to.port)", pool: pool, server: server,
             why: "Sentinel failover (epoch \(change.epoch))", confirmed: true)
    }

    /// A server's host name now resolves to another address: its connections are retired as
    /// for a Sentinel switch, but its health stays as the checks left it (nothing has
    /// answered at the new address yet).
    func dnsMoved(_ a: sockaddr_storage, text: String, pool: Int, server: Int, host: String) {
        move(a, text: text, pool: pool, server: server, why: "DNS re-resolved (\(host))", confirmed: false)
    }

    /// The address text, for the log, /stats and INFO, without a switch (the first
    /// resolution of a host name).
    func setAddressText(_ text: String, pool: Int, server: Int) {
        pthread_mutex_lock(&lock)
        addressTexts[pool][server] = text
        pthread_mutex_unlock(&lock)
    }

    private func move(_ a: sockaddr_storage, text: String, pool: Int, server: Int, why: String, confirmed: Bool) {
        let nowMs = Self.nowMs()
        pthread_mutex_lock(&lock)
        addresses[pool][server] = a
        let old = addressTexts[pool][server]
        addressTexts[pool][server] = text
        switches[pool][server] += 1
        if confirmed { _ = trackers[pool][server].masterConfirmed(nowMs: nowMs) }
        changes += 1
        let wake = subscribers
        pthread_mutex_unlock(&lock)
        let name = servers[pool][server].displayName
        logNotice("upstream \(name) \(old) -> \(text): \(why)")
        for w in wake { w.send() }
    }

    func setSentinelUp(_ up: Bool, pool: Int, sentinel: Int) {
        pthread_mutex_lock(&lock)
        sentinelUp[pool][sentinel] = up
        pthread_mutex_unlock(&lock)
    }

    func setSentinelPollWaker(_ waker: LoopAsync?) {
        pthread_mutex_lock(&lock)
        sentinelPollWaker = waker
        pthread_mutex_unlock(&lock)
    }

    /// Thread-safe; libuv coalesces sends that arrive before the checker runs.
    func requestSentinelPoll() {
        pthread_mutex_lock(&lock)
        let w = sentinelPollWaker
        pthread_mutex_unlock(&lock)
        w?.send()
    }

    func subscribe(_ wakeup: LoopAsync) {
        pthread_mutex_lock(&lock)
        subscribers.append(wakeup)
        pthread_mutex_unlock(&lock)
    }

    func unsubscribe(_ wakeup: LoopAsync) {
        pthread_mutex_lock(&lock)
        subscribers.removeAll { $0 === wakeup }
        pthread_mutex_unlock(&lock)
    }

    /// For a worker, in one lock: (generation, layout, up-states, reasons, switch counts).
    func workerSnapshot() -> (UInt64, UInt64, [[Bool]], [[String]], [[UInt64]]) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (changes, layout, trackers.map { $0.map(\.isUp) }, trackers.map { $0.map(\.reason) }, switches)
    }

    func checkPassed(pool: Int, server: Int) {
        update(pool, server) { $0.checkPassed(nowMs: $1) }
    }

    /// `switches`: the switch count of the address that failed; a failure of an address
    /// Sentinel has since replaced is not the server's.
    func checkFailed(pool: Int, server: Int, why: String, switches seen: UInt64) {
        update(pool, server, seen) { $0.checkFailed(why, nowMs: $1) }
    }

    /// From a worker: `key` names the server, as its indices may be from before a reload.
    func passiveFailure(pool: Int, server: Int, key: String, why: String, switches seen: UInt64) {
        pthread_mutex_lock(&lock)
        let found = locate(pool, server, key)
        pthread_mutex_unlock(&lock)
        guard let (p, s) = found else { return }
        update(p, s, seen) { $0.passiveFailure(why, nowMs: $1) }
    }

    private static func nowMs() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec / 1_000_000)
    }

    private func update(_ pool: Int, _ server: Int, _ seen: UInt64? = nil,
                        _ body: (inout HealthTracker, UInt64) -> HealthTracker.Transition) {
        let nowMs = Self.nowMs()
        pthread_mutex_lock(&lock)
        // A reload may have shrunk the board since the caller found the indices.
        guard pool < trackers.count, server < trackers[pool].count else {
            pthread_mutex_unlock(&lock)
            return
        }
        if let s = seen, s < switches[pool][server] {
            pthread_mutex_unlock(&lock)
            return
        }
        let transition = body(&trackers[pool][server], nowMs)
        let name = servers[pool][server].logName
        var wake: [LoopAsync] = []
        if transition != .none {
            changes += 1
            wake = subscribers
        }
        pthread_mutex_unlock(&lock)
        switch transition {
        case .none: return
        case let .wentDown(why): logWarn("upstream \(name) down: \(why)")
        case .cameUp: logNotice("upstream \(name) up: passed health checks")
        }
        for w in wake { w.send() }
    }

    // MARK: reload

    /// The running configuration (a reload replaces it).
    public var config: ProxyConfig {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return running
    }

    /// Bumped by every reload: a worker applies up/down states only once it runs the same
    /// layout (the states are indexed by it).
    private(set) var layout: UInt64 = 0

    /// A reload: the board takes `config`'s layout. Servers that stay (same pool, same ring
    /// identity) keep their health history and their current address (which Sentinel or DNS
    /// may have changed) unless the file gives them a new one; `resolved` has the address of
    /// every server, used where the file's address is new. Wakes every worker.
    func reconfigure(_ config: ProxyConfig, resolved: [[sockaddr_storage]]) {
        // Made (and its listed replicas resolved) before the lock.
        let newReplicas = ReplicaBoard(config: config)
        newReplicas.carry(from: replicas)
        pthread_mutex_lock(&lock)
        var oldAt: [String: (Int, Int)] = [:]
        for (p, list) in keys.enumerated() { for (s, k) in list.enumerated() { oldAt[k] = (p, s) } }
        var newTrackers: [[HealthTracker]] = [], newAddresses: [[sockaddr_storage]] = []
        var newTexts: [[String]] = [], newSwitches: [[UInt64]] = [], newUp: [[Bool]] = []
        for (p, pool) in config.pools.enumerated() {
            var t: [HealthTracker] = [], a: [sockaddr_storage] = [], x: [String] = [], w: [UInt64] = []
            for (s, spec) in pool.servers.enumerated() {
                if let (op, os) = oldAt[HealthBoard.key(pool.name, spec.ringIdentity)] {
                    var tracker = trackers[op][os]
                    tracker.setThresholds(fall: pool.health.fall, rise: pool.health.rise)
                    t.append(tracker)
                    let moved = servers[op][os].address != spec.address
                    a.append(moved ? resolved[p][s] : addresses[op][os])
                    x.append(moved ? spec.addressText : addressTexts[op][os])
                    // (A new address gets a new server in each worker; see PoolRuntime.reconfigure.)
                    w.append(switches[op][os])
                } else {
                    t.append(HealthTracker(fall: pool.health.fall, rise: pool.health.rise))
                    a.append(resolved[p][s])
                    x.append(spec.addressText)
                    w.append(0)
                }
            }
            newTrackers.append(t); newAddresses.append(a); newTexts.append(x); newSwitches.append(w)
            let oldPool = running.pools.firstIndex { $0.name == pool.name }
            newUp.append(pool.sentinel.sentinels.map { sentinel in
                guard let op = oldPool, let i = running.pools[op].sentinel.sentinels.firstIndex(of: sentinel) else { return true }
                return sentinelUp[op][i]
            })
        }
        trackers = newTrackers; addresses = newAddresses; addressTexts = newTexts; switches = newSwitches
        sentinelUp = newUp
        servers = config.pools.map(\.servers)
        keys = config.pools.map { pool in pool.servers.map { HealthBoard.key(pool.name, $0.ringIdentity) } }
        running = config
        layout += 1
        newReplicas.layout = layout
        replicaBoard = newReplicas
        changes += 1
        let wake = subscribers
        pthread_mutex_unlock(&lock)
        for w in wake { w.send() }
    }

    /// Every worker's counters (a worker replaces its own when it applies a reload).
    public var stats: [WorkerStats] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return workerStats
    }

    /// A worker's counters: registered in id order at start, replaced by each reload.
    func setStats(_ one: WorkerStats, worker: Int) {
        pthread_mutex_lock(&lock)
        if worker < workerStats.count { workerStats[worker] = one } else { workerStats.append(one) }
        pthread_mutex_unlock(&lock)
    }

    /// Every server's current address, in the board's layout.
    func currentAddresses() -> [[sockaddr_storage]] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return addresses
    }

    /// The last reload's outcome, and how many failed, for /stats and /metrics.
    struct ReloadRecord {
        var at = 0
        var ok = true
        var message = ""
        var failures: UInt64 = 0
        var successes: UInt64 = 0
    }

    func recordReload(_ outcome: ReloadOutcome, at time: Int) {
        pthread_mutex_lock(&lock)
        var r = reloadRecord ?? ReloadRecord()
        r.at = time
        r.ok = outcome.ok
        r.message = outcome.message
        if outcome.ok { r.successes += 1 } else { r.failures += 1 }
        reloadRecord = r
        pthread_mutex_unlock(&lock)
    }

    /// One consistent picture for a reader on another thread (the admin listener): the
    /// configuration and every per-server array in the same layout.
    struct View {
        var config: ProxyConfig
        var trackers: [[HealthTracker]]
        var addressTexts: [[String]]
        var switches: [[UInt64]]
        var sentinelUp: [[Bool]]
        var stats: [WorkerStats]
        var reload: ReloadRecord?
        var replicas: ReplicaBoard
        var layout: UInt64
    }

    func view() -> View {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return View(config: running, trackers: trackers, addressTexts: addressTexts, switches: switches,
                    sentinelUp: sentinelUp, stats: workerStats, reload: reloadRecord,
                    replicas: replicaBoard, layout: layout)
    }
}

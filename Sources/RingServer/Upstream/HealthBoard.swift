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
    private let servers: [[ServerSpec]]
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
    /// The replicas read_from reads from, and whether each is usable.
    public let replicas: ReplicaBoard
    /// Wakes the checker thread to poll the sentinels and re-resolve host names now (a
    /// worker saw READONLY or a refused connection).
    private var sentinelPollWaker: LoopAsync?

    public init(config: ProxyConfig) {
        pthread_mutex_init(&lock, nil)
        replicas = ReplicaBoard(config: config)
        servers = config.pools.map(\.servers)
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

    func address(pool: Int, server: Int) -> sockaddr_storage {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return addresses[pool][server]
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

    func setAddress(_ a: sockaddr_storage, pool: Int, server: Int) {
        pthread_mutex_lock(&lock)
        addresses[pool][server] = a
        pthread_mutex_unlock(&lock)
    }

    func setSentinelUp(_ up: Bool, pool: Int, sentinel: Int) {
        pthread_mutex_lock(&lock)
        sentinelUp[pool][sentinel] = up
        pthread_mutex_unlock(&lock)
    }

    /// Every pool's sentinels, up (answered the last poll in time) or not; for stats.
    func sentinelStates() -> [[Bool]] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return sentinelUp
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

    /// (generation, up-state of every server of every pool).
    func snapshot() -> (UInt64, [[Bool]], [[String]]) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return (changes, trackers.map { $0.map(\.isUp) }, trackers.map { $0.map(\.reason) })
    }

    public func tracker(pool: Int, server: Int) -> HealthTracker {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return trackers[pool][server]
    }

    func checkPassed(pool: Int, server: Int) {
        update(pool, server) { $0.checkPassed(nowMs: $1) }
    }

    /// `switches`: the switch count of the address that failed; a failure of an address
    /// Sentinel has since replaced is not the server's.
    func checkFailed(pool: Int, server: Int, why: String, switches seen: UInt64) {
        update(pool, server, seen) { $0.checkFailed(why, nowMs: $1) }
    }

    func passiveFailure(pool: Int, server: Int, why: String, switches seen: UInt64) {
        update(pool, server, seen) { $0.passiveFailure(why, nowMs: $1) }
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
        if let s = seen, s < switches[pool][server] {
            pthread_mutex_unlock(&lock)
            return
        }
        let transition = body(&trackers[pool][server], nowMs)
        var wake: [LoopAsync] = []
        if transition != .none {
            changes += 1
            wake = subscribers
        }
        pthread_mutex_unlock(&lock)
        let spec = servers[pool][server]
        switch transition {
        case .none: return
        case let .wentDown(why): logWarn("upstream \(spec.logName) down: \(why)")
        case .cameUp: logNotice("upstream \(spec.logName) up: passed health checks")
        }
        for w in wake { w.send() }
    }
}

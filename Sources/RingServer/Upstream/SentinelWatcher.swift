// Follows Redis Sentinel for one pool, on the health checker's thread (never a worker's): a
// +switch-master subscription on every sentinel, and SENTINEL MASTER polled on all of them
// in parallel (at start, on every reconnect, every sentinel_poll_interval and at once after
// an event), each bounded by sentinel_timeout so a hung or dead sentinel delays nothing.
// SentinelFollower decides; a new address is handed to the HealthBoard only after ROLE on it
// answers master.

import RingConfig
import RingCore

final class SentinelWatcher {
    unowned let checker: HealthChecker
    let poolIndex: Int
    let settings: SentinelSettings
    let names: [String]
    private var followers: [SentinelFollower]
    private var peers: [SentinelPeer] = []
    private var timer: LoopTimer?
    /// The servers' own AUTH, for the ROLE check on a candidate master.
    private let serverUser: String?
    private let serverPassword: String?
    /// read_from reads from replicas: SENTINEL REPLICAS is asked with every poll.
    private let asksReplicas: Bool

    /// The channels a subscription listens to: the switch itself, and the events after
    /// which a poll is worth doing at once.
    static let channels = ["+switch-master", "+odown", "-odown", "+tilt", "-tilt"]
    /// Polls a worker asks for (READONLY replies) come at most this often: a burst of
    /// writes to a demoted master must not become a burst of polls on every sentinel.
    static let requestedPollGapMs: UInt64 = 100
    private var lastRequestedPollMs: UInt64?

    init(checker: HealthChecker, pool: PoolConfig, poolIndex: Int) {
        self.checker = checker
        self.poolIndex = poolIndex
        settings = pool.sentinel
        names = pool.servers.map { $0.name ?? $0.addressText }
        followers = pool.servers.map { spec in
            guard case let .tcp(host, port) = spec.address else { return SentinelFollower(configured: HostPort(host: "", port: 1)) }
            return SentinelFollower(configured: HostPort(host: host, port: port))
        }
        serverUser = pool.redisUser
        serverPassword = pool.redisAuth
        asksReplicas = pool.readFrom != .master
        let board = checker.board
        peers = settings.sentinels.enumerated().map { i, address in
            SentinelPeer(address: address) { up in board.setSentinelUp(up, pool: poolIndex, sentinel: i) }
        }
    }

    func start() {
        let t = LoopTimer(checker.loop) { [unowned self] in self.tick() }
        t.start(afterMs: 0, repeatMs: UInt64(settings.pollIntervalMs))
        timer = t
    }

    func close() {
        timer?.close()
        for p in peers { p.query?.close(); p.subscription?.close() }
    }

    /// Every poll interval: subscriptions checked (a PING left unanswered since the last
    /// tick means a dead link), then every sentinel polled.
    private func tick() {
        for p in peers {
            if let s = p.subscription, s.isOpen {
                if p.awaitingPong { s.close() } else { p.awaitingPong = true; s.send(["PING"]) }
            }
            if p.subscription == nil { subscribe(p) }
        }
        pollAll()
    }

    /// A worker saw READONLY from a server of this pool: its master may have moved.
    func pollRequested() {
        let now = checker.loop.nowMs
        if let last = lastRequestedPollMs, now < last + Self.requestedPollGapMs { return }
        lastRequestedPollMs = now
        pollAll()
    }

    private func pollAll() {
        for p in peers { poll(p) }
    }

    private func subscribe(_ peer: SentinelPeer) {
        guard let link = ControlLink(loop: checker.loop, scheduler: checker, address: peer.address) else { return }
        peer.subscription = link
        peer.awaitingPong = false
        var owed = link.auth(user: settings.user, password: settings.password)
        link.send(["SUBSCRIBE"] + SentinelWatcher.channels)
        link.onReply = { [unowned self, unowned peer] reply in
            if owed > 0 { owed -= 1; return }
            guard case let .array(items) = reply, let kind = items.first?.text else { return }
            switch kind {
            case "subscribe":
                // (Re)connected: whatever happened while unsubscribed is asked for now.
                if items.count > 1, items[1].text == SentinelWatcher.channels.last { self.poll(peer) }
            case "message":
                guard items.count == 3, let channel = items[1].text else { return }
                if channel == "+switch-master" {
                    logNotice("sentinel \(peer.address.host):\(peer.address.port): +switch-master \(items[2].text ?? "")")
                }
                self.pollAll()
            case "pong":
                peer.awaitingPong = false
            default:
                break
            }
        }
        link.onEnd = { [unowned peer] in peer.subscription = nil }
    }

    /// One sentinel polled: INFO sentinel (for TILT), then SENTINEL MASTER for every server
    /// (and SENTINEL REPLICAS, when the pool reads from replicas), pipelined on a link of its
    /// own that sentinel_timeout ends.
    private func poll(_ peer: SentinelPeer) {
        guard peer.query == nil else { return }  // the last poll is still within its timeout
        guard let link = ControlLink(loop: checker.loop, scheduler: checker, address: peer.address) else {
            peer.noteDown("cannot connect")
            return
        }
        peer.query = link
        link.expire(afterMs: settings.timeoutMs, loop: checker.loop)
        var owed = link.auth(user: settings.user, password: settings.password)
        link.send(["INFO", "sentinel"])
        for n in names { link.send(["SENTINEL", "MASTER", n]) }
        if asksReplicas { for n in names { link.send(["SENTINEL", "REPLICAS", n]) } }
        let total = asksReplicas ? 2 * names.count : names.count
        var tilt = false
        var next = -1  // -1: INFO's reply; then the index of the server whose answer is next
        link.onReply = { [unowned self, unowned peer, unowned link] reply in
            if owed > 0 { owed -= 1; return }
            if next < 0 {
                tilt = SentinelAnswer.tilt(inInfo: reply.text ?? "")
            } else if next >= self.names.count {
                // A sentinel in TILT is not trusted about replicas either.
                if !tilt, case .array = reply {
                    self.checker.board.replicas.sentinelNamed(SentinelReplicas.healthy(reply), pool: self.poolIndex,
                                                              server: next - self.names.count)
                }
            } else if let fields = reply.fields, let answer = SentinelAnswer(fields: fields, tilt: tilt) {
                self.consider(answer, server: next)
            }
            next += 1
            if next == total {
                peer.noteUp()
                link.close()
            }
        }
        link.onEnd = { [unowned peer] in
            if next < total { peer.noteDown("no answer within \(self.settings.timeoutMs) ms") }
            peer.query = nil
        }
    }

    private func consider(_ answer: SentinelAnswer, server: Int) {
        guard case let .confirm(address, epoch) = followers[server].answer(answer) else { return }
        confirmRole(address, epoch: epoch, server: server)
    }

    /// ROLE on the candidate, bounded by sentinel_timeout; no answer counts as "not master".
    private func confirmRole(_ address: HostPort, epoch: UInt64, server: Int) {
        var answered = false
        guard let link = ControlLink(loop: checker.loop, scheduler: checker, address: address) else {
            _ = followers[server].roleAnswered(address, epoch: epoch, isMaster: false)
            return
        }
        link.expire(afterMs: settings.timeoutMs, loop: checker.loop)
        var owed = link.auth(user: serverUser, password: serverPassword)
        link.send(["ROLE"])
        link.onReply = { [unowned self, unowned link] reply in
            if owed > 0 { owed -= 1; return }
            answered = true
            let isMaster = SentinelFollower.isMasterRole(reply)
            if let change = self.followers[server].roleAnswered(address, epoch: epoch, isMaster: isMaster) {
                self.switchServer(server, change)
            } else if !isMaster {
                logWarn("upstream \(self.names[server]): sentinel names \(address.host):\(address.port) (epoch \(epoch)), but ROLE there is not master; not switching")
            }
            link.close()
        }
        link.onEnd = { [unowned self] in
            if !answered { _ = self.followers[server].roleAnswered(address, epoch: epoch, isMaster: false) }
        }
    }

    private func switchServer(_ server: Int, _ change: SentinelSwitch) {
        guard case let .success(resolved) = resolveAddress(host: change.to.host, port: change.to.port) else { return }
        checker.dns?.sentinelTookOver(pool: poolIndex, server: server)
        checker.board.switchAddress(resolved, pool: poolIndex, server: server, change: change)
        checker.addressSwitched(pool: poolIndex, server: server)
    }
}

/// One sentinel as the watcher sees it: its links and whether it answered last time.
final class SentinelPeer {
    let address: HostPort
    var subscription: ControlLink?
    var query: ControlLink?
    var awaitingPong = false
    private(set) var isUp = true
    /// Tells the HealthBoard (for /stats and /metrics) when `isUp` changes.
    private let changed: (Bool) -> Void

    init(address: HostPort, changed: @escaping (Bool) -> Void) {
        self.address = address
        self.changed = changed
    }

    func noteDown(_ why: String) {
        if isUp { logWarn("sentinel \(address.host):\(address.port) down: \(why)"); changed(false) }
        isUp = false
    }

    func noteUp() {
        if !isUp { logNotice("sentinel \(address.host):\(address.port) up"); changed(true) }
        isUp = true
    }
}

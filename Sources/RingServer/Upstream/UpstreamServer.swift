// One Redis server of a pool as one worker sees it: its address, its connections (made on
// demand, per protocol version) and the connect back-off. It must never wait on a connect per
// request, nor decide up or down by itself (the HealthBoard does).

import CLibUV
import RingCore

final class UpstreamServer {
    // unowned(unsafe): the worker and pool own this server and outlive it (see
    // UpstreamConnection.server).
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let pool: PoolRuntime
    var spec: ServerSpec
    /// Its place in the pool's server list (and in the worker's counters); a reload may
    /// change it. A retired server's place follows the live ones.
    var index: Int
    /// Resolved at startup (or by the reload that added it); zeroed for unix sockets.
    let address: sockaddr_storage
    /// Names the server to the HealthBoard (pool name and ring identity): its indices may
    /// be from before a reload the board has already taken.
    var boardKey: String
    /// Unique in the process: the worker's counters are carried across a reload by it.
    let uid = UpstreamServer.nextUID()
    /// A reload removed the server (or replaced it with another address or connection
    /// settings): it takes no new requests, finishes those in flight, then closes.
    var retired = false
    /// When a retired server closed its connections (see PoolRuntime.sweepRetired).
    var closedAt: UInt64?
    /// Sentinel or DNS may move the server's address: a READONLY reply (a demoted master)
    /// retires the connection and has the checker look again, and written reads are kept
    /// to be re-sent once after a move.
    let followsAddress: Bool
    /// For a replica read_from reads from: its slot in the pool's `replicas` (its stats
    /// index is the pool's server count plus this). nil for the pool's servers.
    var replicaSlot: Int?
    /// A server's replicas (see UpstreamServer+Replicas.swift), and the rotation of reads
    /// over the usable ones; empty unless read_from sends reads to replicas.
    var replicas: [UpstreamServer] = []
    var rotation = ReplicaRotation(count: 0)
    /// The one test the request path makes for replicas: false unless this server has some.
    var hasReplicas = false
    var replicaGeneration: UInt64 = 0
    /// How many times Sentinel put another replica in this replica's slot, as applied.
    private(set) var replicaEpoch: UInt64 = 0
    /// Both protocol versions' connections to the pool's redis_db in one list: RESP2's in
    /// the first `perVersion` slots, RESP3's in the next (see `slot`). Nearly every client
    /// stays in that database, so its connections are found without a lookup.
    private var connections: [UpstreamConnection?]
    /// Connections to the other databases clients SELECT, laid out as `connections`, made
    /// on first use; at most the pool's `databases` entries.
    private var otherDatabases: [Int: [UpstreamConnection?]] = [:]
    private let perVersion: Int
    private let startDatabase: Int
    /// Connections leased to one client each (a transaction, a blocking command), and the
    /// clean ones kept for the next lease (see UpstreamServer+Leases.swift).
    var leased: [UpstreamConnection] = []
    var idleLeases: [UpstreamConnection] = []
    /// This worker's clients blocked on the server now (max_blocked_clients bounds it).
    var blockedClients = 0
    private var nextConnection = 0

    /// When connecting may be tried again after failures.
    private(set) var backoff = ConnectBackoff()
    private(set) var lastFailure: UpstreamFailure?
    /// Requests failed in a row (timeouts, broken connections); at the pool's
    /// server_failure_limit the server is reported down without waiting for a check.
    private var consecutiveRequestFailures = 0
    /// Down according to the HealthBoard.
    private(set) var isDown = false
    private(set) var downReason = ""
    /// How many Sentinel switches of this server's address this worker has applied (see
    /// HealthBoard.switchAddress); failures are reported with it, so the board can tell the
    /// old master's from the new one's.
    private(set) var addressSwitches: UInt64 = 0
    /// failover_hold: the window in which requests for this server wait for its new master,
    /// the clients parked in it, and whether the board's news (a switch, up again) should
    /// release them once the worker has applied all of it.
    var hold: FailoverHold
    var parked: [ClientSession] = []
    private var releaseDue = false

    init(worker: Worker, pool: PoolRuntime, spec: ServerSpec, index: Int, address: sockaddr_storage, replicaSlot: Int? = nil) {
        self.worker = worker
        self.replicaSlot = replicaSlot
        self.pool = pool
        self.spec = spec
        self.index = index
        self.address = address
        boardKey = HealthBoard.key(pool.config.name, spec.ringIdentity)
        perVersion = max(1, pool.config.serverConnections)
        startDatabase = pool.config.redisDB
        connections = Array(repeating: nil, count: 2 * perVersion)
        let sentinel = pool.config.sentinel
        if replicaSlot != nil {
            // A replica is read from only while the checker finds it usable; it never moves.
            followsAddress = false
        } else if case let .tcp(host, _) = spec.address, pool.config.dnsRefreshMs > 0, !isNumericHost(host) {
            followsAddress = true
        } else {
            followsAddress = sentinel.isEnabled
        }
        hold = FailoverHold(limitMs: sentinel.sentinels.isEmpty || replicaSlot != nil ? 0 : sentinel.failoverHoldMs)
        if replicaSlot == nil {
            replicas = makeReplicas()
            rotation = ReplicaRotation(count: replicas.count)
            hasReplicas = !replicas.isEmpty
        }
    }

    /// "NAME ADDRESS", as log lines name the server.
    var logName: String { spec.logName }

    /// Where connection number `n` (below `perVersion`) of `version` lives in `connections`.
    @inline(__always)
    private func slot(_ version: RESPVersion, _ n: Int) -> Int { version == .resp2 ? n : perVersion + n }

    /// A usable connection for `version` on `database`, or nil while backing off after a
    /// failure.
    @inline(__always)
    func connection(for version: RESPVersion, database: Int, ignoringBackoff: Bool = false) -> UpstreamConnection? {
        let n = perVersion == 1 ? 0 : { nextConnection = (nextConnection + 1) % perVersion; return nextConnection }()
        let i = slot(version, n)
        if database == startDatabase {
            if let c = connections[i], !c.isBroken { return c }
            guard let fresh = connect(version, database, ignoringBackoff) else { return nil }
            connections[i] = fresh
            return fresh
        }
        var list = otherDatabases[database] ?? Array(repeating: nil, count: 2 * perVersion)
        if let c = list[i], !c.isBroken { return c }
        guard let fresh = connect(version, database, ignoringBackoff) else { return nil }
        list[i] = fresh
        otherDatabases[database] = list
        return fresh
    }

    func connect(_ version: RESPVersion, _ database: Int, _ ignoringBackoff: Bool) -> UpstreamConnection? {
        if !ignoringBackoff && !backoff.mayConnect(nowMs: worker.loop.nowMs) { return nil }
        let fresh = UpstreamConnection(server: self, version: version, database: database)
        if fresh.isBroken {
            worker.stats.add(pool: pool.index, server: index, UpstreamFailure.cannotConnect.stat)
            reportDown(.cannotConnect)
            noteFailure(.cannotConnect)
            return nil
        }
        return fresh
    }

    /// A stream of the kind the server's address needs; not connected yet.
    func makeStream() -> Stream {
        switch spec.address {
        case .tcp: return Stream(loop: worker.loop, kind: .tcp, scheduler: worker)
        case .unix: return Stream(loop: worker.loop, kind: .pipe, scheduler: worker)
        }
    }

    /// Starts connecting `stream` to the server (at the address the HealthBoard last
    /// resolved, if any); false when the connect could not even start.
    func connect(_ stream: Stream) -> Bool {
        switch spec.address {
        case let .unix(path):
            stream.connect(toPath: path)
            return true
        case .tcp:
            // A retired server keeps the address it had; the board's indices may be a
            // reload's by now.
            var target = retired ? address
                : replicaSlot.map { pool.board?.replicas.address(pool: pool.index, replica: $0, layout: worker.appliedLayout) ?? address }
                ?? pool.board?.address(pool: pool.index, server: index, key: boardKey) ?? address
            let r = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { stream.connect(to: $0) }
            }
            return r >= 0
        }
    }

    /// Every open connection, the redis_db ones first. Allocates nothing.
    @inline(__always)
    func forEachConnection(_ body: (UpstreamConnection) -> Void) {
        for case let c? in connections { body(c) }
        for list in otherDatabases.values { for case let c? in list { body(c) } }
        for c in leased { body(c) }
        for c in idleLeases { body(c) }
    }

    /// Opens the RESP2 connections `preconnect` asks for.
    func preconnect() {
        for n in 0..<perVersion where connections[slot(.resp2, n)] == nil {
            connections[slot(.resp2, n)] = UpstreamConnection(server: self, version: .resp2, database: startDatabase)
        }
    }

    func setDown(_ down: Bool, reason: String) {
        if isDown && !down {
            // Back: connect on the next request instead of waiting out an old back-off.
            backoff.reset()
            consecutiveRequestFailures = 0
        }
        if isDown && !down { serverBack() }
        isDown = down
        downReason = reason
    }

    // MARK: failover_hold

    /// A request found this server unreachable: true if its client is to wait (parked with
    /// `park`) rather than be answered with the down error.
    func shouldPark() -> Bool { hold.shouldPark(now: worker.loop.nowMs) }

    func park(_ client: ClientSession) { parked.append(client) }

    func unpark(_ client: ClientSession) { parked.removeAll { $0 === client } }

    private func serverBack() {
        hold.serverBack()
        if !parked.isEmpty { releaseDue = true }
    }

    /// After the worker applied the board's news (addresses first, then up/down): parked
    /// clients go on, and their requests to the new master.
    func releaseParkedIfDue() {
        guard releaseDue else { return }
        releaseDue = false
        releaseParked()
    }

    /// Every tick: at the end of the window the parked requests are answered (the server
    /// is still unreachable, so with the down error). A server the board never marked down
    /// whose back-off has passed is tried again by them.
    func checkHold(now: UInt64) {
        guard !parked.isEmpty else { return }
        if hold.isOver(now: now) || (!isDown && backoff.mayConnect(nowMs: now)) { releaseParked() }
    }

    func releaseParked() {
        let clients = parked
        parked = []
        for c in clients { c.holdEnded() }
    }

    /// The error a request gets while the HealthBoard says this server is down.
    var downMessage: String { spec.upstreamError(.down, downReason) }

    /// The error a request gets while this server is backing off.
    var unavailableMessage: String { spec.upstreamError(.unavailable, lastFailure?.description ?? "not connected") }

    func requestSucceeded() { consecutiveRequestFailures = 0 }

    /// A reply said the server cannot serve (LOADING, MASTERDOWN): down at once, as a
    /// refused connection would be, until the health checks pass again.
    func replyFailure(_ failure: UpstreamFailure) {
        worker.stats.add(pool: pool.index, server: index, failure.stat)
        reportDown(failure)
    }

    /// Only checks can bring a server back, so without health checks (interval 0) a
    /// failure is not reported: the connect back-off alone paces the retries.
    private func reportDown(_ failure: UpstreamFailure) {
        // A replica's usability is the checker's (ROLE, link, lag), not the health board's.
        guard pool.config.health.intervalMs > 0, replicaSlot == nil, !retired else { return }
        pool.board?.passiveFailure(pool: pool.index, server: index, key: boardKey, why: failure.description,
                                   switches: addressSwitches)
    }

    /// Sentinel moved the server: every connection to the old master is retired at once,
    /// shared and leased alike. Unsent requests move to the new master; written ones fail
    /// (see UpstreamFailure.failedOver); blocked clients get their error with their lease;
    /// the worker's subscriptions move with the pub/sub link.
    func addressChanged(switches: UInt64) {
        guard switches != addressSwitches else { return }
        addressSwitches = switches
        serverBack()
        backoff.reset()
        consecutiveRequestFailures = 0
        lastFailure = nil
        var old: [UpstreamConnection] = []
        forEachConnection { old.append($0) }
        for c in old { c.fail(.failedOver) }
        pool.pubsub.serverMoved(index)
    }

    /// Sentinel put another replica in this replica's slot (or emptied it): the connections
    /// to the old one are retired; unsent reads move to the new one.
    func replicaMoved(epoch: UInt64) {
        replicaEpoch = epoch
        backoff.reset()
        lastFailure = nil
        var old: [UpstreamConnection] = []
        forEachConnection { old.append($0) }
        for c in old { c.fail(.failedOver) }
    }

    func connectionSucceeded() {
        if backoff.consecutiveFailures > 0 { logNotice("upstream \(logName) reachable again") }
        backoff.reset()
        lastFailure = nil
        serverBack()
    }

    /// A connection broke: a refused, reset or closed one marks the server down at once; a
    /// timeout or a garbled reply counts toward server_failure_limit instead.
    func connectionFailed(_ connection: UpstreamConnection, _ failure: UpstreamFailure) {
        if connection.isLease {
            leaseFailed(connection)
        } else if connection.database == startDatabase {
            for i in connections.indices where connections[i] === connection { connections[i] = nil }
        } else if var list = otherDatabases[connection.database] {
            for i in list.indices where list[i] === connection { list[i] = nil }
            otherDatabases[connection.database] = list
        }
        // Retired for a failover (or a demotion the poll is about to follow): the server is
        // not failing, its new master is waiting.
        if failure == .failedOver || failure == .becameReplica { return }
        consecutiveRequestFailures += 1
        // A Sentinel-managed master that closes or refuses connections may have been
        // demoted (Sentinel kills the old master's clients when it reconfigures it) or
        // killed: the sentinels are asked at once rather than at the next poll. A host name
        // is resolved again at once for the same reason.
        if failure.marksServerDown && followsAddress { pool.board?.requestSentinelPoll() }
        if failure.marksServerDown || consecutiveRequestFailures >= pool.config.serverFailureLimit {
            reportDown(failure)
        }
        noteFailure(failure)
        // A replica is not retried at once: with prefer_replica its reads go to the master
        // meanwhile, and the checker decides when it is read from again.
        if connection.everConnected && replicaSlot == nil { backoff.brokeAfterWorking() }
    }

    /// The worker's subscriber connection to this server broke: the server is marked as a
    /// data connection's failure would mark it, and reconnecting backs off the same way.
    func subscriberFailed(_ failure: UpstreamFailure) {
        worker.stats.add(pool: pool.index, server: index, failure.stat)
        if failure.marksServerDown { reportDown(failure) }
        noteFailure(failure)
    }

    /// A subscriber connection may be opened now (not down, not backing off).
    var maySubscribe: Bool { !isDown && backoff.mayConnect(nowMs: worker.loop.nowMs) }

    private func noteFailure(_ failure: UpstreamFailure) {
        let delay = backoff.failed(nowMs: worker.loop.nowMs)
        if lastFailure != failure || backoff.consecutiveFailures == 1 {
            logWarn("upstream \(logName): \(failure); retrying in \(delay) ms")
        }
        lastFailure = failure
    }

    /// Fails requests that waited longer than the pool's timeout. Runs every tick: the
    /// loop goes over the array in place, allocating nothing unless a connection fails.
    func expireRequests(now: UInt64, timeoutMs: UInt64) {
        // Failing a connection changes the lists, so the late ones are collected first (the
        // rare case; nothing is allocated when none is late).
        var late: [UpstreamConnection] = []
        forEachConnection { conn in
            guard let oldest = conn.oldestQueuedAt else { return }
            // A blocked client's lease waits out the block first (see BlockTime); a block
            // "for ever" is never cut short.
            let limit: UInt64?
            switch conn.expiry {
            case .poolTimeout: limit = timeoutMs
            case let .afterBlock(ms): limit = ms.map { UInt64($0) + timeoutMs }
            }
            if let l = limit, now >= oldest + l { late.append(conn) }
        }
        for conn in late { conn.fail(.timedOut(ms: Int(timeoutMs))) }
        for r in replicas { r.expireRequests(now: now, timeoutMs: timeoutMs) }
    }

    /// Stores this worker's queue gauges for the server (see `ServerStat.isGauge`).
    func sampleQueues() {
        var total = (inQueue: 0, inBytes: 0, outQueue: 0, outBytes: 0)
        forEachConnection { conn in
            guard !conn.isBroken else { return }
            let d = conn.queueDepths()
            total.inQueue += d.inQueue; total.inBytes += d.inBytes
            total.outQueue += d.outQueue; total.outBytes += d.outBytes
        }
        let stats: WorkerStats = worker.stats
        stats.set(pool: pool.index, server: index, .inQueue, UInt64(total.inQueue))
        stats.set(pool: pool.index, server: index, .inQueueBytes, UInt64(total.inBytes))
        stats.set(pool: pool.index, server: index, .outQueue, UInt64(total.outQueue))
        stats.set(pool: pool.index, server: index, .outQueueBytes, UInt64(total.outBytes))
        // Every tick, with or without a pool timeout: the checker's news about replicas.
        if hasReplicas { applyReplicaStates() }
        for r in replicas { r.sampleQueues() }
    }

    func closeAll() {
        forEachConnection { $0.stream.close() }
        for r in replicas { r.closeAll() }
    }
}

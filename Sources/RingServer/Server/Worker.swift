// A worker: one libuv loop on one thread, with its own listeners, clients and upstream
// connections. Workers share nothing mutable; several run side by side, each with a
// SO_REUSEPORT listener on the same port. The worker is also the flush scheduler: streams
// that gained output during a loop turn are written in the check phase, once each.

import CLibUV
import RingConfig
import RingCore

public final class Worker: FlushScheduler {
    public let id: Int
    public let loop = EventLoop()
    let commands = CommandTable.redis70
    /// Decides each request of this worker's clients; holds the last split's plan.
    var planner = RoutePlanner(table: CommandTable.redis70)
    /// One split part's argument indices, reused by every split of this worker.
    var partIndices: [Int] = []
    private(set) var pools: [PoolRuntime] = []
    private var flushList: [Stream] = []
    /// The batch being flushed; swapped with `flushList` so neither array is copied (a
    /// copy-then-clear would allocate a fresh array every loop turn).
    private var flushing: [Stream] = []
    /// Paused clients to look at again after this turn's flush (see ClientSession).
    private var resumeList: [ClientSession] = []
    private var resuming: [ClientSession] = []
    private var check: LoopCheck?
    private var tick: LoopTimer?
    private var wakeup: LoopAsync?
    var clients: [UInt64: ClientSession] = [:]
    private var nextClientID: UInt64
    /// Where a client's read lands when it has no partial request buffered: one buffer
    /// per worker instead of one per idle client.
    let sharedReadBuffer = ByteBuffer(capacity: Worker.sharedReadSize)
    /// Scratch space for replies built out of order (the bytes are copied into a slot).
    let scratch = ByteBuffer(capacity: 4096)
    /// Merge states of finished split commands, reused by the next ones.
    private var mergeStates: [MergeState] = []
    /// More than this many idle merge states are let go (a burst of splits does not pin
    /// memory for ever).
    static let mergeStatePoolLimit = 256

    func takeMergeState(kind: SplitKind, keyCount: Int, parts: Int) -> MergeState {
        if let m = mergeStates.popLast() {
            m.reset(kind: kind, keyCount: keyCount, parts: parts)
            return m
        }
        return MergeState(kind: kind, keyCount: keyCount, parts: parts)
    }

    /// Takes back a merge state nothing refers to any more.
    func recycle(_ merge: MergeState) {
        if mergeStates.count < Worker.mergeStatePoolLimit { mergeStates.append(merge) }
    }

    /// One read takes at most this much; larger requests continue in the next read.
    static let sharedReadSize = 64 * 1024
    /// How often timeouts and the drain at shutdown are checked.
    static let tickMs: UInt64 = 10
    /// Idle clients are looked for this often; a client_idle_timeout is kept to this
    /// precision, and a client silent this long gives its buffers back.
    static let idleScanMs: UInt64 = 1_000
    private var nextIdleScanMs: UInt64 = 0
    /// Clients per pool across workers, for client_connections.
    private var clientCounts: ClientCounts?
    /// At shutdown, requests already in flight get this long to be answered.
    static let drainLimitMs: UInt64 = 5_000

    /// From the config: what a client request may declare.
    private(set) var requestLimits = RequestLimits()
    /// This worker's counters, read by the admin thread.
    public private(set) var stats: WorkerStats!
    /// Every worker's counters (INFO sums them, as the admin listener does).
    var allStats: [WorkerStats] = []
    /// Process start, for uptime.
    var startedAt = 0
    /// Process-wide up/down state; the worker copies it when woken.
    private var board: HealthBoard?
    private var boardGeneration: UInt64 = 0
    private var shutdownRequested = false  // set from any thread, read under the async wakeup
    private var shutdownLock = pthread_mutex_t()
    private var draining = false
    private var drainDeadline: UInt64 = 0

    public init(id: Int, workerCount: Int) {
        self.id = id
        // Client ids are unique across workers: the worker id in the high bits.
        nextClientID = UInt64(id) << 48 | 1
        pthread_mutex_init(&shutdownLock, nil)
    }

    /// Builds the pools and binds their listeners. Throws before anything is served.
    public func start(config: ProxyConfig, addresses: [[sockaddr_storage]], board: HealthBoard,
                      clientCounts: ClientCounts) throws {
        self.board = board
        self.clientCounts = clientCounts
        self.requestLimits = config.requestLimits
        stats = WorkerStats(config: config, commandCount: commands.commands.count)
        check = LoopCheck(loop) { [unowned self] in self.flushAll() }
        let t = LoopTimer(loop) { [unowned self] in self.onTick() }
        t.start(afterMs: Worker.tickMs, repeatMs: Worker.tickMs)
        t.unref()
        tick = t
        let w = LoopAsync(loop) { [unowned self] in self.onWakeup() }
        wakeup = w
        board.subscribe(w)
        for (i, poolConfig) in config.pools.enumerated() {
            let pool = PoolRuntime(worker: self, config: poolConfig, index: i, addresses: addresses[i])
            pools.append(pool)
            try pool.listen(primary: id == 0)
        }
        for pool in pools where pool.config.preconnect { pool.preconnect() }
    }

    public func run() { loop.run() }

    var healthBoard: HealthBoard? { board }

    /// Thread-safe: asks the worker to stop accepting, finish in-flight requests (up to
    /// `drainLimitMs`) and end its loop.
    public func requestShutdown() {
        pthread_mutex_lock(&shutdownLock)
        shutdownRequested = true
        pthread_mutex_unlock(&shutdownLock)
        wakeup?.send()
    }

    private func onWakeup() {
        pthread_mutex_lock(&shutdownLock)
        let stop = shutdownRequested
        pthread_mutex_unlock(&shutdownLock)
        if stop && !draining { beginDrain() }
        applyHealth()
    }

    /// Copies the board's up/down states into the pools (rebuilding rings that eject).
    private func applyHealth() {
        guard let b = board, b.generation != boardGeneration else { return }
        let (generation, states, reasons) = b.snapshot()
        boardGeneration = generation
        for (i, pool) in pools.enumerated() { pool.apply(live: states[i], reasons: reasons[i]) }
    }

    private func beginDrain() {
        draining = true
        drainDeadline = loop.nowMs + Worker.drainLimitMs
        for p in pools { p.closeListeners() }
        for c in clients.values { c.stopReadingForShutdown() }
        onTick()
    }

    private func onTick() {
        let now = loop.nowMs
        for p in pools { p.expireRequests(now: now); p.sampleQueues() }
        scanIdleClients(now: now)
        if draining {
            let busy = clients.values.contains { $0.hasOutstandingReplies }
            if !busy || now >= drainDeadline { finish() }
        }
    }

    private func finish() {
        flushAll()
        for c in Array(clients.values) { c.close() }
        clients.removeAll()
        for p in pools { p.closeUpstreams() }
        tick?.close(); tick = nil
        check?.close(); check = nil
        if let w = wakeup { board?.unsubscribe(w); w.close() }
        wakeup = nil
    }

    // MARK: clients

    func accept(_ stream: Stream, pool: PoolRuntime) {
        if draining { stream.close(); return }
        // client_connections counts the pool's clients in every worker.
        let limit = pool.config.clientConnections
        if limit > 0, let counts = clientCounts, counts.add(pool: pool.index, 1) > limit {
            counts.add(pool: pool.index, -1)
            stats.add(pool: pool.index, .clientsRefused)
            stream.handler = RefusedClient.shared
            stream.output.appendError("ERR max number of clients reached")
            stream.closeAfterWriting()
            return
        }
        let id = nextClientID
        nextClientID += 1
        let client = ClientSession(id: id, worker: self, pool: pool, stream: stream)
        clients[id] = client
        stats.add(pool: pool.index, .clientConnections)
        stream.handler = client
        stream.startReading()
    }

    func clientClosed(_ client: ClientSession) {
        clients.removeValue(forKey: client.id)
        stats.subtract(pool: client.pool.index, .clientConnections)
        if client.pool.config.clientConnections > 0 { clientCounts?.add(pool: client.pool.index, -1) }
    }

    /// Once a second: closes clients idle longer than their pool's client_idle_timeout,
    /// and frees the buffers of clients idle for `idleScanMs` (thousands of idle clients
    /// would otherwise keep a reply buffer each). One pass over the clients.
    private func scanIdleClients(now: UInt64) {
        guard now >= nextIdleScanMs else { return }
        nextIdleScanMs = now + Worker.idleScanMs
        var idle: [ClientSession] = []
        for c in clients.values where now >= c.lastActiveMs + Worker.idleScanMs {
            let limit = UInt64(c.pool.config.clientIdleTimeoutMs)
            if limit > 0 && now >= c.lastActiveMs + limit && !c.hasOutstandingReplies {
                idle.append(c)
            } else {
                c.releaseIdleBuffers()
            }
        }
        for c in idle {
            stats.add(pool: c.pool.index, .clientIdleTimeouts)
            c.close()
        }
    }

    // MARK: FlushScheduler

    public func scheduleFlush(_ stream: Stream) {
        flushList.append(stream)
    }

    func scheduleResume(_ client: ClientSession) {
        resumeList.append(client)
    }

    private func flushAll() {
        // Flushing can queue more output (a failed write fails requests, whose errors go to
        // clients), and a resumed client handles requests it had buffered, so drain until
        // both lists stay empty.
        while !flushList.isEmpty || !resumeList.isEmpty {
            swap(&flushing, &flushList)
            for s in flushing { s.flush() }
            flushing.removeAll(keepingCapacity: true)
            if !resumeList.isEmpty {
                swap(&resuming, &resumeList)
                for c in resuming { c.resumeIfDrained() }
                resuming.removeAll(keepingCapacity: true)
            }
        }
    }
}

/// The pools' client counts, shared by all workers (atomic adds, no lock).
public final class ClientCounts: @unchecked Sendable {
    private let counts: UnsafeMutablePointer<Int64>
    private let pools: Int

    public init(pools: Int) {
        self.pools = pools
        counts = .allocate(capacity: max(pools, 1))
        counts.initialize(repeating: 0, count: max(pools, 1))
    }

    deinit { counts.deallocate() }

    /// Adds `delta` to the pool's count and returns the new count.
    @discardableResult
    func add(pool: Int, _ delta: Int64) -> Int {
        Int(rp_shared_add(counts + pool, delta))
    }
}

/// A connection refused at accept: it only gets the error, and ignores what it is sent.
final class RefusedClient: StreamHandler {
    static let shared = RefusedClient()
    private var sink = [UInt8](repeating: 0, count: 4096)

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        sink.withUnsafeMutableBytes { $0 }
    }
    func didRead(_ stream: Stream, count: Int) {}
    func didEnd(_ stream: Stream, error: Int32) { stream.close() }
}

/// One pool as one worker runs it: its listener(s), placement and upstream servers.
final class PoolRuntime {
    // unowned(unsafe): the worker owns its pools and outlives them; a checked unowned
    // reference costs a retain and release on every access, on every request.
    unowned(unsafe) let worker: Worker
    let config: PoolConfig
    /// The pool's position in the config (and on the HealthBoard).
    let index: Int
    var placement: KeyPlacement
    /// What the pool decides about requests (deny_commands, hash tag), for RoutePlanner.
    let policy: PoolPolicy
    /// What the proxy's own commands may know of the pool (AUTH's password...).
    let localSettings: LocalSettings
    private(set) var servers: [UpstreamServer] = []
    private var listeners: [Listener] = []

    init(worker: Worker, config: PoolConfig, index: Int, addresses: [sockaddr_storage]) {
        self.worker = worker
        self.config = config
        self.index = index
        self.placement = config.placement()
        let table = worker.commands
        policy = PoolPolicy(name: config.name, denyCommands: config.denyCommands, hashTag: config.hashTag, table: table)
        localSettings = LocalSettings(password: config.clientPassword, user: config.clientUser,
                                      commandCount: table.commands.filter { !$0.spec.name.contains("|") }.count)
        for (i, spec) in config.servers.enumerated() {
            servers.append(UpstreamServer(worker: worker, pool: self, spec: spec, index: i, address: addresses[i]))
        }
    }

    /// TCP listeners exist in every worker (SO_REUSEPORT); a unix socket only in the
    /// first, since a path can be bound once.
    func listen(primary: Bool) throws {
        switch config.listen {
        case let .tcp(host, port):
            listeners.append(try Listener(loop: worker.loop, host: host, port: port, backlog: config.backlog,
                                          scheduler: worker) { [unowned self] s in self.worker.accept(s, pool: self) })
        case let .unix(path, mode):
            guard primary else { return }
            listeners.append(try Listener(loop: worker.loop, path: path, mode: mode, backlog: config.backlog,
                                          scheduler: worker) { [unowned self] s in self.worker.accept(s, pool: self) })
        }
    }

    func preconnect() { for s in servers { s.preconnect() } }

    /// New up/down states: with auto_eject_hosts the ring is rebuilt from the live servers
    /// (nutcracker's meaning: a down server's keys move to their ketama successors);
    /// otherwise the ring stays and the down servers' keys are answered at once.
    func apply(live: [Bool], reasons: [String]) {
        for (i, server) in servers.enumerated() { server.setDown(!live[i], reason: reasons[i]) }
        if config.autoEjectHosts { placement = config.placement(live: live) }
    }

    var board: HealthBoard? { worker.healthBoard }

    func expireRequests(now: UInt64) {
        guard let t = config.timeoutMs else { return }
        for s in servers { s.expireRequests(now: now, timeoutMs: UInt64(t)) }
    }

    func sampleQueues() {
        for s in servers { s.sampleQueues() }
    }

    func closeListeners() {
        for l in listeners { l.close() }
        listeners.removeAll()
    }

    func closeUpstreams() { for s in servers { s.closeAll() } }
}

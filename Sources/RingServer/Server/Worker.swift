// A worker: one libuv loop on one thread, with its own listeners, clients and upstream
// connections, and the flush scheduler that writes each stream once per loop turn. Workers
// must never share mutable state: only the HealthBoard and counters cross threads.

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
    /// Script bodies seen in SCRIPT LOAD, to heal a NOSCRIPT (see ScriptCache).
    var scripts = ScriptCache()
    /// Table rows the request path compares against without a lookup.
    let evalshaIndex = CommandTable.redis70.commands.first { $0.spec.name == "evalsha" }?.index ?? -1
    let scriptLoadIndex = CommandTable.redis70.commands.first { $0.spec.name == "script|load" }?.index ?? -1
    var pools: [PoolRuntime] = []
    /// Pools a reload removed, until their clients and servers have closed.
    var retiredPools: [PoolRuntime] = []
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
    /// The other workers, for CLIENT LIST/KILL/PAUSE and MONITOR (see Worker+Admin).
    let mesh: WorkerMesh
    var queryCounter: UInt64 = 0
    var pendingQueries: [UInt64: PendingClientQuery] = [:]
    /// CLIENT PAUSE in force per pool (this worker's copy), and the clients it holds.
    var pauses: [ClientPause?] = []
    var heldClients: [ClientSession] = []
    /// Read per request: false unless a pause is in force.
    var pauseActive = false
    /// This worker's monitors, the other workers that have some, and the lines of this loop
    /// turn for them.
    var monitors: [ClientSession] = []
    var monitorTargets: [Int] = []
    /// Read per request: false unless some worker has a monitor.
    var monitorsActive = false
    let monitorScratch = ByteBuffer(capacity: 512)
    /// Per pool (monitors see their own pool's clients only).
    var monitorOutgoing: [ByteBuffer] = []
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
    let clientCounts: ClientCounts
    /// At shutdown, requests already in flight get this long to be answered.
    static let drainLimitMs: UInt64 = 5_000

    /// From the config: what a client request may declare.
    let requestLimits: RequestLimits
    /// This worker's counters, read by the admin thread; a reload replaces them (see
    /// Worker+Reload).
    public internal(set) var stats: WorkerStats
    /// Every worker's counters (INFO sums them, as the admin listener does).
    var allStats: [WorkerStats] { board.stats }
    /// Process start (Unix time), for uptime.
    let startedAt: Int
    /// Process-wide up/down state; the worker copies it when woken.
    private let board: HealthBoard
    private var boardGeneration: UInt64 = 0
    /// The board layout (see HealthBoard.layout) this worker's pools are in: up/down states
    /// are applied only in the layout they were made for.
    var appliedLayout: UInt64 = 0
    /// A reload posted by another thread, taken at the wake-up (under `shutdownLock`).
    private var pendingReload: ReloadPlan?
    private var shutdownRequested = false  // set from any thread, read under the async wakeup
    private var shutdownLock = pthread_mutex_t()
    var draining = false
    var drainDeadline: UInt64 = 0
    /// A binary upgrade's successor took over (see Worker+Handover).
    let handover = WorkerHandover()

    /// Builds the pools and binds their listeners; throws before anything is served (the
    /// process then exits). Workers are made in id order (each registers its counters).
    public init(id: Int, config: ProxyConfig, addresses: [[sockaddr_storage]], board: HealthBoard,
                clientCounts: ClientCounts, startedAt: Int, mesh: WorkerMesh) throws {
        self.id = id
        self.mesh = mesh
        // Client ids are unique across workers: the worker id in the high bits.
        nextClientID = UInt64(id) << 48 | 1
        self.board = board
        self.clientCounts = clientCounts
        self.requestLimits = config.requestLimits
        stats = WorkerStats(layout: StatsLayout(pools: []), commandCount: 0)
        self.startedAt = startedAt
        pthread_mutex_init(&shutdownLock, nil)
        check = LoopCheck(loop) { [unowned self] in self.flushAll() }
        let t = LoopTimer(loop) { [unowned self] in self.onTick() }
        t.start(afterMs: Worker.tickMs, repeatMs: Worker.tickMs)
        t.unref()
        tick = t
        let w = LoopAsync(loop) { [unowned self] in self.onWakeup() }
        wakeup = w
        board.subscribe(w)
        mesh.register(worker: id, wakeup: w)
        pauses = Array(repeating: nil, count: config.pools.count)
        monitorOutgoing = config.pools.map { _ in ByteBuffer(capacity: 0) }
        for (i, poolConfig) in config.pools.enumerated() {
            let pool = PoolRuntime(worker: self, config: poolConfig, index: i, addresses: addresses[i],
                                   clientCount: clientCounts.counter(pool: poolConfig.name))
            pools.append(pool)
            try pool.listen(primary: id == 0)
        }
        stats = WorkerStats(layout: StatsLayout(pools: pools.map(\.statsEntry)), commandCount: commands.commands.count)
        board.setStats(stats, worker: id)
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

    /// Thread-safe: a successor serves on this process's sockets; stop accepting and pass each
    /// client on to it over `link` (or close it, without a link) when it is idle (see
    /// Worker+Handover).
    public func requestHandover(link: Int32) {
        handover.request(link: link) { wakeup?.send() }
    }

    /// Thread-safe: serve a client connection the predecessor passed on (see Worker+Handover);
    /// false once this worker is ending.
    func adopt(_ client: HandedClient, descriptor: Int32) -> Bool {
        handover.add(client, descriptor: descriptor) { wakeup?.send() }
    }

    private func onWakeup() {
        pthread_mutex_lock(&shutdownLock)
        let stop = shutdownRequested
        let reload = pendingReload
        pendingReload = nil
        pthread_mutex_unlock(&shutdownLock)
        if handover.takeRequest() && !draining { beginHandover() }
        adoptHandedClients()
        if stop && !draining { beginDrain() }
        if let plan = reload {
            if draining { plan.workerApplied() } else { apply(plan) }
        }
        applyHealth()
        takeMessages()
    }

    /// Copies the board's up/down states into the pools (rebuilding rings that eject).
    private func applyHealth() {
        guard board.generation != boardGeneration else { return }
        let (generation, layout, states, reasons, switches) = board.workerSnapshot()
        // A reload the worker has not applied yet: its states wait for it.
        guard layout == appliedLayout else { return }
        boardGeneration = generation
        // Addresses first: a server Sentinel moved comes up with its new master's address.
        for (i, pool) in pools.enumerated() { pool.apply(addressSwitches: switches[i]) }
        for (i, pool) in pools.enumerated() { pool.apply(live: states[i], reasons: reasons[i]) }
    }

    /// Thread-safe: hands the worker a reload to apply at its next wake-up.
    func post(_ plan: ReloadPlan) {
        pthread_mutex_lock(&shutdownLock)
        pendingReload = plan
        pthread_mutex_unlock(&shutdownLock)
        wakeup?.send()
    }

    /// After a reload: the board's states are applied again, in the new layout.
    func forceHealthApply() {
        boardGeneration = 0
        applyHealth()
    }

    private func beginDrain() {
        draining = true
        drainDeadline = loop.nowMs + Worker.drainLimitMs
        for p in pools + retiredPools { p.closeListeners() }
        for c in clients.values { c.stopReadingForShutdown() }
        onTick()
    }

    private func onTick() {
        let now = loop.nowMs
        for p in pools { p.expireRequests(now: now); p.sampleQueues(); p.restoreSubscriptions() }
        if !retiredPools.isEmpty || pools.contains(where: { !$0.retiredServers.isEmpty }) { sweepRetired(now: now) }
        scanIdleClients(now: now)
        if pauseActive || !heldClients.isEmpty { expirePause() }
        if handover.active {
            drainForHandover(now: now)
        } else if draining {
            let busy = clients.values.contains { $0.hasOutstandingReplies }
            if !busy || now >= drainDeadline { finish() }
        }
    }

    func finish() {
        handover.finish()
        flushAll()
        for c in Array(clients.values) { c.close() }
        clients.removeAll()
        for p in pools + retiredPools where p.closedAt == nil { p.closeUpstreams() }
        tick?.close(); tick = nil
        check?.close(); check = nil
        mesh.unregister(worker: id)
        if let w = wakeup { board.unsubscribe(w); w.close() }
        wakeup = nil
    }

    // MARK: clients

    func accept(_ stream: Stream, pool: PoolRuntime) {
        if draining { stream.close(); return }
        // client_connections counts the pool's clients in every worker.
        let limit = pool.config.clientConnections
        if limit > 0, ClientCounts.add(pool.clientCount, 1) > limit {
            ClientCounts.add(pool.clientCount, -1)
            stats.add(pool: pool.index, .clientsRefused)
            stream.handler = RefusedClient.shared
            stream.output.appendError("ERR max number of clients reached")
            stream.closeAfterWriting()
            return
        }
        let id = nextClientID
        nextClientID += 1
        let client = ClientSession(id: id, worker: self, pool: pool, stream: stream)
        client.countedAgainstLimit = limit > 0
        clients[id] = client
        stats.add(pool: pool.index, .clientConnections)
        stream.handler = client
        stream.startReading()
    }

    func clientClosed(_ client: ClientSession) {
        clients.removeValue(forKey: client.id)
        stats.subtract(pool: client.pool.index, .clientConnections)
        if client.countedAgainstLimit { ClientCounts.add(client.pool.clientCount, -1) }
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
            // A subscriber waits for messages: Redis's `timeout` spares it too.
            if limit > 0 && c.subscriptions == nil && now >= c.lastActiveMs + limit && !c.hasOutstandingReplies {
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
        if monitorsActive { postMonitorLines() }
        while !flushList.isEmpty || !resumeList.isEmpty {
            swap(&flushing, &flushList)
            for s in flushing {
                if handover.active { flushClosingIfAnswered(s) } else { s.flush() }
            }
            flushing.removeAll(keepingCapacity: true)
            if !resumeList.isEmpty {
                swap(&resuming, &resumeList)
                for c in resuming { c.resumeIfDrained() }
                resuming.removeAll(keepingCapacity: true)
            }
        }
    }
}

/// The pools' client counts, shared by all workers (atomic adds, no lock): one counter per
/// pool name, kept across reloads, so a pool's clients are counted in one place whatever
/// the pool's position in the file.
public final class ClientCounts: @unchecked Sendable {
    private var counters: [String: UnsafeMutablePointer<Int64>] = [:]
    private var lock = pthread_mutex_t()

    public init() { pthread_mutex_init(&lock, nil) }

    deinit { for c in counters.values { c.deallocate() } }

    /// The pool's counter (made on first use; taken when a pool is built, not per client).
    func counter(pool name: String) -> UnsafeMutablePointer<Int64> {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if let c = counters[name] { return c }
        let c = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        c.initialize(to: 0)
        counters[name] = c
        return c
    }

    /// Adds `delta` to the counter and returns the new count.
    @discardableResult
    static func add(_ counter: UnsafeMutablePointer<Int64>, _ delta: Int64) -> Int {
        Int(rp_shared_add(counter, delta))
    }
}

/// A connection refused at accept: it only gets the error, and ignores what it is sent.
final class RefusedClient: StreamHandler {
    static let shared = RefusedClient()
    /// Where their reads land, unread: allocated once for the process, never freed.
    private let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer { sink }
    func didRead(_ stream: Stream, count: Int) {}
    func didEnd(_ stream: Stream, error: Int32) { stream.close() }
}

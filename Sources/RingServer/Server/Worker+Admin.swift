// A worker's side of CLIENT LIST, KILL, PAUSE and MONITOR: it describes and closes its own
// clients, holds them during a pause, and streams monitor lines to its monitors. Queries
// that span workers travel through the WorkerMesh; the asking worker gathers the answers
// and writes the client's reply in its turn. The request path only reads two booleans
// (`monitorsActive`, `pauseActive`) that stay false unless someone monitors or pauses.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

/// A CLIENT LIST or KILL waiting for the other workers' answers.
struct PendingClientQuery {
    let client: UInt64
    let sequence: UInt64
    var remaining: Int
    var clients: [ClientDescription] = []
    var killed = 0
    let kind: Kind
    enum Kind { case list(ClientListFilter), kill(ClientKillFilter) }
}

/// Monotonic milliseconds, the same clock in every worker (pause deadlines cross threads).
func monotonicMs() -> UInt64 { uv_hrtime() / 1_000_000 }

extension Worker {
    /// A monitor that does not read its lines is closed once this much is unwritten, as
    /// Redis closes a client past its output limit, rather than keep every request seen.
    static let monitorOutputLimit = 64 * 1024 * 1024

    // MARK: queries from this worker's clients

    func askWorkers(_ query: WorkerQuery, from client: ClientSession) {
        let pool = client.pool.index
        switch query {
        case let .pause(mode, ms):
            applyEverywhere(.pause(pool: pool, ClientPause(mode: mode, untilMs: monotonicMs() + UInt64(ms))))
            client.reply { $0.append("+OK\r\n") }
        case .unpause:
            applyEverywhere(.pause(pool: pool, nil))
            client.reply { $0.append("+OK\r\n") }
        case let .list(filter):
            let token = nextQueryToken()
            var pending = PendingClientQuery(client: client.id, sequence: client.order.reserve(), remaining: 0,
                                             kind: .list(filter))
            pending.clients = describeClients(pool: pool)
            for w in 0..<mesh.workerCount where w != id && mesh.post(.describe(token: token, from: id, pool: pool), to: w) {
                pending.remaining += 1
            }
            finishOrWait(token, pending)
        case let .kill(filter):
            let token = nextQueryToken()
            var pending = PendingClientQuery(client: client.id, sequence: client.order.reserve(), remaining: 0,
                                             kind: .kill(filter))
            pending.killed = killClients(filter, pool: pool, caller: client.id)
            for w in 0..<mesh.workerCount where w != id
                && mesh.post(.kill(token: token, from: id, pool: pool, filter, caller: client.id), to: w) {
                pending.remaining += 1
            }
            finishOrWait(token, pending)
        }
    }

    private func nextQueryToken() -> UInt64 {
        queryCounter &+= 1
        return queryCounter
    }

    /// Pauses and monitor changes apply here at once and in the other workers when they wake.
    private func applyEverywhere(_ message: MeshMessage) {
        receive(message)
        for w in 0..<mesh.workerCount where w != id { mesh.post(message, to: w) }
    }

    private func finishOrWait(_ token: UInt64, _ pending: PendingClientQuery) {
        if pending.remaining == 0 { finish(pending) } else { pendingQueries[token] = pending }
    }

    private func finish(_ pending: PendingClientQuery) {
        guard let client = clients[pending.client] else { return }
        let b = scratch
        b.clear()
        switch pending.kind {
        case .list(let filter):
            b.appendBulk(string: ClientDescription.listText(pending.clients.filter(filter.matches)))
        case .kill(let filter):
            if !filter.oldForm { b.appendInteger(pending.killed) } else if pending.killed > 0 { b.append("+OK\r\n") } else {
                b.appendError("ERR No such client")
            }
        }
        let bytes = b.bytes
        bytes.withUnsafeBytes { client.deliver(sequence: pending.sequence, part: 0, reply: $0) }
        if client.killAfterReply { client.apply(.quit) }
    }

    // MARK: this worker's clients

    func describeClients(pool: Int) -> [ClientDescription] {
        let now = loop.nowMs
        return clients.values.filter { $0.pool.index == pool }.map { $0.describe(now: now) }
    }

    /// Closes the matching clients; the caller, if it matches, after its reply.
    private func killClients(_ filter: ClientKillFilter, pool: Int, caller: UInt64) -> Int {
        let now = loop.nowMs
        var victims: [ClientSession] = []
        for c in clients.values where c.pool.index == pool && filter.matches(c.describe(now: now), caller: caller) {
            victims.append(c)
        }
        for c in victims {
            if c.id == caller { c.killAfterReply = true } else { c.close() }
        }
        return victims.count
    }

    // MARK: messages from other workers

    func takeMessages() {
        for m in mesh.take(worker: id) { receive(m) }
    }

    private func receive(_ message: MeshMessage) {
        switch message {
        case let .describe(token, from, pool):
            mesh.post(.described(token: token, describeClients(pool: pool)), to: from)
        case let .kill(token, from, pool, filter, caller):
            mesh.post(.killed(token: token, killClients(filter, pool: pool, caller: caller)), to: from)
        case let .described(token, list):
            guard var p = pendingQueries[token] else { return }
            p.clients += list
            answered(token, p)
        case let .killed(token, n):
            guard var p = pendingQueries[token] else { return }
            p.killed += n
            answered(token, p)
        case let .pause(pool, p):
            guard pool < pauses.count else { return }
            pauses[pool] = p
            pauseActive = pauses.contains { $0 != nil }
            if p == nil { releaseHeldClients() }
        case .monitorsChanged:
            refreshMonitorTargets()
        case let .monitorLines(pool, bytes):
            bytes.withUnsafeBytes { sendToMonitors($0, pool: pool) }
        }
    }

    private func answered(_ token: UInt64, _ p: PendingClientQuery) {
        var p = p
        p.remaining -= 1
        if p.remaining == 0 {
            pendingQueries[token] = nil
            finish(p)
        } else {
            pendingQueries[token] = p
        }
    }

    // MARK: CLIENT PAUSE

    /// Whether `request` of a client of `pool` waits for the pause to end (checked only
    /// while `pauseActive`).
    func holds(_ request: RequestView, pool: Int) -> Bool {
        guard let p = pauses[pool] else { return false }
        if monotonicMs() >= p.untilMs {
            pauses[pool] = nil
            pauseActive = pauses.contains { $0 != nil }
            return false
        }
        guard p.mode == .write else { return true }
        guard let info = commands.lookup(request[0]) else { return false }
        var flags = info.spec.flags
        if info.spec.hasSubcommands, request.count >= 2,
           let sub = commands.lookup(container: info.spec.name, sub: request[1]) { flags = sub.spec.flags }
        return p.holds(flags)
    }

    /// Called once per held client (its `heldByPause` says whether it is held already).
    func hold(_ client: ClientSession) {
        heldClients.append(client)
    }

    /// Checked every tick: the pause's end releases the clients it held.
    func expirePause() {
        let now = monotonicMs()
        var ended = false
        for (i, p) in pauses.enumerated() where p.map({ now >= $0.untilMs }) ?? false {
            pauses[i] = nil
            ended = true
        }
        pauseActive = pauses.contains { $0 != nil }
        if ended { releaseHeldClients() }
    }

    /// Resumes the held clients whose pool is no longer paused (those still paused hold
    /// again at their next request).
    private func releaseHeldClients() {
        let held = heldClients
        heldClients.removeAll()
        for c in held where !c.isClosed { c.resumeAfterWaiting() }
    }

    // MARK: MONITOR

    func addMonitor(_ client: ClientSession) {
        monitors.append(client)
        monitorsActive = true
        mesh.setMonitors(worker: id, count: monitors.count)
    }

    func removeMonitor(_ client: ClientSession) {
        guard let i = monitors.firstIndex(where: { $0 === client }) else { return }
        monitors.remove(at: i)
        mesh.setMonitors(worker: id, count: monitors.count)
        refreshMonitorTargets()
    }

    private func refreshMonitorTargets() {
        monitorTargets = mesh.monitorWorkers().filter { $0 != id }
        monitorsActive = !monitors.isEmpty || !monitorTargets.isEmpty
    }

    /// One request of `client`, as monitors see it: to this worker's monitors now, to other
    /// workers' at the end of this loop turn (one message per turn, lines in order).
    func feedMonitors(_ request: RequestView, from client: ClientSession, db: Int) {
        var now = timeval()
        gettimeofday(&now, nil)
        let line = monitorScratch
        line.clear()
        MonitorLine.write(request, seconds: Int(now.tv_sec), microseconds: Int(now.tv_usec), db: db,
                          address: client.peerAddress, into: line)
        let pool = client.pool.index
        sendToMonitors(line.readable, pool: pool)
        if !monitorTargets.isEmpty { monitorOutgoing[pool].append(line.readable) }
    }

    private func sendToMonitors(_ bytes: UnsafeRawBufferPointer, pool: Int) {
        var overLimit: [ClientSession] = []
        for m in monitors where !m.isClosed && m.pool.index == pool {
            m.stream.output.append(bytes)
            m.stream.scheduleFlush()
            if m.stream.pendingOutputBytes > Worker.monitorOutputLimit { overLimit.append(m) }
        }
        for m in overLimit { m.close() }
    }

    /// Called before each flush: this turn's lines go to the workers that have monitors.
    func postMonitorLines() {
        for (pool, outgoing) in monitorOutgoing.enumerated() where !outgoing.isEmpty {
            let bytes = Array(outgoing.readable)
            outgoing.clear()
            for w in monitorTargets { mesh.post(.monitorLines(pool: pool, bytes), to: w) }
        }
    }
}

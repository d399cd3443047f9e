// One Redis server of a pool, as one worker sees it: its address, its pipelined
// connections (`server_connections` of them per protocol version, made on demand), and
// the back-off after a failed connection, during which its requests are answered at once
// with an error instead of waiting on a connect that will fail again.

import CLibUV
import RingCore

final class UpstreamServer {
    // unowned(unsafe): the worker and pool own this server and outlive it (see
    // UpstreamConnection.server).
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let pool: PoolRuntime
    let spec: ServerSpec
    let index: Int
    /// Resolved at startup; zeroed for unix sockets.
    let address: sockaddr_storage
    private var connections2: [UpstreamConnection?]
    private var connections3: [UpstreamConnection?]
    private var nextConnection = 0

    /// After a failure, requests fail fast until this time (uv_now ms).
    private(set) var retryAt: UInt64 = 0
    private(set) var lastError: String?
    private var consecutiveFailures = 0
    /// Requests failed in a row (timeouts, broken connections); at the pool's
    /// server_failure_limit the server is reported down without waiting for a check.
    private var consecutiveRequestFailures = 0
    /// Down according to the HealthBoard.
    private(set) var isDown = false
    private(set) var downReason = ""

    /// The first retry waits this long; each further failure doubles it up to the cap.
    static let initialBackoffMs: UInt64 = 100
    static let maximumBackoffMs: UInt64 = 5_000

    init(worker: Worker, pool: PoolRuntime, spec: ServerSpec, index: Int, address: sockaddr_storage) {
        self.worker = worker
        self.pool = pool
        self.spec = spec
        self.index = index
        self.address = address
        connections2 = Array(repeating: nil, count: pool.config.serverConnections)
        connections3 = Array(repeating: nil, count: pool.config.serverConnections)
    }

    /// A usable connection for `version`, or nil while backing off after a failure.
    @inline(__always)
    func connection(for version: RESPVersion, ignoringBackoff: Bool = false) -> UpstreamConnection? {
        let n = connections2.count
        let slot = n == 1 ? 0 : { nextConnection = (nextConnection + 1) % n; return nextConnection }()
        if version == .resp2 {
            if let c = connections2[slot], !c.isBroken { return c }
        } else {
            if let c = connections3[slot], !c.isBroken { return c }
        }
        if worker.loop.nowMs < retryAt && !ignoringBackoff { return nil }
        let fresh = UpstreamConnection(server: self, version: version)
        if fresh.isBroken {
            reportDown("cannot connect")
            noteFailure("cannot connect")
            return nil
        }
        if version == .resp2 { connections2[slot] = fresh } else { connections3[slot] = fresh }
        return fresh
    }

    /// Opens the connections `preconnect` asks for.
    func preconnect() {
        for i in 0..<connections2.count where connections2[i] == nil {
            connections2[i] = UpstreamConnection(server: self, version: .resp2)
        }
    }

    func setDown(_ down: Bool, reason: String) {
        if isDown && !down {
            // Back: connect on the next request instead of waiting out an old back-off.
            retryAt = 0
            consecutiveFailures = 0
            consecutiveRequestFailures = 0
        }
        isDown = down
        downReason = reason
    }

    /// The error a request gets while the HealthBoard says this server is down.
    var downMessage: String {
        "ERR upstream \(spec.displayName) (\(spec.addressText)) is down: \(downReason)"
    }

    func requestSucceeded() { consecutiveRequestFailures = 0 }

    /// Only checks can bring a server back, so without health checks (interval 0) a
    /// failure is not reported: the connect back-off alone paces the retries.
    private func reportDown(_ reason: String) {
        guard pool.config.health.intervalMs > 0 else { return }
        pool.board?.passiveFailure(pool: pool.index, server: index, why: reason)
    }

    func connectionSucceeded() {
        if consecutiveFailures > 0 {
            logNotice("upstream \(spec.displayName) \(spec.addressText) reachable again")
        }
        consecutiveFailures = 0
        retryAt = 0
        lastError = nil
    }

    /// `passive`: a refused, reset or closed connection, which marks the server down at
    /// once; a timeout counts toward server_failure_limit instead.
    func connectionFailed(_ connection: UpstreamConnection, reason: String, passive: Bool) {
        for i in 0..<connections2.count {
            if connections2[i] === connection { connections2[i] = nil }
            if connections3[i] === connection { connections3[i] = nil }
        }
        consecutiveRequestFailures += 1
        if passive || consecutiveRequestFailures >= pool.config.serverFailureLimit {
            reportDown(reason)
        }
        noteFailure(reason)
        // A connection that worked and then broke (a garbled or cut reply, a restart) is
        // replaced on the next request; only a failure to reconnect backs off.
        if connection.everConnected && consecutiveFailures == 1 { retryAt = 0 }
    }

    private func noteFailure(_ reason: String) {
        consecutiveFailures += 1
        let base = min(UpstreamServer.maximumBackoffMs,
                       UpstreamServer.initialBackoffMs << UInt64(min(consecutiveFailures - 1, 16)))
        // Up to 20% jitter, so the workers (and proxies) do not reconnect in lockstep.
        let backoff = base - UInt64.random(in: 0...(base / 5))
        retryAt = worker.loop.nowMs + backoff
        if lastError != reason || consecutiveFailures == 1 {
            logWarn("upstream \(spec.displayName) \(spec.addressText): \(reason); retrying in \(backoff) ms")
        }
        lastError = reason
    }

    /// The error a request gets while this server is backing off.
    var unavailableMessage: String {
        "ERR upstream \(spec.displayName) (\(spec.addressText)) unavailable: \(lastError ?? "not connected")"
    }

    /// Fails requests that waited longer than the pool's timeout.
    func expireRequests(now: UInt64, timeoutMs: UInt64) {
        // Two loops rather than `connections2 + connections3`: this runs every tick, and
        // the concatenation would allocate each time.
        for list in 0..<2 {
            let connections = list == 0 ? connections2 : connections3
            for c in connections {
                guard let conn = c, let oldest = conn.oldestQueuedAt else { continue }
                if now >= oldest + timeoutMs {
                    conn.fail("timed out after \(timeoutMs) ms", resendUnsent: true)
                }
            }
        }
    }

    /// Stores this worker's queue gauges for the server (see `ServerStat.isGauge`).
    func sampleQueues() {
        var total = (inQueue: 0, inBytes: 0, outQueue: 0, outBytes: 0)
        for list in 0..<2 {
            let connections = list == 0 ? connections2 : connections3
            for case let conn? in connections where !conn.isBroken {
                let d = conn.queueDepths()
                total.inQueue += d.inQueue; total.inBytes += d.inBytes
                total.outQueue += d.outQueue; total.outBytes += d.outBytes
            }
        }
        let stats: WorkerStats = worker.stats
        stats.set(pool: pool.index, server: index, .inQueue, UInt64(total.inQueue))
        stats.set(pool: pool.index, server: index, .inQueueBytes, UInt64(total.inBytes))
        stats.set(pool: pool.index, server: index, .outQueue, UInt64(total.outQueue))
        stats.set(pool: pool.index, server: index, .outQueueBytes, UInt64(total.outBytes))
    }

    func closeAll() {
        for c in connections2 + connections3 { c?.stream.close() }
    }
}

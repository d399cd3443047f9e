// One Redis server of a pool, as one worker sees it: its address, its pipelined
// connections (`server_connections` of them per protocol version, made on demand), and
// the back-off after a failed connection, during which its requests are answered at once
// with an error instead of waiting on a connect that will fail again.

import CLibUV
import RingCore

final class UpstreamServer {
    unowned let worker: Worker
    unowned let pool: PoolRuntime
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
    func connection(for version: RESPVersion) -> UpstreamConnection? {
        let n = connections2.count
        let slot = n == 1 ? 0 : { nextConnection = (nextConnection + 1) % n; return nextConnection }()
        if version == .resp2 {
            if let c = connections2[slot], !c.isBroken { return c }
        } else {
            if let c = connections3[slot], !c.isBroken { return c }
        }
        if worker.loop.nowMs < retryAt { return nil }
        let fresh = UpstreamConnection(server: self, version: version)
        if fresh.isBroken { noteFailure("cannot connect") ; return nil }
        if version == .resp2 { connections2[slot] = fresh } else { connections3[slot] = fresh }
        return fresh
    }

    /// Opens the connections `preconnect` asks for.
    func preconnect() {
        for i in 0..<connections2.count where connections2[i] == nil {
            connections2[i] = UpstreamConnection(server: self, version: .resp2)
        }
    }

    func connectionSucceeded() {
        if consecutiveFailures > 0 {
            logNotice("upstream \(spec.displayName) \(spec.addressText) reachable again")
        }
        consecutiveFailures = 0
        retryAt = 0
        lastError = nil
    }

    func connectionFailed(_ connection: UpstreamConnection, reason: String) {
        for i in 0..<connections2.count {
            if connections2[i] === connection { connections2[i] = nil }
            if connections3[i] === connection { connections3[i] = nil }
        }
        noteFailure(reason)
    }

    private func noteFailure(_ reason: String) {
        consecutiveFailures += 1
        let backoff = min(UpstreamServer.maximumBackoffMs,
                          UpstreamServer.initialBackoffMs << UInt64(min(consecutiveFailures - 1, 16)))
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
        for c in connections2 + connections3 {
            guard let conn = c, let oldest = conn.oldestQueuedAt else { continue }
            if now >= oldest + timeoutMs {
                conn.fail("timed out after \(timeoutMs) ms")
            }
        }
    }

    func closeAll() {
        for c in connections2 + connections3 { c?.stream.close() }
    }
}

// One pipelined connection from a worker to one Redis server. Requests of many clients are
// appended to its output in arrival order and written once per loop turn; every request
// leaves a PendingReply in a FIFO, and each reply the scanner frames is matched to the FIFO's
// head. When the connection breaks or a request times out, every pending request gets an
// error naming the server, and the connection is dropped (a new one is made on demand).

import CLibUV
import RingCore

/// Who waits for one reply on an upstream connection.
struct PendingReply {
    /// nil for the proxy's own handshake commands (AUTH, SELECT, HELLO), whose replies
    /// are checked and not forwarded.
    let client: ClientSession?
    /// The client's request sequence number.
    let sequence: UInt64
    /// The part number of a split command (0 otherwise).
    let part: Int32
    /// uv_now() when queued, for the pool's timeout.
    let queuedAt: UInt64
    /// What the request answers instead of an error if its server fails and the pool
    /// answers misses (.error for writes and split parts).
    var miss: MissReply = .error
    var argumentCount: Int32 = 0
    /// Where the request's bytes start in the connection's output stream; a request that
    /// starts at or after `Stream.handedOff` has not been sent and can move to another
    /// connection.
    var streamOffset: UInt64 = 0
    /// uv_hrtime() when queued, for latency statistics.
    var queuedNs: UInt64 = 0
    /// The command's index in the command table (-1: none), for per-command latency.
    var command: Int16 = -1
}

final class UpstreamConnection: StreamHandler {
    // unowned(unsafe): servers are never removed from their pool, so one outlives its
    // connections; a checked reference would cost a retain and release per access.
    unowned(unsafe) let server: UpstreamServer
    let stream: Stream
    let version: RESPVersion
    private var pending = RingQueue<PendingReply>(initialCapacity: 64)
    private let input = ByteBuffer()
    private var scanner = ReplyScanner()
    private(set) var isBroken = false

    /// Read space below this is topped up before reading, so a read is never tiny.
    static let minimumReadSpace = 16 * 1024

    init(server: UpstreamServer, version: RESPVersion) {
        self.server = server
        self.version = version
        let worker = server.worker
        switch server.spec.address {
        case .tcp: stream = Stream(loop: worker.loop, kind: .tcp, scheduler: worker)
        case .unix: stream = Stream(loop: worker.loop, kind: .pipe, scheduler: worker)
        }
        stream.handler = self
        stats.add(pool: server.pool.index, server: server.index, .serverConnections)
        switch server.spec.address {
        case let .unix(path):
            stream.connect(toPath: path)
        case .tcp:
            var address = server.pool.board?.address(pool: server.pool.index, server: server.index) ?? server.address
            let r = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { stream.connect(to: $0) }
            }
            if r < 0 {
                isBroken = true
                stats.subtract(pool: server.pool.index, server: server.index, .serverConnections)
                stream.close()
                return
            }
        }
        writeHandshake()
    }

    /// Commands sent first on every new connection; their replies are consumed here.
    private func writeHandshake() {
        let pool = server.pool.config
        let now = server.worker.loop.nowMs
        if let password = pool.redisAuth {
            stream.output.appendArrayHeader(pool.redisUser == nil ? 2 : 3)
            stream.output.appendBulk(string: "AUTH")
            if let user = pool.redisUser { stream.output.appendBulk(string: user) }
            stream.output.appendBulk(string: password)
            pending.append(PendingReply(client: nil, sequence: 0, part: 0, queuedAt: now))
        }
        if pool.redisDB != 0 {
            stream.output.appendArrayHeader(2)
            stream.output.appendBulk(string: "SELECT")
            stream.output.appendBulk(string: String(pool.redisDB))
            pending.append(PendingReply(client: nil, sequence: 0, part: 0, queuedAt: now))
        }
        if version == .resp3 {
            stream.output.appendArrayHeader(2)
            stream.output.appendBulk(string: "HELLO")
            stream.output.appendBulk(string: "3")
            pending.append(PendingReply(client: nil, sequence: 0, part: 0, queuedAt: now))
        }
    }

    var output: ByteBuffer { stream.output }

    private var stats: WorkerStats { server.worker.stats }

    /// Where the next request's bytes will start; read before appending them.
    @inline(__always) var nextRequestOffset: UInt64 { stream.appendedEnd }

    /// Registers the reply the bytes appended to `output` from `offset` on will produce.
    @inline(__always)
    func expectReply(client: ClientSession, sequence: UInt64, part: Int32, now: UInt64, offset: UInt64,
                     command: Int, miss: MissReply = .error, argumentCount: Int = 0) {
        pending.append(PendingReply(client: client, sequence: sequence, part: part, queuedAt: now,
                                    miss: miss, argumentCount: Int32(truncatingIfNeeded: argumentCount),
                                    streamOffset: offset, queuedNs: uv_hrtime(), command: Int16(truncatingIfNeeded: command)))
        stream.scheduleFlush()
    }

    /// Takes over a request moved from a failed connection (its bytes already appended).
    func adopt(_ waiting: PendingReply) {
        pending.append(waiting)
        stream.scheduleFlush()
    }

    var pendingCount: Int { pending.count }

    /// nutcracker's queue gauges for this connection: requests (and bytes) still in the
    /// output, not yet handed to the socket, and requests (and bytes) written and awaiting
    /// their reply. O(unsent requests), which is almost always zero: writes go out in the
    /// loop turn that queued them.
    func queueDepths() -> (inQueue: Int, inBytes: Int, outQueue: Int, outBytes: Int) {
        let sentEnd = stream.handedOff
        var unsent = 0
        while unsent < pending.count && pending[pending.count - 1 - unsent].client != nil
                && pending[pending.count - 1 - unsent].streamOffset >= sentEnd {
            unsent += 1
        }
        let awaiting = pending.count - unsent
        var outBytes = 0
        if awaiting > 0, let first = pending.first, first.client != nil, sentEnd > first.streamOffset {
            outBytes = Int(sentEnd - first.streamOffset)
        }
        return (unsent, stream.output.readableCount, awaiting, outBytes)
    }
    var oldestQueuedAt: UInt64? { pending.first?.queuedAt }

    // MARK: StreamHandler

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        let p = input.writableSpace(minimum: UpstreamConnection.minimumReadSpace)
        return UnsafeMutableRawBufferPointer(start: p, count: input.writableCount)
    }

    func didRead(_ stream: Stream, count: Int) {
        input.commit(count)
        while !input.isEmpty {
            switch scanner.scan(input.readable) {
            case .incomplete:
                return
            case let .error(why):
                fail("protocol error in reply (\(why))")
                return
            case let .reply(length):
                guard let waiting = pending.popFirst() else {
                    fail("sent a reply nobody asked for")
                    return
                }
                let reply = UnsafeRawBufferPointer(rebasing: input.readable[0..<length])
                if let client = waiting.client {
                    server.requestSucceeded()
                    stats.add(pool: server.pool.index, server: server.index, .responses)
                    stats.add(pool: server.pool.index, server: server.index, .responseBytes, UInt64(length))
                    stats.recordLatency(pool: server.pool.index, server: server.index, command: Int(waiting.command),
                                        us: (uv_hrtime() &- waiting.queuedNs) / 1000)
                    client.deliver(sequence: waiting.sequence, part: Int(waiting.part), reply: reply)
                } else if reply.first == UInt8(ascii: "-") {
                    logWarn("upstream \(server.spec.displayName) \(server.spec.addressText) refused a handshake command: \(String(decoding: reply.dropLast(2), as: UTF8.self))")
                }
                input.consume(length)
            }
        }
        input.releaseIfIdle(threshold: Stream.idleBufferLimit)
    }

    func didEnd(_ stream: Stream, error: Int32) {
        let what = error == UV_EOF.rawValue ? "connection closed by server" : uvErrorName(error)
        fail(what, passive: true)
    }

    /// The connection was established at some point (it may have broken since).
    private(set) var everConnected = false

    func didConnect(_ stream: Stream) {
        everConnected = true
        server.connectionSucceeded()
        stream.startReading()
    }

    /// Fails every pending request with `reason` and drops this connection. With
    /// `resendUnsent`, requests whose bytes never left this connection's output (other
    /// clients' requests queued behind the one that timed out) move to a new connection
    /// instead, keeping their original queue time for the timeout.
    func fail(_ reason: String, passive: Bool = false, resendUnsent: Bool = false) {
        if isBroken && pending.isEmpty { return }
        isBroken = true
        let p = server.pool.index, s = server.index
        stats.subtract(pool: p, server: s, .serverConnections)
        stats.add(pool: p, server: s, reason.hasPrefix("timed out") ? .serverTimedout
                  : reason == "connection closed by server" ? .serverEOF : .serverErr)
        var unsent: [PendingReply] = []
        var unsentBytes: [UInt8] = []
        if resendUnsent, let firstUnsent = (0..<pending.count).first(where: { pending[$0].client != nil && pending[$0].streamOffset >= stream.handedOff }) {
            let start = Int(pending[firstUnsent].streamOffset - stream.handedOff)
            unsentBytes = Array(stream.output.readable[start...])
            let base = pending[firstUnsent].streamOffset
            while pending.count > firstUnsent, var moved = pending.removeLast() {
                moved.streamOffset -= base
                unsent.insert(moved, at: 0)
            }
        }
        stream.close()
        server.connectionFailed(self, reason: reason, passive: passive)
        if !unsent.isEmpty, let next = server.connection(for: version, ignoringBackoff: true) {
            let origin = next.nextRequestOffset
            unsentBytes.withUnsafeBytes { next.output.append($0) }
            for var p in unsent {
                p.streamOffset += origin
                next.adopt(p)
            }
        } else {
            // Nowhere to move them: they fail with the rest.
            for p in unsent { pending.append(p) }
        }
        let message = "ERR upstream \(server.spec.displayName) (\(server.spec.addressText)): \(reason)"
        let misses = server.pool.config.answerDownAsMiss
        while let waiting = pending.popFirst() {
            guard let client = waiting.client else { continue }
            if misses && waiting.miss != .error {
                client.deliverMiss(sequence: waiting.sequence, miss: waiting.miss, argumentCount: Int(waiting.argumentCount))
            } else {
                client.deliverError(sequence: waiting.sequence, part: Int(waiting.part), message: message)
            }
        }
    }
}

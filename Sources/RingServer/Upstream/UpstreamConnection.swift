// One pipelined connection from a worker to one Redis server: requests appended in arrival
// order, a FIFO of PendingReply matched to replies in order, failures answered or moved (see
// ResendPlan). It must never reorder replies, nor keep a connection whose replies may misalign.

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
    /// Where the request's bytes start in the connection's output stream (a stream offset,
    /// see PendingWrites): whether it has been sent is the connection's PendingWrites' answer.
    var streamOffset: UInt64 = 0
    /// uv_hrtime() when queued, for latency statistics.
    var queuedNs: UInt64 = 0
    /// The command's index in the command table (-1: none), for per-command latency.
    var command: Int16 = -1
    /// Bytes of this request kept in its connection's `retainedReads` (0: none), so that a
    /// read already written to a master Sentinel replaced can be sent again to the new one.
    var retainedBytes: Int32 = 0
}

extension PendingReply: QueuedRequest {
    var isClientRequest: Bool { client != nil }
}

enum RequestExpiry {
    case poolTimeout
    case afterBlock(ms: Int?)
}

final class UpstreamConnection: StreamHandler {
    // unowned(unsafe): servers are never removed from their pool, so one outlives its
    // connections; a checked reference would cost a retain and release per access.
    unowned(unsafe) let server: UpstreamServer
    let stream: Stream
    let version: RESPVersion
    /// The database this connection selected in its handshake (a client's SELECT picks it).
    let database: Int
    private var pending = RingQueue<PendingReply>(initialCapacity: 64)
    private let input = ByteBuffer()
    private var scanner = ReplyScanner()
    private(set) var isBroken = false
    /// The client this connection is leased to (a transaction or a blocking command), nil
    /// for shared connections. Set and cleared by UpstreamServer's lease functions.
    var lessee: ClientSession?
    /// Made as a lease: never shared, and its requests never move to another connection.
    var isLease = false
    /// When its oldest request has waited too long: after the pool's timeout, or, for a
    /// blocking command, after its own block time (nil: for ever) plus that timeout.
    var expiry = RequestExpiry.poolTimeout
    /// Nothing is owed on it: the lease can go back to the idle ones.
    var isIdle: Bool { pending.isEmpty }
    /// A finished lease whose client moved on before its last replies came: it goes back to
    /// the server's idle leases once they have.
    var giveBackWhenIdle = false
    /// Servers Sentinel or DNS may move only: a copy of every read-only request still awaiting its
    /// reply, in queue order (each entry's `retainedBytes`), because written bytes are gone
    /// from the output and a failover re-sends written reads once. nil until the first.
    private var retainedReads: ByteBuffer?
    private let retainsReads: Bool

    /// Read space below this is topped up before reading, so a read is never tiny.
    static let minimumReadSpace = 16 * 1024

    init(server: UpstreamServer, version: RESPVersion, database: Int) {
        self.server = server
        self.version = version
        self.database = database
        retainsReads = server.followsAddress
        stream = server.makeStream()
        stream.handler = self
        stats.add(pool: server.pool.index, server: server.index, .serverConnections)
        guard server.connect(stream) else {
            isBroken = true
            stats.subtract(pool: server.pool.index, server: server.index, .serverConnections)
            stream.close()
            return
        }
        writeHandshake()
    }

    /// Commands sent first on every new connection; their replies are consumed here.
    private func writeHandshake() {
        let pool = server.pool.config
        let replies = UpstreamHandshake.write(user: pool.redisUser, password: pool.redisAuth, database: database,
                                              resp3: version == .resp3, into: stream.output)
        let now = server.worker.loop.nowMs
        for _ in 0..<replies { pending.append(PendingReply(client: nil, sequence: 0, part: 0, queuedAt: now)) }
    }

    var output: ByteBuffer { stream.output }

    private var stats: WorkerStats { server.worker.stats }

    /// Where the next request's bytes will start; read before appending them.
    @inline(__always) var nextRequestOffset: UInt64 { stream.writes.appendedEnd }

    /// Registers the reply the bytes appended to `output` from `offset` on will produce.
    @inline(__always)
    func expectReply(client: ClientSession, sequence: UInt64, part: Int32, now: UInt64, offset: UInt64,
                     command: Int, miss: MissReply = .error, argumentCount: Int = 0) {
        var entry = PendingReply(client: client, sequence: sequence, part: part, queuedAt: now,
                                 miss: miss, argumentCount: Int32(truncatingIfNeeded: argumentCount),
                                 streamOffset: offset, queuedNs: uv_hrtime(), command: Int16(truncatingIfNeeded: command))
        if retainsReads && !isLease { entry.retainedBytes = retainIfRead(command: command, from: offset) }
        pending.append(entry)
        stream.scheduleFlush()
    }

    /// Copies a read-only request's bytes (the tail of the output from `offset`, appended in
    /// this loop turn) into `retainedReads`; returns how many.
    private func retainIfRead(command: Int, from offset: UInt64) -> Int32 {
        let commands = server.worker.commands.commands
        guard command >= 0, command < commands.count, commands[command].spec.flags.contains(.readonly),
              offset >= stream.writes.handedOff else { return 0 }
        let length = Int(stream.writes.appendedEnd - offset)
        let out = stream.output.readable
        let buffer = retainedReads ?? ByteBuffer()
        retainedReads = buffer
        buffer.append(UnsafeRawBufferPointer(rebasing: out[(out.count - length)...]))
        return Int32(truncatingIfNeeded: length)
    }

    /// Sentinel moved the server: written read-only requests (kept in `retainedReads`) go
    /// to `next` (the new master) before anything else moves there, so each client's
    /// requests run there in the order sent; written writes stay, to fail as maybe applied.
    /// Only the requests before `firstUnsent` are looked at (the rest move as unsent ones).
    private func resendWrittenReads(before firstUnsent: Int, to next: UpstreamConnection) {
        guard let kept = retainedReads else { return }
        var cursor = 0, resent = 0
        for i in 0..<firstUnsent where pending[i].retainedBytes > 0 {
            var moved = pending[i]
            let length = Int(moved.retainedBytes)
            moved.streamOffset = next.nextRequestOffset
            next.output.append(UnsafeRawBufferPointer(rebasing: kept.readable[cursor..<(cursor + length)]))
            cursor += length
            next.adopt(moved)
            resent += 1
            // Answered by the new master now: its slot here is skipped when the rest fail.
            pending[i] = PendingReply(client: nil, sequence: 0, part: 0, queuedAt: moved.queuedAt)
        }
        stats.add(pool: server.pool.index, server: server.index, .failoverResentReads, UInt64(resent))
    }

    /// Registers a reply the proxy consumes itself (a MULTI or QUEUED a lease owes for
    /// commands the proxy already answered).
    func expectSilentReply(now: UInt64) {
        pending.append(PendingReply(client: nil, sequence: 0, part: 0, queuedAt: now))
        stream.scheduleFlush()
    }

    /// Takes over a request moved from a failed connection (its bytes already appended).
    /// Its bytes are not kept here (a failover re-sends reads only once).
    func adopt(_ waiting: PendingReply) {
        var moved = waiting
        moved.retainedBytes = 0
        pending.append(moved)
        stream.scheduleFlush()
    }

    /// nutcracker's queue gauges for this connection: requests (and bytes) still in the
    /// output, not yet handed to the socket, and requests (and bytes) written and awaiting
    /// their reply. O(unsent requests), which is almost always zero: writes go out in the
    /// loop turn that queued them.
    func queueDepths() -> (inQueue: Int, inBytes: Int, outQueue: Int, outBytes: Int) {
        let writes = stream.writes
        var unsent = 0
        while unsent < pending.count {
            let request = pending[pending.count - 1 - unsent]
            guard request.isClientRequest && writes.isUnsent(request.streamOffset) else { break }
            unsent += 1
        }
        let awaiting = pending.count - unsent
        var outBytes = 0
        if awaiting > 0, let first = pending.first, first.isClientRequest {
            outBytes = writes.handedOffBytes(since: first.streamOffset)
        }
        return (unsent, writes.output.readableCount, awaiting, outBytes)
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
                fail(.protocolError(why))
                return
            case let .reply(length):
                guard let waiting = pending.popFirst() else {
                    fail(.unexpectedReply)
                    return
                }
                if waiting.retainedBytes > 0 { retainedReads?.consume(Int(waiting.retainedBytes)) }
                let reply = UnsafeRawBufferPointer(rebasing: input.readable[0..<length])
                if let client = waiting.client {
                    server.requestSucceeded()
                    stats.add(pool: server.pool.index, server: server.index, .responses)
                    stats.add(pool: server.pool.index, server: server.index, .responseBytes, UInt64(length))
                    stats.recordLatency(pool: server.pool.index, server: server.index, command: Int(waiting.command),
                                        us: (uv_hrtime() &- waiting.queuedNs) / 1000)
                    client.deliver(sequence: waiting.sequence, part: Int(waiting.part), reply: reply)
                    if reply.first == UInt8(ascii: "-") && serverStateError(reply) {
                        input.consume(length)
                        return
                    }
                } else if reply.first == UInt8(ascii: "-") {
                    logWarn("upstream \(server.logName) refused a command the proxy sent itself: \(String(decoding: reply.dropLast(2), as: UTF8.self))")
                }
                input.consume(length)
                if pending.isEmpty && (lessee != nil || giveBackWhenIdle) { leaseDrained() }
            }
        }
        input.releaseIfIdle(threshold: ByteBuffer.idleLimit)
    }

    /// An error reply about the server, not the request (see UpstreamErrorReply): LOADING
    /// and MASTERDOWN count as a passive failure; READONLY from a server given by Sentinel or
    /// by host name retires this connection and has the sentinels polled and the name
    /// resolved again at once. True when this
    /// connection is gone.
    private func serverStateError(_ reply: UnsafeRawBufferPointer) -> Bool {
        switch UpstreamErrorReply.classify(reply) {
        case .loading, .masterDown:
            let text = String(decoding: reply.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }.dropFirst(), as: UTF8.self)
            server.replyFailure(.cannotServe(text))
            return false
        case .readOnly where retainsReads:
            server.pool.board?.requestSentinelPoll()
            fail(.becameReplica)
            return true
        case .readOnly, .other:
            return false
        }
    }

    func didEnd(_ stream: Stream, error: Int32) {
        fail(error == UV_EOF.rawValue ? .closedByServer : .connectionError(uvErrorName(error)))
    }

    /// The connection was established at some point (it may have broken since).
    private(set) var everConnected = false

    func didConnect(_ stream: Stream) {
        everConnected = true
        server.connectionSucceeded()
        stream.startReading()
    }

    /// Fails every pending request with `failure`'s text and drops this connection; after a
    /// timeout, requests whose bytes never left this connection's output (other clients'
    /// requests queued behind the one that timed out) move to a new connection instead,
    /// keeping their original queue time for the timeout (see ResendPlan).
    func fail(_ failure: UpstreamFailure) {
        if isBroken && pending.isEmpty { return }
        isBroken = true
        let p = server.pool.index, s = server.index
        stats.subtract(pool: p, server: s, .serverConnections)
        stats.add(pool: p, server: s, failure.stat)
        // A lease's requests depend on its own state (MULTI, WATCH): they never move.
        let plan = ResendPlan(queue: pending, writes: stream.writes, resendUnsent: failure.resendsUnsent && !isLease)
        stream.close()
        server.connectionFailed(self, failure)
        if failure.resendsWrittenReads && !isLease && retainedReads != nil,
           let next = server.connection(for: version, database: database, ignoringBackoff: true) {
            resendWrittenReads(before: plan.firstMoved, to: next)
        }
        // The moved bytes stay valid: nothing appends to this closed stream's output.
        if plan.movesAny, let bytes = stream.writes.unsent(from: plan.bytesFrom),
           let next = server.connection(for: version, database: database, ignoringBackoff: true) {
            let origin = next.nextRequestOffset
            next.output.append(bytes)
            for i in plan.firstMoved..<pending.count {
                var moved = pending[i]
                moved.streamOffset = plan.rebased(moved.streamOffset, onto: origin)
                next.adopt(moved)
            }
            while pending.count > plan.firstMoved { pending.removeLast() }
        }
        // Nowhere to move them: they fail with the rest.
        let message = server.spec.upstreamError(.failed, failure.description)
        let misses = server.pool.config.answerDownAsMiss
        while let waiting = pending.popFirst() {
            guard let client = waiting.client else { continue }
            if misses && waiting.miss != .error {
                client.deliverMiss(sequence: waiting.sequence, miss: waiting.miss, argumentCount: Int(waiting.argumentCount))
            } else {
                client.deliverError(sequence: waiting.sequence, part: Int(waiting.part), message: message)
            }
        }
        // The lessee learns last, once every reply it was owed has its error.
        if let client = lessee {
            lessee = nil
            client.leaseBroke(self)
        }
    }

    /// A lease owes nothing any more: its client decides, or it goes back to the server.
    private func leaseDrained() {
        if let client = lessee {
            client.leaseIdle(self)
        } else if giveBackWhenIdle {
            giveBackWhenIdle = false
            server.giveBack(self, clean: true)
        }
    }

    /// Closes a connection the proxy stopped using (a lease that cannot be reused).
    func retire() {
        guard !isBroken else { return }
        isBroken = true
        stats.subtract(pool: server.pool.index, server: server.index, .serverConnections)
        stream.close()
    }
}

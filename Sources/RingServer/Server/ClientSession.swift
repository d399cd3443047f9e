// One client connection: the glue between its Stream and the pure pieces in RingCore.
// RequestParser frames the bytes, RoutePlanner decides, ReplyOrder keeps the replies in
// request order, Backpressure says when to stop reading, SessionState holds the mode. This
// class only carries out their decisions: it appends a routed request's bytes unchanged to
// its server's connection and a server's reply to the client's output. Nothing here
// allocates per request except parked out-of-order replies and split commands.

import CLibUV
import RingConfig
import RingCore

final class ClientSession: StreamHandler {
    // unowned(unsafe): the worker and its pools live until the process exits, longer than
    // any client; checked unowned references would cost a retain and release per access.
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let pool: PoolRuntime
    let stream: Stream
    var state: SessionState
    var id: UInt64 { state.id }

    /// A partial request carried from one read to the next (empty most of the time).
    let input = ByteBuffer()
    private var readIntoShared = false
    private var parser: RequestParser
    var order = ReplyOrder()
    private var backpressure = Backpressure()
    private var resumeScheduled = false
    private(set) var isClosed = false
    /// The connection leased to this client (WATCH, MULTI, a blocking command), and what
    /// happens to it once nothing is owed on it (see ClientSession+Leases.swift).
    var lease: UpstreamConnection?
    var releaseLeaseWhenIdle = false
    /// Keyless commands queued after MULTI before the first key (TransactionRules' `defer`).
    var deferredRequests: ByteBuffer?
    /// multi_across_servers: per_server: the transaction queued in the proxy, the EXEC that
    /// waits for earlier replies, the one whose parts were sent, and its leases (see
    /// ClientSession+PerServer). All nil or empty outside such a transaction.
    var queued: PerServerTransaction?
    var pendingExec: PendingExec?
    var runningExec: RunningExec?
    var execLeases: [UpstreamConnection] = []
    /// EVALSHA requests in flight whose script the proxy knows, by sequence: retried after
    /// loading the script if their server answers NOSCRIPT (see ClientSession+Scripts).
    var scriptRetries: [UInt64: ScriptRetry]?
    /// SCRIPT LOAD requests in flight, by sequence: their bodies, kept once the servers
    /// answer the SHA1.
    var scriptLoads: [UInt64: [UInt8]]?
    /// What the client is subscribed to (nil: nothing), the (un)subscribe replies waiting
    /// for a server's confirmation, and since when its unread messages exceed the soft
    /// output limit (see ClientSession+PubSub).
    var subscriptions: ClientSubscriptions?
    var pendingConfirmations: [UInt64: PendingConfirmation]?
    var overSoftLimitSince: UInt64?
    /// The server this client's next request waits for (failover_hold): its requests stay
    /// unhandled in `input`, in order, until the server is back or the hold ends.
    var parkedOn: UpstreamServer?
    /// Counted in its pool's client_connections (the limit was on at accept; a reload may
    /// change it while the client stays).
    var countedAgainstLimit = false
    /// uv_now() of the last read or reply, for the pool's client_idle_timeout.
    private(set) var lastActiveMs: UInt64 = 0
    /// For CLIENT LIST: when the client connected, its last command's row, its address
    /// (looked up on first use), and whether CLIENT KILL named it and it closes after its reply.
    let createdMs: UInt64
    var lastCommand: Int32 = -1
    var cachedPeerAddress: String?
    var killAfterReply = false
    /// Registered as a monitor with the worker (until closed or RESET); held by CLIENT PAUSE.
    var isMonitor = false
    var heldByPause = false

    /// A client's reply buffer starts this small and doubles as replies need: a PONG or a
    /// short value fits, and 10,000 idle clients do not hold 4 KiB each.
    static let initialOutputCapacity = 256
    /// Read space below this is topped up before reading into the client's own buffer.
    static let minimumReadSpace = 16 * 1024
    /// What a blocked or parked (failover_hold) client may send before it is no longer read
    /// (until it is answered or released): a pipeline of ordinary size, not a flood.
    static let blockedInputLimit = 64 * 1024

    init(id: UInt64, worker: Worker, pool: PoolRuntime, stream: Stream) {
        self.worker = worker
        self.pool = pool
        self.stream = stream
        self.parser = RequestParser(limits: worker.requestLimits)
        self.state = SessionState(id: id, authenticated: pool.localSettings.password == nil,
                                  database: pool.config.redisDB)
        stream.startBuffersSmall(ClientSession.initialOutputCapacity)
        self.lastActiveMs = worker.loop.nowMs
        self.createdMs = lastActiveMs
    }

    var hasOutstandingReplies: Bool { !order.isEmpty || stream.pendingOutputBytes > 0 }
    var version: RESPVersion { state.version }

    // MARK: reading

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        if input.isEmpty {
            readIntoShared = true
            let shared = worker.sharedReadBuffer
            shared.clear()
            return UnsafeMutableRawBufferPointer(start: shared.writableSpace(minimum: Worker.sharedReadSize),
                                                 count: shared.writableCount)
        }
        readIntoShared = false
        let p = input.writableSpace(minimum: ClientSession.minimumReadSpace)
        return UnsafeMutableRawBufferPointer(start: p, count: input.writableCount)
    }

    func didRead(_ stream: Stream, count: Int) {
        lastActiveMs = worker.loop.nowMs
        if readIntoShared {
            let bytes = UnsafeRawBufferPointer(start: worker.sharedReadBuffer.base, count: count)
            let used = process(bytes)
            // A partial request, or whole ones left unhandled by a pause, wait in `input`.
            if used < count && !state.isClosing { input.append(UnsafeRawBufferPointer(rebasing: bytes[used...])) }
        } else {
            input.commit(count)
            consumeInput()
            input.releaseIfIdle(threshold: ByteBuffer.idleLimit)
        }
        // Requests sent while blocked wait for the reply; past the limit, so does reading.
        if (state.isBlocked || parkedOn != nil) && input.readableCount >= ClientSession.blockedInputLimit {
            stream.stopReading()
        }
    }

    private func consumeInput() {
        let used = process(input.readable)
        if state.isClosing { input.clear() } else { input.consume(used) }
    }

    func didEnd(_ stream: Stream, error: Int32) {
        // EOF: the client sent all it will; its owed replies are still written (a
        // half-closed `printf ... | nc` gets its answers). Anything else: gone.
        worker.stats.add(pool: pool.index, error == UV_EOF.rawValue || error == 0 ? .clientEOF : .clientErr)
        // A blocked client that goes away is freed at once, as Redis frees it (its lease is
        // closed rather than left blocked on the server).
        if error == UV_EOF.rawValue && !stream.isClosed && !state.isBlocked { apply(.endOfInput) } else { close() }
    }

    /// Frames and handles every whole request in `buffer`; returns the bytes used.
    private func process(_ buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < buffer.count && state.acceptsRequests && !backpressure.paused && parkedOn == nil {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            switch parser.parse(rest) {
            case let .request(length):
                let request = RequestView(bytes: UnsafeRawBufferPointer(rebasing: rest[0..<length]), args: parser.args,
                                          isInline: parser.wasInline)
                // CLIENT PAUSE: this request and those after it wait, unread, for its end.
                if worker.pauseActive && worker.holds(request, pool: pool.index) {
                    holdForPause()
                    return offset
                }
                handle(request)
                // Parked (failover_hold): the request stays in the input, handled again when released.
                if parkedOn != nil { return offset }
                offset += length
                if backpressure.shouldPause(pendingReplies: order.pendingCount, outputBytes: stream.pendingOutputBytes) {
                    pause()
                }
            case let .skip(length):
                offset += length
            case .incomplete:
                return offset
            case let .error(message):
                // The stream cannot be framed past this point: answer, then close once the
                // replies owed for earlier requests are written.
                replyError(ProxyError.protocolError(message))
                apply(.protocolError)
                return buffer.count
            }
        }
        return offset
    }

    // MARK: carrying out decisions

    private func handle(_ request: RequestView) {
        let decision = worker.planner.plan(request, state: state, pool: pool.policy, placement: pool.placement)
        lastCommand = Int32(truncatingIfNeeded: worker.planner.lastCommand)
        if worker.monitorsActive { feedMonitors(request, decision) }
        if state.outsideTransaction { carryOut(decision, request) } else { transactionStep(decision, request) }
    }

    /// A decision outside WATCH and MULTI.
    func carryOut(_ decision: RouteDecision, _ request: RequestView) {
        switch decision {
        case let .forward(server, command, miss):
            send(request, to: pool.servers[server], miss: miss, command: command)
        case let .split(kind, command):
            split(kind, command: command, request)
        case let .local(command, _):
            runLocal(command, request)
        case let .reject(error):
            replyError(error)
        case let .block(server, command):
            sendBlocking(request, to: pool.servers[server], command: command)
        case let .broadcast(kind, command, subcommand):
            broadcast(kind, command: command, subcommand: subcommand, request)
        case let .scan(cursor, command):
            scan(cursor, command: command, request)
        case .transaction:
            transactionStep(decision, request)
        case let .subscription(command, _):
            subscription(command, request)
        }
    }

    func runLocal(_ command: LocalCommand, _ request: RequestView) {
        worker.stats.add(pool: pool.index, .requestsAnsweredLocally)
        // Counted once, under its subcommand's row (CONFIG GET), even when servers are asked.
        worker.stats.recordLocal(pool: pool.index, command: Int(lastCommand))
        var effect = LocalEffect.none
        reply { out in
            effect = LocalCommands.run(command, request, state: &state, settings: pool.localSettings, out: out)
        }
        switch effect {
        case .close: apply(.quit)
        case .reset:
            // Out of any transaction, blocked lease or subscription, as a new connection.
            dropSubscriptions()
            dropLease()
            dropExecLeases()
            stopMonitoring()
            deferredRequests?.clear()
        case .monitor:
            isMonitor = true
            worker.addMonitor(self)
        case let .askServers(query):
            askServers(query, request)
        case let .askWorkers(query):
            worker.askWorkers(query, from: self)
        case .describeSelf:
            let line = describe(now: worker.loop.nowMs).line + "\n"
            reply { $0.appendBulk(string: line) }
        case .none: break
        }
    }

    // MARK: replies

    /// A server's reply (or the proxy's error in its place) for request `sequence`.
    func deliver(sequence: UInt64, part: Int, reply: UnsafeRawBufferPointer) {
        guard !isClosed, let index = order.index(of: sequence) else { return }
        if scriptRetries != nil && retryScript(sequence, reply) { return }
        if runningExec != nil && execPartReplied(sequence: sequence, part: part, reply: reply) { return }
        if let merge = order.merge(at: index) {
            merge.apply(part: part, reply: reply)
            if merge.isComplete { finishMerge(at: index, merge) }
            return
        }
        if order.deliver(at: index, reply, into: stream.output) { didWriteReplies() }
    }

    func deliverMiss(sequence: UInt64, miss: MissReply, argumentCount: Int) {
        let b = worker.scratch
        b.clear()
        _ = miss.write(into: b, version: state.version, argumentCount: argumentCount)
        let bytes = b.bytes
        bytes.withUnsafeBytes { deliver(sequence: sequence, part: 0, reply: $0) }
    }

    func deliverError(sequence: UInt64, part: Int, message: String) {
        errorBytes(message).withUnsafeBytes { deliver(sequence: sequence, part: part, reply: $0) }
    }

    func finishMerge(at index: Int, _ merge: MergeState) {
        if scriptLoads != nil { noteScriptLoaded(order.headSequence &+ UInt64(index), merge) }
        let wrote = order.completeMerge(at: index, merge, version: state.version, into: stream.output,
                                        scratch: worker.scratch)
        worker.recycle(merge)
        if wrote { didWriteReplies() }
    }

    /// Replies reached the output: flush them this loop turn, and close if that was all.
    func didWriteReplies() {
        stream.scheduleFlush()
        lastActiveMs = worker.loop.nowMs
        noteProgress()
        if pendingExec != nil { launchPendingExecIfDue() }
        if state.isClosing && order.isEmpty { stream.closeAfterWriting() }
    }

    /// A reply built by the proxy: written now if nothing is owed before it, else parked.
    func reply(_ build: (ByteBuffer) -> Void) {
        if order.appendLocal(into: stream.output, scratch: worker.scratch, build) { stream.scheduleFlush() }
    }

    func replyError(_ error: ProxyError) {
        let message = error.message
        reply { $0.appendError(message) }
    }

    // MARK: backpressure

    private func pause() {
        stream.stopReading()
        worker.stats.add(pool: pool.index, .clientReadPauses)
        // The flush at the end of this loop turn may already take the output below the mark.
        noteProgress()
    }

    /// Replies were taken or written: a paused client is looked at again once this loop
    /// turn's output is flushed (not now: this may run inside an upstream's read loop).
    @inline(__always)
    func noteProgress() {
        if backpressure.paused && !resumeScheduled {
            resumeScheduled = true
            worker.scheduleResume(self)
        }
    }

    /// Called by the worker after flushing: resumes below the low marks, handling the
    /// requests that waited in `input` first (which may pause again).
    /// A blocking command answered: handle what the client sent meanwhile, and read again.
    func unblocked() {
        state.unblock()
        resumeAfterWaiting()
    }

    /// The wait (a blocking command, a per_server EXEC) is over: handle what the client sent
    /// meanwhile, and read again.
    func resumeAfterWaiting() {
        heldByPause = false
        if !input.isEmpty { consumeInput() }
        if !heldByPause && !backpressure.paused && state.acceptsRequests && !isClosed
            && (parkedOn == nil || input.readableCount < ClientSession.blockedInputLimit) {
            stream.startReading()
        }
    }

    func resumeIfDrained() {
        resumeScheduled = false
        guard state.acceptsRequests, !isClosed, !heldByPause,
              backpressure.shouldResume(pendingReplies: order.pendingCount, outputBytes: stream.pendingOutputBytes)
        else { return }
        if !input.isEmpty { consumeInput() }
        if !backpressure.paused && state.acceptsRequests { stream.startReading() }
    }

    func didDrain(_ stream: Stream) {
        noteProgress()
    }

    /// A client idle for a while keeps no buffer memory (see Worker.idleScanMs).
    func releaseIdleBuffers() {
        guard order.isEmpty, !backpressure.paused else { return }
        stream.releaseIdleBuffers()
        input.releaseIfIdle(threshold: 0)
        order.releaseIdleStorage()
        parser.releaseStorage()
    }

    // MARK: closing

    /// Carries out a mode change of the session's state machine.
    func apply(_ event: SessionEvent) {
        switch state.apply(event) {
        case .beginClosing:
            stream.stopReading()
            if order.isEmpty { stream.closeAfterWriting() }
        case .none:
            break
        }
    }

    func stopReadingForShutdown() {
        stream.stopReading()
    }

    func close() {
        if isClosed { return }
        isClosed = true
        parkedOn?.unpark(self)
        parkedOn = nil
        dropLease()
        dropExecLeases()
        dropSubscriptions()
        stopMonitoring()
        stream.close()
        order.removeAll()
        worker.clientClosed(self)
    }
}

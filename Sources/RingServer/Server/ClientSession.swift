// One client connection: the request path. Bytes are framed by RequestParser; each request
// takes the next sequence number and a slot in `slots`, the queue of replies still owed in
// request order. A routed request's bytes are appended unchanged to its server's connection;
// the server's reply is appended straight to the client's output when its slot is at the
// head (the common case), else parked in the slot until the earlier ones are answered.
// Nothing here allocates per request except parked out-of-order replies and split commands.

import CLibUV
import RingConfig
import RingCore

struct ReplySlot {
    var ready: Bool
    /// A reply that arrived before earlier ones: where it lies in the client's `parked`
    /// buffer (length 0 while pending).
    var parkedOffset: Int = 0
    var parkedLength: Int = 0
    /// Set for a split command until all its parts have answered.
    var merge: MergeState?

    static let pending = ReplySlot(ready: false)
}

final class ClientSession: StreamHandler {
    let id: UInt64
    // unowned(unsafe): the worker and its pools live until the process exits, longer than
    // any client; checked unowned references would cost a retain and release per access.
    unowned(unsafe) let worker: Worker
    unowned(unsafe) let pool: PoolRuntime
    let stream: Stream

    /// A partial request carried from one read to the next (empty most of the time).
    private let input = ByteBuffer()
    private var readIntoShared = false
    private var parser: RequestParser
    /// Empty until the first request: 10,000 connected clients that never send hold none.
    private var slots = RingQueue<ReplySlot>(initialCapacity: 0)
    /// Replies that arrived before earlier ones (another server answered first), appended
    /// as they come and copied out in request order; reset whenever none is left, so it
    /// is reused instead of allocating per parked reply. Made on first use.
    private var parked: ByteBuffer?
    private var parkedCount = 0
    /// Sequence number of `slots[0]`; the next request gets `nextSequence`.
    private var headSequence: UInt64 = 0
    private var nextSequence: UInt64 = 0

    var version: RESPVersion = .resp2
    var authenticated: Bool
    var clientName: String?
    /// QUIT or a protocol error: read no more, close once every owed reply is written.
    private var closing = false
    private(set) var isClosed = false

    /// Reused by split commands: the server of each key, and one part's argument indices.
    private var keyServers: [Int] = []
    private var partServers: [Int] = []
    private var partIndices: [Int] = []

    /// A client's reply buffer starts this small and doubles as replies need: a PONG or a
    /// short value fits, and 10,000 idle clients do not hold 4 KiB each.
    static let initialOutputCapacity = 256

    /// Read space below this is topped up before reading into the client's own buffer.
    static let minimumReadSpace = 16 * 1024

    // Backpressure. A client that pipelines without reading its replies would make the
    // proxy hold every reply it has not taken. Past either limit below its reads stop (and
    // requests already read but not yet handled wait in `input`); they resume below the
    // lower marks. Requests already forwarded still get their replies, so the most a client
    // can pin is `pauseAtPendingReplies` replies plus `pauseAtOutputBytes`; pausing the
    // shared upstream connections instead would stall every other client on them.
    /// Replies a client may have in flight before its reads stop. Large enough that
    /// pipelines of ordinary depth (redis-benchmark -P 16, redis-py batches of hundreds)
    /// never pause; small enough that 1024 replies of a large value stay tens of MiB.
    static let pauseAtPendingReplies = 1024
    static let resumeAtPendingReplies = 256
    /// Unwritten reply bytes (the client is not reading): 4 MiB, above the socket buffers
    /// a reading client keeps full, so only a slow or stalled reader is paused.
    static let pauseAtOutputBytes = 4 * 1024 * 1024
    static let resumeAtOutputBytes = 1024 * 1024

    /// Reads are stopped by backpressure.
    private(set) var paused = false
    private var resumeScheduled = false
    /// uv_now() of the last read or reply, for the pool's client_idle_timeout.
    private(set) var lastActiveMs: UInt64 = 0

    init(id: UInt64, worker: Worker, pool: PoolRuntime, stream: Stream) {
        self.id = id
        self.worker = worker
        self.pool = pool
        self.stream = stream
        self.parser = RequestParser(limits: worker.requestLimits)
        stream.startBuffersSmall(ClientSession.initialOutputCapacity)
        self.authenticated = pool.config.clientPassword == nil
        self.lastActiveMs = worker.loop.nowMs
    }

    var hasOutstandingReplies: Bool { !slots.isEmpty || stream.pendingOutputBytes > 0 }

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
            if used < count && !closing { input.append(UnsafeRawBufferPointer(rebasing: bytes[used...])) }
        } else {
            input.commit(count)
            let used = process(input.readable)
            if closing { input.clear() } else { input.consume(used) }
            input.releaseIfIdle(threshold: Stream.idleBufferLimit)
        }
    }

    func didEnd(_ stream: Stream, error: Int32) {
        // EOF: the client sent all it will; its owed replies are still written (a
        // half-closed `printf ... | nc` gets its answers). Anything else: gone.
        worker.stats.add(pool: pool.index, error == UV_EOF.rawValue || error == 0 ? .clientEOF : .clientErr)
        if error == UV_EOF.rawValue && !stream.isClosed { beginClosing() } else { close() }
    }

    /// Frames and handles every whole request in `buffer`; returns the bytes used.
    private func process(_ buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < buffer.count && !closing && !paused {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            switch parser.parse(rest) {
            case let .request(length):
                handle(UnsafeRawBufferPointer(rebasing: rest[0..<length]))
                offset += length
                if slots.count >= ClientSession.pauseAtPendingReplies
                    || stream.pendingOutputBytes >= ClientSession.pauseAtOutputBytes {
                    pause()
                }
            case let .skip(length):
                offset += length
            case .incomplete:
                return offset
            case let .error(message):
                // The stream cannot be framed past this point: answer, then close once the
                // replies owed for earlier requests are written.
                replyError(message)
                beginClosing()
                return buffer.count
            }
        }
        return offset
    }

    var argumentCount: Int { parser.args.count }

    @inline(__always)
    func argument(_ request: UnsafeRawBufferPointer, _ i: Int) -> UnsafeRawBufferPointer {
        let span = parser.args[i]
        return UnsafeRawBufferPointer(rebasing: request[span.offset..<(span.offset + span.count)])
    }

    func argumentString(_ request: UnsafeRawBufferPointer, _ i: Int) -> String {
        String(decoding: argument(request, i), as: UTF8.self)
    }

    // MARK: routing

    private func handle(_ request: UnsafeRawBufferPointer) {
        let argc = parser.args.count
        guard let info = worker.commands.lookup(argument(request, 0)) else {
            replyUnknownCommand(request)
            return
        }
        if !authenticated {
            switch info.route {
            case .local(.auth), .local(.hello), .local(.quit): break
            default:
                replyError("NOAUTH Authentication required.")
                return
            }
        }
        if pool.denied[info.index] {
            replyDenied(info.displayName)
            return
        }
        if info.spec.hasSubcommands && argc >= 2, let sub = worker.commands.lookup(container: info.spec.name, sub: argument(request, 1)),
           pool.denied[sub.index] {
            replyDenied(sub.displayName.replacingPipe())
            return
        }
        if !info.spec.arityAccepts(argc) {
            replyError("ERR wrong number of arguments for '\(info.spec.name)' command")
            return
        }
        switch info.route {
        case let .local(command):
            runLocal(command, request)
        case let .unsupported(reason):
            replyUnsupported(info.displayName, reason)
        case let .split(kind):
            split(kind, info, request)
        case .keyed:
            var spec = info.spec
            var display = info.displayName
            var miss = info.miss
            if spec.hasSubcommands {
                guard argc >= 2, let sub = worker.commands.lookup(container: spec.name, sub: argument(request, 1)) else {
                    let subName = argc >= 2 ? argumentString(request, 1) : ""
                    replyError("ERR unknown subcommand '\(subName)'. Try \(info.displayName) HELP.")
                    return
                }
                display = sub.displayName.replacingPipe()
                if case let .unsupported(reason) = sub.route { replyUnsupported(display, reason); return }
                if !sub.spec.arityAccepts(argc) {
                    replyError("ERR wrong number of arguments for '\(sub.spec.name)' command")
                    return
                }
                spec = sub.spec
                miss = sub.miss
            }
            forwardKeyed(spec, display, request, miss: miss, command: info.index)
        }
    }

    private func forwardKeyed(_ spec: RedisCommandSpec, _ display: String, _ request: UnsafeRawBufferPointer,
                              miss: MissReply, command: Int) {
        let argc = parser.args.count
        var keyCount: Int?
        if let kc = spec.keyCount {
            guard kc.countIndex < argc, let n = parseInteger(argument(request, kc.countIndex)) else {
                replyError("ERR value is not an integer or out of range")
                return
            }
            switch KeyPositions.validateKeyCount(spec, argc: argc, value: n) {
            case .failure(.badKeyCount): replyError("ERR Number of keys can't be negative"); return
            case .failure(.keyCountTooLarge): replyError("ERR Number of keys can't be greater than number of args"); return
            case .success: keyCount = n
            }
        }
        var target = -2
        var conflict = false
        KeyPositions.forEach(spec, argc: argc, keyCountValue: keyCount) { i in
            let s = pool.placement.server(forKey: argument(request, i))
            if target == -2 { target = s } else if s != target { conflict = true }
        }
        if target == -2 {
            replyError("ERR ringproxy: '\(display)' without keys cannot be routed: the proxy picks a server by key")
            return
        }
        if conflict {
            replyCrossServer(display)
            return
        }
        send(request, to: target, miss: miss, command: command)
    }

    /// Sends the whole request to one server and reserves its reply slot. A server the
    /// health checks marked down is not contacted: the request gets `miss` (pools with
    /// down_server_reply: miss) or an error naming the server, at once.
    private func send(_ request: UnsafeRawBufferPointer, to serverIndex: Int, miss: MissReply, command: Int) {
        guard serverIndex >= 0 else {
            replyError("ERR ringproxy: pool \(pool.config.name) has no live upstream")
            return
        }
        let server = pool.servers[serverIndex]
        guard let connection = server.isDown ? nil : server.connection(for: version) else {
            answerUnreachable(server, miss: miss)
            return
        }
        let offset = connection.nextRequestOffset
        if parser.wasInline {
            writeRequest(args: parser.args, request: request, into: connection.output)
        } else {
            connection.output.append(request)
        }
        let sequence = nextSequence
        nextSequence += 1
        slots.append(.pending)
        countForwarded(server, bytes: connection.nextRequestOffset - offset)
        connection.expectReply(client: self, sequence: sequence, part: 0, now: worker.loop.nowMs, offset: offset,
                               command: command, miss: miss, argumentCount: parser.args.count)
    }

    private func split(_ kind: SplitKind, _ info: CommandInfo, _ request: UnsafeRawBufferPointer) {
        let argc = parser.args.count
        let step = kind == .allOK ? 2 : 1
        if (argc - 1) % step != 0 {
            replyError("ERR wrong number of arguments for '\(info.spec.name)' command")
            return
        }
        keyServers.removeAll(keepingCapacity: true)
        partServers.removeAll(keepingCapacity: true)
        for i in stride(from: 1, to: argc, by: step) {
            let s = pool.placement.server(forKey: argument(request, i))
            if s < 0 {
                replyError("ERR ringproxy: pool \(pool.config.name) has no live upstream")
                return
            }
            keyServers.append(s)
            if !partServers.contains(s) { partServers.append(s) }
        }
        if partServers.count == 1 {
            send(request, to: partServers[0], miss: info.miss, command: info.index)
            return
        }
        let merge = worker.takeMergeState(kind: kind, keyCount: keyServers.count, parts: partServers.count)
        worker.stats.add(pool: pool.index, .fragments, UInt64(partServers.count))
        let sequence = nextSequence
        nextSequence += 1
        slots.append(ReplySlot(ready: false, merge: merge))
        let now = worker.loop.nowMs
        let name = splitCommandName(info.spec.name)
        for (part, serverIndex) in partServers.enumerated() {
            partIndices.removeAll(keepingCapacity: true)
            for (position, s) in keyServers.enumerated() where s == serverIndex {
                partIndices.append(1 + position * step)
                if kind == .values { merge.assign(position: position, toPart: part) }
            }
            let server = pool.servers[serverIndex]
            if server.isDown {
                merge.fail(part: part, error: errorBytes(server.downMessage))
                continue
            }
            guard let connection = server.connection(for: version) else {
                merge.fail(part: part, error: errorBytes(server.unavailableMessage))
                continue
            }
            let offset = connection.nextRequestOffset
            writeSplitCommand(name: name, args: parser.args, request: request, indices: partIndices[...],
                              withValues: kind == .allOK, into: connection.output)
            countForwarded(server, bytes: connection.nextRequestOffset - offset)
            connection.expectReply(client: self, sequence: sequence, part: Int32(part), now: now, offset: offset,
                                   command: info.index)
        }
        if merge.isComplete { finishMerge(at: Int(sequence &- headSequence), merge) }
    }

    // MARK: replies

    /// A server's reply (or the proxy's error in its place) for request `sequence`.
    func deliver(sequence: UInt64, part: Int, reply: UnsafeRawBufferPointer) {
        if isClosed { return }
        let index = Int(sequence &- headSequence)
        guard index >= 0 && index < slots.count else { return }
        if let merge = slots[index].merge {
            merge.apply(part: part, reply: reply)
            if merge.isComplete { finishMerge(at: index, merge) }
            return
        }
        if index == 0 {
            stream.output.append(reply)
            popHead()
            drainReady()
        } else {
            slots[index] = park(reply)
        }
    }

    func deliverMiss(sequence: UInt64, miss: MissReply, argumentCount: Int) {
        let b = ByteBuffer(capacity: 64)
        _ = miss.write(into: b, version: version, argumentCount: argumentCount)
        b.bytes.withUnsafeBytes { deliver(sequence: sequence, part: 0, reply: $0) }
    }

    func deliverError(sequence: UInt64, part: Int, message: String) {
        errorBytes(message).withUnsafeBytes { deliver(sequence: sequence, part: part, reply: $0) }
    }

    private func finishMerge(at index: Int, _ merge: MergeState) {
        if index == 0 {
            merge.write(into: stream.output, version: version)
            popHead()
            worker.recycle(merge)
            drainReady()
        } else {
            let s = worker.scratch
            s.clear()
            merge.write(into: s, version: version)
            slots[index] = park(s.readable)
            worker.recycle(merge)
        }
    }

    /// Keeps an early reply until the ones before it are written.
    private func park(_ reply: UnsafeRawBufferPointer) -> ReplySlot {
        let p: ByteBuffer
        if let existing = parked { p = existing } else { p = ByteBuffer(capacity: 4096); parked = p }
        let offset = p.readableCount
        p.append(reply)
        parkedCount += 1
        return ReplySlot(ready: true, parkedOffset: offset, parkedLength: reply.count)
    }

    @inline(__always)
    private func popHead() {
        slots.popFirst()
        headSequence &+= 1
    }

    /// Moves replies that were parked behind the head to the output, in order.
    private func drainReady() {
        while let first = slots.first, first.ready {
            if first.parkedLength > 0, let p = parked {
                stream.output.append(UnsafeRawBufferPointer(rebasing: p.readable[first.parkedOffset..<(first.parkedOffset + first.parkedLength)]))
                parkedCount -= 1
                if parkedCount == 0 { p.clear(); p.releaseIfIdle(threshold: Stream.idleBufferLimit) }
            }
            popHead()
        }
        stream.scheduleFlush()
        lastActiveMs = worker.loop.nowMs
        noteProgress()
        if closing && slots.isEmpty { stream.closeAfterWriting() }
    }

    /// A reply built by the proxy: written now if nothing is owed before it, else parked.
    func reply(_ build: (ByteBuffer) -> Void) {
        if slots.isEmpty {
            build(stream.output)
            headSequence &+= 1
            nextSequence &+= 1
            stream.scheduleFlush()
        } else {
            let s = worker.scratch
            s.clear()
            build(s)
            slots.append(park(s.readable))
            nextSequence &+= 1
        }
    }

    /// A request whose server is down (or backing off after a failure) is answered at once:
    /// with the miss a missing key would get in pools that answer misses (reads only), else
    /// with an error naming the server.
    private func answerUnreachable(_ server: UpstreamServer, miss: MissReply) {
        if pool.config.answerDownAsMiss && miss != .error {
            worker.stats.add(pool: pool.index, server: server.index, .missReplies)
            let argc = parser.args.count
            let v = version
            reply { _ = miss.write(into: $0, version: v, argumentCount: argc) }
            return
        }
        worker.stats.add(pool: pool.index, .forwardError)
        replyError(server.isDown ? server.downMessage : server.unavailableMessage)
    }

    @inline(__always)
    private func countForwarded(_ server: UpstreamServer, bytes: UInt64) {
        worker.stats.add(pool: pool.index, server: server.index, .requests)
        worker.stats.add(pool: pool.index, server: server.index, .requestBytes, bytes)
    }

    func replyError(_ message: String) {
        reply { $0.appendError(message) }
    }

    private func errorBytes(_ message: String) -> [UInt8] {
        let b = ByteBuffer(capacity: message.utf8.count + 3)
        b.appendError(message)
        return b.bytes
    }

    private func replyUnknownCommand(_ request: UnsafeRawBufferPointer) {
        var text = "ERR unknown command '\(argumentString(request, 0).prefix(128))', with args beginning with: "
        for i in 1..<min(parser.args.count, 4) { text += "'\(argumentString(request, i).prefix(128))' " }
        replyError(text)
    }

    private func replyUnsupported(_ name: String, _ reason: UnsupportedReason) {
        switch reason {
        case .needsAllServers:
            replyError("ERR ringproxy: '\(name)' is not supported: it would need every server of the pool")
        case .needsDedicatedConnection:
            replyError("ERR ringproxy: '\(name)' is not supported: it needs a server connection of its own, and the proxy shares them")
        case .serverAdministration:
            replyError("ERR ringproxy: '\(name)' is not supported through the proxy: run it against a server directly")
        }
    }

    private func replyDenied(_ name: String) {
        replyError("ERR ringproxy: '\(name)' is denied by this proxy (deny_commands of pool \(pool.config.name))")
    }

    private func replyCrossServer(_ name: String) {
        let hint = pool.config.hashTag.map {
            "give them a common hash tag, e.g. \(Character(UnicodeScalar($0.open)))user1\(Character(UnicodeScalar($0.close))):a and \(Character(UnicodeScalar($0.open)))user1\(Character(UnicodeScalar($0.close))):b"
        } ?? "set hash_tag in the pool (e.g. \"{}\") and give them a common tag"
        replyError("ERR ringproxy: the keys of '\(name)' live on different servers; \(hint) to keep them on one server")
    }

    // MARK: backpressure

    private func pause() {
        paused = true
        stream.stopReading()
        worker.stats.add(pool: pool.index, .clientReadPauses)
        // The flush at the end of this loop turn may already take the output below the mark.
        noteProgress()
    }

    /// Replies were taken or written: a paused client is looked at again once this loop
    /// turn's output is flushed (not now: this may run inside an upstream's read loop).
    @inline(__always)
    func noteProgress() {
        if paused && !resumeScheduled {
            resumeScheduled = true
            worker.scheduleResume(self)
        }
    }

    /// Called by the worker after flushing: resumes below the low marks, handling the
    /// requests that waited in `input` first (which may pause again).
    func resumeIfDrained() {
        resumeScheduled = false
        guard paused, !closing, !isClosed,
              slots.count <= ClientSession.resumeAtPendingReplies,
              stream.pendingOutputBytes <= ClientSession.resumeAtOutputBytes else { return }
        paused = false
        if !input.isEmpty {
            let used = process(input.readable)
            if closing { input.clear() } else { input.consume(used) }
        }
        if !paused && !closing { stream.startReading() }
    }

    func didDrain(_ stream: Stream) {
        noteProgress()
    }

    /// A client idle for a while keeps no buffer memory (see Worker.idleScanMs).
    func releaseIdleBuffers() {
        guard slots.isEmpty, !paused else { return }
        stream.releaseIdleBuffers()
        input.releaseIfIdle(threshold: 0)
        parked?.releaseIfIdle(threshold: 0)
        slots.releaseIfEmpty()
        parser.releaseStorage()
    }

    // MARK: closing

    func beginClosing() {
        closing = true
        stream.stopReading()
        if slots.isEmpty { stream.closeAfterWriting() }
    }

    func stopReadingForShutdown() {
        stream.stopReading()
    }

    func close() {
        if isClosed { return }
        isClosed = true
        stream.close()
        slots.removeAll()
        worker.clientClosed(self)
    }
}

extension String {
    /// "OBJECT|ENCODING" -> "OBJECT ENCODING", for error messages.
    func replacingPipe() -> String {
        String(map { $0 == "|" ? " " : $0 })
    }
}

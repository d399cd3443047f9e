// A connected byte stream (TCP or unix socket): reads into the handler's space, one coalesced
// write per loop turn, PendingWrites keeping the books. It must never parse bytes, nor touch a
// write's buffer before libuv's callback has given it back.

import CLibUV
import RingCore

public protocol StreamHandler: AnyObject {
    /// Where libuv should put the next read, at least `suggested` bytes if possible. The
    /// space is the handler's (a ByteBuffer it owns); libuv writes into it only during the
    /// read callback that follows.
    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer
    /// `count` bytes were written into the space last returned by `readSpace`.
    func didRead(_ stream: Stream, count: Int)
    /// EOF, a read or write error, or a failed connect. The stream is being closed.
    func didEnd(_ stream: Stream, error: Int32)
    /// An outgoing connection is established.
    func didConnect(_ stream: Stream)
    /// Output was fully written after being held back (for paused producers).
    func didDrain(_ stream: Stream)
}

extension StreamHandler {
    public func didConnect(_ stream: Stream) {}
    public func didDrain(_ stream: Stream) {}
}

/// Where a stream asks to be flushed at the end of the loop turn.
public protocol FlushScheduler: AnyObject {
    func scheduleFlush(_ stream: Stream)
}

/// The handle follows LoopHandle's life cycle. The stream holds its handler strongly until
/// the close callback, then lets it go.
public final class Stream: LoopHandle {
    public enum Kind { case tcp, pipe }

    let kind: Kind
    var handler: StreamHandler?
    unowned let scheduler: FlushScheduler
    /// What is queued, in flight and sent. Only this class changes it.
    public private(set) var writes = PendingWrites()
    /// The uv_write request, made on the first write the socket does not take at once
    /// (uv_try_write writes most replies whole), so most idle clients never carry one.
    /// Owned by this stream, freed in deinit; its `data` is the handle's (unretained: libuv
    /// calls a pending write back, cancelled, before the handle's close callback).
    private var writeRequestStorage: UnsafeMutablePointer<uv_write_t>?
    /// The uv_connect request, likewise: only outgoing streams make one.
    private var connectRequestStorage: UnsafeMutablePointer<uv_connect_t>?

    public private(set) var isConnected = false
    var flushScheduled = false

    @inline(__always) var streamPointer: UnsafeMutablePointer<uv_stream_t> { raw.assumingMemoryBound(to: uv_stream_t.self) }

    /// Large enough for either kind, so a listener can accept into a stream made in advance.
    static let handleSize = Swift.max(MemoryLayout<uv_tcp_t>.size, MemoryLayout<uv_pipe_t>.size)

    public init(loop: EventLoop, kind: Kind, scheduler: FlushScheduler) {
        self.kind = kind
        self.scheduler = scheduler
        super.init(byteCount: Stream.handleSize)
        switch kind {
        case .tcp: uv_tcp_init(loop.raw, raw.assumingMemoryBound(to: uv_tcp_t.self))
        case .pipe: uv_pipe_init(loop.raw, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        }
        retainForLoop()
    }

    deinit {
        writeRequestStorage?.deallocate()
        connectRequestStorage?.deallocate()
    }

    override func didClose() { handler = nil }

    @inline(__always)
    static func from(_ handle: UnsafeMutableRawPointer?) -> Stream { LoopHandle.owner(handle, as: Stream.self) }

    /// Marks an accepted stream connected (the listener accepted into it).
    func markAccepted() {
        isConnected = true
        if kind == .tcp { uv_tcp_nodelay(raw.assumingMemoryBound(to: uv_tcp_t.self), 1) }
    }

    // MARK: reading

    public func startReading() {
        guard !isClosed else { return }
        uv_read_start(streamPointer, { h, suggested, buf in
            let s = Stream.from(UnsafeMutableRawPointer(h))
            guard let handler = s.handler else { buf!.pointee = uv_buf_init(nil, 0); return }
            let space = handler.readSpace(s, suggested: Int(suggested))
            buf!.pointee = uv_buf_init(space.baseAddress?.assumingMemoryBound(to: CChar.self), UInt32(space.count))
        }, { h, nread, _ in
            let s = Stream.from(UnsafeMutableRawPointer(h))
            if nread > 0 {
                s.handler?.didRead(s, count: nread)
            } else if nread == Int(UV_EOF.rawValue) {
                // The peer finished sending. The handler decides whether owed output is
                // still written (a client's replies) or the stream closes now.
                s.stopReading()
                s.handler?.didEnd(s, error: UV_EOF.rawValue)
            } else if nread < 0 {
                s.fail(Int32(nread))
            }
            // nread == 0: nothing read this time (EAGAIN); libuv will call again.
        })
    }

    public func stopReading() {
        if !isClosed { uv_read_stop(streamPointer) }
    }

    // MARK: connecting

    private var connectRequest: UnsafeMutablePointer<uv_connect_t> {
        if let r = connectRequestStorage { return r }
        let r = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        r.pointee.data = handlePointer.pointee.data
        connectRequestStorage = r
        return r
    }

    public func connect(to address: UnsafePointer<sockaddr>) -> Int32 {
        uv_tcp_connect(connectRequest, raw.assumingMemoryBound(to: uv_tcp_t.self), address) { req, status in
            Unmanaged<Stream>.fromOpaque(req!.pointee.data).takeUnretainedValue().connectFinished(status)
        }
    }

    public func connect(toPath path: String) {
        uv_pipe_connect(connectRequest, raw.assumingMemoryBound(to: uv_pipe_t.self), path) { req, status in
            Unmanaged<Stream>.fromOpaque(req!.pointee.data).takeUnretainedValue().connectFinished(status)
        }
    }

    private func connectFinished(_ status: Int32) {
        if isClosed { return }
        if status < 0 { fail(status); return }
        isConnected = true
        if kind == .tcp { uv_tcp_nodelay(raw.assumingMemoryBound(to: uv_tcp_t.self), 1) }
        handler?.didConnect(self)
        if !writes.isDrained { scheduleFlush() }
    }

    // MARK: writing

    /// Where output is appended during a loop turn (see PendingWrites.output).
    @inline(__always) public var output: ByteBuffer { writes.output }

    /// The bytes queued and not yet written.
    public var pendingOutputBytes: Int { writes.pendingBytes }

    @inline(__always)
    public func scheduleFlush() {
        if !flushScheduled && !isClosed {
            flushScheduled = true
            scheduler.scheduleFlush(self)
        }
    }

    /// Writes what `output` holds. Called once per loop turn by the scheduler: uv_try_write
    /// first, and only what the socket would not take goes to uv_write.
    public func flush() {
        flushScheduled = false
        guard isConnected, !isClosed else { return }
        guard let chunk = writes.nextChunk() else {
            if writes.shouldCloseNow { closeDrained() }
            return
        }
        // The uv_buf_t is on the stack; the bytes are `output`'s, which this call does not change.
        var buf = uv_buf_init(UnsafeMutableRawPointer(mutating: chunk.baseAddress!).assumingMemoryBound(to: CChar.self),
                              UInt32(chunk.count))
        let written = uv_try_write(streamPointer, &buf, 1)
        if written > 0 {
            writes.didWrite(Int(written))
        } else if written != UV_EAGAIN.rawValue && written != UV_ENOSYS.rawValue {
            fail(written)
            return
        }
        if writes.isDrained {
            if writes.shouldCloseNow { closeDrained() }
            return
        }
        // The socket took less than everything: the rest goes to uv_write, which owns those
        // bytes until writeFinished (PendingWrites keeps them apart from new output).
        let rest = writes.handOffRemainder()
        var restBuf = uv_buf_init(UnsafeMutableRawPointer(mutating: rest.baseAddress!).assumingMemoryBound(to: CChar.self),
                                  UInt32(rest.count))
        let request: UnsafeMutablePointer<uv_write_t>
        if let r = writeRequestStorage {
            request = r
        } else {
            request = .allocate(capacity: 1)
            request.pointee.data = handlePointer.pointee.data
            writeRequestStorage = request
        }
        let r = uv_write(request, streamPointer, &restBuf, 1) { req, status in
            Unmanaged<Stream>.fromOpaque(req!.pointee.data).takeUnretainedValue().writeFinished(status)
        }
        if r < 0 { writes.asyncWriteFinished(); fail(r) }
    }

    /// The uv_write finished: called even when the stream was closed meanwhile (status
    /// UV_ECANCELED), before the close callback.
    private func writeFinished(_ status: Int32) {
        writes.asyncWriteFinished()
        if isClosed { return }
        if status < 0 { fail(status); return }
        if !writes.isDrained || writes.closeWhenDrained { flush() }
        if !isClosed && !writes.isWriteInFlight { handler?.didDrain(self) }
    }

    /// Output buffers start at `bytes` instead of 4 KiB (for client streams: most replies
    /// are small, and idle clients are many).
    public func startBuffersSmall(_ bytes: Int) { writes.startSmall(bytes) }

    /// Gives back the output buffers' memory when nothing is queued (an idle connection
    /// keeps none; the next reply allocates again).
    public func releaseIdleBuffers() { writes.releaseIdleBuffers() }

    /// Closes after every queued byte is written (QUIT, protocol errors).
    public func closeAfterWriting() {
        writes.closeAfterWriting()
        if !writes.isWriteInFlight { scheduleFlush() }
    }

    // MARK: ending

    /// The close asked for by `closeAfterWriting`, reported to the handler as error 0.
    private func closeDrained() {
        let h = handler
        close()
        h?.didEnd(self, error: 0)
    }

    private func fail(_ error: Int32) {
        if isClosed { return }
        let h = handler
        close()
        h?.didEnd(self, error: error)
    }
}

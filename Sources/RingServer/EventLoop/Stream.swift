// A connected byte stream (TCP or unix socket) with libuv reads and coalesced writes.
// Output is appended to `output` during a loop turn and written once per turn by
// `flush()` (the worker's check callback calls it): uv_try_write first, and only what the
// socket would not take goes to uv_write. While a uv_write is in flight its bytes live in
// `writing`, untouched until the write callback: libuv keeps pointers to them.
// A Stream holds its handler strongly until the handle is closed, then lets it go.

import CLibUV
import RingCore

public protocol StreamHandler: AnyObject {
    /// Where libuv should put the next read, at least `suggested` bytes if possible.
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

public final class Stream {
    public enum Kind { case tcp, pipe }

    let raw: UnsafeMutableRawPointer
    let kind: Kind
    var handler: StreamHandler?
    unowned let scheduler: FlushScheduler
    /// Made on the first write the socket does not take at once (uv_try_write writes
    /// most replies whole), so most idle clients never carry one; kept once made.
    private var writeRequestStorage: UnsafeMutablePointer<uv_write_t>?
    /// Only outgoing streams connect: made on first use, so accepted clients do not carry it.
    private var connectRequestStorage: UnsafeMutablePointer<uv_connect_t>?

    /// Bytes gathered this turn.
    public private(set) var output = ByteBuffer()
    /// Bytes owned by the uv_write in flight.
    private var writing = ByteBuffer()
    private var writeInFlight = false
    public private(set) var isConnected = false
    public private(set) var isClosed = false
    var flushScheduled = false
    /// Close once everything queued has been written.
    private var closeWhenDrained = false

    @inline(__always) var streamPointer: UnsafeMutablePointer<uv_stream_t> { raw.assumingMemoryBound(to: uv_stream_t.self) }
    @inline(__always) var handlePtr: UnsafeMutablePointer<uv_handle_t> { raw.assumingMemoryBound(to: uv_handle_t.self) }

    static let handleSize = Swift.max(MemoryLayout<uv_tcp_t>.size, MemoryLayout<uv_pipe_t>.size)

    public init(loop: EventLoop, kind: Kind, scheduler: FlushScheduler) {
        raw = UnsafeMutableRawPointer.allocate(byteCount: Stream.handleSize, alignment: 16)
        self.kind = kind
        self.scheduler = scheduler
        switch kind {
        case .tcp: uv_tcp_init(loop.raw, raw.assumingMemoryBound(to: uv_tcp_t.self))
        case .pipe: uv_pipe_init(loop.raw, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        }
        handlePtr.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        writeRequestStorage?.deallocate()
        connectRequestStorage?.deallocate()
    }

    @inline(__always)
    static func from(_ handle: UnsafeMutableRawPointer?) -> Stream {
        Unmanaged<Stream>.fromOpaque(handle!.assumingMemoryBound(to: uv_handle_t.self).pointee.data).takeUnretainedValue()
    }

    /// Marks an accepted stream connected (the listener accepted into it).
    func markAccepted() {
        isConnected = true
        if kind == .tcp { uv_tcp_nodelay(raw.assumingMemoryBound(to: uv_tcp_t.self), 1) }
    }

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

    private var connectRequest: UnsafeMutablePointer<uv_connect_t> {
        if let r = connectRequestStorage { return r }
        let r = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        r.pointee.data = handlePtr.pointee.data
        connectRequestStorage = r
        return r
    }

    public func connect(to address: UnsafePointer<sockaddr>) -> Int32 {
        let r = uv_tcp_connect(connectRequest, raw.assumingMemoryBound(to: uv_tcp_t.self), address) { req, status in
            let s = Unmanaged<Stream>.fromOpaque(req!.pointee.data).takeUnretainedValue()
            s.connectFinished(status)
        }
        return r
    }

    public func connect(toPath path: String) {
        uv_pipe_connect(connectRequest, raw.assumingMemoryBound(to: uv_pipe_t.self), path) { req, status in
            let s = Unmanaged<Stream>.fromOpaque(req!.pointee.data).takeUnretainedValue()
            s.connectFinished(status)
        }
    }

    private func connectFinished(_ status: Int32) {
        if isClosed { return }
        if status < 0 { fail(status); return }
        isConnected = true
        if kind == .tcp { uv_tcp_nodelay(raw.assumingMemoryBound(to: uv_tcp_t.self), 1) }
        handler?.didConnect(self)
        if !output.isEmpty { scheduleFlush() }
    }

    @inline(__always)
    public func scheduleFlush() {
        if !flushScheduled && !isClosed {
            flushScheduled = true
            scheduler.scheduleFlush(self)
        }
    }

    /// Writes what `output` holds. Called once per loop turn by the scheduler.
    public func flush() {
        flushScheduled = false
        guard isConnected, !isClosed, !writeInFlight else { return }
        if output.isEmpty {
            if closeWhenDrained { closeDrained() }
            return
        }
        var buf = uv_buf_init(UnsafeMutableRawPointer(mutating: output.readable.baseAddress!).assumingMemoryBound(to: CChar.self),
                              UInt32(output.readableCount))
        let written = uv_try_write(streamPointer, &buf, 1)
        if written > 0 {
            output.consume(Int(written))
            handedOff &+= UInt64(written)
        } else if written != UV_EAGAIN.rawValue && written != UV_ENOSYS.rawValue {
            fail(written)
            return
        }
        if output.isEmpty {
            output.releaseIfIdle(threshold: Stream.idleBufferLimit)
            if closeWhenDrained { closeDrained() }
            return
        }
        // The socket took less than everything: hand the rest to uv_write, keep it alive in
        // `writing`, and gather new output in the other buffer meanwhile.
        handedOff &+= UInt64(output.readableCount)
        swap(&writing, &output)
        writeInFlight = true
        var rest = uv_buf_init(UnsafeMutableRawPointer(mutating: writing.readable.baseAddress!).assumingMemoryBound(to: CChar.self),
                               UInt32(writing.readableCount))
        let request: UnsafeMutablePointer<uv_write_t>
        if let r = writeRequestStorage {
            request = r
        } else {
            request = .allocate(capacity: 1)
            request.pointee.data = handlePtr.pointee.data
            writeRequestStorage = request
        }
        let r = uv_write(request, streamPointer, &rest, 1) { req, status in
            let s = Unmanaged<Stream>.fromOpaque(req!.pointee.data).takeUnretainedValue()
            s.writeFinished(status)
        }
        if r < 0 { writeInFlight = false; fail(r) }
    }

    /// A buffer emptied after a burst gives its memory back above this size, so an idle
    /// connection does not pin what one large reply needed.
    static let idleBufferLimit = 64 * 1024

    private func writeFinished(_ status: Int32) {
        writeInFlight = false
        writing.clear()
        writing.releaseIfIdle(threshold: Stream.idleBufferLimit)
        if isClosed { return }
        if status < 0 { fail(status); return }
        if !output.isEmpty || closeWhenDrained { flush() }
        if !isClosed && !writeInFlight { handler?.didDrain(self) }
    }

    /// Output buffers start at `bytes` instead of 4 KiB (for client streams: most replies
    /// are small, and idle clients are many).
    public func startBuffersSmall(_ bytes: Int) {
        output.minimumCapacity = bytes
        writing.minimumCapacity = bytes
    }

    /// Gives back the output buffers' memory when nothing is queued (an idle connection
    /// keeps none; the next reply allocates again).
    public func releaseIdleBuffers() {
        guard !writeInFlight else { return }
        output.releaseIfIdle(threshold: 0)
        writing.releaseIfIdle(threshold: 0)
    }

    /// Bytes ever taken out of `output` (written, or handed to a uv_write). A byte at
    /// stream offset `o` is still in `output`, unsent, when `o >= handedOff`; its index is
    /// `output.readIndex + (o - handedOff)`.
    public private(set) var handedOff: UInt64 = 0

    /// Stream offset one past the last byte appended to `output`.
    public var appendedEnd: UInt64 { handedOff &+ UInt64(output.readableCount) }

    /// The bytes queued and not yet written.
    public var pendingOutputBytes: Int { output.readableCount + (writeInFlight ? writing.readableCount : 0) }

    /// Closes after every queued byte is written (QUIT, protocol errors).
    public func closeAfterWriting() {
        closeWhenDrained = true
        if !writeInFlight { scheduleFlush() }
    }

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

    public func close() {
        if isClosed { return }
        isClosed = true
        if uv_is_closing(handlePtr) != 0 { return }
        uv_close(handlePtr) { h in
            let s = Unmanaged<Stream>.fromOpaque(h!.pointee.data)
            let stream = s.takeUnretainedValue()
            stream.handler = nil
            stream.raw.deallocate()
            s.release()
        }
    }
}

// The thin libuv layer: one EventLoop per thread, the one handle life cycle every libuv
// handle follows (LoopHandle), the small handles (timer, check, async, signal) and the one
// way threads are started. It knows nothing about Redis and must never block the loop.

import CLibUV

#if canImport(Glibc)
import Glibc
#endif

public final class EventLoop {
    /// Ownership: allocated here, closed and freed in deinit, after the loop's last run.
    let raw: UnsafeMutablePointer<uv_loop_t>

    public init() {
        raw = .allocate(capacity: 1)
        uv_loop_init(raw)
    }

    deinit {
        uv_loop_close(raw)
        raw.deallocate()
    }

    /// Runs until no active handle is left.
    public func run() { uv_run(raw, UV_RUN_DEFAULT) }

    /// Runs the loop on a new thread, keeping `owner` alive until the loop ends; join the
    /// returned thread after asking the loop to stop.
    public func runOnNewThread(owner: AnyObject) -> pthread_t {
        startThread { withExtendedLifetime(owner) { self.run() } }
    }

    /// The loop's cached clock in milliseconds (updated once per loop turn).
    @inline(__always) public var nowMs: UInt64 { uv_now(raw) }
}

/// Starts `body` on a new thread: the one place threads are made. `body` and what it
/// captures live until it returns; join the returned thread.
func startThread(_ body: @escaping () -> Void) -> pthread_t {
    final class Job {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    var thread = pthread_t()
    // +1 for the new thread, taken back (and released) by it.
    let job = Unmanaged.passRetained(Job(body)).toOpaque()
    pthread_create(&thread, nil, { arg in
        Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, job)
    return thread
}

public func uvErrorName(_ code: Int32) -> String {
    String(cString: uv_strerror(code))
}

/// The life cycle of every libuv handle the proxy owns (streams, listeners, timers, ...):
///  - the handle's memory is allocated once, here, and owned by this Swift object;
///  - once libuv has initialised it, `retainForLoop()` stores a +1 `Unmanaged` reference
///    to the owner in `handle.data`: libuv may call back until the handle is closed, so
///    the owner must outlive it;
///  - `close()` asks libuv to close; the close callback, and nothing else, releases that
///    reference and frees the memory (libuv touches the handle until then).
/// A handle never initialised by libuv is freed in deinit instead.
public class LoopHandle {
    /// The uv handle (uv_tcp_t, uv_timer_t, ...): see the life cycle above.
    final let raw: UnsafeMutableRawPointer
    private final var initialised = false
    public private(set) final var isClosed = false

    init(byteCount: Int) {
        raw = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 16)
    }

    deinit {
        // Only reachable for a handle libuv never knew: a live one is kept by its +1.
        if !initialised { raw.deallocate() }
    }

    @inline(__always) final var handlePointer: UnsafeMutablePointer<uv_handle_t> {
        raw.assumingMemoryBound(to: uv_handle_t.self)
    }

    /// Call once the handle is initialised by libuv (uv_timer_init, uv_tcp_init, ...).
    final func retainForLoop() {
        initialised = true
        handlePointer.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// The owner of a handle (or of a request whose `data` was copied from its handle's),
    /// inside a libuv callback.
    @inline(__always)
    static func owner<O: LoopHandle>(_ handle: UnsafeMutableRawPointer?, as: O.Type) -> O {
        Unmanaged<O>.fromOpaque(handle!.assumingMemoryBound(to: uv_handle_t.self).pointee.data).takeUnretainedValue()
    }

    /// Doesn't keep the loop alive on its own.
    public final func unref() { uv_unref(handlePointer) }

    /// Subclasses drop their callbacks here (when the close is asked for).
    func willClose() {}
    /// Subclasses let go of what they hold here (in the close callback, before the release).
    func didClose() {}

    public final func close() {
        if isClosed { return }
        isClosed = true
        willClose()
        guard initialised, uv_is_closing(handlePointer) == 0 else { return }
        uv_close(handlePointer) { h in
            let me = Unmanaged<LoopHandle>.fromOpaque(h!.pointee.data)
            let handle = me.takeUnretainedValue()
            handle.didClose()
            handle.raw.deallocate()
            me.release()
        }
    }
}

/// A repeating or one-shot timer with a callback set once (not a per-call closure).
public final class LoopTimer: LoopHandle {
    private var callback: (() -> Void)?
    private var timer: UnsafeMutablePointer<uv_timer_t> { raw.assumingMemoryBound(to: uv_timer_t.self) }

    public init(_ loop: EventLoop, _ callback: @escaping () -> Void) {
        self.callback = callback
        super.init(byteCount: MemoryLayout<uv_timer_t>.size)
        uv_timer_init(loop.raw, timer)
        retainForLoop()
    }

    public func start(afterMs: UInt64, repeatMs: UInt64) {
        uv_timer_start(timer, { t in LoopHandle.owner(t, as: LoopTimer.self).callback?() }, afterMs, repeatMs)
    }

    public func stop() { uv_timer_stop(timer) }

    override func willClose() { callback = nil }
}

/// Runs a callback once per loop turn, right after I/O callbacks: the point where all
/// output gathered during the turn is written, one write per connection.
public final class LoopCheck: LoopHandle {
    private var callback: (() -> Void)?

    public init(_ loop: EventLoop, _ callback: @escaping () -> Void) {
        self.callback = callback
        super.init(byteCount: MemoryLayout<uv_check_t>.size)
        let check = raw.assumingMemoryBound(to: uv_check_t.self)
        uv_check_init(loop.raw, check)
        retainForLoop()
        uv_check_start(check) { c in LoopHandle.owner(c, as: LoopCheck.self).callback?() }
        // A check handle alone must not keep the loop running.
        unref()
    }

    override func willClose() { callback = nil }
}

/// The one thread-safe libuv call: wakes the loop from another thread. Sends coalesce, so
/// the callback must handle every request made since the last one.
public final class LoopAsync: LoopHandle, @unchecked Sendable {
    private var callback: (() -> Void)?

    public init(_ loop: EventLoop, _ callback: @escaping () -> Void) {
        self.callback = callback
        super.init(byteCount: MemoryLayout<uv_async_t>.size)
        // `data` is set before any send can happen: the handle is not shared until init ends.
        uv_async_init(loop.raw, raw.assumingMemoryBound(to: uv_async_t.self)) { a in
            LoopHandle.owner(a, as: LoopAsync.self).callback?()
        }
        retainForLoop()
    }

    public func send() { uv_async_send(raw.assumingMemoryBound(to: uv_async_t.self)) }

    override func willClose() { callback = nil }
}

/// A signal watcher (SIGTERM, SIGINT) delivered on the loop's thread.
public final class LoopSignal: LoopHandle {
    private var callback: ((Int32) -> Void)?

    public init(_ loop: EventLoop, signal: Int32, _ callback: @escaping (Int32) -> Void) {
        self.callback = callback
        super.init(byteCount: MemoryLayout<uv_signal_t>.size)
        let handle = raw.assumingMemoryBound(to: uv_signal_t.self)
        uv_signal_init(loop.raw, handle)
        retainForLoop()
        uv_signal_start(handle, { s, signum in LoopHandle.owner(s, as: LoopSignal.self).callback?(signum) }, signal)
    }

    override func willClose() { callback = nil }
}

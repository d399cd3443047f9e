// The thin libuv layer: one EventLoop per worker thread, and small owners for the handles
// the proxy uses. It knows nothing about Redis. Ownership rule for every handle here: the
// memory is allocated once by its Swift owner, `handle.data` holds a +1 reference to that
// owner taken at init, and the close callback releases it and frees the memory; nothing
// else releases it.

import CLibUV

public final class EventLoop {
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
        final class Job { let loop: EventLoop; let owner: AnyObject; init(_ l: EventLoop, _ o: AnyObject) { loop = l; owner = o } }
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Job(self, owner)).toOpaque()
        pthread_create(&thread, nil, { arg in
            let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
            job.loop.run()
            return nil
        }, box)
        return thread
    }

    /// The loop's cached clock in milliseconds (updated once per loop turn).
    @inline(__always) public var nowMs: UInt64 { uv_now(raw) }
}

@inline(__always)
func handlePointer<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_handle_t.self)
}

public func uvErrorName(_ code: Int32) -> String {
    String(cString: uv_strerror(code))
}

/// The common life cycle of the small handles below: memory allocated once, `data` holding
/// a +1 reference taken at init, released (and the memory freed) in the close callback.
public class LoopHandle {
    let raw: UnsafeMutableRawPointer
    private var closed = false

    init<T>(_ type: T.Type) {
        raw = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<T>.size, alignment: 16)
    }

    /// Call once the handle is initialised by libuv.
    func retainForLoop() {
        raw.assumingMemoryBound(to: uv_handle_t.self).pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    @inline(__always)
    static func owner<O: LoopHandle>(_ handle: UnsafeMutableRawPointer?, as: O.Type) -> O {
        Unmanaged<O>.fromOpaque(handle!.assumingMemoryBound(to: uv_handle_t.self).pointee.data).takeUnretainedValue()
    }

    /// Doesn't keep the loop alive on its own.
    public func unref() { uv_unref(raw.assumingMemoryBound(to: uv_handle_t.self)) }

    /// Subclasses drop their callback here.
    func willClose() {}

    public func close() {
        if closed { return }
        closed = true
        willClose()
        uv_close(raw.assumingMemoryBound(to: uv_handle_t.self)) { h in
            let me = Unmanaged<LoopHandle>.fromOpaque(h!.pointee.data)
            me.takeUnretainedValue().raw.deallocate()
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
        super.init(uv_timer_t.self)
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
        super.init(uv_check_t.self)
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
        super.init(uv_async_t.self)
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
        super.init(uv_signal_t.self)
        let handle = raw.assumingMemoryBound(to: uv_signal_t.self)
        uv_signal_init(loop.raw, handle)
        retainForLoop()
        uv_signal_start(handle, { s, signum in LoopHandle.owner(s, as: LoopSignal.self).callback?(signum) }, signal)
    }

    override func willClose() { callback = nil }
}

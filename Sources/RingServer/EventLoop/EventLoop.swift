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

/// A repeating or one-shot timer with a callback set once (not a per-call closure).
public final class LoopTimer {
    private let raw: UnsafeMutablePointer<uv_timer_t>
    private var callback: (() -> Void)?
    private var closed = false

    public init(_ loop: EventLoop, _ callback: @escaping () -> Void) {
        raw = .allocate(capacity: 1)
        uv_timer_init(loop.raw, raw)
        self.callback = callback
        raw.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public func start(afterMs: UInt64, repeatMs: UInt64) {
        uv_timer_start(raw, { t in
            let me = Unmanaged<LoopTimer>.fromOpaque(t!.pointee.data).takeUnretainedValue()
            me.callback?()
        }, afterMs, repeatMs)
    }

    public func stop() { uv_timer_stop(raw) }

    /// Doesn't keep the loop alive on its own.
    public func unref() { uv_unref(handlePointer(raw)) }

    public func close() {
        if closed { return }
        closed = true
        callback = nil
        uv_close(handlePointer(raw)) { h in
            Unmanaged<LoopTimer>.fromOpaque(h!.pointee.data).release()
            h!.deallocate()
        }
    }
}

/// Runs a callback once per loop turn, right after I/O callbacks: the point where all
/// output gathered during the turn is written, one write per connection.
public final class LoopCheck {
    private let raw: UnsafeMutablePointer<uv_check_t>
    private var callback: (() -> Void)?
    private var closed = false

    public init(_ loop: EventLoop, _ callback: @escaping () -> Void) {
        raw = .allocate(capacity: 1)
        uv_check_init(loop.raw, raw)
        self.callback = callback
        raw.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_check_start(raw) { c in
            Unmanaged<LoopCheck>.fromOpaque(c!.pointee.data).takeUnretainedValue().callback?()
        }
        // A check handle alone must not keep the loop running.
        uv_unref(handlePointer(raw))
    }

    public func close() {
        if closed { return }
        closed = true
        callback = nil
        uv_close(handlePointer(raw)) { h in
            Unmanaged<LoopCheck>.fromOpaque(h!.pointee.data).release()
            h!.deallocate()
        }
    }
}

/// The one thread-safe libuv call: wakes the loop from another thread. Sends coalesce, so
/// the callback must handle every request made since the last one.
public final class LoopAsync: @unchecked Sendable {
    private let raw: UnsafeMutablePointer<uv_async_t>
    private var callback: (() -> Void)?
    private var closed = false

    public init(_ loop: EventLoop, _ callback: @escaping () -> Void) {
        raw = .allocate(capacity: 1)
        self.callback = callback
        uv_async_init(loop.raw, raw) { a in
            Unmanaged<LoopAsync>.fromOpaque(a!.pointee.data).takeUnretainedValue().callback?()
        }
        raw.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public func send() { uv_async_send(raw) }

    public func close() {
        if closed { return }
        closed = true
        callback = nil
        uv_close(handlePointer(raw)) { h in
            Unmanaged<LoopAsync>.fromOpaque(h!.pointee.data).release()
            h!.deallocate()
        }
    }
}

/// A signal watcher (SIGTERM, SIGINT) delivered on the loop's thread.
public final class LoopSignal {
    private let raw: UnsafeMutablePointer<uv_signal_t>
    private var callback: ((Int32) -> Void)?
    private var closed = false

    public init(_ loop: EventLoop, signal: Int32, _ callback: @escaping (Int32) -> Void) {
        raw = .allocate(capacity: 1)
        uv_signal_init(loop.raw, raw)
        self.callback = callback
        raw.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_signal_start(raw, { s, signum in
            Unmanaged<LoopSignal>.fromOpaque(s!.pointee.data).takeUnretainedValue().callback?(signum)
        }, signal)
    }

    public func close() {
        if closed { return }
        closed = true
        callback = nil
        uv_close(handlePointer(raw)) { h in
            Unmanaged<LoopSignal>.fromOpaque(h!.pointee.data).release()
            h!.deallocate()
        }
    }
}

// The write bookkeeping of one connection without I/O (after SwiftNIO's
// PendingStreamWritesState): queued, in-flight and sent bytes by stream offset. It never
// touches a socket and never allocates per write; RingServer's Stream does the writing.

/// Offsets here are stream offsets: every byte ever appended to the connection's output is
/// numbered from 0, so a request's place in the stream survives the buffers' compaction and
/// swaps. Bytes at offsets below `handedOff` are gone to the socket (written, or owned by the
/// asynchronous write in flight) and cannot be taken back; the rest are still in `output`.
public struct PendingWrites {
    /// Bytes appended and not yet offered to the socket. Callers append to it directly and
    /// may hold the reference within one loop turn only: `handOffRemainder` swaps it with the
    /// in-flight buffer.
    @usableFromInline var pending: ByteBuffer
    /// Bytes owned by the asynchronous write in flight: libuv keeps pointers into them until
    /// its callback, so nothing touches them until `asyncWriteFinished`.
    @usableFromInline var inFlight: ByteBuffer
    @usableFromInline var writeInFlight = false
    @usableFromInline var handedOffCount: UInt64 = 0
    @usableFromInline var closeRequested = false

    public init() {
        pending = ByteBuffer()
        inFlight = ByteBuffer()
    }

    // MARK: state

    /// Where appended bytes go (see `pending`).
    @inlinable public var output: ByteBuffer { pending }
    /// Bytes taken out of `output` so far: written at once, or handed to an asynchronous write.
    @inlinable public var handedOff: UInt64 { handedOffCount }
    /// The stream offset one past the last byte appended: where the next append starts.
    @inlinable public var appendedEnd: UInt64 { handedOffCount &+ UInt64(pending.readableCount) }
    /// Bytes queued and not yet written: `output`'s and the asynchronous write's.
    @inlinable public var pendingBytes: Int { pending.readableCount + (writeInFlight ? inFlight.readableCount : 0) }
    @inlinable public var isWriteInFlight: Bool { writeInFlight }
    /// Nothing appended is waiting, and no write is in flight.
    @inlinable public var isDrained: Bool { pending.isEmpty && !writeInFlight }
    /// The owner asked to close once every appended byte is written.
    @inlinable public var closeWhenDrained: Bool { closeRequested }
    /// Drained and asked to close: the owner closes now.
    @inlinable public var shouldCloseNow: Bool { closeRequested && isDrained }

    // MARK: writing

    @inlinable public func append(_ bytes: UnsafeRawBufferPointer) { pending.append(bytes) }

    /// The bytes to offer the socket now, or nil: nothing is waiting, or a write is in flight
    /// (bytes must leave in order, so the next chunk waits for it).
    @inlinable public func nextChunk() -> UnsafeRawBufferPointer? {
        if writeInFlight || pending.isEmpty { return nil }
        return pending.readable
    }

    /// The socket took the first `count` bytes of `nextChunk()` at once.
    @inlinable public mutating func didWrite(_ count: Int) {
        pending.consume(count)
        handedOffCount &+= UInt64(count)
        if pending.isEmpty { pending.releaseIfIdle(threshold: ByteBuffer.idleLimit) }
    }

    /// The rest of `output` goes to an asynchronous write: the buffers swap, so new output
    /// gathers in the other one meanwhile. The returned bytes stay valid and unchanged until
    /// `asyncWriteFinished()`. Only when `nextChunk()` is not nil.
    @inlinable public mutating func handOffRemainder() -> UnsafeRawBufferPointer {
        precondition(!writeInFlight && !pending.isEmpty, "nothing to hand off, or a write is in flight")
        handedOffCount &+= UInt64(pending.readableCount)
        swap(&pending, &inFlight)
        writeInFlight = true
        return inFlight.readable
    }

    /// The asynchronous write completed, failed or was cancelled: its buffer is free again.
    @inlinable public mutating func asyncWriteFinished() {
        writeInFlight = false
        inFlight.clear()
        inFlight.releaseIfIdle(threshold: ByteBuffer.idleLimit)
    }

    /// Close once everything appended is written (see `shouldCloseNow`).
    public mutating func closeAfterWriting() { closeRequested = true }

    // MARK: what has not left

    /// True when the byte at stream offset `offset` is still in `output`, unsent.
    @inlinable public func isUnsent(_ offset: UInt64) -> Bool { offset >= handedOffCount }

    /// The bytes appended from stream offset `offset` on, when none of them has left yet;
    /// nil when some have (or `offset` lies past the end). Valid until the next append.
    @inlinable public func unsent(from offset: UInt64) -> UnsafeRawBufferPointer? {
        guard offset >= handedOffCount, offset <= appendedEnd else { return nil }
        let start = Int(offset &- handedOffCount)
        return UnsafeRawBufferPointer(rebasing: pending.readable[start...])
    }

    /// Of the bytes appended from stream offset `offset` on, how many have left.
    @inlinable public func handedOffBytes(since offset: UInt64) -> Int {
        handedOffCount > offset ? Int(handedOffCount &- offset) : 0
    }

    // MARK: memory

    /// Buffers start at `bytes` instead of 4 KiB (client streams: most replies are small,
    /// and idle clients are many).
    public func startSmall(_ bytes: Int) {
        pending.minimumCapacity = bytes
        inFlight.minimumCapacity = bytes
    }

    /// Gives both buffers' memory back when nothing is queued or in flight.
    public func releaseIdleBuffers() {
        guard !writeInFlight else { return }
        pending.releaseIfIdle(threshold: 0)
        inFlight.releaseIfIdle(threshold: 0)
    }
}

// The replies one client is owed, in request order. Each request takes the next sequence
// number and a slot; a reply for the head slot goes straight to the client's output (the
// common case), a reply that overtakes earlier ones is parked until they are written.
// Pure bookkeeping over buffers the caller owns; no I/O and no allocation per request
// except parked out-of-order replies.

public struct ReplySlot {
    public var ready: Bool
    /// A reply that arrived before earlier ones: where it lies in `parked` (length 0 while
    /// pending, or for a reply that was written straight out).
    public var parkedOffset: Int = 0
    public var parkedLength: Int = 0
    /// Set for a split command until all its parts have answered.
    public var merge: MergeState?

    public static let pending = ReplySlot(ready: false)
}

public struct ReplyOrder {
    /// Empty until the first request: 10,000 connected clients that never send hold none.
    @usableFromInline var slots = RingQueue<ReplySlot>(initialCapacity: 0)
    /// Replies that arrived before earlier ones, appended as they come and copied out in
    /// request order; cleared whenever none is left, so it is reused instead of allocating
    /// per parked reply. Made on first use.
    private var parked: ByteBuffer?
    private var parkedCount = 0
    /// Sequence number of `slots[0]`; the next request gets `nextSequence`.
    public private(set) var headSequence: UInt64 = 0
    public private(set) var nextSequence: UInt64 = 0

    /// A parked-reply buffer starts at this size: a few typical replies.
    static let parkedInitialCapacity = 4096

    public init() {}

    /// Replies still owed.
    @inlinable public var pendingCount: Int { slots.count }
    @inlinable public var isEmpty: Bool { slots.isEmpty }

    /// Reserves the slot of a forwarded request; its reply comes with the returned number.
    public mutating func reserve(merge: MergeState? = nil) -> UInt64 {
        let sequence = nextSequence
        nextSequence &+= 1
        slots.append(merge == nil ? .pending : ReplySlot(ready: false, merge: merge))
        return sequence
    }

    /// The slot index of `sequence`, or nil when it is not owed (the client reset).
    @inlinable
    public func index(of sequence: UInt64) -> Int? {
        let index = Int(truncatingIfNeeded: sequence &- headSequence)
        return index >= 0 && index < slots.count ? index : nil
    }

    public func merge(at index: Int) -> MergeState? { slots[index].merge }

    /// The reply for the slot at `index`: written to `out` at once if it is the head (and
    /// the parked replies behind it with it), else parked. Returns true when `out` grew.
    public mutating func deliver(at index: Int, _ reply: UnsafeRawBufferPointer, into out: ByteBuffer) -> Bool {
        if index == 0 {
            out.append(reply)
            popHead()
            drainReady(into: out)
            return true
        }
        slots[index] = park(reply)
        return false
    }

    /// A split command whose parts have all answered: its merged reply, in its turn.
    public mutating func completeMerge(at index: Int, _ merge: MergeState, version: RESPVersion,
                                       into out: ByteBuffer, scratch: ByteBuffer) -> Bool {
        if index == 0 {
            merge.write(into: out, version: version)
            popHead()
            drainReady(into: out)
            return true
        }
        scratch.clear()
        merge.write(into: scratch, version: version)
        slots[index] = park(scratch.readable)
        return false
    }

    /// A reply the proxy builds itself: written now if nothing is owed before it, else
    /// built in `scratch` and parked in a slot of its own. Returns true when `out` grew.
    public mutating func appendLocal(into out: ByteBuffer, scratch: ByteBuffer, _ build: (ByteBuffer) -> Void) -> Bool {
        if slots.isEmpty {
            build(out)
            headSequence &+= 1
            nextSequence &+= 1
            return true
        }
        scratch.clear()
        build(scratch)
        slots.append(park(scratch.readable))
        nextSequence &+= 1
        return false
    }

    /// Keeps an early reply until the ones before it are written.
    private mutating func park(_ reply: UnsafeRawBufferPointer) -> ReplySlot {
        let p: ByteBuffer
        if let existing = parked { p = existing } else { p = ByteBuffer(capacity: ReplyOrder.parkedInitialCapacity); parked = p }
        let offset = p.readableCount
        p.append(reply)
        parkedCount += 1
        return ReplySlot(ready: true, parkedOffset: offset, parkedLength: reply.count)
    }

    @inline(__always)
    private mutating func popHead() {
        _ = slots.popFirst()
        headSequence &+= 1
    }

    /// Moves replies parked behind the head to `out`, in order.
    private mutating func drainReady(into out: ByteBuffer) {
        while let first = slots.first, first.ready {
            if first.parkedLength > 0, let p = parked {
                out.append(UnsafeRawBufferPointer(rebasing: p.readable[first.parkedOffset..<(first.parkedOffset + first.parkedLength)]))
                parkedCount -= 1
                if parkedCount == 0 { p.clear(); p.releaseIfIdle(threshold: ByteBuffer.idleLimit) }
            }
            popHead()
        }
    }

    /// An idle client keeps no slot or parked storage.
    public mutating func releaseIdleStorage() {
        guard slots.isEmpty else { return }
        parked?.releaseIfIdle(threshold: 0)
        slots.releaseIfEmpty()
    }

    /// The client is gone: nothing is owed any more.
    public mutating func removeAll() {
        slots.removeAll()
    }
}

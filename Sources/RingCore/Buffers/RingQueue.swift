// A FIFO on a circular array (push at the tail, pop at the head, index from the head) for
// queues of structs that must never allocate per element. Everything is @inlinable, so
// RingServer's uses are specialised rather than run as generic code with run-time lookups.

public struct RingQueue<Element> {
    @usableFromInline var storage: [Element?]
    @usableFromInline var head: Int = 0
    @usableFromInline var stored: Int = 0
    @inlinable public var count: Int { stored }

    /// `initialCapacity` 0 allocates nothing until the first append (a client that has sent
    /// nothing yet holds no storage).
    @inlinable public init(initialCapacity: Int = 16) {
        if initialCapacity <= 0 { storage = []; return }
        var c = 1
        while c < initialCapacity { c <<= 1 }
        storage = Array(repeating: nil, count: c)
    }

    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable public mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) & (storage.count - 1)] = element
        stored += 1
    }

    @discardableResult
    @inlinable public mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let e = storage[head]
        storage[head] = nil
        head = (head + 1) & (storage.count - 1)
        stored -= 1
        return e
    }

    @discardableResult
    @inlinable public mutating func removeLast() -> Element? {
        guard count > 0 else { return nil }
        let i = (head + count - 1) & (storage.count - 1)
        let e = storage[i]
        storage[i] = nil
        stored -= 1
        return e
    }

    @inlinable public var first: Element? { count > 0 ? storage[head] : nil }

    /// The element `offset` places after the head; `offset` must be below `count`.
    @inlinable public subscript(offset: Int) -> Element {
        get {
            precondition(offset >= 0 && offset < count)
            return storage[(head + offset) & (storage.count - 1)]!
        }
        set {
            precondition(offset >= 0 && offset < count)
            storage[(head + offset) & (storage.count - 1)] = newValue
        }
    }

    @inlinable public mutating func removeAll() {
        while popFirst() != nil {}
        head = 0
    }

    /// Frees the storage when nothing is queued; the next append allocates again.
    @inlinable public mutating func releaseIfEmpty() {
        if count == 0 && !storage.isEmpty { storage = []; head = 0 }
    }

    /// Doubles the storage (from nothing: to two elements).
    @usableFromInline mutating func grow() {
        var fresh = [Element?](repeating: nil, count: Swift.max(storage.count * 2, 2))
        for i in 0..<count { fresh[i] = storage[(head + i) & (storage.count - 1)] }
        storage = fresh
        head = 0
    }
}

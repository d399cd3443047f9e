// A growable byte buffer with a read and a write index, for socket input and output.
// One is allocated per connection (never per request) and reused; it owns its memory and
// frees it in deinit. It never shrinks on its own: callers decide with `releaseIfIdle`.

public final class ByteBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>?
    public private(set) var capacity: Int = 0
    public var readIndex: Int = 0
    public var writeIndex: Int = 0
    /// The first allocation's size. 4 KiB suits connections that carry many requests; a
    /// client's reply buffer starts smaller, since thousands of mostly idle clients would
    /// otherwise hold 4 KiB each for a PONG.
    public var minimumCapacity = 4096

    public init(capacity: Int = 0) {
        if capacity > 0 { grow(to: capacity) }
    }

    deinit { base?.deallocate() }

    @inlinable public var readableCount: Int { writeIndex - readIndex }
    @inlinable public var isEmpty: Bool { writeIndex == readIndex }
    @inlinable public var writableCount: Int { capacity - writeIndex }

    /// The unread bytes. Valid until the next call that appends or reserves.
    @inlinable public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { UnsafeRawPointer($0 + readIndex) }, count: readableCount)
    }

    /// Makes room for `count` more bytes after `writeIndex`, first by moving unread bytes to
    /// the front, then by doubling.
    public func reserve(_ count: Int) {
        if capacity - writeIndex >= count { return }
        if readIndex > 0 {
            let live = readableCount
            if live > 0, let b = base { (b).update(from: b + readIndex, count: live) }
            readIndex = 0
            writeIndex = live
            if capacity - writeIndex >= count { return }
        }
        var newCapacity = Swift.max(capacity * 2, minimumCapacity)
        while newCapacity - writeIndex < count { newCapacity *= 2 }
        grow(to: newCapacity)
    }

    private func grow(to newCapacity: Int) {
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        if let old = base {
            if writeIndex > readIndex { fresh.update(from: old + readIndex, count: writeIndex - readIndex) }
            old.deallocate()
        }
        writeIndex -= readIndex
        readIndex = 0
        base = fresh
        capacity = newCapacity
    }

    /// Where the next `count` bytes may be written; call `commit` with what was written.
    @inlinable public func writableSpace(minimum count: Int) -> UnsafeMutablePointer<UInt8> {
        reserve(count)
        return base! + writeIndex
    }

    @inlinable public func commit(_ count: Int) { writeIndex += count }

    @inlinable public func append(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        if n == 0 { return }
        reserve(n)
        UnsafeMutableRawPointer(base! + writeIndex).copyMemory(from: bytes.baseAddress!, byteCount: n)
        writeIndex += n
    }

    @inlinable public func append(_ byte: UInt8) {
        reserve(1)
        base![writeIndex] = byte
        writeIndex += 1
    }

    public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    public func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public func append(string: String) {
        var s = string
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends `value` in decimal ASCII without allocating.
    public func appendDecimal(_ value: Int) {
        reserve(20)
        var v = value.magnitude
        if value < 0 { base![writeIndex] = UInt8(ascii: "-"); writeIndex += 1 }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        let n: Int = withUnsafeMutableBytes(of: &digits) { scratch in
            var i = 0
            repeat {
                scratch[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                i += 1
            } while v > 0
            for j in 0..<i { base![writeIndex + j] = scratch[i - 1 - j] }
            return i
        }
        writeIndex += n
    }

    /// Marks `count` bytes as read; an emptied buffer starts again at offset 0.
    @inlinable public func consume(_ count: Int) {
        readIndex += count
        if readIndex == writeIndex { readIndex = 0; writeIndex = 0 }
    }

    @inlinable public func clear() { readIndex = 0; writeIndex = 0 }

    /// A buffer emptied after a burst gives its memory back above this size, so an idle
    /// connection does not pin what one large reply needed.
    public static let idleLimit = 64 * 1024

    /// Frees the memory of an empty buffer larger than `threshold`, so one burst does not
    /// pin a large allocation on an idle connection.
    public func releaseIfIdle(threshold: Int) {
        guard isEmpty, capacity > threshold, let b = base else { return }
        b.deallocate()
        base = nil
        capacity = 0
        readIndex = 0
        writeIndex = 0
    }

    public var bytes: [UInt8] { Array(readable) }
}

// Checks RingQueue: FIFO order across wrap-around and growth, and a queue made with no
// capacity (as a client's reply slots are) allocating on first use and freeing when emptied.
import XCTest
@testable import RingCore

final class RingQueueTests: XCTestCase {
    func testOrderAcrossWrapAndGrowth() {
        var q = RingQueue<Int>(initialCapacity: 4)
        var expected: [Int] = []
        var next = 0
        // Interleave pushes and pops so the head wraps before each growth.
        for round in 0..<50 {
            for _ in 0..<(round % 7 + 1) { q.append(next); expected.append(next); next += 1 }
            for _ in 0..<(round % 5) where !expected.isEmpty {
                XCTAssertEqual(q.popFirst(), expected.removeFirst())
            }
            XCTAssertEqual(q.count, expected.count)
            for (i, e) in expected.enumerated() { XCTAssertEqual(q[i], e) }
        }
        XCTAssertEqual(q.removeLast(), expected.removeLast())
        while let e = q.popFirst() { XCTAssertEqual(e, expected.removeFirst()) }
        XCTAssertTrue(expected.isEmpty)
    }

    func testEmptyCapacityAllocatesOnFirstUseAndReleases() {
        var q = RingQueue<Int>(initialCapacity: 0)
        XCTAssertEqual(q.storage.count, 0)
        XCTAssertNil(q.popFirst())
        XCTAssertNil(q.removeLast())
        XCTAssertNil(q.first)
        q.append(1)
        XCTAssertEqual(q.storage.count, 2)
        q.append(2); q.append(3)
        XCTAssertEqual(q.storage.count, 4)
        q.releaseIfEmpty()
        XCTAssertEqual(q.storage.count, 4, "a queue holding elements keeps its storage")
        XCTAssertEqual([q.popFirst(), q.popFirst(), q.popFirst()], [1, 2, 3])
        q.releaseIfEmpty()
        XCTAssertEqual(q.storage.count, 0)
        q.append(7)
        XCTAssertEqual(q.first, 7)
        XCTAssertEqual(q.count, 1)
    }
}

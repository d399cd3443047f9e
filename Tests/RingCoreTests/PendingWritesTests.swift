// PendingWrites without a socket: stream offsets across partial writes and the hand-off to
// an asynchronous write, what is still unsent (for resending), and close-when-drained.
import RingCore
import XCTest

final class PendingWritesTests: XCTestCase {
    func append(_ w: PendingWrites, _ text: String) { Array(text.utf8).withUnsafeBytes { w.append($0) } }
    func string(_ b: UnsafeRawBufferPointer?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

    func testPartialWriteThenHandOff() {
        var w = PendingWrites()
        XCTAssertNil(w.nextChunk())
        XCTAssertTrue(w.isDrained)
        append(w, "GET a\r\n")
        XCTAssertEqual(w.appendedEnd, 7)
        let second = w.appendedEnd
        append(w, "GET b\r\n")
        XCTAssertEqual(string(w.nextChunk()), "GET a\r\nGET b\r\n")

        w.didWrite(3)  // the socket took "GET"
        XCTAssertEqual(w.handedOff, 3)
        XCTAssertEqual(w.pendingBytes, 11)
        XCTAssertNil(w.unsent(from: 0), "part of the first request has left")
        XCTAssertEqual(string(w.unsent(from: second)), "GET b\r\n")
        XCTAssertTrue(w.isUnsent(second))
        XCTAssertEqual(w.handedOffBytes(since: 0), 3)

        let rest = w.handOffRemainder()
        XCTAssertEqual(String(decoding: rest, as: UTF8.self), " a\r\nGET b\r\n")
        XCTAssertTrue(w.isWriteInFlight)
        XCTAssertNil(w.nextChunk(), "nothing more goes out while a write is in flight")
        XCTAssertEqual(w.handedOff, 14)
        XCTAssertFalse(w.isUnsent(second))
        XCTAssertEqual(w.handedOffBytes(since: second), 7)

        // New output gathers in the other buffer; the in-flight bytes stay as they were.
        append(w, "GET c\r\n")
        XCTAssertEqual(String(decoding: rest, as: UTF8.self), " a\r\nGET b\r\n")
        XCTAssertEqual(w.pendingBytes, 18)
        XCTAssertEqual(w.appendedEnd, 21)
        XCTAssertEqual(string(w.unsent(from: 14)), "GET c\r\n")

        w.asyncWriteFinished()
        XCTAssertFalse(w.isWriteInFlight)
        XCTAssertEqual(w.pendingBytes, 7)
        XCTAssertEqual(string(w.nextChunk()), "GET c\r\n")
        w.didWrite(7)
        XCTAssertTrue(w.isDrained)
        XCTAssertEqual(w.handedOff, 21)
        XCTAssertEqual(string(w.unsent(from: 21)), "", "the end is unsent and empty")
        XCTAssertNil(w.unsent(from: 22), "past the end")
    }

    func testCloseWhenDrained() {
        var w = PendingWrites()
        append(w, "+OK\r\n")
        w.closeAfterWriting()
        XCTAssertTrue(w.closeWhenDrained)
        XCTAssertFalse(w.shouldCloseNow, "bytes still queued")
        _ = w.handOffRemainder()
        XCTAssertFalse(w.shouldCloseNow, "a write is in flight")
        w.asyncWriteFinished()
        XCTAssertTrue(w.shouldCloseNow)
    }

    func testIdleBuffersAreGivenBack() {
        var w = PendingWrites()
        w.startSmall(256)
        append(w, "x")
        XCTAssertEqual(w.output.capacity, 256)
        w.didWrite(1)
        w.releaseIdleBuffers()
        XCTAssertEqual(w.output.capacity, 0)
        // A large burst is let go once written, a small one kept (below the idle limit).
        append(w, String(repeating: "y", count: ByteBuffer.idleLimit + 1))
        w.didWrite(w.pendingBytes)
        XCTAssertEqual(w.output.capacity, 0)
    }
}

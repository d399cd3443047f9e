// A MergeState reused through `reset` (as workers recycle them) merges exactly like a fresh
// one: nothing of the previous command's keys, values, sums or errors leaks into the next.
import XCTest
@testable import RingCore

final class MergeReuseTests: XCTestCase {
    func merged(_ s: MergeState, _ version: RESPVersion = .resp2) -> String {
        let out = ByteBuffer()
        s.write(into: out, version: version)
        return String(decoding: out.readable, as: UTF8.self)
    }

    func feed(_ s: MergeState, part: Int, _ reply: String) {
        Array(reply.utf8).withUnsafeBytes { s.apply(part: part, reply: $0) }
    }

    func testResetClearsEverything() {
        let s = MergeState(kind: .values, keyCount: 3, parts: 2)
        s.assign(position: 0, toPart: 0)
        s.assign(position: 1, toPart: 1)
        s.assign(position: 2, toPart: 0)
        feed(s, part: 1, "*1\r\n$1\r\nb\r\n")
        feed(s, part: 0, "*2\r\n$1\r\na\r\n$1\r\nc\r\n")
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(merged(s), "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n")

        // An error-answering MSET on the same object.
        s.reset(kind: .allOK, keyCount: 2, parts: 2)
        XCTAssertFalse(s.isComplete)
        feed(s, part: 0, "+OK\r\n")
        s.fail(part: 1, error: Array("-ERR down\r\n".utf8))
        XCTAssertEqual(merged(s), "-ERR down\r\n")
        XCTAssertEqual(s.failedParts, 1)

        // A sum: no error left over from the MSET.
        s.reset(kind: .sum, keyCount: 4, parts: 2)
        feed(s, part: 0, ":2\r\n")
        feed(s, part: 1, ":1\r\n")
        XCTAssertEqual(merged(s), ":3\r\n")
        XCTAssertEqual(s.failedParts, 0)

        // Fewer keys than the first use, one part failed: nil for its key only.
        s.reset(kind: .values, keyCount: 2, parts: 2)
        s.assign(position: 0, toPart: 1)
        s.assign(position: 1, toPart: 0)
        feed(s, part: 1, "*1\r\n$5\r\nfirst\r\n")
        s.fail(part: 0, error: Array("-ERR down\r\n".utf8))
        XCTAssertEqual(merged(s), "*2\r\n$5\r\nfirst\r\n$-1\r\n")
        XCTAssertEqual(merged(s, .resp3), "*2\r\n$5\r\nfirst\r\n_\r\n")
    }
}

// Checks multi-key splitting and merging: writeSplitCommand's bytes and MergeState's merged replies.
import XCTest
@testable import RingCore

final class MergeTests: XCTestCase {
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func merged(_ state: MergeState, _ version: RESPVersion = .resp2) -> String {
        let out = ByteBuffer()
        state.write(into: out, version: version)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    static func apply(_ state: MergeState, part: Int, _ reply: String) {
        b(reply).withUnsafeBytes { state.apply(part: part, reply: $0) }
    }

    // MARK: MGET (.values)

    /// MGET k0 k1 k2 k3 with k0, k2 on part 0 and k1, k3 on part 1.
    static func mget4() -> MergeState {
        let s = MergeState(kind: .values, keyCount: 4, parts: 2)
        s.assign(position: 0, toPart: 0)
        s.assign(position: 2, toPart: 0)
        s.assign(position: 1, toPart: 1)
        s.assign(position: 3, toPart: 1)
        return s
    }

    func testValuesAssembleInClientOrderWithNils() {
        let s = Self.mget4()
        Self.apply(s, part: 1, "*2\r\n$2\r\nv1\r\n$-1\r\n")  // parts may answer in any order
        XCTAssertFalse(s.isComplete)
        XCTAssertEqual(s.outstanding, 1)
        Self.apply(s, part: 0, "*2\r\n$4\r\nv\r\n0\r\n$0\r\n\r\n")
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(Self.merged(s), "*4\r\n$4\r\nv\r\n0\r\n$2\r\nv1\r\n$0\r\n\r\n$-1\r\n")
    }

    func testValuesPassRESP3NullsThrough() {
        let s = Self.mget4()
        Self.apply(s, part: 0, "*2\r\n_\r\n$2\r\nv2\r\n")
        Self.apply(s, part: 1, "*2\r\n$2\r\nv1\r\n_\r\n")
        XCTAssertEqual(Self.merged(s, .resp3), "*4\r\n_\r\n$2\r\nv1\r\n$2\r\nv2\r\n_\r\n")
    }

    func testValuesWithOnePartAndUnevenSplit() {
        let s = MergeState(kind: .values, keyCount: 3, parts: 2)
        s.assign(position: 1, toPart: 0)
        s.assign(position: 0, toPart: 1)
        s.assign(position: 2, toPart: 1)
        Self.apply(s, part: 0, "*1\r\n$1\r\nB\r\n")
        Self.apply(s, part: 1, "*2\r\n$1\r\nA\r\n$1\r\nC\r\n")
        XCTAssertEqual(Self.merged(s), "*3\r\n$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n")
    }

    func testValuesPartWithWrongCountIsAnError() {
        let s = Self.mget4()
        Self.apply(s, part: 0, "*1\r\n$2\r\nv0\r\n")
        Self.apply(s, part: 1, "*2\r\n$2\r\nv1\r\n$2\r\nv3\r\n")
        XCTAssertEqual(Self.merged(s), "-ERR unexpected reply to MGET part\r\n")
    }

    /// A failed shard degrades MGET: its keys answer nil, the other shards' values stand.
    func testValuesErrorPartAnswersNilsForItsKeys() {
        let s = Self.mget4()
        Self.apply(s, part: 0, "*2\r\n$2\r\nv0\r\n$2\r\nv2\r\n")
        Self.apply(s, part: 1, "-LOADING Redis is loading the dataset in memory\r\n")
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(s.failedParts, 1)
        XCTAssertEqual(Self.merged(s), "*4\r\n$2\r\nv0\r\n$-1\r\n$2\r\nv2\r\n$-1\r\n")
        XCTAssertEqual(Self.merged(s, .resp3), "*4\r\n$2\r\nv0\r\n_\r\n$2\r\nv2\r\n_\r\n")
    }

    func testValuesFailedPartAnswersNilsForItsKeys() {
        let s = Self.mget4()
        s.fail(part: 0, error: Self.b("-ERR server cache-a is down\r\n"))
        Self.apply(s, part: 1, "*2\r\n$2\r\nv1\r\n$2\r\nv3\r\n")
        XCTAssertEqual(s.failedParts, 1)
        XCTAssertEqual(Self.merged(s), "*4\r\n$-1\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv3\r\n")
    }

    // MARK: .sum and .allOK

    func testSum() {
        let s = MergeState(kind: .sum, keyCount: 5, parts: 3)
        Self.apply(s, part: 0, ":2\r\n")
        Self.apply(s, part: 2, ":0\r\n")
        XCTAssertFalse(s.isComplete)
        Self.apply(s, part: 1, ":3\r\n")
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(Self.merged(s), ":5\r\n")
        XCTAssertEqual(Self.merged(s, .resp3), ":5\r\n")
    }

    /// A failed shard degrades DEL/EXISTS/...: the sum counts what the other shards answered.
    func testSumLeavesOutAnErrorPart() {
        let s = MergeState(kind: .sum, keyCount: 3, parts: 3)
        Self.apply(s, part: 0, ":1\r\n")
        Self.apply(s, part: 1, "-LOADING Redis is loading the dataset in memory\r\n")
        s.fail(part: 2, error: Self.b("-ERR server down\r\n"))
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(s.failedParts, 2)
        XCTAssertEqual(Self.merged(s), ":1\r\n")
    }

    func testSumNonIntegerPartIsAnError() {
        let s = MergeState(kind: .sum, keyCount: 2, parts: 2)
        Self.apply(s, part: 0, ":1\r\n")
        Self.apply(s, part: 1, "+OK\r\n")
        XCTAssertEqual(Self.merged(s), "-ERR unexpected reply to a split command part\r\n")
    }

    func testAllOK() {
        let s = MergeState(kind: .allOK, keyCount: 4, parts: 2)
        Self.apply(s, part: 0, "+OK\r\n")
        Self.apply(s, part: 1, "+OK\r\n")
        XCTAssertEqual(Self.merged(s), "+OK\r\n")
    }

    /// MSET cannot pretend a write happened: an error part makes the merged reply that error.
    func testAllOKWithAnErrorPart() {
        let s = MergeState(kind: .allOK, keyCount: 4, parts: 2)
        Self.apply(s, part: 0, "-OOM command not allowed when used memory > 'maxmemory'.\r\n")
        Self.apply(s, part: 1, "+OK\r\n")
        XCTAssertEqual(Self.merged(s), "-OOM command not allowed when used memory > 'maxmemory'.\r\n")
    }

    func testFirstErrorWinsAndFailCounts() {
        let s = MergeState(kind: .allOK, keyCount: 6, parts: 3)
        s.fail(part: 0, error: Self.b("-ERR server cache-a is down\r\n"))
        Self.apply(s, part: 1, "-ERR second\r\n")
        XCTAssertFalse(s.isComplete)
        Self.apply(s, part: 2, "+OK\r\n")
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(Self.merged(s), "-ERR server cache-a is down\r\n")
    }

    func testRESP3BlobErrorPartBecomesTheMSETReply() {
        let s = MergeState(kind: .allOK, keyCount: 2, parts: 2)
        Self.apply(s, part: 0, "!9\r\nERR oh no\r\n")
        Self.apply(s, part: 1, "+OK\r\n")
        XCTAssertEqual(s.failedParts, 1)
        XCTAssertEqual(Self.merged(s, .resp3), "!9\r\nERR oh no\r\n")
    }

    // MARK: writeSplitCommand

    /// Parses `request` and returns its argument spans.
    static func parse(_ request: [UInt8]) -> [ArgumentSpan] {
        var p = RequestParser()
        guard case .request = request.withUnsafeBytes({ p.parse($0) }) else { fatalError("bad test request") }
        return p.args
    }

    func testWriteSplitMGETPart() {
        let request = Self.b("*4\r\n$4\r\nmget\r\n$2\r\nk1\r\n$0\r\n\r\n$4\r\nk\r\n3\r\n")
        let args = Self.parse(request)
        let out = ByteBuffer()
        request.withUnsafeBytes {
            writeSplitCommand(name: "MGET", args: args, request: $0, indices: [1, 3][...], withValues: false, into: out)
        }
        XCTAssertEqual(out.bytes, Self.b("*3\r\n$4\r\nMGET\r\n$2\r\nk1\r\n$4\r\nk\r\n3\r\n"))
        let empty = ByteBuffer()
        request.withUnsafeBytes {
            writeSplitCommand(name: "MGET", args: args, request: $0, indices: [2][...], withValues: false, into: empty)
        }
        XCTAssertEqual(empty.bytes, Self.b("*2\r\n$4\r\nMGET\r\n$0\r\n\r\n"))
    }

    func testWriteSplitMSETPartCarriesValues() {
        let request = Self.b("*7\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$2\r\n22\r\n$1\r\nc\r\n$3\r\n333\r\n")
        let args = Self.parse(request)
        let out = ByteBuffer()
        request.withUnsafeBytes {
            writeSplitCommand(name: "MSET", args: args, request: $0, indices: [1, 5][...], withValues: true, into: out)
        }
        XCTAssertEqual(out.bytes, Self.b("*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$3\r\n333\r\n"))
    }

    func testWriteRequestReencodesInline() {
        let request = Self.b("SET \"a b\" c\r\n")
        let args = Self.parse(request)
        let out = ByteBuffer()
        request.withUnsafeBytes { writeRequest(args: args, request: $0, into: out) }
        XCTAssertEqual(out.bytes, Self.b("*3\r\n$3\r\nSET\r\n$3\r\na b\r\n$1\r\nc\r\n"))
    }

    // MARK: KEYS (.concat) and RANDOMKEY (.firstNonNull)

    func testConcatJoinsEveryServersKeys() {
        let s = MergeState(kind: .concat, keyCount: 0, parts: 3)
        Self.apply(s, part: 2, "*1\r\n$1\r\nc\r\n")
        Self.apply(s, part: 0, "*2\r\n$1\r\na\r\n$2\r\nbb\r\n")
        Self.apply(s, part: 1, SplitKind.concat.emptyReply.description)
        XCTAssertTrue(s.isComplete)
        XCTAssertEqual(Self.merged(s), "*3\r\n$1\r\nc\r\n$1\r\na\r\n$2\r\nbb\r\n")
    }

    func testConcatFailsWithTheDownServersError() {
        let s = MergeState(kind: .concat, keyCount: 0, parts: 2)
        Self.apply(s, part: 0, "*1\r\n$1\r\na\r\n")
        s.fail(part: 1, error: Self.b("-ERR server s2 is down\r\n"))
        XCTAssertEqual(Self.merged(s), "-ERR server s2 is down\r\n", "a missing server's keys cannot be left out silently")
        let odd = MergeState(kind: .concat, keyCount: 0, parts: 1)
        Self.apply(odd, part: 0, ":3\r\n")
        XCTAssertTrue(Self.merged(odd).hasPrefix("-ERR unexpected reply"))
    }

    func testFirstNonNullTakesTheEarliestPartWithAKey() {
        let s = MergeState(kind: .firstNonNull, keyCount: 0, parts: 3)
        Self.apply(s, part: 2, "$1\r\nz\r\n")
        Self.apply(s, part: 0, "_\r\n")
        Self.apply(s, part: 1, "$1\r\ny\r\n")
        XCTAssertEqual(Self.merged(s, .resp3), "$1\r\ny\r\n")
        // Every server empty: null, in the client's protocol.
        s.reset(kind: .firstNonNull, keyCount: 0, parts: 2)
        Self.apply(s, part: 1, "$-1\r\n")
        Self.apply(s, part: 0, SplitKind.firstNonNull.emptyReply.description)
        XCTAssertEqual(Self.merged(s, .resp2), "$-1\r\n")
        XCTAssertEqual(Self.merged(s, .resp3), "_\r\n")
        // A failed server: its error only when nobody had a key.
        s.reset(kind: .firstNonNull, keyCount: 0, parts: 2)
        s.fail(part: 0, error: Self.b("-ERR server s1 is down\r\n"))
        Self.apply(s, part: 1, "$1\r\nk\r\n")
        XCTAssertEqual(Self.merged(s), "$1\r\nk\r\n")
        s.reset(kind: .firstNonNull, keyCount: 0, parts: 2)
        s.fail(part: 0, error: Self.b("-ERR server s1 is down\r\n"))
        Self.apply(s, part: 1, "$-1\r\n")
        XCTAssertEqual(Self.merged(s), "-ERR server s1 is down\r\n")
    }

    // MARK: PUBSUB NUMSUB (.sumPairs) and NUMPAT (.maxInteger)

    func testSumPairsAddsEachNamesCounts() {
        let s = MergeState(kind: .sumPairs, keyCount: 0, parts: 3)
        Self.apply(s, part: 1, "*4\r\n$1\r\na\r\n:2\r\n$2\r\nbb\r\n:0\r\n")
        Self.apply(s, part: 0, "*4\r\n$1\r\na\r\n:0\r\n$2\r\nbb\r\n:5\r\n")
        Self.apply(s, part: 2, "*4\r\n$1\r\na\r\n:1\r\n$2\r\nbb\r\n:0\r\n")
        XCTAssertEqual(Self.merged(s), "*4\r\n$1\r\na\r\n:3\r\n$2\r\nbb\r\n:5\r\n")
        // Recycled for another: nothing of the first is left.
        s.reset(kind: .sumPairs, keyCount: 0, parts: 1)
        Self.apply(s, part: 0, "*0\r\n")
        XCTAssertEqual(Self.merged(s), "*0\r\n")
        s.reset(kind: .sumPairs, keyCount: 0, parts: 1)
        Self.apply(s, part: 0, "*1\r\n$1\r\na\r\n")
        XCTAssertTrue(Self.merged(s).hasPrefix("-ERR unexpected reply"), "an odd array is not pairs")
    }

    func testMaxIntegerTakesTheLargest() {
        let s = MergeState(kind: .maxInteger, keyCount: 0, parts: 3)
        Self.apply(s, part: 0, ":2\r\n")
        Self.apply(s, part: 1, ":3\r\n")
        Self.apply(s, part: 2, ":1\r\n")
        XCTAssertEqual(Self.merged(s), ":3\r\n")
    }
}

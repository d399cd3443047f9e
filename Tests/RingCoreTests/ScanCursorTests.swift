// Checks the ring-wide SCAN cursor (ScanCursor) and one SCAN step's request and reply
// (ScanPage): round trips, the walk over the servers, overflow, the check of the server
// count, and the reply bytes the client gets in RESP2 and RESP3.
import RingFuzzHarness
import XCTest
@testable import RingCore

final class ScanCursorTests: XCTestCase {
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func decode(_ text: String, servers: Int) -> Result<ScanCursor, ScanCursor.DecodeError> {
        b(text).withUnsafeBytes { ScanCursor.decode($0, serverCount: servers) }
    }

    func testEveryPositionRoundTrips() {
        for n in [1, 2, 3, 4, 7, 100, 1023, 1024, 1025] {
            for server in Set([0, 1 % n, n / 2, n - 1]) {
                for c: UInt64 in [0, 1, 2, 1 << 20, 123_456_789] where !(server == 0 && c == 0) {
                    let position = ScanCursor(server: server, serverCursor: c)
                    guard let value = position.encoded(serverCount: n) else { return XCTFail("\(position) of \(n) overflowed") }
                    XCTAssertNotEqual(value, 0, "only the start is 0")
                    XCTAssertEqual(ScanCursor.decode(value, serverCount: n), .success(position), "\(position) of \(n)")
                    XCTAssertEqual(Self.decode(String(value), servers: n), .success(position))
                }
            }
        }
    }

    func testZeroStartsAndEnds() {
        XCTAssertEqual(Self.decode("0", servers: 4), .success(.start))
        XCTAssertEqual(ScanCursor.start.encoded(serverCount: 4), 0)
        // The last server done: no next position, which the reply says as cursor 0.
        XCTAssertNil(ScanCursor.after(server: 3, nextServerCursor: 0, serverCount: 4))
        XCTAssertEqual(ScanCursor.after(server: 1, nextServerCursor: 0, serverCount: 4), ScanCursor(server: 2, serverCursor: 0))
        XCTAssertEqual(ScanCursor.after(server: 1, nextServerCursor: 96, serverCount: 4), ScanCursor(server: 1, serverCursor: 96))
    }

    func testNotANumberIsRedisInvalidCursor() {
        XCTAssertEqual(Self.decode("", servers: 4), .success(.start), "Redis reads an empty cursor as 0")
        for text in ["abc", "-1", "+5", " 1", "1 ", "1.5", "18446744073709551616", "123456789012345678901"] {
            XCTAssertEqual(Self.decode(text, servers: 4), .failure(.invalid), text)
        }
        XCTAssertEqual(ProxyError.invalidCursor.message, "ERR invalid cursor")
        // The largest 64-bit number is a number (whatever it decodes to).
        if case .failure(.invalid) = Self.decode("18446744073709551615", servers: 4) { XCTFail("UInt64.max refused") }
    }

    func testACursorForAnotherServerCountIsRefused() {
        for (made, used) in [(4, 3), (4, 5), (1, 2), (3, 1000), (1023, 1022)] {
            let position = ScanCursor(server: made - 1, serverCursor: 17)
            let value = position.encoded(serverCount: made)!
            XCTAssertEqual(ScanCursor.decode(value, serverCount: used), .failure(.otherRing), "\(made) -> \(used)")
        }
        // The documented limit: counts that differ by a multiple of checkModulus look alike.
        let value = ScanCursor(server: 1, serverCursor: 5).encoded(serverCount: 4)!
        let far = 4 + Int(ScanCursor.checkModulus)
        guard case .success = ScanCursor.decode(value, serverCount: far) else { return XCTFail("expected the limit") }
        XCTAssertTrue(ProxyError.scanCursorOtherRing(servers: 3).message.contains("3"))
    }

    func testOverflowIsAnErrorNotAWrongCursor() {
        let n = 4
        let limit = (UInt64.max - UInt64(n)) / ScanCursor.checkModulus / UInt64(n)  // largest that fits on server 0
        XCTAssertNotNil(ScanCursor(server: 0, serverCursor: limit - 1).encoded(serverCount: n))
        XCTAssertNil(ScanCursor(server: 0, serverCursor: UInt64.max / 2).encoded(serverCount: n))
        XCTAssertNil(ScanCursor(server: 3, serverCursor: limit + 1).encoded(serverCount: n))
        // The reply says so instead of handing out a cursor that names another position.
        let reply = Self.rewrite("*2\r\n$\(String(UInt64.max).count)\r\n\(UInt64.max)\r\n*0\r\n", server: 0, servers: n)
        XCTAssertTrue(reply.hasPrefix("-ERR ringproxy: a server answered SCAN cursor \(UInt64.max), too large"), reply)
    }

    func testTargetSkipsUnreachableServersOnlyWhenAllowed() {
        let from = ScanCursor(server: 1, serverCursor: 40)
        let up: (Int) -> Bool = { _ in true }
        XCTAssertEqual(from.target(serverCount: 4, skipUnreachable: false, reachable: up), .server(from))
        let oneDown: (Int) -> Bool = { $0 != 1 }
        XCTAssertEqual(from.target(serverCount: 4, skipUnreachable: false, reachable: oneDown), .unreachable(server: 1))
        XCTAssertEqual(from.target(serverCount: 4, skipUnreachable: true, reachable: oneDown),
                       .server(ScanCursor(server: 2, serverCursor: 0)), "the next server from its start")
        let tailDown: (Int) -> Bool = { $0 < 1 }
        XCTAssertEqual(from.target(serverCount: 4, skipUnreachable: true, reachable: tailDown), .end)
    }

    // MARK: ScanPage

    static func rewrite(_ reply: String, server: Int, servers: Int) -> String {
        let out = ByteBuffer()
        b(reply).withUnsafeBytes { ScanPage.rewriteReply($0, server: server, serverCount: servers, into: out) }
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func testReplyCursorIsRewrittenAndKeysPassUnchanged() {
        let keys = "*2\r\n$3\r\nk:1\r\n$3\r\nk:2\r\n"
        let next = ScanCursor(server: 2, serverCursor: 96).encoded(serverCount: 4)!
        XCTAssertEqual(Self.rewrite("*2\r\n$2\r\n96\r\n" + keys, server: 2, servers: 4),
                       "*2\r\n$\(String(next).count)\r\n\(next)\r\n" + keys)
        // Server 2 done: the next server from 0.
        let third = ScanCursor(server: 3, serverCursor: 0).encoded(serverCount: 4)!
        XCTAssertEqual(Self.rewrite("*2\r\n$1\r\n0\r\n*0\r\n", server: 2, servers: 4), "*2\r\n$\(String(third).count)\r\n\(third)\r\n*0\r\n")
        // The last server done: 0, the end.
        XCTAssertEqual(Self.rewrite("*2\r\n$1\r\n0\r\n" + keys, server: 3, servers: 4), "*2\r\n$1\r\n0\r\n" + keys)
    }

    func testErrorsPassAndOddRepliesBecomeErrors() {
        XCTAssertEqual(Self.rewrite("-ERR syntax error\r\n", server: 0, servers: 4), "-ERR syntax error\r\n")
        XCTAssertEqual(Self.rewrite("!5\r\nerror\r\n", server: 0, servers: 4), "!5\r\nerror\r\n")
        for odd in ["+OK\r\n", "*2\r\n:5\r\n*0\r\n", "*2\r\n$2\r\nx5\r\n*0\r\n", "*2\r\n$9\r\n5\r\n*0\r\n", "*3\r\n$1\r\n0\r\n*0\r\n"] {
            XCTAssertEqual(Self.rewrite(odd, server: 0, servers: 4), "-" + ProxyError.unexpectedScanReply.message + "\r\n",
                           odd.debugDescription)
        }
    }

    func testRequestCarriesTheServerCursorAndTheOptions() {
        let args = ["scan", "12345", "MATCH", "page:*", "COUNT", "100", "TYPE", "string"]
        var bytes: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for a in args {
            spans.append(ArgumentSpan(offset: bytes.count, count: a.utf8.count))
            bytes += Self.b(a)
        }
        let out = ByteBuffer()
        bytes.withUnsafeBytes { ScanPage.writeRequest(serverCursor: 96, args: spans, request: $0, into: out) }
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self),
                       "*8\r\n$4\r\nSCAN\r\n$2\r\n96\r\n$5\r\nMATCH\r\n$6\r\npage:*\r\n$5\r\nCOUNT\r\n$3\r\n100\r\n$4\r\nTYPE\r\n$6\r\nstring\r\n")
        out.clear()
        bytes.withUnsafeBytes { ScanPage.writeRequest(serverCursor: UInt64.max, args: Array(spans[0..<2]), request: $0, into: out) }
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "*2\r\n$4\r\nSCAN\r\n$20\r\n\(UInt64.max)\r\n")
    }

    func testEndPageIsAnEmptyScanReply() {
        let out = ByteBuffer()
        ScanPage.writeEnd(into: out)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "*2\r\n$1\r\n0\r\n*0\r\n")
    }

    /// A scan through the merge state a worker uses: one part, the page rewritten on write,
    /// in both protocols (the keys' array is the server's own, RESP3 sets included).
    func testScanPageMerge() {
        let merge = MergeState(kind: .scanPage, keyCount: 0, parts: 1)
        merge.expectScanPage(server: 0, serverCount: 2)
        Self.b("*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n").withUnsafeBytes { merge.apply(part: 0, reply: $0) }
        XCTAssertTrue(merge.isComplete)
        let out = ByteBuffer()
        merge.write(into: out, version: .resp3)
        let next = ScanCursor(server: 1, serverCursor: 0).encoded(serverCount: 2)!
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "*2\r\n$\(String(next).count)\r\n\(next)\r\n*1\r\n$1\r\na\r\n")
        // Reused for a failed page: the proxy's error about the server.
        merge.reset(kind: .scanPage, keyCount: 0, parts: 1)
        merge.expectScanPage(server: 1, serverCount: 2)
        merge.fail(part: 0, error: Self.b("-ERR server s2 is down\r\n"))
        out.clear()
        merge.write(into: out, version: .resp2)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "-ERR server s2 is down\r\n")
    }

    /// The fuzz harness's keyspace checks hold on server answers of every kind: pages with
    /// cursors, arrays, nulls, errors and a cursor too large to encode.
    func testFuzzHarnessKeyspaceChecksHold() {
        let replies = "*2\r\n$2\r\n96\r\n*1\r\n$1\r\na\r\n" + "*2\r\n$1\r\n0\r\n~1\r\n$1\r\nb\r\n" + "$-1\r\n" +
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n" + "_\r\n" + "-ERR x\r\n" + "*2\r\n$20\r\n\(UInt64.max)\r\n*0\r\n"
        FuzzHarness.run(Self.b(replies))
    }
}

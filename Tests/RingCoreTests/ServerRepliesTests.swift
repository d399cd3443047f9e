// Replies gathered from every server: RESPValue's parsing and RESP2/RESP3 writing, and the
// combinations of SLOWLOG, LATENCY and MEMORY STATS replies tagged by server.
import XCTest
@testable import RingCore

final class ServerRepliesTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    func text(_ v: RESPValue, _ version: RESPVersion) -> String { String(decoding: v.bytes(version), as: UTF8.self) }

    func testRESP3ValuesAreWrittenInBothProtocols() {
        let raw = "%2\r\n+a\r\n~2\r\n:1\r\n#t\r\n$1\r\nb\r\n*3\r\n,1.5\r\n_\r\n=7\r\ntxt:abc\r\n"
        guard let (v, length) = raw.utf8.withContiguousStorageIfAvailable({ RESPValue.parse(UnsafeRawBufferPointer($0)) }) ?? nil
        else { return XCTFail("not parsed") }
        XCTAssertEqual(length, raw.utf8.count)
        XCTAssertEqual(text(v, .resp3), raw, "RESP3 is written back as read")
        XCTAssertEqual(text(v, .resp2), "*4\r\n+a\r\n*2\r\n:1\r\n:1\r\n$1\r\nb\r\n*3\r\n$3\r\n1.5\r\n$-1\r\n$3\r\nabc\r\n")
        XCTAssertNil(RESPValue.parse(bytes("*2\r\n:1\r\n")), "an incomplete reply")
        XCTAssertNil(RESPValue.parse(bytes("?x\r\n")))
    }

    func entry(_ id: Int, _ ts: Int, _ cmd: String) -> String {
        "*6\r\n:\(id)\r\n:\(ts)\r\n:5\r\n*1\r\n$\(cmd.utf8.count)\r\n\(cmd)\r\n$13\r\n127.0.0.1:999\r\n$0\r\n\r\n"
    }

    func testSlowlogEntriesMergedNewestFirstAndTaggedByServer() {
        let a = "*2\r\n" + entry(1, 200, "get") + entry(0, 100, "set")
        let b = "*1\r\n" + entry(0, 150, "del")
        let merged = ServerReplies.merge(.slowlogGet, parts: [("cache-1", bytes(a)), ("cache-2", bytes(b))], count: 10,
                                         version: .resp2)
        let entries = merged.elements ?? []
        XCTAssertEqual(entries.map { $0.elements?[1] }, [.integer(200), .integer(150), .integer(100)])
        XCTAssertEqual(entries.map { $0.elements?[5].text }, ["cache-1", "cache-2", "cache-1"])
        XCTAssertEqual(entries.map { $0.elements?.count }, [6, 6, 6], "Redis's six fields")
        let two = ServerReplies.merge(.slowlogGet, parts: [("cache-1", bytes(a)), ("cache-2", bytes(b))], count: 2,
                                      version: .resp2)
        XCTAssertEqual(two.elements?.count, 2)
        let error = ServerReplies.merge(.slowlogGet, parts: [("cache-1", bytes(a)), ("cache-2", bytes("-ERR x\r\n"))],
                                        count: 10, version: .resp2)
        XCTAssertEqual(error, .error(bytes("ERR x")))
    }

    func testLatencyAndMemoryStats() {
        let latest = ServerReplies.merge(.latencyLatest, parts: [
            ("cache-1", bytes("*1\r\n*4\r\n$7\r\ncommand\r\n:10\r\n:5\r\n:7\r\n")),
            ("cache-2", bytes("*1\r\n*4\r\n$7\r\ncommand\r\n:11\r\n:6\r\n:8\r\n")),
        ], count: 0, version: .resp2)
        XCTAssertEqual(latest.elements?.compactMap { $0.elements?.first?.text }, ["command@cache-1", "command@cache-2"])
        let history = ServerReplies.merge(.latencyHistory, parts: [
            ("cache-1", bytes("*2\r\n*2\r\n:10\r\n:5\r\n*2\r\n:30\r\n:5\r\n")),
            ("cache-2", bytes("*1\r\n*2\r\n:20\r\n:6\r\n")),
        ], count: 0, version: .resp2)
        XCTAssertEqual(history.elements?.compactMap { $0.elements?.first }, [.integer(10), .integer(20), .integer(30)])
        let h = "%1\r\n$3\r\nget\r\n%2\r\n$5\r\ncalls\r\n:NN\r\n$14\r\nhistogram_usec\r\n%2\r\n:1\r\n:NN\r\n:2\r\n:1\r\n"
        let histogram = ServerReplies.merge(.latencyHistogram, parts: [
            ("cache-1", bytes(h.replacingOccurrences(of: "NN", with: "3"))),
            ("cache-2", bytes(h.replacingOccurrences(of: "NN", with: "4"))),
        ], count: 0, version: .resp3)
        XCTAssertEqual(histogram["get"]?["calls"], .integer(7))
        XCTAssertEqual(histogram["get"]?["histogram_usec"]?.elements, [.integer(1), .integer(7), .integer(2), .integer(2)])
        let stats = ServerReplies.merge(.memoryStats, parts: [
            ("cache-1", bytes("*2\r\n$14\r\npeak.allocated\r\n:100\r\n")),
            ("cache-2", bytes("*2\r\n$14\r\npeak.allocated\r\n:200\r\n")),
        ], count: 0, version: .resp2)
        XCTAssertEqual(stats["cache-2"]?["peak.allocated"], .integer(200))
        XCTAssertTrue(text(stats, .resp2).hasPrefix("*4\r\n$7\r\ncache-1\r\n*2\r\n"))
        let doctor = ServerReplies.merge(.latencyText, parts: [("a", bytes("$2\r\nok\r\n")), ("b", bytes("=6\r\ntxt:hi\r\n"))],
                                         count: 0, version: .resp3)
        XCTAssertEqual(doctor, .verbatim(format: bytes("txt"), text: bytes("a:\nok\nb:\nhi\n")))
    }

    func testLastsaveIsTheOldestSave() {
        let m = MergeState(kind: .minInteger, keyCount: 0, parts: 3)
        for (i, r) in [":300\r\n", ":100\r\n", ":200\r\n"].enumerated() { r.utf8.withContiguousStorageIfAvailable { m.apply(part: i, reply: UnsafeRawBufferPointer($0)) } }
        let out = ByteBuffer()
        m.write(into: out, version: .resp2)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), ":100\r\n")
    }
}

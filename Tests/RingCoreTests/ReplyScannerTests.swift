// Checks ReplyScanner: exact reply lengths for every RESP2/RESP3 type, resumable scanning at every split point, and its errors.
import XCTest
@testable import RingCore

final class ReplyScannerTests: XCTestCase {
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// One reply of every type, each a separate element: the scanner must find these bounds.
    static let replies: [[UInt8]] = [
        b("+OK\r\n"),
        b("-ERR wrong number of arguments\r\n"),
        b(":-42\r\n"),
        b(":0\r\n"),
        b("$5\r\nab\r\nc\r\n"),  // a bulk that holds CR LF
        [UInt8](b("$4\r\n")) + [0x00, 0xff, 0x0d, 0x80] + b("\r\n"),
        b("$-1\r\n"),
        b("$0\r\n\r\n"),
        b("*-1\r\n"),
        b("*0\r\n"),
        b("*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n"),
        b("*2\r\n*1\r\n*1\r\n$-1\r\n*-1\r\n"),
        b("_\r\n"),
        b("#t\r\n"),
        b("#f\r\n"),
        b(",3.14\r\n"),
        b(",-inf\r\n"),
        b("(3492890328409238509324850943850943825024385\r\n"),
        b("=15\r\ntxt:Some string\r\n"),
        b("!21\r\nSYNTAX invalid syntax\r\n"),
        b("%2\r\n+first\r\n:1\r\n+second\r\n*1\r\n:2\r\n"),
        b("%0\r\n"),
        b("~3\r\n+a\r\n_\r\n#t\r\n"),
        b("~0\r\n"),
        b(">3\r\n+message\r\n+news\r\n$5\r\nhello\r\n"),
        // An attribute, then the value it annotates: together one reply.
        b("|1\r\n+key-popularity\r\n*2\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039\r\n:9543892\r\n"),
        // An attribute inside an array annotates one element only.
        b("*2\r\n|1\r\n+ttl\r\n:3600\r\n+v1\r\n:2\r\n"),
        b("%1\r\n$1\r\nk\r\n~1\r\n%1\r\n+x\r\n>1\r\n_\r\n"),
    ]

    static var stream: [UInt8] { replies.flatMap { $0 } }
    static var expectedLengths: [Int] { replies.map(\.count) }

    /// Scans `stream` as a connection does: first `bytes[0..<split]` arrives, then the rest;
    /// each scan gets a buffer that starts at the current reply's first byte.
    static func scanAsConnection(_ stream: [UInt8], arrivals: [Int]) -> (lengths: [Int], error: String?) {
        var scanner = ReplyScanner()
        var lengths: [Int] = []
        var start = 0
        for available in arrivals {
            scanning: while start < available {
                let r = stream.withUnsafeBytes { scanner.scan(UnsafeRawBufferPointer(rebasing: $0[start..<available])) }
                switch r {
                case let .reply(length):
                    lengths.append(length)
                    start += length
                case .incomplete:
                    break scanning
                case let .error(e):
                    return (lengths, e)
                }
            }
        }
        return (lengths, nil)
    }

    static func scanOnce(_ bytes: [UInt8]) -> ReplyScanResult {
        var s = ReplyScanner()
        return bytes.withUnsafeBytes { s.scan($0) }
    }

    func testEachReplyAloneHasItsExactLength() {
        for reply in Self.replies {
            XCTAssertEqual(Self.scanOnce(reply), .reply(length: reply.count), String(decoding: reply, as: UTF8.self))
            // Trailing bytes of a following reply do not change the length.
            XCTAssertEqual(Self.scanOnce(reply + Self.b("+NEXT\r\n")), .reply(length: reply.count))
        }
    }

    func testConcatenationScannedAtOnce() {
        let s = Self.stream
        let got = Self.scanAsConnection(s, arrivals: [s.count])
        XCTAssertNil(got.error)
        XCTAssertEqual(got.lengths, Self.expectedLengths)
    }

    func testEverySplitPointGivesTheSameBoundaries() {
        let s = Self.stream
        for split in 0...s.count {
            let got = Self.scanAsConnection(s, arrivals: [split, s.count])
            XCTAssertNil(got.error, "split \(split)")
            XCTAssertEqual(got.lengths, Self.expectedLengths, "split \(split)")
        }
    }

    func testByteByByteGrowthGivesTheSameBoundaries() {
        let s = Self.stream
        let got = Self.scanAsConnection(s, arrivals: Array(0...s.count))
        XCTAssertNil(got.error)
        XCTAssertEqual(got.lengths, Self.expectedLengths)
    }

    func testEveryProperPrefixOfAReplyIsIncomplete() {
        for reply in Self.replies {
            for k in 0..<reply.count {
                XCTAssertEqual(Self.scanOnce(Array(reply[0..<k])), .incomplete,
                               "prefix \(k) of \(String(decoding: reply, as: UTF8.self))")
            }
        }
    }

    func testScannerResumesAfterIncompleteInsideNestedAggregate() {
        let reply = Self.b("*2\r\n*2\r\n$3\r\nabc\r\n:1\r\n$2\r\nxy\r\n")
        var s = ReplyScanner()
        // Stop inside the inner bulk, then inside the outer one.
        XCTAssertEqual(reply.withUnsafeBytes { s.scan(UnsafeRawBufferPointer(rebasing: $0[0..<14])) }, .incomplete)
        XCTAssertEqual(reply.withUnsafeBytes { s.scan(UnsafeRawBufferPointer(rebasing: $0[0..<26])) }, .incomplete)
        XCTAssertEqual(reply.withUnsafeBytes { s.scan($0) }, .reply(length: reply.count))
        // Ready for the next reply at once.
        XCTAssertEqual(Self.b(":7\r\n").withUnsafeBytes { s.scan($0) }, .reply(length: 4))
    }

    func testResetForgetsAPartialReply() {
        var s = ReplyScanner()
        XCTAssertEqual(Self.b("*3\r\n:1\r\n").withUnsafeBytes { s.scan($0) }, .incomplete)
        s.reset()
        XCTAssertEqual(Self.b("+OK\r\n").withUnsafeBytes { s.scan($0) }, .reply(length: 5))
    }

    /// RESP3 allows an attribute with no pairs; it still annotates the value after it.
    func testEmptyAttributeIsFollowedByItsValue() {
        let reply = Self.b("|0\r\n:1\r\n")
        XCTAssertEqual(Self.scanOnce(reply), .reply(length: reply.count))
    }

    // MARK: errors

    func assertError(_ bytes: [UInt8], contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case let .error(message) = Self.scanOnce(bytes) else {
            return XCTFail("expected an error, got \(Self.scanOnce(bytes))", file: file, line: line)
        }
        XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
    }

    func testUnknownTypeByte() {
        assertError(Self.b("?what\r\n"), contains: "unknown reply type byte 0x3f")
        assertError(Self.b("*2\r\n:1\r\n@x\r\n"), contains: "unknown reply type byte 0x40")
        assertError(Self.b("OK\r\n"), contains: "unknown reply type byte 0x4f")
    }

    func testBadLengths() {
        assertError(Self.b("$abc\r\n"), contains: "bad bulk length")
        assertError(Self.b("$\r\n"), contains: "bad bulk length")
        assertError(Self.b("=1x\r\n"), contains: "bad bulk length")
        assertError(Self.b("*x\r\n"), contains: "bad aggregate length")
        assertError(Self.b("%-\r\n"), contains: "bad aggregate length")
        assertError(Self.b("*1\r\n$12345678901234567890\r\n"), contains: "bad bulk length")
    }

    func testBadLineEnding() {
        assertError(Self.b("+OK\rX"), contains: "bad line ending")
    }

    func testBulkLongerThanDeclaredIsAnError() {
        guard case .error = Self.scanOnce(Array("$3\r\nabcXY".utf8)) else {
            return XCTFail("a bulk not followed by CRLF must be a broken stream")
        }
    }

    func testNestingLimit() {
        let deep = [UInt8](String(repeating: "*1\r\n", count: ReplyScanner.maxDepth + 1).utf8) + Self.b(":1\r\n")
        assertError(deep, contains: "nested too deep")
        let ok = [UInt8](String(repeating: "*1\r\n", count: ReplyScanner.maxDepth).utf8) + Self.b(":1\r\n")
        XCTAssertEqual(Self.scanOnce(ok), .reply(length: ok.count))
    }

    func testOverlongLineWithoutCRLF() {
        let line = [UInt8(ascii: "+")] + [UInt8](repeating: UInt8(ascii: "a"), count: ReplyScanner.maxLineLength + 1)
        assertError(line, contains: "too long")
        XCTAssertEqual(Self.scanOnce(Array(line[0..<1000])), .incomplete)
    }
}

// Checks RequestParser: framing of pipelined multibulk and inline requests at every split point, and its protocol errors.
import XCTest
@testable import RingCore

final class RequestParserTests: XCTestCase {
    /// One parsed frame: the argument bytes and whether it was inline, or a skipped frame.
    enum Frame: Equatable {
        case request([[UInt8]], inline: Bool)
        case skip(Int)
    }

    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// A pipelined stream and the frames a correct parser must find in it.
    static let pipeline: (bytes: [UInt8], frames: [Frame]) = {
        var bytes: [UInt8] = []
        var frames: [Frame] = []
        func add(_ part: [UInt8], _ frame: Frame) { bytes += part; frames.append(frame) }
        add(b("PING\r\n"), .request([b("PING")], inline: true))
        // SET with a value holding CR LF, then an empty bulk.
        add(b("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$0\r\n\r\n"),
            .request([b("SET"), b("k"), b("a\r\nb"), []], inline: false))
        add(b("*0\r\n"), .skip(4))
        add(b("SET \"hello world\" 'x y'\r\n"), .request([b("SET"), b("hello world"), b("x y")], inline: true))
        // Binary bytes (NUL, 0xff, 0x80, a lone CR and LF) in a bulk.
        add(b("*2\r\n$3\r\nGET\r\n$6\r\n") + [0x00, 0xff, 0x80, 0x0d, 0x0a, 0x0d] + b("\r\n"),
            .request([b("GET"), [0x00, 0xff, 0x80, 0x0d, 0x0a, 0x0d]], inline: false))
        add(b("\r\n"), .skip(2))
        add(b("  ECHO\t hi \n"), .request([b("ECHO"), b("hi")], inline: true))
        add(b("ECHO \"\"\r\n"), .request([b("ECHO"), []], inline: true))
        add(b("*-1\r\n"), .skip(5))
        add(b("*1\r\n$4\r\nPING\r\n"), .request([b("PING")], inline: false))
        add(b("*3\r\n$4\r\nMGET\r\n$12\r\n") + Array("caf\u{e9}-\u{20ac}!!!".utf8) + b("\r\n$1\r\nb\r\n"),
            .request([b("MGET"), Array("caf\u{e9}-\u{20ac}!!!".utf8), b("b")], inline: false))
        return (bytes, frames)
    }()

    /// Parses `stream` as a proxy would: first only `bytes[0..<split]` has arrived, then the
    /// rest. On `.incomplete` the parser is called again from the same frame start.
    static func parseAsProxy(_ stream: [UInt8], split: Int) -> (frames: [Frame], error: String?) {
        var parser = RequestParser()
        var frames: [Frame] = []
        var start = 0
        for available in [split, stream.count] {
            scanning: while start < available {
                let result = stream.withUnsafeBytes { all -> RequestParseResult in
                    parser.parse(UnsafeRawBufferPointer(rebasing: all[start..<available]))
                }
                switch result {
                case let .request(length):
                    let args = parser.args.map { Array(stream[(start + $0.offset)..<(start + $0.offset + $0.count)]) }
                    frames.append(.request(args, inline: parser.wasInline))
                    start += length
                case let .skip(length):
                    frames.append(.skip(length))
                    start += length
                case .incomplete:
                    break scanning
                case let .error(message):
                    return (frames, message)
                }
            }
        }
        return (frames, nil)
    }

    static func parseOnce(_ bytes: [UInt8]) -> RequestParseResult {
        var parser = RequestParser()
        return bytes.withUnsafeBytes { parser.parse($0) }
    }

    func testWholePipelineParsesToExpectedArguments() {
        let (bytes, expected) = Self.pipeline
        let got = Self.parseAsProxy(bytes, split: bytes.count)
        XCTAssertNil(got.error)
        XCTAssertEqual(got.frames, expected)
    }

    func testEverySplitPointGivesTheSameFrames() {
        let (bytes, expected) = Self.pipeline
        for split in 0...bytes.count {
            let got = Self.parseAsProxy(bytes, split: split)
            XCTAssertNil(got.error, "split \(split)")
            XCTAssertEqual(got.frames, expected, "split \(split)")
        }
    }

    func testEveryPrefixOfOneFrameIsIncomplete() {
        let frame = Self.b("*3\r\n$3\r\nSET\r\n$2\r\nk\n\r\n$0\r\n\r\n")
        for k in 0..<frame.count {
            XCTAssertEqual(Self.parseOnce(Array(frame[0..<k])), .incomplete, "prefix \(k)")
        }
        XCTAssertEqual(Self.parseOnce(frame), .request(length: frame.count))
        XCTAssertEqual(Self.parseOnce(frame + Self.b("*1\r\n")), .request(length: frame.count))
    }

    func testArgumentSpansPointIntoTheBuffer() {
        var parser = RequestParser()
        let bytes = Self.b("*2\r\n$3\r\nGET\r\n$0\r\n\r\n")
        XCTAssertEqual(bytes.withUnsafeBytes { parser.parse($0) }, .request(length: bytes.count))
        XCTAssertEqual(parser.args, [ArgumentSpan(offset: 8, count: 3), ArgumentSpan(offset: 17, count: 0)])
        XCTAssertFalse(parser.wasInline)
    }

    // MARK: errors

    func assertError(_ bytes: [UInt8], contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        guard case let .error(message) = Self.parseOnce(bytes) else {
            return XCTFail("expected an error containing '\(fragment)', got \(Self.parseOnce(bytes))", file: file, line: line)
        }
        XCTAssertTrue(message.contains(fragment), "'\(message)' lacks '\(fragment)'", file: file, line: line)
        XCTAssertTrue(message.hasPrefix("ERR Protocol error"), message, file: file, line: line)
        // No prefix of a bad frame is ever taken for a request.
        for k in 0..<bytes.count {
            switch Self.parseOnce(Array(bytes[0..<k])) {
            case .request, .skip: XCTFail("prefix \(k) accepted", file: file, line: line)
            default: break
            }
        }
    }

    func testBadTypeByteAfterCount() {
        assertError(Self.b("*1\r\n+GET\r\n"), contains: "expected '$', got '+'")
        assertError(Self.b("*2\r\n$3\r\nGET\r\n:1\r\n"), contains: "expected '$', got ':'")
    }

    func testNegativeBulkLength() {
        assertError(Self.b("*1\r\n$-1\r\n"), contains: "invalid bulk length")
        assertError(Self.b("*2\r\n$3\r\nGET\r\n$-5\r\n"), contains: "invalid bulk length")
    }

    func testNonNumericMultibulkCount() {
        assertError(Self.b("*x\r\n"), contains: "invalid multibulk length")
        assertError(Self.b("*1a\r\n"), contains: "invalid multibulk length")
        assertError(Self.b("*\r\n"), contains: "invalid multibulk length")
    }

    func testNonNumericBulkLength() {
        assertError(Self.b("*1\r\n$abc\r\n"), contains: "invalid bulk length")
    }

    func testMultibulkCountLimit() {
        let limit = RequestLimits.maxArgumentCount
        assertError(Self.b("*\(limit + 1)\r\n"), contains: "invalid multibulk length")
        // The limit itself is allowed: the parser waits for the arguments.
        XCTAssertEqual(Self.parseOnce(Self.b("*\(limit)\r\n")), .incomplete)
    }

    func testBulkLengthLimit() {
        let limit = RequestLimits.maxBulkLength
        assertError(Self.b("*2\r\n$3\r\nSET\r\n$\(limit + 1)\r\n"), contains: "invalid bulk length")
        XCTAssertEqual(Self.parseOnce(Self.b("*2\r\n$3\r\nSET\r\n$\(limit)\r\n")), .incomplete)
    }

    /// A line of `limit` bytes may still end in CR LF, so `limit + 1` bytes without a newline
    /// are incomplete; `limit + 2` can no longer be a line within the limit.
    func testInlineLineLimitWithoutNewline() {
        let limit = RequestLimits.maxInlineLength
        let tooLong = [UInt8](repeating: UInt8(ascii: "a"), count: limit + 2)
        XCTAssertEqual(Self.parseOnce(tooLong), .error("ERR Protocol error: too big inline request"))
        XCTAssertEqual(Self.parseOnce(Array(tooLong[0..<(limit + 1)])), .incomplete)
        XCTAssertEqual(Self.parseOnce(Array(tooLong[0..<limit]) + Self.b("\r\n")), .request(length: limit + 2))
    }

    func testUnbalancedQuotes() {
        assertError(Self.b("SET \"abc\r\n"), contains: "unbalanced quotes")
        assertError(Self.b("SET 'abc\r\n"), contains: "unbalanced quotes")
        assertError(Self.b("GET \"a\"b\r\n"), contains: "unbalanced quotes")
    }

    func testBulkLongerThanDeclared() {
        assertError(Self.b("*1\r\n$3\r\nGETX\r\n"), contains: "longer than its declared length")
    }
}

// Inputs the fuzzer (`make fuzz`, Sources/RingFuzzHarness) found failing, kept as bytes and
// replayed through the same harness: FuzzHarness.run stops the process if any of its checks
// fails, so these tests pass only while the fix holds. Each test also checks the specific
// result its fix guarantees. A few seed-like inputs run the harness too, so it keeps working
// in the plain (non-fuzzer) build.
import XCTest
import RingCore
import RingFuzzHarness

final class FuzzRegressionTests: XCTestCase {
    static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func parse(_ bytes: [UInt8], _ limits: RequestLimits) -> RequestParseResult {
        var parser = RequestParser(limits: limits)
        return bytes.withUnsafeBytes { parser.parse($0) }
    }

    // MARK: found by the fuzzer

    /// An inline line whose newline is the first byte past `inlineLength + 1`'s window
    /// boundary: with inlineLength 24, a 25-byte line ending in a bare LF. Read at once it was
    /// a request; read as its first 25 bytes and then the LF, the first read was refused as
    /// "too big inline request" (RequestParser.parseInline refused at `count > inlineLength`).
    static let inlineLineAtTheLimit: [UInt8] = [
        0x3d, 0x33, 0x30, 0x0d, 0x0a, 0x59, 0xbd, 0xeb, 0x27, 0x00, 0x00, 0xbe, 0xf5, 0x86, 0x69, 0x6e,
        0x76, 0x61, 0x6c, 0x69, 0x64, 0x5b, 0x20, 0x73, 0x79, 0x6e, 0xa6, 0x46, 0xee, 0x67, 0x0a,
    ]

    func testInlineLineAtTheLimitParsesTheSameInAnySplit() {
        FuzzHarness.run(Self.inlineLineAtTheLimit)

        let limits = RequestLimits(inlineLength: 24)
        let line = Array(Self.inlineLineAtTheLimit[5...])  // the second frame: 25 bytes, then LF
        XCTAssertEqual(line.count, 26)
        XCTAssertEqual(Self.parse(line, limits), .request(length: 26))
        XCTAssertEqual(Self.parse(Array(line[0..<25]), limits), .incomplete, "the LF may still come")
        // Past the window without a newline, no line within the limit is possible.
        XCTAssertEqual(Self.parse(Array(line[0..<25]) + Self.b("xy"), limits),
                       .error("ERR Protocol error: too big inline request"))
        XCTAssertEqual(Self.parse(Array(repeating: UInt8(ascii: "a"), count: 24) + Self.b("\r\n"), limits),
                       .request(length: 26))
    }

    // MARK: the harness on seed-like inputs

    func testHarnessAcceptsSeedLikeInputs() {
        let inputs: [[UInt8]] = [
            Self.b("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\nPING\r\n*0\r\n"),
            Self.b("*5\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$3\r\n{x}\r\n*2\r\n$1\r\nv\r\n_\r\n"),
            Self.b("*7\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n+OK\r\n-OOM\r\n"),
            Self.b("*4\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n:1\r\n:9223372036854775807\r\n"),
            Self.b("*6\r\n$4\r\nEVAL\r\n$8\r\nreturn 1\r\n$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n$3\r\narg\r\n"),
            Self.b("SET \"hello world\" 'x y'\r\nEXISTS a b c d\n"),
            Self.b("|1\r\n+ttl\r\n:3600\r\n%1\r\n+k\r\n~1\r\n>1\r\n(123\r\n"),
            Self.b("*2\r\n$3\r\nGET\r\n$999999999999\r\nk\r\n"),
        ]
        for input in inputs { FuzzHarness.run(input) }
    }
}

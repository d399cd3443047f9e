import RingCore
import XCTest

final class UpstreamErrorReplyTests: XCTestCase {
    private func kind(_ text: String) -> UpstreamErrorReply {
        Array(text.utf8).withUnsafeBytes { UpstreamErrorReply.classify($0) }
    }

    func testServerStateErrors() {
        XCTAssertEqual(kind("-LOADING Redis is loading the dataset in memory\r\n"), .loading)
        XCTAssertEqual(kind("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"), .masterDown)
        XCTAssertEqual(kind("-READONLY You can't write against a read only replica.\r\n"), .readOnly)
        XCTAssertEqual(kind("-READONLY\r\n"), .readOnly)
    }

    func testOtherRepliesAreAboutTheRequest() {
        XCTAssertEqual(kind("-ERR wrong number of arguments\r\n"), .other)
        XCTAssertEqual(kind("-READONLYX foo\r\n"), .other)
        XCTAssertEqual(kind("-LOAD\r\n"), .other)
        XCTAssertEqual(kind("+READONLY\r\n"), .other)
        XCTAssertEqual(kind("$8\r\nREADONLY\r\n"), .other)
        XCTAssertEqual(kind("-"), .other)
        XCTAssertEqual(kind(""), .other)
    }
}

// HostPort, the one host:port parser behind listen addresses, the admin listener and server
// lines: where it splits, which ports it takes and which problem it reports.
import XCTest
@testable import RingCore

final class HostPortTests: XCTestCase {
    func testSplitsAtTheLastColon() {
        XCTAssertEqual(HostPort.parse("127.0.0.1:6379"), .success(HostPort(host: "127.0.0.1", port: 6379)))
        XCTAssertEqual(HostPort.parse("redis-1.local:1"), .success(HostPort(host: "redis-1.local", port: 1)))
        XCTAssertEqual(HostPort.parse("::1:65535"), .success(HostPort(host: "::1", port: 65535)))
    }

    func testProblems() {
        XCTAssertEqual(HostPort.parse("localhost"), .failure(.noPort))
        XCTAssertEqual(HostPort.parse("localhost:0"), .failure(.badPort))
        XCTAssertEqual(HostPort.parse("localhost:65536"), .failure(.badPort))
        XCTAssertEqual(HostPort.parse("localhost:redis"), .failure(.badPort))
        XCTAssertEqual(HostPort.parse("localhost:"), .failure(.badPort))
        // The port is checked first: ":x" is a bad port, ":6379" a missing host.
        XCTAssertEqual(HostPort.parse(":x"), .failure(.badPort))
        XCTAssertEqual(HostPort.parse(":6379"), .failure(.noHost))
    }
}

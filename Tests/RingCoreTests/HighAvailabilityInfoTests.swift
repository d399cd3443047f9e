// The INFO wording of where an upstream is and of each sentinel's state.
import XCTest
@testable import RingCore

final class HighAvailabilityInfoTests: XCTestCase {
    func testUpstreamPlacementText() {
        let p = UpstreamPlacement(address: "10.0.0.22:6379", role: "master", failovers: 2)
        XCTAssertEqual(p.infoText, "address=10.0.0.22:6379,role=master,failovers=2")
    }

    func testSentinelFieldsAreNumberedInOrder() {
        let f = SentinelInfo.fields([("10.0.1.1:26379", true), ("10.0.1.2:26379", false)])
        XCTAssertEqual(f, [InfoField("sentinel0", "address=10.0.1.1:26379,status=up"),
                           InfoField("sentinel1", "address=10.0.1.2:26379,status=down")])
        XCTAssertEqual(SentinelInfo.fields([]), [])
    }

    func testFieldsParseBackAsOneSection() {
        let lines = SentinelInfo.fields([("a:1", true)]).map { "\($0.name):\($0.value)" }.joined(separator: "\r\n")
        let parsed = InfoReport.parse("# Ringproxy\r\n" + lines + "\r\n")
        XCTAssertEqual(parsed.first?.fields.first?.value, "address=a:1,status=up")
    }
}

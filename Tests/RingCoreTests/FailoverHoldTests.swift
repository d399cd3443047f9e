import RingCore
import XCTest

final class FailoverHoldTests: XCTestCase {
    func testZeroNeverParks() {
        var h = FailoverHold(limitMs: 0)
        XCTAssertFalse(h.shouldPark(now: 5))
        XCTAssertNil(h.since)
        XCTAssertFalse(h.isOver(now: 1_000_000))
    }

    func testWindowOpensAtFirstParkAndEndsAfterLimit() {
        var h = FailoverHold(limitMs: 3000)
        XCTAssertTrue(h.shouldPark(now: 1000))
        XCTAssertEqual(h.since, 1000)
        // Later requests share the window: it does not restart per request.
        XCTAssertTrue(h.shouldPark(now: 3999))
        XCTAssertEqual(h.since, 1000)
        XCTAssertFalse(h.isOver(now: 3999))
        XCTAssertTrue(h.isOver(now: 4000))
        // Past the window, requests are answered at once until the server is back.
        XCTAssertFalse(h.shouldPark(now: 4000))
        XCTAssertFalse(h.shouldPark(now: 9000))
    }

    func testServerBackOpensANewWindowNextTime() {
        var h = FailoverHold(limitMs: 100)
        XCTAssertTrue(h.shouldPark(now: 0))
        XCTAssertFalse(h.shouldPark(now: 100))
        h.serverBack()
        XCTAssertNil(h.since)
        XCTAssertFalse(h.isOver(now: 10_000))
        XCTAssertTrue(h.shouldPark(now: 10_000))
        XCTAssertEqual(h.since, 10_000)
    }
}

// Checks KeyRoutes alone: longest prefix first whatever the order given, byte-exact
// prefixes, and no match for keys shorter than a prefix.
import XCTest
@testable import RingCore

final class KeyRoutesTests: XCTestCase {
    func match(_ routes: KeyRoutes, _ key: String) -> Int? {
        Array(key.utf8).withUnsafeBytes { routes.server(forKey: $0) }
    }

    func testLongestPrefixWins() {
        let routes = KeyRoutes([("a", 1), ("abc", 3), ("ab", 2)])
        XCTAssertEqual(match(routes, "abcd"), 3)
        XCTAssertEqual(match(routes, "abx"), 2)
        XCTAssertEqual(match(routes, "a"), 1)
        XCTAssertNil(match(routes, "b"))
        XCTAssertNil(match(routes, ""))
        XCTAssertNil(match(routes, "A"), "prefixes are bytes, case-sensitive")
        XCTAssertTrue(KeyRoutes.none.isEmpty)
        XCTAssertNil(match(.none, "abc"))
    }
}

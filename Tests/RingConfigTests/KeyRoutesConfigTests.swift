// Checks `key_routes`: loaded and resolved to server indices, the longest prefix winning over
// the ring, and refused with file:line:key for unknown servers, empty prefixes and non-maps.
import XCTest
@testable import RingConfig
@testable import RingCore

final class KeyRoutesConfigTests: XCTestCase {
    func pool(_ routes: String) -> String {
        """
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          key_routes:
        \(routes)
          servers:
           - 127.0.0.1:6380:1 queue-1
           - 127.0.0.1:6379:1 cache-1
           - 127.0.0.1:6381:1 cache-2
        """
    }

    func server(_ placement: KeyPlacement, _ key: String) -> Int {
        Array(key.utf8).withUnsafeBytes { placement.server(forKey: $0) }
    }

    func testRoutedPrefixesGoToTheirServerTheLongestWinning() throws {
        let config = try ConfigLoader.parse(pool("    \"rq:\": queue-1\n    \"rq:job:\": cache-2"), file: "r.yml")
        let p = config.pools[0]
        let queue = p.servers.firstIndex { $0.name == "queue-1" }!
        let cache2 = p.servers.firstIndex { $0.name == "cache-2" }!
        XCTAssertEqual(Set(p.keyRoutes.map(\.prefix)), ["rq:", "rq:job:"])
        let placement = p.placement()
        for i in 0..<50 {
            XCTAssertEqual(server(placement, "rq:queue:\(i)"), queue)
            XCTAssertEqual(server(placement, "rq:job:\(i)"), cache2, "the longer prefix wins")
        }
        // Other keys keep their ketama position: the same as a pool without routes.
        var plain = p
        plain.keyRoutes = []
        let ring = plain.placement()
        var spread = Set<Int>()
        for i in 0..<200 {
            XCTAssertEqual(server(placement, "user:\(i)"), server(ring, "user:\(i)"))
            spread.insert(server(placement, "user:\(i)"))
        }
        XCTAssertEqual(spread.count, 3, "unrouted keys still use every server")
    }

    func testUnknownServerIsRefusedWithItsLine() {
        XCTAssertThrowsError(try ConfigLoader.parse(pool("    \"rq:\": queue-9"), file: "r.yml")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("r.yml:5"), text)
            XCTAssertTrue(text.contains("alpha.key_routes"), text)
            XCTAssertTrue(text.contains("'queue-9' is not a server of this pool"), text)
        }
    }

    func testEmptyPrefixAndNonMappingAreRefused() {
        XCTAssertThrowsError(try ConfigLoader.parse(pool("    \"\": queue-1"), file: "r.yml")) { error in
            XCTAssertTrue("\(error)".contains("must not be empty"), "\(error)")
        }
        XCTAssertThrowsError(try ConfigLoader.parse(pool("    - queue-1"), file: "r.yml")) { error in
            XCTAssertTrue("\(error)".contains("must be a mapping"), "\(error)")
        }
    }
}

// StatsLayout: a reload's new layout finds each pool's and server's counters in the old one
// by uid (never by position or name alone: a server removed and added back is new), and
// lookups by name skip what a reload retired. HealthTracker keeps its history when a reload
// changes its thresholds.
import XCTest
@testable import RingCore

final class StatsLayoutTests: XCTestCase {
    func server(_ id: String, _ uid: UInt64, retired: Bool = false) -> StatsLayout.Server {
        StatsLayout.Server(identity: id, uid: uid, retired: retired)
    }

    func testServersAndPoolsAreFoundByUidWhateverTheirPlace() {
        let old = StatsLayout(pools: [
            .init(name: "a", uid: 1, servers: [server("a1", 10), server("a2", 11), server("a3", 12)]),
            .init(name: "b", uid: 2, servers: [server("b1", 20)]),
        ])
        // a2 removed (retired, after the live ones), a4 added first, pool b removed, c added.
        let new = StatsLayout(pools: [
            .init(name: "c", uid: 3, servers: [server("c1", 30)]),
            .init(name: "a", uid: 1, servers: [server("a4", 13), server("a1", 10), server("a3", 12), server("a2", 11, retired: true)]),
            .init(name: "b", uid: 2, retired: true, servers: [server("b1", 20)]),
        ])
        let (pools, servers) = new.sources(from: old)
        XCTAssertEqual(pools, [nil, 0, 1])
        XCTAssertEqual(servers[0].map { $0?.pool }, [nil])
        XCTAssertEqual(servers[1].map { $0.map { [$0.pool, $0.server] } }, [nil, [0, 0], [0, 2], [0, 1]])
        XCTAssertEqual(servers[2].map { $0.map { [$0.pool, $0.server] } }, [[1, 0]])
        XCTAssertEqual(new.pool(named: "a"), 1)
        XCTAssertNil(new.pool(named: "b"), "a retired pool is not reported")
        XCTAssertEqual(new.server("a3", inPool: 1), 2)
        XCTAssertNil(new.server("a2", inPool: 1), "a retired server is not reported")
    }

    func testAServerAddedBackIsNew() {
        let old = StatsLayout(pools: [.init(name: "a", uid: 1, servers: [server("a1", 10, retired: true)])])
        let new = StatsLayout(pools: [.init(name: "a", uid: 1, servers: [server("a1", 14), server("a1", 10, retired: true)])])
        let (_, servers) = new.sources(from: old)
        XCTAssertNil(servers[0][0], "the new a1 starts from zero")
        XCTAssertEqual(servers[0][1].map { [$0.pool, $0.server] }, [0, 0])
        XCTAssertEqual(new.server("a1", inPool: 0), 0)
    }

    func testNewThresholdsKeepTheState() {
        var t = HealthTracker(fall: 3, rise: 3)
        XCTAssertEqual(t.checkFailed("x", nowMs: 1), .none)
        t.setThresholds(fall: 2, rise: 1)
        XCTAssertEqual(t.checkFailed("x", nowMs: 2), .wentDown("2 failed health checks (x)"), "the earlier failure still counts")
        XCTAssertEqual(t.checkPassed(nowMs: 3), .cameUp)
        XCTAssertEqual(t.ejections, 1)
    }
}

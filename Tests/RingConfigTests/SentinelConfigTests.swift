// Checks the Sentinel keys: loaded with their defaults, and refused with file:line:key for an
// unnamed server, a unix socket, a bad sentinel address or a user without a password.
import XCTest
@testable import RingConfig
@testable import RingCore

final class SentinelConfigTests: XCTestCase {
    func pool(_ extra: String, servers: String = "   - 127.0.0.1:6379:1 shard-a\n   - 127.0.0.1:6380:1 shard-b\n") -> String {
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n\(extra)  servers:\n\(servers)"
    }

    func testKeysLoadWithDefaults() throws {
        let c = try ConfigLoader.parse(pool("  sentinels:\n   - 127.0.0.1:26379\n   - 127.0.0.1:26380\n"), file: "s.yml")
        let s = c.pools[0].sentinel
        XCTAssertEqual(s.sentinels, [HostPort(host: "127.0.0.1", port: 26379), HostPort(host: "127.0.0.1", port: 26380)])
        XCTAssertEqual(s.pollIntervalMs, 1000)
        XCTAssertEqual(s.timeoutMs, 300)
        XCTAssertEqual(s.failoverHoldMs, 0)
        XCTAssertNil(s.password)
        XCTAssertTrue(s.isEnabled)
        XCTAssertTrue(c.warnings.allSatisfy { !$0.contains("sentinel") })
        XCTAssertFalse(try ConfigLoader.parse(pool(""), file: "s.yml").pools[0].sentinel.isEnabled)
    }

    func testEveryKeySet() throws {
        let c = try ConfigLoader.parse(pool("""
          sentinels: [10.0.1.1:26379]
          sentinel_poll_interval: 500
          sentinel_timeout: 100
          sentinel_auth: pw
          sentinel_user: watcher
          failover_hold: 3000

        """), file: "s.yml")
        let s = c.pools[0].sentinel
        XCTAssertEqual(s.pollIntervalMs, 500)
        XCTAssertEqual(s.timeoutMs, 100)
        XCTAssertEqual(s.password, "pw")
        XCTAssertEqual(s.user, "watcher")
        XCTAssertEqual(s.failoverHoldMs, 3000)
    }

    func testUnnamedServerIsRefusedOnItsLine() {
        let e = refusal(pool("  sentinels: [127.0.0.1:26379]\n", servers: "   - 127.0.0.1:6379:1 shard-a\n   - 127.0.0.1:6380:1\n"))
        XCTAssertEqual(e?.key, "alpha.servers")
        XCTAssertEqual(e?.line, 7)
        XCTAssertTrue(e?.message.contains("has no name") ?? false, "\(String(describing: e))")
        // Without sentinels an unnamed server is fine.
        XCTAssertNil(refusal(pool("", servers: "   - 127.0.0.1:6380:1\n")))
    }

    func testUnixSocketServerIsRefused() {
        let e = refusal(pool("  sentinels: [127.0.0.1:26379]\n", servers: "   - /tmp/r.sock:1 shard-a\n"))
        XCTAssertEqual(e?.key, "alpha.servers")
        XCTAssertTrue(e?.message.contains("unix socket") ?? false)
    }

    func testBadSentinelsAreRefused() {
        XCTAssertEqual(refusal(pool("  sentinels: [nowhere]\n"))?.key, "alpha.sentinels")
        XCTAssertEqual(refusal(pool("  sentinels: []\n"))?.key, "alpha.sentinels")
        XCTAssertEqual(refusal(pool("  sentinels: 127.0.0.1:26379\n"))?.key, "alpha.sentinels")
        XCTAssertEqual(refusal(pool("  sentinels: [127.0.0.1:26379, 127.0.0.1:26379]\n"))?.line, 4)
        XCTAssertEqual(refusal(pool("  sentinels: [127.0.0.1:26379]\n  sentinel_user: u\n"))?.key, "alpha.sentinel_user")
        XCTAssertEqual(refusal(pool("  sentinels: [127.0.0.1:26379]\n  sentinel_poll_interval: 10\n"))?.key,
                       "alpha.sentinel_poll_interval")
        XCTAssertEqual(refusal(pool("  sentinels: [127.0.0.1:26379]\n  sentinel_timeout: 0\n"))?.key, "alpha.sentinel_timeout")
    }

    func testAutoEjectWithSentinelsWarns() throws {
        let c = try ConfigLoader.parse(pool("  sentinels: [127.0.0.1:26379]\n  auto_eject_hosts: true\n"), file: "s.yml")
        XCTAssertTrue(c.warnings.contains { $0.contains("auto_eject_hosts with sentinels") }, "\(c.warnings)")
    }
}

// Checks the keys for moving endpoints and replica reads: their defaults, their values, and
// refusals with file:line:key.
import XCTest
@testable import RingConfig
@testable import RingCore

final class EndpointConfigTests: XCTestCase {
    func pool(_ extra: String, servers: String = "   - 127.0.0.1:6379:1 shard-a\n   - cache.example:6380:1 shard-b\n") -> String {
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n\(extra)  servers:\n\(servers)"
    }

    func testDNSRefreshDefaultsToFiveSeconds() throws {
        XCTAssertEqual(try ConfigLoader.parse(pool(""), file: "e.yml").pools[0].dnsRefreshMs, 5000)
        XCTAssertEqual(try ConfigLoader.parse(pool("  dns_refresh_interval: 0\n"), file: "e.yml").pools[0].dnsRefreshMs, 0)
        XCTAssertEqual(try ConfigLoader.parse(pool("  dns_refresh_interval: 250\n"), file: "e.yml").pools[0].dnsRefreshMs, 250)
    }

    func testDNSRefreshRefusesTooShortAndNegative() {
        let e = refusal(pool("  dns_refresh_interval: 10\n"))
        XCTAssertEqual(e?.key, "alpha.dns_refresh_interval")
        XCTAssertEqual(e?.line, 4)
        XCTAssertTrue(e?.message.contains("at least 100") ?? false, "\(String(describing: e))")
        XCTAssertEqual(refusal(pool("  dns_refresh_interval: -1\n"))?.key, "alpha.dns_refresh_interval")
        XCTAssertEqual(refusal(pool("  dns_refresh_interval: soon\n"))?.key, "alpha.dns_refresh_interval")
    }

    func testReplicasAndReadFrom() throws {
        let c = try ConfigLoader.parse(pool("""
          read_from: replica
          replica_max_lag: 3000
          replicas:
            shard-b: [127.0.0.1:7005, 127.0.0.1:7004]
            shard-a: [127.0.0.1:7003]

        """), file: "e.yml")
        let p = c.pools[0]
        XCTAssertEqual(p.readFrom, .replica)
        XCTAssertEqual(p.replicaMaxLagMs, 3000)
        let a = p.servers.firstIndex { $0.displayName == "shard-a" }!, b = p.servers.firstIndex { $0.displayName == "shard-b" }!
        XCTAssertEqual(p.replicas.filter { $0.server == b }.map(\.address.port), [7005, 7004], "listed order kept")
        XCTAssertEqual(p.replicas.filter { $0.server == a }.map(\.address.port), [7003])
        XCTAssertTrue(c.warnings.isEmpty, "\(c.warnings)")
        let plain = try ConfigLoader.parse(pool(""), file: "e.yml").pools[0]
        XCTAssertEqual(plain.readFrom, .master)
        XCTAssertEqual(plain.replicaMaxLagMs, 10_000)
        XCTAssertTrue(plain.replicas.isEmpty)
    }

    func testReadFromReplicaWithoutReplicasWarns() throws {
        let c = try ConfigLoader.parse(pool("  read_from: replica\n"), file: "e.yml")
        XCTAssertTrue(c.warnings.contains { $0.contains("read_from replica without replicas") }, "\(c.warnings)")
        let sentinel = try ConfigLoader.parse(pool("  sentinels: [127.0.0.1:26379]\n  read_from: replica\n"), file: "e.yml")
        XCTAssertTrue(sentinel.warnings.isEmpty, "Sentinel names the replicas: \(sentinel.warnings)")
    }

    func testBadReplicasAreRefusedOnTheirLine() {
        XCTAssertEqual(refusal(pool("  replicas: {nosuch: [127.0.0.1:7003]}\n"))?.key, "alpha.replicas")
        XCTAssertEqual(refusal(pool("  replicas: {shard-a: []}\n"))?.key, "alpha.replicas")
        XCTAssertEqual(refusal(pool("  replicas: {shard-a: [nowhere]}\n"))?.key, "alpha.replicas")
        XCTAssertTrue(refusal(pool("  replicas: {shard-a: [127.0.0.1:6379]}\n"))?.message.contains("itself") ?? false)
        XCTAssertTrue(refusal(pool("  replicas: {shard-a: [127.0.0.1:7003], shard-b: [127.0.0.1:7003]}\n"))?.message.contains("twice") ?? false)
        XCTAssertEqual(refusal(pool("  replicas: [127.0.0.1:7003]\n"))?.line, 4)
        XCTAssertEqual(refusal(pool("  read_from: replicas\n"))?.key, "alpha.read_from")
        XCTAssertEqual(refusal(pool("  replica_max_lag: -1\n"))?.key, "alpha.replica_max_lag")
    }
}

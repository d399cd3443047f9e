// read_from: replica in a pool with sentinels and no `replicas` list: the replicas come from
// SENTINEL REPLICAS, are checked (ROLE, link, lag) and read from; writes stay on the masters.

import Foundation
import XCTest

final class SentinelReplicaTests: XCTestCase {
    /// Sentinel learns the replicas from its masters' INFO (every 10 s at first); the
    /// setup waits for that, then the checker's first verdicts.
    static let readyLimitSeconds = 30.0
    static let readsPerKey = 5

    func testReplicasNamedBySentinelAreReadFrom() throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        guard cluster.waitReady() else { return XCTFail("sentinels did not find each other in \(SentinelCluster.setupLimitSeconds) s") }
        try cluster.startProxy(extra: "read_from: replica\nhealth_check_interval: 200")
        let ready = Date().addingTimeInterval(Self.readyLimitSeconds)
        func usable() -> Int { usableReplicas(cluster.admin("/stats")) }
        while usable() < 3 && Date() < ready { usleep(200_000) }
        XCTAssertEqual(usable(), 3, "one usable replica per group: \(cluster.admin("/stats"))\n\(cluster.proxyLog)")
        for r in cluster.replicas { XCTAssertTrue(cluster.proxyLog.contains("replica 127.0.0.1:\(r.port) of"), cluster.proxyLog) }

        let client = try RESPClient(port: cluster.proxyPort)
        let keys = cluster.keys.flatMap { $0 }
        for k in keys { XCTAssertEqual(try client.command("SET", k, "v").text, "+OK\r\n") }
        usleep(500_000)  // replication is asynchronous: the reads below must find the writes
        for s in cluster.masters + cluster.replicas {
            _ = Harness.run(Harness.which("redis-cli") ?? "/usr/bin/redis-cli", ["-p", "\(s.port)", "CONFIG", "RESETSTAT"], timeout: 10)
        }
        var wrong = 0
        for k in keys { for _ in 0..<Self.readsPerKey where try client.command("GET", k) != bulk("v") { wrong += 1 } }
        XCTAssertEqual(wrong, 0)
        let replicaGets = cluster.replicas.map { commandCalls($0.port, "get") }
        let masterGets = cluster.masters.map { commandCalls($0.port, "get") }
        print("read_from replica with sentinels: GET calls on replicas \(replicaGets), on masters \(masterGets)")
        XCTAssertEqual(replicaGets, cluster.keys.map { $0.count * Self.readsPerKey })
        XCTAssertEqual(masterGets, [0, 0, 0])
        let metrics = cluster.admin("/metrics")
        XCTAssertTrue(metrics.contains("ringproxy_replica_requests_total{pool=\"shards\",upstream=\"shard-b\",replica=\"127.0.0.1:\(cluster.replicas[1].port)\"}"), metrics)
    }
}

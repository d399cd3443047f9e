// read_from: replica over two groups (a master and a replica each, listed in `replicas`):
// reads are counted on the replicas, both in the proxy's /stats and in the replicas' own
// INFO commandstats; writes (and a transaction's read) only on the masters. The pool has no
// `timeout`, so nothing of the replicas may hang on the per-tick timeout work.

import Foundation
import RingConfig
import RingCore
import XCTest

final class ReplicaReadTests: XCTestCase {
    /// The checker's first verdicts come within a check interval; waiting longer than this
    /// means the setup is broken.
    static let readyLimitSeconds = 15.0
    static let writes = 200
    static let reads = 300

    func testReadsGoToReplicasAndWritesToMasters() throws {
        let pairs = try ReplicaGroups(count: 2, limitSeconds: Self.readyLimitSeconds)
        defer { pairs.stop() }
        let (masters, replicas) = (pairs.masters, pairs.replicas)

        let dir = Harness.tempDir()
        let proxyPort = Harness.freePort(), adminPort = Harness.freePort()
        let config = """
        ringproxy:
          threads: 2
          admin: 127.0.0.1:\(adminPort)
        replicated:
          listen: 127.0.0.1:\(proxyPort)
          redis: true
          health_check_interval: 200
          read_from: replica
          replica_max_lag: 10000
          servers:
            - 127.0.0.1:\(masters[0].port):1 shard-a
            - 127.0.0.1:\(masters[1].port):1 shard-b
          replicas:
            shard-a: [127.0.0.1:\(replicas[0].port)]
            shard-b: [127.0.0.1:\(replicas[1].port)]

        """
        try config.write(toFile: "\(dir)/proxy.yml", atomically: true, encoding: .utf8)
        let proxy = try startRingproxy(config: "\(dir)/proxy.yml", port: proxyPort)
        defer { proxy.stop() }
        let admin = { Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/stats"], timeout: 10).stdout }
        let ready = Date().addingTimeInterval(Self.readyLimitSeconds)
        while usableReplicas(admin()) < 2 && Date() < ready { usleep(100_000) }
        XCTAssertEqual(usableReplicas(admin()), 2, "both replicas usable: \(admin())\n\(proxy.log)")
        for s in masters + replicas { _ = redisCLI(s.port, "CONFIG", "RESETSTAT") }

        // Keys on both groups, by the proxy's own placement.
        let placement = try ConfigLoader.parse(config, file: "\(dir)/proxy.yml").pools[0].placement()
        let keys = (0..<Self.writes).map { "rr:\($0)" }
        let groups = keys.map { k in Array(k.utf8).withUnsafeBytes { placement.server(forKey: $0) } }
        XCTAssertEqual(Set(groups), [0, 1], "keys on both groups")
        let client = try RESPClient(port: proxyPort)
        for k in keys { XCTAssertEqual(try client.command("SET", k, "v:\(k)").text, "+OK\r\n") }
        // Staleness: a replica answers once the write reached it, not before.
        let synced = Date().addingTimeInterval(5)
        while zip(replicas, [0, 1]).contains(where: { r, g in
            Int(redisCLI(r.port, "DBSIZE").trimmingCharacters(in: .whitespacesAndNewlines)) != groups.filter { $0 == g }.count
        }) && Date() < synced { usleep(50_000) }
        var wrong = 0
        for i in 0..<Self.reads {
            let k = keys[i % keys.count]
            if try client.command("GET", k) != bulk("v:\(k)") { wrong += 1 }
        }
        XCTAssertEqual(wrong, 0)
        // A read split over both groups: each part to its group's replica.
        let mget = try client.command(bytes: (["MGET"] + keys.prefix(20)).map { Array($0.utf8) })
        XCTAssertEqual(mget, Array("*20\r\n".utf8) + keys.prefix(20).flatMap { bulk("v:\($0)") })
        XCTAssertEqual(replicas.map { commandCalls($0.port, "mget") }, [0, 1].map { g in groups.prefix(20).contains(g) ? 1 : 0 })
        XCTAssertEqual(masters.map { commandCalls($0.port, "mget") }, [0, 0])
        // A transaction's read stays on the master.
        let tx = try RESPClient(port: proxyPort)
        _ = try tx.command("MULTI")
        _ = try tx.command("GET", keys[0])
        XCTAssertEqual(try tx.command("EXEC"), Array("*1\r\n".utf8) + bulk("v:\(keys[0])"))

        let replicaGets = replicas.map { commandCalls($0.port, "get") }
        let masterGets = masters.map { commandCalls($0.port, "get") }
        let masterSets = masters.map { commandCalls($0.port, "set") }
        print("read_from replica: GET calls on replicas \(replicaGets), on masters \(masterGets); SET calls on masters \(masterSets)")
        XCTAssertEqual(replicaGets.reduce(0, +), Self.reads, "every plain read on a replica")
        XCTAssertTrue(replicaGets.allSatisfy { $0 > 0 }, "both replicas read from")
        XCTAssertEqual(masterGets.reduce(0, +), 1, "only the transaction's read on a master")
        XCTAssertEqual(masterSets.reduce(0, +), Self.writes, "every write on a master")

        // The proxy's own counters say the same: requests per replica, writes on masters.
        guard let data = admin().data(using: .utf8), let stats = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pool = stats["replicated"] as? [String: Any] else { return XCTFail("no /stats") }
        var replicaRequests = 0, masterRequests = 0
        for name in ["shard-a", "shard-b"] {
            guard let server = pool[name] as? [String: Any], let reps = server["replicas"] as? [String: [String: Any]] else {
                return XCTFail("no replicas in /stats for \(name): \(admin())")
            }
            masterRequests += server["requests"] as? Int ?? -1
            for (_, r) in reps {
                XCTAssertEqual(r["role"] as? String, "replica")
                replicaRequests += r["requests"] as? Int ?? -1
            }
        }
        XCTAssertEqual(replicaRequests, Self.reads + Set(groups.prefix(20)).count)
        // The writes, and the transaction's GET and EXEC on a master (the proxy answers MULTI
        // itself and sends it with the first queued command, uncounted).
        XCTAssertEqual(masterRequests, Self.writes + 2)
        let info = try client.command("INFO", "ringproxy").text
        XCTAssertTrue(info.contains("address=127.0.0.1:\(replicas[0].port),role=replica,failovers=0,state=up,requests="), info)
        try checkStatusPage(adminPort: adminPort)
        let metrics = Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/metrics"], timeout: 10).stdout
        XCTAssertTrue(metrics.contains("ringproxy_replica_usable{pool=\"replicated\",upstream=\"shard-a\",replica=\"127.0.0.1:\(replicas[0].port)\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("ringproxy_replica_requests_total{pool=\"replicated\",upstream=\"shard-b\",replica=\"127.0.0.1:\(replicas[1].port)\"} \(replicaGets[1] + commandCalls(replicas[1].port, "mget"))"), metrics)
    }

    /// The status page (in headless chromium, when installed) lists each server's replicas.
    func checkStatusPage(adminPort: Int) throws {
        guard let chromium = Harness.which("chromium") ?? Harness.which("chromium-browser") else { return }
        let r = Harness.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(Harness.tempDir())",
                                       "--virtual-time-budget=3000", "--dump-dom", "http://127.0.0.1:\(adminPort)/"], timeout: 90)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.components(separatedBy: "class=\"up\">read from</span>").count - 1 == 2, String(r.stdout.prefix(3000)))
    }

    /// prefer_replica: a replica killed under reads is passed over (its refused connection
    /// at once, the checker's verdict within a check interval); its group's reads go to the
    /// master, the other group's still to its replica.
    func testPreferReplicaFallsBackToTheMaster() throws {
        let pairs = try ReplicaGroups(count: 2, limitSeconds: Self.readyLimitSeconds)
        defer { pairs.stop() }
        let (masters, replicas) = (pairs.masters, pairs.replicas)
        let dir = Harness.tempDir()
        let proxyPort = Harness.freePort(), adminPort = Harness.freePort()
        let config = """
        ringproxy:
          admin: 127.0.0.1:\(adminPort)
        replicated:
          listen: 127.0.0.1:\(proxyPort)
          redis: true
          timeout: 1000
          health_check_interval: 200
          read_from: prefer_replica
          servers:
            - 127.0.0.1:\(masters[0].port):1 shard-a
            - 127.0.0.1:\(masters[1].port):1 shard-b
          replicas:
            shard-a: [127.0.0.1:\(replicas[0].port)]
            shard-b: [127.0.0.1:\(replicas[1].port)]

        """
        try config.write(toFile: "\(dir)/proxy.yml", atomically: true, encoding: .utf8)
        let proxy = try startRingproxy(config: "\(dir)/proxy.yml", port: proxyPort)
        defer { proxy.stop() }
        let admin = { Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/stats"], timeout: 10).stdout }
        let ready = Date().addingTimeInterval(Self.readyLimitSeconds)
        while usableReplicas(admin()) < 2 && Date() < ready { usleep(100_000) }
        XCTAssertEqual(usableReplicas(admin()), 2, admin())

        let placement = try ConfigLoader.parse(config, file: "\(dir)/proxy.yml").pools[0].placement()
        // Twenty keys per group, by the proxy's own placement.
        var byGroup: [[String]] = [[], []]
        var n = 0
        while byGroup.contains(where: { $0.count < 20 }) && n < 100_000 {
            let k = "pr:\(n * 7919)"
            n += 1
            let g = Array(k.utf8).withUnsafeBytes { placement.server(forKey: $0) }
            if byGroup[g].count < 20 { byGroup[g].append(k) }
        }
        let keys = byGroup[0] + byGroup[1]
        let client = try RESPClient(port: proxyPort)
        for k in keys { _ = try client.command("SET", k, "v") }
        usleep(300_000)
        replicas[1].stop()
        for s in masters + [replicas[0]] { _ = redisCLI(s.port, "CONFIG", "RESETSTAT") }
        // Reads for two check intervals and more, bounded.
        var errors = 0, reads = 0
        let until = Date().addingTimeInterval(1.5)
        while Date() < until && reads < 20_000 {
            if try client.command("GET", keys[reads % keys.count]) != bulk("v") { errors += 1 }
            reads += 1
        }
        print("prefer_replica, shard-b's replica killed: \(reads) reads, \(errors) errors; GET calls: shard-a replica \(commandCalls(replicas[0].port, "get")), shard-a master \(commandCalls(masters[0].port, "get")), shard-b master \(commandCalls(masters[1].port, "get"))")
        // Only a read already written to the replica as it died may fail.
        XCTAssertLessThanOrEqual(errors, 1)
        XCTAssertEqual(commandCalls(masters[0].port, "get"), 0, "shard-a still reads from its replica")
        XCTAssertGreaterThan(commandCalls(replicas[0].port, "get"), 0, "shard-a still reads from its replica")
        XCTAssertGreaterThan(commandCalls(masters[1].port, "get"), 0, "shard-b reads from its master")
        XCTAssertTrue(admin().contains("\"usable\":false"), admin())
        XCTAssertTrue(proxy.log.contains("replica 127.0.0.1:\(replicas[1].port) of shard-b not usable for reads"), proxy.log)
    }
}

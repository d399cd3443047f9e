// A reload in a pool that reads from replicas: read_from switched on by a reload sends reads
// to the (checked) replicas; a server added by a later reload shifts where the replicas'
// counters live, and their totals carry over; read_from switched off sends reads back to
// the masters. Counted by the servers' own INFO commandstats and by /stats.

import Foundation
import RingConfig
import XCTest

final class ReloadReplicaTests: XCTestCase {
    static let readyLimitSeconds = 15.0

    func testReadFromAndServersChangedByReloads() throws {
        let groups = try ReplicaGroups(count: 2, limitSeconds: Self.readyLimitSeconds)
        let third = try RedisServer()
        defer { groups.stop(); third.stop() }
        let (masters, replicas) = (groups.masters + [third], groups.replicas)
        let dir = Harness.tempDir()
        let path = dir + "/proxy.yml"
        let port = Harness.freePort(), adminPort = Harness.freePort()
        func write(readFrom: String, servers: Int) throws {
            var y = "ringproxy:\n  threads: 2\n  admin: 127.0.0.1:\(adminPort)\nreplicated:\n  listen: 127.0.0.1:\(port)\n  redis: true\n"
            y += "  health_check_interval: 200\n  read_from: \(readFrom)\n  servers:\n"
            for i in 0..<servers { y += "    - 127.0.0.1:\(masters[i].port):1 shard-\(["a", "b", "c"][i])\n" }
            y += "  replicas:\n    shard-a: [127.0.0.1:\(replicas[0].port)]\n    shard-b: [127.0.0.1:\(replicas[1].port)]\n"
            try y.write(toFile: path, atomically: true, encoding: .utf8)
        }
        func reload() -> String {
            Harness.run("/usr/bin/curl", ["-s", "-X", "POST", "http://127.0.0.1:\(adminPort)/reload"], timeout: 30).stdout
        }
        func stats() -> [String: Any] {
            let text = Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/stats"], timeout: 10).stdout
            return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }
        func replicaRequests() -> Int {
            let pool = stats()["replicated"] as? [String: Any] ?? [:]
            return ["shard-a", "shard-b"].reduce(0) { total, name in
                let reps = (pool[name] as? [String: Any])?["replicas"] as? [String: [String: Any]] ?? [:]
                return total + reps.values.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) }
            }
        }
        func waitUsable() {
            let ready = Date().addingTimeInterval(Self.readyLimitSeconds)
            while !(replicaUsable() == 2) && Date() < ready { usleep(100_000) }
        }
        func replicaUsable() -> Int {
            usableReplicas(Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/stats"], timeout: 10).stdout)
        }

        try write(readFrom: "master", servers: 2)
        let proxy = try startRingproxy(config: path, port: port)
        defer { proxy.stop() }
        let keys = (0..<100).map { "rl:\($0)" }
        let client = try RESPClient(port: port)
        defer { client.close() }
        for k in keys { XCTAssertEqual(try client.command("SET", k, k).text, "+OK\r\n") }
        usleep(300_000)  // the replicas catch up
        func readAll() throws -> Int {
            var wrong = 0
            for k in keys where try client.command("GET", k) != bulk(k) { wrong += 1 }
            return wrong
        }
        XCTAssertEqual(try readAll(), 0)
        XCTAssertEqual(replicas.map { commandCalls($0.port, "get") }, [0, 0], "read_from: master reads the masters")

        // read_from: replica by reload, on the same client connection.
        try write(readFrom: "replica", servers: 2)
        XCTAssertTrue(reload().contains("read_from master -> replica"))
        waitUsable()
        XCTAssertEqual(replicaUsable(), 2, "\(proxy.log)")
        XCTAssertEqual(try readAll(), 0)
        XCTAssertEqual(replicas.map { commandCalls($0.port, "get") }.reduce(0, +), keys.count, "every read on a replica after the reload")
        XCTAssertEqual(replicaRequests(), keys.count)

        // A third server: the replicas' counters move behind it and keep their totals.
        try write(readFrom: "replica", servers: 3)
        XCTAssertTrue(reload().contains("servers +shard-c"))
        usleep(300_000)
        XCTAssertEqual(replicaUsable(), 2, "the replicas stay usable across the reload")
        let moved = keys.filter { k in
            let p = try? ConfigLoader.load(path: path).pools[0]
            return p.map { c in Array(k.utf8).withUnsafeBytes { c.placement().server(forKey: $0) } == 2 } ?? false
        }
        let wrongAfter = try readAll()
        XCTAssertEqual(wrongAfter, moved.count, "only keys the new server took are missing")
        let gets = replicas.map { commandCalls($0.port, "get") }.reduce(0, +)
        XCTAssertEqual(gets, 2 * keys.count - moved.count, "shard-a and shard-b reads still on their replicas")
        XCTAssertEqual(replicaRequests(), gets, "the replicas' counters carried over")

        // Back to the masters.
        try write(readFrom: "master", servers: 3)
        XCTAssertTrue(reload().contains("read_from replica -> master"))
        _ = try readAll()
        XCTAssertEqual(replicas.map { commandCalls($0.port, "get") }.reduce(0, +), gets, "no read on a replica after read_from: master")
    }
}

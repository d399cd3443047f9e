// Sentinel-managed shards through the proxy: three groups (shard-a/b/c, each a master and a
// replica), three sentinels monitoring all three (down-after 1000 ms, failover-timeout 3000,
// quorum 2), ringproxy with 2 workers following them. Under SET+GET load over all groups,
// shard-b's master is SIGKILLed: the other groups see no error, and shard-b's errors end
// soon after the first +switch-master (observed here by subscribing to the sentinels).

import Foundation
import RingConfig
import RingCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class SentinelTests: XCTestCase {
    static let groups = ["shard-a", "shard-b", "shard-c"]
    /// How long after +switch-master shard-b's errors may go on (the issue's target).
    static let switchWindowSeconds = 0.2
    /// The same with the first sentinel frozen: its queries time out (sentinel_timeout) and
    /// must not hold the switch up.
    static let switchWindowFrozenSentinelSeconds = 0.5
    /// Sentinels find each other through hello messages every 2 s and must agree before a
    /// failover; waiting longer than this means the setup is broken.
    static let setupLimitSeconds = 30.0
    /// down-after 1000 ms plus an election and a promotion take a few seconds.
    static let failoverLimitSeconds = 25.0

    func testKilledMasterSwitchesWithinWindow() throws {
        try runFailover(freezeFirstSentinel: false, window: Self.switchWindowSeconds)
    }

    func testFrozenFirstSentinelDoesNotDelaySwitch() throws {
        try runFailover(freezeFirstSentinel: true, window: Self.switchWindowFrozenSentinelSeconds)
    }

    func runFailover(freezeFirstSentinel: Bool, window: Double) throws {
        let dir = Harness.tempDir()
        var masters: [RedisServer] = []
        var replicas: [RedisServer] = []
        for _ in Self.groups {
            let m = try RedisServer()
            masters.append(m)
            replicas.append(try RedisServer(extraArgs: ["--replicaof", "127.0.0.1", "\(m.port)"]))
        }
        var sentinels: [(port: Int, process: Background)] = []
        for i in 0..<3 {
            let port = Harness.freePort()
            var conf = "port \(port)\nbind 127.0.0.1\ndir \(dir)\n"
            for (g, name) in Self.groups.enumerated() {
                conf += "sentinel monitor \(name) 127.0.0.1 \(masters[g].port) 2\n"
                conf += "sentinel down-after-milliseconds \(name) 1000\n"
                conf += "sentinel failover-timeout \(name) 3000\n"
            }
            let path = "\(dir)/sentinel-\(i).conf"
            try conf.write(toFile: path, atomically: true, encoding: .utf8)
            let p = try Background("sentinel-\(port)", Harness.which("redis-server") ?? "/usr/bin/redis-server", [path, "--sentinel"])
            XCTAssertTrue(Harness.waitForListener(port: port))
            sentinels.append((port, p))
        }
        defer {
            for s in sentinels { kill(s.process.pid, SIGCONT); s.process.stop(signal: SIGKILL) }
            for r in masters + replicas { r.stop() }
        }
        // Every sentinel knows the other two and shard-b's replica before the kill.
        let ready = Date().addingTimeInterval(Self.setupLimitSeconds)
        func setUp() -> Bool {
            for s in sentinels {
                guard let c = try? RESPClient(port: s.port, timeoutSeconds: 2),
                      let others = try? c.command("SENTINEL", "SENTINELS", "shard-b"),
                      let reps = try? c.command("SENTINEL", "REPLICAS", "shard-b") else { return false }
                if !others.text.hasPrefix("*2\r\n") || !reps.text.hasPrefix("*1\r\n") { return false }
            }
            guard let r = try? RESPClient(port: replicas[1].port, timeoutSeconds: 2),
                  let info = try? r.command("INFO", "replication") else { return false }
            return info.text.contains("master_link_status:up")
        }
        while !setUp() {
            guard Date() < ready else { return XCTFail("sentinels did not find each other in \(Self.setupLimitSeconds) s") }
            usleep(200_000)
        }

        let proxyPort = Harness.freePort()
        let adminPort = Harness.freePort()
        let config = """
        ringproxy:
          threads: 2
          admin: 127.0.0.1:\(adminPort)
        shards:
          listen: 127.0.0.1:\(proxyPort)
          redis: true
          timeout: 1000
          servers:
            - 127.0.0.1:\(masters[0].port):1 shard-a
            - 127.0.0.1:\(masters[1].port):1 shard-b
            - 127.0.0.1:\(masters[2].port):1 shard-c
          sentinels:
        \(sentinels.map { "    - 127.0.0.1:\($0.port)" }.joined(separator: "\n"))
          sentinel_poll_interval: 1000
          sentinel_timeout: 300

        """
        let configPath = "\(dir)/proxy.yml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let proxy = try startRingproxy(config: configPath, port: proxyPort)
        defer { proxy.stop() }
        let placement = try ConfigLoader.parse(config, file: configPath).pools[0].placement()
        var keys: [[String]] = [[], [], []]
        var n = 0
        while keys.contains(where: { $0.count < 8 }) {
            let k = "ha:\(n)"
            n += 1
            keys[Array(k.utf8).withUnsafeBytes { placement.server(forKey: $0) }].append(k)
        }

        // +switch-master as the sentinels publish it: the earliest one counts.
        let observed = Observations()
        let watchers = sentinels.enumerated().filter { !(freezeFirstSentinel && $0.offset == 0) }.map { $0.element.port }
        for port in watchers {
            let c = try RESPClient(port: port, timeoutSeconds: Int(Self.failoverLimitSeconds) + 5)
            _ = try c.command("SUBSCRIBE", "+switch-master")
            Thread.detachNewThread {
                while let m = try? c.readReply() {
                    if m.text.contains("shard-b") { observed.switched(at: Date()); return }
                }
            }
        }

        // SET+GET load, one client per group.
        let load = Load(groups: Self.groups.count)
        for (g, groupKeys) in keys.enumerated() {
            Thread.detachNewThread { load.run(group: g, keys: groupKeys, port: proxyPort) }
        }
        usleep(1_000_000)
        if freezeFirstSentinel { kill(sentinels[0].process.pid, SIGSTOP) }
        let killedAt = Date()
        masters[1].stop()
        let deadline = Date().addingTimeInterval(Self.failoverLimitSeconds)
        while observed.first == nil && Date() < deadline { usleep(50_000) }
        // Load goes on past the window, so errors after it would be seen.
        usleep(1_500_000)
        load.stop()
        usleep(300_000)

        guard let switchAt = observed.first else { return XCTFail("no +switch-master within \(Self.failoverLimitSeconds) s; proxy log:\n\(proxy.log)") }
        let r = load.results()
        XCTAssertEqual(r[0].errors, 0, "shard-a errors: \(r[0].lastMessage)")
        XCTAssertEqual(r[2].errors, 0, "shard-c errors: \(r[2].lastMessage)")
        XCTAssertGreaterThan(r[1].errors, 0, "shard-b's master was killed: some requests must fail")
        XCTAssertGreaterThan(r[1].okAfter(switchAt), 0, "shard-b answers again after the switch")
        let lastError = r[1].lastErrorAt ?? killedAt
        let afterSwitch = lastError.timeIntervalSince(switchAt)
        let errorWindow = lastError.timeIntervalSince(r[1].firstErrorAt ?? killedAt)
        print(String(format: "sentinel failover%@: shard-b errors for %.0f ms after the kill (%d errors); last error %+.0f ms from the first +switch-master (%.0f ms after the kill); shard-a/shard-c errors %d/%d; ops %d/%d/%d",
                     freezeFirstSentinel ? " (first sentinel frozen)" : "",
                     errorWindow * 1000, r[1].errors, afterSwitch * 1000, switchAt.timeIntervalSince(killedAt) * 1000,
                     r[0].errors, r[2].errors, r[0].ok, r[1].ok, r[2].ok))
        XCTAssertLessThanOrEqual(afterSwitch, window, "shard-b's errors must end within \(window) s of +switch-master; last: \(r[1].lastMessage)\n\(proxy.log)")
        XCTAssertTrue(proxy.log.contains("Sentinel failover (epoch"), proxy.log)
        // /metrics and /stats name shard-b's new master (its replica) and one failover.
        let metrics = Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/metrics"], timeout: 10).stdout
        XCTAssertTrue(metrics.contains("ringproxy_upstream_failovers_total{pool=\"shards\",upstream=\"shard-b\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("address=\"127.0.0.1:\(replicas[1].port)\""), metrics)
        let stats = Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)/stats"], timeout: 10).stdout
        XCTAssertTrue(stats.contains("\"address\":\"127.0.0.1:\(replicas[1].port)\",\"failovers\":1"), stats)
    }
}

/// The first +switch-master seen by any observer.
final class Observations: @unchecked Sendable {
    private let lock = NSLock()
    private var at: Date?
    func switched(at date: Date) { lock.lock(); if at == nil || date < at! { at = date }; lock.unlock() }
    var first: Date? { lock.lock(); defer { lock.unlock() }; return at }
}

/// SET then GET in a loop, per group, recording when each error and success happened.
final class Load: @unchecked Sendable {
    struct Result {
        var ok = 0
        var errors = 0
        var firstErrorAt: Date?
        var lastErrorAt: Date?
        var lastMessage = ""
        var okTimes: [Date] = []
        func okAfter(_ d: Date) -> Int { okTimes.filter { $0 > d }.count }
    }

    private let lock = NSLock()
    private var data: [Result]
    private var stopped = false
    /// A request unanswered this long counts as an error (and the client reconnects).
    static let replyTimeoutSeconds = 2

    init(groups: Int) { data = Array(repeating: Result(), count: groups) }

    func stop() { lock.lock(); stopped = true; lock.unlock() }
    var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    func results() -> [Result] { lock.lock(); defer { lock.unlock() }; return data }

    private func record(_ g: Int, ok: Bool, _ message: String = "") {
        let now = Date()
        lock.lock()
        if ok {
            data[g].ok += 1
            data[g].okTimes.append(now)
        } else {
            data[g].errors += 1
            if data[g].firstErrorAt == nil { data[g].firstErrorAt = now }
            data[g].lastErrorAt = now
            data[g].lastMessage = message
        }
        lock.unlock()
    }

    func run(group g: Int, keys: [String], port: Int) {
        var client: RESPClient?
        var i = 0
        while !isStopped {
            let key = keys[i % keys.count]
            i += 1
            do {
                if client == nil { client = try RESPClient(port: port, timeoutSeconds: Load.replyTimeoutSeconds) }
                let set = try client!.command("SET", key, "v\(i)")
                if set.first == UInt8(ascii: "-") { record(g, ok: false, set.text) } else { record(g, ok: true) }
                let get = try client!.command("GET", key)
                if get.first == UInt8(ascii: "-") { record(g, ok: false, get.text) } else { record(g, ok: true) }
            } catch {
                record(g, ok: false, "\(error)")
                client = nil
            }
            usleep(2_000)
        }
    }
}

// The Sentinel test setup: three groups (shard-a/b/c, each a master and a replica), three
// sentinels monitoring all three (down-after 1000 ms, failover-timeout 3000, quorum 2), and
// ringproxy with 2 workers following them, with keys known to land on each group and the
// first +switch-master for shard-b observed on the sentinels.

import Foundation
import RingConfig
import RingCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class SentinelCluster {
    static let groups = ["shard-a", "shard-b", "shard-c"]
    /// Sentinels find each other through hello messages every 2 s and must agree before a
    /// failover; waiting longer than this means the setup is broken.
    static let setupLimitSeconds = 30.0

    let dir = Harness.tempDir()
    var masters: [RedisServer] = []
    var replicas: [RedisServer] = []
    var sentinels: [(port: Int, process: Background)] = []
    var proxy: Background?
    var proxyPort = 0
    var adminPort = 0
    /// Eight keys per group, by the proxy's own placement.
    var keys: [[String]] = [[], [], []]
    let observed = Observations()

    init() throws {
        for _ in Self.groups {
            let m = try RedisServer()
            masters.append(m)
            replicas.append(try RedisServer(extraArgs: ["--replicaof", "127.0.0.1", "\(m.port)"]))
        }
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
    }

    func stop() {
        proxy?.stop()
        for s in sentinels { kill(s.process.pid, SIGCONT); s.process.stop(signal: SIGKILL) }
        for r in masters + replicas { kill(r.process.pid, SIGCONT); r.stop() }
    }

    /// Every sentinel knows the other two and shard-b's replica, whose link is up.
    func waitReady() -> Bool {
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
            if Date() >= ready { return false }
            usleep(200_000)
        }
        return true
    }

    /// Starts ringproxy (`extra`: more pool keys, one per line) and finds keys per group.
    func startProxy(extra: String = "", pollIntervalMs: Int = 1000) throws {
        proxyPort = Harness.freePort()
        adminPort = Harness.freePort()
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
          sentinel_poll_interval: \(pollIntervalMs)
          sentinel_timeout: 300
        \(extra.split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))

        """
        let configPath = "\(dir)/proxy.yml"
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        proxy = try startRingproxy(config: configPath, port: proxyPort)
        let placement = try ConfigLoader.parse(config, file: configPath).pools[0].placement()
        var n = 0
        while keys.contains(where: { $0.count < 8 }) {
            let k = "ha:\(n)"
            n += 1
            keys[Array(k.utf8).withUnsafeBytes { placement.server(forKey: $0) }].append(k)
        }
    }

    /// Records the first +switch-master for shard-b on every sentinel but those skipped.
    func observeSwitch(skipping: Set<Int> = [], limitSeconds: Double) throws {
        for (i, s) in sentinels.enumerated() where !skipping.contains(i) {
            let c = try RESPClient(port: s.port, timeoutSeconds: Int(limitSeconds) + 5)
            _ = try c.command("SUBSCRIBE", "+switch-master")
            let observed = self.observed
            Thread.detachNewThread {
                while let m = try? c.readReply() {
                    if m.text.contains("shard-b") { observed.switched(at: Date()); return }
                }
            }
        }
    }

    /// Waits for the first +switch-master; nil after `limitSeconds`.
    func waitForSwitch(limitSeconds: Double) -> Date? {
        let deadline = Date().addingTimeInterval(limitSeconds)
        while observed.first == nil && Date() < deadline { usleep(50_000) }
        return observed.first
    }

    var proxyLog: String { proxy?.log ?? "" }

    func admin(_ path: String) -> String {
        Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)\(path)"], timeout: 10).stdout
    }
}

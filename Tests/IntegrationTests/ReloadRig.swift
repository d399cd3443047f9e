// Real redis-servers and one ringproxy whose config file the test rewrites and reloads, with
// the load generator (python/reload_load.py: 50 clients, nothing retried) and, for key
// placement, a real nutcracker on the same servers.

import Foundation
import RingConfig
import RingCore
import XCTest

final class ReloadRig {
    let redis: [RedisServer]
    let port = Harness.freePort()
    let adminPort = Harness.freePort()
    let dir = Harness.tempDir()
    var path: String { dir + "/proxy.yml" }
    private(set) var proxy: Background?

    init(servers: Int) throws {
        redis = try (0..<servers).map { _ in try RedisServer() }
    }

    /// The pool "cache" over the servers `indices` (named c1, c2, ... by index), `settings`
    /// lines in it, and `extra` YAML (more pools) after it.
    func yaml(_ indices: [Int], settings: [String] = [], extra: String = "") -> String {
        var y = "cache:\n  listen: 127.0.0.1:\(port)\n  hash: fnv1a_64\n  distribution: ketama\n  redis: true\n"
        for s in settings { y += "  \(s)\n" }
        y += "  servers:\n"
        for i in indices { y += "    - 127.0.0.1:\(redis[i].port):1 c\(i + 1)\n" }
        return y + extra
    }

    func write(_ indices: [Int], settings: [String] = [], extra: String = "") throws {
        let text = yaml(indices, settings: settings, extra: extra) + "ringproxy:\n  admin: 127.0.0.1:\(adminPort)\n  threads: 2\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func start() throws {
        proxy = try startRingproxy(config: path, port: port)
        XCTAssertTrue(Harness.waitForListener(port: adminPort))
    }

    /// POST /reload: the HTTP status line's code and the body.
    func reload() -> (code: Int, body: String) {
        let r = Harness.run("/usr/bin/curl", ["-s", "-X", "POST", "-w", "\n%{http_code}", "http://127.0.0.1:\(adminPort)/reload"], timeout: 30)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func admin(_ path: String) -> String {
        Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(adminPort)\(path)"], timeout: 10).stdout
    }

    /// One /metrics sample's value ("name{labels}" or "name").
    func metric(_ sample: String) -> Double? {
        for line in admin("/metrics").split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    func stop() {
        proxy?.stop()
        redis.forEach { $0.stop() }
    }

    // MARK: keys

    /// Writes `keys` (value = key) through the proxy, pipelined.
    func fill(_ keys: [String], port: Int? = nil) throws {
        let c = try RESPClient(port: port ?? self.port)
        defer { c.close() }
        var batch: [UInt8] = []
        for k in keys { batch += RESPClient.encode(["SET", k, k]) }
        try c.send(batch)
        for k in keys { XCTAssertEqual(try c.readReply().text, "+OK\r\n", "SET \(k)") }
    }

    /// The keys of `keys` that GET finds through `port`.
    func found(_ keys: [String], port: Int) throws -> Set<String> {
        let c = try RESPClient(port: port)
        defer { c.close() }
        var batch: [UInt8] = []
        for k in keys { batch += RESPClient.encode(["GET", k]) }
        try c.send(batch)
        var out = Set<String>()
        for k in keys where try c.readReply() != Array("$-1\r\n".utf8) { out.insert(k) }
        return out
    }

    /// Keys whose server differs between the two configurations, by ringproxy's placement.
    static func moved(_ keys: [String], from old: String, to new: String) throws -> Set<String> {
        let a = try ConfigLoader.parse(old, file: "old.yml").pools[0]
        let b = try ConfigLoader.parse(new, file: "new.yml").pools[0]
        func server(_ pool: PoolConfig, _ p: KeyPlacement, _ k: String) -> String {
            let i = Array(k.utf8).withUnsafeBytes { p.server(forKey: $0) }
            return i < 0 ? "" : pool.servers[i].ringIdentity
        }
        let (pa, pb) = (a.placement(), b.placement())
        return Set(keys.filter { server(a, pa, $0) != server(b, pb, $0) })
    }

    // MARK: load

    /// Starts the 50 clients; `finish` stops them and returns their totals.
    func startLoad(maxSeconds: Int = 60) throws -> LoadRun {
        let stop = dir + "/stop-\(UUID().uuidString)"
        let script = Harness.packageRoot + "/Tests/IntegrationTests/python/reload_load.py"
        let p = try Background("load", "/usr/bin/env", ["python3", script, "\(port)", stop, "\(maxSeconds)"])
        let deadline = Date().addingTimeInterval(20)
        while !p.log.contains("started") && Date() < deadline { usleep(50_000) }
        return LoadRun(process: p, stopFile: stop)
    }
}

struct LoadTotals {
    var ops = 0, errors = 0, dropped = 0
    var maxMs = 0.0
    var samples: [String] = []
}

struct LoadRun {
    let process: Background
    let stopFile: String

    func finish() throws -> LoadTotals {
        FileManager.default.createFile(atPath: stopFile, contents: nil)
        let deadline = Date().addingTimeInterval(30)
        while process.process.isRunning && Date() < deadline { usleep(50_000) }
        process.stop(signal: SIGKILL)
        guard let line = process.log.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
              let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            XCTFail("load produced no totals: \(process.log.suffix(2000))")
            return LoadTotals()
        }
        return LoadTotals(ops: json["ops"] as? Int ?? 0, errors: json["errors"] as? Int ?? 0, dropped: json["dropped"] as? Int ?? 0,
                          maxMs: json["max_ms"] as? Double ?? 0, samples: json["samples"] as? [String] ?? [])
    }
}

// The admin listener after known traffic: /metrics parsed by prometheus-client's parser
// shows per-upstream request counts equal to what was sent; /stats has nutcracker's field
// names with the right values and a killed upstream's state and ejection time.

import Foundation
import XCTest

final class ObservabilityTests: XCTestCase {
    func get(_ port: Int, _ path: String) throws -> (status: Int, body: String) {
        let r = Harness.run("/usr/bin/env", ["python3", "-c",
            "import urllib.request,urllib.error,sys\ntry:\n r=urllib.request.urlopen('http://127.0.0.1:\(port)\(path)',timeout=10); print(r.status); sys.stdout.write(r.read().decode())\nexcept urllib.error.HTTPError as e:\n print(e.code); sys.stdout.write(e.read().decode())"],
            timeout: 20)
        let lines = r.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? -1, lines.count > 1 ? String(lines[1]) : "")
    }

    /// /metrics parsed by prometheus-client: "<sample> <sorted labels>" -> value.
    func scrape(_ port: Int, _ prefix: String) throws -> [String: Double] {
        let script = Harness.packageRoot + "/Tests/IntegrationTests/python/scrape_metrics.py"
        let r = Harness.run("/usr/bin/env", ["python3", script, "http://127.0.0.1:\(port)/metrics", prefix], timeout: 30)
        if r.stderr.contains("No module named 'prometheus_client'") { throw XCTSkip("prometheus-client missing (make test installs it)") }
        XCTAssertEqual(r.status, 0, r.stderr)
        var samples: [String: Double] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 3, let v = Double(parts[2]) else { continue }
            samples[parts[0] + " " + parts[1]] = v
        }
        return samples
    }

    func testMetricsAndStatsAfterKnownTraffic() throws {
        let f = try ProxyFixture(timeoutMs: 1000, extraSettings: ["health_check_interval: 200"])
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "obs:")
        let client = try RESPClient(port: f.port)
        var expected: [String: Int] = [:]
        for (i, k) in keys.enumerated() {
            let name = "cache-\(f.serverIndex(of: k) + 1)"
            for _ in 0..<(5 * (i + 1)) { _ = try client.command("SET", k, "v") }
            expected[name] = 5 * (i + 1)
        }
        // One MGET over the four servers: one fragment, hence one request, on each.
        _ = try client.command(bytes: (["MGET"] + keys).map { Array($0.utf8) })
        for k in expected.keys { expected[k]! += 1 }
        _ = try client.command("PING")  // answered locally: no upstream request

        let samples = try scrape(f.adminPort, "ringproxy_")
        func value(_ name: String, _ labels: String) -> Double? { samples[name + " " + labels] }
        var seen: [String: Int] = [:]
        for name in expected.keys {
            if let v = value("ringproxy_upstream_requests_total", "pool=tcp,upstream=\(name)") { seen[name] = Int(v) }
        }
        print("requests per upstream from /metrics: \(seen.sorted { $0.key < $1.key }) expected \(expected.sorted { $0.key < $1.key })")
        XCTAssertEqual(seen, expected)
        XCTAssertEqual(value("ringproxy_pool_fragments_total", "pool=tcp"), 4)

        // Latency histograms: per upstream, the count and the +Inf bucket equal the replies
        // it gave, and the buckets are cumulative; per command, SET's and MGET's counts.
        for (name, count) in expected {
            let labels = "pool=tcp,upstream=\(name)"
            XCTAssertEqual(value("ringproxy_upstream_latency_seconds_count", labels), Double(count), name)
            // Labels come sorted by name: le, pool, upstream.
            XCTAssertEqual(value("ringproxy_upstream_latency_seconds_bucket", "le=+Inf," + labels), Double(count), name)
            let buckets = samples.filter { $0.key.hasPrefix("ringproxy_upstream_latency_seconds_bucket le=") && $0.key.hasSuffix("," + labels) }
            XCTAssertEqual(buckets.count, 17, "16 bounds and +Inf for \(name)")
            let ordered = buckets.map { (bound: Double($0.key.split(separator: "=")[1].split(separator: ",")[0]) ?? .infinity, count: $0.value) }
                .sorted { $0.bound < $1.bound }
            for (a, b) in zip(ordered, ordered.dropFirst()) { XCTAssertLessThanOrEqual(a.1, b.1, "cumulative buckets of \(name)") }
            XCTAssertGreaterThan(value("ringproxy_upstream_latency_seconds_sum", labels) ?? 0, 0, name)
        }
        XCTAssertEqual(value("ringproxy_command_latency_seconds_count", "command=set,pool=tcp"), 50)
        XCTAssertEqual(value("ringproxy_command_latency_seconds_bucket", "command=set,le=+Inf,pool=tcp"), 50)
        XCTAssertEqual(value("ringproxy_command_latency_seconds_count", "command=mget,pool=tcp"), 4)
        // The queue gauges are sampled every tick; with nothing in flight they are zero.
        Thread.sleep(forTimeInterval: 0.05)
        let idle = try scrape(f.adminPort, "ringproxy_upstream_")
        for name in expected.keys {
            for g in ["in_queue", "in_queue_bytes", "out_queue", "out_queue_bytes"] {
                XCTAssertEqual(idle["ringproxy_upstream_\(g) pool=tcp,upstream=\(name)"], 0, "\(g) of \(name)")
            }
        }

        // A stalled upstream (SIGSTOP): three GETs written to it wait for replies, so
        // out_queue shows 3 and out_queue_bytes their size; nothing is left unwritten.
        let stalled = f.serverIndex(of: keys[1])
        let stalledName = "cache-\(stalled + 1)"
        kill(f.redis[stalled].process.pid, SIGSTOP)
        let waiter = try RESPClient(port: f.port)
        let gets = (0..<3).flatMap { _ in RESPClient.encode(["GET", keys[1]]) }
        try waiter.send(gets)
        Thread.sleep(forTimeInterval: 0.1)
        let busy = try scrape(f.adminPort, "ringproxy_upstream_")
        kill(f.redis[stalled].process.pid, SIGCONT)
        XCTAssertEqual(busy["ringproxy_upstream_out_queue pool=tcp,upstream=\(stalledName)"], 3)
        XCTAssertEqual(busy["ringproxy_upstream_out_queue_bytes pool=tcp,upstream=\(stalledName)"], Double(gets.count))
        XCTAssertEqual(busy["ringproxy_upstream_in_queue pool=tcp,upstream=\(stalledName)"], 0)
        for _ in 0..<3 { _ = try waiter.readReply() }
        expected[stalledName]! += 3

        // /stats: nutcracker's shape and names.
        let stats = try get(f.adminPort, "/stats")
        XCTAssertEqual(stats.status, 200)
        let json = try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as! [String: Any]
        for field in ["service", "source", "version", "uptime", "timestamp"] { XCTAssertNotNil(json[field], field) }
        let pool = json["tcp"] as! [String: Any]
        for field in ["client_eof", "client_err", "client_connections", "server_ejects", "forward_error", "fragments"] {
            XCTAssertNotNil(pool[field], "pool field \(field)")
        }
        XCTAssertEqual(pool["client_connections"] as? Int, 2, "client and waiter")
        for (name, count) in expected {
            let server = pool[name] as! [String: Any]
            for field in ["server_eof", "server_err", "server_timedout", "server_connections", "server_ejected_at",
                          "requests", "request_bytes", "responses", "response_bytes", "in_queue",
                          "in_queue_bytes", "out_queue", "out_queue_bytes"] {
                XCTAssertNotNil(server[field], "server field \(field)")
            }
            XCTAssertEqual(server["requests"] as? Int, count, name)
            XCTAssertEqual(server["responses"] as? Int, count, name)
            XCTAssertEqual(server["state"] as? String, "up")
        }
        XCTAssertEqual(try get(f.adminPort, "/healthz").status, 200)
        XCTAssertEqual(try get(f.adminPort, "/readyz").status, 200)

        // Kill one upstream: /stats shows it down with its ejection time.
        let victim = f.serverIndex(of: keys[0])
        let before = Int(Date().timeIntervalSince1970)
        f.redis[victim].stop()
        _ = try client.command("GET", keys[0])  // passive detection
        Thread.sleep(forTimeInterval: 0.3)
        let after = try JSONSerialization.jsonObject(with: Data(try get(f.adminPort, "/stats").body.utf8)) as! [String: Any]
        let dead = (after["tcp"] as! [String: Any])["cache-\(victim + 1)"] as! [String: Any]
        XCTAssertEqual(dead["state"] as? String, "down")
        let ejectedAt = (dead["server_ejected_at"] as? Int ?? 0) / 1_000_000
        XCTAssertTrue(ejectedAt >= before - 1 && ejectedAt <= before + 5, "server_ejected_at \(ejectedAt) near \(before)")
        XCTAssertEqual((after["tcp"] as! [String: Any])["server_ejects"] as? Int, 1)
    }
}

final class StatusPageTests: XCTestCase {
    /// The status page in a real headless browser (Debian's chromium): its script must have
    /// built one row per upstream, with a killed one shown down.
    func testStatusPageInHeadlessChromium() throws {
        guard let chromium = Harness.which("chromium") ?? Harness.which("chromium-browser") else {
            throw XCTSkip("chromium is not installed (make test installs it)")
        }
        let f = try ProxyFixture(timeoutMs: 1000, extraSettings: ["health_check_interval: 200"])
        defer { f.stop() }
        let keys = f.keysOnDistinctServers(prefix: "page:")
        let client = try RESPClient(port: f.port)
        for k in keys { for _ in 0..<20 { _ = try client.command("SET", k, "v") } }
        let victim = f.serverIndex(of: keys[2])
        f.redis[victim].stop()
        _ = try client.command("GET", keys[2])
        Thread.sleep(forTimeInterval: 0.3)
        let profile = Harness.tempDir()
        let r = Harness.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile)",
                                       "--virtual-time-budget=3000", "--dump-dom", "http://127.0.0.1:\(f.adminPort)/"], timeout: 90)
        XCTAssertEqual(r.status, 0, r.stderr)
        let dom = r.stdout
        for i in 1...4 {
            XCTAssertTrue(dom.contains("data-upstream=\"cache-\(i)\""), "row for cache-\(i) in: \(dom.prefix(2000))")
        }
        XCTAssertTrue(dom.contains("class=\"down\">down"), "the killed upstream is shown down")
        // Three up in the tcp pool; the unix pool (same servers, slower checks) shows the
        // killed one up or, once its own checks fail, down.
        let upRows = dom.components(separatedBy: "class=\"up\">up").count - 1
        XCTAssertTrue(upRows == 6 || upRows == 7, "up rows: \(upRows)")
    }
}

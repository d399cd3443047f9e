// A server given by host name whose name is re-pointed (a "primary endpoint" moved to the
// promoted node): the test adds a name of its own to /etc/hosts for redis A on 127.0.0.1,
// rewrites it to redis B on 127.0.0.2 (same port), and checks that the proxy follows within
// dns_refresh_interval: writes land on B, none on A after the switch, and /stats and the log
// say so. /etc/hosts is restored however the test ends.

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class DNSEndpointTests: XCTestCase {
    /// The refresh interval under test: short, so the test is quick.
    static let refreshMs = 500
    /// How late the proxy may follow beyond the interval: a resolver call, a loop turn and a
    /// reconnect, generous for a machine other builds load.
    static let slackSeconds = 1.5
    /// Writes during the switch: one every 20 ms, bounded.
    static let maxWrites = 500
    static let writeGapUs: UInt32 = 20_000

    /// A demoted server's READONLY has the name resolved at once: far sooner than this
    /// interval, which the test sets so that only READONLY can explain the switch.
    static let longRefreshMs = 60_000

    func testRepointedNameIsFollowedWithinRefreshInterval() throws {
        try repoint(refreshMs: Self.refreshMs, demoteOldServer: false)
    }

    /// The old server made a replica of the new one: the first write it refuses with
    /// READONLY retires the connection and the name is resolved again at once.
    func testReadOnlyReplyResolvesTheNameAtOnce() throws {
        try repoint(refreshMs: Self.longRefreshMs, demoteOldServer: true)
    }

    func repoint(refreshMs: Int, demoteOldServer: Bool) throws {
        let hostsPath = "/etc/hosts"
        guard access(hostsPath, W_OK) == 0, let original = try? String(contentsOfFile: hostsPath, encoding: .utf8) else {
            throw XCTSkip("/etc/hosts is not writable here")
        }
        let name = "rp-dns-test-\(UInt32.random(in: 0...UInt32.max)).test"
        func point(to ip: String) throws {
            // Rewritten in place (not renamed over): /etc/hosts is often a bind mount.
            let text = original + (original.hasSuffix("\n") || original.isEmpty ? "" : "\n") + "\(ip) \(name)\n"
            guard let f = fopen(hostsPath, "w") else { throw XCTSkip("/etc/hosts cannot be opened for writing") }
            fputs(text, f)
            fclose(f)
        }
        defer {
            if let f = fopen(hostsPath, "w") { fputs(original, f); fclose(f) }
        }
        try point(to: "127.0.0.1")

        let port = Harness.freePort()
        let a = try RedisServer(port: port)
        defer { a.stop() }
        let b = try Background("redis-b-\(port)", Harness.which("redis-server") ?? "/usr/bin/redis-server",
                               ["--port", "\(port)", "--bind", "127.0.0.2", "--save", "", "--appendonly", "no",
                                "--dir", Harness.tempDir()])
        defer { b.stop(signal: SIGKILL) }
        func cli(_ host: String, _ args: String...) -> String {
            Harness.run(Harness.which("redis-cli") ?? "/usr/bin/redis-cli", ["-h", host, "-p", "\(port)"] + args, timeout: 10)
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let ready = Date().addingTimeInterval(10)
        while cli("127.0.0.2", "PING") != "PONG" && Date() < ready { usleep(50_000) }
        XCTAssertEqual(cli("127.0.0.2", "PING"), "PONG", "redis B on 127.0.0.2")

        let dir = Harness.tempDir()
        let proxyPort = Harness.freePort(), adminPort = Harness.freePort()
        let config = """
        ringproxy:
          threads: 2
          admin: 127.0.0.1:\(adminPort)
        endpoint:
          listen: 127.0.0.1:\(proxyPort)
          redis: true
          timeout: 1000
          dns_refresh_interval: \(refreshMs)
          servers:
            - \(name):\(port):1 primary

        """
        try config.write(toFile: "\(dir)/proxy.yml", atomically: true, encoding: .utf8)
        let proxy = try startRingproxy(config: "\(dir)/proxy.yml", port: proxyPort)
        defer { proxy.stop() }
        let client = try RESPClient(port: proxyPort)
        XCTAssertEqual(try client.command("SET", "dns:before", "a").text, "+OK\r\n")
        XCTAssertEqual(cli("127.0.0.1", "GET", "dns:before"), "a", "the name points at A first")
        XCTAssertTrue(admin(adminPort, "/stats").contains("\"address\":\"127.0.0.1:\(port)\""), admin(adminPort, "/stats"))
        let infoBefore = try client.command("INFO", "ringproxy").text
        XCTAssertTrue(infoBefore.contains("upstream_primary:address=127.0.0.1:\(port),role=master,failovers=0,state=up"), infoBefore)
        XCTAssertFalse(infoBefore.contains("sentinel0:"), "no sentinels, no sentinel lines")

        try point(to: "127.0.0.2")
        if demoteOldServer { XCTAssertEqual(cli("127.0.0.1", "REPLICAOF", "127.0.0.2", "\(port)"), "OK") }
        let repointed = Date()
        let limit = Double(demoteOldServer ? 0 : refreshMs) / 1000 + Self.slackSeconds
        var followedAt: Date?
        var errors = 0
        for i in 0..<Self.maxWrites {
            let reply = try client.command("SET", "dns:\(i)", "v").text
            if reply != "+OK\r\n" { errors += 1 }
            if cli("127.0.0.2", "EXISTS", "dns:\(i)") == "1" { followedAt = Date(); break }
            if Date().timeIntervalSince(repointed) > 2 * limit { break }
            usleep(Self.writeGapUs)
        }
        guard let followed = followedAt else { return XCTFail("writes never reached B; log:\n\(proxy.log)") }
        let took = followed.timeIntervalSince(repointed)
        print("DNS re-pointed\(demoteOldServer ? ", old server demoted" : ""): writes reached the new address after \(Int(took * 1000)) ms (refresh interval \(refreshMs) ms), \(errors) errors")
        XCTAssertLessThan(took, limit)
        // Only the write in flight when the old server turned replica may fail (it may or
        // may not have been applied); the next ones go to the new address.
        XCTAssertLessThanOrEqual(errors, demoteOldServer ? 1 : 0)

        // After the switch every write lands on B, none on A.
        for i in 0..<20 { XCTAssertEqual(try client.command("SET", "dns:after:\(i)", "b").text, "+OK\r\n") }
        XCTAssertEqual(cli("127.0.0.2", "GET", "dns:after:19"), "b")
        if !demoteOldServer {
            XCTAssertEqual(cli("127.0.0.1", "EXISTS", "dns:after:0"), "0")
            XCTAssertEqual(try client.command("GET", "dns:before").text, "$-1\r\n", "reads now come from B, where the old key never was")
        }

        let stats = admin(adminPort, "/stats")
        XCTAssertTrue(stats.contains("\"address\":\"127.0.0.2:\(port)\""), stats)
        XCTAssertTrue(stats.contains("\"failovers\":1,\"role\":\"master\""), stats)
        let info = try client.command("INFO", "ringproxy").text
        XCTAssertTrue(info.contains("upstream_primary:address=127.0.0.2:\(port),role=master,failovers=1,"), info)
        let metrics = admin(adminPort, "/metrics")
        XCTAssertTrue(metrics.contains("ringproxy_upstream_address_info{pool=\"endpoint\",upstream=\"primary\",address=\"127.0.0.2:\(port)\",role=\"master\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("ringproxy_upstream_failovers_total{pool=\"endpoint\",upstream=\"primary\"} 1"), metrics)
        if !demoteOldServer { try checkStatusPage(adminPort: adminPort) }
        XCTAssertTrue(proxy.log.contains("upstream primary 127.0.0.1:\(port) -> 127.0.0.2:\(port): DNS re-resolved (\(name))"), proxy.log)
    }

    /// The status page in headless chromium (when installed) shows the move: role and one
    /// failover in the row of the moved server.
    func checkStatusPage(adminPort: Int) throws {
        guard let chromium = Harness.which("chromium") ?? Harness.which("chromium-browser") else { return }
        let r = Harness.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(Harness.tempDir())",
                                       "--virtual-time-budget=3000", "--dump-dom", "http://127.0.0.1:\(adminPort)/"], timeout: 90)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("data-upstream=\"primary\""), String(r.stdout.prefix(2000)))
        XCTAssertTrue(r.stdout.contains("<td class=\"role\">master</td><td class=\"failovers\">1</td>"), String(r.stdout.prefix(3000)))
    }

    func admin(_ port: Int, _ path: String) -> String {
        Harness.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)\(path)"], timeout: 10).stdout
    }
}

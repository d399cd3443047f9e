// Binary upgrade under load (issue 15, part 3): ringproxy replaced five times in a row with
// --takeover-socket while 50 clients (raw RESP over TCP and the unix socket, pipelined and not,
// and a redis-py connection pool) run GET/SET/MGET over three real redis-servers. No
// connection attempt may be refused and no request fail; the clients end on the last process.
// python/upgrade_check.py runs the processes and the load and prints each round's longest
// request; this starts the servers and writes the configs.

import Foundation
import XCTest

final class UpgradeTests: XCTestCase {
    /// Five upgrades and the load around them take about ten seconds; this bounds a hang.
    static let scriptLimit: TimeInterval = 60

    private func run(changingPools: Bool) throws {
        let redis = try (0..<3).map { _ in try RedisServer() }
        defer { redis.forEach { $0.stop() } }
        let dir = Harness.tempDir()
        let port = Harness.freePort(), adminPort = Harness.freePort()
        let gonePort = Harness.freePort(), addedPort = Harness.freePort()
        let socketPath = dir + "/ringproxy.sock"
        let servers = redis.enumerated().map { "    - 127.0.0.1:\($0.element.port):1 cache-\($0.offset + 1)\n" }.joined()
        func pool(_ name: String, _ listen: String) -> String {
            "\(name):\n  listen: \(listen)\n  hash: fnv1a_64\n  redis: true\n  timeout: 3000\n  servers:\n" + servers
        }
        let kept = pool("tcp", "127.0.0.1:\(port)") + pool("unix", "\(socketPath) 0600")
        let admin = "ringproxy:\n  admin: 127.0.0.1:\(adminPort)\n"
        let config = dir + "/proxy.yml", next = dir + "/next.yml"
        try (kept + pool("gone", "127.0.0.1:\(gonePort)") + admin).write(toFile: config, atomically: true, encoding: .utf8)
        try (kept + pool("added", "127.0.0.1:\(addedPort)") + admin).write(toFile: next, atomically: true, encoding: .utf8)
        var arguments = [Harness.packageRoot + "/Tests/IntegrationTests/python/upgrade_check.py", Harness.ringproxyBinary,
                         config, dir + "/takeover.sock", "\(port)", socketPath, "\(adminPort)", dir, "5"]
        if changingPools { arguments += [next, "\(gonePort)", "\(addedPort)"] }
        let r = Harness.run("/usr/bin/env", ["python3"] + arguments, timeout: UpgradeTests.scriptLimit)
        print(r.stdout)
        XCTAssertFalse(r.timedOut, "the upgrade check did not finish within \(UpgradeTests.scriptLimit) s")
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("refused 0"), r.stdout)
    }

    func testReplacingTheBinaryFiveTimesUnderLoad() throws { try run(changingPools: false) }

    func testReplacingTheBinaryAcrossAPoolAddedAndAPoolRemoved() throws { try run(changingPools: true) }
}

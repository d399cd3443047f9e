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

    /// A connection moves with what its client set; a blocked client is answered by the old
    /// process first and then moves; a subscriber is closed (it resubscribes on reconnecting).
    func testConnectionsMoveWithTheirStateAndWaitingClientsFinishFirst() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let dir = Harness.tempDir()
        let port = Harness.freePort(), adminPort = Harness.freePort()
        let config = dir + "/proxy.yml", takeover = dir + "/takeover.sock"
        try """
        tcp:
          listen: 127.0.0.1:\(port)
          redis: true
          servers:
            - 127.0.0.1:\(redis.port):1
        ringproxy:
          admin: 127.0.0.1:\(adminPort)

        """.write(toFile: config, atomically: true, encoding: .utf8)
        let old = try startRingproxy(config: config, port: port, extraArgs: ["--takeover-socket", takeover])
        defer { old.stop() }
        let named = try RESPClient(port: port)
        XCTAssertEqual(try named.command("CLIENT", "SETNAME", "moved"), Array("+OK\r\n".utf8))
        let blocked = try RESPClient(port: port)
        try blocked.send(RESPClient.encode(["BLPOP", "upgrade:list", "0"]))
        let subscriber = try RESPClient(port: port)
        _ = try subscriber.command("SUBSCRIBE", "upgrade:channel")
        XCTAssertEqual(try named.command("PING"), Array("+PONG\r\n".utf8), "the BLPOP has reached its server")

        let new = try Background("ringproxy-new", Harness.ringproxyBinary, ["-c", config, "--takeover-socket", takeover])
        defer { new.stop() }
        XCTAssertTrue(subscriber.isClosedByPeer(), "the subscriber is closed once the new process serves")
        XCTAssertTrue(old.process.isRunning, "the old process waits for its blocked client")
        let pusher = try RESPClient(port: port)
        XCTAssertEqual(try pusher.command("LPUSH", "upgrade:list", "x"), Array(":1\r\n".utf8))
        XCTAssertEqual(try blocked.readReply(), Array("*2\r\n".utf8) + bulk("upgrade:list") + bulk("x"))
        let deadline = Date().addingTimeInterval(10)
        while old.process.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(old.process.isRunning, "the old process exits once its clients have moved")
        XCTAssertEqual(old.stop(), 0)

        XCTAssertEqual(try named.command("CLIENT", "GETNAME"), bulk("moved"), "the name moved with the connection")
        for client in [named, blocked] {
            let info = String(decoding: try client.command("INFO", "server"), as: UTF8.self)
            XCTAssertTrue(info.contains("process_id:\(new.pid)\r\n"), "served by the new process: \(info)")
        }
        // Logged once the old process's link ends, which may trail its exit.
        let logged = Date().addingTimeInterval(5)
        while !new.log.contains("passed 2 client connection(s) on") && Date() < logged { usleep(20_000) }
        XCTAssertTrue(new.log.contains("passed 2 client connection(s) on"), new.log)
    }

    func testReplacingTheBinaryAcrossAPoolAddedAndAPoolRemoved() throws { try run(changingPools: true) }
}

// Reloads (POST /reload; SIGHUP in one test) under load from 50 clients, against real
// redis-servers: servers added and removed with no dropped connection and no error reply,
// keys moved exactly as ketama moves them (checked against a real nutcracker on the same
// servers), settings taking effect at the next request, an invalid file changing nothing,
// and pools added and removed.

import Foundation
import RingConfig
import XCTest

final class ReloadTests: XCTestCase {
    static let preKeys = (0..<3000).map { "pre:\($0)" }

    /// Reloads `rig` from `before` to `after` servers under load; checks the load and that
    /// the keys written before are found exactly where the new ring (ringproxy's model and
    /// a real nutcracker on the new file) puts them.
    /// `stalled`: a server whose requests are held in flight across the reload (CLIENT PAUSE
    /// on it) and must then be answered.
    private func reloadUnderLoad(servers: Int, before: [Int], after: [Int], expect: String, stalled: Int? = nil) throws {
        let rig = try ReloadRig(servers: servers)
        defer { rig.stop() }
        try rig.write(before)
        try rig.start()
        try rig.fill(Self.preKeys)
        let load = try rig.startLoad()
        usleep(1_000_000)
        var held: (client: RESPClient, keys: [String])?
        if let s = stalled {
            let name = "c\(s + 1)"
            let config = try ConfigLoader.parse(rig.yaml(before), file: "before.yml").pools[0]
            let placement = config.placement()
            let keys = Self.preKeys.filter { k in
                config.servers[Array(k.utf8).withUnsafeBytes { placement.server(forKey: $0) }].ringIdentity == name
            }.prefix(20)
            let direct = try RESPClient(port: rig.redis[s].port)
            XCTAssertEqual(try direct.command("CLIENT", "PAUSE", "1000", "ALL").text, "+OK\r\n")
            direct.close()
            let c = try RESPClient(port: rig.port)
            try c.send(keys.flatMap { RESPClient.encode(["GET", $0]) })
            held = (c, Array(keys))
            usleep(200_000)
        }
        try rig.write(after)
        let reply = rig.reload()
        if let (c, keys) = held {
            for k in keys { XCTAssertEqual(try c.readReply().text, "$\(k.utf8.count)\r\n\(k)\r\n", "in flight to the removed server across the reload") }
            c.close()
        }
        usleep(1_500_000)
        let totals = try load.finish()
        print("reload \(before) -> \(after) under load: \(totals.ops) replies, \(totals.errors) errors, \(totals.dropped) dropped, longest \(Int(totals.maxMs)) ms")
        XCTAssertEqual(reply.code, 200, reply.body)
        XCTAssertTrue(reply.body.contains(expect), reply.body)
        XCTAssertGreaterThan(totals.ops, 1000)
        XCTAssertEqual(totals.errors, 0, "\(totals.samples)")
        XCTAssertEqual(totals.dropped, 0, "\(totals.samples)")

        let moved = try ReloadRig.moved(Self.preKeys, from: rig.yaml(before), to: rig.yaml(after))
        print("reload \(before) -> \(after): \(moved.count) of \(Self.preKeys.count) keys change server by the ketama model")
        XCTAssertGreaterThan(moved.count, Self.preKeys.count / 10)
        XCTAssertLessThan(moved.count, Self.preKeys.count / 2)
        let found = try rig.found(Self.preKeys, port: rig.port)
        XCTAssertEqual(found, Set(Self.preKeys).subtracting(moved), "keys found after the reload are not those ketama keeps in place")
        guard let nutcracker = Harness.which("nutcracker") else { throw XCTSkip("nutcracker is not installed (make test installs it)") }
        let ncPort = Harness.freePort()
        let ncPath = rig.dir + "/nutcracker.yml"
        try rig.yaml(after).replacingOccurrences(of: ":\(rig.port)\n", with: ":\(ncPort)\n").write(toFile: ncPath, atomically: true, encoding: .utf8)
        let nc = try Background("nutcracker", nutcracker, ["-c", ncPath, "-s", "\(Harness.freePort())", "-a", "127.0.0.1"])
        defer { nc.stop(signal: SIGKILL) }
        XCTAssertTrue(Harness.waitForListener(port: ncPort))
        XCTAssertEqual(try rig.found(Self.preKeys, port: ncPort), found, "nutcracker on the new file finds other keys")
    }

    func testReloadAddingAServerUnderLoad() throws {
        try reloadUnderLoad(servers: 4, before: [0, 1, 2], after: [0, 1, 2, 3], expect: "servers +c4")
    }

    func testReloadRemovingAServerUnderLoad() throws {
        try reloadUnderLoad(servers: 4, before: [0, 1, 2, 3], after: [0, 1, 3], expect: "servers -c3", stalled: 2)
    }

    /// A named server given another address keeps its keys (its ring identity is its name):
    /// they are read and written at the new address; the other server's stay where they were.
    func testNamedServerMovedToAnotherAddressKeepsItsPlace() throws {
        let rig = try ReloadRig(servers: 3)
        defer { rig.stop() }
        try rig.write([0, 1])
        try rig.start()
        try rig.fill(Self.preKeys)
        let c2 = try Set(rig.found(Self.preKeys, port: rig.redis[1].port))
        XCTAssertFalse(c2.isEmpty)
        let moved = try String(contentsOfFile: rig.path, encoding: .utf8)
            .replacingOccurrences(of: ":\(rig.redis[1].port):1 c2", with: ":\(rig.redis[2].port):1 c2")
        try moved.write(toFile: rig.path, atomically: true, encoding: .utf8)
        let reply = rig.reload()
        XCTAssertEqual(reply.code, 200, reply.body)
        XCTAssertTrue(reply.body.contains("c2 moved"), reply.body)
        XCTAssertEqual(try rig.found(Self.preKeys, port: rig.port), Set(Self.preKeys).subtracting(c2),
                       "c1's keys stay; c2's are now asked of the empty new address")
        try rig.fill(Array(c2))
        XCTAssertEqual(try rig.found(Array(c2), port: rig.redis[2].port), c2, "c2's keys are written at its new address")
    }

    /// timeout and deny_commands apply from the next request, on connections already open.
    func testReloadChangesTimeoutAndDenyCommandsForTheNextRequest() throws {
        let rig = try ReloadRig(servers: 1)
        defer { rig.stop() }
        try rig.write([0], settings: ["timeout: 200", "deny_commands: []"])
        try rig.start()
        let c = try RESPClient(port: rig.port)
        defer { c.close() }
        let direct = try RESPClient(port: rig.redis[0].port)
        defer { direct.close() }
        XCTAssertEqual(try c.command("APPEND", "k", "a").text, ":1\r\n")
        // The server stalls 600 ms: past the 200 ms timeout.
        XCTAssertEqual(try direct.command("CLIENT", "PAUSE", "600", "ALL").text, "+OK\r\n")
        XCTAssertTrue(try c.command("GET", "k").text.hasPrefix("-"), "a 200 ms timeout answers a 600 ms stall with an error")
        usleep(700_000)

        try rig.write([0], settings: ["timeout: 3000", "deny_commands: [append]"])
        let reply = rig.reload()
        XCTAssertEqual(reply.code, 200, reply.body)
        XCTAssertTrue(reply.body.contains("timeout 200 -> 3000"), reply.body)
        XCTAssertTrue(reply.body.contains("deny_commands"), reply.body)
        XCTAssertEqual(try direct.command("CLIENT", "PAUSE", "600", "ALL").text, "+OK\r\n")
        XCTAssertEqual(try c.command("GET", "k").text, "$1\r\na\r\n", "the 3000 ms timeout waits out the stall")
        let denied = try c.command("APPEND", "k", "b").text
        XCTAssertTrue(denied.hasPrefix("-") && denied.lowercased().contains("append"), denied)
        // A new connection gets the same.
        let fresh = try RESPClient(port: rig.port)
        defer { fresh.close() }
        XCTAssertTrue(try fresh.command("APPEND", "k", "b").text.hasPrefix("-"))
    }

    /// A syntax error, an unknown key and a bad server line: each refused with file:line:key,
    /// nothing changes, and the failure counter rises. SIGHUP is tried too.
    func testInvalidReloadFileChangesNothing() throws {
        let rig = try ReloadRig(servers: 2)
        defer { rig.stop() }
        try rig.write([0, 1])
        try rig.start()
        try rig.fill(Self.preKeys)
        let good = try String(contentsOfFile: rig.path, encoding: .utf8)
        let bad: [(String, String)] = [
            (good.replacingOccurrences(of: "  redis: true\n", with: "  redis: [true\n"), "proxy.yml:"),
            (good.replacingOccurrences(of: "  redis: true\n", with: "  redis: true\n  no_such_key: 1\n"), "cache.no_such_key"),
            (good.replacingOccurrences(of: ":1 c2\n", with: " c2\n"), "cache.servers"),
        ]
        for (n, (text, mention)) in bad.enumerated() {
            try text.write(toFile: rig.path, atomically: true, encoding: .utf8)
            let reply = rig.reload()
            XCTAssertEqual(reply.code, 422, reply.body)
            XCTAssertTrue(reply.body.contains("nothing changed") && reply.body.contains(mention), reply.body)
            XCTAssertEqual(rig.metric("ringproxy_config_reload_failures_total"), Double(n + 1))
            XCTAssertTrue(rig.proxy!.log.contains(mention), "the error is logged")
        }
        // SIGHUP with a broken file: the same, counted.
        try bad[0].0.write(toFile: rig.path, atomically: true, encoding: .utf8)
        kill(rig.proxy!.pid, SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while rig.metric("ringproxy_config_reload_failures_total") != 4 && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(rig.metric("ringproxy_config_reload_failures_total"), 4)
        XCTAssertEqual(rig.metric("ringproxy_config_last_reload_success"), 0)
        XCTAssertEqual(rig.metric("ringproxy_config_reloads_total"), 0)
        XCTAssertTrue(rig.admin("/stats").contains("\"last_reload_result\":\"failed\""))
        XCTAssertEqual(try rig.found(Self.preKeys, port: rig.port).count, Self.preKeys.count, "the running ring still serves every key")
    }

    /// A pool added and one removed under load on the first: the first pool's clients see
    /// nothing; the new pool serves; the removed one's client gets its reply, then is closed.
    func testPoolsAddedAndRemovedUnderLoad() throws {
        let rig = try ReloadRig(servers: 3)
        defer { rig.stop() }
        let (oldPort, newPort) = (Harness.freePort(), Harness.freePort())
        func pool(_ name: String, _ port: Int, _ server: Int) -> String {
            "\(name):\n  listen: 127.0.0.1:\(port)\n  redis: true\n  servers:\n    - 127.0.0.1:\(rig.redis[server].port):1 \(name)-1\n"
        }
        try rig.write([0, 1], extra: pool("old", oldPort, 2))
        try rig.start()
        XCTAssertTrue(Harness.waitForListener(port: oldPort))
        let oldClient = try RESPClient(port: oldPort)
        defer { oldClient.close() }
        XCTAssertEqual(try oldClient.command("SET", "o", "1").text, "+OK\r\n")
        let load = try rig.startLoad()
        usleep(1_000_000)
        try rig.write([0, 1], extra: pool("new", newPort, 2))
        // A request in flight on the removed pool across the reload is answered.
        try oldClient.send(RESPClient.encode(["BLPOP", "nothing", "1"]))
        usleep(100_000)
        let reply = rig.reload()
        XCTAssertEqual(reply.code, 200, reply.body)
        XCTAssertTrue(reply.body.contains("pool new added") && reply.body.contains("pool old removed"), reply.body)
        XCTAssertEqual(try oldClient.readReply().text, "*-1\r\n", "the blocked request finishes")
        XCTAssertTrue(oldClient.isClosedByPeer(), "the removed pool's client is closed once owed nothing")
        XCTAssertNil(try? RESPClient(port: oldPort), "the removed pool's listener is closed")
        XCTAssertTrue(Harness.waitForListener(port: newPort))
        let c = try RESPClient(port: newPort)
        defer { c.close() }
        XCTAssertEqual(try c.command("GET", "o").text, "$1\r\n1\r\n")
        usleep(1_000_000)
        let totals = try load.finish()
        print("pools added and removed under load: \(totals.ops) replies, \(totals.errors) errors, \(totals.dropped) dropped, longest \(Int(totals.maxMs)) ms")
        XCTAssertGreaterThan(totals.ops, 1000)
        XCTAssertEqual(totals.errors, 0, "\(totals.samples)")
        XCTAssertEqual(totals.dropped, 0, "\(totals.samples)")
        XCTAssertTrue(rig.admin("/stats").contains("\"new\":"), "the new pool is in /stats")
        XCTAssertFalse(rig.admin("/stats").contains("\"old\":"), "the removed pool is not")
    }
}

// Pub/sub through the proxy in front of three real redis-servers: redis-py's PubSub in both
// protocols (with keyspace notifications from every server), subscribed mode answered byte
// for byte as redis-server answers it, 2,000 subscribers on a handful of shared upstream
// connections, a slow subscriber closed at its bound, and subscriptions restored when a
// killed server comes back.

import Foundation
import XCTest

final class PubSubTests: XCTestCase {
    func python(_ script: String, _ args: [String], timeout: TimeInterval = 180) -> Harness.Output {
        let path = Harness.packageRoot + "/Tests/IntegrationTests/python/" + script
        let r = Harness.run("/usr/bin/env", ["python3", path] + args, timeout: timeout)
        print(r.stdout)
        return r
    }

    func testRedisPyPubSubInBothProtocols() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        // One channel per server, named so that the script's pattern ps-* matches them all.
        let channels = f.keysOnDistinctServers(prefix: "ps-")
        XCTAssertEqual(channels.count, 3)
        let ports = f.redis.map { String($0.port) }.joined(separator: ",")
        for protocolVersion in ["2", "3"] {
            let r = python("pubsub_check.py", ["\(f.port)", protocolVersion, ports] + channels)
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        }
    }

    /// The same commands, one at a time, to the proxy and to a redis-server: the same bytes.
    func exchange(_ client: RESPClient, _ commands: [[String]], replies: [Int]) throws -> [UInt8] {
        var out: [UInt8] = []
        for (command, count) in zip(commands, replies) {
            try client.send(RESPClient.encode(command))
            for _ in 0..<count { out += try client.readReply() }
        }
        return out
    }

    func testSubscribedModeAnswersAsRedisDoes() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let resp2: [([String], Int)] = [
            (["UNSUBSCRIBE"], 1), (["PUNSUBSCRIBE"], 1), (["SUBSCRIBE", "a", "b", "a"], 3), (["GET", "x"], 1),
            (["PING"], 1), (["PING", "hi"], 1), (["SSUBSCRIBE", "s1"], 1), (["PSUBSCRIBE", "p*"], 1),
            (["MULTI"], 1), (["CLIENT", "LIST"], 1), (["UNSUBSCRIBE", "a"], 1), (["UNSUBSCRIBE", "b", "zz"], 2),
            (["SUNSUBSCRIBE"], 1), (["PUNSUBSCRIBE"], 1), (["PING"], 1), (["SUBSCRIBE", "c"], 1), (["RESET"], 1),
            (["GET", "x"], 1), (["PING"], 1),
        ]
        let viaProxy = try exchange(RESPClient(port: f.port), resp2.map(\.0), replies: resp2.map(\.1))
        let direct = try exchange(RESPClient(port: f.redis[0].port), resp2.map(\.0), replies: resp2.map(\.1))
        XCTAssertEqual(viaProxy.text, direct.text)

        let resp3: [([String], Int)] = [
            (["UNSUBSCRIBE"], 1), (["SUBSCRIBE", "a"], 1), (["SET", "x", "1"], 1), (["GET", "x"], 1), (["PING"], 1),
            (["PSUBSCRIBE", "q*"], 1), (["UNSUBSCRIBE", "a"], 1), (["PUNSUBSCRIBE"], 1), (["RESET"], 1),
        ]
        func hello3(_ c: RESPClient) throws -> RESPClient {
            _ = try c.command("HELLO", "3")  // the proxy's HELLO describes itself, not a server
            return c
        }
        let proxy3 = try exchange(hello3(RESPClient(port: f.port)), resp3.map(\.0), replies: resp3.map(\.1))
        let direct3 = try exchange(hello3(RESPClient(port: f.redis[0].port)), resp3.map(\.0), replies: resp3.map(\.1))
        XCTAssertEqual(proxy3.text, direct3.text)
    }

    func testTwoThousandSubscribersShareTheUpstreamConnections() throws {
        let workers = 2
        let f = try ProxyFixture(servers: 3, globalSettings: ["threads: \(workers)"])
        defer { f.stop() }
        let channels = f.keysOnDistinctServers(prefix: "fan-")
        let r = python("fanout_check.py", ["\(f.port)", "\(f.adminPort)", "2000", "5"] + channels, timeout: 240)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let fields = last.split(separator: " ")
        guard fields.count == 6, let connections = Int(fields[1]), let subscriptions = Int(fields[3]),
              let clients = Int(fields[5]) else { return XCTFail("no metrics line: \(r.stdout)") }
        XCTAssertLessThanOrEqual(connections, workers * 3, "one subscriber connection per worker and server at most")
        XCTAssertGreaterThan(connections, 0)
        // Each worker holds each channel once, however many of its clients want it.
        XCTAssertLessThanOrEqual(subscriptions, workers * channels.count)
        XCTAssertEqual(clients, 2000)
    }

    func testSlowSubscriberIsClosedAndOthersGetEverything() throws {
        let f = try ProxyFixture(extraSettings: ["pubsub_output_hard_limit: 1048576", "pubsub_output_soft_limit: 0"],
                                 servers: 3)
        defer { f.stop() }
        // 40 MB through a 1 MiB bound: more than the kernel's socket buffers can hide.
        let r = python("slow_subscriber_check.py", ["\(f.port)", "\(f.adminPort)", "slow-news", "4000", "10000"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }

    func testSubscriptionsAreRestoredWhenTheServerComesBack() throws {
        let f = try ProxyFixture(extraSettings: ["health_check_interval: 200", "health_check_fall: 1", "health_check_rise: 1"],
                                 servers: 3)
        defer { f.stop() }
        let channels = f.keysOnDistinctServers(prefix: "rs-")
        let subscriber = try RESPClient(port: f.port)
        try subscriber.send(RESPClient.encode(["SUBSCRIBE"] + channels))
        for _ in channels { _ = try subscriber.readReply() }
        try subscriber.send(RESPClient.encode(["PSUBSCRIBE", "rs-*"]))
        _ = try subscriber.readReply()
        let victim = f.serverIndex(of: channels[1])
        let port = f.redis[victim].port
        f.redis[victim].stop()
        let publisher = try RESPClient(port: f.port)
        // Publishing to the down server gets the error naming it (the pool's down mode).
        var reply = ""
        for _ in 0..<50 {
            reply = try publisher.command("PUBLISH", channels[1], "lost").text
            if reply.hasPrefix("-") { break }
            usleep(100_000)
        }
        XCTAssertTrue(reply.contains("cache-\(victim + 1)"), reply)
        let restarted = try RedisServer(port: port)
        defer { restarted.stop() }
        // Back after its health checks: the channel and the pattern are subscribed again
        // (2 receivers on the new server), without the client doing anything.
        var receivers = ""
        for _ in 0..<100 {
            receivers = try publisher.command("PUBLISH", channels[1], "probe").text
            if receivers == ":2\r\n" { break }
            usleep(100_000)
        }
        XCTAssertEqual(receivers, ":2\r\n")
        for ch in channels { _ = try publisher.command("PUBLISH", ch, "after") }
        var after: Set<String> = []
        for _ in 0..<40 where after.count < 2 * channels.count {
            let frame = try subscriber.readReply().text
            guard frame.hasSuffix("$5\r\nafter\r\n") else { continue }
            after.insert(frame)
        }
        XCTAssertEqual(after.count, 2 * channels.count, "each channel's message and pmessage after the restart")
        XCTAssertFalse(after.contains { $0.contains("lost") })
    }

    /// PUBSUB's introspection through the proxy equals what the servers say together.
    func testPubSubIntrospectionIsMergedOverServers() throws {
        let f = try ProxyFixture(servers: 3)
        defer { f.stop() }
        let channels = f.keysOnDistinctServers(prefix: "in-")
        let subscriber = try RESPClient(port: f.port)
        try subscriber.send(RESPClient.encode(["SUBSCRIBE"] + channels))
        try subscriber.send(RESPClient.encode(["SSUBSCRIBE", channels[0]]))
        try subscriber.send(RESPClient.encode(["PSUBSCRIBE", "in-*", "other-*"]))
        for _ in 0..<(channels.count + 3) { _ = try subscriber.readReply() }
        // A client of one server directly, so that counts from several sources add up.
        let direct = try RESPClient(port: f.redis[0].port)
        try direct.send(RESPClient.encode(["SUBSCRIBE"] + channels))
        for _ in channels { _ = try direct.readReply() }
        let client = try RESPClient(port: f.port)
        func elements(_ reply: [UInt8]) -> [String] {
            reply.text.split(separator: "\r\n").filter { !$0.hasPrefix("*") && !$0.hasPrefix("$") }.map(String.init)
        }
        var union: Set<String> = []
        var counts = [Int](repeating: 0, count: channels.count)
        var patterns = 0
        for r in f.redis {
            let c = try RESPClient(port: r.port)
            union.formUnion(elements(try c.command("PUBSUB", "CHANNELS", "in-*")))
            let numsub = elements(try c.command(bytes: (["PUBSUB", "NUMSUB"] + channels).map { Array($0.utf8) }))
            for i in channels.indices { counts[i] += Int(numsub[2 * i + 1].dropFirst()) ?? -1 }
            patterns = max(patterns, Int(try c.command("PUBSUB", "NUMPAT").text.dropFirst().trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1)
        }
        XCTAssertEqual(Set(elements(try client.command("PUBSUB", "CHANNELS", "in-*"))), union)
        XCTAssertEqual(union, Set(channels))
        let numsub = elements(try client.command(bytes: (["PUBSUB", "NUMSUB"] + channels).map { Array($0.utf8) }))
        XCTAssertEqual(numsub, zip(channels, counts).flatMap { [$0, ":\($1)"] })
        XCTAssertTrue(counts.contains(2), "a channel of server 1 has the proxy's and the direct subscriber")
        XCTAssertEqual(try client.command("PUBSUB", "NUMPAT").text, ":\(patterns)\r\n")
        XCTAssertEqual(patterns, 2)
        XCTAssertEqual(elements(try client.command("PUBSUB", "SHARDCHANNELS")), [channels[0]])
        XCTAssertEqual(elements(try client.command("PUBSUB", "SHARDNUMSUB", channels[0])), [channels[0], ":1"])
    }

    /// With auto_eject_hosts a down server's channels move to their ketama successor, and
    /// the proxy's subscriptions move with them.
    func testSubscriptionsFollowAnEjectedServersChannels() throws {
        let f = try ProxyFixture(extraSettings: ["auto_eject_hosts: true", "health_check_interval: 200",
                                                 "health_check_fall: 1", "health_check_rise: 1"], servers: 3)
        defer { f.stop() }
        let channels = f.keysOnDistinctServers(prefix: "ej-")
        let subscriber = try RESPClient(port: f.port)
        try subscriber.send(RESPClient.encode(["SUBSCRIBE"] + channels))
        for _ in channels { _ = try subscriber.readReply() }
        let victim = f.serverIndex(of: channels[0])
        f.redis[victim].stop()
        let publisher = try RESPClient(port: f.port)
        // Once the ring ejects the server, the channel's messages go to its successor, where
        // the proxy now holds the subscription.
        var receivers = ""
        for _ in 0..<100 {
            receivers = try publisher.command("PUBLISH", channels[0], "moved").text
            if receivers == ":1\r\n" { break }
            usleep(100_000)
        }
        XCTAssertEqual(receivers, ":1\r\n")
        var frame = ""
        for _ in 0..<5 where !frame.contains("moved") { frame = try subscriber.readReply().text }
        XCTAssertTrue(frame.contains(channels[0]) && frame.contains("moved"), frame)
        // The other channels stayed where they were and still arrive.
        XCTAssertEqual(try publisher.command("PUBLISH", channels[1], "still").text, ":1\r\n")
        XCTAssertTrue(try subscriber.readReply().text.contains("still"))
    }
}

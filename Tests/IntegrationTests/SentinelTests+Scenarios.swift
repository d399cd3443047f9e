// More Sentinel scenarios on the same setup as SentinelTests (SentinelCluster): a frozen
// master that resumes after the failover, sentinel subscriptions cut, and a manual
// SENTINEL FAILOVER.

import Foundation
import RingConfig
import RingCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

extension SentinelTests {
    /// How long writes go on through the proxy after the old master resumes: longer than
    /// Sentinel takes to see it again (it is demoted a few seconds later).
    static let resumedWritingSeconds = 3.0

    /// shard-b's master is SIGSTOPped, and SIGCONTed once the proxy follows the failover.
    /// Writes (RPUSH of a unique number to one shard-b list) go on throughout. Every write
    /// acknowledged after +switch-master must be on the new master (a write the resumed old
    /// master acknowledged would be missing there: it never replicates to the new master),
    /// and the old master, watched with MONITOR from its resumption, must run none of the
    /// writes the proxy received after it switched.
    func testResumedOldMasterAcknowledgesNoWrite() throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        guard cluster.waitReady() else { return XCTFail("sentinels did not find each other in \(SentinelCluster.setupLimitSeconds) s") }
        try cluster.startProxy()
        try cluster.observeSwitch(limitSeconds: Self.failoverLimitSeconds)
        let list = cluster.keys[1][0]
        let writer = ListWriter(key: list, port: cluster.proxyPort)
        Thread.detachNewThread { writer.run() }
        usleep(500_000)

        let oldMaster = cluster.masters[1], newMaster = cluster.replicas[1]
        kill(oldMaster.process.pid, SIGSTOP)
        guard let switchAt = cluster.waitForSwitch(limitSeconds: Self.failoverLimitSeconds) else {
            writer.stop()
            return XCTFail("no +switch-master within \(Self.failoverLimitSeconds) s; proxy log:\n\(cluster.proxyLog)")
        }
        // The proxy has switched when /stats names the new master.
        let followDeadline = Date().addingTimeInterval(Self.failoverLimitSeconds)
        while !cluster.admin("/stats").contains("\"address\":\"127.0.0.1:\(newMaster.port)\"") && Date() < followDeadline {
            usleep(20_000)
        }
        let firstAfterProxySwitch = writer.issued + 1
        let monitor = MonitorLog()
        kill(oldMaster.process.pid, SIGCONT)
        let watcher = try RESPClient(port: oldMaster.port, timeoutSeconds: 10)
        _ = try watcher.command("MONITOR")
        Thread.detachNewThread { while let line = try? watcher.readReply() { monitor.add(line.text) } }
        usleep(UInt32(Self.resumedWritingSeconds * 1_000_000))
        writer.stop()
        usleep(300_000)

        let acked = writer.acknowledged(after: switchAt)
        let onNew = try RESPClient(port: newMaster.port, timeoutSeconds: 5).command("LRANGE", list, "0", "-1").text
        let stored = Set(onNew.split(separator: "\r\n").filter { !$0.hasPrefix("*") && !$0.hasPrefix("$") }.compactMap { Int($0) })
        let missing = acked.filter { !stored.contains($0) }
        // MONITOR lines: `... [0 127.0.0.1:PORT] "RPUSH" "key" "N"`; the replication link from
        // the new master (after the demotion) is not the proxy.
        let fromProxy = monitor.values(command: "rpush").filter { $0.source != "127.0.0.1:\(newMaster.port)" && $0.value >= firstAfterProxySwitch }
        print("frozen master resumed after the failover: \(acked.count) writes acknowledged after +switch-master, \(missing.count) missing on the new master; old master ran \(fromProxy.count) of the proxy's post-switch writes (MONITOR saw \(monitor.values(command: "rpush").count) RPUSH there, replicated ones included); \(writer.errors) write errors")
        XCTAssertGreaterThan(acked.count, 0, "writes go on after the switch")
        XCTAssertEqual(missing.count, 0, "acknowledged but not on the new master: \(missing.prefix(10))")
        XCTAssertEqual(fromProxy.count, 0, "the resumed old master ran writes sent after the switch: \(fromProxy.prefix(5))")
    }
}

extension SentinelTests {
    /// How often the sentinels' subscribers are cut: much more often than the proxy's
    /// poll interval, so +switch-master cannot reach it through a subscription.
    static let cutEveryMicroseconds: UInt32 = 20_000
    /// The poll interval the proxy runs with (SentinelCluster's config), plus what the ROLE
    /// check and the load's own round trip add.
    static let pollWindowSeconds = 1.0 + 0.2

    /// `CLIENT KILL TYPE pubsub` on every sentinel, over and over, from before the kill until
    /// well after the failover: the proxy learns of the switch from its polls alone, so
    /// shard-b's errors must end within a poll interval of the sentinels' new answer
    /// (seen here by polling SENTINEL GET-MASTER-ADDR-BY-NAME, since the test's own
    /// subscriptions are cut too).
    func testSwitchLandsWithinPollIntervalWithSubscriptionsCut() throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        guard cluster.waitReady() else { return XCTFail("sentinels did not find each other in \(SentinelCluster.setupLimitSeconds) s") }
        try cluster.startProxy()
        let cutter = SubscriptionCutter(ports: cluster.sentinels.map(\.port))
        Thread.detachNewThread { cutter.run(every: Self.cutEveryMicroseconds) }
        let load = Load(groups: SentinelCluster.groups.count)
        for (g, groupKeys) in cluster.keys.enumerated() {
            Thread.detachNewThread { load.run(group: g, keys: groupKeys, port: cluster.proxyPort) }
        }
        usleep(1_000_000)
        let killedAt = Date()
        cluster.masters[1].stop()
        let newAddress = "\(cluster.replicas[1].port)"
        var switchAt: Date?
        let clients = cluster.sentinels.compactMap { try? RESPClient(port: $0.port, timeoutSeconds: 2) }
        let deadline = Date().addingTimeInterval(Self.failoverLimitSeconds)
        while switchAt == nil && Date() < deadline {
            for c in clients where (try? c.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "shard-b"))?.text.contains(newAddress) == true {
                switchAt = Date()
            }
            usleep(10_000)
        }
        usleep(2_000_000)
        load.stop()
        cutter.stop()
        usleep(300_000)
        guard let switched = switchAt else { return XCTFail("no failover within \(Self.failoverLimitSeconds) s; proxy log:\n\(cluster.proxyLog)") }
        let r = load.results()
        let lastError = r[1].lastErrorAt ?? killedAt
        let afterSwitch = lastError.timeIntervalSince(switched)
        print(String(format: "subscriptions cut (%d subscribers killed): shard-b's last error %+.0f ms from the sentinels' new answer (%.0f ms after the kill); %d errors; shard-a/shard-c errors %d/%d",
                     cutter.killed, afterSwitch * 1000, switched.timeIntervalSince(killedAt) * 1000, r[1].errors, r[0].errors, r[2].errors))
        XCTAssertGreaterThan(cutter.killed, 0, "CLIENT KILL TYPE pubsub cut no subscription")
        XCTAssertEqual(r[0].errors, 0, "shard-a errors: \(r[0].lastMessage)")
        XCTAssertEqual(r[2].errors, 0, "shard-c errors: \(r[2].lastMessage)")
        XCTAssertGreaterThan(r[1].okAfter(switched), 0, "shard-b answers after the switch")
        XCTAssertLessThanOrEqual(afterSwitch, Self.pollWindowSeconds, "the switch must land within the poll interval; last: \(r[1].lastMessage)\n\(cluster.proxyLog)")
    }
}

extension SentinelTests {
    /// `SENTINEL FAILOVER shard-b` (the old master stays up) under GET load, several clients
    /// per group: a GET written to the old master when the proxy switches is sent again to
    /// the new one, so no read fails.
    func testManualFailoverIsSeamlessForReads() throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        guard cluster.waitReady() else { return XCTFail("sentinels did not find each other in \(SentinelCluster.setupLimitSeconds) s") }
        try cluster.startProxy()
        try cluster.observeSwitch(limitSeconds: Self.failoverLimitSeconds)
        let seed = try RESPClient(port: cluster.proxyPort, timeoutSeconds: 2)
        for k in cluster.keys.joined() { _ = try seed.command("SET", k, "seeded") }
        // Clients that never pause: GETs are in flight on the old master when the proxy switches.
        let clientsPerGroup = 4
        let load = Load(groups: SentinelCluster.groups.count)
        for (g, groupKeys) in cluster.keys.enumerated() {
            for c in 0..<clientsPerGroup {
                let mine = Array(groupKeys[(c * 2)..<(c * 2 + 2)])
                Thread.detachNewThread { load.run(group: g, keys: mine, port: cluster.proxyPort, readOnly: true, pause: 0) }
            }
        }
        usleep(500_000)
        let admin = try RESPClient(port: cluster.sentinels[0].port, timeoutSeconds: 5)
        let started = Date()
        let ok = try admin.command("SENTINEL", "FAILOVER", "shard-b")
        XCTAssertEqual(ok.text, "+OK\r\n")
        let switched = cluster.waitForSwitch(limitSeconds: Self.failoverLimitSeconds)
        let followDeadline = Date().addingTimeInterval(5)
        let newAddress = "\"address\":\"127.0.0.1:\(cluster.replicas[1].port)\""
        while !cluster.admin("/stats").contains(newAddress) && Date() < followDeadline { usleep(20_000) }
        usleep(1_500_000)
        load.stop()
        usleep(300_000)
        guard let switchAt = switched else { return XCTFail("no +switch-master within \(Self.failoverLimitSeconds) s") }
        let r = load.results()
        let stats = cluster.admin("/stats")
        let resent = stats.components(separatedBy: "\"failover_resent_reads\":").dropFirst()
            .compactMap { Int($0.prefix { $0.isNumber }) }.reduce(0, +)
        print(String(format: "manual SENTINEL FAILOVER: +switch-master %.0f ms after the command; GET errors %d/%d/%d; GETs %d/%d/%d (shard-b after the switch: %d); reads re-sent to the new master: %d",
                     switchAt.timeIntervalSince(started) * 1000, r[0].errors, r[1].errors, r[2].errors,
                     r[0].ok, r[1].ok, r[2].ok, r[1].okAfter(switchAt), resent))
        XCTAssertTrue(stats.contains(newAddress), "the proxy followed the failover: \(stats)")
        for g in 0..<3 { XCTAssertEqual(r[g].errors, 0, "\(SentinelCluster.groups[g]) read errors: \(r[g].messages)") }
        XCTAssertGreaterThan(r[1].okAfter(switchAt), 0, "shard-b reads go on after the switch")
    }
}

extension SentinelTests {
    /// A poll interval the READONLY test cannot be saved by.
    static let longPollIntervalMs = 60_000
    /// From the proxy's first READONLY to its switch: a poll and a ROLE check on loopback,
    /// generous for a loaded machine.
    static let readOnlyFollowSeconds = 0.5

    /// The proxy hears nothing from the sentinels (subscribers cut in a loop, polls a
    /// minute apart) when `SENTINEL FAILOVER shard-b` runs. Once the sentinels name the new
    /// master, the test demotes the old one itself with REPLICAOF (as an operator would,
    /// without killing its clients, unlike Sentinel's own reconfiguration, whose CLIENT
    /// KILL the proxy also reacts to): a write through the proxy gets -READONLY, which
    /// retires the connection and polls the sentinels at once, so shard-b's errors stop
    /// within `readOnlyFollowSeconds`.
    func testReadOnlyReplyPollsTheSentinels() throws {
        let cluster = try SentinelCluster()
        defer { cluster.stop() }
        guard cluster.waitReady() else { return XCTFail("sentinels did not find each other in \(SentinelCluster.setupLimitSeconds) s") }
        try cluster.startProxy(pollIntervalMs: Self.longPollIntervalMs)
        let cutter = SubscriptionCutter(ports: cluster.sentinels.map(\.port))
        Thread.detachNewThread { cutter.run(every: Self.cutEveryMicroseconds) }
        defer { cutter.stop() }
        let load = Load(groups: SentinelCluster.groups.count)
        Thread.detachNewThread { load.run(group: 1, keys: cluster.keys[1], port: cluster.proxyPort) }
        usleep(500_000)
        let started = Date()
        XCTAssertEqual(try RESPClient(port: cluster.sentinels[0].port, timeoutSeconds: 5).command("SENTINEL", "FAILOVER", "shard-b").text, "+OK\r\n")
        let newAddress = "\"address\":\"127.0.0.1:\(cluster.replicas[1].port)\""
        let deadline = Date().addingTimeInterval(Self.failoverLimitSeconds)
        let asker = try RESPClient(port: cluster.sentinels[0].port, timeoutSeconds: 2)
        while !((try? asker.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "shard-b"))?.text.contains("\(cluster.replicas[1].port)") ?? false),
              Date() < deadline {
            usleep(10_000)
        }
        let demoted = try RESPClient(port: cluster.masters[1].port, timeoutSeconds: 2)
            .command("REPLICAOF", "127.0.0.1", "\(cluster.replicas[1].port)")
        XCTAssertEqual(demoted.text, "+OK\r\n")
        var followedAt: Date?
        while followedAt == nil && Date() < deadline {
            if cluster.admin("/stats").contains(newAddress) { followedAt = Date() }
            usleep(20_000)
        }
        usleep(500_000)
        load.stop()
        usleep(300_000)
        let r = load.results()[1]
        guard let followed = followedAt else { return XCTFail("the proxy did not follow within \(Self.failoverLimitSeconds) s: \(r.messages)\n\(cluster.proxyLog)") }
        let readOnly = r.readOnlyTimes
        let span = (r.lastErrorAt ?? followed).timeIntervalSince(readOnly.first ?? followed)
        print(String(format: "READONLY after a missed failover: the proxy followed %.0f ms after SENTINEL FAILOVER; shard-b errors from the first READONLY to the last: %.0f ms (%d errors, %d READONLY)",
                     followed.timeIntervalSince(started) * 1000, span * 1000, r.errors, readOnly.count))
        XCTAssertFalse(readOnly.isEmpty, "the demoted master must have answered READONLY (else the test proves nothing): \(r.messages)")
        XCTAssertLessThanOrEqual(span, Self.readOnlyFollowSeconds, "errors after the first READONLY: \(r.messages)\n\(cluster.proxyLog)")
        XCTAssertGreaterThan(r.okAfter(followed), 0, "shard-b answers after the switch")
    }
}

/// Kills every sentinel's pub/sub clients in a loop.
final class SubscriptionCutter: @unchecked Sendable {
    let ports: [Int]
    private let lock = NSLock()
    private var stopped = false
    private var count = 0

    init(ports: [Int]) { self.ports = ports }

    func stop() { lock.lock(); stopped = true; lock.unlock() }
    var killed: Int { lock.lock(); defer { lock.unlock() }; return count }

    func run(every interval: UInt32) {
        var clients: [Int: RESPClient] = [:]
        while true {
            lock.lock()
            let done = stopped
            lock.unlock()
            if done { return }
            for p in ports {
                if clients[p] == nil { clients[p] = try? RESPClient(port: p, timeoutSeconds: 1) }
                guard let reply = try? clients[p]?.command("CLIENT", "KILL", "TYPE", "pubsub") else { clients[p] = nil; continue }
                let n = Int(String(reply.text.dropFirst().filter(\.isNumber))) ?? 0
                lock.lock(); count += n; lock.unlock()
            }
            usleep(interval)
        }
    }
}

/// RPUSH key N with N = 1, 2, 3... through the proxy, one at a time, recording when each
/// was acknowledged.
final class ListWriter: @unchecked Sendable {
    let key: String
    let port: Int
    private let lock = NSLock()
    private var stopped = false
    private var count = 0
    private var acks: [(value: Int, at: Date)] = []
    private(set) var errors = 0

    init(key: String, port: Int) { self.key = key; self.port = port }

    func stop() { lock.lock(); stopped = true; lock.unlock() }
    /// The last number sent.
    var issued: Int { lock.lock(); defer { lock.unlock() }; return count }

    func acknowledged(after d: Date) -> [Int] {
        lock.lock(); defer { lock.unlock() }
        return acks.filter { $0.at > d }.map(\.value)
    }

    func run() {
        var client: RESPClient?
        while true {
            lock.lock()
            if stopped { lock.unlock(); return }
            count += 1
            let n = count
            lock.unlock()
            do {
                if client == nil { client = try RESPClient(port: port, timeoutSeconds: Load.replyTimeoutSeconds) }
                let r = try client!.command("RPUSH", key, "\(n)")
                lock.lock()
                if r.first == UInt8(ascii: ":") { acks.append((n, Date())) } else { errors += 1 }
                lock.unlock()
            } catch {
                lock.lock(); errors += 1; lock.unlock()
                client = nil
            }
            usleep(2_000)
        }
    }
}

/// MONITOR's lines, as received.
final class MonitorLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func add(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }

    /// The (client address, last argument as a number) of every `command` line.
    func values(command: String) -> [(source: String, value: Int)] {
        lock.lock(); defer { lock.unlock() }
        return lines.compactMap { line in
            guard line.lowercased().contains("\"\(command)\""), let open = line.firstIndex(of: "["),
                  let close = line.firstIndex(of: "]") else { return nil }
            let source = line[line.index(after: open)..<close].split(separator: " ").last.map(String.init) ?? ""
            let args = line.split(separator: "\"").map(String.init)
            guard let last = args.last(where: { Int($0) != nil }), let v = Int(last) else { return nil }
            return (source, v)
        }
    }
}

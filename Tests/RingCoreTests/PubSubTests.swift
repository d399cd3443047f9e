// Pub/sub's pure parts: a client's subscriptions and Redis's counts, the shared table's
// reference counts and confirmations, reading pushes, the output limit, subscribed mode's
// rules in the planner and the session's mode changes.
import XCTest
@testable import RingCore

final class PubSubTests: XCTestCase {
    func key(_ kind: SubscriptionKind, _ name: String) -> SubscriptionKey { SubscriptionKey(kind, Array(name.utf8)) }

    func testCountsAreRedisCounts() {
        var subs = ClientSubscriptions()
        XCTAssertTrue(subs.add(key(.channel, "a")))
        XCTAssertFalse(subs.add(key(.channel, "a")), "a second SUBSCRIBE changes nothing")
        XCTAssertTrue(subs.add(key(.pattern, "a*")))
        XCTAssertTrue(subs.add(key(.shard, "s")))
        // Channels and patterns together; shard channels apart (as redis-server answers).
        XCTAssertEqual(subs.count(for: .channel), 2)
        XCTAssertEqual(subs.count(for: .pattern), 2)
        XCTAssertEqual(subs.count(for: .shard), 1)
        XCTAssertTrue(subs.remove(key(.channel, "a")))
        XCTAssertFalse(subs.remove(key(.channel, "a")))
        XCTAssertEqual(subs.count(for: .pattern), 1)
        XCTAssertEqual(subs.names(of: .pattern), [Array("a*".utf8)])
        XCTAssertEqual(subs.total, 2)
    }

    func testFirstJoinSubscribesAndLastLeaveUnsubscribes() {
        var t = SubscriptionTable()
        let k = key(.channel, "news")
        let first = t.join(k, member: 1, waiter: .init(member: 1, sequence: 0), linkOpen: true)
        XCTAssertEqual(first, .init(subscribe: true, wait: true))
        // Not confirmed yet: the second client waits too, but nothing more is sent.
        let second = t.join(k, member: 2, waiter: .init(member: 2, sequence: 5), linkOpen: true)
        XCTAssertEqual(second, .init(subscribe: false, wait: true))
        XCTAssertEqual(t.confirm(k), [.init(member: 1, sequence: 0), .init(member: 2, sequence: 5)])
        // Confirmed: a third client's reply need not wait.
        XCTAssertEqual(t.join(k, member: 3, waiter: .init(member: 3, sequence: 1), linkOpen: true),
                       .init(subscribe: false, wait: false))
        XCTAssertEqual(t.members(k), [1, 2, 3])
        XCTAssertFalse(t.leave(k, member: 1))
        XCTAssertFalse(t.leave(k, member: 9), "not a member")
        XCTAssertFalse(t.leave(k, member: 3))
        XCTAssertTrue(t.leave(k, member: 2), "the last member unsubscribes upstream")
        XCTAssertNil(t.members(k))
        XCTAssertTrue(t.isEmpty)
    }

    func testNoConnectionMeansNoWaitAndARestoreLater() {
        var t = SubscriptionTable()
        XCTAssertEqual(t.join(key(.pattern, "p*"), member: 1, waiter: .init(member: 1, sequence: 0), linkOpen: false),
                       .init(subscribe: true, wait: false))
        _ = t.join(key(.channel, "b"), member: 1, waiter: .init(member: 1, sequence: 0), linkOpen: true)
        _ = t.join(key(.channel, "a"), member: 2, waiter: .init(member: 2, sequence: 0), linkOpen: true)
        // The connection breaks before the confirmations: the waiting replies are released.
        XCTAssertEqual(Set(t.linkLost().map(\.member)), [1, 2])
        let restore = t.namesToRestore()
        XCTAssertEqual(restore.map(\.0), [.channel, .pattern])
        XCTAssertEqual(restore[0].1, [Array("a".utf8), Array("b".utf8)])
        // After the restore a new member waits for the new confirmation.
        XCTAssertTrue(t.join(key(.channel, "a"), member: 3, waiter: .init(member: 3, sequence: 2), linkOpen: true).wait)
    }

    func testAChannelMovesWithItsMembers() {
        var from = SubscriptionTable(), to = SubscriptionTable()
        let k = key(.channel, "c")
        _ = from.join(k, member: 1, waiter: .init(member: 1, sequence: 4), linkOpen: true)
        _ = from.join(key(.pattern, "p*"), member: 1, waiter: .init(member: 1, sequence: 4), linkOpen: true)
        XCTAssertEqual(from.channelKeys, [k], "patterns are on every server and never move")
        let (members, waiters) = from.remove(k)
        XCTAssertEqual(members, [1])
        XCTAssertEqual(waiters, [.init(member: 1, sequence: 4)])
        XCTAssertNil(from.members(k))
        XCTAssertTrue(to.adopt(k, members: members), "new on its server: subscribe there")
        XCTAssertFalse(to.adopt(k, members: [2]))
        XCTAssertEqual(to.members(k), [1, 2])
    }

    func testLeavingDropsTheMembersWaiters() {
        var t = SubscriptionTable()
        let k = key(.shard, "s")
        _ = t.join(k, member: 1, waiter: .init(member: 1, sequence: 0), linkOpen: true)
        _ = t.join(k, member: 2, waiter: .init(member: 2, sequence: 0), linkOpen: true)
        XCTAssertFalse(t.leave(k, member: 1))
        XCTAssertEqual(t.confirm(k), [.init(member: 2, sequence: 0)])
    }

    func parse(_ text: String) -> PushFrame? {
        Array(text.utf8).withUnsafeBytes { PushFrame.parse($0) }
    }

    func name(_ text: String) -> String? {
        guard let f = parse(text) else { return nil }
        return String(decoding: Array(text.utf8)[f.name], as: UTF8.self)
    }

    func testPushesAreRead() {
        let message = "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n"
        XCTAssertEqual(parse(message)?.kind, .message(.channel))
        XCTAssertEqual(name(message), "news")
        let pmessage = "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nx\r\n"
        XCTAssertEqual(parse(pmessage)?.kind, .message(.pattern))
        XCTAssertEqual(name(pmessage), "n*", "a pmessage is for its pattern's subscribers")
        XCTAssertEqual(parse(">3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$0\r\n\r\n")?.kind, .message(.shard))
        XCTAssertEqual(parse("*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n")?.kind, .subscribed(.pattern))
        XCTAssertEqual(parse("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n")?.kind, .unsubscribed(.channel))
        XCTAssertEqual(parse("*2\r\n$4\r\npong\r\n$0\r\n\r\n")?.kind, .other)
        XCTAssertNil(parse("-ERR unknown command 'SSUBSCRIBE'\r\n"))
        XCTAssertNil(parse("*3\r\n$7\r\nmess"), "a truncated frame is not read past its end")
        XCTAssertNil(parse("*3\r\n$99\r\nmessage\r\n"))
    }

    func testConfirmationsAreWrittenInEachProtocol() {
        let out = ByteBuffer(capacity: 64)
        Array("ch".utf8).withUnsafeBytes {
            SubscriptionReplies.confirmation("subscribe", name: $0, count: 3, version: .resp2, into: out)
        }
        SubscriptionReplies.confirmation("unsubscribe", name: nil, count: 0, version: .resp3, into: out)
        SubscriptionReplies.subscribedPong(nil, into: out)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self),
                       "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:3\r\n>3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n")
    }

    func testOutputLimit() {
        let limit = OutputLimit(hardBytes: 1000, softBytes: 100, softSeconds: 2)
        var since: UInt64?
        XCTAssertEqual(limit.check(pendingBytes: 50, nowMs: 0, overSoftSince: &since), .within)
        XCTAssertEqual(limit.check(pendingBytes: 500, nowMs: 1000, overSoftSince: &since), .within)
        XCTAssertEqual(since, 1000)
        XCTAssertEqual(limit.check(pendingBytes: 500, nowMs: 2999, overSoftSince: &since), .within)
        XCTAssertEqual(limit.check(pendingBytes: 500, nowMs: 3000, overSoftSince: &since), .overSoftTooLong)
        since = nil
        XCTAssertEqual(limit.check(pendingBytes: 500, nowMs: 4000, overSoftSince: &since), .within)
        XCTAssertEqual(limit.check(pendingBytes: 10, nowMs: 4500, overSoftSince: &since), .within)
        XCTAssertNil(since, "below the soft limit the clock starts over")
        XCTAssertEqual(limit.check(pendingBytes: 1001, nowMs: 4600, overSoftSince: &since), .overHard)
        var never: UInt64?
        XCTAssertEqual(OutputLimit(hardBytes: 0, softBytes: 0, softSeconds: 0)
            .check(pendingBytes: 1 << 40, nowMs: 0, overSoftSince: &never), .within, "0 is no limit, as in Redis")
    }

    func testSessionEntersAndLeavesSubscribedMode() {
        var s = SessionState(id: 1, authenticated: true)
        s.subscriptionsChanged(active: true)
        XCTAssertEqual(s.mode, .subscribed)
        XCTAssertTrue(s.acceptsRequests)
        XCTAssertTrue(s.outsideTransaction)
        s.subscriptionsChanged(active: false)
        XCTAssertEqual(s.mode, .normal)
        s.version = .resp3
        s.clientName = "x"
        s.database = 4
        s.subscriptionsChanged(active: true)
        s.reset(database: 0, authenticated: false)
        XCTAssertEqual(s.mode, .normal)
        XCTAssertEqual(s.version, .resp2)
        XCTAssertNil(s.clientName)
        XCTAssertEqual(s.database, 0)
        XCTAssertFalse(s.authenticated)
    }

    func decide(_ args: [String], _ state: SessionState) -> RouteDecision {
        var bytes: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for a in args {
            spans.append(ArgumentSpan(offset: bytes.count, count: a.utf8.count))
            bytes += Array(a.utf8)
        }
        var planner = RoutePlanner(table: CommandTable.redis70)
        let pool = PoolPolicy(name: "p", denyCommands: [], hashTag: nil, table: CommandTable.redis70)
        let servers = ["10.0.0.1:6379:1", "10.0.0.2:6379:1"].map { line -> ServerSpec in
            guard case let .success(s) = ServerSpec.parse(line) else { fatalError(line) }
            return s
        }
        let placement = KeyPlacement(hash: .fnv1a_64, tag: nil,
                                     ring: KetamaRing(distribution: .ketama, servers: servers, live: [true, true]),
                                     serverCount: 2)
        return bytes.withUnsafeBytes { planner.plan(RequestView(bytes: $0, args: spans), state: state, pool: pool, placement: placement) }
    }

    func testSubscribedModeRules() {
        var resp2 = SessionState(id: 1, authenticated: true)
        guard case .subscription(SubscriptionCommand(.channel, subscribe: true), _) = decide(["SUBSCRIBE", "a"], resp2) else {
            return XCTFail("SUBSCRIBE is a subscription")
        }
        guard case .forward = decide(["SPUBLISH", "a", "m"], resp2) else { return XCTFail("SPUBLISH goes to the channel's server") }
        resp2.subscriptionsChanged(active: true)
        XCTAssertEqual(decide(["GET", "k"], resp2), .reject(.subscribedMode(command: "get")))
        XCTAssertEqual(decide(["CLIENT", "LIST"], resp2), .reject(.subscribedMode(command: "client|list")))
        XCTAssertEqual(decide(["MULTI"], resp2), .reject(.subscribedMode(command: "multi")))
        for allowed in [["PING"], ["QUIT"], ["RESET"], ["PSUBSCRIBE", "x*"], ["UNSUBSCRIBE"], ["SSUBSCRIBE", "s"]] {
            if case .reject = decide(allowed, resp2) { XCTFail("\(allowed) is allowed while subscribed") }
        }
        XCTAssertEqual(decide(["NOSUCH"], resp2).rejection?.message.hasPrefix("ERR unknown command"), true,
                       "an unknown command is unknown first, as in Redis")
        var resp3 = SessionState(id: 2, authenticated: true)
        resp3.version = .resp3
        resp3.subscriptionsChanged(active: true)
        guard case .forward = decide(["GET", "k"], resp3) else { return XCTFail("RESP3 subscribers run commands") }
        XCTAssertEqual(decide(["BLPOP", "k", "0"], resp3), .reject(.notWhileSubscribed(command: "BLPOP")))
        XCTAssertEqual(decide(["MULTI"], resp3), .reject(.notWhileSubscribed(command: "MULTI")))
    }
}

extension RouteDecision {
    var rejection: ProxyError? {
        if case let .reject(e) = self { return e }
        return nil
    }
}

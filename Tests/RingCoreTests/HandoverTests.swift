// The handover records (what a binary upgrade's two processes say to each other), the
// spreading of inherited sockets over workers, and when a draining process closes a client.

import RingCore
import XCTest

final class HandoverMessageTests: XCTestCase {
    func testEveryMessageRoundTrips() throws {
        let messages: [HandoverMessage] = [
            .hello(pid: 4242), .listener(role: .pool, address: "127.0.0.1:6380"),
            .listener(role: .pool, address: "[::1]:6380"), .listener(role: .admin, address: "0.0.0.0:22222"),
            .listener(role: .pool, address: "/run/ring proxy/a.sock"), .end(count: 9, pid: 7), .serving(pid: 1),
            .released,
            .client(HandedClient(authenticated: true, database: 3, resp: 3, name: "worker 7 ✓", address: "/tmp/a b.sock")),
            .client(HandedClient(authenticated: false, database: 0, resp: 2, name: nil, address: "127.0.0.1:6380")),
        ]
        for m in messages {
            XCTAssertEqual(try HandoverMessage.decode(m.encoded()).get(), m)
        }
    }

    func testRecordsAreReadable() {
        XCTAssertEqual(String(decoding: HandoverMessage.listener(role: .admin, address: "127.0.0.1:9").encoded(), as: UTF8.self),
                       "ringproxy-handover/1 listener admin 127.0.0.1:9")
    }

    func testGarbageIsAClearError() {
        let bad: [(String, String)] = [
            ("", "not a ringproxy handover record"),
            ("*1\r\n$4\r\nPING\r\n", "not a ringproxy handover record"),
            ("ringproxy-handover/2 hello 1", "not a ringproxy handover record"),
            ("ringproxy-handover/1 hello", "'hello' needs a process id"),
            ("ringproxy-handover/1 hello 0", "'hello' needs a process id"),
            ("ringproxy-handover/1 hello 12 13", "'hello' needs a process id"),
            ("ringproxy-handover/1 serving x", "'serving' needs a process id"),
            ("ringproxy-handover/1 released now", "'released' takes nothing"),
            ("ringproxy-handover/1 end -1 5", "'end' needs"),
            ("ringproxy-handover/1 end 70000 5", "'end' needs"),
            ("ringproxy-handover/1 end 3", "'end' needs"),
            ("ringproxy-handover/1 listener", "unknown listener role"),
            ("ringproxy-handover/1 listener pool", "a listener without an address"),
            ("ringproxy-handover/1 listener pool ", "a listener without an address"),
            ("ringproxy-handover/1 listener pool a\nb", "a listener without an address"),
            ("ringproxy-handover/1 listener upstream 1.2.3.4:5", "unknown listener role 'upstream'"),
            ("ringproxy-handover/1 goodbye", "unknown handover record 'goodbye'"),
            ("ringproxy-handover/1 client 1 0 2 -", "'client' needs"),
            ("ringproxy-handover/1 client 2 0 2 - 1.2.3.4:5", "'client' needs"),
            ("ringproxy-handover/1 client 1 -1 2 - 1.2.3.4:5", "'client' needs"),
            ("ringproxy-handover/1 client 1 0 4 - 1.2.3.4:5", "'client' needs"),
            ("ringproxy-handover/1 client 1 0 2 6g 1.2.3.4:5", "a client name that is not hex"),
            ("ringproxy-handover/1 client 1 0 2 616 1.2.3.4:5", "a client name that is not hex"),
            ("ringproxy-handover/1 client 1 0 2 ff 1.2.3.4:5", "a client name that is not text"),
        ]
        for (text, why) in bad {
            guard case let .failure(e) = HandoverMessage.decode(Array(text.utf8)) else {
                XCTFail("accepted \(text.debugDescription)"); continue
            }
            XCTAssertTrue(e.message.contains(why), "\(text.debugDescription): \(e.message)")
        }
        XCTAssertThrowsError(try HandoverMessage.decode([0x72, 0x00, 0xFF]).get())
        XCTAssertThrowsError(try HandoverMessage.decode([UInt8](repeating: 0x61, count: HandoverMessage.maxBytes + 1)).get())
    }

    func testInheritedSocketsAreEachTakenOnce() {
        for count in 0...9 {
            for workers in 1...6 {
                let shares = (0..<workers).map { inheritedShare(count: count, worker: $0, workers: workers) }
                XCTAssertEqual(shares.flatMap { $0 }.sorted(), Array(0..<count), "\(count) sockets, \(workers) workers")
                // Evenly: no worker takes two more than another.
                let sizes = shares.map(\.count)
                XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1)
            }
        }
        XCTAssertEqual(inheritedShare(count: 4, worker: 1, workers: 2), [1, 3])
        XCTAssertEqual(inheritedShare(count: 2, worker: 3, workers: 4), [])
        XCTAssertEqual(inheritedShare(count: 2, worker: 5, workers: 4), [])
        XCTAssertEqual(inheritedShare(count: 2, worker: 0, workers: 0), [])
    }
}

final class HandoverDrainTests: XCTestCase {
    /// Without a successor taking connections unless told: the close rules.
    private func client(_ mode: SessionMode = .normal, owes: Bool = false, input: Bool = false, unread: Int = 0,
                        answered: Bool = false, quiet: UInt64 = 0, handOver: Bool = false) -> HandoverDrain.Client {
        HandoverDrain.Client(mode: mode, owesReplies: owes, unhandledInput: input, unreadBytes: unread,
                             answeredThisTurn: answered, quietForMs: quiet, canHandOver: handOver)
    }

    func testAnIdleClientMovesAtAnyMomentEvenWithARequestOnItsWay() {
        XCTAssertEqual(HandoverDrain.decide(client(handOver: true)), .handOver)
        XCTAssertEqual(HandoverDrain.decide(client(unread: 30, handOver: true)), .handOver)
        XCTAssertEqual(HandoverDrain.decide(client(answered: true, handOver: true)), .handOver)
    }

    func testOnlyAnIdleOrdinaryClientMoves() {
        XCTAssertEqual(HandoverDrain.decide(client(owes: true, handOver: true)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(input: true, handOver: true)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(.transaction(Transaction(server: nil, watched: false)), handOver: true)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(.blocked(server: 0), handOver: true)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(.subscribed, handOver: true)), .close)
        XCTAssertEqual(HandoverDrain.decide(client(.monitoring, handOver: true)), .close)
        XCTAssertEqual(HandoverDrain.decide(client(.subscribed, unread: 5, handOver: true)), .wait)
    }

    func testAClientJustAnsweredClosesBehindItsReply() {
        XCTAssertEqual(HandoverDrain.decide(client(answered: true)), .close)
    }

    func testAQuietClientCloses() {
        XCTAssertEqual(HandoverDrain.decide(client(quiet: HandoverDrain.quietMs)), .close)
        XCTAssertEqual(HandoverDrain.decide(client(quiet: HandoverDrain.quietMs - 1)), .wait)
    }

    func testNothingOwedOrOnItsWayIsLost() {
        XCTAssertEqual(HandoverDrain.decide(client(owes: true, answered: true, quiet: 10_000)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(input: true, answered: true, quiet: 10_000)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(unread: 1, answered: true, quiet: 10_000)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(unread: -1, quiet: 10_000)), .wait, "an unknown count is not zero")
    }

    func testConversationsOnThisProcessesConnectionsAreLeftToEnd() {
        for mode: SessionMode in [.watching(server: 0), .transaction(Transaction(server: 0, watched: false)), .blocked(server: 1),
                                  .executing, .closing] {
            XCTAssertEqual(HandoverDrain.decide(client(mode, answered: true, quiet: 10_000)), .wait, "\(mode)")
        }
    }

    func testSubscribersAndMonitorsCloseWhenNothingIsOwed() {
        XCTAssertEqual(HandoverDrain.decide(client(.subscribed)), .close)
        XCTAssertEqual(HandoverDrain.decide(client(.monitoring)), .close)
        XCTAssertEqual(HandoverDrain.decide(client(.subscribed, unread: 3)), .wait)
        XCTAssertEqual(HandoverDrain.decide(client(.subscribed, owes: true)), .wait)
    }

    func testTheLimitsAreOrdered() {
        XCTAssertLessThan(HandoverDrain.quietMs * 10, HandoverDrain.drainLimitMs)
    }
}

final class TakeoverOptionTests: XCTestCase {
    func testTheTakeoverSocketIsALongOption() throws {
        XCTAssertNil(try LaunchOptions.parse([]).get().takeoverSocket)
        XCTAssertEqual(try LaunchOptions.parse(["--takeover-socket", "/run/rp.ctl"]).get().takeoverSocket, "/run/rp.ctl")
        XCTAssertEqual(try LaunchOptions.parse(["--takeover-socket=/tmp/x"]).get().takeoverSocket, "/tmp/x")
        XCTAssertTrue(LaunchOptions.usage.contains("--takeover-socket PATH"))
    }

    func testABadPathIsRefusedClearly() {
        for bad in ["", String(repeating: "a", count: LaunchOptions.maxSocketPathBytes + 1)] {
            guard case let .failure(e) = LaunchOptions.parse(["--takeover-socket", bad]) else {
                XCTFail("accepted \(bad.count) bytes"); continue
            }
            XCTAssertTrue(e.message.contains("--takeover-socket"), e.message)
        }
    }
}

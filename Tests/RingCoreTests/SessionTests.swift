// Checks the session's pure pieces: ReplyOrder (replies in request order whatever order
// servers answer in), Backpressure's marks, the mode state machine and local commands.
import XCTest
@testable import RingCore

final class ReplyOrderTests: XCTestCase {
    func text(_ b: ByteBuffer) -> String { String(decoding: b.bytes, as: UTF8.self) }
    func deliver(_ order: inout ReplyOrder, _ sequence: UInt64, _ reply: String, _ out: ByteBuffer) -> Bool {
        let index = order.index(of: sequence)!
        return Array(reply.utf8).withUnsafeBytes { order.deliver(at: index, $0, into: out) }
    }

    func testRepliesAreWrittenInRequestOrder() {
        var order = ReplyOrder()
        let out = ByteBuffer()
        let a = order.reserve(), b = order.reserve(), c = order.reserve()
        XCTAssertFalse(deliver(&order, c, ":3\r\n", out), "a late request's reply is parked")
        XCTAssertFalse(deliver(&order, b, ":2\r\n", out))
        XCTAssertEqual(text(out), "")
        XCTAssertTrue(deliver(&order, a, ":1\r\n", out))
        XCTAssertEqual(text(out), ":1\r\n:2\r\n:3\r\n")
        XCTAssertTrue(order.isEmpty)
        XCTAssertNil(order.index(of: a), "an answered request is not owed any more")
    }

    func testLocalRepliesWaitForEarlierForwardedOnes() {
        var order = ReplyOrder()
        let out = ByteBuffer(), scratch = ByteBuffer()
        XCTAssertTrue(order.appendLocal(into: out, scratch: scratch) { $0.append("+PONG\r\n") })
        let forwarded = order.reserve()
        XCTAssertFalse(order.appendLocal(into: out, scratch: scratch) { $0.append("+OK\r\n") })
        XCTAssertEqual(text(out), "+PONG\r\n")
        XCTAssertTrue(deliver(&order, forwarded, "$1\r\nv\r\n", out))
        XCTAssertEqual(text(out), "+PONG\r\n$1\r\nv\r\n+OK\r\n")
    }

    func testMergedReplyTakesItsTurn() {
        var order = ReplyOrder()
        let out = ByteBuffer(), scratch = ByteBuffer()
        let first = order.reserve()
        let merge = MergeState(kind: .sum, keyCount: 2, parts: 2)
        let split = order.reserve(merge: merge)
        let index = order.index(of: split)!
        XCTAssertTrue(order.merge(at: index) === merge)
        Array(":1\r\n".utf8).withUnsafeBytes { merge.apply(part: 0, reply: $0) }
        Array(":1\r\n".utf8).withUnsafeBytes { merge.apply(part: 1, reply: $0) }
        XCTAssertTrue(merge.isComplete)
        XCTAssertFalse(order.completeMerge(at: index, merge, version: .resp2, into: out, scratch: scratch))
        XCTAssertTrue(deliver(&order, first, "+OK\r\n", out))
        XCTAssertEqual(text(out), "+OK\r\n:2\r\n")
    }
}

final class BackpressureTests: XCTestCase {
    func testPausesAtTheHighMarksAndResumesBelowTheLowOnes() {
        var b = Backpressure()
        XCTAssertFalse(b.shouldPause(pendingReplies: Backpressure.pauseAtPendingReplies - 1, outputBytes: 0))
        XCTAssertTrue(b.shouldPause(pendingReplies: Backpressure.pauseAtPendingReplies, outputBytes: 0))
        XCTAssertFalse(b.shouldPause(pendingReplies: Backpressure.pauseAtPendingReplies, outputBytes: 0), "already paused")
        XCTAssertFalse(b.shouldResume(pendingReplies: Backpressure.resumeAtPendingReplies + 1, outputBytes: 0))
        XCTAssertFalse(b.shouldResume(pendingReplies: 0, outputBytes: Backpressure.resumeAtOutputBytes + 1))
        XCTAssertTrue(b.shouldResume(pendingReplies: Backpressure.resumeAtPendingReplies, outputBytes: 0))
        XCTAssertFalse(b.paused)
        XCTAssertTrue(b.shouldPause(pendingReplies: 0, outputBytes: Backpressure.pauseAtOutputBytes))
    }
}

final class SessionStateTests: XCTestCase {
    func testClosingIsEnteredOnceAndStopsRequests() {
        var s = SessionState(id: 7, authenticated: true)
        XCTAssertTrue(s.acceptsRequests)
        XCTAssertEqual(s.apply(.quit), .beginClosing)
        XCTAssertFalse(s.acceptsRequests)
        XCTAssertEqual(s.apply(.endOfInput), .none)
        XCTAssertEqual(s.apply(.protocolError), .none)
        var t = SessionState(id: 8, authenticated: true)
        XCTAssertEqual(t.apply(.protocolError), .beginClosing)
    }
}

final class LocalCommandsTests: XCTestCase {
    let settings = LocalSettings(password: "pw", user: nil, commandCount: 240)

    func run(_ args: [String], _ state: inout SessionState) -> (String, LocalEffect) {
        var bytes: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for a in args {
            spans.append(ArgumentSpan(offset: bytes.count, count: a.utf8.count))
            bytes += Array(a.utf8)
        }
        let info = Array(args[0].utf8).withUnsafeBytes { CommandTable.redis70.lookup($0) }!
        guard case let .local(command) = info.route else { fatalError("\(args[0]) is not local") }
        let out = ByteBuffer()
        let s = settings
        let effect = bytes.withUnsafeBytes {
            LocalCommands.run(command, RequestView(bytes: $0, args: spans), state: &state, settings: s, out: out)
        }
        return (String(decoding: out.bytes, as: UTF8.self), effect)
    }

    func testAuthChangesTheState() {
        var s = SessionState(id: 1, authenticated: false)
        XCTAssertEqual(run(["AUTH", "nope"], &s).0, "-WRONGPASS invalid username-password pair or user is disabled.\r\n")
        XCTAssertFalse(s.authenticated)
        XCTAssertEqual(run(["AUTH", "pw"], &s).0, "+OK\r\n")
        XCTAssertTrue(s.authenticated)
    }

    func testHelloSwitchesProtocolAndNamesTheClient() {
        var s = SessionState(id: 5, authenticated: false)
        let (reply, _) = run(["HELLO", "3", "AUTH", "default", "pw", "SETNAME", "app"], &s)
        XCTAssertTrue(reply.hasPrefix("%7\r\n"), reply)
        XCTAssertEqual(s.version, .resp3)
        XCTAssertEqual(s.clientName, "app")
        XCTAssertEqual(run(["CLIENT", "GETNAME"], &s).0, "$3\r\napp\r\n")
        XCTAssertEqual(run(["HELLO", "4"], &s).0, "-NOPROTO unsupported protocol version\r\n")
    }

    func testQuitClosesAndPingEchoes() {
        var s = SessionState(id: 1, authenticated: true)
        XCTAssertEqual(run(["QUIT"], &s).1, .close)
        XCTAssertEqual(run(["PING", "hi"], &s).0, "$2\r\nhi\r\n")
        XCTAssertEqual(run(["SELECT", "3"], &s).0, "+OK\r\n")
        XCTAssertEqual(s.database, 3)
        XCTAssertEqual(run(["SELECT", "16"], &s).0, "-ERR DB index is out of range\r\n")
        XCTAssertEqual(run(["SELECT", "-1"], &s).0, "-ERR DB index is out of range\r\n")
        XCTAssertEqual(run(["SELECT", "x"], &s).0, "-ERR value is not an integer or out of range\r\n")
        XCTAssertEqual(s.database, 3, "a refused SELECT keeps the database")
        XCTAssertEqual(run(["COMMAND", "COUNT"], &s).0, ":240\r\n")
        // INFO and CONFIG need the servers; the connection asks them.
        XCTAssertEqual(run(["INFO", "keyspace"], &s).1, .askServers(.info(InfoQuery(arguments: ["keyspace"]))))
        XCTAssertEqual(run(["CONFIG", "GET", "data*"], &s).1,
                       .askServers(.configGet(overrides: [InfoField("databases", "16")])))
        XCTAssertEqual(run(["CONFIG", "SET", "maxmemory", "1"], &s).1, .askServers(.everyServer(resetsProxyStats: false)))
        XCTAssertEqual(run(["CONFIG", "RESETSTAT"], &s).1, .askServers(.everyServer(resetsProxyStats: true)))
    }

    func testClientSubcommandsAnswerOrAskTheWorkers() {
        var s = SessionState(id: 1, authenticated: true)
        XCTAssertEqual(run(["CLIENT", "LIST"], &s).1, .askWorkers(.list(ClientListFilter())))
        XCTAssertEqual(run(["CLIENT", "INFO"], &s).1, .describeSelf)
        XCTAssertEqual(run(["CLIENT", "PAUSE", "100", "WRITE"], &s).1, .askWorkers(.pause(.write, milliseconds: 100)))
        XCTAssertEqual(run(["CLIENT", "PAUSE", "x"], &s).0, "-ERR timeout is not an integer or out of range\r\n")
        XCTAssertEqual(run(["CLIENT", "GETREDIR"], &s).0, ":-1\r\n")
        XCTAssertEqual(run(["CLIENT", "NO-EVICT", "on"], &s).0, "+OK\r\n")
        XCTAssertTrue(run(["CLIENT", "NO-TOUCH", "on"], &s).0.hasPrefix("-ERR ringproxy: "))
        XCTAssertEqual(run(["CLIENT", "TRACKINGINFO"], &s).0,
                       "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n")
        XCTAssertEqual(run(["CLIENT", "NOPE"], &s).0, "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n")
        XCTAssertEqual(run(["MONITOR"], &s).1, .monitor)
        XCTAssertTrue(s.isMonitoring)
        XCTAssertEqual(run(["MONITOR"], &s).1, .none, "registered once")
        var subscriber = SessionState(id: 2, authenticated: true)
        subscriber.subscriptionsChanged(active: true)
        XCTAssertTrue(run(["MONITOR"], &subscriber).0.hasPrefix("-ERR ringproxy: MONITOR"))
    }
}

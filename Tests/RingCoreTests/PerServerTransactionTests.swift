// Checks multi_across_servers: per_server: TransactionRules hands a MULTI without WATCH to
// the proxy's queue (and keeps WATCH's on the lease); PerServerTransaction answers QUEUED or
// Redis's queue-time errors, bounds what it holds, and at EXEC plans one MULTI/EXEC per
// server in the order of first use; ExecMerge puts the servers' EXEC elements back in the
// client's order, merges split commands, and answers failed parts with their error.
import XCTest
@testable import RingCore

final class PerServerTransactionTests: XCTestCase {
    static func resp(_ args: [String]) -> [UInt8] {
        var out = "*\(args.count)\r\n"
        for a in args { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
        return Array(out.utf8)
    }

    /// Calls `body` with `bytes` parsed as one request.
    static func withRequest<T>(_ bytes: [UInt8], _ body: (RequestView) -> T) -> T {
        var parser = RequestParser()
        return bytes.withUnsafeBytes { raw in
            guard case let .request(length) = parser.parse(raw) else { fatalError("bad test request") }
            return body(RequestView(bytes: UnsafeRawBufferPointer(rebasing: raw[0..<length]), args: parser.args,
                                    isInline: parser.wasInline))
        }
    }

    func queue(_ tx: inout PerServerTransaction, _ args: String..., server: Int?) -> TransactionReply {
        Self.withRequest(Self.resp(args)) { tx.queue($0, server: server) }
    }

    func plan(_ tx: PerServerTransaction, live: Int? = 0) -> ExecPlan {
        guard case let .run(plan) = tx.exec(liveServer: live) else { fatalError("not run") }
        return plan
    }

    func part(_ plan: ExecPlan, _ i: Int) -> String {
        let out = ByteBuffer()
        plan.write(part: i, into: out)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func merged(_ merge: ExecMerge, _ version: RESPVersion = .resp2) -> String {
        let out = ByteBuffer()
        merge.write(into: out, version: version)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    func apply(_ merge: inout ExecMerge, part: Int, _ reply: String) {
        Array(reply.utf8).withUnsafeBytes { merge.apply(part: part, reply: $0) }
    }

    // MARK: TransactionRules

    func step(_ mode: inout SessionMode, _ command: TransactionCommand?, server: Int? = nil,
              refused: ProxyError? = nil) -> TransactionStep {
        TransactionRules.step(&mode, command: command, server: server, refused: refused, acrossServers: .perServer)
    }

    func testAMultiWithoutWatchIsQueuedInTheProxy() {
        var mode = SessionMode.normal
        XCTAssertEqual(step(&mode, .multi), .reply(.ok))
        XCTAssertEqual(step(&mode, nil, server: 0), .queueInProxy)
        XCTAssertEqual(step(&mode, nil, server: 3), .queueInProxy, "a key on another server is no error")
        XCTAssertEqual(step(&mode, nil), .queueInProxy)
        XCTAssertEqual(step(&mode, .unwatch), .queueInProxy, "Redis queues UNWATCH inside MULTI")
        XCTAssertEqual(step(&mode, nil, refused: .wrongArity(command: "get")), .queueInProxy,
                       "the queue answers the error and fails the transaction")
        XCTAssertEqual(step(&mode, .multi), .reply(.error("ERR MULTI calls can not be nested")))
        XCTAssertEqual(step(&mode, .watch, server: 1), .reply(.error("ERR WATCH inside MULTI is not allowed")))
        XCTAssertEqual(step(&mode, .exec), .execQueued)
        XCTAssertEqual(mode, .normal)
        _ = step(&mode, .multi)
        XCTAssertEqual(step(&mode, .discard), .discardQueued)
        XCTAssertEqual(mode, .normal)
    }

    func testAfterWatchTheTransactionStaysOnTheWatchedServer() {
        var mode = SessionMode.normal
        XCTAssertEqual(step(&mode, .watch, server: 1), .onLease(server: 1, openMulti: false, deferred: 0))
        XCTAssertEqual(step(&mode, .multi), .onLease(server: 1, openMulti: false, deferred: 0))
        guard case .abort(.crossServer) = step(&mode, nil, server: 2) else { return XCTFail("a watched MULTI spanned servers") }
        XCTAssertEqual(step(&mode, .exec), .finishOnLease(server: 1, abort: true))
    }

    func testTheDefaultStillRefusesAndALostLeaseSparesAQueuedTransaction() {
        var mode = SessionMode.normal
        _ = TransactionRules.step(&mode, command: .multi, server: nil, refused: nil)
        _ = TransactionRules.step(&mode, command: nil, server: 0, refused: nil)
        guard case .abort(.crossServer) = TransactionRules.step(&mode, command: nil, server: 1, refused: nil) else {
            return XCTFail("refuse must stay the default")
        }
        var state = SessionState(id: 1, authenticated: true)
        _ = state.applyTransaction(command: .multi, server: nil, refused: nil, acrossServers: .perServer)
        state.leaseLost()  // a lease of an earlier WATCH or blocking command breaking late
        XCTAssertEqual(state.applyTransaction(command: .exec, server: nil, refused: nil, acrossServers: .perServer), .execQueued)
        state.beginExecuting()
        XCTAssertFalse(state.acceptsRequests, "nothing is read while the parts run")
        state.finishExecuting()
        XCTAssertTrue(state.isNormal)
    }

    // MARK: queuing and planning

    func testEachServerGetsItsCommandsInOrderBetweenMultiAndExec() {
        var tx = PerServerTransaction()
        XCTAssertEqual(queue(&tx, "SET", "a", "1", server: 2), .queued)
        XCTAssertEqual(queue(&tx, "INCR", "b", server: 0), .queued)
        XCTAssertEqual(queue(&tx, "GET", "a", server: 2), .queued)
        XCTAssertEqual(queue(&tx, "PING", server: nil), .queued)
        let p = plan(tx, live: 1)
        XCTAssertEqual(p.servers, [2, 0], "in the order of first use")
        XCTAssertEqual(p.queuedCount(part: 0), 3, "PING runs where the first key lives")
        XCTAssertEqual(p.queuedCount(part: 1), 1)
        XCTAssertEqual(part(p, 0), "*1\r\n$5\r\nMULTI\r\n" + String(decoding: Self.resp(["SET", "a", "1"]) + Self.resp(["GET", "a"])
            + Self.resp(["PING"]), as: UTF8.self) + "*1\r\n$4\r\nEXEC\r\n")
        XCTAssertEqual(part(p, 1), "*1\r\n$5\r\nMULTI\r\n" + String(decoding: Self.resp(["INCR", "b"]), as: UTF8.self)
            + "*1\r\n$4\r\nEXEC\r\n")
    }

    func testKeylessOnlyRunsOnALiveServerAndInlineIsReencoded() {
        var tx = PerServerTransaction()
        XCTAssertEqual(Self.withRequest(Array("ECHO hi\r\n".utf8)) { tx.queue($0, server: nil) }, .queued)
        let p = plan(tx, live: 3)
        XCTAssertEqual(p.servers, [3])
        XCTAssertEqual(part(p, 0), "*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nEXEC\r\n")
        guard case .noServer = tx.exec(liveServer: nil) else { return XCTFail("no live server to run it") }
    }

    func testARefusedCommandMakesExecAbortAndEmptyExecAnswersAnEmptyArray() {
        var tx = PerServerTransaction()
        guard case .reply(.emptyArray) = tx.exec(liveServer: 0) else { return XCTFail("empty transaction") }
        _ = queue(&tx, "SET", "a", "1", server: 0)
        XCTAssertEqual(tx.refuse(.wrongArity(command: "get")), .error("ERR wrong number of arguments for 'get' command"))
        XCTAssertEqual(queue(&tx, "SET", "b", "1", server: 1), .queued, "queuing goes on, as in Redis")
        guard case .reply(.error(TransactionRules.execAbort)) = tx.exec(liveServer: 0) else { return XCTFail("not aborted") }
    }

    func testTheQueueIsBounded() {
        var tx = PerServerTransaction()
        let request = Self.resp(["PING"])
        Self.withRequest(request) { r in
            for _ in 0..<PerServerTransaction.maxCommands { _ = tx.queue(r, server: nil) }
        }
        XCTAssertFalse(tx.failed)
        guard case .error = queue(&tx, "PING", server: nil) else { return XCTFail("past maxCommands") }
        XCTAssertTrue(tx.failed)
        XCTAssertEqual(tx.count, PerServerTransaction.maxCommands, "the refused command is not kept")
        XCTAssertEqual(tx.byteCount, PerServerTransaction.maxCommands * request.count)

        var big = PerServerTransaction()
        let value = String(repeating: "x", count: PerServerTransaction.maxBytes / 2)
        XCTAssertEqual(queue(&big, "SET", "a", value, server: 0), .queued)
        guard case .error = queue(&big, "SET", "b", value, server: 1) else { return XCTFail("past maxBytes") }
        guard case .reply(.error(TransactionRules.execAbort)) = big.exec(liveServer: 0) else { return XCTFail("not aborted") }
        XCTAssertLessThanOrEqual(big.byteCount, PerServerTransaction.maxBytes)
    }

    func testASplitCommandGoesToEachServerWithItsKeys() {
        var tx = PerServerTransaction()
        let request = Self.resp(["MSET", "a", "1", "b", "2", "c", "3"])
        let reply = Self.withRequest(request) {
            tx.queueSplit($0, kind: .allOK, name: "MSET", keyServers: [1, 0, 1], partServers: [1, 0])
        }
        XCTAssertEqual(reply, .queued)
        _ = queue(&tx, "EXPIRE", "b", "60", server: 0)
        let p = plan(tx)
        XCTAssertEqual(p.servers, [1, 0])
        XCTAssertEqual(part(p, 0), "*1\r\n$5\r\nMULTI\r\n" + String(decoding: Self.resp(["MSET", "a", "1", "c", "3"]), as: UTF8.self)
            + "*1\r\n$4\r\nEXEC\r\n")
        XCTAssertEqual(part(p, 1), "*1\r\n$5\r\nMULTI\r\n" + String(decoding: Self.resp(["MSET", "b", "2"]) + Self.resp(["EXPIRE", "b", "60"]),
                                                                   as: UTF8.self) + "*1\r\n$4\r\nEXEC\r\n")
        var merge = p.makeMerge()
        apply(&merge, part: 1, "*2\r\n+OK\r\n:1\r\n")
        XCTAssertFalse(merge.isComplete)
        apply(&merge, part: 0, "*1\r\n+OK\r\n")
        XCTAssertTrue(merge.isComplete)
        XCTAssertEqual(merged(merge), "*2\r\n+OK\r\n:1\r\n")
    }

    // MARK: merging

    func testElementsComeBackInTheClientsOrder() {
        var tx = PerServerTransaction()
        _ = queue(&tx, "SET", "a", "1", server: 0)
        _ = queue(&tx, "LPUSH", "l", "x", server: 1)
        _ = queue(&tx, "GET", "a", server: 0)
        Self.withRequest(Self.resp(["MGET", "a", "l", "z"])) {
            _ = tx.queueSplit($0, kind: .values, name: "MGET", keyServers: [0, 1, 2], partServers: [0, 1, 2])
        }
        _ = queue(&tx, "PING", server: nil)
        let p = plan(tx)
        XCTAssertEqual(p.servers, [0, 1, 2])
        var merge = p.makeMerge()
        apply(&merge, part: 2, "*1\r\n*1\r\n$-1\r\n")
        apply(&merge, part: 0, "*4\r\n+OK\r\n$1\r\n1\r\n*1\r\n$1\r\n1\r\n+PONG\r\n")
        apply(&merge, part: 1, "*2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n*1\r\n$1\r\nx\r\n")
        XCTAssertEqual(merge.failedParts, 0, "an error element is a result, not a failed part")
        XCTAssertEqual(merged(merge), "*5\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\n1\r\n"
            + "*3\r\n$1\r\n1\r\n$1\r\nx\r\n$-1\r\n+PONG\r\n")
    }

    func testAFailedPartAnswersItsCommandsWithItsError() {
        var tx = PerServerTransaction()
        _ = queue(&tx, "SET", "a", "1", server: 0)
        _ = queue(&tx, "SET", "b", "1", server: 1)
        _ = queue(&tx, "INCR", "a", server: 0)
        let p = plan(tx)
        var merge = p.makeMerge()
        apply(&merge, part: 0, "*2\r\n+OK\r\n:2\r\n")
        apply(&merge, part: 1, "-ERR upstream cache-2 failed: closed by server\r\n")
        XCTAssertEqual(merge.failedParts, 1)
        XCTAssertEqual(merged(merge), "*3\r\n+OK\r\n-ERR upstream cache-2 failed: closed by server\r\n:2\r\n")

        var wrongCount = p.makeMerge()
        apply(&wrongCount, part: 0, "*1\r\n+OK\r\n")
        apply(&wrongCount, part: 1, "*1\r\n+OK\r\n")
        XCTAssertEqual(wrongCount.failedParts, 1)
        XCTAssertTrue(merged(wrongCount).hasPrefix("*3\r\n-ERR ringproxy: a server answered EXEC"))
    }

    func testWhenEveryPartFailsTheReplyIsTheFirstError() {
        var tx = PerServerTransaction()
        _ = queue(&tx, "SET", "a", "1", server: 0)
        _ = queue(&tx, "SET", "b", "1", server: 1)
        var merge = plan(tx).makeMerge()
        apply(&merge, part: 1, "-EXECABORT Transaction discarded because of previous errors.\r\n")
        apply(&merge, part: 0, "*-1\r\n")
        XCTAssertEqual(merge.failedParts, 2)
        XCTAssertEqual(merged(merge), String(decoding: ExecMerge.unexpected, as: UTF8.self), "part 0's failure comes first")
    }
}

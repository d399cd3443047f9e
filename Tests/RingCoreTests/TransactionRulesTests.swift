// Checks TransactionRules against what Redis answers: MULTI before a key, keys on one server,
// a key on another server or a refused command failing the transaction (EXECABORT), nested
// MULTI, WATCH inside MULTI, EXEC/DISCARD without MULTI, WATCH then MULTI on the same lease.
import XCTest
@testable import RingCore

final class TransactionRulesTests: XCTestCase {
    func step(_ mode: inout SessionMode, _ command: TransactionCommand?, server: Int? = nil,
              refused: ProxyError? = nil) -> TransactionStep {
        TransactionRules.step(&mode, command: command, server: server, refused: refused)
    }

    func testMultiBeforeAnyKeyThenKeysOnOneServer() {
        var mode = SessionMode.normal
        XCTAssertEqual(step(&mode, .multi), .reply(.ok))
        XCTAssertEqual(step(&mode, nil), .deferUntilKeyed, "a keyless command waits for the server")
        XCTAssertEqual(step(&mode, nil, server: 2), .onLease(server: 2, openMulti: true, deferred: 1))
        XCTAssertEqual(step(&mode, nil, server: 2), .onLease(server: 2, openMulti: false, deferred: 0))
        XCTAssertEqual(step(&mode, nil), .onLease(server: 2, openMulti: false, deferred: 0))
        XCTAssertEqual(step(&mode, .exec), .finishOnLease(server: 2, abort: false))
        XCTAssertEqual(mode, .normal)
    }

    func testAKeyOnAnotherServerAbortsTheWholeTransaction() {
        var mode = SessionMode.normal
        _ = step(&mode, .multi)
        _ = step(&mode, nil, server: 0)
        guard case .abort(.crossServer) = step(&mode, nil, server: 1) else { return XCTFail("not aborted") }
        XCTAssertEqual(step(&mode, nil, server: 0), .onLease(server: 0, openMulti: false, deferred: 0), "queuing goes on")
        XCTAssertEqual(step(&mode, .exec), .finishOnLease(server: 0, abort: true))
    }

    func testARefusedCommandAbortsAsRedisDoes() {
        var mode = SessionMode.normal
        _ = step(&mode, .multi)
        XCTAssertEqual(step(&mode, nil, refused: .wrongArity(command: "get")), .abort(.wrongArity(command: "get")))
        XCTAssertEqual(step(&mode, .exec), .reply(.error(TransactionRules.execAbort)), "no server yet: answered by the proxy")
        XCTAssertEqual(mode, .normal)
    }

    func testEmptyTransactionsAndMisplacedCommands() {
        var mode = SessionMode.normal
        XCTAssertEqual(step(&mode, .exec), .reply(.error("ERR EXEC without MULTI")))
        XCTAssertEqual(step(&mode, .discard), .reply(.error("ERR DISCARD without MULTI")))
        XCTAssertEqual(step(&mode, .unwatch), .reply(.ok))
        _ = step(&mode, .multi)
        XCTAssertEqual(step(&mode, .multi), .reply(.error("ERR MULTI calls can not be nested")))
        XCTAssertEqual(step(&mode, .watch, server: 1), .reply(.error("ERR WATCH inside MULTI is not allowed")))
        XCTAssertEqual(step(&mode, .exec), .reply(.emptyArray), "an empty transaction answers an empty array")
        _ = step(&mode, .multi)
        _ = step(&mode, nil)
        XCTAssertEqual(step(&mode, .exec), .execWithoutServer(deferred: 1))
        _ = step(&mode, .multi)
        XCTAssertEqual(step(&mode, .discard), .reply(.ok))
        XCTAssertEqual(mode, .normal)
    }

    func testWatchThenMultiShareTheLease() {
        var mode = SessionMode.normal
        XCTAssertEqual(step(&mode, .watch, server: 1), .onLease(server: 1, openMulti: false, deferred: 0))
        XCTAssertEqual(mode, .watching(server: 1))
        XCTAssertEqual(step(&mode, nil, server: 1), .onLease(server: 1, openMulti: false, deferred: 0), "a read of the watched server")
        XCTAssertEqual(step(&mode, nil, server: 0), .route, "other servers' keys go as usual")
        guard case .reply(.error) = step(&mode, .watch, server: 0) else { return XCTFail("WATCH on two servers") }
        XCTAssertEqual(step(&mode, .multi), .onLease(server: 1, openMulti: false, deferred: 0))
        XCTAssertEqual(step(&mode, nil, server: 1), .onLease(server: 1, openMulti: false, deferred: 0))
        XCTAssertEqual(step(&mode, .exec), .finishOnLease(server: 1, abort: false))
        _ = step(&mode, .watch, server: 2)
        XCTAssertEqual(step(&mode, .unwatch), .unwatchOnLease(server: 2))
        XCTAssertEqual(mode, .normal)
    }

    func testALostLeaseFailsTheTransaction() {
        var state = SessionState(id: 1, authenticated: true)
        _ = state.applyTransaction(command: .multi, server: nil, refused: nil)
        _ = state.applyTransaction(command: nil, server: 1, refused: nil)
        state.leaseLost()
        XCTAssertEqual(state.applyTransaction(command: .exec, server: nil, refused: nil),
                       .reply(.error(TransactionRules.execAbort)))
        state.block(on: 2)
        XCTAssertTrue(state.isBlocked)
        XCTAssertFalse(state.acceptsRequests)
        state.leaseLost()
        XCTAssertTrue(state.isNormal)
    }
}

final class BlockTimeTests: XCTestCase {
    func ms(_ args: [String]) -> Int? {
        var bytes: [UInt8] = []
        var spans: [ArgumentSpan] = []
        for a in args {
            spans.append(ArgumentSpan(offset: bytes.count, count: a.utf8.count))
            bytes += Array(a.utf8)
        }
        return bytes.withUnsafeBytes { BlockTime.milliseconds(command: args[0].lowercased(), RequestView(bytes: $0, args: spans)) }
    }

    func testEachCommandsTimeoutArgument() {
        XCTAssertEqual(ms(["BLPOP", "a", "b", "2"]), 2000)
        XCTAssertEqual(ms(["BRPOP", "a", "0.25"]), 250)
        XCTAssertNil(ms(["BLPOP", "a", "0"]), "0 blocks for ever")
        XCTAssertEqual(ms(["BLMOVE", "a", "b", "LEFT", "RIGHT", "1.5"]), 1500)
        XCTAssertEqual(ms(["BLMPOP", "3", "1", "a", "LEFT"]), 3000)
        XCTAssertEqual(ms(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "100", "STREAMS", "s", ">"]), 100)
        XCTAssertNil(ms(["XREAD", "STREAMS", "s", "0"]))
        XCTAssertNil(ms(["BLPOP", "a", "x"]), "Redis refuses it itself")
    }
}

// The up/down state machine (fall, rise, passive failures) and the miss replies a down
// server's keys get.

import RingCore
import XCTest

final class HealthTests: XCTestCase {
    func testFallAndRise() {
        var t = HealthTracker(fall: 2, rise: 3)
        XCTAssertTrue(t.isUp)
        XCTAssertEqual(t.checkFailed("connection refused", nowMs: 1), .none)
        XCTAssertEqual(t.checkPassed(nowMs: 2), .none, "a pass resets the failure run")
        XCTAssertEqual(t.checkFailed("connection refused", nowMs: 3), .none)
        XCTAssertEqual(t.checkFailed("connection refused", nowMs: 4), .wentDown("2 failed health checks (connection refused)"))
        XCTAssertFalse(t.isUp)
        XCTAssertEqual(t.sinceMs, 4)
        XCTAssertEqual(t.checkPassed(nowMs: 5), .none)
        XCTAssertEqual(t.checkPassed(nowMs: 6), .none)
        XCTAssertEqual(t.checkFailed("timed out", nowMs: 7), .none, "still down; the rise run restarts")
        XCTAssertEqual(t.checkPassed(nowMs: 8), .none)
        XCTAssertEqual(t.checkPassed(nowMs: 9), .none)
        XCTAssertEqual(t.checkPassed(nowMs: 10), .cameUp)
        XCTAssertTrue(t.isUp)
        XCTAssertEqual(t.ejections, 1)
        XCTAssertEqual(t.failedChecks, 4)
    }

    func testPassiveFailureIsImmediateAndNeedsChecksToReturn() {
        var t = HealthTracker(fall: 5, rise: 2)
        XCTAssertEqual(t.passiveFailure("connection closed by server", nowMs: 1), .wentDown("connection closed by server"))
        XCTAssertEqual(t.passiveFailure("again", nowMs: 2), .none)
        XCTAssertEqual(t.checkPassed(nowMs: 3), .none)
        XCTAssertEqual(t.passiveFailure("reset", nowMs: 4), .none, "a passive failure restarts the rise run")
        XCTAssertEqual(t.checkPassed(nowMs: 5), .none)
        XCTAssertEqual(t.checkPassed(nowMs: 6), .cameUp)
    }

    func miss(_ name: String, _ argc: Int, _ version: RESPVersion) -> String? {
        let table = CommandTable.redis70
        guard let info = Array(name.utf8).withUnsafeBytes({ table.lookup($0) }) else { return "unknown" }
        let b = ByteBuffer()
        return info.miss.write(into: b, version: version, argumentCount: argc) ? String(decoding: b.bytes, as: UTF8.self) : nil
    }

    func testConfirmedNewMasterIsUpAtOnce() {
        var t = HealthTracker(fall: 2, rise: 3)
        XCTAssertEqual(t.masterConfirmed(nowMs: 5), .none, "already up")
        _ = t.passiveFailure("connection refused", nowMs: 10)
        XCTAssertFalse(t.isUp)
        XCTAssertEqual(t.masterConfirmed(nowMs: 20), .cameUp)
        XCTAssertTrue(t.isUp)
        XCTAssertEqual(t.sinceMs, 20)
        // A check failing later counts from zero: one failure is not `fall`.
        XCTAssertEqual(t.checkFailed("timeout", nowMs: 30), .none)
    }

    func testMissRepliesLookLikeMissingKeys() {
        XCTAssertEqual(miss("GET", 2, .resp2), "$-1\r\n")
        XCTAssertEqual(miss("GET", 2, .resp3), "_\r\n")
        XCTAssertEqual(miss("EXISTS", 2, .resp2), ":0\r\n")
        XCTAssertEqual(miss("TTL", 2, .resp2), ":-2\r\n")
        XCTAssertEqual(miss("HGETALL", 2, .resp2), "*0\r\n")
        XCTAssertEqual(miss("HGETALL", 2, .resp3), "%0\r\n")
        XCTAssertEqual(miss("SMEMBERS", 2, .resp3), "~0\r\n")
        XCTAssertEqual(miss("LRANGE", 4, .resp2), "*0\r\n")
        XCTAssertEqual(miss("HMGET", 4, .resp2), "*2\r\n$-1\r\n$-1\r\n")
        XCTAssertEqual(miss("TYPE", 2, .resp2), "+none\r\n")
        XCTAssertNil(miss("SET", 3, .resp2), "writes cannot be answered as misses")
        XCTAssertNil(miss("INCR", 2, .resp2))
        XCTAssertNil(miss("DEL", 2, .resp2))
    }
}

final class KeyCountLimitTests: XCTestCase {
    /// A client-chosen key count must never overflow arithmetic (a crash is a lost reply
    /// for every client of the worker).
    func testHugeKeyCountsAreRefusedNotTrapped() {
        let eval = CommandTable.redis70.commands.first { $0.spec.name == "eval" }!.spec
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: Int.max), .failure(.keyCountTooLarge))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: 2), .success(2))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: 3), .failure(.keyCountTooLarge))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 3, value: 0), .success(0))
        XCTAssertEqual(KeyPositions.validateKeyCount(eval, argc: 5, value: -1), .failure(.badKeyCount))
        XCTAssertNil(Array("99999999999999999999".utf8).withUnsafeBytes { parseInteger($0) })
        XCTAssertEqual(Array("9223372036854775807".utf8).withUnsafeBytes { parseInteger($0) }, Int.max)
        XCTAssertEqual(Array("-42".utf8).withUnsafeBytes { parseInteger($0) }, -42)
    }
}
